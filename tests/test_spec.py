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


# -- hostile text: unicode digits, huge numbers, headers (issue 14) -----------------------------
@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("3x3 d²", 4, "unknown option 'd²'"),
        ("3x3*①", 4, "repeat count must be an integer >= 1, got '①'"),
        ("٣x٣", 0, "unknown layer '٣x٣'"),  # Arabic-Indic digits are not sizes
        ("3x3 s٢", 4, "unknown option 's٢'"),
        ("3x3 d" + "9" * 5000, 5, r"\(5000 digits\) is too large"),
        ("(3x3)*" + "1" * 4400, 6, r"\(4400 digits\) is too large"),
        ("resize " + "7" * 19 + "x2", 7, "too large"),
    ],
)
def test_non_ascii_digits_and_huge_numbers_are_positioned_spec_errors(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(SpecError, match=message) as err:
        parse(text)
    assert err.value.position == position
    assert len(str(err.value)) < 400  # a window of the text, not all of it


def test_names_may_hold_long_digit_runs() -> None:
    name = "x" + "9" * 40
    assert to_spec(parse(f"pw:{name}")) == f"pw:{name}"


def test_a_header_glued_to_the_layers_is_read() -> None:
    assert structurally_equal(parse("2d:3x3"), parse("3x3"))
    assert parse("1d:3 d2").ndim == 1
    with pytest.raises(SpecError, match="empty after the header '3d:'") as err:
        parse("3d:  ")
    assert err.value.position == 3


def test_spec_error_shows_a_one_line_window_with_control_characters_escaped() -> None:
    text = "3x3,\n\u202e\x1b[31m, 3x3" + ", 3x3" * 2000
    with pytest.raises(SpecError, match="unknown layer") as err:
        parse(text)
    head, shown, caret = str(err.value).split("\n")
    assert "\x1b" not in head + shown and "\u202e" not in head + shown
    assert "\\n" in shown and shown[len(caret) - 1 :].startswith("\\u202e\\x1b[31m,")
    assert len(shown) < 100


# -- bounded parsing (issue 14) -----------------------------------------------------------------
def test_too_many_layers_are_refused_while_reading_the_text() -> None:
    import time

    from atrous.spec import MAX_CHARS, MAX_LAYERS

    text = ", ".join(["3x3"] * (MAX_LAYERS + 5))
    start = time.process_time()
    with pytest.raises(SpecError, match=f"more than {MAX_LAYERS} layers") as err:
        parse(text)
    assert err.value.position == text.index("3x3", 5 * MAX_LAYERS) - 2  # the 100,000th ','
    with pytest.raises(SpecError, match=f"at most {MAX_CHARS}") as err:
        parse("3x3 " * (MAX_CHARS // 4 + 1))
    assert err.value.position == MAX_CHARS and len(str(err.value)) < 300
    with pytest.raises(SpecError, match="this repeat makes 100001 layers") as err:
        parse("3x3, (3x3)*100000")
    assert err.value.position == len("3x3, (3x3)*")
    assert time.process_time() - start < 2.0  # refused before any layer is built


def test_the_largest_repeat_parses_quickly() -> None:
    import time

    from atrous.spec import MAX_LAYERS

    start = time.process_time()
    g = parse(f"(3x3 d2, 3x3 d3)*{MAX_LAYERS // 2}")
    assert len(g) == MAX_LAYERS and time.process_time() - start < 4.0  # 12 s before


@pytest.mark.slow
def test_the_largest_flat_spec_parses_in_seconds() -> None:
    import time

    from atrous.spec import MAX_LAYERS

    text = ", ".join(f"3x3 d{i % 7 + 1}" for i in range(MAX_LAYERS))
    start = time.process_time()
    g = parse(text)
    assert len(g) == MAX_LAYERS and time.process_time() - start < 6.0  # 12 s before


# -- 'same' is TensorFlow's rule, 'centred' the fixed one (issue 14) ------------------------------
def tf_same_total(n: int, k: int, s: int, d: int) -> int:
    """TensorFlow's SAME padding, transcribed from tf.nn.convolution's documentation."""
    keff = (k - 1) * d + 1
    out = -(-n // s)
    return max((out - 1) * s + keff - n, 0)


@pytest.mark.parametrize("n", [223, 224, 225, 7, 8])
@pytest.mark.parametrize(("k", "s", "d"), [(7, 2, 1), (3, 2, 1), (4, 3, 1), (3, 2, 2), (1, 2, 1)])
def test_same_is_tensorflows_rule_at_the_input_size(n: int, k: int, s: int, d: int) -> None:
    conv = parse(f"1d: {k} s{s} d{d} same", input_size=n)["conv0"].layer
    assert isinstance(conv, Conv)
    total = tf_same_total(n, k, s, d)
    assert conv.padding == ((total // 2, total - total // 2),)
    assert conv.padding == (atrous.same_padding(k, s, d, n),)
    # real torch: pad as the spec says, convolve, and get TensorFlow's ceil(n / s)
    x = torch.zeros(1, 1, n)
    y = F.conv1d(F.pad(x, conv.padding[0]), torch.zeros(1, 1, k), stride=s, dilation=d)
    assert y.shape[-1] == -(-n // s) == conv.output_size((n,))[0]


def test_same_follows_the_size_through_the_network_and_centred_does_not() -> None:
    g = parse("7x7 s2 same, maxpool 3x3 s2 same, 3x3 s2 same", input_size=(1, 3, 224, 223))
    convs = [n.layer for n in g.layer_nodes()]
    assert convs[0].padding == atrous.same_padding(7, 2, 1, (224, 223)) == ((2, 3), (3, 3))
    sizes = g.shapes((224, 223))
    assert sizes[g.output] == (28, 28)  # ceil(ceil(ceil(n/2)/2)/2) on both axes
    centred = parse("7x7 s2 centred")["conv0"].layer
    assert centred.padding == ((3, 3), (3, 3)) == parse("7x7 s2")["conv0"].layer.padding
    assert parse("7x7 s2 centered")["conv0"].layer == centred
    assert parse("3x3 d2 same")["conv0"].layer == parse("3x3 d2")["conv0"].layer  # stride 1


def test_same_pooling_against_torch() -> None:
    # symmetric TensorFlow padding within half the kernel: a padded pool
    pool = parse("1d: maxpool 3 s2 same", input_size=9)["pool0"].layer
    assert isinstance(pool, Pool) and pool.padding == (1,)
    # asymmetric (0, 1): an explicit pad before the pool, read the same pixels
    g = parse("1d: maxpool 3 s2 same", input_size=8)
    pad, pool = (n.layer for n in g.layer_nodes())
    assert isinstance(pad, Pad) and pad.padding == ((0, 1),) and pool.padding == (0,)
    x = torch.arange(8.0).reshape(1, 1, 8)
    y = F.max_pool1d(F.pad(x, (0, 1), value=-1.0), 3, 2)
    assert tuple(y.shape[2:]) == g.shapes((8,))[g.output] == (4,)
    with pytest.raises(SpecError, match="'same' and 'ceil' do not combine"):
        parse("maxpool 3x3 s2 same ceil", input_size=8)


def test_same_with_a_stride_needs_the_input_size() -> None:
    with pytest.raises(SpecError, match=r"depends on the input size.*'centred'") as err:
        parse("3x3, 7x7 s2 same")
    assert err.value.position == 12
    with pytest.raises(SpecError, match="unknown after 'opaque:roll'"):
        parse("opaque:roll, 3x3 s2 same", input_size=32)
    with pytest.raises(SpecError, match="padding is given twice"):
        parse("3x3 same p1")


def test_default_padding_is_same_padding_at_stride_one() -> None:
    for k in range(1, 6):
        for d in range(1, 4):
            assert default_padding((k,), (d,)) == (atrous.same_padding(k, 1, d),)
