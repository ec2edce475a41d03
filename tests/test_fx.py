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
from models_for_tests import Untraceable, WithUnknownOp, positive_, swap_max_pools

from atrous import AtrousError, Conv, Pointwise, receptive_field
from atrous.fx import (
    ModelGraph,
    Unsupported,
    _trace_hooks,
    register_function,
    register_module,
    to_graph,
)


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
        b = _trace_hooks(model, shape, "m", fake=True)
        assert [(n.name, n.layer, n.inputs) for n in a.layer_nodes()] == [
            (n.name, n.layer, n.inputs) for n in b.layer_nodes()], name


def test_unknown_ops_give_diagnostics_naming_the_path() -> None:
    g = to_graph(WithUnknownOp(), (1, 3, 16, 16))
    assert g.partial
    text = "\n".join(g.diagnostics)
    assert "roll (roll)" in text and "no converter registered for 'roll'" in text
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

    register_function("roll", shift)
    try:
        g = to_graph(WithUnknownOp(), (1, 3, 16, 16))
        assert any("shifts are not modelled" in d for d in g.diagnostics)
    finally:
        from atrous import fx

        fx._FUNCTIONS_BY_NAME.pop("roll")


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

    for g in (to_graph(Net(), (1, 1, 16)), _trace_hooks(Net(), (1, 1, 16), "n", fake=True)):
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
