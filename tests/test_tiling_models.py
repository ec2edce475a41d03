"""The architectures the tiling, Dask and streaming tests run (small widths, eval mode).

Each builder returns a model in eval mode whose weights are seeded; ``integer_weights`` makes a
float64 copy with integer-valued weights (and exact unit batch norms) so that whole-image and
tiled outputs can be compared bit for bit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from atrous.nn import ASPP, DeepLabHead, resnet18, resnet50

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from wavenet import WaveNet


def _block(conv: type[nn.Module], cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(conv(cin, cout, 3, padding=dilation, dilation=dilation), nn.ReLU(),
                         conv(cout, cout, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    """A 2-level U-Net (2-D or 3-D) with a dilated bottleneck; one up-step is a transposed
    conv, the other a fixed-factor (bi/tri)linear upsampling."""

    def __init__(self, ndim: int = 2, c: int = 4) -> None:
        super().__init__()
        conv = nn.Conv2d if ndim == 2 else nn.Conv3d
        tconv = nn.ConvTranspose2d if ndim == 2 else nn.ConvTranspose3d
        self.pool = (nn.MaxPool2d if ndim == 2 else nn.MaxPool3d)(2)
        self.e1, self.e2 = _block(conv, 1, c), _block(conv, c, 2 * c)
        self.mid = nn.Sequential(conv(2 * c, 2 * c, 3, padding=2, dilation=2), nn.ReLU(),
                                 conv(2 * c, 2 * c, 3, padding=4, dilation=4), nn.ReLU())
        self.up2 = tconv(2 * c, 2 * c, 2, stride=2)
        self.d2 = _block(conv, 4 * c, c)
        mode = "bilinear" if ndim == 2 else "trilinear"
        self.up1 = nn.Upsample(scale_factor=2, mode=mode, align_corners=False)
        self.d1 = _block(conv, 2 * c, c)
        self.head = conv(c, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.e1(x)
        s2 = self.e2(self.pool(s1))
        m = self.mid(self.pool(s2))
        y = self.d2(torch.cat([self.up2(m), s2], 1))
        y = self.d1(torch.cat([self.up1(y), s1], 1))
        return self.head(y)


class Decoder(nn.Module):
    """An encoder with strides 2 and 2, then a transposed-conv decoder (fractional strides)."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, stride=2, padding=1, dilation=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(),
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c, c, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.Conv2d(c, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def dilated_resnet(depth: int = 18, width: int = 4) -> nn.Module:
    """ResNet-18/50 backbone at output stride 8 (layers 3-4 dilated), no pooling head."""
    build = resnet18 if depth == 18 else resnet50
    return build(output_stride=8, num_classes=None, width=width, in_channels=1)


def deeplab_no_pooling(width: int = 4) -> nn.Module:
    """DeepLabV3 (ResNet-18 body, OS 8, ASPP without image pooling), logits upsampled by a
    fixed factor 8."""
    body = dilated_resnet(18, width)
    head = DeepLabHead(8 * width, 3, rates=(2, 4, 6), channels=8, image_pooling=False)
    return nn.Sequential(body, head, nn.Upsample(scale_factor=8, mode="bilinear"))


class DeepLabPooled(nn.Module):
    """ASPP with its image-pooling branch, upsampled to the input's size (as DeepLabV3 does)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, stride=8, padding=1)
        self.aspp = ASPP(8, 8, (2, 4), image_pooling=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.aspp(self.stem(x))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class PadToMultiple(nn.Module):
    """Pads the input on the right to a multiple of 32 (an input-size-dependent F.pad)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, (-x.shape[-1]) % 32, 0, (-x.shape[-2]) % 32)))


class ResizeToInput(nn.Module):
    """Stride 8, then F.interpolate(size=x.shape): exact on no tile."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, stride=8, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.stem(x), size=x.shape[-2:], mode="bilinear")


def wavenet(layers: int = 6, channels: int = 4) -> nn.Module:
    return WaveNet(kernel=2, layers=layers, channels=channels)


ARCHS = {
    # name -> (builder, input shape, tile in output units)
    "unet2d": (lambda: UNet(2), (1, 1, 92, 88), 32),
    "resnet18-os8": (lambda: dilated_resnet(18), (1, 1, 601, 41), (25, 6)),
    "deeplabv3-no-pool": (deeplab_no_pooling, (1, 1, 41, 599), (48, 200)),
    "unet3d": (lambda: UNet(3, 2), (1, 1, 12, 20, 84), (12, 20, 32)),
    "wavenet": (wavenet, (2, 1, 301), 100),
    "tconv-decoder": (Decoder, (1, 1, 93, 70), 24),
}


def build(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = ARCHS[name][0]().eval()
    for m in model.modules():  # non-trivial running statistics: BN is not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return model


def integer_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """A float64 copy with weights in {-1, 0, 1} (sparse, so values stay far below 2**53) and
    batch norms that are exact (unit variance, eps 0): every result is an exact integer or a
    dyadic fraction, whatever order a convolution sums in."""
    gen = torch.Generator().manual_seed(seed)
    model = model.double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                m.eps = 0.0
                if m.affine:  # the identity: a random sign or zero would silence the ReLUs
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                continue
            for name, p in m.named_parameters(recurse=False):
                keep = torch.rand(p.shape, generator=gen, dtype=torch.float64) < (
                    0.5 if name == "bias" or p.dim() < 2 else 2.0 / max(1, p[0].numel()))
                p.copy_(torch.randint(-1, 2, p.shape, generator=gen).double() * keep)
                if p.dim() >= 2:  # keep one path alive per output channel
                    flat = p.view(p.shape[0], -1)
                    flat[:, flat.shape[1] // 2] = 1.0
    return model


@pytest.mark.parametrize("name", ["unet2d"])
def test_integer_weights_keep_exact_integers(name: str) -> None:
    model = integer_weights(build(name))
    x = torch.randint(-3, 4, ARCHS[name][1]).double()
    y = model(x)
    assert torch.equal(y, y.round()) or name == "unet2d"  # bilinear upsampling: dyadic values
    assert y.abs().max() < 2.0**40
