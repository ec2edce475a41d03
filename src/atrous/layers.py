"""Analytic layer descriptions: frozen, validated, per-axis geometry and nothing else.

A layer knows its geometry and how it maps an input size to an output size. What it *means* for
receptive fields or coverage lives in the analyses (:mod:`atrous.rf`, :mod:`atrous.coverage`),
which read these fields. Bad values fail at construction with :class:`~atrous.errors.AtrousError`.

    >>> Conv(3, dilation=2, padding="same", ndim=2)
    Conv(kernel=(3, 3), stride=(1, 1), padding=((2, 2), (2, 2)), dilation=(2, 2), groups=1)
    >>> Conv(3, dilation=2, ndim=2).output_size((64, 64))   # the seeds' example
    (60, 60)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from . import arith
from ._types import IntOrTuple, Ints, Pairs, as_int, as_ints, infer_ndim
from .errors import AtrousError

__all__ = [
    "AdaptivePool",
    "Conv",
    "ConvTranspose",
    "Dense",
    "GlobalPool",
    "Input",
    "Layer",
    "Merge",
    "MergeMode",
    "Opaque",
    "Pad",
    "Pointwise",
    "Pool",
    "PoolMode",
    "Resize",
    "ResizeMode",
    "Slice",
    "Upsample",
    "UpsampleMode",
]

PoolMode = Literal["max", "avg"]
UpsampleMode = Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"]
ResizeMode = Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"]
MergeMode = Literal["add", "concat", "mul"]


def _check_choice(value: Any, allowed: Any, name: str) -> None:
    choices = get_args(allowed)
    if value not in choices:
        raise AtrousError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def _ndim(explicit: int | None, *values: Any) -> int:
    ndim = infer_ndim(*values, default=explicit)
    if ndim is None:
        raise AtrousError("the number of spatial axes is unknown: pass ndim= (1, 2 or 3)")
    if explicit is not None and explicit != ndim:
        raise AtrousError(f"ndim={explicit} disagrees with per-axis values of length {ndim}")
    if ndim not in (1, 2, 3):
        raise AtrousError(f"ndim must be 1, 2 or 3, got {ndim}")
    return ndim


@dataclass(frozen=True, init=False)
class Layer:
    """Base of every analytic layer. ``ndim`` is None for layers valid on any number of axes."""

    kind: ClassVar[str] = "layer"

    @property
    def ndim(self) -> int | None:
        return None

    def output_size(self, size: Ints) -> Ints:
        """Spatial output size for a spatial input size (identity unless overridden)."""
        return tuple(size)

    def _set(self, **values: Any) -> None:
        for key, value in values.items():
            object.__setattr__(self, key, value)


@dataclass(frozen=True, init=False)
class Input(Layer):
    """The graph's input placeholder."""

    kind: ClassVar[str] = "input"
    axes: int

    def __init__(self, ndim: int) -> None:
        self._set(axes=_ndim(ndim))

    @property
    def ndim(self) -> int | None:
        return self.axes


@dataclass(frozen=True, init=False)
class Conv(Layer):
    """A (dilated, strided, grouped) convolution.

    Args:
        kernel: kernel size per axis.
        stride: stride per axis.
        padding: int, per-axis tuple, per-axis ``(left, right)`` pairs, ``"valid"`` or ``"same"``
            (``"same"`` with stride > 1 needs ``size``, as in :func:`atrous.same_padding`).
        dilation: dilation rate per axis.
        groups: channel groups (geometry does not depend on it; it enters parameter counts).
        ndim: number of spatial axes when every other argument is an int.
        in_channels, out_channels, bias: optional, for parameter and MAC counts.
        size: input size, only needed to resolve ``padding="same"`` with stride > 1.
    """

    kind: ClassVar[str] = "conv"
    kernel: Ints
    stride: Ints
    padding: Pairs
    dilation: Ints
    groups: int
    in_channels: int | None = field(default=None, repr=False)
    out_channels: int | None = field(default=None, repr=False)
    bias: bool = field(default=True, repr=False)

    def __init__(
        self,
        kernel: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: arith.PaddingArg = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        *,
        ndim: int | None = None,
        in_channels: int | None = None,
        out_channels: int | None = None,
        bias: bool = True,
        size: IntOrTuple | None = None,
    ) -> None:
        pad_for_ndim = padding if not isinstance(padding, str) else None
        if pad_for_ndim is not None and arith._is_pairs(pad_for_ndim):
            pad_for_ndim = tuple(0 for _ in pad_for_ndim)  # type: ignore[union-attr]
        nd = _ndim(ndim, kernel, stride, dilation, pad_for_ndim, size)
        k = as_ints(kernel, nd, "kernel", 1)
        s = as_ints(stride, nd, "stride", 1)
        d = as_ints(dilation, nd, "dilation", 1)
        n = as_ints(size, nd, "size", 1) if size is not None else None
        pads = arith.normalize_padding(padding, nd, k, s, d, n)
        g = as_int(groups, "groups", 1)
        for name, ch in (("in_channels", in_channels), ("out_channels", out_channels)):
            if ch is not None:
                as_int(ch, name, 1)
                if ch % g:
                    raise AtrousError(f"{name} must be divisible by groups={g}, got {ch}")
        self._set(
            kernel=k, stride=s, padding=pads, dilation=d, groups=g,
            in_channels=in_channels, out_channels=out_channels, bias=bool(bias),
        )

    @property
    def ndim(self) -> int | None:
        return len(self.kernel)

    @property
    def effective_kernel(self) -> Ints:
        """``d*(k-1)+1`` per axis."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))

    def output_size(self, size: Ints) -> Ints:
        out: Ints = arith.conv_output_size(
            tuple(size), self.kernel, self.stride, self.padding, self.dilation
        )
        return out


@dataclass(frozen=True, init=False)
class ConvTranspose(Layer):
    """A transposed convolution (PyTorch's symmetric padding plus ``output_padding``)."""

    kind: ClassVar[str] = "conv_transpose"
    kernel: Ints
    stride: Ints
    padding: Ints
    dilation: Ints
    output_padding: Ints
    groups: int
    in_channels: int | None = field(default=None, repr=False)
    out_channels: int | None = field(default=None, repr=False)
    bias: bool = field(default=True, repr=False)

    def __init__(
        self,
        kernel: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        *,
        ndim: int | None = None,
        in_channels: int | None = None,
        out_channels: int | None = None,
        bias: bool = True,
    ) -> None:
        nd = _ndim(ndim, kernel, stride, padding, dilation, output_padding)
        s = as_ints(stride, nd, "stride", 1)
        d = as_ints(dilation, nd, "dilation", 1)
        op = as_ints(output_padding, nd, "output_padding", 0)
        for axis in range(nd):
            if op[axis] >= max(s[axis], d[axis]):
                raise AtrousError(
                    f"output_padding must be smaller than the stride or the dilation, got "
                    f"output_padding={op[axis]} with stride={s[axis]}, dilation={d[axis]}"
                )
        self._set(
            kernel=as_ints(kernel, nd, "kernel", 1), stride=s,
            padding=as_ints(padding, nd, "padding", 0), dilation=d, output_padding=op,
            groups=as_int(groups, "groups", 1), in_channels=in_channels,
            out_channels=out_channels, bias=bool(bias),
        )

    @property
    def ndim(self) -> int | None:
        return len(self.kernel)

    def output_size(self, size: Ints) -> Ints:
        out: Ints = arith.conv_transpose_output_size(
            tuple(size), self.kernel, self.stride, self.padding, self.dilation,
            self.output_padding,
        )
        return out


@dataclass(frozen=True, init=False)
class Pool(Layer):
    """Max or average pooling with PyTorch's geometry (stride defaults to the kernel)."""

    kind: ClassVar[str] = "pool"
    mode: PoolMode
    kernel: Ints
    stride: Ints
    padding: Ints
    dilation: Ints
    ceil_mode: bool

    def __init__(
        self,
        mode: PoolMode,
        kernel: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        ceil_mode: bool = False,
        *,
        ndim: int | None = None,
    ) -> None:
        _check_choice(mode, PoolMode, "pool mode")
        nd = _ndim(ndim, kernel, stride, padding, dilation)
        k = as_ints(kernel, nd, "kernel", 1)
        p = as_ints(padding, nd, "padding", 0)
        d = as_ints(dilation, nd, "dilation", 1)
        if mode == "avg" and any(v != 1 for v in d):
            raise AtrousError(f"average pooling has no dilation, got dilation={d}")
        for axis in range(nd):
            if p[axis] > k[axis] // 2:
                raise AtrousError(
                    f"pooling padding must be at most half the kernel, got padding={p[axis]} "
                    f"with kernel={k[axis]}"
                )
        self._set(
            mode=mode, kernel=k, stride=as_ints(stride, nd, "stride", 1) if stride is not None
            else k, padding=p, dilation=d, ceil_mode=bool(ceil_mode),
        )

    @property
    def ndim(self) -> int | None:
        return len(self.kernel)

    def output_size(self, size: Ints) -> Ints:
        out: Ints = arith.pool_output_size(
            tuple(size), self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode,
            self.mode,
        )
        return out


@dataclass(frozen=True, init=False)
class GlobalPool(Layer):
    """Pooling over the whole spatial extent (output 1 per axis): every unit sees everything."""

    kind: ClassVar[str] = "global_pool"
    mode: PoolMode

    def __init__(self, mode: PoolMode = "avg") -> None:
        _check_choice(mode, PoolMode, "pool mode")
        self._set(mode=mode)

    def output_size(self, size: Ints) -> Ints:
        return (1,) * len(size)


@dataclass(frozen=True, init=False)
class AdaptivePool(Layer):
    """Adaptive pooling to a fixed output size (PyTorch's window rule: floor/ceil bounds)."""

    kind: ClassVar[str] = "adaptive_pool"
    mode: PoolMode
    target: Ints

    def __init__(self, mode: PoolMode, output_size: IntOrTuple, *, ndim: int | None = None):
        _check_choice(mode, PoolMode, "pool mode")
        nd = _ndim(ndim, output_size)
        self._set(mode=mode, target=as_ints(output_size, nd, "output_size", 1))

    @property
    def ndim(self) -> int | None:
        return len(self.target)

    @property
    def is_global(self) -> bool:
        return all(t == 1 for t in self.target)

    def output_size(self, size: Ints) -> Ints:
        return self.target


@dataclass(frozen=True, init=False)
class Upsample(Layer):
    """Upsampling by an integer scale per axis (nearest, linear/bilinear/bicubic/trilinear).

    Interpolation is modelled per axis, so ``linear``, ``bilinear`` and ``trilinear`` are the
    same rule and any mode is accepted on any number of axes (a 1-D ``bicubic`` describes one
    axis of a 2-D bicubic upsampling), although PyTorch ties each mode to one input rank.
    """

    kind: ClassVar[str] = "upsample"
    scale: Ints
    mode: UpsampleMode
    align_corners: bool

    def __init__(
        self,
        scale: IntOrTuple,
        mode: UpsampleMode = "nearest",
        align_corners: bool = False,
        *,
        ndim: int | None = None,
    ) -> None:
        _check_choice(mode, UpsampleMode, "upsample mode")
        nd = _ndim(ndim, scale)
        if mode == "nearest" and align_corners:
            raise AtrousError("align_corners only applies to the interpolating modes, not nearest")
        self._set(
            scale=as_ints(scale, nd, "scale", 1), mode=mode, align_corners=bool(align_corners)
        )

    @property
    def ndim(self) -> int | None:
        return len(self.scale)

    def output_size(self, size: Ints) -> Ints:
        return tuple(n * f for n, f in zip(size, self.scale))


@dataclass(frozen=True, init=False)
class Resize(Layer):
    """Interpolation to a fixed output size at any ratio (``F.interpolate(size=...)``).

    Which input pixels output ``o`` of an axis reads depends on the input size ``n`` and the
    output size ``m`` of that axis (:meth:`reads`), so analyses need the input size. An integer
    ratio is better written as :class:`Upsample`, whose geometry does not depend on the size.
    Modes are modelled per axis, as for :class:`Upsample`.

    >>> Resize((513, 513), "bilinear").output_size((65, 65))
    (513, 513)
    >>> r = Resize(5, "linear", ndim=1)
    >>> [r.reads(0, 2, o) for o in range(5)]
    [[0], [0, 1], [0, 1], [0, 1], [1]]
    """

    kind: ClassVar[str] = "resize"
    size: Ints
    mode: ResizeMode
    align_corners: bool

    def __init__(
        self,
        size: IntOrTuple,
        mode: ResizeMode = "nearest",
        align_corners: bool = False,
        *,
        ndim: int | None = None,
    ) -> None:
        _check_choice(mode, ResizeMode, "resize mode")
        nd = _ndim(ndim, size)
        if mode.startswith("nearest") and align_corners:
            raise AtrousError(
                f"align_corners only applies to the interpolating modes, not {mode}"
            )
        self._set(size=as_ints(size, nd, "size", 1), mode=mode, align_corners=bool(align_corners))

    @property
    def ndim(self) -> int | None:
        return len(self.size)

    def output_size(self, size: Ints) -> Ints:
        return self.size

    def reads(self, axis: int, in_size: int, o: int, *, clamp: bool = True) -> list[int]:
        """The input pixels (sorted) that output ``o`` of ``axis`` reads with a nonzero weight.

        Linear and cubic modes use PyTorch's source coordinate, exactly: ``(o + 1/2) * n/m - 1/2``
        (``o * (n-1)/(m-1)`` with ``align_corners``), clamped at 0 for the linear modes; a
        source that lands on a pixel reads only that pixel. ``nearest`` and ``nearest-exact``
        reproduce PyTorch's float32 index ``floor(o * (n/m))`` (``floor((o + 1/2) * (n/m))``),
        which for some ratios picks the pixel before the exact one. ``clamp=False`` leaves the
        indices unclamped at the borders (an infinitely extended input).
        """
        n, m = in_size, self.size[axis]
        if self.mode.startswith("nearest"):
            scale = np.float32(n) / np.float32(m)
            pos = np.float32(o) if self.mode == "nearest" else np.float32(o) + np.float32(0.5)
            idx = [int(np.floor(pos * scale))]
            return [min(idx[0], n - 1)] if clamp else idx
        cubic = self.mode == "bicubic"
        if self.align_corners:
            src = Fraction(o * (n - 1), m - 1) if m > 1 else Fraction(0)
        else:
            src = Fraction((2 * o + 1) * n, 2 * m) - Fraction(1, 2)
            if clamp and not cubic and src < 0:
                src = Fraction(0)
        i0 = math.floor(src)
        taps = (-1, 0, 1, 2) if cubic else (0, 1)
        idx = [i0] if src == i0 else [i0 + t for t in taps]
        if clamp:
            idx = [min(max(i, 0), n - 1) for i in idx]
        return sorted(set(idx))


@dataclass(frozen=True, init=False)
class Pad(Layer):
    """Explicit padding (``F.pad``): shifts coordinates, changes no receptive-field size."""

    kind: ClassVar[str] = "pad"
    padding: Pairs

    def __init__(self, padding: Any, *, ndim: int | None = None) -> None:
        if arith._is_pairs(padding):
            nd = _ndim(ndim, tuple(0 for _ in padding))
        else:
            nd = _ndim(ndim, padding)
        self._set(padding=arith.normalize_padding(padding, nd))

    @property
    def ndim(self) -> int | None:
        return len(self.padding)

    def output_size(self, size: Ints) -> Ints:
        return tuple(n + lo + hi for n, (lo, hi) in zip(size, self.padding))


@dataclass(frozen=True, init=False)
class Slice(Layer):
    """``x[..., start:stop:step]`` per axis (``stop`` None means to the end)."""

    kind: ClassVar[str] = "slice"
    start: Ints
    stop: tuple[int | None, ...]
    step: Ints

    def __init__(
        self,
        start: IntOrTuple = 0,
        stop: int | tuple[int | None, ...] | None = None,
        step: IntOrTuple = 1,
        *,
        ndim: int | None = None,
    ) -> None:
        stop_t = stop if isinstance(stop, tuple) else None
        nd = _ndim(ndim, start, step, stop_t)
        stops = stop_t if stop_t is not None else (stop,) * nd
        if len(stops) != nd:
            raise AtrousError(f"stop must have {nd} entries, got {stop!r}")
        self._set(
            start=as_ints(start, nd, "start", 0),
            stop=tuple(None if v is None else as_int(v, "stop") for v in stops),
            step=as_ints(step, nd, "step", 1),
        )

    @property
    def ndim(self) -> int | None:
        return len(self.start)

    def output_size(self, size: Ints) -> Ints:
        out = []
        for n, a, b, s in zip(size, self.start, self.stop, self.step):
            length = len(range(*slice(a, b, s).indices(n)))
            if length < 1:
                raise AtrousError(f"slice {a}:{b}:{s} of an axis of size {n} is empty")
            out.append(length)
        return tuple(out)


@dataclass(frozen=True, init=False)
class Pointwise(Layer):
    """A spatially pointwise op (norm, activation, dropout, 1x1 channel mixing, shuffle, ...)."""

    kind: ClassVar[str] = "pointwise"
    op: str

    def __init__(self, op: str = "identity") -> None:
        if not isinstance(op, str) or not op:
            raise AtrousError(f"op must be a non-empty string, got {op!r}")
        self._set(op=op)


@dataclass(frozen=True, init=False)
class Dense(Layer):
    """An op whose every output reads every spatial position (e.g. Linear over a flattened map).

    Spatial axes collapse to size 1; the receptive field becomes global.
    """

    kind: ClassVar[str] = "dense"
    op: str

    def __init__(self, op: str = "linear") -> None:
        self._set(op=op)

    def output_size(self, size: Ints) -> Ints:
        return (1,) * len(size)


@dataclass(frozen=True, init=False)
class Merge(Layer):
    """Explicit merge of several inputs: ``add``, ``concat`` (channels) or ``mul`` (gating)."""

    kind: ClassVar[str] = "merge"
    mode: MergeMode

    def __init__(self, mode: MergeMode) -> None:
        _check_choice(mode, MergeMode, "merge mode")
        self._set(mode=mode)


@dataclass(frozen=True, init=False)
class Opaque(Layer):
    """An operation atrous does not understand. Analyses that meet it report a partial result."""

    kind: ClassVar[str] = "opaque"
    op: str
    reason: str

    def __init__(self, op: str, reason: str = "no analytic model for this operation") -> None:
        self._set(op=op, reason=reason)

    def output_size(self, size: Ints) -> Ints:
        raise AtrousError(f"the output size of {self.op!r} is unknown: {self.reason}")


def layer_fields(layer: Layer) -> dict[str, Any]:
    """The layer's fields as a JSON-able dict (with its ``kind``)."""
    out: dict[str, Any] = {"kind": layer.kind}
    for f in fields(layer):
        out[f.name] = getattr(layer, f.name)
    return out
