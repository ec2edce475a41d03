"""Small test-only models (few channels) covering the shapes real networks take.

Every model keeps its max pools swappable for average pools of the same geometry
(:func:`swap_max_pools`), so an autograd impulse response with positive weights has exactly the
receptive field's support.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

C = 4  # channels everywhere: the tests care about geometry, not width


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        cout = width * 2
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, padding=dilation, dilation=dilation,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + idt)


class ResNetLike(nn.Module):
    """ResNet-50's layout (7x7/2 stem, 3x3/2 max pool, four bottleneck stages), short and thin.

    ``dilated=True`` replaces the strides of stages 3 and 4 by dilation 2 and 4 (DeepLab's
    output stride 8), as torchvision's ``replace_stride_with_dilation`` does.
    """

    def __init__(self, blocks: tuple[int, ...] = (1, 1, 1, 1), dilated: bool = False,
                 width: int = C) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, dil = width, 1
        stages = []
        for i, n in enumerate(blocks):
            stride = 1 if i == 0 else 2
            if dilated and i >= 2:
                dil, stride = dil * 2, 1
            layers = []
            for j in range(n):
                layers.append(Bottleneck(cin, width, stride if j == 0 else 1, dil))
                cin = width * 2
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def vgg_like() -> nn.Module:
    layers: list[nn.Module] = []
    cin = 3
    for n_convs in (2, 2, 3):
        for _ in range(n_convs):
            layers += [nn.Conv2d(cin, C, 3, padding=1), nn.ReLU(inplace=True)]
            cin = C
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int = 2) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),  # depthwise
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.use_res else self.block(x)


def mobilenet_v2_like() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, C, 3, 2, 1, bias=False), nn.BatchNorm2d(C), nn.ReLU6(),
        InvertedResidual(C, C, 1), InvertedResidual(C, 2 * C, 2),
        InvertedResidual(2 * C, 2 * C, 1), InvertedResidual(2 * C, 2 * C, 2),
        InvertedResidual(2 * C, 2 * C, 1),
    )


class UNetLike(nn.Module):
    """Two-level U-Net: max-pool encoder, transposed-conv and bilinear decoder, concat skips."""

    def __init__(self) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())

        self.enc1, self.enc2, self.mid = block(3, C), block(C, C), block(C, C)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(C, C, 2, stride=2)
        self.dec2 = block(2 * C, C)
        self.dec1 = block(2 * C, C)
        self.head = nn.Conv2d(C, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        up1 = F.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False)
        d1 = self.dec1(torch.cat([up1, e1], dim=1))
        return self.head(d1)


class SEBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, 2, 1)
        self.fc2 = nn.Conv2d(2, c, 1)

        self.detach = False  # True: no gradient through the gate (the local field's autograd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * (gate.detach() if self.detach else gate)


def se_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, C, 3, padding=1), nn.ReLU(), SEBlock(C),
                         nn.Conv2d(C, C, 3, padding=2, dilation=2))


class WaveNet(nn.Module):
    """WaveNet-style causal stack: gated dilated convs, residual and skip connections.

    With kernel k and dilations 1, 2, ..., 2**(n-1) the receptive field is ``(k-1)*(2**n-1)+1``.
    """

    def __init__(self, kernel: int = 2, layers: int = 10, channels: int = C) -> None:
        super().__init__()
        self.kernel = kernel
        self.dilations = [2**i for i in range(layers)]
        self.inp = nn.Conv1d(1, channels, 1)
        self.filters = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d)
                                     for d in self.dilations)
        self.gates = nn.ModuleList(nn.Conv1d(channels, channels, kernel, dilation=d)
                                   for d in self.dilations)
        self.res = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in self.dilations)
        self.out = nn.Conv1d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        skip = None
        for d, f, g, r in zip(self.dilations, self.filters, self.gates, self.res):
            h = F.pad(x, ((self.kernel - 1) * d, 0))  # causal: pad on the left only
            z = torch.tanh(f(h)) * torch.sigmoid(g(h))
            z = r(z)
            x = x + z
            skip = z if skip is None else skip + z
        return self.out(F.relu(skip))


class ASPPHead(nn.Module):
    """DeepLabv3's ASPP: 1x1, three dilated 3x3 branches, and image pooling, concatenated."""

    def __init__(self, cin: int = C, rates: tuple[int, ...] = (6, 12, 18)) -> None:
        super().__init__()
        self.branches = nn.ModuleList([nn.Conv2d(cin, C, 1)] + [
            nn.Conv2d(cin, C, 3, padding=r, dilation=r) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, C, 1))
        self.project = nn.Conv2d(C * (len(rates) + 2), C, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        pooled = F.interpolate(self.pool(x), size=x.shape[-2:], mode="bilinear",
                               align_corners=False)
        return self.project(torch.cat([*outs, pooled], dim=1))


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, C, 3, padding=1)
        self.b = nn.Conv2d(C, C, 3, padding=2, dilation=2)
        self.c = nn.Conv2d(C, C, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        # always the first branch, but decided by the data
        return self.b(y) if float(y.detach().mean()) > -1e9 else self.c(y)


class WithUnknownOp(nn.Module):
    """A functional op and a torch.nn leaf module atrous has no converter for."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, C, 3, padding=1)
        self.unfold = nn.Unfold(3)
        self.tail = nn.Conv2d(C, C, 3, padding=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.conv(x)
        rolled = torch.roll(y, shifts=1, dims=-1)
        return {"rolled": self.tail(rolled), "patches": self.unfold(y)}


class DictOutput(nn.Module):
    """A segmentation net with a main head at stride 4 and an auxiliary head at stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, 2, 1), nn.ReLU())
        self.deep = nn.Sequential(nn.Conv2d(C, C, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(C, C, 3, padding=2, dilation=2))
        self.aux = nn.Conv2d(C, 2, 1)
        self.cls = nn.Conv2d(C, 2, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.stem(x)
        return {"out": self.cls(self.deep(f)), "aux": self.aux(f)}


class ShuffleNetLike(nn.Module):
    """Grouped 1x1 convs with a channel shuffle via view/transpose, and a strided avg pool."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 2 * C, 3, 2, 1)
        self.g1 = nn.Conv2d(2 * C, 2 * C, 1, groups=2)
        self.dw = nn.Conv2d(2 * C, 2 * C, 3, 1, 1, groups=2 * C)
        self.pool = nn.AvgPool2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.g1(self.stem(x))
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return self.pool(self.dw(x))


def swap_max_pools(model: nn.Module) -> nn.Module:
    """Replace every MaxPool by an AvgPool of the same geometry (in place; returns the model)."""
    for name, child in list(model.named_children()):
        if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            assert child.dilation == 1 or set(child.dilation) == {1}
            avg = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d,
                   nn.MaxPool3d: nn.AvgPool3d}[type(child)]
            setattr(model, name, avg(child.kernel_size, child.stride, child.padding,
                                     ceil_mode=child.ceil_mode))
        else:
            swap_max_pools(child)
    return model


def positive_(model: nn.Module) -> nn.Module:
    """Positive weights scaled by fan-in, small positive biases and batch-norm affine values,
    neutral batch-norm statistics, float64, eval mode."""
    model.double().eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            # activations stay in (0, 6): every ReLU/ReLU6 passes gradients
            scale = 0.5 / p[0].numel() if p.dim() > 1 else 1e-3
            p.copy_((torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5) * scale)
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.running_mean.zero_()
                mod.running_var.fill_(1.0)
    return model


MODELS: dict[str, Any] = {
    "resnet50_like": (lambda: ResNetLike(), (1, 3, 224, 224)),
    "resnet50_like_dilated": (lambda: ResNetLike(dilated=True), (1, 3, 160, 160)),
    "vgg_like": (vgg_like, (1, 3, 96, 96)),
    "mobilenet_v2_like": (mobilenet_v2_like, (1, 3, 96, 96)),
    "unet_like": (UNetLike, (1, 3, 96, 96)),
    "shufflenet_like": (ShuffleNetLike, (1, 3, 64, 64)),
    "wavenet_k2": (lambda: WaveNet(2, 10), (1, 1, 2304)),
    "wavenet_k3": (lambda: WaveNet(3, 10), (1, 1, 4352)),
    "aspp_head": (ASPPHead, (1, C, 64, 64)),
    "se_net": (se_net, (1, 3, 32, 32)),
}


# -- ops that once broke the front end (kept small: the tests compare with autograd) -----------
class Gated(nn.Module):
    """A conv followed by ``gate(y)`` (a callable of the conv's output)."""

    def __init__(self, gate: Any, cin: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, C, 3, padding=1)
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(self.conv(x))


GATES: dict[str, Any] = {
    # strip pooling / coordinate attention: a pooled map over ONE axis, broadcast back
    "mean_w_mul": lambda y: y * torch.sigmoid(y.mean(3, keepdim=True)),
    "mean_h_mul": lambda y: y * torch.sigmoid(y.mean(2, keepdim=True)),
    "sum_w_add": lambda y: y + y.sum(-1, keepdim=True),
    "amax_h_sub": lambda y: y - y.amax(2, keepdim=True),
    "max_h_add": lambda y: y + y.max(dim=2, keepdim=True)[0],
    # squeeze-excitation written with expand / expand_as, against the plain broadcast form
    "se_broadcast": lambda y: y * torch.sigmoid(y.mean((2, 3), keepdim=True)),
    "se_expand_as": lambda y: y * torch.sigmoid(y.mean((2, 3), keepdim=True)).expand_as(y),
    "se_view_expand_as": lambda y: y * torch.sigmoid(
        y.mean((2, 3)).view(y.shape[0], y.shape[1], 1, 1)).expand_as(y),
    "se_expand": lambda y: y * torch.sigmoid(y.mean((2, 3), keepdim=True)).expand(
        -1, -1, y.shape[2], y.shape[3]),
}


def bad_pool() -> nn.Module:
    """Padding larger than half the pooling window: torch (and its fake kernel) refuses it."""
    return Gated(lambda y: F.max_pool2d(y, 3, 1, padding=2))


def dilated_3d() -> nn.Module:
    """A small 3-D net (ERF maps of 3-D models cannot be drawn)."""
    return nn.Sequential(nn.Conv3d(1, 2, 3, dilation=(1, 2, 3), padding=(1, 2, 3)), nn.ReLU(),
                         nn.Conv3d(2, 1, 3, padding=1))


def strip_gate() -> nn.Module:
    """A conv gated by its map averaged over the width (global along W, 3 rows along H)."""
    return Gated(GATES["mean_w_mul"])


# -- hand-written ops of common architectures (transcribed; torchvision/timm are not installed) ---
def stochastic_depth(x: torch.Tensor, p: float, mode: str, training: bool = True) -> torch.Tensor:
    """torchvision.ops.stochastic_depth: the identity at eval (an fx leaf, as in torchvision)."""
    if not training or p == 0.0:
        return x
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - p)
    return x * noise / (1.0 - p)


torch.fx.wrap("stochastic_depth")


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(x, self.p, self.mode, self.training)


class ECA(nn.Module):
    """timm's efficient channel attention: a Conv1d over the globally pooled channels."""

    def __init__(self, channels: int, k: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)
        self.detach = False  # True: no gradient through the gate (the local field's autograd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))
        gate = torch.sigmoid(y).view(x.shape[0], -1, 1, 1).expand_as(x)
        return x * (gate.detach() if self.detach else gate)


class ConvNeXtBlock(nn.Module):
    """torchvision's ConvNeXt CNBlock: 7x7 depthwise, NHWC LayerNorm/Linear, layer scale."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)
        self.stochastic_depth = StochasticDepth(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        y = self.layer_scale * y.permute(0, 3, 1, 2)
        return x + self.stochastic_depth(y)


class SpaceToDepth(nn.Module):
    """TResNet's space-to-depth stem, written with view and permute."""

    def __init__(self, block: int = 4) -> None:
        super().__init__()
        self.bs = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, c, h // self.bs, self.bs, w // self.bs, self.bs)
        x = x.permute(0, 3, 5, 1, 2, 4).contiguous()
        return x.view(n, c * self.bs * self.bs, h // self.bs, w // self.bs)
