"""Dilated ResNets (ResNet-18/34/50/101) with torchvision's parameter layout.

``output_stride`` 32 is the classification ResNet; 16 replaces the stride of ``layer4`` by
dilation 2; 8 also replaces the stride of ``layer3`` (``layer3`` dilation 2, ``layer4`` dilation
4). The first block of a dilated stage keeps the receptive field, as torchvision's
``replace_stride_with_dilation`` does: the convolution that used to stride keeps the previous
dilation, every convolution after it uses the new one. This makes the dilated network compute
exactly the strided network's outputs, densely: ``dilated(x)[..., ::k, ::k] == strided(x)`` with
``k = 32 / output_stride`` (the "algorithme à trous").

``BasicBlock`` (ResNet-18/34) supports dilation, which torchvision refuses: its first 3x3 conv
(the strided one) keeps the previous dilation, its second uses the stage's.

``multi_grid`` (DeepLabv3, section 3.2) gives ``layer4`` per-block unit rates: block ``i`` uses
``stage_rate * multi_grid[i]`` in every 3x3 conv, e.g. ``(1, 2, 4)`` at output stride 16 gives
rates ``(2, 4, 8)``.

Parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0`` / ``.1``, ``fc``), so torchvision ResNet checkpoints load with
``strict=True``; ``num_classes=None`` drops ``avgpool``/``fc`` and returns the ``layer4`` map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from .._types import as_int
from ..errors import AtrousError
from ._variants import variant
from .conv import _check_factory

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "stage_dilations",
]

NormFactory = Callable[[int], nn.Module]


def stage_dilations(
    output_stride: Literal[8, 16, 32],
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """``(stride, dilation)`` of ``layer2``, ``layer3``, ``layer4`` for an output stride.

    >>> stage_dilations(32)
    ((2, 1), (2, 1), (2, 1))
    >>> stage_dilations(8)
    ((2, 1), (1, 2), (1, 4))
    """
    if isinstance(output_stride, bool) or output_stride not in (8, 16, 32):
        raise AtrousError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
    stride, dilation, out = 4, 1, []
    for _ in range(3):  # layer2..layer4 each halve the resolution in the classification net
        if stride < output_stride:
            stride *= 2
            out.append((2, dilation))
        else:
            dilation *= 2
            out.append((1, dilation))
    return out[0], out[1], out[2]


def _conv3x3(cin: int, cout: int, stride: int, dilation: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, groups=groups, bias=False
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual (ResNet-18/34), with dilation.

    Args:
        inplanes: input channels.
        planes: output channels.
        stride: stride of ``conv1``.
        downsample: the shortcut projection, or ``None`` for identity.
        dilation: ``(d1, d2)`` of ``conv1`` and ``conv2`` (an int sets both).
        norm: norm factory.
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        dilation: int | tuple[int, int] = 1,
        norm: NormFactory = nn.BatchNorm2d,
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise AtrousError(
                f"BasicBlock supports groups=1 and width_per_group=64 only, got groups={groups}, "
                f"width_per_group={base_width}"
            )
        d1, d2 = (dilation, dilation) if isinstance(dilation, int) else dilation
        self.conv1 = _conv3x3(inplanes, planes, stride, d1)
        self.bn1 = norm(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes, 1, d2)
        self.bn2 = norm(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        y: Tensor = self.relu(out + identity)
        return y


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided, dilated), 1x1 with a residual (ResNet-50/101, torchvision's v1.5).

    Args:
        inplanes: input channels.
        planes: bottleneck channels (output is ``4 * planes``).
        stride: stride of ``conv2``.
        downsample: the shortcut projection, or ``None`` for identity.
        dilation: dilation of ``conv2`` (an ``(d, d)`` pair is accepted for symmetry with
            :class:`BasicBlock`; only the first entry is used, there is one 3x3 conv).
        norm: norm factory.
        groups: groups of ``conv2`` (ResNeXt).
        base_width: width per group (ResNeXt / wide ResNet).
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        dilation: int | tuple[int, int] = 1,
        norm: NormFactory = nn.BatchNorm2d,
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        d = dilation if isinstance(dilation, int) else dilation[0]
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = norm(width)
        self.conv2 = _conv3x3(width, width, stride, d, groups)
        self.bn2 = norm(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = norm(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        y: Tensor = self.relu(out + identity)
        return y


_BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
}


class ResNet(nn.Module):
    """A ResNet whose last stages can trade stride for dilation.

    Args:
        block: ``"basic"`` / ``"bottleneck"`` or the block class.
        layers: number of blocks in ``layer1`` .. ``layer4``.
        output_stride: 32 (classification), 16 or 8 (see the module docstring).
        multi_grid: per-block unit rates of ``layer4`` (one per block), multiplying its rate.
        num_classes: size of ``fc``; ``None`` drops ``avgpool`` and ``fc`` (a backbone whose
            forward returns the ``layer4`` feature map).
        in_channels: input channels of ``conv1``.
        width: channels of the stem and of ``layer1``'s planes (64 in torchvision); the stages
            use ``width * (1, 2, 4, 8)``.
        groups: groups of the bottleneck 3x3 conv (ResNeXt).
        width_per_group: bottleneck width per group (ResNeXt / wide ResNet).
        norm: norm factory (default ``nn.BatchNorm2d``).
        zero_init_residual: zero the last norm's weight of every block (torchvision's option).
        replace_stride_with_dilation: torchvision's spelling of ``output_stride`` (three bools
            for ``layer2`` .. ``layer4``); give one or the other.

    Shape:
        - Input: ``(N, in_channels, H, W)``.
        - Output: ``(N, num_classes)``, or ``(N, 8 * width * expansion, H', W')`` with
          ``H' = ceil(H / output_stride)`` (for the usual sizes) when ``num_classes=None``.

    >>> net = ResNet("basic", [1, 1, 1, 1], output_stride=8, num_classes=None, width=8)
    >>> net(torch.randn(1, 3, 64, 64)).shape
    torch.Size([1, 64, 8, 8])
    >>> [m.dilation for m in (net.layer4[0].conv1, net.layer4[0].conv2)]
    [(2, 2), (4, 4)]
    """

    def __init__(
        self,
        block: Literal["basic", "bottleneck"] | type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        *,
        output_stride: Literal[8, 16, 32] | None = None,
        multi_grid: Sequence[int] | None = None,
        num_classes: int | None = 1000,
        in_channels: int = 3,
        width: int = 64,
        groups: int = 1,
        width_per_group: int = 64,
        norm: NormFactory = nn.BatchNorm2d,
        zero_init_residual: bool = False,
        replace_stride_with_dilation: Sequence[bool] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(block, str):
            if block not in _BLOCKS:
                raise AtrousError(f"block must be 'basic' or 'bottleneck', got {block!r}")
            block_cls = _BLOCKS[block]
        elif block in (BasicBlock, Bottleneck):
            block_cls = block
        else:
            raise AtrousError(
                f"block must be 'basic', 'bottleneck' or a block class, got {block!r}"
            )
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) != 4:
            raise AtrousError(f"layers must be 4 block counts, got {layers!r}")
        blocks = [as_int(n, "blocks per stage", 1) for n in layers]
        strides_dilations = self._stage_plan(output_stride, replace_stride_with_dilation)
        self.output_stride = 4 * 2 ** sum(s == 2 for s, _ in strides_dilations)
        grid = self._multi_grid(multi_grid, blocks[3])
        self.multi_grid = grid
        width = as_int(width, "width", 1)
        in_channels = as_int(in_channels, "in_channels", 1)
        self.groups = as_int(groups, "groups", 1)
        self.base_width = as_int(width_per_group, "width_per_group", 1)
        _check_factory(norm, "norm", "nn.BatchNorm2d", allow_none=False)
        self._norm = norm
        self.inplanes = width
        self.dilation = 1

        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block_cls, width, blocks[0], 1, 1, None)
        (s2, d2), (s3, d3), (s4, d4) = strides_dilations
        self.layer2 = self._make_layer(block_cls, 2 * width, blocks[1], s2, d2, None)
        self.layer3 = self._make_layer(block_cls, 4 * width, blocks[2], s3, d3, None)
        self.layer4 = self._make_layer(block_cls, 8 * width, blocks[3], s4, d4, grid)
        self.num_features = 8 * width * block_cls.expansion
        self.avgpool: nn.Module | None = None
        self.fc: nn.Module | None = None
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(self.num_features, as_int(num_classes, "num_classes", 1))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    last = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                    weight = getattr(last, "weight", None)
                    if isinstance(weight, Tensor):
                        nn.init.constant_(weight, 0)

    @staticmethod
    def _stage_plan(
        output_stride: int | None, replace: Sequence[bool] | None
    ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        if output_stride is not None and replace is not None:
            raise AtrousError(
                "give output_stride or replace_stride_with_dilation, not both "
                f"(got {output_stride!r} and {replace!r})"
            )
        if replace is None:
            return stage_dilations(32 if output_stride is None else output_stride)  # type: ignore[arg-type]
        if isinstance(replace, (str, bytes)) or len(replace) != 3:
            raise AtrousError(
                f"replace_stride_with_dilation must be 3 bools (layer2..layer4), got {replace!r}"
            )
        dilation, plan = 1, []
        for flag in replace:
            if flag:
                dilation *= 2
                plan.append((1, dilation))
            else:
                plan.append((2, dilation))
        return plan[0], plan[1], plan[2]

    @staticmethod
    def _multi_grid(multi_grid: Sequence[int] | None, blocks: int) -> tuple[int, ...] | None:
        if multi_grid is None:
            return None
        if isinstance(multi_grid, (str, bytes)) or not isinstance(multi_grid, Sequence):
            raise AtrousError(f"multi_grid must be a sequence of ints, got {multi_grid!r}")
        grid = tuple(as_int(g, "multi_grid rate", 1) for g in multi_grid)
        if len(grid) != blocks:
            raise AtrousError(
                f"multi_grid needs one rate per layer4 block ({blocks}), got {multi_grid!r}"
            )
        return grid

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        planes: int,
        blocks: int,
        stride: int,
        dilation: int,
        grid: tuple[int, ...] | None,
    ) -> nn.Sequential:
        previous = self.dilation
        self.dilation = dilation
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                self._norm(planes * block.expansion),
            )
        if grid is None:
            # the conv that used to stride keeps the previous rate; every later conv the new one
            rates = [(previous, dilation)] + [(dilation, dilation)] * (blocks - 1)
        else:
            rates = [(dilation * g, dilation * g) for g in grid]
        layers: list[nn.Module] = []
        for i, rate in enumerate(rates):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    stride if i == 0 else 1,
                    downsample if i == 0 else None,
                    rate,
                    self._norm,
                    self.groups,
                    self.base_width,
                )
            )
            self.inplanes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.fc is None or self.avgpool is None:
            return x
        logits: Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
        return logits


def _resnet(
    arch: tuple[Literal["basic", "bottleneck"], list[int]],
    /,
    output_stride: Literal[8, 16, 32] = 32,
    multi_grid: Sequence[int] | None = None,
    *,
    num_classes: int | None = 1000,
    norm: NormFactory = nn.BatchNorm2d,
    in_channels: int = 3,
    width: int = 64,
    zero_init_residual: bool = False,
) -> ResNet:
    """The template of :func:`resnet18` .. :func:`resnet101` (``arch``: block, stage depths)."""
    block, layers = arch
    return ResNet(
        block,
        layers,
        output_stride=output_stride,
        multi_grid=multi_grid,
        num_classes=num_classes,
        norm=norm,
        in_channels=in_channels,
        width=width,
        zero_init_residual=zero_init_residual,
    )


resnet18 = variant(_resnet, ("basic", [2, 2, 2, 2]), "resnet18", """ResNet-18 (BasicBlock, \
``[2, 2, 2, 2]``) with the given output stride.

    >>> resnet18(output_stride=16, num_classes=None).layer4[1].conv2.dilation
    (2, 2)
    """)
resnet34 = variant(_resnet, ("basic", [3, 4, 6, 3]), "resnet34", """ResNet-34 (BasicBlock, \
``[3, 4, 6, 3]``) with the given output stride.

    >>> net = resnet34(output_stride=8, multi_grid=(1, 2, 4), num_classes=None, width=8)
    >>> net.layer4[2].conv1.dilation
    (16, 16)
    """)
resnet50 = variant(_resnet, ("bottleneck", [3, 4, 6, 3]), "resnet50", """ResNet-50 (Bottleneck, \
``[3, 4, 6, 3]``) with the given output stride.

    >>> sum(p.numel() for p in resnet50().parameters())  # torchvision's resnet50
    25557032
    """)
resnet101 = variant(_resnet, ("bottleneck", [3, 4, 23, 3]), "resnet101", """ResNet-101 \
(Bottleneck, ``[3, 4, 23, 3]``) with the given output stride.

    >>> net = resnet101(16, multi_grid=(1, 2, 4), num_classes=None, width=8)
    >>> [block.conv2.dilation[0] for block in net.layer4]
    [2, 4, 8]
    """)
