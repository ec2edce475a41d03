"""DeepLabV3 (torchvision-checkpoint compatible) and DeepLabV3+.

:func:`deeplabv3_resnet50` / :func:`deeplabv3_resnet101` build torchvision's DeepLabV3 exactly:
the same parameter names, shapes and counts (with and without the auxiliary FCN head), so
``model.load_state_dict(torchvision_model.state_dict(), strict=True)`` works and the outputs are
equal. The forward returns an ``OrderedDict`` with ``"out"`` (and ``"aux"``), both upsampled
bilinearly to the input size, as torchvision does.

Differences from torchvision, all opt-in or invisible to checkpoints: the ASPP trains at batch size
1 (see :class:`~atrous.nn.ASPP`), warns when a rate is too large for the feature map, and the
factories take ``output_stride``, ``multi_grid``, ``rates`` and a ``norm`` factory.

:class:`DeepLabV3Plus` adds the DeepLabv3+ decoder: the ASPP output (stride 16) is upsampled to
the low-level features of ``layer1`` (stride 4, reduced to 48 channels), concatenated, refined by
two 3x3 convolutions (depthwise-separable by default, as in the paper) and classified.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._types import as_int
from ..errors import AtrousError
from ._variants import variant
from .aspp import ASPP, ASPPSeparableConv, aspp_rates
from .conv import _check_factory
from .resnet import ResNet, resnet50, resnet101

__all__ = [
    "DeepLabHead",
    "DeepLabV3",
    "DeepLabV3Plus",
    "FCNHead",
    "IntermediateLayerGetter",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3plus_resnet50",
    "deeplabv3plus_resnet101",
]

NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]


class IntermediateLayerGetter(nn.ModuleDict):
    """Run a model's direct children in order and return the requested intermediate outputs.

    torchvision's ``IntermediateLayerGetter``: children after the last requested one are dropped
    (so a ResNet's ``avgpool``/``fc`` vanish from the state_dict), parameter names are kept.

    Args:
        model: a module whose forward is its children applied in registration order.
        return_layers: ``{child name: output key}``.

    >>> from atrous.nn import resnet18
    >>> body = IntermediateLayerGetter(resnet18(width=8), {"layer1": "low", "layer4": "out"})
    >>> {k: tuple(v.shape) for k, v in body(torch.randn(1, 3, 64, 64)).items()}
    {'low': (1, 8, 16, 16), 'out': (1, 64, 2, 2)}
    """

    def __init__(self, model: nn.Module, return_layers: Mapping[str, str]) -> None:
        names = [name for name, _ in model.named_children()]
        missing = [k for k in return_layers if k not in names]
        if missing or not return_layers:
            raise AtrousError(
                f"return_layers must name children of the model ({names}), got "
                f"{dict(return_layers)!r}"
            )
        wanted = dict(return_layers)
        remaining = set(wanted)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            remaining.discard(name)
            if not remaining:
                break
        super().__init__(layers)
        self.return_layers = wanted

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class DeepLabHead(nn.Sequential):
    """ASPP, 3x3 conv, norm, act, 1x1 classifier — torchvision's ``DeepLabHead`` layout
    (``0`` ASPP, ``1`` conv, ``2`` norm, ``3`` act, ``4`` classifier).

    Args:
        in_channels: backbone channels.
        num_classes: output channels.
        rates: ASPP rates (torchvision's default ``(12, 24, 36)``, for output stride 8).
        channels: ASPP and head width.
        norm: norm factory, or ``None``.
        act: activation factory, or ``None``.
        dropout: ASPP dropout.
        separable: separable ASPP branches.
        image_pooling: ASPP image-pooling branch.

    >>> DeepLabHead(64, 3, rates=(1, 2, 4), channels=16)(torch.randn(2, 64, 9, 9)).shape
    torch.Size([2, 3, 9, 9])
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        rates: Sequence[int] = (12, 24, 36),
        *,
        channels: int = 256,
        norm: NormFactory | None = nn.BatchNorm2d,
        act: ActFactory | None = nn.ReLU,
        dropout: float = 0.5,
        separable: bool = False,
        image_pooling: bool = True,
    ) -> None:
        num_classes = as_int(num_classes, "num_classes", 1)
        aspp = ASPP(
            in_channels,
            channels,
            rates,
            norm=norm,
            act=act,
            dropout=dropout,
            separable=separable,
            image_pooling=image_pooling,
        )
        layers: list[nn.Module] = [
            aspp,
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm is None),
            norm(channels) if norm is not None else nn.Identity(),
            act() if act is not None else nn.Identity(),
            nn.Conv2d(channels, num_classes, 1),
        ]
        super().__init__(*layers)


class FCNHead(nn.Sequential):
    """torchvision's auxiliary ``FCNHead``: 3x3 conv to ``in_channels // 4``, norm, ReLU, dropout
    0.1, 1x1 classifier (``0``, ``1``, ``2``, ``3``, ``4``).

    >>> FCNHead(64, 3)(torch.randn(2, 64, 5, 5)).shape
    torch.Size([2, 3, 5, 5])
    """

    def __init__(
        self, in_channels: int, channels: int, *, norm: NormFactory = nn.BatchNorm2d
    ) -> None:
        in_channels = as_int(in_channels, "in_channels", 4)
        _check_factory(norm, "norm", "nn.BatchNorm2d", allow_none=False)
        inter = in_channels // 4
        super().__init__(
            nn.Conv2d(in_channels, inter, 3, padding=1, bias=False),
            norm(inter),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Conv2d(inter, as_int(channels, "channels", 1), 1),
        )


def _check_backbone(backbone: nn.Module, needed: set[str]) -> None:
    """Refuse, at construction, an :class:`IntermediateLayerGetter` that misses needed keys."""
    if not isinstance(backbone, nn.Module):
        raise AtrousError(f"backbone must be an nn.Module, got {type(backbone).__name__}")
    if isinstance(backbone, IntermediateLayerGetter):
        keys = set(backbone.return_layers.values())
        if not needed <= keys:
            raise AtrousError(
                f"backbone must return {sorted(needed)}, its return_layers give {sorted(keys)}"
            )


def _feature(features: Any, key: str) -> Tensor:
    """``features[key]``, or an error that says what the backbone must return."""
    if isinstance(features, Tensor):
        raise AtrousError(
            f"the backbone must return a dict with {key!r} (e.g. an IntermediateLayerGetter), "
            f"got a tensor of shape {tuple(features.shape)}"
        )
    return cast(Tensor, features[key])


def _result(
    out: Tensor, features: Any, aux_classifier: nn.Module | None, size: torch.Size
) -> dict[str, Tensor]:
    """torchvision's result: ``"out"`` and, with an auxiliary head, ``"aux"`` (that head on
    ``features["aux"]``), each resized bilinearly (``align_corners=False``) to ``size``."""
    result: dict[str, Tensor] = OrderedDict()
    result["out"] = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
    if aux_classifier is not None:
        aux = aux_classifier(_feature(features, "aux"))
        result["aux"] = F.interpolate(aux, size=size, mode="bilinear", align_corners=False)
    return result


class DeepLabV3(nn.Module):
    """DeepLabV3: ``backbone`` -> ``classifier`` (-> ``aux_classifier``), upsampled to the input.

    torchvision's ``DeepLabV3`` (``_SimpleSegmentationModel``): the backbone returns a mapping
    with ``"out"`` (and ``"aux"`` when there is an auxiliary classifier); each head's output is
    resized bilinearly (``align_corners=False``) to the input's ``H x W``.

    Args:
        backbone: module returning ``{"out": features[, "aux": features]}``, e.g. an
            :class:`IntermediateLayerGetter` over a dilated :class:`~atrous.nn.ResNet`.
        classifier: head for ``"out"``, e.g. :class:`DeepLabHead`.
        aux_classifier: optional head for ``"aux"``, e.g. :class:`FCNHead`.

    Shape:
        - Input: ``(N, C, H, W)``; output: ``{"out": (N, classes, H, W)[, "aux": ...]}``.

    >>> from atrous.nn import resnet18
    >>> body = IntermediateLayerGetter(resnet18(8, width=8), {"layer4": "out"})
    >>> net = DeepLabV3(body, DeepLabHead(64, 3, rates=(2, 4), channels=8)).eval()
    >>> net(torch.randn(1, 3, 65, 65))["out"].shape
    torch.Size([1, 3, 65, 65])
    """

    def __init__(
        self,
        backbone: nn.Module,
        classifier: nn.Module,
        aux_classifier: nn.Module | None = None,
    ) -> None:
        super().__init__()
        _check_backbone(backbone, {"out"} | ({"aux"} if aux_classifier is not None else set()))
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        out = self.classifier(_feature(features, "out"))
        return _result(out, features, self.aux_classifier, input_shape)


class DeepLabV3Plus(nn.Module):
    """DeepLabV3+: ASPP encoder plus a decoder with a low-level skip connection.

    ``out = classifier(decoder(cat(up(aspp(f["out"])), low_level(f["low_level"]))))``, resized to
    the input. ``low_level`` is 1x1 conv (to 48 channels), norm, act; ``decoder`` is two 3x3
    blocks (separable: depthwise, norm, act, pointwise, norm, act); ``classifier`` a 1x1 conv.

    Args:
        backbone: module returning ``{"out", "low_level"[, "aux"]}``.
        num_classes: output channels.
        in_channels: channels of ``"out"``.
        low_level_channels: channels of ``"low_level"``.
        rates: ASPP rates (default ``(6, 12, 18)``, output stride 16).
        aspp_channels: ASPP width.
        low_level_reduced: channels the low-level features are reduced to (paper: 48).
        decoder_channels: decoder width.
        separable: depthwise-separable ASPP branches and decoder convs (paper's default).
        norm: norm factory, or ``None``.
        act: activation factory, or ``None``.
        dropout: ASPP dropout (0.1, TensorFlow's DeepLab).
        aux_classifier: optional head for ``"aux"``.

    >>> from atrous.nn import resnet18
    >>> layers = {"layer1": "low_level", "layer4": "out"}
    >>> body = IntermediateLayerGetter(resnet18(16, width=8), layers)
    >>> net = DeepLabV3Plus(body, 3, in_channels=64, low_level_channels=8, aspp_channels=8,
    ...                     low_level_reduced=4, decoder_channels=8, rates=(1, 2)).eval()
    >>> net(torch.randn(1, 3, 64, 64))["out"].shape
    torch.Size([1, 3, 64, 64])
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        *,
        in_channels: int,
        low_level_channels: int,
        rates: Sequence[int] = (6, 12, 18),
        aspp_channels: int = 256,
        low_level_reduced: int = 48,
        decoder_channels: int = 256,
        separable: bool = True,
        norm: NormFactory | None = nn.BatchNorm2d,
        act: ActFactory | None = nn.ReLU,
        dropout: float = 0.1,
        aux_classifier: nn.Module | None = None,
    ) -> None:
        super().__init__()
        needed = {"out", "low_level"} | ({"aux"} if aux_classifier is not None else set())
        _check_backbone(backbone, needed)
        low_level_channels = as_int(low_level_channels, "low_level_channels", 1)
        low_level_reduced = as_int(low_level_reduced, "low_level_reduced", 1)
        decoder_channels = as_int(decoder_channels, "decoder_channels", 1)
        self.backbone = backbone
        self.aspp = ASPP(
            in_channels,
            aspp_channels,
            rates,
            norm=norm,
            act=act,
            dropout=dropout,
            separable=separable,
        )

        def norm_act(c: int) -> list[nn.Module]:
            return [norm(c) if norm is not None else nn.Identity(), act() if act else nn.Identity()]

        def block(cin: int, cout: int) -> nn.Module:
            if separable:
                return ASPPSeparableConv(cin, cout, 1, norm, act)
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=norm is None), *norm_act(cout)
            )

        self.low_level = nn.Sequential(
            nn.Conv2d(low_level_channels, low_level_reduced, 1, bias=norm is None),
            *norm_act(low_level_reduced),
        )
        self.decoder = nn.Sequential(
            block(aspp_channels + low_level_reduced, decoder_channels),
            block(decoder_channels, decoder_channels),
        )
        self.classifier = nn.Conv2d(decoder_channels, as_int(num_classes, "num_classes", 1), 1)
        self.aux_classifier = aux_classifier

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        low = self.low_level(_feature(features, "low_level"))
        high = self.aspp(_feature(features, "out"))
        high = F.interpolate(high, size=low.shape[-2:], mode="bilinear", align_corners=False)
        out = self.classifier(self.decoder(torch.cat([high, low], dim=1)))
        return _result(out, features, self.aux_classifier, input_shape)


def _backbone(
    depth: int,
    output_stride: Literal[8, 16, 32],
    multi_grid: Sequence[int] | None,
    norm: NormFactory,
) -> ResNet:
    make = resnet50 if depth == 50 else resnet101
    return make(output_stride, multi_grid, num_classes=None, norm=norm)


def _rates(rates: Sequence[int] | None, output_stride: int) -> Sequence[int]:
    if rates is not None:
        return rates
    if output_stride == 32:
        raise AtrousError("output_stride=32 has no default ASPP rates; pass rates=...")
    return aspp_rates(output_stride)  # type: ignore[arg-type]


def _deeplabv3(
    depth: int,
    /,
    num_classes: int = 21,
    aux_loss: bool | None = None,
    *,
    output_stride: Literal[8, 16, 32] = 8,
    multi_grid: Sequence[int] | None = None,
    rates: Sequence[int] | None = None,
    norm: NormFactory = nn.BatchNorm2d,
) -> DeepLabV3:
    """The template of :func:`deeplabv3_resnet50` / :func:`deeplabv3_resnet101`."""
    aux = bool(aux_loss)
    head_rates = _rates(rates, output_stride)
    resnet = _backbone(depth, output_stride, multi_grid, norm)
    return_layers = {"layer4": "out"} | ({"layer3": "aux"} if aux else {})
    backbone = IntermediateLayerGetter(resnet, return_layers)
    classifier = DeepLabHead(resnet.num_features, num_classes, head_rates, norm=norm)
    aux_classifier = FCNHead(resnet.num_features // 2, num_classes, norm=norm) if aux else None
    return DeepLabV3(backbone, classifier, aux_classifier)


deeplabv3_resnet50 = variant(_deeplabv3, 50, "deeplabv3_resnet50", """torchvision's \
``deeplabv3_resnet50``: dilated ResNet-50 (output stride 8), ASPP ``(12, 24, 36)``, optional
    auxiliary FCN head on ``layer3``.

    State_dict-compatible with torchvision (same keys, shapes and parameter count), so published
    checkpoints load with ``strict=True``. No weights are downloaded.

    Args:
        num_classes: output classes (torchvision's checkpoints: 21).
        aux_loss: add the auxiliary head (``None`` = ``False``, as torchvision without weights).
        output_stride: 8 (torchvision), 16 or 32.
        multi_grid: layer4 unit rates (DeepLabv3 paper), e.g. ``(1, 2, 4)``.
        rates: ASPP rates; default from ``output_stride`` (8 -> 12, 24, 36; 16 -> 6, 12, 18).
        norm: norm factory for backbone and heads.

    >>> net = deeplabv3_resnet50(aux_loss=True)
    >>> sorted(k for k in net.state_dict() if k.startswith("aux_classifier.4"))
    ['aux_classifier.4.bias', 'aux_classifier.4.weight']
    """)
deeplabv3_resnet101 = variant(_deeplabv3, 101, "deeplabv3_resnet101", """torchvision's \
``deeplabv3_resnet101`` (see :func:`deeplabv3_resnet50`).

    >>> net = deeplabv3_resnet101(num_classes=5)
    >>> tuple(net.classifier[4].weight.shape)
    (5, 256, 1, 1)
    """)


def _deeplabv3plus(
    depth: int,
    /,
    num_classes: int = 21,
    aux_loss: bool | None = None,
    *,
    output_stride: Literal[8, 16, 32] = 16,
    multi_grid: Sequence[int] | None = None,
    rates: Sequence[int] | None = None,
    separable: bool = True,
    norm: NormFactory = nn.BatchNorm2d,
) -> DeepLabV3Plus:
    """The template of :func:`deeplabv3plus_resnet50` / :func:`deeplabv3plus_resnet101`."""
    aux = bool(aux_loss)
    head_rates = _rates(rates, output_stride)
    resnet = _backbone(depth, output_stride, multi_grid, norm)
    return_layers = {"layer1": "low_level", "layer4": "out"}
    if aux:
        return_layers["layer3"] = "aux"
    backbone = IntermediateLayerGetter(resnet, return_layers)
    return DeepLabV3Plus(
        backbone,
        num_classes,
        in_channels=resnet.num_features,
        low_level_channels=resnet.num_features // 8,
        rates=head_rates,
        separable=separable,
        norm=norm,
        aux_classifier=FCNHead(resnet.num_features // 2, num_classes, norm=norm) if aux else None,
    )


deeplabv3plus_resnet50 = variant(_deeplabv3plus, 50, "deeplabv3plus_resnet50", """DeepLabV3+ on \
a dilated ResNet-50: output stride 16, ASPP ``(6, 12, 18)``, low-level skip from ``layer1``,
    separable ASPP and decoder (see :class:`DeepLabV3Plus`).

    >>> net = deeplabv3plus_resnet50(num_classes=3)
    >>> tuple(net.low_level[0].weight.shape), net.aspp.rates
    ((48, 256, 1, 1), (6, 12, 18))
    """)
deeplabv3plus_resnet101 = variant(_deeplabv3plus, 101, "deeplabv3plus_resnet101", """DeepLabV3+ \
on a dilated ResNet-101 (see :func:`deeplabv3plus_resnet50`).""")
