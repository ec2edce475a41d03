"""One check of a pooling's values, whichever way the pooling came in.

A pooling can be stated four ways: a spec (``maxpool 3x3 p1``), a :class:`atrous.Pool` layer,
:func:`atrous.pool_output_size` and a drawing (:func:`atrous.render.draw.geometry`). All four go
through ``atrous._arith_pool.pool_params``, so the same bad values get the same message, and
each path refuses exactly what PyTorch's pooling refuses (the real ``F.max_pool2d`` /
``F.avg_pool2d`` on an input large enough that only the values themselves can be at fault).
"""

from __future__ import annotations

import itertools
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

import atrous
from atrous.errors import AtrousError
from atrous.layers import Pool
from atrous.render.draw import geometry

torch = pytest.importorskip("torch")
F = torch.nn.functional

SIZE = 16  # larger than any padded window of the grid: no output-size rule can fire
SRC = Path(__file__).resolve().parents[1] / "src" / "atrous"


def _message(run: Any) -> str | None:
    """The first line of the AtrousError ``run()`` raises (a SpecError's caret lines cut), or
    None when it accepts."""
    try:
        run()
    except AtrousError as exc:
        return str(exc).splitlines()[0]
    return None


def _torch_refuses(mode: str, k: Any, s: Any, p: Any, d: Any) -> bool:
    x = torch.zeros(1, 1, SIZE, SIZE)
    if mode == "avg" and d != (1, 1):
        return True  # F.avg_pool2d / nn.AvgPool2d have no dilation argument at all
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if mode == "max":
                F.max_pool2d(x, k, s, p, d)
            else:
                F.avg_pool2d(x, k, s, p)
    except (RuntimeError, ValueError):
        return True
    return False


# axis H is always valid (3, stride 1, padding 1), axis W runs over the grid, so a message
# must also name the right axis
GRID = [
    (mode, (3, k), (1, s), (1, p), (1, d))
    for mode, k, s, p, d in itertools.product(
        ("max", "avg"), range(1, 5), range(1, 3), range(0, 4), range(1, 3)
    )
]


def _paths(mode: str, k: Any, s: Any, p: Any, d: Any) -> dict[str, str | None]:
    """The message of each way of stating the pooling (None: accepted)."""

    def ax(v: Any) -> str:
        return "x".join(map(str, v))

    word = "maxpool" if mode == "max" else "avgpool"
    spec = f"2d: {word} {ax(k)} s{ax(s)} p{ax(p)}" + (f" d{ax(d)}" if mode == "max" else "")
    paths = {
        "layer": _message(lambda: Pool(mode, k, s, p, d, ndim=2)),  # type: ignore[arg-type]
        "arith": _message(lambda: atrous.pool_output_size((SIZE, SIZE), k, s, p, d, mode=mode)),
        "draw": _message(lambda: geometry("pool", SIZE, k, s, p, d, pool_mode=mode)),  # type: ignore[arg-type]
    }
    if mode == "max" or d == (1, 1):  # the grammar has no dilation option for avgpool
        paths["spec"] = _message(lambda: atrous.parse(spec))
    return paths


def test_every_path_gives_the_same_message_and_refuses_what_torch_refuses() -> None:
    wrong = []
    refused = set()
    for mode, k, s, p, d in GRID:
        paths = _paths(mode, k, s, p, d)
        messages = set(paths.values())
        torch_no = _torch_refuses(mode, k, s, p, d)
        if len(messages) != 1 or (next(iter(messages)) is not None) != torch_no:
            wrong.append((mode, k, s, p, d, torch_no, paths))
        refused |= messages - {None}
    assert wrong == []
    # the grid reaches both of pooling's own rules, each with one wording naming the axis
    assert refused == {
        "average pooling has no dilation: dilation must be 1, got (1, 2)",
        *(f"pooling padding must be at most half the kernel (axis W): padding {p} > {k}//2 = "
          f"{k // 2}" for k in range(1, 5) for p in range(0, 4) if p > k // 2),
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"padding": 2}, "pooling padding must be at most half the kernel: padding 2 > 3//2 = 1"),
        ({"mode": "avg", "dilation": 2},
         "average pooling has no dilation: dilation must be 1, got 2"),
        ({"mode": "min"}, "pool mode must be one of 'max', 'avg', got 'min'"),
        ({"padding": "same"}, "pooling padding must be an int or a per-axis tuple of ints"),
        ({"padding": ((1, 1), (1, 1))}, "pooling padding must be an int or a per-axis tuple"),
        ({"stride": 0}, "stride must be >= 1, got 0"),
        ({"kernel": 0}, "kernel must be >= 1, got 0"),
    ],
)
def test_layer_and_arith_agree_on_scalar_and_odd_values(
    kwargs: dict[str, Any], message: str
) -> None:
    """Ints for every value (no axis named), and values only the Python API can pass."""
    args = {"kernel": 3, "stride": None, "padding": 0, "dilation": 1, "mode": "max", **kwargs}
    layer = _message(lambda: Pool(args["mode"], args["kernel"], args["stride"], args["padding"],
                                  args["dilation"], ndim=2))
    arith = _message(lambda: atrous.pool_output_size(
        64, args["kernel"], args["stride"], args["padding"], args["dilation"], mode=args["mode"]))
    assert layer == arith
    assert layer is not None and layer.startswith(message)


def test_each_rule_is_worded_in_one_place() -> None:
    """The sentences of pooling's rules stand in one module, so they cannot drift apart again."""
    rules = ["must be at most half the kernel", "has no dilation: dilation must be 1"]
    for rule in rules:
        where = sorted(
            str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
            if re.search(rf'f?"[^"\n]*{re.escape(rule)}', path.read_text(encoding="utf-8"))
        )
        assert where == ["_arith_pool.py"], rule


def test_drawing_names_the_dilation_as_typed() -> None:
    """``atrous draw pool -d 2 --mode avg``: the refusal says "got 2" (it said "got (2, 2)",
    the drawing's per-axis copy of what the user typed)."""
    from atrous.render.draw import geometry

    with pytest.raises(AtrousError, match=r"dilation must be 1, got 2$"):
        geometry("pool", 8, kernel=2, dilation=2, pool_mode="avg")


@pytest.mark.parametrize(("stride", "dilation", "op"), [(2, 1, 2), ((2, 1), 1, (1, 1)),
                                                         (1, (1, 3), (0, 3))])
def test_output_padding_one_message_layer_arith_and_torch(stride: Any, dilation: Any,
                                                          op: Any) -> None:
    """The transposed conv's output_padding rule is one check: ConvTranspose (spec, front ends)
    and atrous.arith give the same message for the same call (the layer had its own wording; all
    ints name no axis), and torch refuses the same call."""
    import torch

    from atrous import ConvTranspose, conv_transpose_output_size

    with pytest.raises(AtrousError) as layer:
        ConvTranspose(3, stride=stride, dilation=dilation, output_padding=op, ndim=2)
    with pytest.raises(AtrousError) as arith:
        size = 9 if all(isinstance(v, int) for v in (stride, dilation, op)) else (9, 9)
        conv_transpose_output_size(size, 3, stride=stride, dilation=dilation, output_padding=op)
    assert str(layer.value) == str(arith.value)
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv_transpose2d(torch.zeros(1, 1, 9, 9), torch.zeros(1, 1, 3, 3),
                                             stride=stride, dilation=dilation,
                                             output_padding=op)
