"""Atrous Spatial Pyramid Pooling (DeepLabv3 / DeepLabv3+), torchvision-checkpoint compatible.

:class:`ASPP` runs parallel branches over one feature map — a 1x1 convolution, one 3x3 atrous
convolution per rate, and an image-pooling branch (global average, 1x1 convolution, broadcast back)
— concatenates them and projects to ``out_channels`` with a 1x1 convolution.

The parameter layout is torchvision's (``convs.{i}.*``, ``project.*``), so an :class:`ASPP` at
position 0 of a :class:`~atrous.nn.DeepLabHead` loads ``classifier.0.*`` from torchvision's
DeepLabV3 checkpoints.

Two things differ from torchvision on purpose:

* **It trains at batch size 1.** The pooled branch sees a ``N x C x 1 x 1`` map; torchvision's and
  smp's ``BatchNorm2d`` there raise "Expected more than 1 value per channel when training" when
  ``N == 1``. Here that norm is a :class:`PooledBatchNorm2d`: a ``BatchNorm2d`` (same parameters,
  buffers and state_dict keys) that, when it meets exactly one value per channel in train mode,
  normalises with its running statistics instead of the (undefined) batch statistics and leaves
  the running statistics untouched. With more than one value per channel, and in eval mode, it is
  ``BatchNorm2d`` exactly.
* **It warns when a rate is too large for the feature map.** With ``rate >= H`` every
  vertical tap but the centre falls in the zero padding (likewise for ``W``); when both hold the
  3x3 branch degenerates to a 1x1 convolution, which the DeepLabv3 paper notes as the reason for
  the image-pooling branch. The size is only known at forward time; each module warns once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import torch
import torch.fx
import torch.nn.functional as F
from torch import Tensor, nn

from .._arith_base import check_choice
from .._types import as_int
from ..errors import AtrousError
from .conv import _check_factory
from .functional import Impl, dilated_conv2d

__all__ = [
    "ASPP",
    "ASPPConv",
    "ASPPPooling",
    "ASPPSeparableConv",
    "PooledBatchNorm2d",
    "aspp_rates",
    "pooled_batch_norm",
]


def _symbolic_tracing() -> bool:
    """True while torch.fx symbolically traces (shapes are proxies then)."""
    fx_trace = torch.fx._symbolic_trace
    check = getattr(fx_trace, "is_fx_symbolic_tracing", None) or fx_trace.is_fx_tracing
    return bool(check())


NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]

_OS_RATES: dict[int, tuple[int, ...]] = {16: (6, 12, 18), 8: (12, 24, 36)}


def _user_level() -> int:
    """``stacklevel`` of the first caller outside atrous and torch (the user's forward call)."""
    import sys

    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name.startswith("atrous.") or name == "atrous" or name.startswith("torch")):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return 2


def aspp_rates(output_stride: Literal[8, 16]) -> tuple[int, ...]:
    """The ASPP rates the DeepLabv3 paper uses for a backbone output stride.

    Args:
        output_stride: 16 (rates 6, 12, 18) or 8 (rates doubled: 12, 24, 36).

    Returns:
        The three atrous rates.

    >>> aspp_rates(16)
    (6, 12, 18)
    >>> aspp_rates(8)
    (12, 24, 36)
    """
    if isinstance(output_stride, bool) or output_stride not in _OS_RATES:
        raise AtrousError(f"output_stride must be 8 or 16 for ASPP rates, got {output_stride!r}")
    return _OS_RATES[output_stride]


def pooled_batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    num_batches_tracked: Tensor | None,
    training: bool,
    momentum: float | None,
    eps: float,
) -> Tensor:
    """``F.batch_norm`` that also works with one value per channel in train mode.

    When ``training`` and ``x`` holds exactly one value per channel (``N*H*W == 1``), batch
    statistics are undefined; the input is normalised with the running statistics (as in eval
    mode) and the running statistics are not updated. Otherwise this is ``nn.BatchNorm2d``'s
    forward, including the ``momentum=None`` cumulative average.

    Shape:
        - x: ``(N, C, *)``; output: same shape.

    >>> x = torch.randn(1, 3, 1, 1)
    >>> rm, rv = torch.zeros(3), torch.ones(3)
    >>> y = pooled_batch_norm(x, rm, rv, None, None, None, True, 0.1, 0.0)
    >>> torch.equal(y, x), torch.equal(rm, torch.zeros(3))
    (True, True)
    """
    if training and x.numel() == x.size(1) and running_mean is not None:
        return F.batch_norm(x, running_mean, running_var, weight, bias, False, 0.0, eps)
    factor = 0.0 if momentum is None else momentum
    if training and num_batches_tracked is not None:
        num_batches_tracked.add_(1)
        if momentum is None:
            factor = 1.0 / float(num_batches_tracked)
    use_batch_stats = training or (running_mean is None and running_var is None)
    return F.batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, factor, eps)


class PooledBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` that trains on one value per channel (a pooled map at batch size 1).

    Same parameters, buffers and state_dict keys as ``nn.BatchNorm2d``; identical to it in eval
    mode and whenever the batch has more than one value per channel. In train mode with
    ``N*H*W == 1`` it normalises with the running statistics and does not update them (see
    :func:`pooled_batch_norm`).

    Shape:
        - Input: ``(N, C, H, W)``; output: same shape.

    >>> bn = PooledBatchNorm2d(4).train()
    >>> bn(torch.randn(1, 4, 1, 1)).shape
    torch.Size([1, 4, 1, 1])
    """

    def forward(self, input: Tensor) -> Tensor:
        if not _symbolic_tracing():
            self._check_input_dim(input)
        return _pooled_batch_norm_module(input, self)


def _pooled_batch_norm_module(x: Tensor, bn: nn.BatchNorm2d) -> Tensor:
    track = bn.training and bn.track_running_stats
    return pooled_batch_norm(
        x,
        bn.running_mean if not bn.training or bn.track_running_stats else None,
        bn.running_var if not bn.training or bn.track_running_stats else None,
        bn.weight,
        bn.bias,
        bn.num_batches_tracked if track else None,
        bn.training,
        bn.momentum,
        bn.eps,
    )


# one call_function node for torch.fx, reading the module (and its train/eval flag) at run time
torch.fx.wrap("_pooled_batch_norm_module")
torch.fx.wrap("dilated_conv2d")  # _ImplConv2d's call, a leaf of torch.fx.symbolic_trace too


def _as_pooled(bn: nn.BatchNorm2d) -> PooledBatchNorm2d:
    pooled = PooledBatchNorm2d(
        bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats
    ).to(device=bn.weight.device if bn.weight is not None else None)
    pooled.load_state_dict(bn.state_dict())
    return pooled


def _norm_act(
    channels: int, norm: NormFactory | None, act: ActFactory | None, pooled: bool = False
) -> list[nn.Module]:
    layers: list[nn.Module] = []
    if norm is not None:
        module = norm(channels)
        if pooled and type(module) is nn.BatchNorm2d:  # same settings, batch-size-1 safe
            module = _as_pooled(module)
        layers.append(module)
    if act is not None:
        layers.append(act())
    return layers


class _ImplConv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, state dict and attributes) that computes with
    :func:`atrous.nn.functional.dilated_conv2d` and a chosen ``impl``."""

    impl: Impl = "native"

    def forward(self, input: Tensor) -> Tensor:
        pads: Any = self.padding if isinstance(self.padding, str) else tuple(self.padding)
        return dilated_conv2d(
            input, self.weight, self.bias, self.stride, pads, self.dilation, self.groups,
            impl=self.impl,
        )

    def extra_repr(self) -> str:
        base = cast("Callable[[], str]", super().extra_repr)  # nn.Conv2d's is untyped
        return base() + f", impl={self.impl}"


def _atrous_conv(impl: Impl) -> Callable[..., nn.Conv2d]:
    """``nn.Conv2d`` for the native kernel, else one that runs ``impl`` (same parameters)."""
    check_choice(impl, Impl, "impl")
    if impl == "native":
        return nn.Conv2d

    def make(*args: Any, **kwargs: Any) -> nn.Conv2d:
        conv = _ImplConv2d(*args, **kwargs)
        conv.impl = impl
        return conv

    return make


class _ASPPBranch(nn.Sequential):
    """An atrous branch of :class:`ASPP`, plain (:class:`ASPPConv`) or separable
    (:class:`ASPPSeparableConv`); the norm replaces the convolutions' biases."""

    separable = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        rate: int,
        norm: NormFactory | None = nn.BatchNorm2d,
        act: ActFactory | None = nn.ReLU,
        impl: Impl = "native",
    ) -> None:
        atrous = _atrous_conv(impl)
        bias = norm is None
        if self.separable:
            layers = [
                atrous(in_channels, in_channels, 3, padding=rate, dilation=rate,
                       groups=in_channels, bias=bias),
                *_norm_act(in_channels, norm, act),
                nn.Conv2d(in_channels, out_channels, 1, bias=bias),
            ]
        else:
            layers = [atrous(in_channels, out_channels, 3, padding=rate, dilation=rate, bias=bias)]
        super().__init__(*layers, *_norm_act(out_channels, norm, act))
        self.rate = rate


class ASPPConv(_ASPPBranch):
    """One atrous branch: 3x3 conv (dilation = padding = ``rate``), norm, activation.

    Layout ``0`` conv, ``1`` norm, ``2`` act — torchvision's ``ASPPConv``.
    """


class ASPPSeparableConv(_ASPPBranch):
    """One atrous *separable* branch (DeepLabv3+): depthwise 3x3 atrous conv, norm, act,
    pointwise 1x1 conv, norm, act.

    Layout ``0`` depthwise, ``1`` norm, ``2`` act, ``3`` pointwise, ``4`` norm, ``5`` act.
    """

    separable = True


class ASPPPooling(nn.Sequential):
    """Image-pooling branch: global average, 1x1 conv, norm, act, then broadcast back to ``H x W``
    (bilinear from 1x1, as torchvision). Layout ``0`` pool, ``1`` conv, ``2`` norm, ``3`` act.

    The default norm is :class:`PooledBatchNorm2d`, so the branch trains at batch size 1.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: NormFactory | None = nn.BatchNorm2d,
        act: ActFactory | None = nn.ReLU,
    ) -> None:
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=norm is None),
            *_norm_act(out_channels, norm, act, pooled=True),
        )

    def forward(self, input: Tensor) -> Tensor:
        size = input.shape[-2:]
        x = input
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous Spatial Pyramid Pooling (DeepLabv3), optionally separable (DeepLabv3+).

    Branches, in order (``convs.0`` ...): a 1x1 conv; one 3x3 atrous conv per rate; the
    image-pooling branch (if ``image_pooling``). Their outputs are concatenated and projected by
    ``project`` = 1x1 conv, norm, act, dropout. Every conv followed by a norm has no bias; with
    ``norm=None`` the convs get a bias.

    Args:
        in_channels: channels of the input feature map.
        out_channels: channels of every branch and of the output (DeepLab: 256).
        rates: the atrous rates, any number (default ``(6, 12, 18)``, or from ``output_stride``).
        output_stride: derive ``rates`` from the backbone's output stride (16 -> 6, 12, 18;
            8 -> 12, 24, 36). Give ``rates`` or ``output_stride``, not both.
        norm: a factory ``channels -> module`` (default ``nn.BatchNorm2d``), or ``None`` for no
            normalisation. In the pooling branch a plain ``nn.BatchNorm2d`` it returns becomes a
            :class:`PooledBatchNorm2d` with the same settings, so the module trains at batch
            size 1.
        act: a factory ``() -> module`` (default ``nn.ReLU``), or ``None``.
        dropout: dropout probability after the projection (torchvision: 0.5).
        separable: use depthwise-separable atrous branches (DeepLabv3+).
        image_pooling: include the image-pooling branch.
        impl: how the atrous branches compute (:data:`atrous.nn.functional.Impl`): ``"native"``
            (plain ``nn.Conv2d``), ``"space_to_batch"``, ``"phase"``, ``"zero_kernel"``, or
            ``"auto"`` (the fastest, probed once per device, dtype and shape). The weights and
            the state dict are the same whatever the choice.

    Shape:
        - Input: ``(N, in_channels, H, W)``; output: ``(N, out_channels, H, W)``.

    >>> aspp = ASPP(32, 16, rates=(1, 2, 3)).eval()
    >>> aspp(torch.randn(2, 32, 9, 9)).shape
    torch.Size([2, 16, 9, 9])
    >>> ASPP(32, output_stride=8).rates
    (12, 24, 36)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 256,
        rates: Sequence[int] | None = None,
        *,
        output_stride: Literal[8, 16] | None = None,
        norm: NormFactory | None = nn.BatchNorm2d,
        act: ActFactory | None = nn.ReLU,
        dropout: float = 0.5,
        separable: bool = False,
        image_pooling: bool = True,
        impl: Impl = "native",
    ) -> None:
        super().__init__()
        check_choice(impl, Impl, "impl")
        in_channels = as_int(in_channels, "in_channels", 1)
        out_channels = as_int(out_channels, "out_channels", 1)
        if rates is not None and output_stride is not None:
            raise AtrousError(
                f"give rates or output_stride, not both (got rates={tuple(rates)!r}, "
                f"output_stride={output_stride!r})"
            )
        if output_stride is not None:
            rates = aspp_rates(output_stride)
        elif rates is None:
            rates = _OS_RATES[16]
        if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence):
            raise AtrousError(f"rates must be a sequence of ints, got {rates!r}")
        self.rates: tuple[int, ...] = tuple(as_int(r, "rate", 1) for r in rates)
        _check_factory(norm, "norm", "nn.BatchNorm2d")
        _check_factory(act, "act", "nn.ReLU")
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) <= 1.0:
            raise AtrousError(f"dropout must be in [0, 1], got {dropout!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.separable = bool(separable)
        self.image_pooling = bool(image_pooling)

        branch = ASPPSeparableConv if separable else ASPPConv
        modules: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=norm is None),
                *_norm_act(out_channels, norm, act),
            )
        ]
        modules += [branch(in_channels, out_channels, r, norm, act, impl) for r in self.rates]
        if image_pooling:
            modules.append(ASPPPooling(in_channels, out_channels, norm, act))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(
            nn.Conv2d(len(modules) * out_channels, out_channels, 1, bias=norm is None),
            *_norm_act(out_channels, norm, act),
            nn.Dropout(float(dropout)),
        )
        self._size_warned = False

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"rates={self.rates}, separable={self.separable}, image_pooling={self.image_pooling}"
        )

    def _check_size(self, x: Tensor) -> None:
        """Warn (once) when a rate is not smaller than the feature map on some axis."""
        if self._size_warned or _symbolic_tracing():
            return
        h, w = int(x.shape[-2]), int(x.shape[-1])
        effects: dict[str, list[int]] = {}  # effect -> the rates that have it
        for rate in self.rates:
            tall, wide = rate >= h, rate >= w
            if not (tall or wide):
                continue
            if tall and wide:
                effect = "every tap but the centre falls in the zero padding: it acts as a 1x1 conv"
            else:
                axis, shape = ("height", "1x3") if tall else ("width", "3x1")
                effect = (
                    f"every {axis}-axis tap but the centre falls in the zero padding: "
                    f"it acts as a {shape} conv"
                )
            effects.setdefault(effect, []).append(rate)
        if not effects:
            return
        parts = []
        for effect, rates in effects.items():
            which = f"rate {rates[0]} is" if len(rates) == 1 else f"rates {rates} are"
            parts.append(f"ASPP {which} not smaller than the {h}x{w} feature map; {effect}")
        warnings.warn(
            ". ".join(parts) + ". Use smaller rates, a larger input or a smaller output stride.",
            UserWarning,
            stacklevel=_user_level(),
        )
        self._size_warned = True

    def forward(self, x: Tensor) -> Tensor:
        if not self._size_warned:
            self._check_size(x)
        y: Tensor = self.project(torch.cat([branch(x) for branch in self.convs], dim=1))
        return y
