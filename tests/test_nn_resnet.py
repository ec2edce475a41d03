"""Dilated ResNets against torchvision's ResNet (plain-torch transcription) and the strided net."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from atrous.errors import AtrousError
from atrous.nn import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101
from atrous.nn.resnet import stage_dilations

torch.set_num_threads(1)
DATA = Path(__file__).parent / "data"


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "torchvision_reference", DATA / "torchvision_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tv = _reference()


def _randomize_norms(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c, dt = m.num_features, m.weight.dtype
            m.weight.data = torch.rand(c, generator=g, dtype=dt) + 0.5
            m.bias.data = torch.randn(c, generator=g, dtype=dt) * 0.1
            m.running_mean = torch.randn(c, generator=g, dtype=dt) * 0.1
            m.running_var = torch.rand(c, generator=g, dtype=dt) + 0.5


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _geometry(model: nn.Module) -> dict[str, tuple[object, ...]]:
    return {
        name: (m.stride, m.padding, m.dilation)
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    }


def test_state_dict_equals_torchvision_resnet50_and_fixture_backbone() -> None:
    with torch.device("meta"):  # shapes only
        ours, ref = resnet50(), tv.ResNet(tv.Bottleneck, [3, 4, 6, 3])
    assert list(_shapes(ours).items()) == list(_shapes(ref).items())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    fixture = json.loads((DATA / "torchvision_deeplabv3_state_dicts.json").read_text())
    for depth, make in ((50, resnet50), (101, resnet101)):
        sd = fixture["models"][f"deeplabv3_resnet{depth}"]["state_dict"]
        backbone = {
            k.removeprefix("backbone."): tuple(v)
            for k, v in sd.items()
            if k.startswith("backbone.")
        }
        with torch.device("meta"):
            assert _shapes(make(8, num_classes=None)) == backbone


@pytest.mark.parametrize("replace", list(itertools.product([False, True], repeat=3)))
def test_replace_stride_with_dilation_geometry_equals_torchvision(
    replace: tuple[bool, bool, bool],
) -> None:
    ours = ResNet("bottleneck", [2, 1, 2, 2], replace_stride_with_dilation=replace, width=4)
    ref = tv.ResNet(
        tv.Bottleneck, [2, 1, 2, 2], replace_stride_with_dilation=list(replace), width=4
    )
    assert _geometry(ours) == _geometry(ref)


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_output_stride_matches_torchvision_flags(output_stride: int) -> None:
    flags = {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}
    ours = ResNet("bottleneck", [1, 1, 2, 2], output_stride=output_stride, width=4)  # type: ignore[arg-type]
    ref = tv.ResNet(
        tv.Bottleneck, [1, 1, 2, 2], replace_stride_with_dilation=flags[output_stride], width=4
    )
    assert _geometry(ours) == _geometry(ref)
    assert ours.output_stride == output_stride


@pytest.mark.parametrize(
    ("block", "output_stride"),
    [("bottleneck", 8), ("bottleneck", 16), ("bottleneck", 32), ("basic", 32)],
)
def test_outputs_equal_torchvision_resnet(block: str, output_stride: int) -> None:
    """Same weights, same outputs (bit for bit: the same torch ops in the same order)."""
    ref_block = tv.Bottleneck if block == "bottleneck" else tv.BasicBlock
    flags = [False, output_stride == 8, output_stride <= 16]
    ref = tv.ResNet(ref_block, [2, 2, 2, 2], 7, replace_stride_with_dilation=flags, width=16)
    _randomize_norms(ref)
    ours = ResNet(block, [2, 2, 2, 2], output_stride=output_stride, num_classes=7, width=16)  # type: ignore[arg-type]
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 37, 41)
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("size", [(64, 64), (61, 75)])
def test_dilated_net_is_the_strided_net_computed_densely(
    block: str, output_stride: int, size: tuple[int, int]
) -> None:
    """Algorithme à trous: the dilated ResNet's output, sampled every 32/output_stride pixels,
    is the strided ResNet's output — so each output unit keeps its receptive field exactly."""
    torch.manual_seed(0)
    strided = ResNet(block, [2, 1, 1, 2], num_classes=None, width=4).double()  # type: ignore[arg-type]
    _randomize_norms(strided)
    dilated = ResNet(
        block,  # type: ignore[arg-type]
        [2, 1, 1, 2],
        output_stride=output_stride,  # type: ignore[arg-type]
        num_classes=None,
        width=4,
    ).double()
    dilated.load_state_dict(strided.state_dict(), strict=True)
    x = torch.randn(1, 3, *size, dtype=torch.float64)
    dense, coarse = dilated.eval()(x), strided.eval()(x)
    k = 32 // output_stride
    assert [-(-d // k) for d in dense.shape[-2:]] == list(coarse.shape[-2:])
    torch.testing.assert_close(dense[..., ::k, ::k], coarse, rtol=1e-10, atol=1e-10)


@settings(max_examples=8)
@given(
    block=st.sampled_from(["basic", "bottleneck"]),
    output_stride=st.sampled_from([8, 16]),
    layers=st.lists(st.integers(1, 2), min_size=4, max_size=4),
    h=st.integers(20, 70),
    w=st.integers(20, 70),
)
def test_a_trous_identity_random_configs(
    block: str, output_stride: int, layers: list[int], h: int, w: int
) -> None:
    strided = ResNet(block, layers, num_classes=None, width=2).double()  # type: ignore[arg-type]
    _randomize_norms(strided, seed=h * w)
    dilated = ResNet(block, layers, output_stride=output_stride, num_classes=None, width=2)  # type: ignore[arg-type]
    dilated.double().load_state_dict(strided.state_dict(), strict=True)
    x = torch.randn(1, 3, h, w, dtype=torch.float64)
    k = 32 // output_stride
    dense, coarse = dilated.eval()(x), strided.eval()(x)
    torch.testing.assert_close(dense[..., ::k, ::k], coarse, rtol=1e-10, atol=1e-10)


def test_basic_block_dilation_first_conv_keeps_previous_rate() -> None:
    net = resnet18(8, num_classes=None, width=4)
    assert [net.layer3[0].conv1.dilation, net.layer3[0].conv2.dilation] == [(1, 1), (2, 2)]
    assert [net.layer4[0].conv1.dilation, net.layer4[0].conv2.dilation] == [(2, 2), (4, 4)]
    assert net.layer4[1].conv1.dilation == net.layer4[1].conv2.dilation == (4, 4)
    assert all(isinstance(b, BasicBlock) for b in net.layer4)
    assert net.layer4[0].conv1.padding == net.layer4[0].conv1.dilation


@pytest.mark.parametrize("output_stride", [8, 16, 32])
@pytest.mark.parametrize("grid", [(1, 2, 4), (2, 2, 2)])
def test_multi_grid_multiplies_the_stage_rate(
    output_stride: int, grid: tuple[int, int, int]
) -> None:
    stage_rate = stage_dilations(output_stride)[2][1]  # type: ignore[arg-type]
    expected = [(stage_rate * g, stage_rate * g) for g in grid]
    net = ResNet("bottleneck", [1, 1, 1, 3], output_stride=output_stride, multi_grid=grid, width=4)  # type: ignore[arg-type]
    assert [b.conv2.dilation for b in net.layer4] == expected
    assert [b.conv2.padding for b in net.layer4] == expected
    basic = resnet34(output_stride, grid, num_classes=None, width=4)  # type: ignore[arg-type]
    assert [(b.conv1.dilation, b.conv2.dilation) for b in basic.layer4] == [
        (e, e) for e in expected
    ]
    assert all(isinstance(b, Bottleneck) for b in net.layer4)


def test_stage_dilations_follow_the_output_stride() -> None:
    for os_ in (8, 16, 32):
        plan = stage_dilations(os_)  # type: ignore[arg-type]
        strides = [s for s, _ in plan]
        assert 4 * 2 ** strides.count(2) == os_
        assert plan[2][1] == 32 // os_


def test_fx_trace_and_gradients() -> None:
    net = ResNet("bottleneck", [1, 1, 1, 1], output_stride=8, num_classes=5, width=4).double()
    _randomize_norms(net)
    gm = torch.fx.symbolic_trace(net)
    x = torch.randn(2, 3, 33, 33, dtype=torch.float64)
    torch.testing.assert_close(gm.eval()(x), net.eval()(x))
    net.train()(x).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_zero_init_residual_and_no_classifier() -> None:
    net = resnet18(num_classes=None, zero_init_residual=True, width=4)
    assert all(
        torch.count_nonzero(b.bn2.weight) == 0 for b in net.modules() if isinstance(b, BasicBlock)
    )
    assert not any(k.startswith(("fc.", "avgpool")) for k in net.state_dict())
    assert net.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 8 * 4, 2, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_stride": 4}, "output_stride must be 8, 16 or 32, got 4"),
        ({"output_stride": 8, "replace_stride_with_dilation": [False] * 3}, "not both"),
        ({"replace_stride_with_dilation": [True]}, "must be 3 bools"),
        ({"multi_grid": (1, 2)}, r"one rate per layer4 block \(3\)"),
        ({"multi_grid": (1, 0, 2)}, "multi_grid rate must be >= 1, got 0"),
        ({"block": "wide"}, "block must be 'basic' or 'bottleneck'"),
        ({"layers": [1, 1, 1]}, "layers must be 4 block counts"),
        ({"norm": "bn"}, "norm must be a factory such as nn.BatchNorm2d, got 'bn'"),
        ({"norm": None}, "norm must be a factory"),
        ({"norm": nn.BatchNorm2d(4)}, "got the module instance"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    args = {"block": "bottleneck", "layers": [1, 1, 1, 3], "width": 4} | kwargs
    with pytest.raises(AtrousError, match=message):
        ResNet(**args)  # type: ignore[arg-type]
