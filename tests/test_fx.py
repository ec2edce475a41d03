"""nn.Module -> Graph: converters against real torch ops, registry, fallback and diagnostics."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import math
import time

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from models_for_tests import C, Untraceable, WithUnknownOp, positive_, swap_max_pools

from atrous import AtrousError, Conv, Pointwise, receptive_field
from atrous.fx import (
    ModelGraph,
    Unsupported,
    register_function,
    register_module,
    to_graph,
)
from atrous.fx.hooks import _trace_hooks


def kinds(g: ModelGraph) -> list[str]:
    return [n.layer.kind for n in g.layer_nodes()]


def hull_1d(model: nn.Module, shape: tuple[int, ...], unit: int) -> tuple[int, int] | None:
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    model(x)[0, :, unit].sum().backward()
    assert x.grad is not None
    nz = (x.grad[0].sum(0) > 0).nonzero()[:, 0]
    return (int(nz.min()), int(nz.max())) if len(nz) else None  # None: reads no input pixel


# -- random 1-D stacks against autograd -------------------------------------------------------
@st.composite
def layer_1d(draw: st.DrawFn) -> nn.Module:
    kind = draw(st.sampled_from(["conv", "conv", "tconv", "maxpool", "avgpool", "up", "pad"]))
    if kind == "conv":
        k, d, s = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        pad = draw(st.sampled_from([0, 1, "same"])) if s == 1 else draw(st.integers(0, 1))
        mode = draw(st.sampled_from(["zeros", "reflect", "circular", "replicate"]))
        if mode != "zeros" and (pad == 0 or pad == "same"):
            mode = "zeros"
        return nn.Conv1d(2, 2, k, s, pad, d, padding_mode=mode)
    if kind == "tconv":
        k, s = draw(st.integers(1, 4)), draw(st.integers(1, 2))
        return nn.ConvTranspose1d(2, 2, k, s, padding=draw(st.integers(0, (k - 1) // 2)))
    if kind in ("maxpool", "avgpool"):
        k = draw(st.integers(2, 3))
        cls = nn.MaxPool1d if kind == "maxpool" else nn.AvgPool1d
        return cls(k, draw(st.integers(1, 2)), draw(st.integers(0, k // 2)))
    if kind == "up":
        return nn.Upsample(scale_factor=2, mode=draw(st.sampled_from(["nearest", "linear"])))
    return nn.ConstantPad1d((draw(st.integers(0, 2)), draw(st.integers(0, 2))), 0.0)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@settings(max_examples=25)
@given(layers=st.lists(layer_1d(), min_size=1, max_size=4))
def test_random_stacks_rf_matches_autograd(layers: list[nn.Module]) -> None:
    model = nn.Sequential(*layers)
    shape = (1, 2, 96)
    g = to_graph(model, shape)
    assert not g.partial, g.diagnostics
    out = model(torch.zeros(shape)).shape[-1]
    rf = receptive_field(g, input_size=shape)
    ref = positive_(swap_max_pools(model))
    for unit in (out // 2, out // 2 + 1):
        hull = hull_1d(ref, shape, unit)
        if hull is None or 0 < hull[0] <= hull[1] < shape[-1] - 1:  # unclipped units only
            assert rf.box(unit) == (hull,)


@settings(max_examples=20)
@given(
    ndim=st.integers(1, 3), k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 3),
    p=st.integers(0, 2), groups=st.sampled_from([1, 2]),
)
def test_conv_modules_become_conv_layers(ndim: int, k: int, s: int, d: int, p: int,
                                         groups: int) -> None:
    cls = [nn.Conv1d, nn.Conv2d, nn.Conv3d][ndim - 1]
    m = cls(4, 6, k, s, p, d, groups=groups)
    shape = (2, 4, *(12,) * ndim)
    if d * (k - 1) + 1 > 12 + 2 * p:
        return
    g = to_graph(m, shape)
    node = g[g.output]
    assert node.layer == Conv(k, s, p, d, groups, ndim=ndim, in_channels=4, out_channels=6)
    real = m(torch.zeros(shape)).shape
    assert node.meta["shape"] == tuple(real)
    assert node.meta["params"] == sum(q.numel() for q in m.parameters())
    assert node.meta["macs"] == math.prod(real) * (4 // groups) * k**ndim


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_padding_same_even_kernel_and_modes() -> None:
    m = nn.Conv2d(1, 1, 4, padding="same", dilation=2, padding_mode="reflect")
    g = to_graph(m, (1, 1, 20, 20))
    # total d*(k-1) = 6 split 3/3; torch's split for "same"
    assert g[g.output].layer.padding == ((3, 3), (3, 3))
    assert g[g.output].meta["module"] == "conv2d"
    g = to_graph(nn.Conv1d(1, 1, 4, padding="same"), (1, 1, 20))
    assert g[g.output].layer.padding == ((1, 2),)  # the odd pixel on the right, as torch does


def test_functional_ops_are_seen() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(4, 3, 3, 3))
            self.fc = nn.Linear(4, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.conv2d(x, self.w, padding=2, dilation=2)
            y = F.pad(y, (1, 0, 0, 1))
            y = y[:, :, 1:, :-1]
            y = F.interpolate(y, size=(64, 64), mode="bilinear", align_corners=False)
            y = torch.cat([y, y * 2], dim=1)[:, :4]
            y = y + y.mean((2, 3), keepdim=True)
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))

    g = to_graph(Net(), (1, 3, 32, 32))
    assert kinds(g) == ["conv", "pad", "slice", "upsample", "pointwise", "merge", "pointwise",
                        "global_pool", "upsample", "merge", "global_pool", "pointwise",
                        "pointwise"]
    conv = g.layer_nodes()[0]
    assert conv.meta["params"] == 4 * 3 * 3 * 3
    assert g[g.output].meta["target"] == "Linear" and g[g.output].meta["shape"] == (1, 5)
    assert receptive_field(g, input_size=(1, 3, 32, 32)).is_global


def test_channel_shuffle_is_pointwise() -> None:
    class Shuffle(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, c, h, w = x.shape
            return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    for m in (Shuffle(), nn.ChannelShuffle(2)):
        g = to_graph(nn.Sequential(nn.Conv2d(4, 4, 3), m), (1, 4, 16, 16))
        assert kinds(g)[1:] == ["pointwise"] * (len(g) - 1)
        assert receptive_field(g, input_size=(1, 4, 16, 16)).size == (3, 3)


def test_flatten_of_a_map_is_dense() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    g = to_graph(net, (1, 1, 8, 8))
    assert kinds(g) == ["conv", "dense", "pointwise"]
    assert receptive_field(g, input_size=(1, 1, 8, 8)).is_global


def test_linear_over_a_spatial_axis_is_opaque() -> None:
    g = to_graph(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Linear(6, 6)), (1, 1, 8, 8))
    assert kinds(g)[-1] == "opaque" and g.partial
    assert "1 (Linear)" in g.diagnostics[0]


def test_fake_tensors_cost_nothing() -> None:
    # a real forward pass would need ~17 GB of activations and minutes of compute
    net = nn.Sequential(nn.Conv2d(3, 256, 3, padding=1), nn.Conv2d(256, 256, 3, padding=1))
    to_graph(net, (1, 3, 64, 64))  # warm up
    t0 = time.perf_counter()
    g = to_graph(net, (4, 3, 4096, 4096))
    assert time.perf_counter() - t0 < 2.0
    assert g[g.output].meta["shape"] == (4, 256, 4096, 4096)


def test_model_state_is_restored() -> None:
    net = nn.Sequential(nn.Conv2d(3, 3, 3), nn.BatchNorm2d(3), nn.Dropout())
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    to_graph(net, (1, 3, 16, 16))
    assert all(m.training for m in net.modules())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


# -- fallback and diagnostics -------------------------------------------------------------------
def test_untraceable_falls_back_to_hooks_and_is_partial() -> None:
    shape = (1, 3, 40, 40)
    g = to_graph(Untraceable(), shape)
    assert g.partial and g.method == "hooks"
    assert "torch.fx could not trace Untraceable" in g.diagnostics[0]
    assert [n.name for n in g.layer_nodes()] == ["a", "b"]  # the branch taken, nothing else
    rf = receptive_field(g, input_size=shape)
    ref = positive_(Untraceable())
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    ref(x)[0, :, 20, 20].sum().backward()
    assert x.grad is not None
    nz = (x.grad[0].sum(0) > 0).nonzero()
    assert rf.box((20, 20)) == tuple((int(nz[:, a].min()), int(nz[:, a].max())) for a in (0, 1))


def test_hook_recorder_matches_fx_on_a_traceable_model() -> None:
    from models_for_tests import MODELS

    for name in ("unet_like", "mobilenet_v2_like", "aspp_head", "se_net"):
        build, shape = MODELS[name]
        model = build().eval()
        a = to_graph(model, shape)
        b = _trace_hooks(model, [shape], "m", fake=True)
        assert [(n.name, n.layer, n.inputs) for n in a.layer_nodes()] == [
            (n.name, n.layer, n.inputs) for n in b.layer_nodes()], name


def test_unknown_ops_give_diagnostics_naming_the_path() -> None:
    g = to_graph(WithUnknownOp(), (1, 3, 16, 16))
    assert g.partial
    text = "\n".join(g.diagnostics)
    assert "roll (roll)" in text and "(torch.roll) moves pixels" in text
    assert "unfold (Unfold)" in text
    opaque = [n for n in g.layer_nodes() if n.layer.kind == "opaque"]
    assert {n.meta["module"] for n in opaque} == {"roll", "unfold"}
    rf = receptive_field(g, input_size=(1, 3, 16, 16), output="output.rolled")
    assert rf.partial


def test_dict_and_tuple_outputs_are_named() -> None:
    class Tup(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return F.max_pool1d(x, 2), F.avg_pool1d(x, 3)

    g = to_graph(Tup(), (1, 1, 12))
    assert g.outputs == ("output.0", "output.1")
    assert g.output_labels == {"output.0": "0", "output.1": "1"}
    assert [receptive_field(g, output=o).size for o in g.outputs] == [(2,), (3,)]


# -- registry ---------------------------------------------------------------------------------
def test_register_module_makes_a_leaf() -> None:
    class Blur(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:  # untraceable inside, but it is a leaf
                return F.avg_pool2d(x, 5, 1, 2)
            return x

    register_module(Blur, lambda m, call: Conv(5, padding=2, ndim=call.ndim))
    g = to_graph(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), Blur()), (1, 1, 16, 16))
    assert g.method == "fx" and not g.partial
    assert receptive_field(g).size == (7, 7)


def test_register_function_converter_and_unsupported() -> None:
    def shift(call: object) -> Pointwise:
        raise Unsupported("shifts are not modelled")

    from atrous.fx import registry

    builtin = registry._FUNCTIONS_BY_NAME["roll"]
    register_function("roll", shift)
    try:
        g = to_graph(WithUnknownOp(), (1, 3, 16, 16))
        assert any("shifts are not modelled" in d for d in g.diagnostics)
    finally:
        registry._FUNCTIONS_BY_NAME["roll"] = builtin


def test_registry_and_input_errors() -> None:
    with pytest.raises(AtrousError, match="needs a module class"):
        register_module("Conv2d", lambda m, c: Conv(1, ndim=1))  # type: ignore[arg-type]
    with pytest.raises(AtrousError, match="converter must be callable"):
        register_function("x", None)  # type: ignore[arg-type]
    with pytest.raises(AtrousError, match=r"needs input_size"):
        to_graph(nn.Conv2d(1, 1, 3), None)
    with pytest.raises(AtrousError, match="1 to 3 spatial axes"):
        to_graph(nn.Conv2d(1, 1, 3), (1, 1))
    with pytest.raises(AtrousError, match="integer >= 1"):
        to_graph(nn.Conv2d(1, 1, 3), (1, 1, 0, 8))
    with pytest.raises(AtrousError, match=r"needs a torch\.nn\.Module"):
        to_graph("3x3", (1, 1, 8, 8))
    with pytest.raises(AtrousError, match="cannot trace Conv2d"):
        to_graph(nn.Conv2d(3, 1, 3), (1, 2, 8, 8))  # wrong channel count


def test_shape_only_factories_are_constants() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(1, 1, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            acc = torch.zeros_like(x)
            return self.conv(x + acc) + x.new_ones(1)

    for g in (to_graph(Net(), (1, 1, 16)), _trace_hooks(Net(), [(1, 1, 16)], "n", fake=True)):
        assert not g.partial, g.diagnostics
        assert kinds(g) == ["pointwise", "conv", "pointwise"]


def test_double_models_trace_in_their_dtype() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).double()
    g = to_graph(net, (1, 1, 9, 9))
    assert g.method == "fx" and kinds(g) == ["conv", "pointwise"]


def test_subclasses_with_their_own_forward_are_traced_into() -> None:
    class WSConv(nn.Conv2d):  # weight standardisation: forward differs from Conv2d's
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            w = self.weight - self.weight.mean((1, 2, 3), keepdim=True)
            return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation)

    class PlainSub(nn.Conv2d):  # same forward: still the Conv2d leaf
        pass

    net = nn.Sequential(WSConv(1, 2, 3, padding=2, dilation=2), PlainSub(2, 2, 3))
    g = to_graph(net, (1, 1, 16, 16))
    convs = [n for n in g.layer_nodes() if n.layer.kind == "conv"]
    assert [n.meta["target"] for n in convs] == ["conv2d", "PlainSub"]
    assert convs[0].layer.dilation == (2, 2)
    assert convs[0].meta["params"] == sum(p.numel() for p in net[0].parameters())
    assert receptive_field(g).size == (7, 7)


def test_params_add_up_to_the_model() -> None:
    from models_for_tests import MODELS

    for name, (build, shape) in MODELS.items():
        model = build()
        g = to_graph(model, shape)
        total = sum(n.meta.get("params", 0) for n in g.layer_nodes())
        assert total == sum(p.numel() for p in model.parameters()), name


# -- regressions: pooled gates, expand_as, padding modes, norms, module-valued args -----------
def support(model: nn.Module, shape: tuple[int, ...], unit: tuple[int, ...]) -> list[set[int]]:
    """Per-axis set of input indices with a non-zero gradient for one output unit (autograd,
    float64, positive weights, all-ones input)."""
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    index = (0, slice(None), *unit)
    model(x)[index].sum().backward()
    assert x.grad is not None
    nz = (x.grad[0].abs().sum(0) != 0).nonzero()
    return [set(nz[:, a].tolist()) for a in range(nz.shape[1])]


@pytest.mark.parametrize("gate", ["mean_w_mul", "mean_h_mul", "sum_w_add", "amax_h_sub",
                                  "max_h_add"])
def test_pooled_gate_over_one_axis_is_global_along_it(gate: str) -> None:
    """Strip pooling / coordinate attention: a map pooled over one axis and broadcast back is
    global along that axis and exact along the other (autograd, with max swapped for mean)."""
    from models_for_tests import GATES, Gated

    shape = (1, 3, 20, 20)
    g = to_graph(Gated(GATES[gate]), shape)
    assert not g.partial, g.diagnostics
    rf = receptive_field(g, input_size=shape)
    pooled = 3 if "_w_" in gate else 2  # the tensor axis the gate pools over
    assert rf.global_axes == (pooled == 2, pooled == 3)
    as_mean = GATES["mean_w_mul" if pooled == 3 else "mean_h_mul"]
    ref = positive_(Gated(as_mean))
    unit = (10, 10)
    got = support(ref, shape, unit)
    kept = 0 if pooled == 3 else 1  # the spatial axis that keeps its local box
    lo, hi = rf.axes[kept].box(unit[kept])
    assert got[kept] == set(range(lo, hi + 1)) == {9, 10, 11}
    assert got[1 - kept] == set(range(shape[2 + 1 - kept]))  # the whole pooled axis


@pytest.mark.parametrize("gate", ["se_expand_as", "se_view_expand_as", "se_expand"])
def test_squeeze_excitation_with_expand_is_like_broadcasting(gate: str) -> None:
    from models_for_tests import GATES, Gated

    shape = (1, 3, 12, 12)
    for tracer in (lambda m: to_graph(m, shape),
                   lambda m: _trace_hooks(m.eval(), [shape], "m", fake=True)):
        g = tracer(Gated(GATES[gate]))
        plain = tracer(Gated(GATES["se_broadcast"]))
        assert not g.partial and not g.diagnostics, g.diagnostics
        rf = receptive_field(g, input_size=shape)
        assert rf.global_axes == (True, True)
        assert rf.global_axes == receptive_field(plain, input_size=shape).global_axes
    ref = positive_(Gated(GATES[gate]))
    assert support(ref, shape, (6, 6)) == [set(range(12))] * 2  # autograd: every pixel


def test_fake_tensor_failure_is_quiet() -> None:
    """An op whose fake kernel fails makes torch log a traceback per attempt (about 150 lines on
    stderr); atrous silences that while it traces, answers with one error, and restores the
    loggers' levels."""
    import logging

    from models_for_tests import bad_pool

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("torch._subclasses.fake_tensor")
    level, handler = log.level, Collect()
    log.addHandler(handler)
    try:
        with pytest.raises(AtrousError, match="cannot trace Gated"):
            to_graph(bad_pool(), (1, 3, 16, 16))
        assert log.level == level
        assert records == []
        log.error("after the trace, torch logs as before")
        assert len(records) == 1
    finally:
        log.removeHandler(handler)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_padding_modes_interior_exact_border_noted(mode: str) -> None:
    """Every padding mode has the zero-padding box for interior units (autograd); border units
    read other pixels for reflect/circular, which a note names, node by node, for torch convs,
    pad modules, F.pad and atrous' own convs alike."""
    import atrous.nn as anet

    n = 16
    conv = nn.Conv1d(1, 1, 3, padding=2, dilation=1, padding_mode=mode,  # type: ignore[arg-type]
                     bias=False)
    pad_mod = {"zeros": nn.ZeroPad1d(2) if hasattr(nn, "ZeroPad1d") else nn.ConstantPad1d(2, 0.),
               "reflect": nn.ReflectionPad1d(2), "replicate": nn.ReplicationPad1d(2),
               "circular": nn.CircularPad1d(2)}[mode]

    class FPad(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if mode == "zeros":
                return F.pad(x, (2, 2))
            return F.pad(x, (2, 2), mode=mode)

    models = {"conv": conv, "pad_module": nn.Sequential(pad_mod, nn.Conv1d(1, 1, 3, bias=False)),
              "f_pad": nn.Sequential(FPad(), nn.Conv1d(1, 1, 3, bias=False)),
              "atrous": anet.DilatedConv1d(1, 1, 3, padding=2, padding_mode=mode, bias=False)}
    for label, model in models.items():
        g = to_graph(model, (1, 1, n))
        assert not g.partial and not g.diagnostics, (label, g.diagnostics)
        rf = receptive_field(g, input_size=(1, 1, n))
        ref = positive_(model)
        for unit in (5, 9):  # interior units: the box is the support, whatever the mode
            lo, hi = rf.box(unit)[0]
            assert support(ref, (1, 1, n), (unit,))[0] == set(range(lo, hi + 1)), label
        border = support(ref, (1, 1, n), (0,))[0]
        lo, hi = rf.box(0)[0]
        clipped = set(range(max(lo, 0), hi + 1))
        assert (border == clipped) == (mode in ("zeros", "replicate")), (label, border)
        if mode == "zeros":
            assert not g.notes, label
        else:
            assert len(g.notes) == 1 and f"'{mode}' padding" in g.notes[0], (label, g.notes)
            assert "exact for units whose box lies inside" in g.notes[0]


def test_norms_with_map_statistics_are_noted() -> None:
    """Norms whose statistics span the map couple every pixel in eval mode too (autograd shows
    it); they stay pointwise, as is conventional, with a note naming the node."""
    cases: dict[str, tuple[nn.Module, bool]] = {
        "GroupNorm": (nn.GroupNorm(2, C), True),
        "InstanceNorm2d": (nn.InstanceNorm2d(C), True),
        "InstanceNorm2d tracked": (nn.InstanceNorm2d(C, track_running_stats=True), False),
        "LayerNorm CHW": (nn.LayerNorm([C, 8, 8]), True),
        "BatchNorm2d": (nn.BatchNorm2d(C), False),
        "BatchNorm2d untracked": (nn.BatchNorm2d(C, track_running_stats=False), True),
    }

    class Normalize(nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.dim = dim

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.normalize(x, dim=self.dim)

    cases["normalize H"] = (Normalize(2), True)
    cases["normalize C"] = (Normalize(1), False)
    shape = (1, 3, 8, 8)
    for label, (norm, couples) in cases.items():
        model = nn.Sequential(nn.Conv2d(3, C, 1), norm)
        g = to_graph(model, shape)
        assert not g.partial and g[g.output].layer.kind == "pointwise", label
        assert bool(g.notes) == couples, (label, g.notes)
        if couples:
            assert g.notes[0].startswith(f"{g.output} (") and "as pointwise" in g.notes[0]
        ref = model.double().eval()
        x = torch.rand(shape, dtype=torch.float64, requires_grad=True)
        ref(x)[0, :, 4, 4].sum().backward()
        assert x.grad is not None
        reach = int((x.grad[0].abs().sum(0) > 1e-12).sum())
        assert (reach > 1) == couples, (label, reach)  # pointwise reads one pixel, else more


def test_module_handed_to_a_wrapped_function_keeps_path_and_params() -> None:
    """atrous.nn's PooledBatchNorm2d calls a torch.fx-wrapped function with itself: its row is
    the module (path, class, parameters), and the model's parameters add up."""
    import atrous
    from atrous.nn import ASPP

    model = ASPP(8, 4, rates=(2, 3))
    g = to_graph(model, (1, 8, 17, 17))
    pooled = model.convs[-1][2]
    node = g[next(n.name for n in g.layer_nodes() if n.meta["module"] == "convs.3.2")]
    assert node.meta["target"] == type(pooled).__name__ == "PooledBatchNorm2d"
    assert node.meta["params"] == sum(p.numel() for p in pooled.parameters()) > 0
    total = sum(n.meta.get("params", 0) for n in g.layer_nodes())
    assert total == sum(p.numel() for p in model.parameters())
    rep = atrous.analyze(model, input_size=(1, 8, 17, 17), gridding=False)
    assert sum(r.meta.get("params", 0) for r in rep.rows) == total


def test_converter_returning_a_non_layer_is_an_error() -> None:
    class Odd(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    def bad(m: object, call: object) -> object:
        return 42

    register_module(Odd, bad)  # type: ignore[arg-type]
    with pytest.raises(AtrousError, match=r"converter .*bad.* for module Odd returned int"):
        to_graph(nn.Sequential(nn.Conv2d(1, 1, 3), Odd()), (1, 1, 8, 8))


def test_fold_then_unfold_is_not_global() -> None:
    """Folding the map into one axis and back keeps every value a pixel's: not global (partial,
    named); a Linear over the folded axis really mixes the map (global, complete)."""
    class FoldBack(nn.Module):
        def __init__(self, mix: bool) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.fc = nn.Linear(64, 64) if mix else nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return torch.relu(self.fc(y.reshape(1, 2, 64))).reshape(1, 2, 8, 8)

    g = to_graph(FoldBack(mix=False), (1, 1, 8, 8))
    assert g.partial and "unfolds a tensor" in "".join(g.diagnostics)
    assert g[g.output].layer.kind == "opaque"
    x = torch.ones(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    positive_(FoldBack(mix=False))(x)[0, :, 4, 4].sum().backward()
    assert x.grad is not None and int((x.grad != 0).sum()) == 9  # a 3x3 box, not the map
    g = to_graph(FoldBack(mix=True), (1, 1, 8, 8))
    assert not g.partial and receptive_field(g, input_size=(1, 1, 8, 8)).is_global
