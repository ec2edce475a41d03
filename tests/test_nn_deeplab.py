"""DeepLabV3 against torchvision's state_dict fixture and a plain-torch transcription of it;
DeepLabV3+ against a plain composition of torch layers."""

from __future__ import annotations

import importlib.util
import json
from collections import OrderedDict
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from atrous.errors import AtrousError
from atrous.nn import (
    DeepLabHead,
    DeepLabV3,
    DeepLabV3Plus,
    FCNHead,
    IntermediateLayerGetter,
    ResNet,
    deeplabv3_resnet50,
    deeplabv3_resnet101,
    deeplabv3plus_resnet50,
)

torch.set_num_threads(1)
DATA = Path(__file__).parent / "data"
FIXTURE = json.loads((DATA / "torchvision_deeplabv3_state_dicts.json").read_text())["models"]


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


def _shapes(model: nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    ("make", "name"),
    [(deeplabv3_resnet50, "deeplabv3_resnet50"), (deeplabv3_resnet101, "deeplabv3_resnet101")],
)
@pytest.mark.parametrize("aux", [False, True])
def test_keys_shapes_and_parameter_count_equal_torchvision_fixture(
    make: object, name: str, aux: bool
) -> None:
    expected = FIXTURE[name + ("_aux" if aux else "")]
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        model = make(num_classes=21, aux_loss=aux)  # type: ignore[operator]
    assert list(_shapes(model).items()) == list(expected["state_dict"].items())
    assert sum(p.numel() for p in model.parameters()) == expected["params"]


def test_reference_transcription_has_the_fixture_layout() -> None:
    """The plain-torch reference used below is torchvision's layout (so the equality test below
    is a test against torchvision's model)."""
    with torch.device("meta"):
        ref = tv.deeplabv3_resnet(50, 21, aux=True)
    assert list(_shapes(ref).items()) == list(
        FIXTURE["deeplabv3_resnet50_aux"]["state_dict"].items()
    )


def test_loads_torchvision_state_dict_strictly_and_outputs_equal() -> None:
    torch.manual_seed(0)
    ref = tv.deeplabv3_resnet(50, 21, aux=True)
    _randomize_norms(ref)
    model = deeplabv3_resnet50(num_classes=21, aux_loss=True)
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, 3, 65, 65)
    with torch.no_grad(), pytest.warns(UserWarning, match="not smaller than the 9x9"):
        out = model.eval()(x)  # 65x65 input -> 9x9 features: rates 12, 24, 36 do not fit
    with torch.no_grad():
        expected = ref.eval()(x)
    assert isinstance(out, OrderedDict) and list(out) == ["out", "aux"] == list(expected)
    for key in out:
        assert out[key].shape == (1, 21, 65, 65)
        torch.testing.assert_close(out[key], expected[key], rtol=0, atol=0)


def test_train_mode_step_equals_reference_at_batch_2() -> None:
    """Train mode at batch 2: same outputs, same gradients, same running statistics."""
    torch.manual_seed(0)
    ref = tv.DeepLabV3(
        tv.IntermediateLayerGetter(
            tv.ResNet(
                tv.Bottleneck,
                [1, 1, 1, 1],
                replace_stride_with_dilation=[False, True, True],
                width=8,
            ),
            {"layer4": "out", "layer3": "aux"},
        ),
        tv.deeplab_head(256, 3, rates=(1, 2, 3), width=16),
        tv.fcn_head(128, 3),
    ).double()
    ours = DeepLabV3(
        IntermediateLayerGetter(
            ResNet("bottleneck", [1, 1, 1, 1], output_stride=8, num_classes=None, width=8),
            {"layer4": "out", "layer3": "aux"},
        ),
        DeepLabHead(256, 3, rates=(1, 2, 3), channels=16),
        FCNHead(128, 3),
    ).double()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 33, 35, dtype=torch.float64)
    torch.manual_seed(1)
    a = ref.train()(x)
    torch.manual_seed(1)
    b = ours.train()(x)
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-12, atol=1e-12)
    (a["out"].sum() + a["aux"].sum()).backward()
    (b["out"].sum() + b["aux"].sum()).backward()
    ref_grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, ref_grads[name].grad, rtol=1e-9, atol=1e-12, msg=name)
    for (k, v), w in zip(ours.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=1e-12, atol=1e-12, msg=k)


def _tiny_deeplab(aux: bool = False) -> DeepLabV3:
    layers = {"layer4": "out"} | ({"layer3": "aux"} if aux else {})
    body = IntermediateLayerGetter(
        ResNet("basic", [1, 1, 1, 1], output_stride=8, num_classes=None, width=4), layers
    )
    return DeepLabV3(
        body, DeepLabHead(32, 3, rates=(1, 2), channels=8), FCNHead(16, 3) if aux else None
    )


def test_trains_at_batch_size_1_with_an_optimizer_step() -> None:
    torch.manual_seed(0)
    model = _tiny_deeplab(aux=True).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, target = torch.randn(1, 3, 40, 40), torch.randint(0, 3, (1, 40, 40))
    before = model.classifier[4].weight.detach().clone()
    out = model(x)
    loss = F.cross_entropy(out["out"], target) + 0.5 * F.cross_entropy(out["aux"], target)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert not torch.equal(model.classifier[4].weight, before)


def test_fx_trace_equals_module() -> None:
    torch.manual_seed(0)
    model = _tiny_deeplab(aux=True).double().eval()
    _randomize_norms(model)
    gm = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 3, 41, 37, dtype=torch.float64)
    out, traced = model(x), gm(x)
    assert list(traced) == ["out", "aux"]
    for key in out:
        torch.testing.assert_close(traced[key], out[key])


class _PlainV3Plus(nn.Module):
    """DeepLabV3+ written out as plain torch layers (separable branches and decoder)."""

    def __init__(self, backbone: nn.Module, cin: int, clow: int, rates: tuple[int, ...]) -> None:
        super().__init__()
        c, red, classes = 8, 4, 3

        def bn_relu(ch: int) -> list[nn.Module]:
            return [nn.BatchNorm2d(ch), nn.ReLU()]

        def sep(ci: int, co: int, r: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(ci, ci, 3, padding=r, dilation=r, groups=ci, bias=False),
                *bn_relu(ci),
                nn.Conv2d(ci, co, 1, bias=False),
                *bn_relu(co),
            )

        self.backbone = backbone
        branches = [nn.Sequential(nn.Conv2d(cin, c, 1, bias=False), *bn_relu(c))]
        branches += [sep(cin, c, r) for r in rates]
        branches.append(
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, c, 1, bias=False), *bn_relu(c))
        )
        self.aspp = nn.Module()
        self.aspp.convs = nn.ModuleList(branches)
        self.aspp.project = nn.Sequential(
            nn.Conv2d(c * len(branches), c, 1, bias=False), *bn_relu(c), nn.Dropout(0.1)
        )
        self.low_level = nn.Sequential(nn.Conv2d(clow, red, 1, bias=False), *bn_relu(red))
        self.decoder = nn.Sequential(sep(c + red, c, 1), sep(c, c, 1))
        self.classifier = nn.Conv2d(c, classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        f = self.backbone(x)
        h = f["out"]
        outs = [branch(h) for branch in self.aspp.convs]
        outs[-1] = outs[-1].expand(-1, -1, *h.shape[-2:])
        high = self.aspp.project(torch.cat(outs, 1))
        low = self.low_level(f["low_level"])
        high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.classifier(self.decoder(torch.cat([high, low], 1)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def test_deeplabv3plus_equals_plain_composition() -> None:
    torch.manual_seed(0)
    layers = {"layer1": "low_level", "layer4": "out"}
    resnet = tv.ResNet(tv.BasicBlock, [1, 1, 1, 1], width=4)  # any backbone: torchvision's
    ref = _PlainV3Plus(tv.IntermediateLayerGetter(resnet, layers), 32, 4, (1, 2)).double()
    _randomize_norms(ref)
    ours = DeepLabV3Plus(
        IntermediateLayerGetter(ResNet("basic", [1, 1, 1, 1], num_classes=None, width=4), layers),
        3,
        in_channels=32,
        low_level_channels=4,
        rates=(1, 2),
        aspp_channels=8,
        low_level_reduced=4,
        decoder_channels=8,
    ).double()
    assert list(_shapes(ours).items()) == list(_shapes(ref).items())
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 96, 104, dtype=torch.float64)
    out = ours.eval()(x)
    assert list(out) == ["out"]
    torch.testing.assert_close(out["out"], ref.eval()(x), rtol=1e-10, atol=1e-12)
    torch.fx.symbolic_trace(ours)  # traceable
    ours.train()(x[:1])["out"].sum().backward()  # batch size 1 in train mode
    assert all(p.grad is not None for p in ours.parameters())


def test_factories_options() -> None:
    with torch.device("meta"):
        m = deeplabv3_resnet50(num_classes=4, output_stride=16, multi_grid=(1, 2, 4))
        plus = deeplabv3plus_resnet50(num_classes=4, aux_loss=True, separable=False)
    assert m.classifier[0].rates == (6, 12, 18)
    assert [b.conv2.dilation[0] for b in m.backbone["layer4"]] == [2, 4, 8]
    assert plus.aspp.rates == (6, 12, 18) and plus.aux_classifier is not None
    assert plus.low_level[0].in_channels == 256 and plus.backbone.return_layers == {
        "layer1": "low_level",
        "layer4": "out",
        "layer3": "aux",
    }
    assert not any(isinstance(mod, nn.Conv2d) and mod.groups > 1 for mod in plus.modules())


def test_bad_arguments() -> None:
    resnet = ResNet("basic", [1, 1, 1, 1], num_classes=None, width=4)
    with pytest.raises(AtrousError, match="return_layers must name children"):
        IntermediateLayerGetter(resnet, {"layer9": "out"})
    body = IntermediateLayerGetter(resnet, {"layer4": "out"})
    with pytest.raises(AtrousError, match=r"backbone must return \['aux', 'out'\]"):
        DeepLabV3(body, DeepLabHead(32, 3, channels=8), FCNHead(16, 3))
    with pytest.raises(AtrousError, match="output_stride=32 has no default ASPP rates"):
        deeplabv3_resnet50(output_stride=32)
    with pytest.raises(AtrousError, match=r"backbone must return \['low_level', 'out'\]"):
        DeepLabV3Plus(body, 3, in_channels=32, low_level_channels=4, aspp_channels=8)
    plus = DeepLabV3Plus(nn.Identity(), 3, in_channels=4, low_level_channels=4, aspp_channels=8)
    with pytest.raises(AtrousError, match=r"must return a dict with 'low_level'.*got a tensor"):
        plus(torch.randn(1, 4, 8, 8))
    net = DeepLabV3(nn.Identity(), DeepLabHead(4, 3, rates=(1,), channels=8))
    with pytest.raises(AtrousError, match="must return a dict with 'out'"):
        net(torch.randn(1, 4, 8, 8))
