"""The architectures of docs/models.md: every row against an autograd impulse response.

Each model is a transcription of the architecture's geometry (``tests/data/model_zoo.py``);
the receptive-field box of output units (clipped to the input) must be the hull of the input
pixels with a non-zero gradient, with positive weights in float64 and max pools swapped for
average pools; a global field must reach every pixel. The SE networks' local field (gates cut)
is checked with no gradient through the gates. The heavier rows are marked slow.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys
from pathlib import Path

import pytest
import torch
from data.model_zoo import ZOO
from models_for_tests import positive_, swap_max_pools

from atrous import receptive_field
from atrous.fx import to_graph
from atrous.graph import local_graph

ROOT = Path(__file__).resolve().parents[1]
FAST = ["VGG-16", "ResNet-50", "MobileNetV2", "MobileNetV3-Small"]


def support(model: torch.nn.Module, shape: tuple[int, ...], unit: tuple[int, int]
            ) -> tuple[tuple[int, int], ...]:
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    model(x)[(0, slice(None), *unit)].sum().backward()
    assert x.grad is not None
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    return tuple((int(nz[:, a].min()), int(nz[:, a].max())) for a in range(2))


def clipped(box: tuple[tuple[int, int], ...], side: int) -> tuple[tuple[int, int], ...]:
    return tuple((max(lo, 0), min(hi, side - 1)) for lo, hi in box)


def check(name: str) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # depthwise float64 kernels thrash with threads on a busy machine
    try:
        _check(name)
    finally:
        torch.set_num_threads(threads)


def _check(name: str) -> None:
    build, side, _ = ZOO[name]
    shape = (1, 3, side, side)
    torch.manual_seed(0)
    g = to_graph(build(), shape)
    assert not g.partial, g.diagnostics
    rf = receptive_field(g, input_size=shape)
    ref = positive_(swap_max_pools(build()))
    out = tuple(ref(torch.ones(shape, dtype=torch.float64)).shape[2:])
    units = [tuple(s // 2 for s in out), (0, 0), tuple(s - 1 for s in out)]
    if rf.is_global:
        assert support(ref, shape, units[0]) == ((0, side - 1), (0, side - 1))
        local = receptive_field(local_graph(g, shape), input_size=shape)
        gates = [m for m in ref.modules() if isinstance(getattr(m, "detach", None), bool)]
        if not gates:
            return  # (ASPP's pooled branch has no switch: the global field is the check)
        for m in gates:
            m.detach = True
        rf = local
        assert not rf.is_global
    for u in units:
        assert clipped(rf.box(u), side) == support(ref, shape, u), (name, u)


@pytest.mark.parametrize("name", FAST)
def test_zoo_row_matches_autograd(name: str) -> None:
    check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n not in FAST])
def test_zoo_row_matches_autograd_heavy(name: str) -> None:
    check(name)


def _doc_rows() -> dict[str, str]:
    text = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    return {line.split("|")[1].strip(): line for line in text.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip() in ZOO}


@pytest.mark.parametrize("name", FAST[:2])
def test_docs_table_rows_are_the_scripts_output(name: str) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from model_zoo_table import row

    r = row(name)
    line = (f"| {r['model']} | {r['output']} | {r['input']} | {r['rf']} | {r['stride']} | "
            f"{r['local']} | {r['nodes']} | {r['status']} |")
    assert _doc_rows()[name] == line


@pytest.mark.slow
def test_docs_table_is_the_scripts_output() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from model_zoo_table import BEGIN, END, table

    text = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert text[text.index(BEGIN) + len(BEGIN):text.index(END)] == "\n" + table()


@pytest.mark.slow
def test_local_field_of_an_se_net_unclipped() -> None:
    """At an input larger than the local field, its box is checked, not only its clipped hull."""
    build, _, _ = ZOO["MobileNetV3-Small"]
    side = 704
    shape = (1, 3, side, side)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = receptive_field(local_graph(to_graph(build(), shape), shape), input_size=shape)
        assert local.size == (639, 639)
        ref = positive_(swap_max_pools(build()))
        for m in ref.modules():
            if isinstance(getattr(m, "detach", None), bool):
                m.detach = True
        unit = (11, 11)  # the centre of the 22x22 output
        box = local.box(unit)
        assert all(lo > 0 and hi < side - 1 for lo, hi in box)
        assert box == support(ref, shape, unit)
    finally:
        torch.set_num_threads(threads)
