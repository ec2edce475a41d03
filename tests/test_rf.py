"""Receptive fields against the support of an autograd impulse response of a real torch network.

The reference network has positive weights and runs in float64; max pooling becomes average
pooling of the same geometry (or a dilated all-ones conv), so no path can cancel and the support
of ``d out[u] / d input`` is exactly the set of input pixels unit ``u`` reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import atrous
from atrous.graph import Graph, chain, parallel, residual
from atrous.layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Layer,
    Merge,
    Pad,
    Pointwise,
    Pool,
    Slice,
    Upsample,
)
from atrous.rf import receptive_field, receptive_fields
from atrous.spec import default_padding

torch.set_num_threads(1)


# -- the reference: an equivalent torch network ------------------------------------------------
def _pad_arg(pairs: Any) -> list[int]:
    out: list[int] = []
    for lo, hi in reversed(pairs):
        out += [lo, hi]
    return out


def _weight(kernel: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.rand((1, 1, *kernel), generator=gen, dtype=torch.float64) + 0.5


def _op(layer: Layer, nd: int, gen: torch.Generator) -> Callable[..., torch.Tensor]:
    conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    if isinstance(layer, Conv):
        w = _weight(layer.kernel, gen)
        return lambda x: conv(
            F.pad(x, _pad_arg(layer.padding)), w, stride=layer.stride, dilation=layer.dilation
        )
    if isinstance(layer, ConvTranspose):
        w = _weight(layer.kernel, gen)
        tconv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        return lambda x: tconv(
            x, w, stride=layer.stride, padding=layer.padding,
            output_padding=layer.output_padding, dilation=layer.dilation,
        )
    if isinstance(layer, Pool):
        if all(d == 1 for d in layer.dilation):
            avg = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
            return lambda x: avg(
                x, layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode,
                count_include_pad=True,
            )
        assert not layer.ceil_mode
        ones = torch.ones((1, 1, *layer.kernel), dtype=torch.float64)
        return lambda x: conv(
            x, ones, stride=layer.stride, padding=layer.padding, dilation=layer.dilation
        )
    if isinstance(layer, Upsample):
        mode = layer.mode
        if mode in ("linear", "bilinear", "trilinear"):
            mode = ("linear", "bilinear", "trilinear")[nd - 1]
        kw: dict[str, Any] = {} if mode == "nearest" else {"align_corners": layer.align_corners}
        return lambda x: F.interpolate(
            x, scale_factor=tuple(float(s) for s in layer.scale), mode=mode, **kw
        )
    if isinstance(layer, Pad):
        return lambda x: F.pad(x, _pad_arg(layer.padding))
    if isinstance(layer, Slice):
        def cut(x: torch.Tensor) -> torch.Tensor:
            index = tuple(slice(a, b, s) for a, b, s in zip(layer.start, layer.stop, layer.step))
            return x[(Ellipsis, *index)]

        return cut
    if isinstance(layer, GlobalPool):
        return lambda x: x.mean(dim=tuple(range(2, 2 + nd)), keepdim=True)
    if isinstance(layer, Dense):
        return lambda x: x.sum(dim=tuple(range(2, 2 + nd)), keepdim=True)
    if isinstance(layer, AdaptivePool):
        ada = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[nd - 1]
        return lambda x: ada(x, layer.target)
    if isinstance(layer, Pointwise):
        return lambda x: x * 1.0
    raise AssertionError(f"no torch equivalent for {layer!r}")


def torch_net(graph: Graph, seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """The graph as a 1-channel torch function with positive weights (float64)."""
    gen = torch.Generator().manual_seed(seed)
    ops = {
        n.name: _op(n.layer, graph.ndim, gen)
        for n in graph.layer_nodes()
        if not isinstance(n.layer, Merge)
    }

    def run(x: torch.Tensor) -> torch.Tensor:
        values = {"input": x}
        for node in graph.layer_nodes():
            ins = [values[i] for i in node.inputs]
            if isinstance(node.layer, Merge):
                out = ins[0]
                for v in ins[1:]:
                    out = out * v if node.layer.mode == "mul" else out + v
                values[node.name] = out
            else:
                values[node.name] = ops[node.name](ins[0])
        return values[graph.output]

    return run


def measured_boxes_1d(
    graph: Graph, n: int, units: list[int] | None = None
) -> tuple[int, dict[int, tuple[int, int] | None]]:
    """Output size, and the hull of the support of d out[u] / d input for units u (1-D)."""
    net = torch_net(graph)
    x0 = torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 0.5
    out_size = net(x0.view(1, 1, n)).shape[-1]
    chosen = list(range(out_size)) if units is None else [u for u in units if 0 <= u < out_size]
    jac = torch.autograd.functional.jacobian(
        lambda v: net(v.view(1, 1, n)).flatten()[chosen], x0, vectorize=True
    )
    boxes: dict[int, tuple[int, int] | None] = {}
    for u, row in zip(chosen, jac):
        nz = torch.nonzero(row).flatten()
        boxes[u] = None if len(nz) == 0 else (int(nz.min()), int(nz.max()))
    return out_size, boxes


def check_against_torch_1d(graph: Graph, n: int) -> int:
    """Compare the exact boxes of interior units, and size/stride/start; return #units."""
    rf = receptive_field(graph)
    assert not rf.partial
    (ax,) = rf.axes
    expected_out = graph.shapes((n,))[graph.output][0]
    mid = expected_out // 2
    out_size, measured = measured_boxes_1d(
        graph, n, list(range(mid - ax.period - 2, mid + 2 * ax.period + 2))
    )
    assert out_size == expected_out  # the output size agrees with torch too
    if rf.empty:  # no unit reads any input pixel: the impulse response is empty everywhere
        assert ax.size == 0 and all(box is None for box in measured.values()), measured
        return len(measured)
    margin = ax.size + 2
    interior = []
    for u in measured:
        box = ax.box(u)
        if box is None or (box[0] >= margin and box[1] <= n - 1 - margin):
            interior.append(u)
            assert measured[u] == box, (u, measured[u], box)
    # a whole period of interior units, and the same units one period later
    runs = [
        u for u in interior
        if all(v in interior for v in range(u, u + 2 * ax.period)) and measured[u] is not None
    ]
    assert runs, "input too small for the test"
    u0 = runs[0]
    period = range(u0, u0 + ax.period)
    sizes = [b[1] - b[0] + 1 for b in (measured[u] for u in period) if b is not None]
    assert ax.size == max(sizes)
    b0, b1 = measured[u0], measured[u0 + ax.period]
    assert b0 is not None and b1 is not None
    assert Fraction(b1[0] - b0[0], ax.period) == ax.stride
    centres = {u: Fraction(sum(b), 2) for u in period if (b := measured[u]) is not None}
    mean = sum((c - u * ax.stride for u, c in centres.items()), Fraction(0)) / len(centres)
    assert mean == ax.start
    if ax.period == 1:
        assert all(c == ax.start + u * ax.stride for u, c in centres.items())
    return len(interior)


# -- hand-picked cases ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        "3 d1, 3 d2, 3 d5",
        "7 s2 p3, maxpool 3 s2 p1, res(3, 3)",
        "3 s2, tconv 4 s2 p1",
        "3 s2, tconv 3 s2",
        "5 s2 d2, tconv 1 s2",
        "up2, 3 d2",
        "up3 linear, 3 s2",
        "3, up3 linear, 5 s3",
        "4 s2, 2, res(3 d3 | 1 s1), maxpool 2 d2",
        "par(1 | 3 d6 | 3 d12), 3",
        "res(3 s2, 3 | 1 s2 valid)",
        "pad 3:1, 3 valid s3, slice",
        "avgpool 3 s2 p1 ceil, up2 linear, 3",
        "mul(3 d2 | 5), 3",
    ],
)
def test_rf_matches_impulse_response_1d(spec: str) -> None:
    if spec.endswith("slice"):
        g = chain(*[n.layer for n in atrous.parse(spec[: -len(", slice")]).layer_nodes()],
                  Slice(1, None, 2, ndim=1))
    else:
        g = atrous.parse(spec)
    assert check_against_torch_1d(g, 300) > 0


def test_rf_2d_and_3d_per_axis_against_torch() -> None:
    for spec, n in [
        ("3x5 d2x1 s1x2, maxpool 2x3 s2x1 p1x1, res(3x3 d3, 3x3), up2x3 bilinear, 3x3", 90),
        ("3x3x3 d1x2x3, tconv 2x3x4 s2x1x2 p0x1x1, 3x3x1", 40),
    ]:
        g = atrous.parse(spec)
        rf = receptive_field(g)
        net = torch_net(g)
        x = (torch.rand((1, 1, *(n,) * g.ndim), dtype=torch.float64) + 0.5).requires_grad_()
        out = net(x)
        centre = tuple(s // 2 for s in out.shape[2:])
        # one whole period of units along every axis, starting at the centre
        for offs in _product([range(a.period) for a in rf.axes]):
            unit = tuple(c + o for c, o in zip(centre, offs))
            (grad,) = torch.autograd.grad(out[(0, 0, *unit)], x, retain_graph=True)
            nz = torch.nonzero(grad[0, 0])
            measured = tuple(
                (int(nz[:, a].min()), int(nz[:, a].max())) for a in range(g.ndim)
            )
            assert measured == rf.box(unit), (spec, unit)


def _product(ranges: list[range]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for r in ranges:
        out = [(*t, v) for t in out for v in r]
    return out


# -- random graphs (hypothesis) -----------------------------------------------------------------
def _conv(draw: Any, size_keeping: bool) -> Layer:
    k = draw(st.integers(1, 5))
    d = draw(st.integers(1, 3))
    if size_keeping:
        return Conv(k, dilation=d, padding=default_padding((k,), (d,)), ndim=1)
    s = draw(st.integers(1, 3))
    lo, hi = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    return Conv(k, stride=s, dilation=d, padding=((lo, hi),), ndim=1)


@st.composite
def random_graphs(draw: Any) -> Graph:
    parts: list[Any] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "pool", "tconv", "up", "res", "par", "pad"]))
        if kind == "conv":
            parts.append(_conv(draw, False))
        elif kind == "pool":
            k = draw(st.integers(1, 4))
            mode = draw(st.sampled_from(["max", "avg"]))
            d = draw(st.integers(1, 2)) if mode == "max" else 1
            parts.append(
                Pool(mode, k, stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, k // 2)),
                     dilation=d, ceil_mode=d == 1 and draw(st.booleans()), ndim=1)
            )
        elif kind == "tconv":
            s = draw(st.integers(1, 3))
            d = draw(st.integers(1, 2))
            parts.append(
                ConvTranspose(draw(st.integers(1, 4)), s, draw(st.integers(0, 1)), d,
                              draw(st.integers(0, max(s, d) - 1)), ndim=1)
            )
        elif kind == "up":
            parts.append(Upsample(draw(st.integers(2, 3)),
                                  draw(st.sampled_from(["nearest", "linear"])), ndim=1))
        elif kind == "pad":
            parts.append(Pad(((draw(st.integers(0, 3)), draw(st.integers(0, 3))),), ndim=1))
        else:
            branches = [
                [_conv(draw, True) for _ in range(draw(st.integers(0, 2)))]
                for _ in range(draw(st.integers(2, 3)))
            ]
            if not any(branches):
                branches[0] = [_conv(draw, True)]
            if kind == "res":
                parts.append(residual(branches[0] or branches[1], ndim=1))
            else:
                parts.append(parallel(branches, draw(st.sampled_from(["concat", "add"])), ndim=1))
    return chain(*parts, ndim=1)


@settings(max_examples=40)
@given(random_graphs())
@example(chain(ConvTranspose(1, 2, 1, ndim=1), Conv(1, 2, ndim=1)))  # an empty field (issue 16)
def test_random_graphs_match_impulse_response(graph: Graph) -> None:
    rf = receptive_field(graph)
    (ax,) = rf.axes
    need = 4 * ax.size + 8 + 4 * math.ceil(ax.period * ax.stride) + 40
    n = max(need, 64)
    assume(n <= 600)
    try:
        out = graph.shapes((n,))[graph.output][0]
    except atrous.AtrousError:
        assume(False)
    assume(out >= 1)
    check_against_torch_1d(graph, n)


# -- semantics ----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["tconv 1 s2 p1, 1 s2", "tconv 1 s3, 1 s3 p1",
                                  "3 s2, tconv 1 s2 p1, 1 s2, 3"])
def test_an_empty_receptive_field_is_said_and_matches_the_impulse_response(spec: str) -> None:
    g = atrous.parse(spec)
    rf = receptive_field(g)
    assert rf.empty and rf.size == (0,) and rf.box(3) == (None,)
    assert rf.effective_padding == (None,) and "empty" in str(rf)
    assert rf.to_dict()["axes"][0]["empty"] is True
    check_against_torch_1d(g, 64)
    assert not receptive_field("tconv 1 s2 p1, 1 s2 p1").empty  # odd units, then odd ones


def _tf_slim(layers: list[tuple[int, int, tuple[int, int]]]) -> Graph:
    """A chain of ``(kernel, stride, (pad_left, pad_right))`` 2-D convs/pools."""
    return chain(*[Conv(k, s, ((lo, hi),) * 2, ndim=2) for k, s, (lo, hi) in layers])


def test_effective_padding_matches_googles_receptive_field_table() -> None:
    # Google's table (github.com/google-research/receptive_field, TF-Slim models at 224):
    # vgg_16 212/32/90, alexnet_v2 195/32/64, mobilenet_v1 315/32/126, resnet_v1_50 483/32/239.
    # TF's SAME padding at 224 is (k-1)//2 on the left at stride 1; at stride 2 on an even
    # input, (k-2)//2 on the left; resnet_v1's strided 3x3 convs pad (1, 1) explicitly.
    same, pool = (3, 1, (1, 1)), (2, 2, (0, 0))
    vgg = [same] * 2 + [pool] + [same] * 2 + [pool] + ([same] * 3 + [pool]) * 3
    alexnet = [(11, 4, (0, 0)), (3, 2, (0, 0)), (5, 1, (2, 2)), (3, 2, (0, 0)), same, same,
               same, (3, 2, (0, 0))]
    down = (3, 2, (0, 1))
    mobilenet = [down, same, down, same, down, same, down, *[same] * 5, down, same]
    strided = (3, 2, (1, 1))
    resnet = [(7, 2, (3, 3)), down, same, same, strided, *[same] * 3, strided, *[same] * 5,
              strided, *[same] * 3]
    for layers, want in [(vgg, (212, 32, 90)), (alexnet, (195, 32, 64)),
                         (mobilenet, (315, 32, 126)), (resnet, (483, 32, 239))]:
        rf = receptive_field(_tf_slim(layers))
        assert (rf.size[0], rf.stride[0], rf.effective_padding[0]) == want
        assert rf.box(0)[0] == (-want[2], want[0] - 1 - want[2])


def test_effective_padding_matches_the_impulse_response_of_unit_0() -> None:
    # unit 0's box is clipped by the border; interior unit u's box starts u strides later
    g = atrous.parse("7 s2 p3, maxpool 3 s2 p1, 3 d2 p2, 3 s2 p1")
    rf = receptive_field(g)
    (pad,), (stride,) = rf.effective_padding, rf.stride
    _, boxes = measured_boxes_1d(g, 200, [10])
    box = boxes[10]
    assert pad == 3 * 1 + 1 * 2 + 2 * 4 + 1 * 4  # sum of left pads times the jump before
    assert box is not None and box[0] - 10 * stride == -pad


def test_seed_stack_formula() -> None:
    rates = [1, 2, 5, 9]
    rf = receptive_field(atrous.stack(rates, kernel=3))
    assert rf.size == (1 + sum(2 * r for r in rates),) * 2
    assert rf.stride == (1, 1) and rf.start == (0, 0)


def test_strided_chain_formula() -> None:
    # r_L = 1 + sum (k_l - 1) d_l prod_{i<l} s_i ; j_L = prod s
    layers = [(3, 2, 1), (5, 1, 2), (3, 2, 3), (2, 3, 1)]  # (k, s, d)
    spec = ", ".join(f"{k} s{s} d{d}" for k, s, d in layers)
    rf = receptive_field(spec)
    size, jump = 1, 1
    for k, s, d in layers:
        size += (k - 1) * d * jump
        jump *= s
    assert rf.size == (size,) and rf.stride == (Fraction(jump),)


def test_largest_path_wins_and_misalignment_is_reported() -> None:
    rf = receptive_field("par(3 | 3 d4 | 1)")
    assert rf.size == (9,) and not rf.diagnostics and not rf.notes
    rf = receptive_field("par(4 | 3)")  # the even kernel's centre is half a pixel right
    assert rf.size == (4,)
    # the union of the boxes is exact: a note, not a diagnostic
    assert any("misaligned" in n and "concat" in n for n in rf.notes)
    assert not rf.partial and not rf.diagnostics
    assert rf.to_dict()["notes"] == rf.notes


def test_different_strides_at_a_merge_are_partial() -> None:
    g = Graph(1)
    a = g.add(Conv(3, stride=2, padding=1, ndim=1), "input")
    b = g.add(Slice(0, None, 3, ndim=1), "input")
    g.merge("add", [a, b])
    rf = receptive_field(g)
    assert rf.partial and any("different strides" in d for d in rf.diagnostics)


def test_global_ops() -> None:
    rf = receptive_field("3x3, gpool", input_size=(32, 24))
    assert rf.is_global and rf.size == (32, 24)
    assert receptive_field("3x3, dense").is_global
    assert receptive_field("3x3, apool 1x1 max").is_global
    aspp = receptive_field("par(1x1 | 3x3 d6 | gpool)", input_size=(33, 33))
    assert aspp.is_global
    assert not receptive_field("par(1x1 | 3x3 d6)").is_global


def test_adaptive_pool_needs_size_or_is_partial() -> None:
    rf = receptive_field("3, apool 4")
    assert rf.partial and any("apool" in d or "adaptive" in d for d in rf.diagnostics)
    rf = receptive_field("3, apool 64", input_size=(256,))
    assert not rf.partial and rf.size == (3 + 4 - 1,) and rf.stride == (4,)
    rf = receptive_field("3, apool 5", input_size=(13,))
    assert not rf.partial and rf.stride == (Fraction(13, 5),)


def test_adaptive_pool_non_uniform_windows_against_torch() -> None:
    n, t = 23, 5
    g = atrous.parse(f"3, apool {t}")
    rf = receptive_field(g, (n,))
    x = (torch.rand((1, 1, n), dtype=torch.float64) + 0.5).requires_grad_()
    out = torch_net(g)(x)
    for u in range(1, t - 1):  # interior windows
        (grad,) = torch.autograd.grad(out[0, 0, u], x, retain_graph=True)
        nz = torch.nonzero(grad[0, 0]).flatten()
        assert (int(nz.min()), int(nz.max())) == rf.box(u)[0]


def test_align_corners_needs_size() -> None:
    rf = receptive_field("1d: up2 linear align")
    assert rf.partial
    n = 40
    g = atrous.parse("1d: up3 linear align")
    rf = receptive_field(g, (n,))
    assert not rf.partial
    _, measured = measured_boxes_1d(g, n)
    assert len(measured) == 3 * n
    assert all(measured[u] == rf.box(u)[0] for u in measured)


def test_opaque_is_partial_and_named() -> None:
    rf = receptive_field("3x3, opaque:weird, 3x3")
    assert rf.partial
    assert any(d.startswith("opaque0") and "weird" in d for d in rf.diagnostics)


def test_transposed_conv_never_negative() -> None:
    for k in range(1, 6):
        for s in range(1, 4):
            rf = receptive_field(f"tconv {k} s{s}")
            assert rf.size[0] >= 1
            assert rf.stride == (Fraction(1, s),)
            assert rf.size[0] == math.ceil(k / s)


def test_receptive_fields_every_node_and_multi_output() -> None:
    g = atrous.parse("3 d2, 3 d3")
    rfs = receptive_fields(g)
    assert list(rfs) == [n.name for n in g.topological()]
    assert [r.size[0] for r in rfs.values()] == [1, 5, 11]
    g.set_outputs("conv0", "conv1")
    with pytest.raises(atrous.AtrousError, match="2 outputs"):
        receptive_field(g)
    assert receptive_field(g, output="conv0").size == (5,)


def test_to_dict_is_json() -> None:
    import json

    rf = receptive_field("3 s2, up3 linear")
    data = json.loads(json.dumps(rf.to_dict()))
    assert data["stride"] == ["2/3"] and data["size"] == [rf.size[0]]
    assert data["axes"][0]["period"] == rf.axes[0].period


def test_input_size_full_tensor_shape_and_errors() -> None:
    rf = receptive_field("3x3, gpool", input_size=(1, 3, 20, 10))
    assert rf.size == (20, 10)
    with pytest.raises(atrous.AtrousError, match="input size"):
        receptive_field("3x3", input_size=(1, 2, 3))


def test_module_target_uses_fx() -> None:
    fx = pytest.importorskip("atrous.fx")
    del fx
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=2, dilation=2), torch.nn.ReLU(),
        torch.nn.Conv2d(4, 4, 3, stride=2, padding=1),
    )
    rf = receptive_field(model, (1, 1, 32, 32))
    assert rf.size == (5 + 2, 5 + 2) and rf.stride == (2, 2)


@st.composite
def random_2d_chains(draw: Any) -> Graph:
    """2-D chains whose axes differ (per-axis kernel, stride, dilation, padding, scale)."""
    parts: list[Layer] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "tconv", "up"]))
        pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
        if kind == "conv":
            k, s, d = draw(pair), draw(pair), draw(pair)
            pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2))
            parts.append(Conv(k, stride=s, dilation=d, padding=pads))
        elif kind == "pool":
            k = draw(pair)
            parts.append(Pool("avg", k, stride=draw(pair), padding=(k[0] // 2, k[1] // 2)))
        elif kind == "tconv":
            s = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
            parts.append(ConvTranspose(draw(pair), s, (draw(st.integers(0, 1)),) * 2))
        else:
            parts.append(Upsample(draw(st.tuples(st.integers(1, 3), st.integers(1, 3))),
                                  draw(st.sampled_from(["nearest", "bilinear"]))))
    return chain(*parts, ndim=2)


@settings(max_examples=20)
@given(random_2d_chains())
def test_random_2d_chains_per_axis_against_torch(graph: Graph) -> None:
    rf = receptive_field(graph)
    n = 4 * max(rf.size) + 16
    assume(n <= 160)
    try:
        out_size = graph.shapes((n, n))[graph.output]
    except atrous.AtrousError:
        assume(False)
    x = (torch.rand((1, 1, n, n), dtype=torch.float64) + 0.5).requires_grad_()
    out = torch_net(graph)(x)
    assert tuple(out.shape[2:]) == out_size
    unit = tuple(s // 2 for s in out_size)
    (grad,) = torch.autograd.grad(out[(0, 0, *unit)], x)
    nz = torch.nonzero(grad[0, 0])
    box = rf.box(unit)
    if any(b is None for b in box):  # a transposed-conv unit that reads nothing
        assert len(nz) == 0
        return
    measured = tuple((int(nz[:, a].min()), int(nz[:, a].max())) for a in range(2))
    assert all(b is not None and b[0] >= 0 and b[1] <= n - 1 for b in box)
    assert measured == box
