"""Receptive fields of traced models against autograd impulse responses.

For every test model: trace it (max pools and all), compute the receptive field of the output, and
compare, unit by unit, with the support of the gradient of that output unit with respect to the
input, measured on the same model in float64 with positive weights and the max pools swapped for
average pools of the same geometry (so no path can cancel or be switched off). The input is large
enough that the units checked are not clipped by the border.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from fractions import Fraction

import pytest
import torch
from models_for_tests import MODELS, WaveNet, positive_, swap_max_pools

from atrous import receptive_field
from atrous.fx import to_graph


def support_hull(model: torch.nn.Module, shape: tuple[int, ...], unit: tuple[int, ...],
                 output: str | None = None) -> tuple[tuple[int, int], ...]:
    """Per-axis (lo, hi) of the input pixels with a non-zero gradient for one output unit."""
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    y = model(x)
    if isinstance(y, dict):
        y = y[output]
    y[(0, slice(None), *unit)].sum().backward()
    assert x.grad is not None
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    return tuple((int(nz[:, a].min()), int(nz[:, a].max())) for a in range(nz.shape[1]))


@pytest.mark.parametrize("name", [k for k in MODELS if k not in ("se_net", "aspp_head")])
def test_rf_matches_autograd_support(name: str) -> None:
    build, shape = MODELS[name]
    torch.manual_seed(0)
    model = build()
    rf = receptive_field(model, input_size=shape)
    assert not rf.partial, rf.diagnostics
    assert not rf.is_global
    ref = positive_(swap_max_pools(build()))
    out_shape = tuple(ref(torch.ones(shape, dtype=torch.float64)).shape[2:])
    u0 = tuple(s // 2 for s in out_shape)
    hull0 = support_hull(ref, shape, u0)
    assert rf.box(u0) == hull0
    for lo, hi in hull0:  # the unit is not clipped by the border
        assert lo > 0 and hi < max(shape[2:]) - 1
    for axis, ax in enumerate(rf.axes):
        # one period later the hull has moved by stride * period, as autograd shows
        u1 = tuple(u + (ax.period if a == axis else 0) for a, u in enumerate(u0))
        hull1 = support_hull(ref, shape, u1)
        assert rf.box(u1) == hull1
        assert hull1[axis][0] - hull0[axis][0] == ax.stride * ax.period
        assert hull0[axis][1] - hull0[axis][0] + 1 <= rf.size[axis]


@pytest.mark.parametrize("kernel", [2, 3])
def test_wavenet_rf_closed_form(kernel: int) -> None:
    """Kernel k with dilations 1..512: RF = (k-1)*(2**10-1)+1 (1024 for k=2, 2047 for k=3)."""
    layers = 10
    rf = receptive_field(WaveNet(kernel, layers), input_size=(1, 1, 4096))
    assert rf.size == ((kernel - 1) * (2**layers - 1) + 1,)
    assert rf.stride == (Fraction(1),)
    # causal: output t sees inputs t-RF+1 .. t
    assert rf.box(3000) == ((3000 - rf.size[0] + 1, 3000),)


def test_se_net_is_global_and_autograd_agrees() -> None:
    build, shape = MODELS["se_net"]
    rf = receptive_field(build(), input_size=shape)
    assert rf.is_global and not rf.partial
    ref = positive_(build())
    assert support_hull(ref, shape, (0, 0)) == tuple((0, s - 1) for s in shape[2:])
    g = to_graph(build(), shape)
    assert any(n.layer.kind == "global_pool" for n in g.layer_nodes())


def test_aspp_image_pooling_makes_rf_global() -> None:
    build, shape = MODELS["aspp_head"]
    rf = receptive_field(build(), input_size=shape)
    assert rf.is_global
    ref = positive_(build())
    assert support_hull(ref, shape, (5, 5)) == tuple((0, s - 1) for s in shape[2:])


def test_dict_outputs_one_rf_per_output() -> None:
    from models_for_tests import DictOutput

    shape = (1, 3, 96, 96)
    g = to_graph(DictOutput(), shape)
    assert set(g.output_labels.values()) == {"out", "aux"}
    ref = positive_(DictOutput())
    for node, label in g.output_labels.items():
        rf = receptive_field(g, input_size=shape, output=node)
        unit = (10, 10)
        assert rf.box(unit) == support_hull(ref, shape, unit, output=label)


def test_analyze_accepts_a_module() -> None:
    import atrous

    build, shape = MODELS["unet_like"]
    model = build()
    rep = atrous.analyze(model, input_size=shape)
    assert rep.status == "complete"
    rows = {r.name: r for r in rep.rows}
    assert rows["up2"].meta["target"] == "ConvTranspose2d"
    assert rows["up2"].meta["params"] == sum(p.numel() for p in model.up2.parameters())
    assert rows["head"].meta["shape"] == tuple(model(torch.zeros(shape)).shape)
    assert rep.rf.size == receptive_field(model, input_size=shape).size
