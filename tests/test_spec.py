"""The spec language: what each form means, round trips, and errors that point at the token."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import atrous
from atrous.errors import AtrousError, SpecError
from atrous.graph import Graph, chain, parallel, residual, stack
from atrous.layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Layer,
    Merge,
    Opaque,
    Pad,
    Pointwise,
    Pool,
    Upsample,
)
from atrous.spec import default_padding, layer_spec, parse, structurally_equal, to_spec


def layers(text: str) -> list[Layer]:
    return [n.layer for n in parse(text).layer_nodes()]


# -- meaning ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3x3 d2", Conv(3, padding=2, dilation=2, ndim=2)),
        ("conv 3x3 d2 valid", Conv(3, padding=0, dilation=2, ndim=2)),
        ("3x3 s2 p1", Conv(3, stride=2, padding=1, ndim=2)),
        ("3x5 s2x1 p0:1x2", Conv((3, 5), stride=(2, 1), padding=((0, 1), (2, 2)))),
        ("4x4 same", Conv(4, padding=((1, 2), (1, 2)), ndim=2)),
        ("3x3 g4 c8:16 nobias", Conv(3, padding=1, groups=4, in_channels=8, out_channels=16,
                                     bias=False, ndim=2)),
        ("3 d2", Conv(3, padding=2, dilation=2, ndim=1)),
        ("3x3x3 d1x2x3", Conv(3, dilation=(1, 2, 3), padding=((1, 1), (2, 2), (3, 3)))),
        ("tconv 4x4 s2 p1 op1", ConvTranspose(4, 2, 1, output_padding=1, ndim=2)),
        ("maxpool 3x3 s2 p1", Pool("max", 3, 2, 1, ndim=2)),
        ("maxpool 2x2 ceil", Pool("max", 2, ceil_mode=True, ndim=2)),
        ("avgpool 3x3 s1 p1", Pool("avg", 3, 1, 1, ndim=2)),
        ("maxpool 3x3 d2", Pool("max", 3, dilation=2, ndim=2)),
        ("up2 bilinear", Upsample(2, "bilinear", ndim=2)),
        ("up 2x1", Upsample((2, 1), ndim=2)),
        ("up2 bilinear align", Upsample(2, "bilinear", True, ndim=2)),
        ("3x3, gpool max", GlobalPool("max")),
        ("apool 7x7", AdaptivePool("avg", 7, ndim=2)),
        ("pad 0:1", Pad(((0, 1), (0, 1)), ndim=2)),
        ("3x3, relu", Pointwise("relu")),
        ("3x3, id", Pointwise("identity")),
        ('3x3, pw:"my op"', Pointwise("my op")),
        ("3x3, dense", Dense("linear")),
        ("3x3, opaque:torch.roll", Opaque("torch.roll")),
    ],
)
def test_forms_mean_the_layers(text: str, expected: Layer) -> None:
    assert layers(text)[-1] == expected


def test_the_seeds_schedule_is_the_stack() -> None:
    assert structurally_equal(parse("3x3 d1, 3x3 d2, 3x3 d5"), stack([1, 2, 5]))
    assert structurally_equal(parse("3 d1, 3 d2, 3 d5"), stack([1, 2, 5], ndim=1))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_default_padding_keeps_size_against_torch(k: int, d: int, s: int) -> None:
    n = 17
    (conv,) = layers(f"{k} d{d} s{s}")
    assert isinstance(conv, Conv)
    (lo, hi), = conv.padding
    x = torch.zeros(1, 1, n)
    out = F.conv1d(F.pad(x, (lo, hi)), torch.ones(1, 1, k), stride=s, dilation=d)
    assert out.shape[-1] == -(-n // s)  # ceil(n / s), stride 1 keeps the size
    assert lo + hi == d * (k - 1) and hi - lo in (0, 1)
    assert conv.padding == default_padding((k,), (d,))


def test_blocks_are_the_builders() -> None:
    c = Conv(3, padding=1, ndim=2)
    assert structurally_equal(parse("res(3x3, 3x3)"), chain(residual([c, c])))
    assert structurally_equal(
        parse("res(3x3 s2, 3x3 | 1x1 s2 valid)"),
        chain(residual([Conv(3, 2, 1, ndim=2), c], [Conv(1, 2, 0, ndim=2)])),
    )
    aspp = parse("par(1x1 | 3x3 d6 | 3x3 d12 | gpool)")
    ref = parallel(
        [[Conv(1, ndim=2)], [Conv(3, padding=6, dilation=6, ndim=2)],
         [Conv(3, padding=12, dilation=12, ndim=2)], [GlobalPool()]],
        ndim=2,
    )
    assert structurally_equal(aspp, chain(ref))
    assert aspp.shapes((33, 33))[aspp.output] == (33, 33)  # the pooled branch broadcasts
    merge = aspp[aspp.output].layer
    assert isinstance(merge, Merge) and merge.mode == "concat"
    assert isinstance(parse("mul(3x3 | skip)")[parse("mul(3x3 | skip)").output].layer, Merge)
    assert len(parse("(3x3 d1, 3x3 d2)*3")) == 6


def test_ndim_inference_and_header() -> None:
    assert parse("up2, relu").ndim == 2
    assert parse("1d: up2, relu").ndim == 1
    assert parse("up2", ndim=3).ndim == 3
    assert parse("3x3x3, up2").ndim == 3


# -- round trips --------------------------------------------------------------------------------
def _ints(draw: Any, nd: int, lo: int, hi: int) -> tuple[int, ...]:
    if draw(st.booleans()):
        return (draw(st.integers(lo, hi)),) * nd
    return tuple(draw(st.integers(lo, hi)) for _ in range(nd))


@st.composite
def any_layer(draw: Any, nd: int) -> Layer:
    kind = draw(st.sampled_from(
        ["conv", "conv", "tconv", "pool", "gpool", "apool", "up", "pad", "pw", "dense", "opaque"]
    ))
    if kind == "conv":
        k = _ints(draw, nd, 1, 5)
        pad: Any = draw(st.sampled_from(["same", "valid", "pairs", "ints"]))
        d = _ints(draw, nd, 1, 4)
        if pad == "same":
            pad = default_padding(k, d)
        elif pad == "pairs":
            pad = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd))
        elif pad == "ints":
            pad = _ints(draw, nd, 0, 3)
        g = draw(st.sampled_from([1, 2]))
        ch = draw(st.sampled_from([None, 4]))
        return Conv(k, _ints(draw, nd, 1, 3), pad, d, g, ndim=nd,
                    in_channels=ch, out_channels=ch and 2 * ch, bias=draw(st.booleans()))
    if kind == "tconv":
        s, d = _ints(draw, nd, 1, 3), _ints(draw, nd, 1, 2)
        op = tuple(draw(st.integers(0, max(a, b) - 1)) for a, b in zip(s, d))
        return ConvTranspose(_ints(draw, nd, 1, 4), s, _ints(draw, nd, 0, 2), d, op, ndim=nd)
    if kind == "pool":
        k = _ints(draw, nd, 1, 4)
        mode = draw(st.sampled_from(["max", "avg"]))
        return Pool(mode, k, draw(st.one_of(st.none(), st.just(_ints(draw, nd, 1, 3)))),
                    tuple(draw(st.integers(0, v // 2)) for v in k),
                    _ints(draw, nd, 1, 2) if mode == "max" else 1, draw(st.booleans()), ndim=nd)
    if kind == "gpool":
        return GlobalPool(draw(st.sampled_from(["max", "avg"])))
    if kind == "apool":
        return AdaptivePool(draw(st.sampled_from(["max", "avg"])), _ints(draw, nd, 1, 7), ndim=nd)
    if kind == "up":
        mode = draw(st.sampled_from(["nearest", "linear", "bilinear", "bicubic", "trilinear"]))
        return Upsample(_ints(draw, nd, 1, 4), mode, mode != "nearest" and draw(st.booleans()),
                        ndim=nd)
    if kind == "pad":
        return Pad(tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd)),
                   ndim=nd)
    name = draw(st.sampled_from(["relu", "identity", "bn", "my.op", "weird name \"q\"", "x-y"]))
    return {"pw": Pointwise, "dense": Dense, "opaque": Opaque}[kind](name)


@st.composite
def any_graph(draw: Any, nd: int | None = None, depth: int = 0) -> Graph:
    nd = nd or draw(st.integers(1, 3))
    parts: list[Any] = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            branches = [
                draw(any_graph(nd, depth + 1)) if draw(st.integers(0, 3)) else []
                for _ in range(draw(st.integers(2, 3)))
            ]
            if draw(st.booleans()) and branches[0]:
                parts.append(residual(branches[0], branches[1] or None, ndim=nd))
            else:
                parts.append(parallel(branches, draw(st.sampled_from(["add", "concat", "mul"])),
                                      ndim=nd))
        else:
            parts.append(draw(any_layer(nd)))
    return chain(*parts, ndim=nd)


@given(any_graph())
def test_graph_text_graph_round_trip(graph: Graph) -> None:
    text = to_spec(graph)
    back = parse(text)
    assert structurally_equal(graph, back), text
    assert to_spec(back) == text  # the text is canonical


@given(any_graph(nd=2))
def test_round_trip_keeps_node_names_for_builder_graphs(graph: Graph) -> None:
    back = parse(to_spec(graph))
    assert [n.layer for n in back.topological()] == [n.layer for n in graph.topological()]


def test_to_spec_examples() -> None:
    assert to_spec(stack([1, 2, 5])) == "3x3, 3x3 d2, 3x3 d5"
    assert to_spec("3x3 p1 d1, maxpool 3x3 s2 p1") == "3x3, maxpool 3x3 s2 p1"
    assert to_spec("res(3x3, 3x3 | skip)") == "res(3x3, 3x3)"
    assert to_spec("add(skip | 3x3)") == "add(skip | 3x3)"
    assert layer_spec(Conv((3, 3), padding=((0, 1), (0, 1)))) == "3x3 p0:1"


def test_to_spec_refuses_what_it_cannot_write() -> None:
    g = Graph(2)
    a = g.add(Conv(3, padding=1, ndim=2))
    b = g.add(Conv(3, padding=1, ndim=2), a)
    g.add(Conv(3, padding=1, ndim=2), a)  # a second consumer of `a`, output is the last node
    g.set_outputs(b)
    with pytest.raises(AtrousError, match="do not lead to the output"):
        to_spec(g)
    g2 = Graph(1)  # not series-parallel: `a` feeds a merge and, past it, the final merge
    a = g2.add(Conv(3, padding=1, ndim=1), "input")
    b = g2.add(Conv(3, padding=1, ndim=1), "input")
    m = g2.merge("add", [a, b])
    c = g2.add(Conv(3, padding=1, ndim=1), a)
    g2.merge("add", [m, c])
    with pytest.raises(AtrousError, match="series-parallel"):
        to_spec(g2)


# -- errors point at the token ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "token", "message"),
    [
        # token: the offending text; ^ marks it when it occurs more than once; "" = the end
        ("3x3 d2, 3x3 q7", "q7", "unknown option 'q7'"),
        ("3x3 d2, 3 d2", "^3 d2", "is 1-D but the spec is 2-D"),
        ("3x3 d0", "d0", "dilation must be >= 1"),
        ("3x3 s2x2x2", "s2x2x2", "has 3 entries"),
        ("3x3, frob", "frob", "unknown layer 'frob'"),
        ("3x3 d2 d3", "d3", "given twice"),
        ("res(3x3, 3x3", "", "expected ',', '|' or ')'"),
        ("3x3,, 3x3", ",, 3x3", "expected a layer"),
        ("par(3x3)", "par", "at least 2 branches"),
        ("maxpool 3x3 p2", "maxpool", "pooling padding must be at most half the kernel"),
        ("up2 bilinear fast", "fast", "unexpected 'fast'"),
        ("(3x3)*0", "0", "repeat count"),
        ("1d: 3x3", "3x3", "is 2-D but the spec is 1-D"),
        ('pw:"open', '"open', "unterminated string"),
        ("0x3", "0x3", "kernel must be >= 1"),
    ],
)
def test_errors_point_at_the_offending_token(text: str, token: str, message: str) -> None:
    if token.startswith("^"):
        expected = text.rindex(token[1:])
    elif token.startswith(",,"):
        expected = text.index(token) + 1
    else:
        expected = text.index(token) if token else len(text)
    with pytest.raises(SpecError, match=re.escape(message)) as info:
        parse(text)
    err = info.value
    assert err.text == text
    assert err.position == expected, (err.position, expected)
    lines = str(err).splitlines()
    assert lines[-2] == f"  {text}" and lines[-1] == "  " + " " * expected + "^"


def test_spec_errors_are_atrous_errors() -> None:
    with pytest.raises(AtrousError):
        parse("")
    with pytest.raises(AtrousError, match="must be a string"):
        parse(3)  # type: ignore[arg-type]
    assert issubclass(SpecError, ValueError)
    assert atrous.parse is parse and atrous.to_spec is to_spec


def test_huge_repeats_and_deep_nesting_are_spec_errors_not_hangs() -> None:
    from atrous.spec import MAX_DEPTH, MAX_LAYERS

    with pytest.raises(SpecError, match=f"at most {MAX_LAYERS}"):
        parse("(3x3)*1000000")
    with pytest.raises(SpecError, match=f"at most {MAX_LAYERS}"):
        parse("((3x3, 3x3)*400)*400")
    with pytest.raises(SpecError, match=f"nest more than {MAX_DEPTH} deep"):
        parse("(" * 1500 + "3" + ")" * 1500)
    deep = parse("res(" * MAX_DEPTH + "3x3" + ")" * MAX_DEPTH)
    assert len(deep.layer_nodes()) == MAX_DEPTH + 1  # a conv and MAX_DEPTH adds


def test_long_repeats_build_in_linear_time() -> None:
    g = parse("(3x3 d2)*5000")
    names = [n.name for n in g.layer_nodes()]
    assert names[0] == "conv0" and names[-1] == "conv4999" and len(set(names)) == 5000
