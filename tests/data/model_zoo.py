"""The geometry of common architectures, transcribed (torchvision and timm are not installed).

Kernel sizes, strides, paddings, dilations, block structure and the hand-written ops (SE gates,
stochastic depth, NHWC LayerNorm, dense concatenations, ASPP) follow torchvision's model code;
channel widths are divided down (``w``) because a receptive field does not depend on them and the
tests compare each row with an autograd impulse response. Each entry returns the feature map the
table describes (the classifier heads, which are global by construction, are left out; the
segmentation models keep their head and the upsampling to the input).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from data.torchvision_reference import (
    ASPP,
    BasicBlock,
    Bottleneck,
    ResNet,
    fcn_head,
)
from models_for_tests import ConvNeXtBlock, StochasticDepth
from torch import Tensor, nn


def _body(resnet: ResNet) -> nn.Module:
    return nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool, resnet.layer1,
                         resnet.layer2, resnet.layer3, resnet.layer4)


def resnet18() -> nn.Module:
    return _body(ResNet(BasicBlock, [2, 2, 2, 2], width=4))


def resnet50() -> nn.Module:
    return _body(ResNet(Bottleneck, [3, 4, 6, 3], width=4))


def vgg16() -> nn.Module:
    layers: list[nn.Module] = []
    cin = 3
    for v in [4, 4, "M", 8, 8, "M", 16, 16, 16, "M", 32, 32, 32, "M", 32, 32, 32, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation (the gate of MobileNetV3 and EfficientNet)."""

    def __init__(self, c: int, squeeze: int, act: type[nn.Module] = nn.ReLU,
                 scale: type[nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1)
        self.activation, self.scale_activation = act(), scale()
        self.detach = False  # True: no gradient through the gate (the local field's autograd)

    def forward(self, x: Tensor) -> Tensor:
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return (s.detach() if self.detach else s) * x


def _cba(cin: int, cout: int, k: int, s: int = 1, groups: int = 1,
         act: type[nn.Module] | None = nn.ReLU6) -> nn.Sequential:
    """torchvision's Conv2dNormActivation: padding (k - 1) // 2."""
    mods: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout)]
    if act is not None:
        mods.append(act())
    return nn.Sequential(*mods)


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 and EfficientNet's MBConv block (optional SE, stochastic depth)."""

    def __init__(self, cin: int, exp: int, cout: int, k: int, s: int, se: bool = False,
                 act: type[nn.Module] = nn.ReLU6, drop: float = 0.0) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        if exp != cin:
            mods.append(_cba(cin, exp, 1, act=act))
        mods.append(_cba(exp, exp, k, s, groups=exp, act=act))
        if se:
            mods.append(SqueezeExcitation(exp, max(1, exp // 4)))
        mods.append(_cba(exp, cout, 1, act=None))
        self.block = nn.Sequential(*mods)
        self.use_res = s == 1 and cin == cout
        self.stochastic_depth = StochasticDepth(drop)

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return x + self.stochastic_depth(y) if self.use_res else y


def mobilenet_v2() -> nn.Module:
    cfg = [(1, 2, 1, 1), (6, 3, 2, 2), (6, 4, 3, 2), (6, 8, 4, 2), (6, 12, 3, 1),
           (6, 20, 3, 2), (6, 40, 1, 1)]  # (t, c, n, s), channels / 8
    layers: list[nn.Module] = [_cba(3, 4, 3, 2)]
    cin = 4
    for t, c, n, s in cfg:
        for i in range(n):
            layers.append(InvertedResidual(cin, cin * t, c, 3, s if i == 0 else 1))
            cin = c
    layers.append(_cba(cin, 160, 1))
    return nn.Sequential(*layers)


def mobilenet_v3_small() -> nn.Module:
    hs, re = nn.Hardswish, nn.ReLU
    cfg = [(3, 16, 16, True, re, 2), (3, 72, 24, False, re, 2), (3, 88, 24, False, re, 1),
           (5, 96, 40, True, hs, 2), (5, 240, 40, True, hs, 1), (5, 240, 40, True, hs, 1),
           (5, 120, 48, True, hs, 1), (5, 144, 48, True, hs, 1), (5, 288, 96, True, hs, 2),
           (5, 576, 96, True, hs, 1), (5, 576, 96, True, hs, 1)]
    layers: list[nn.Module] = [_cba(3, 2, 3, 2, act=hs)]
    cin = 2
    for k, exp, c, se, act, s in cfg:
        layers.append(InvertedResidual(cin, max(2, exp // 8), max(2, c // 8), k, s, se, act))
        cin = max(2, c // 8)
    layers.append(_cba(cin, 72, 1, act=hs))
    return nn.Sequential(*layers)


def efficientnet_b0() -> nn.Module:
    cfg = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
           (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]  # (expand, k, s, c, n)
    layers: list[nn.Module] = [_cba(3, 4, 3, 2, act=nn.SiLU)]
    cin = 4
    for e, k, s, c, n in cfg:
        for i in range(n):
            cout = max(2, c // 8)
            layers.append(InvertedResidual(cin, cin * e, cout, k, s if i == 0 else 1, True,
                                           nn.SiLU, drop=0.2))
            cin = cout
    layers.append(_cba(cin, 160, 1, act=nn.SiLU))
    return nn.Sequential(*layers)


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, 2 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * growth)
        self.conv2 = nn.Conv2d(2 * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = torch.cat(features, 1)
        return self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, n: int, cin: int, growth: int) -> None:
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(cin + i * growth, growth))

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


def densenet121() -> nn.Module:
    growth, c = 2, 4
    layers: list[nn.Module] = [nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c),
                               nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    for i, n in enumerate((6, 12, 24, 16)):
        layers.append(_DenseBlock(n, c, growth))
        c += n * growth
        if i != 3:
            layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1,
                                                                            bias=False),
                       nn.AvgPool2d(2, 2)]
            c //= 2
    return nn.Sequential(*layers)


class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: LayerNorm over channels, through NHWC."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def convnext_tiny() -> nn.Module:
    dims, depths = (4, 8, 16, 32), (3, 3, 9, 3)
    layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0])]
    for i, (d, n) in enumerate(zip(dims, depths)):
        layers += [ConvNeXtBlock(d) for _ in range(n)]
        if i < 3:
            layers += [LayerNorm2d(d), nn.Conv2d(d, dims[i + 1], 2, 2)]
    return nn.Sequential(*layers)


class _Segmentation(nn.Module):
    """DeepLabV3 / FCN: a dilated ResNet-50 (output stride 8), a head, upsampling to the input."""

    def __init__(self, head: str) -> None:
        super().__init__()
        self.backbone = _body(ResNet(Bottleneck, [3, 4, 6, 3], width=4,
                                     replace_stride_with_dilation=[False, True, True]))
        if head == "deeplab":
            self.classifier: nn.Module = nn.Sequential(
                ASPP(128, (12, 24, 36), 8), nn.Conv2d(8, 8, 3, padding=1, bias=False),
                nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 3, 1))
        else:
            self.classifier = fcn_head(128, 3)

    def forward(self, x: Tensor) -> Tensor:
        y = self.classifier(self.backbone(x))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


ZOO: dict[str, tuple[Callable[[], nn.Module], int, str]] = {
    # name: (builder, input side for the table, what the row is)
    "VGG-16": (vgg16, 224, "features"),
    "ResNet-18": (resnet18, 224, "layer4"),
    "ResNet-50": (resnet50, 224, "layer4"),
    "MobileNetV2": (mobilenet_v2, 224, "features"),
    "MobileNetV3-Small": (mobilenet_v3_small, 224, "features (SE)"),
    "EfficientNet-B0": (efficientnet_b0, 224, "features (SE)"),
    "DenseNet-121": (densenet121, 224, "features"),
    "ConvNeXt-T": (convnext_tiny, 224, "features"),
    "FCN-ResNet-50": (lambda: _Segmentation("fcn"), 513, "out (upsampled)"),
    "DeepLabV3-ResNet-50": (lambda: _Segmentation("deeplab"), 513, "out (upsampled)"),
}
