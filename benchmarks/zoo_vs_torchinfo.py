"""Benchmark: ``atrous.analyze`` against torchinfo's and torchscan's summaries on a CNN zoo.

Issue 15's target: across torchvision and timm-style CNNs at 1x3x224x224, ``atrous.analyze`` is
no slower than ``torchinfo.summary`` on any model, however the model writes its norm layers.
torchvision and timm cannot be installed here, so the architectures are written out below at
their real widths and depths (the torchvision ones follow ``tests/data/torchvision_reference.py``
and ``tests/data/model_zoo.py``, which the tests check against torchvision's state dicts and
autograd impulses; the timm-style ones follow timm's block structure: ResNet-D's deep stem and
average-pool shortcut, SE and ECA gates, ``BatchNormAct2d`` — a ``BatchNorm2d`` subclass that
calls ``F.batch_norm`` and its activation in ``forward`` — CSP stages, RegNet's group widths).

Each side runs in this process on one torch thread; the figure is the fastest CPU time
(``time.process_time``) of ``--repeat`` calls after one warm-up call:

- atrous: ``atrous.analyze(model, input_size=(1, 3, 224, 224))`` (trace, shapes, receptive
  fields, coverage, per-layer gridding on graphs of up to 120 nodes, verdicts);
- torchinfo: ``torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)`` (one forward
  pass with hooks, the table built but not printed);
- torchscan (when installed): ``torchscan.summary(model, (3, 224, 224))``, its printout sent to
  a string.

torchinfo and torchscan are not atrous dependencies (``pip install torchinfo torchscan``, or the
``bench`` extra); without torchinfo the script says so and stops.

    python benchmarks/zoo_vs_torchinfo.py             # every model (a few minutes)
    python benchmarks/zoo_vs_torchinfo.py --only resnet50,seresnet50 --repeat 5
    python benchmarks/zoo_vs_torchinfo.py --cold      # first analyze() of a fresh process

``--cold`` times instead the first ``atrous.analyze`` of a fresh interpreter per model (what
``atrous model`` pays once: torch's one-time set-up included, the imports of torch and atrous
excluded) and says whether it imported sympy (torch's Python meta kernels do, through
``torch._check``: about 1.5 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# -- building blocks ------------------------------------------------------------------------

Norm = Callable[[int], nn.Module]


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's ``BatchNormAct2d``: batch norm and activation in one module, written with
    ``F.batch_norm`` in ``forward`` (the functional form a module-level analysis must read)."""

    def __init__(self, c: int, act: type[nn.Module] | None = nn.ReLU) -> None:
        super().__init__(c)
        self.act = act() if act is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         self.training, self.momentum or 0.0, self.eps)
        return self.act(x)


def conv_bn(cin: int, cout: int, k: int, s: int = 1, groups: int = 1,
            act: type[nn.Module] | None = nn.ReLU, norm: str = "bn", d: int = 1) -> nn.Module:
    """Conv + norm + activation, padding ``d * (k - 1) // 2`` (torchvision's
    Conv2dNormActivation; ``norm="bnact"``: timm's BatchNormAct2d holds the activation)."""
    conv = nn.Conv2d(cin, cout, k, s, d * (k - 1) // 2, dilation=d, groups=groups, bias=False)
    if norm == "bnact":
        return nn.Sequential(conv, BatchNormAct2d(cout, act))
    mods: list[nn.Module] = [conv, nn.BatchNorm2d(cout)]
    if act is not None:
        mods.append(act())
    return nn.Sequential(*mods)


class SE(nn.Module):
    """Squeeze-and-excitation (torchvision.ops.SqueezeExcitation, timm's SEModule)."""

    def __init__(self, c: int, squeeze: int, act: type[nn.Module] = nn.ReLU,
                 gate: type[nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1)
        self.act, self.gate = act(), gate()

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class ECA(nn.Module):
    """timm's EcaModule: a 1-D convolution across the pooled channels."""

    def __init__(self, c: int) -> None:
        super().__init__()
        k = int(abs((math.log(c, 2) + 1) / 2))
        k = k if k % 2 else k + 1
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))
        return x * torch.sigmoid(y).view(x.shape[0], -1, 1, 1).expand_as(x)


def _attn(kind: str | None, c: int) -> nn.Module:
    if kind == "se":
        return SE(c, max(8, c // 16))
    if kind == "eca":
        return ECA(c)
    return nn.Identity()


# -- ResNet family (torchvision and timm) -----------------------------------------------------
class Block(nn.Module):
    """ResNet's BasicBlock / Bottleneck with ResNeXt groups, wide widths, an attention gate
    (SE / ECA) and timm's norm written either way."""

    def __init__(self, cin: int, planes: int, stride: int, down: nn.Module | None,
                 bottleneck: bool, groups: int = 1, base_width: int = 64,
                 attn: str | None = None, norm: str = "bn", dilation: int = 1) -> None:
        super().__init__()
        relu = nn.ReLU
        if bottleneck:
            width = int(planes * (base_width / 64.0)) * groups
            out = planes * 4
            self.body = nn.Sequential(
                conv_bn(cin, width, 1, norm=norm),
                conv_bn(width, width, 3, stride, groups, norm=norm, d=dilation),
                conv_bn(width, out, 1, act=None, norm=norm), _attn(attn, out))
        else:
            out = planes
            self.body = nn.Sequential(conv_bn(cin, planes, 3, stride, norm=norm),
                                      conv_bn(planes, planes, 3, act=None, norm=norm),
                                      _attn(attn, out))
        self.down = down
        self.act = relu(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        short = x if self.down is None else self.down(x)
        return self.act(self.body(x) + short)


class ResNet(nn.Module):
    """torchvision's ResNet / ResNeXt / Wide ResNet and timm's ResNet-D (deep stem, average-pool
    shortcut), SE-, ECA- and BatchNormAct-ResNets; ``dilate`` replaces the last strides by
    dilation (the DeepLab / FCN backbone), ``head=False`` returns the last feature map."""

    def __init__(self, layers: list[int], bottleneck: bool = True, groups: int = 1,
                 base_width: int = 64, attn: str | None = None, deep: bool = False,
                 norm: str = "bn", dilate: bool = False, head: bool = True) -> None:
        super().__init__()
        if deep:  # timm's "deep" stem: three 3x3 convs
            self.stem = nn.Sequential(
                conv_bn(3, 32, 3, 2, norm=norm), conv_bn(32, 32, 3, norm=norm),
                conv_bn(32, 64, 3, norm=norm), nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(conv_bn(3, 64, 7, 2, norm=norm), nn.MaxPool2d(3, 2, 1))
        cin, stages, dilation = 64, [], 1
        for i, n in enumerate(layers):
            planes, stride = 64 * 2**i, 1 if i == 0 else 2
            if dilate and i >= 2:
                dilation, stride = dilation * 2, 1
            out = planes * (4 if bottleneck else 1)
            down: nn.Module | None = None
            if stride != 1 or cin != out:
                if deep and stride != 1:  # ResNet-D: average pool, then a 1x1 conv
                    down = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True,
                                                      count_include_pad=False),
                                         conv_bn(cin, out, 1, act=None, norm=norm))
                else:
                    down = conv_bn(cin, out, 1, stride, act=None, norm=norm)
            blocks = [Block(cin, planes, stride, down, bottleneck, groups, base_width, attn, norm,
                            max(1, dilation // 2) if dilate and i >= 2 else 1)]
            blocks += [Block(out, planes, 1, None, bottleneck, groups, base_width, attn, norm,
                             dilation) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000)
                                  ) if head else nn.Identity()
        self.out_channels = cin

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.stages(self.stem(x)))


class Segmentation(nn.Module):
    """torchvision's FCN / DeepLabV3 on a dilated ResNet-50 (output stride 8), upsampled."""

    def __init__(self, deeplab: bool) -> None:
        super().__init__()
        self.backbone = ResNet([3, 4, 6, 3], dilate=True, head=False)
        c = self.backbone.out_channels
        if deeplab:
            branches = [conv_bn(c, 256, 1)] + [conv_bn(c, 256, 3, d=r) for r in (12, 24, 36)]
            self.aspp = nn.ModuleList(branches)
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv_bn(c, 256, 1))
            self.project = conv_bn(5 * 256, 256, 1)
            self.classifier = nn.Sequential(conv_bn(256, 256, 3), nn.Conv2d(256, 21, 1))
        else:
            self.aspp = nn.ModuleList()
            self.classifier = nn.Sequential(conv_bn(c, 512, 3), nn.Dropout(0.1),
                                            nn.Conv2d(512, 21, 1))

    def forward(self, x: Tensor) -> Tensor:
        f = self.backbone(x)
        if len(self.aspp):
            pooled = F.interpolate(self.pool(f), size=f.shape[-2:], mode="bilinear",
                                   align_corners=False)
            f = self.project(torch.cat([b(f) for b in self.aspp] + [pooled], 1))
        y = self.classifier(f)
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


# -- VGG, AlexNet, SqueezeNet ---------------------------------------------------------------
def vgg(cfg: list[Any], bn: bool = False) -> nn.Module:
    layers: list[nn.Module] = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), *([nn.BatchNorm2d(v)] if bn else []),
                       nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                         nn.Linear(512 * 49, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000))


VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def alexnet() -> nn.Module:
    r = partial(nn.ReLU, inplace=True)
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), r(), nn.MaxPool2d(3, 2), nn.Conv2d(64, 192, 5, padding=2), r(),
        nn.MaxPool2d(3, 2), nn.Conv2d(192, 384, 3, padding=1), r(),
        nn.Conv2d(384, 256, 3, padding=1), r(), nn.Conv2d(256, 256, 3, padding=1), r(),
        nn.MaxPool2d(3, 2), nn.AdaptiveAvgPool2d(6), nn.Flatten(), nn.Dropout(),
        nn.Linear(256 * 36, 4096), r(), nn.Dropout(), nn.Linear(4096, 4096), r(),
        nn.Linear(4096, 1000))


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU(inplace=True))
        self.e1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1), nn.ReLU(inplace=True))
        self.e3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze(x)
        return torch.cat([self.e1(x), self.e3(x)], 1)


def squeezenet1_1() -> nn.Module:
    pool = partial(nn.MaxPool2d, 3, 2, ceil_mode=True)
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), pool(), Fire(64, 16, 64), Fire(128, 16, 64),
        pool(), Fire(128, 32, 128), Fire(256, 32, 128), pool(), Fire(256, 48, 192),
        Fire(384, 48, 192), Fire(384, 64, 256), Fire(512, 64, 256), nn.Dropout(0.5),
        nn.Conv2d(512, 1000, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())


# -- MobileNet / EfficientNet / MnasNet -------------------------------------------------------
class MBConv(nn.Module):
    """MobileNetV2/V3 inverted residual and EfficientNet's MBConv (optional SE gate)."""

    def __init__(self, cin: int, exp: int, cout: int, k: int, s: int, se: bool,
                 act: type[nn.Module], norm: str = "bn") -> None:
        super().__init__()
        mods: list[nn.Module] = []
        if exp != cin:
            mods.append(conv_bn(cin, exp, 1, act=act, norm=norm))
        mods.append(conv_bn(exp, exp, k, s, exp, act=act, norm=norm))
        if se:
            mods.append(SE(exp, max(8, exp // 4), act=nn.ReLU, gate=nn.Hardsigmoid)
                        if act is nn.Hardswish else SE(exp, max(1, cin // 4), act=nn.SiLU))
        mods.append(conv_bn(exp, cout, 1, act=None, norm=norm))
        self.block = nn.Sequential(*mods)
        self.res = s == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return x + y if self.res else y


def _classifier(cin: int, hidden: int | None = None) -> nn.Module:
    mods: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if hidden:
        mods += [nn.Linear(cin, hidden), nn.Hardswish(), nn.Dropout(0.2)]
        cin = hidden
    return nn.Sequential(*mods, nn.Linear(cin, 1000))


def mobilenet_v2(width: float = 1.0) -> nn.Module:
    cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1)]
    cin = int(32 * width)
    layers: list[nn.Module] = [conv_bn(3, cin, 3, 2, act=nn.ReLU6)]
    for t, c, n, s in cfg:
        for i in range(n):
            layers.append(MBConv(cin, cin * t, int(c * width), 3, s if i == 0 else 1, False,
                                 nn.ReLU6))
            cin = int(c * width)
    return nn.Sequential(*layers, conv_bn(cin, 1280, 1, act=nn.ReLU6), _classifier(1280))


def mobilenet_v3(large: bool) -> nn.Module:
    hs, re = nn.Hardswish, nn.ReLU
    if large:
        cfg = [(3, 16, 16, False, re, 1), (3, 64, 24, False, re, 2), (3, 72, 24, False, re, 1),
               (5, 72, 40, True, re, 2), (5, 120, 40, True, re, 1), (5, 120, 40, True, re, 1),
               (3, 240, 80, False, hs, 2), (3, 200, 80, False, hs, 1),
               (3, 184, 80, False, hs, 1), (3, 184, 80, False, hs, 1),
               (3, 480, 112, True, hs, 1), (3, 672, 112, True, hs, 1),
               (5, 672, 160, True, hs, 2), (5, 960, 160, True, hs, 1), (5, 960, 160, True, hs, 1)]
        last, hidden = 960, 1280
    else:
        cfg = [(3, 16, 16, True, re, 2), (3, 72, 24, False, re, 2), (3, 88, 24, False, re, 1),
               (5, 96, 40, True, hs, 2), (5, 240, 40, True, hs, 1), (5, 240, 40, True, hs, 1),
               (5, 120, 48, True, hs, 1), (5, 144, 48, True, hs, 1), (5, 288, 96, True, hs, 2),
               (5, 576, 96, True, hs, 1), (5, 576, 96, True, hs, 1)]
        last, hidden = 576, 1024
    layers: list[nn.Module] = [conv_bn(3, 16, 3, 2, act=hs)]
    cin = 16
    for k, exp, c, se, act, s in cfg:
        layers.append(MBConv(cin, exp, c, k, s, se, act))
        cin = c
    return nn.Sequential(*layers, conv_bn(cin, last, 1, act=hs), _classifier(last, hidden))


def efficientnet(width: float, depth: float, norm: str = "bn") -> nn.Module:
    """EfficientNet-B0..B7 (torchvision's width / depth multipliers; ``norm="bnact"``: timm's
    BatchNormAct2d throughout)."""
    def ch(c: float) -> int:
        c *= width
        return max(8, int(c + 4) // 8 * 8)

    cfg = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
           (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    cin = ch(32)
    layers: list[nn.Module] = [conv_bn(3, cin, 3, 2, act=nn.SiLU, norm=norm)]
    for e, k, s, c, n in cfg:
        for i in range(math.ceil(n * depth)):
            layers.append(MBConv(cin, cin * e, ch(c), k, s if i == 0 else 1, True, nn.SiLU, norm))
            cin = ch(c)
    last = 4 * cin
    return nn.Sequential(*layers, conv_bn(cin, last, 1, act=nn.SiLU, norm=norm), _classifier(last))


def mnasnet1_0() -> nn.Module:
    cfg = [(3, 3, 2, 24, 3), (3, 5, 2, 40, 3), (6, 5, 2, 80, 3), (6, 3, 1, 96, 2),
           (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]  # (expand, k, s, c, n)
    layers: list[nn.Module] = [conv_bn(3, 32, 3, 2), conv_bn(32, 32, 3, groups=32),
                               conv_bn(32, 16, 1, act=None)]
    cin = 16
    for e, k, s, c, n in cfg:
        for i in range(n):
            layers.append(MBConv(cin, cin * e, c, k, s if i == 0 else 1, False, nn.ReLU))
            cin = c
    return nn.Sequential(*layers, conv_bn(cin, 1280, 1), _classifier(1280))


# -- DenseNet, ConvNeXt, ShuffleNet, RegNet, CSP ----------------------------------------------
class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = torch.cat(features, 1)
        return self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))


class DenseBlock(nn.ModuleList):
    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self:
            features.append(layer(features))
        return torch.cat(features, 1)


def densenet121() -> nn.Module:
    growth, c = 32, 64
    layers: list[nn.Module] = [nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c),
                               nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    for i, n in enumerate((6, 12, 24, 16)):
        layers.append(DenseBlock([DenseLayer(c + j * growth, growth) for j in range(n)]))
        c += n * growth
        if i != 3:
            layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
            c //= 2
    return nn.Sequential(*layers, nn.BatchNorm2d(c), nn.ReLU(inplace=True), _classifier(c))


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1, self.act, self.pw2 = nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
        self.scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        y = self.pw2(self.act(self.pw1(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))))
        return x + self.scale * y.permute(0, 3, 1, 2)


def convnext_tiny() -> nn.Module:
    dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0])]
    for i, (d, n) in enumerate(zip(dims, depths)):
        layers += [CNBlock(d) for _ in range(n)]
        if i < 3:
            layers += [LayerNorm2d(d), nn.Conv2d(d, dims[i + 1], 2, 2)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), LayerNorm2d(768), nn.Flatten(),
                         nn.Linear(768, 1000))


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's unit: split (or downsample both ways), branch, concat, channel shuffle."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        half = cout // 2
        self.stride = stride
        self.b1 = nn.Sequential(conv_bn(cin, cin, 3, 2, cin, act=None), conv_bn(cin, half, 1)
                                ) if stride == 2 else nn.Identity()
        src = cin if stride == 2 else half
        self.b2 = nn.Sequential(conv_bn(src, half, 1), conv_bn(half, half, 3, stride, half,
                                                               act=None), conv_bn(half, half, 1))

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat((a, self.b2(b)), 1)
        else:
            out = torch.cat((self.b1(x), self.b2(x)), 1)
        n, c, h, w = out.shape
        return out.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


def shufflenet_v2_x1_0() -> nn.Module:
    layers: list[nn.Module] = [conv_bn(3, 24, 3, 2), nn.MaxPool2d(3, 2, 1)]
    cin = 24
    for c, n in ((116, 4), (232, 8), (464, 4)):
        layers += [ShuffleUnit(cin, c, 2)] + [ShuffleUnit(c, c, 1) for _ in range(n - 1)]
        cin = c
    return nn.Sequential(*layers, conv_bn(cin, 1024, 1), _classifier(1024))


class RegBlock(nn.Module):
    """RegNet's X / Y block: 1x1, grouped 3x3 (group width ``gw``), optional SE, 1x1."""

    def __init__(self, cin: int, cout: int, stride: int, gw: int, se: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn(cin, cout, 1), conv_bn(cout, cout, 3, stride, cout // gw),
            SE(cout, max(1, cin // 4)) if se else nn.Identity(), conv_bn(cout, cout, 1, act=None))
        self.down = conv_bn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + (x if self.down is None else self.down(x)))


def regnet(widths: tuple[int, ...], depths: tuple[int, ...], gw: int, se: bool) -> nn.Module:
    layers: list[nn.Module] = [conv_bn(3, 32, 3, 2)]
    cin = 32
    for w, d in zip(widths, depths):
        layers += [RegBlock(cin if i == 0 else w, w, 2 if i == 0 else 1, gw, se) for i in range(d)]
        cin = w
    return nn.Sequential(*layers, _classifier(cin))


class CSPStage(nn.Module):
    """timm's CSP stage: downsample, split the channels, bottlenecks on one half, merge."""

    def __init__(self, cin: int, cout: int, n: int, norm: str = "bn") -> None:
        super().__init__()
        self.down = conv_bn(cin, cout, 3, 2, norm=norm)
        half = cout // 2
        self.blocks = nn.Sequential(*[
            nn.Sequential(conv_bn(half, half, 1, norm=norm), conv_bn(half, half, 3, norm=norm))
            for _ in range(n)])
        self.transition = conv_bn(half, half, 1, norm=norm)
        self.merge = conv_bn(cout, cout, 1, norm=norm)

    def forward(self, x: Tensor) -> Tensor:
        x = self.down(x)
        a, b = x.chunk(2, dim=1)
        return self.merge(torch.cat([a, self.transition(self.blocks(b))], 1))


def cspresnet(norm: str = "bn") -> nn.Module:
    layers: list[nn.Module] = [conv_bn(3, 64, 7, 2, norm=norm), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for c, n in ((128, 3), (256, 3), (512, 5), (1024, 2)):
        layers.append(CSPStage(cin, c, n, norm))
        cin = c
    return nn.Sequential(*layers, _classifier(cin))


# -- the zoo ----------------------------------------------------------------------------------
ZOO: dict[str, Callable[[], nn.Module]] = {
    # torchvision
    "resnet18": lambda: ResNet([2, 2, 2, 2], bottleneck=False),
    "resnet34": lambda: ResNet([3, 4, 6, 3], bottleneck=False),
    "resnet50": lambda: ResNet([3, 4, 6, 3]),
    "resnet101": lambda: ResNet([3, 4, 23, 3]),
    "resnet152": lambda: ResNet([3, 8, 36, 3]),
    "resnext50_32x4d": lambda: ResNet([3, 4, 6, 3], groups=32, base_width=4),
    "wide_resnet50_2": lambda: ResNet([3, 4, 6, 3], base_width=128),
    "vgg11": lambda: vgg(VGG11),
    "vgg16": lambda: vgg(VGG16),
    "vgg16_bn": lambda: vgg(VGG16, bn=True),
    "alexnet": alexnet,
    "squeezenet1_1": squeezenet1_1,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_small": lambda: mobilenet_v3(False),
    "mobilenet_v3_large": lambda: mobilenet_v3(True),
    "mnasnet1_0": mnasnet1_0,
    "efficientnet_b0": lambda: efficientnet(1.0, 1.0),
    "efficientnet_b2": lambda: efficientnet(1.1, 1.2),
    "densenet121": densenet121,
    "convnext_tiny": convnext_tiny,
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0,
    "regnet_x_400mf": lambda: regnet((32, 64, 160, 400), (1, 2, 7, 12), 16, False),
    "regnet_y_400mf": lambda: regnet((48, 104, 208, 440), (1, 3, 6, 6), 8, True),
    "fcn_resnet50": lambda: Segmentation(deeplab=False),
    "deeplabv3_resnet50": lambda: Segmentation(deeplab=True),
    # timm-style
    "resnet18d": lambda: ResNet([2, 2, 2, 2], bottleneck=False, deep=True),
    "resnet26d": lambda: ResNet([2, 2, 2, 2], deep=True),
    "resnet50d": lambda: ResNet([3, 4, 6, 3], deep=True),
    "seresnet50": lambda: ResNet([3, 4, 6, 3], attn="se"),
    "seresnext26d_32x4d": lambda: ResNet([2, 2, 2, 2], groups=32, base_width=4, attn="se",
                                         deep=True),
    "ecaresnet50d": lambda: ResNet([3, 4, 6, 3], attn="eca", deep=True),
    "resnet50 (BatchNormAct2d)": lambda: ResNet([3, 4, 6, 3], norm="bnact"),
    "resnet50d (BatchNormAct2d)": lambda: ResNet([3, 4, 6, 3], deep=True, norm="bnact"),
    "efficientnet_b0 (BatchNormAct2d)": lambda: efficientnet(1.0, 1.0, norm="bnact"),
    "cspresnet50": cspresnet,
    "cspresnet50 (BatchNormAct2d)": lambda: cspresnet("bnact"),
}


def cpu_best(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest CPU time (seconds) of ``repeat`` calls, after one warm-up call."""
    fn()
    best = math.inf
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def measure(model: nn.Module, shape: tuple[int, ...], repeat: int, torchinfo: Any,
            torchscan: Any) -> dict[str, Any]:
    """The fastest CPU times (seconds) of each side on one model, its node count and status."""
    import atrous

    report = atrous.analyze(model, input_size=shape)
    out: dict[str, Any] = {"nodes": len(report.graph), "status": report.status}
    out["atrous"] = cpu_best(lambda: atrous.analyze(model, input_size=shape), repeat)
    out["nogrid"] = cpu_best(lambda: atrous.analyze(model, input_size=shape, gridding=False),
                             repeat)
    with torch.no_grad():
        out["torchinfo"] = cpu_best(
            lambda: torchinfo.summary(model, input_size=shape, verbose=0), repeat)
    if torchscan is not None:
        def scan() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                torchscan.summary(model, shape[1:])

        out["torchscan"] = cpu_best(scan, repeat)
    return out


_COLD = """
import sys, time
sys.path.insert(0, {here!r})
import torch, atrous
from zoo_vs_torchinfo import ZOO
torch.set_num_threads(1)
model = ZOO[sys.argv[1]]().eval()
t = time.process_time()
atrous.analyze(model, input_size=(1, 3, {size}, {size}))
print(f"{{time.process_time() - t:.3f}} {{'sympy' in sys.modules}}")
"""


def cold(names: list[str], size: int) -> int:
    """Print the first ``atrous.analyze`` of a fresh interpreter per model."""
    import subprocess
    from pathlib import Path

    code = _COLD.format(here=str(Path(__file__).resolve().parent), size=size)
    print(f"first atrous.analyze of a fresh process (CPU time), 1x3x{size}x{size}; "
          f"load {os.getloadavg()}")
    for name in names:
        out = subprocess.run([sys.executable, "-c", code, name], capture_output=True,
                             text=True, check=True).stdout.split()
        print(f"  {name:34} {float(out[0]) * 1e3:7.0f} ms  sympy imported: {out[1]}", flush=True)
    print(f"load {os.getloadavg()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per side (fastest)")
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--size", type=int, default=224, help="input side (default 224)")
    parser.add_argument("--cold", action="store_true",
                        help="time the first analyze() of a fresh process per model instead")
    args = parser.parse_args(argv)
    if args.cold:
        return cold([n.strip() for n in args.only.split(",") if n.strip()] or list(ZOO),
                    args.size)
    try:
        import torchinfo
    except ImportError:
        print("zoo_vs_torchinfo: torchinfo is not installed (pip install torchinfo, or the "
              "'bench' extra); nothing to compare against", file=sys.stderr)
        return 1
    try:
        import torchscan  # type: ignore[import-untyped]
    except ImportError:
        torchscan = None
    torch.set_num_threads(1)
    shape = (1, 3, args.size, args.size)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(ZOO)
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        print(f"zoo_vs_torchinfo: unknown model(s) {unknown}; known: {list(ZOO)}", file=sys.stderr)
        return 2
    print(f"atrous.analyze vs torchinfo {torchinfo.__version__}"
          + (f" / torchscan {torchscan.__version__}" if torchscan else " (torchscan not installed)")
          + f" at {'x'.join(map(str, shape))}, torch {torch.__version__}, 1 thread, fastest CPU "
          f"time of {args.repeat} after a warm-up; load {os.getloadavg()}")
    head = (f"{'model':34} {'nodes':>5} {'atrous':>9} {'torchinfo':>10} {'ratio':>6} "
            f"{'no-grid':>8} {'ratio':>6}")
    if torchscan:
        head += f" {'torchscan':>10} {'ratio':>6}"
    print(head + "  status")
    print(f"{'':34} {'':5} {'':9} {'':10} {'':6} (atrous.analyze(..., gridding=False), "
          "no per-layer gridding column)")
    ratios, scan_ratios = [], []
    for name in names:
        torch.manual_seed(0)
        t = measure(ZOO[name]().eval(), shape, args.repeat, torchinfo, torchscan)
        ratio = t["atrous"] / t["torchinfo"]
        ratios.append((ratio, name))
        line = (f"{name:34} {t['nodes']:>5.0f} {t['atrous'] * 1e3:7.0f}ms "
                f"{t['torchinfo'] * 1e3:8.0f}ms {ratio:5.2f}x {t['nogrid'] * 1e3:6.0f}ms "
                f"{t['nogrid'] / t['torchinfo']:5.2f}x")
        if torchscan:
            scan_ratios.append((t["atrous"] / t["torchscan"], name))
            line += f" {t['torchscan'] * 1e3:8.0f}ms {t['atrous'] / t['torchscan']:5.2f}x"
        print(line + f"  {t['status']}", flush=True)
    worst = max(ratios)
    print(f"{len(ratios)} models; atrous / torchinfo: min {min(ratios)[0]:.2f}x, max "
          f"{worst[0]:.2f}x ({worst[1]}); models where atrous is slower: "
          f"{sum(r > 1 for r, _ in ratios)}")
    if scan_ratios:
        w = max(scan_ratios)
        print(f"atrous / torchscan: min {min(scan_ratios)[0]:.2f}x, max {w[0]:.2f}x ({w[1]})")
    print(f"load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
