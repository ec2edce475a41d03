"""The convolution family of the dilated-convolution tutorials as PyTorch modules.

Each module validates its arguments at construction, shows them in ``repr`` and computes in
``forward`` by calling its functional twin in :mod:`atrous.nn.functional`:

========================== =========================================== ==========================
module                     what it is                                  functional twin
========================== =========================================== ==========================
``DilatedConv1d/2d/3d``    dilated conv, TF ``"same"`` for any stride  ``dilated_conv1d/2d/3d``
``SeparableConv2d``        depthwise (dilated) + pointwise, DeepLabv3+ ``separable_conv2d``
``SpatialSeparableConv2d`` ``k x 1`` then ``1 x k``                    ``spatial_separable_conv2d``
``FlattenedConv``          channel, vertical, horizontal 1-D convs     ``flattened_conv``
``GroupedConv2d``          grouped conv, optional channel shuffle      ``grouped_conv2d``
``ChannelShuffle``         ShuffleNet's channel shuffle                ``channel_shuffle``
========================== =========================================== ==========================

    >>> import torch
    >>> conv = DilatedConv2d(3, 8, 3, stride=2, dilation=2)   # padding="same" by default
    >>> conv
    DilatedConv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=same, dilation=(2, 2))
    >>> conv(torch.randn(1, 3, 33, 32)).shape                 # ceil(33/2), ceil(32/2)
    torch.Size([1, 8, 17, 16])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, TypeAlias, cast

import torch
import torch.fx
from torch import Tensor, nn

from .._arith_base import check_choice
from .._types import IntOrTuple, Ints, Pairs, as_int, as_ints
from ..arith import PaddingArg, normalize_padding, same_padding
from ..errors import AtrousError
from .functional import (
    Impl,
    PaddingMode,
    channel_shuffle,
    dilated_conv1d,
    dilated_conv2d,
    dilated_conv3d,
    flattened_conv,
    grouped_conv2d,
    separable_conv2d,
    spatial_separable_conv2d,
)

__all__ = [
    "ActivationFactory",
    "ChannelShuffle",
    "DilatedConv1d",
    "DilatedConv2d",
    "DilatedConv3d",
    "FlattenedConv",
    "GroupedConv2d",
    "NormFactory",
    "SeparableConv2d",
    "SpatialSeparableConv2d",
]

# leaf functions for torch.fx: their padding can depend on the input size
torch.fx.wrap("dilated_conv1d")
torch.fx.wrap("dilated_conv2d")
torch.fx.wrap("dilated_conv3d")
torch.fx.wrap("channel_shuffle")

NormFactory = Callable[[int], nn.Module]
"""A norm layer class or factory called with the channel count (e.g. ``nn.BatchNorm2d``)."""
ActivationFactory = Callable[[], nn.Module]
"""An activation class or factory called without arguments (e.g. ``nn.ReLU``)."""


ModulePadding: TypeAlias = Literal["same"] | Pairs


def _padding_arg(padding: Any, ndim: int) -> ModulePadding:
    """Validate a module's padding: ``"same"``, or per-axis ``(left, right)`` pairs."""
    if isinstance(padding, str):
        if padding == "same":
            return "same"
        if padding == "valid":
            return ((0, 0),) * ndim
        raise AtrousError(f"padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    return normalize_padding(padding, ndim)


def _padding_repr(padding: str | Pairs) -> str:
    if isinstance(padding, str):
        return padding
    if all(lo == hi for lo, hi in padding):
        return str(tuple(lo for lo, _ in padding))
    return str(padding)


def _weights(modules: nn.ModuleList) -> list[Tensor]:
    """The ``weight`` of every module of a ModuleList (typed for mypy, traceable by fx)."""
    return [cast(Tensor, m.weight) for m in modules]


def _biases(modules: nn.ModuleList) -> list[Tensor | None]:
    """The ``bias`` (or None) of every module of a ModuleList."""
    return [cast("Tensor | None", m.bias) for m in modules]


def _check_factory(value: Any, name: str, example: str, allow_none: bool = True) -> None:
    """Refuse a ``norm``/``act`` argument that is not a factory (or None) at construction.

    Modules that build one layer per branch or block need a class or factory, not a string or
    a module instance (one instance would be shared, or called with a channel count).
    """
    if value is None and allow_none:
        return
    if isinstance(value, nn.Module):
        raise AtrousError(
            f"{name} must be a factory such as {example} (called once per layer), got the "
            f"module instance {value!r}; pass its class or a lambda"
        )
    if not callable(value):
        none = ", or None" if allow_none else ""
        raise AtrousError(f"{name} must be a factory such as {example}{none}, got {value!r}")


def _make_norm(norm: NormFactory | nn.Module | None, channels: int) -> nn.Module | None:
    if isinstance(norm, nn.Module):
        # a module instance is used as given: its channel count must fit (else forward fails)
        for attr in ("num_features", "num_channels"):
            n = getattr(norm, attr, None)
            if isinstance(n, int) and n != channels:
                raise AtrousError(
                    f"norm {norm!r} has {attr}={n} but normalises {channels} channels here; "
                    "pass a factory such as nn.BatchNorm2d to get the size right"
                )
        return norm
    if norm is None:
        return norm
    if not callable(norm):
        raise AtrousError(f"norm must be a norm-layer class/factory or a module, got {norm!r}")
    return norm(channels)


def _make_activation(act: ActivationFactory | nn.Module | None) -> nn.Module | None:
    if act is None or isinstance(act, nn.Module):
        return act
    if not callable(act):
        raise AtrousError(
            f"activation must be an activation class/factory or a module, got {act!r}"
        )
    return act()


class _DilatedConvNd(nn.Module):
    """Shared implementation of :class:`DilatedConv1d`, :class:`DilatedConv2d`, ``...3d``."""

    _ndim = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: PaddingArg = "same",
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: PaddingMode = "zeros",
        impl: Impl = "native",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        nd = self._ndim
        self.in_channels = as_int(in_channels, "in_channels", 1)
        self.out_channels = as_int(out_channels, "out_channels", 1)
        self.kernel_size: Ints = as_ints(kernel_size, nd, "kernel_size", 1)
        self.stride: Ints = as_ints(stride, nd, "stride", 1)
        self.dilation: Ints = as_ints(dilation, nd, "dilation", 1)
        self.groups = as_int(groups, "groups", 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise AtrousError(
                f"groups must divide in_channels and out_channels, got groups={self.groups} "
                f"with in_channels={self.in_channels}, out_channels={self.out_channels}"
            )
        self.padding: ModulePadding = _padding_arg(padding, nd)
        check_choice(padding_mode, PaddingMode, "padding_mode")
        check_choice(impl, Impl, "impl")
        self.padding_mode: PaddingMode = padding_mode
        self.impl: Impl = impl
        # "same" with stride 1 does not depend on the input size: resolve it once
        self._pads: PaddingArg = self.padding
        if self.padding == "same" and all(s == 1 for s in self.stride):
            self._pads = same_padding(self.kernel_size, self.stride, self.dilation)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(
            torch.empty(
                (self.out_channels, self.in_channels // self.groups, *self.kernel_size), **factory
            )
        )
        self.bias: nn.Parameter | None
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _run(self, conv: Callable[..., Tensor], x: Tensor) -> Tensor:
        """``forward`` by ``conv``, the functional twin that ``forward`` names (so that a torch.fx
        trace records it as one call)."""
        y: Tensor = conv(
            x, self.weight, self.bias, self.stride, self._pads, self.dilation, self.groups,
            self.impl, self.padding_mode,
        )
        return y

    def reset_parameters(self) -> None:
        """PyTorch's ``nn.ConvNd`` initialisation (Kaiming-uniform, ``a = sqrt(5)``)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={_padding_repr(self.padding)}"
        )
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        if self.impl != "native":
            text += f", impl={self.impl}"
        return text


class DilatedConv1d(_DilatedConvNd):
    """Dilated 1-D convolution with TensorFlow-style ``"same"`` padding for any stride.

    Arguments as ``nn.Conv1d`` (same order; ``padding`` defaults to ``"same"``), plus ``impl``
    (see :func:`atrous.nn.functional.dilated_conv1d`). ``state_dict`` keys are ``weight`` and
    ``bias`` as in ``nn.Conv1d``.

    Shape:
        - input: ``(N, C_in, L)``
        - output: ``(N, C_out, L_out)``; with ``"same"``, ``L_out = ceil(L / stride)``.

    >>> DilatedConv1d(2, 4, 2, dilation=3)(torch.randn(1, 2, 10)).shape
    torch.Size([1, 4, 10])
    """

    _ndim = 1

    def forward(self, x: Tensor) -> Tensor:
        return self._run(dilated_conv1d, x)


class DilatedConv2d(_DilatedConvNd):
    """Dilated 2-D convolution with TensorFlow-style ``"same"`` padding for any stride.

    Arguments as ``nn.Conv2d`` (same order; ``padding`` defaults to ``"same"`` and also takes
    per-axis ``(left, right)`` pairs), plus ``impl``: ``"native"``, ``"zero_kernel"`` or
    ``"space_to_batch"`` (see :func:`atrous.nn.functional.dilated_conv2d`). PyTorch's own
    ``"same"`` refuses stride > 1; this one pads ``ceil(size/s)`` outputs from the input size on
    every call, the extra pixel on the right/bottom. ``state_dict`` keys are ``weight``/``bias``.

    Shape:
        - input: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``; with ``"same"``, ``ceil(H / stride)`` etc.

    >>> DilatedConv2d(4, 4, 4, dilation=2, groups=2)(torch.randn(2, 4, 9, 9)).shape
    torch.Size([2, 4, 9, 9])
    """

    _ndim = 2

    def forward(self, x: Tensor) -> Tensor:
        return self._run(dilated_conv2d, x)


class DilatedConv3d(_DilatedConvNd):
    """Dilated 3-D convolution (video, volumes) with TensorFlow-style ``"same"`` padding.

    Arguments as ``nn.Conv3d`` (``padding`` defaults to ``"same"``), plus ``impl``.

    Shape:
        - input: ``(N, C_in, D, H, W)``
        - output: ``(N, C_out, D_out, H_out, W_out)``

    >>> DilatedConv3d(1, 2, 3, stride=(1, 2, 2), dilation=2)(torch.randn(1, 1, 6, 7, 8)).shape
    torch.Size([1, 2, 6, 4, 4])
    """

    _ndim = 3

    def forward(self, x: Tensor) -> Tensor:
        return self._run(dilated_conv3d, x)


def _split_padding(padding: ModulePadding, axis: int) -> ModulePadding:
    if isinstance(padding, str):
        return padding
    return tuple(padding[a] if a == axis else (0, 0) for a in range(2))


class SeparableConv2d(nn.Module):
    """Depthwise separable convolution, DeepLabv3+'s "atrous separable convolution".

    A dilated depthwise ``k x k`` convolution (``groups = in_channels``, ``depth_multiplier``
    filters per channel) carrying the stride and dilation, optionally ``norm`` and
    ``activation``, then a ``1 x 1`` pointwise convolution. Weights:
    ``C_in*m*k*k + C_in*m*C_out`` instead of ``C_in*C_out*k*k``.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding, dilation: of the depthwise convolution.
        depth_multiplier: depthwise filters per input channel.
        bias: bias on the pointwise convolution.
        depthwise_bias: bias on the depthwise convolution.
        norm: norm-layer class/factory (called with ``C_in*m``) or module, or None.
        activation: activation class/factory or module, or None.

    Shape:
        - input: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> m = SeparableConv2d(8, 16, 3, dilation=2, norm=nn.BatchNorm2d, activation=nn.ReLU)
    >>> m(torch.randn(2, 8, 9, 9)).shape
    torch.Size([2, 16, 9, 9])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple = 3,
        stride: IntOrTuple = 1,
        padding: PaddingArg = "same",
        dilation: IntOrTuple = 1,
        depth_multiplier: int = 1,
        bias: bool = True,
        depthwise_bias: bool = False,
        norm: NormFactory | nn.Module | None = None,
        activation: ActivationFactory | nn.Module | None = None,
    ) -> None:
        super().__init__()
        c_in = as_int(in_channels, "in_channels", 1)
        mult = as_int(depth_multiplier, "depth_multiplier", 1)
        self.depthwise = DilatedConv2d(
            c_in,
            c_in * mult,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=c_in,
            bias=depthwise_bias,
        )
        self.norm = _make_norm(norm, c_in * mult)
        self.activation = _make_activation(activation)
        self.pointwise = DilatedConv2d(c_in * mult, out_channels, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        dw, pw = self.depthwise, self.pointwise
        return separable_conv2d(
            x,
            dw.weight,
            pw.weight,
            dw.bias,
            pw.bias,
            dw.stride,
            dw._pads,
            dw.dilation,
            self.norm,
            self.activation,
        )

    def extra_repr(self) -> str:
        dw = self.depthwise
        return (
            f"{dw.in_channels}, {self.pointwise.out_channels}, kernel_size={dw.kernel_size}, "
            f"stride={dw.stride}, padding={_padding_repr(dw.padding)}, "
            f"dilation={dw.dilation}, depth_multiplier={dw.out_channels // dw.in_channels}"
        )


class _AxisSplit(nn.Module):
    """What :class:`SpatialSeparableConv2d` and :class:`FlattenedConv` share: a ``k_h x 1``
    convolution ``vertical`` with the height part of kernel, stride, padding and dilation, then
    a ``1 x k_w`` convolution ``horizontal`` with the width part."""

    padding: ModulePadding
    vertical: DilatedConv2d
    horizontal: DilatedConv2d

    def _split_axes(
        self,
        channels: tuple[int, int, int],
        kernel_size: IntOrTuple,
        stride: IntOrTuple,
        padding: PaddingArg,
        dilation: IntOrTuple,
        depthwise: bool,
        bias: tuple[bool, bool],
    ) -> None:
        """Build ``vertical`` (``channels[0] -> [1]``) and ``horizontal`` (``[1] -> [2]``),
        depthwise when asked."""
        c_in, c_mid, c_out = channels
        k = as_ints(kernel_size, 2, "kernel_size", 1)
        s = as_ints(stride, 2, "stride", 1)
        d = as_ints(dilation, 2, "dilation", 1)
        self.padding = pad = _padding_arg(padding, 2)
        self.vertical = DilatedConv2d(
            c_in, c_mid, (k[0], 1), (s[0], 1), _split_padding(pad, 0), (d[0], 1),
            groups=c_in if depthwise else 1, bias=bias[0],
        )
        self.horizontal = DilatedConv2d(
            c_mid, c_out, (1, k[1]), (1, s[1]), _split_padding(pad, 1), (1, d[1]),
            groups=c_mid if depthwise else 1, bias=bias[1],
        )

    def _stride_dilation(self) -> tuple[Ints, Ints]:
        v, h = self.vertical, self.horizontal
        return (v.stride[0], h.stride[1]), (v.dilation[0], h.dilation[1])

    def _geometry_repr(self) -> str:
        v, h = self.vertical, self.horizontal
        stride, dilation = self._stride_dilation()
        return (
            f"kernel_size={(v.kernel_size[0], h.kernel_size[1])}, stride={stride}, "
            f"padding={_padding_repr(self.padding)}, dilation={dilation}"
        )


class SpatialSeparableConv2d(_AxisSplit):
    """Spatially separable convolution: ``k_h x 1`` (``C_in -> C_mid``), then ``1 x k_w``.

    The height part of ``stride``/``padding``/``dilation`` belongs to the vertical convolution,
    the width part to the horizontal one; without biases the pair equals one ``k_h x k_w``
    convolution with a rank-1 (outer-product) kernel per channel path, as in the tutorial.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size, stride, padding, dilation: of the equivalent ``k_h x k_w`` convolution.
        bias: biases on both convolutions.
        mid_channels: channels between the two (default ``out_channels``).

    Shape:
        - input: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> SpatialSeparableConv2d(3, 8, (3, 5), stride=2)(torch.randn(1, 3, 9, 10)).shape
    torch.Size([1, 8, 5, 5])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple = 3,
        stride: IntOrTuple = 1,
        padding: PaddingArg = "same",
        dilation: IntOrTuple = 1,
        bias: bool = True,
        mid_channels: int | None = None,
    ) -> None:
        super().__init__()
        mid = out_channels if mid_channels is None else as_int(mid_channels, "mid_channels", 1)
        self._split_axes(
            (in_channels, mid, out_channels), kernel_size, stride, padding, dilation, False,
            (bias, bias),
        )

    def forward(self, x: Tensor) -> Tensor:
        v, h = self.vertical, self.horizontal
        stride, dilation = self._stride_dilation()
        return spatial_separable_conv2d(
            x, v.weight, h.weight, v.bias, h.bias, stride, self.padding, dilation
        )

    def extra_repr(self) -> str:
        v, h = self.vertical, self.horizontal
        return (
            f"{v.in_channels}, {h.out_channels}, {self._geometry_repr()}, "
            f"mid_channels={v.out_channels}"
        )


class FlattenedConv(_AxisSplit):
    """Flattened convolution: a ``1 x 1`` conv across channels, then depthwise ``k_h x 1`` and
    ``1 x k_w`` convolutions (the tutorial's three 1-D convolutions).

    ``C_out*(C_in + k_h + k_w)`` weights instead of ``C_out*C_in*k_h*k_w``; each output channel
    is a rank-1 filter. ``bias`` adds one bias per output channel, after the last convolution.

    Shape:
        - input: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> m = FlattenedConv(16, 32, 3)
    >>> sum(p.numel() for p in m.parameters()) == 32 * (16 + 3 + 3) + 32
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple = 3,
        stride: IntOrTuple = 1,
        padding: PaddingArg = "same",
        dilation: IntOrTuple = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        c = as_int(out_channels, "out_channels", 1)
        self.channel = DilatedConv2d(in_channels, c, 1, bias=False)
        self._split_axes((c, c, c), kernel_size, stride, padding, dilation, True, (False, bias))

    def forward(self, x: Tensor) -> Tensor:
        c, v, h = self.channel, self.vertical, self.horizontal
        stride, dilation = self._stride_dilation()
        return flattened_conv(
            x, c.weight, v.weight, h.weight, None, None, h.bias, stride, self.padding, dilation
        )

    def extra_repr(self) -> str:
        return (
            f"{self.channel.in_channels}, {self.horizontal.out_channels}, "
            f"{self._geometry_repr()}"
        )


class GroupedConv2d(DilatedConv2d):
    """Grouped (dilated) convolution, optionally followed by a channel shuffle (ShuffleNet).

    ``groups`` independent convolutions over ``C_in/groups`` channels each (AlexNet's split),
    ``C_in*C_out*k*k/groups`` weights; ``shuffle=True`` interleaves the groups' outputs so the
    next grouped layer mixes them.

    Shape:
        - input: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> GroupedConv2d(8, 8, 3, groups=4, shuffle=True)
    GroupedConv2d(8, 8, kernel_size=(3, 3), stride=(1, 1), padding=same, groups=4, shuffle=True)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple = 3,
        groups: int = 2,
        stride: IntOrTuple = 1,
        padding: PaddingArg = "same",
        dilation: IntOrTuple = 1,
        bias: bool = True,
        shuffle: bool = False,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )
        self.shuffle = bool(shuffle)

    def forward(self, x: Tensor) -> Tensor:
        return grouped_conv2d(
            x,
            self.weight,
            self.bias,
            self.groups,
            self.stride,
            self._pads,
            self.dilation,
            self.shuffle,
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + (", shuffle=True" if self.shuffle else "")


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle (see :func:`atrous.nn.functional.channel_shuffle`).

    Shape:
        - input: ``(N, C, *)`` with ``C`` divisible by ``groups``
        - output: ``(N, C, *)``

    >>> ChannelShuffle(3)(torch.arange(6.).view(1, 6)).tolist()
    [[0.0, 2.0, 4.0, 1.0, 3.0, 5.0]]
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = as_int(groups, "groups", 1)

    def forward(self, x: Tensor) -> Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
