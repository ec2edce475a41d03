"""Functional twins of the :mod:`atrous.nn` modules: dilated convolution, three ways.

Every module's ``forward`` calls one of these functions, so a network built from modules and one
written with functions compute the same thing. The core is :func:`dilated_conv2d` (and its 1-D
and 3-D siblings), which adds to ``F.conv2d``:

- ``padding="same"`` for any kernel (odd or even), dilation *and stride*, computed per call from
  the input size by :func:`atrous.arith.same_padding` (TensorFlow's SAME: the extra pixel goes
  right/bottom); also per-axis ``(left, right)`` pairs;
- ``impl=`` one of the two classic implementations the tutorials name besides the native kernel:
  ``"zero_kernel"`` (insert ``d - 1`` zeros between the taps, then a dense convolution) and
  ``"space_to_batch"`` (split the input into ``d x d`` phases, dense convolution on each,
  interleave back; TensorFlow's ``atrous_conv2d``), both exact for every stride, padding, groups
  and input size.

    >>> import torch
    >>> x, w = torch.randn(1, 2, 9, 10), torch.randn(4, 2, 3, 3)
    >>> dilated_conv2d(x, w, padding="same", dilation=2, stride=2).shape
    torch.Size([1, 4, 5, 5])
    >>> a = dilated_conv2d(x, w, dilation=3, impl="native")
    >>> b = dilated_conv2d(x, w, dilation=3, impl="space_to_batch")
    >>> torch.allclose(a, b, atol=1e-5)
    True

The tensor functions are registered with :func:`torch.fx.wrap`, so a symbolic trace records each
as one ``call_function`` node (their padding may depend on the input size). The argument checks
and the implementations behind ``impl=`` live in :mod:`atrous.nn._dilated`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.fx
import torch.nn.functional as F
from torch import Tensor

from .._types import IntOrTuple, Ints, Pairs, as_int, as_ints
from ..arith import PaddingArg, normalize_padding
from ..errors import AtrousError
from . import _impl
from ._dilated import Impl, PaddingMode, check_input, check_weight, dilate_kernel, dilated_conv
from ._impl import _CONV, _pad
from ._variants import variant
from .bench import DilationTax, dilation_tax

__all__ = [
    "DilationTax",
    "Impl",
    "PaddingMode",
    "auto_choices",
    "batch_to_space",
    "causal_dilated_conv1d",
    "causal_dilated_stack",
    "channel_shuffle",
    "clear_auto_choices",
    "depthwise_conv2d",
    "dilate_kernel",
    "dilated_conv1d",
    "dilated_conv2d",
    "dilated_conv3d",
    "dilated_stack",
    "dilation_tax",
    "flattened_conv",
    "gated_activation",
    "grouped_conv2d",
    "separable_conv2d",
    "space_to_batch",
    "space_to_batch_stage",
    "spatial_separable_conv2d",
]

Activation = Callable[[Tensor], Tensor]

dilate_kernel.__module__ = __name__  # documented and imported as atrous.nn.functional's


_CONV_DOC = """Dilated {n}-D convolution, TensorFlow-style ``"same"``, a choice of implementation.

    Args:
        x: input ``(N, C_in, {axes})`` (or unbatched ``(C_in, {axes})``).
        weight: ``(C_out, C_in/groups, {kaxes})``.
        bias: ``(C_out,)`` or None.
        stride: an int or one per axis, >= 1.
        padding: an int, one per axis, per-axis ``(left, right)`` pairs, ``"valid"`` or
            ``"same"`` (output ``ceil(size/stride)`` for any kernel, dilation and stride; the
            extra pixel of an odd total goes right, as TensorFlow's SAME).
        dilation: an int or one per axis, >= 1.
        groups: the number of channel groups; divides ``C_in`` and ``C_out``.
        impl: ``"native"`` (``F.conv{n}d``), ``"zero_kernel"`` (dense convolution with
            :func:`dilate_kernel`), ``"space_to_batch"`` (one dense convolution on the
            ``d``-phases of the input as a batch), ``"phase"`` (one dense convolution per
            phase, no batch copy) or ``"auto"`` (the fastest of native, space_to_batch and
            phase for this device, dtype and shape, timed once on the first call and
            remembered, like ``cudnn.benchmark``; :func:`dilation_tax` measures the same).
            All give the same result.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Returns:
        The convolution, as ``F.conv{n}d`` with the padding applied first.

    Raises:
        AtrousError: bad shapes, groups, stride, dilation, padding or option strings, or an
            output size below 1.

    Shape:
        - x: ``(N, C_in, {axes})``
        - output: ``(N, C_out, {oaxes})`` with
          ``out = floor((size + left + right - d*(k-1) - 1) / stride) + 1``.
"""


dilated_conv1d = variant(dilated_conv, 1, "dilated_conv1d", (
    _CONV_DOC.format(n=1, axes="L", kaxes="k", oaxes="L_out")
    + """
    >>> dilated_conv1d(torch.ones(1, 1, 7), torch.ones(1, 1, 2), padding="same", stride=3)
    tensor([[[2., 2., 1.]]])
"""
), module=__name__)
dilated_conv2d = variant(dilated_conv, 2, "dilated_conv2d", (
    _CONV_DOC.format(n=2, axes="H, W", kaxes="k_h, k_w", oaxes="H_out, W_out")
    + """
    >>> x, w = torch.randn(1, 3, 7, 8), torch.randn(5, 3, 4, 4)   # even kernel
    >>> dilated_conv2d(x, w, padding="same", dilation=2).shape
    torch.Size([1, 5, 7, 8])
    >>> dilated_conv2d(x, w, padding=((0, 1), (2, 0)), impl="zero_kernel").shape
    torch.Size([1, 5, 5, 7])
"""
), module=__name__)
dilated_conv3d = variant(dilated_conv, 3, "dilated_conv3d", (
    _CONV_DOC.format(n=3, axes="D, H, W", kaxes="k_d, k_h, k_w", oaxes="D_out, H_out, W_out")
    + """
    >>> dilated_conv3d(torch.randn(1, 2, 5, 6, 7), torch.randn(3, 2, 3, 3, 3),
    ...                padding="same", dilation=(1, 2, 3)).shape
    torch.Size([1, 3, 5, 6, 7])
"""
), module=__name__)
torch.fx.wrap(dilated_conv1d)  # each a leaf of a torch.fx trace (the padding can depend on size)
torch.fx.wrap(dilated_conv2d)
torch.fx.wrap(dilated_conv3d)


@torch.fx.wrap
def causal_dilated_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    dilation: int = 1,
    groups: int = 1,
) -> Tensor:
    """Causal dilated 1-D convolution: left padding ``d*(k-1)``, no look-ahead.

    Output ``t`` depends on inputs ``t - d*(k-1), ..., t`` only, and the length is kept.

    Args:
        x: ``(N, C_in, L)``.
        weight: ``(C_out, C_in/groups, k)``.
        bias: ``(C_out,)`` or None.
        dilation: >= 1.
        groups: channel groups.

    Shape:
        - x: ``(N, C_in, L)``
        - output: ``(N, C_out, L)``

    >>> causal_dilated_conv1d(torch.arange(5.).view(1, 1, 5), torch.ones(1, 1, 2), dilation=2)
    tensor([[[0., 1., 2., 4., 6.]]])
    """
    return dilated_conv1d(*_causal_args(x, weight, bias, dilation, groups))


def _causal_args(x: Tensor, weight: Tensor, bias: Tensor | None, dilation: int,
                 groups: int) -> tuple[Tensor, Tensor, Tensor | None, int, Pairs, int, int]:
    """:func:`causal_dilated_conv1d`'s checks, and the arguments of the
    :func:`dilated_conv1d` call it makes (an analysis' shape run makes the same; private)."""
    d = as_int(dilation, "dilation", 1)
    if not isinstance(weight, Tensor) or weight.dim() != 3:
        raise AtrousError(
            f"causal_dilated_conv1d: weight must be (C_out, C_in/groups, k), got "
            f"{tuple(weight.shape) if isinstance(weight, Tensor) else weight!r}"
        )
    k = int(weight.shape[-1])
    return x, weight, bias, 1, ((d * (k - 1), 0),), d, groups


@torch.fx.wrap
def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle: ``(g, C/g)`` channel order becomes ``(C/g, g)``.

    Output channel ``i*g + j`` is input channel ``j*(C/g) + i``, so a following grouped
    convolution sees channels from every group.

    Args:
        x: ``(N, C, *spatial)`` with ``C`` divisible by ``groups``.
        groups: >= 1.

    Shape:
        - x: ``(N, C, *)``
        - output: ``(N, C, *)``

    >>> channel_shuffle(torch.arange(6.).view(1, 6, 1), 2).flatten().tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """
    g = as_int(groups, "groups", 1)
    if not isinstance(x, Tensor) or x.dim() < 2:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise AtrousError(f"channel_shuffle: input must be (N, C, *), got {got}")
    c = int(x.shape[1])
    if c % g:
        raise AtrousError(
            f"channel_shuffle: groups must divide the channels, got groups={g} with {c} channels"
        )
    n, rest = x.shape[0], x.shape[2:]
    return x.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


@torch.fx.wrap
def depthwise_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = "same",
    dilation: IntOrTuple = 1,
) -> Tensor:
    """Depthwise (dilated) 2-D convolution: ``groups`` = the input channels.

    Each input channel gets its own ``m = C_out/C_in`` filters (the depth multiplier).

    Shape:
        - x: ``(N, C_in, H, W)``, weight: ``(C_in*m, 1, k_h, k_w)``
        - output: ``(N, C_in*m, H_out, W_out)``

    >>> depthwise_conv2d(torch.randn(1, 3, 8, 8), torch.randn(6, 1, 3, 3), dilation=2).shape
    torch.Size([1, 6, 8, 8])
    """
    return dilated_conv2d(x, weight, bias, stride, padding, dilation, _depthwise_groups(x))


def _depthwise_groups(x: Tensor) -> int:
    """:func:`depthwise_conv2d`'s check of its input, and its groups: the input channels
    (private; an analysis' shape run shares it)."""
    unbatched = check_input(x, 2, "depthwise_conv2d")
    return int(x.shape[0 if unbatched else 1])


@torch.fx.wrap
def gated_activation(z: Tensor) -> Tensor:
    """WaveNet's gate: split the channels in half, ``tanh(first) * sigmoid(second)``.

    Shape:
        - z: ``(N, 2C, *)``
        - output: ``(N, C, *)``

    >>> gated_activation(torch.zeros(1, 4, 3)).shape
    torch.Size([1, 2, 3])
    """
    _check_gate_input(z)
    a, b = z.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def _check_gate_input(z: Tensor) -> None:
    """:func:`gated_activation`'s check of its input (private; the shape run shares it)."""
    if not isinstance(z, Tensor) or z.dim() < 2 or z.shape[1] % 2:
        got = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise AtrousError(
            f"gated_activation: input must be (N, 2C, *) with an even channel count, got {got}"
        )


def grouped_conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    groups: int = 2,
    stride: IntOrTuple = 1,
    padding: PaddingArg = "same",
    dilation: IntOrTuple = 1,
    shuffle: bool = False,
) -> Tensor:
    """Grouped (dilated) 2-D convolution, optionally followed by :func:`channel_shuffle`.

    Each of the ``groups`` groups of ``C_in/groups`` input channels has its own
    ``C_out/groups`` filters (AlexNet's split); ``shuffle=True`` interleaves the groups' outputs
    (ShuffleNet).

    Shape:
        - x: ``(N, C_in, H, W)``, weight: ``(C_out, C_in/groups, k_h, k_w)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> grouped_conv2d(torch.randn(1, 4, 6, 6), torch.randn(6, 2, 3, 3), groups=2).shape
    torch.Size([1, 6, 6, 6])
    """
    y = dilated_conv2d(x, weight, bias, stride, padding, dilation, groups)
    return channel_shuffle(y, groups) if shuffle else y


AxisPart = tuple[Ints, PaddingArg, Ints]


def _axis_parts(
    stride: IntOrTuple, padding: PaddingArg, dilation: IntOrTuple
) -> tuple[AxisPart, AxisPart]:
    """A 2-D ``(stride, padding, dilation)`` split into its height part (for a ``k x 1``
    convolution) and its width part (for a ``1 x k`` one); "same"/"valid" pass through.

    >>> _axis_parts(2, ((1, 0), (2, 3)), (3, 4))
    (((2, 1), ((1, 0), (0, 0)), (3, 1)), ((1, 2), ((0, 0), (2, 3)), (1, 4)))
    """
    s = as_ints(stride, 2, "stride", 1)
    d = as_ints(dilation, 2, "dilation", 1)
    pads = padding if isinstance(padding, str) else normalize_padding(padding, 2)

    def part(axis: int) -> AxisPart:
        only: PaddingArg = pads if isinstance(pads, str) else tuple(
            pads[a] if a == axis else (0, 0) for a in range(2)
        )
        one = tuple(v if a == axis else 1 for a, v in enumerate(s))
        return one, only, tuple(v if a == axis else 1 for a, v in enumerate(d))

    return part(0), part(1)


def separable_conv2d(
    x: Tensor,
    depthwise_weight: Tensor,
    pointwise_weight: Tensor,
    depthwise_bias: Tensor | None = None,
    pointwise_bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = "same",
    dilation: IntOrTuple = 1,
    norm: Activation | None = None,
    activation: Activation | None = None,
) -> Tensor:
    """Depthwise separable convolution: a dilated depthwise conv, then a 1x1 pointwise conv.

    DeepLabv3+'s atrous separable convolution: the dilation and stride act on the depthwise
    convolution; ``norm`` and ``activation`` (callables, e.g. a BatchNorm module and ``F.relu``)
    are applied between the two when given.

    Args:
        x: ``(N, C_in, H, W)``.
        depthwise_weight: ``(C_in*m, 1, k_h, k_w)`` (``m`` = depth multiplier).
        pointwise_weight: ``(C_out, C_in*m, 1, 1)``.
        depthwise_bias, pointwise_bias: ``(C_in*m,)`` / ``(C_out,)`` or None.
        stride, padding, dilation: of the depthwise convolution (see :func:`dilated_conv2d`).
        norm, activation: optional callables applied (in that order) between the two convs.

    Shape:
        - x: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> x = torch.randn(1, 8, 9, 9)
    >>> separable_conv2d(x, torch.randn(8, 1, 3, 3), torch.randn(16, 8, 1, 1), dilation=2).shape
    torch.Size([1, 16, 9, 9])
    """
    y = depthwise_conv2d(x, depthwise_weight, depthwise_bias, stride, padding, dilation)
    if norm is not None:
        y = norm(y)
    if activation is not None:
        y = activation(y)
    return dilated_conv2d(y, pointwise_weight, pointwise_bias)


def spatial_separable_conv2d(
    x: Tensor,
    vertical_weight: Tensor,
    horizontal_weight: Tensor,
    vertical_bias: Tensor | None = None,
    horizontal_bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = "same",
    dilation: IntOrTuple = 1,
) -> Tensor:
    """Spatially separable convolution: a ``k x 1`` convolution, then a ``1 x k`` one.

    Without biases it equals one ``k x k`` convolution whose kernel is the outer product of the
    two (the tutorial's example), at ``2k`` instead of ``k*k`` weights per channel pair. The height
    part of ``stride``, ``padding`` and ``dilation`` goes to the first convolution, the width part
    to the second.

    Args:
        x: ``(N, C_in, H, W)``.
        vertical_weight: ``(C_mid, C_in, k_h, 1)``.
        horizontal_weight: ``(C_out, C_mid, 1, k_w)``.
        vertical_bias, horizontal_bias: ``(C_mid,)`` / ``(C_out,)`` or None.

    Shape:
        - x: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> v = torch.tensor([0.3, 0.4, 0.5]).view(1, 1, 3, 1)
    >>> h = torch.tensor([0.5, 0.7, 0.8]).view(1, 1, 1, 3)
    >>> x = torch.randn(1, 1, 8, 8)
    >>> full = dilated_conv2d(x, v * h)          # the 3x3 kernel v h^T
    >>> torch.allclose(spatial_separable_conv2d(x, v, h, padding=0), full, atol=1e-6)
    True
    """
    vertical, horizontal = _axis_parts(stride, padding, dilation)
    y = dilated_conv2d(x, vertical_weight, vertical_bias, *vertical)
    return dilated_conv2d(y, horizontal_weight, horizontal_bias, *horizontal)


def flattened_conv(
    x: Tensor,
    channel_weight: Tensor,
    vertical_weight: Tensor,
    horizontal_weight: Tensor,
    channel_bias: Tensor | None = None,
    vertical_bias: Tensor | None = None,
    horizontal_bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = "same",
    dilation: IntOrTuple = 1,
) -> Tensor:
    """Flattened convolution: three 1-D convolutions, across channels, vertical, horizontal.

    The tutorial's decomposition of a ``C x X x Y`` filter into ``C x 1 x 1``, ``1 x X x 1`` and
    ``1 x 1 x Y``: ``C + X + Y`` weights per output channel instead of ``C*X*Y``. Without biases
    each output channel equals a full convolution with the rank-1 filter
    ``channel[o, c] * vertical[o, i] * horizontal[o, j]``.

    Args:
        x: ``(N, C_in, H, W)``.
        channel_weight: ``(C_out, C_in, 1, 1)``.
        vertical_weight: ``(C_out, 1, k_h, 1)`` (depthwise).
        horizontal_weight: ``(C_out, 1, 1, k_w)`` (depthwise).
        channel_bias, vertical_bias, horizontal_bias: ``(C_out,)`` or None.
        stride, padding, dilation: of the spatial part (height to the vertical convolution,
            width to the horizontal one).

    Shape:
        - x: ``(N, C_in, H, W)``
        - output: ``(N, C_out, H_out, W_out)``

    >>> y = flattened_conv(torch.randn(1, 3, 8, 8), torch.randn(4, 3, 1, 1),
    ...                    torch.randn(4, 1, 3, 1), torch.randn(4, 1, 1, 3), dilation=2)
    >>> y.shape
    torch.Size([1, 4, 8, 8])
    """
    vertical, horizontal = _axis_parts(stride, padding, dilation)
    y = dilated_conv2d(x, channel_weight, channel_bias)
    y = depthwise_conv2d(y, vertical_weight, vertical_bias, *vertical)
    return depthwise_conv2d(y, horizontal_weight, horizontal_bias, *horizontal)


def dilated_stack(
    x: Tensor,
    weights: Sequence[Tensor],
    rates: Sequence[int],
    biases: Sequence[Tensor | None] | None = None,
    norms: Sequence[Activation] | None = None,
    activation: Activation | None = F.relu,
    residual: bool = True,
) -> Tensor:
    """A stride-1 ``"same"`` stack of dilated convolutions, optionally residual (HDC block).

    Layer ``i`` is ``conv(rates[i])``, then ``norms[i]``, then ``activation`` except after the
    last layer; with ``residual`` the input is added before the final ``activation``:
    ``activation(x + stack(x))``. The functional twin of :class:`atrous.nn.HDCBlock`.

    Args:
        x: ``(N, C, H, W)``.
        weights: one ``(C_i+1, C_i, k_h, k_w)`` kernel per layer.
        rates: one dilation per layer.
        biases: one bias (or None) per layer.
        norms: one callable per layer, or None.
        activation: a callable, or None for none.
        residual: add the input before the last activation (needs ``C_out == C_in``).

    Shape:
        - x: ``(N, C, H, W)``
        - output: ``(N, C_out, H, W)``

    >>> w = [torch.randn(4, 4, 3, 3) for _ in range(3)]
    >>> dilated_stack(torch.randn(1, 4, 10, 10), w, [1, 2, 3]).shape
    torch.Size([1, 4, 10, 10])
    """
    n = len(weights)
    if len(rates) != n:
        raise AtrousError(
            f"dilated_stack: one rate per weight needed, got {len(rates)} rates for {n} weights"
        )
    if biases is not None and len(biases) != n:
        raise AtrousError(f"dilated_stack: one bias per weight needed, got {len(biases)}")
    if norms is not None and len(norms) != n:
        raise AtrousError(f"dilated_stack: one norm per weight needed, got {len(norms)}")
    h = x
    for i in range(n):
        h = dilated_conv2d(
            h, weights[i], None if biases is None else biases[i], 1, "same", rates[i]
        )
        if norms is not None:
            h = norms[i](h)
        if activation is not None and i < n - 1:
            h = activation(h)
    if residual:
        h = h + x
    if activation is not None:
        h = activation(h)
    return h


def causal_dilated_stack(
    x: Tensor,
    weights: Sequence[Tensor],
    dilations: Sequence[int],
    biases: Sequence[Tensor | None] | None = None,
    gated: bool = False,
    residual: bool = True,
    proj_weights: Sequence[Tensor] | None = None,
    proj_biases: Sequence[Tensor | None] | None = None,
    activation: Activation | None = F.relu,
) -> Tensor:
    """A WaveNet/TCN stack of causal dilated convolutions (functional twin of
    :class:`atrous.nn.CausalDilatedStack`).

    Layer ``i``: ``z = causal_conv(x, weights[i], dilations[i])``; gated: ``h = tanh(z_a) *
    sigmoid(z_b)`` (``z`` split in two along channels) then a 1x1 projection ``proj_weights[i]``;
    otherwise ``h = activation(z)`` (or 1x1-projected when ``proj_weights`` are given). Then
    ``x = x + h`` (residual) or ``x = h``. Causal: output ``t`` sees inputs ``<= t`` only; the
    receptive field is ``1 + (k-1)*sum(dilations)``.

    Shape:
        - x: ``(N, C, L)``
        - output: ``(N, C, L)``

    >>> w = [torch.randn(3, 3, 2) for _ in range(3)]
    >>> causal_dilated_stack(torch.randn(1, 3, 16), w, [1, 2, 4]).shape
    torch.Size([1, 3, 16])
    """
    n = len(weights)
    for label, seq in (
        ("dilation", dilations),
        ("bias", biases),
        ("projection", proj_weights),
        ("projection bias", proj_biases),
    ):
        if seq is not None and len(seq) != n:
            raise AtrousError(
                f"causal_dilated_stack: one {label} per layer needed, got {len(seq)} for {n} layers"
            )
    if gated and proj_weights is None:
        raise AtrousError(
            "causal_dilated_stack: gated=True needs proj_weights (the 1x1 "
            "projection after the gate)"
        )
    for i in range(n):
        z = causal_dilated_conv1d(
            x, weights[i], None if biases is None else biases[i], dilations[i]
        )
        h = gated_activation(z) if gated else activation(z) if activation is not None else z
        if proj_weights is not None:
            h = dilated_conv1d(h, proj_weights[i], None if proj_biases is None else proj_biases[i])
        x = x + h if residual else h
    return x


def _phase_sizes(size: Sequence[int], rate: Ints) -> Ints:
    return tuple(-(-n // r) for n, r in zip(size, rate))


@torch.fx.wrap
def space_to_batch(x: Tensor, rate: IntOrTuple) -> Tensor:
    """Split every spatial axis into its ``rate`` phases and move them into the batch.

    Zeros are appended so each axis is a multiple of its rate; phase ``(a_1, ..., a_n)`` holds
    ``x[..., a_1::r_1, ..., a_n::r_n]`` and goes to batch rows ``p*N : (p+1)*N`` with ``p`` the
    row-major index of the phase (TensorFlow's ``space_to_batch`` in NCHW). A dilated
    convolution with rate ``r`` on ``x`` is a dense convolution on the result.

    Shape:
        - x: ``(N, C, *size)``
        - output: ``(prod(rate)*N, C, *ceil(size/rate))``

    >>> space_to_batch(torch.arange(5.).view(1, 1, 5), 2).tolist()
    [[[0.0, 2.0, 4.0]], [[1.0, 3.0, 0.0]]]
    """
    if not isinstance(x, Tensor) or x.dim() < 3:
        raise AtrousError(
            "space_to_batch: input must be (N, C, *spatial) with at least one spatial "
            f"axis, got {tuple(x.shape) if isinstance(x, Tensor) else x!r}"
        )
    ndim = x.dim() - 2
    r = as_ints(rate, ndim, "rate", 1)
    size = tuple(int(v) for v in x.shape[2:])
    m = _phase_sizes(size, r)
    x = _pad(x, tuple((0, mi * ri - n) for mi, ri, n in zip(m, r, size)))
    n, c = x.shape[0], x.shape[1]
    shape: list[int] = [n, c]
    for mi, ri in zip(m, r):
        shape += [mi, ri]
    x = x.reshape(shape)
    perm = [3 + 2 * a for a in range(ndim)] + [0, 1] + [2 + 2 * a for a in range(ndim)]
    return x.permute(perm).reshape(-1, c, *m)


@torch.fx.wrap
def batch_to_space(x: Tensor, rate: IntOrTuple, size: IntOrTuple) -> Tensor:
    """Inverse of :func:`space_to_batch`: interleave the phases and crop to ``size``.

    Shape:
        - x: ``(prod(rate)*N, C, *m)``
        - output: ``(N, C, *size)`` with ``size <= m*rate``

    >>> x = torch.randn(2, 3, 7, 9)
    >>> torch.equal(batch_to_space(space_to_batch(x, 2), 2, (7, 9)), x)
    True
    """
    if not isinstance(x, Tensor) or x.dim() < 3:
        raise AtrousError(
            "batch_to_space: input must be (B, C, *spatial), got "
            f"{tuple(x.shape) if isinstance(x, Tensor) else x!r}"
        )
    ndim = x.dim() - 2
    r = as_ints(rate, ndim, "rate", 1)
    out = as_ints(size, ndim, "size", 1)
    phases = math.prod(r)
    if x.shape[0] % phases:
        raise AtrousError(
            f"batch_to_space: the batch {x.shape[0]} is not a multiple of the "
            f"{phases} phases of rate {r}"
        )
    m = tuple(int(v) for v in x.shape[2:])
    for axis in range(ndim):
        if out[axis] > m[axis] * r[axis]:
            raise AtrousError(
                f"batch_to_space: size {out[axis]} exceeds {m[axis]}*{r[axis]} (axis {axis})"
            )
    c = x.shape[1]
    x = x.reshape(*r, -1, c, *m)
    perm = [ndim, ndim + 1]
    for axis in range(ndim):
        perm += [ndim + 2 + axis, axis]
    x = x.permute(perm).reshape(-1, c, *(mi * ri for mi, ri in zip(m, r)))
    for axis in range(ndim):
        x = x.narrow(2 + axis, 0, out[axis])
    return x


@torch.fx.wrap
def space_to_batch_stage(
    x: Tensor,
    weights: Sequence[Tensor],
    rate: IntOrTuple,
    biases: Sequence[Tensor | None] | None = None,
    groups: int = 1,
    activation: Activation | None = None,
) -> Tensor:
    """Run a stage of same-rate, stride-1 ``"same"`` dilated convolutions in one space-to-batch.

    TensorFlow's documented trick: ``space_to_batch`` once, a dense ``"same"`` convolution per
    layer on the phases, ``batch_to_space`` once. Equal to
    ``x = activation(dilated_conv(x, w, b, padding="same", dilation=rate))`` per layer, for any
    input size: positions that the phase grid adds beyond the input are zeroed after every layer,
    so they act as the zero padding of the native convolution. Kernels must be odd (an even
    kernel's SAME padding is not a whole number of phases).

    Args:
        x: ``(N, C, *spatial)`` with 1 to 3 spatial axes.
        weights: the layers' kernels ``(C_out, C_in/groups, *k)``, every ``k`` odd.
        rate: the common dilation (int or per axis).
        biases: one bias (or None) per layer, or None.
        groups: channel groups of every layer.
        activation: callable applied after every layer, or None.

    Shape:
        - x: ``(N, C, *size)``
        - output: ``(N, C_out, *size)``

    >>> x, w = torch.randn(1, 2, 9, 11), [torch.randn(2, 2, 3, 3) for _ in range(3)]
    >>> a = space_to_batch_stage(x, w, 4)
    >>> b = x
    >>> for wi in w:
    ...     b = dilated_conv2d(b, wi, padding="same", dilation=4)
    >>> torch.allclose(a, b, atol=1e-4)
    True
    """
    if not isinstance(x, Tensor) or not 3 <= x.dim() <= 5:
        raise AtrousError(
            "space_to_batch_stage: input must be (N, C, *spatial) with 1 to 3 "
            f"spatial axes, got {tuple(x.shape) if isinstance(x, Tensor) else x!r}"
        )
    ndim = x.dim() - 2
    r = as_ints(rate, ndim, "rate", 1)
    groups = as_int(groups, "groups", 1)
    if biases is not None and len(biases) != len(weights):
        raise AtrousError(
            f"space_to_batch_stage: one bias per weight needed, got "
            f"{len(biases)} for {len(weights)} weights"
        )
    size = tuple(int(v) for v in x.shape[2:])
    n = x.shape[0]
    y = space_to_batch(x, r)
    mask: Tensor | None = None
    if any(s % ri for s, ri in zip(size, r)):
        ones = torch.ones((1, 1, *size), dtype=x.dtype, device=x.device)
        mask = space_to_batch(ones, r).repeat_interleave(n, dim=0)
    for i, w in enumerate(weights):
        y = _stage_conv(y, w, None if biases is None else biases[i], groups, i)
        if activation is not None:
            y = activation(y)
        if mask is not None:
            y = y * mask
    return batch_to_space(y, r, size)


def _stage_conv(y: Tensor, w: Tensor, bias: Tensor | None, groups: int, layer: int) -> Tensor:
    """One layer of :func:`space_to_batch_stage`: a dense ``"same"`` convolution of the phases
    (odd kernels only: an even kernel's SAME padding is not a whole number of phases)."""
    ndim = y.dim() - 2
    check_weight(y, w, bias, groups, ndim, "space_to_batch_stage")
    kernel = tuple(int(k) for k in w.shape[2:])
    if any(k % 2 == 0 for k in kernel):
        raise AtrousError(
            f"space_to_batch_stage: kernels must be odd, got {kernel} (layer "
            f"{layer}); run even kernels with dilated_conv2d"
        )
    return _CONV[ndim](y, w, bias, 1, tuple((k - 1) // 2 for k in kernel), 1, groups)


# -- the analysis front end (atrous.fx) reads these ops as analytic layers ----------------------


auto_choices = _impl.auto_choices
clear_auto_choices = _impl.clear_auto_choices

from . import _fx_register  # noqa: E402  (registers the functions above with the fx front end)

del _fx_register
