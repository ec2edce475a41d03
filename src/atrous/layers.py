"""Analytic layer descriptions: frozen, validated, per-axis geometry and nothing else.

A layer knows how it maps an input size to an output size and states, once, how one output index
along one axis reads input indices (:meth:`Layer.axis_geometry`, a record of
:mod:`atrous.geometry`). Receptive fields, coverage maps and profiles read that record, never the
layer's fields. Bad values fail at construction with :class:`~atrous.errors.AtrousError`.

    >>> Conv(3, dilation=2, padding="same", ndim=2)
    Conv(kernel=(3, 3), stride=(1, 1), padding=((2, 2), (2, 2)), dilation=(2, 2), groups=1)
    >>> Conv(3, dilation=2, ndim=2).output_size((64, 64))   # the tutorials' example
    (60, 60)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, ClassVar, Literal, cast, get_args

from . import arith
from ._arith_base import at_axis
from ._arith_base import check_choice as _check_choice
from ._arith_conv import check_output_padding, conv_axis
from ._arith_pool import pool_params
from ._types import MAX_INT, IntOrTuple, Ints, Pairs, as_bool, as_int, as_ints, infer_ndim
from .errors import AtrousError
from .geometry import (
    AxisGeometry,
    CoordinateMode,
    Identity,
    NearestMode,
    Sample,
    Scatter,
    Taps,
    Unmodelled,
    Whole,
    Windows,
    interpolation,
)

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
    "interpolate_layer",
]

PoolMode = Literal["max", "avg"]
UpsampleMode = Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"]
ResizeMode = Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"]
MergeMode = Literal["add", "concat", "mul"]


def _ndim(explicit: int | None, *values: Any) -> int:
    ndim = infer_ndim(*values, default=explicit)
    if ndim is None:
        raise AtrousError("the number of spatial axes is unknown: pass ndim= (1, 2 or 3)")
    if explicit is not None and explicit != ndim:
        raise AtrousError(f"ndim={explicit} disagrees with per-axis values of length {ndim}")
    if ndim not in (1, 2, 3):
        raise AtrousError(f"ndim must be 1, 2 or 3, got {ndim}")
    return ndim


def _cached_size(layer: Layer, size: Ints, compute: Callable[[Ints], Ints]) -> Ints:
    """``compute(size)``, remembered per (immutable) layer for a tuple of plain ints; a size
    the layer refuses is not remembered, so it raises every time."""
    if type(size) is not tuple or not all(type(v) is int for v in size):
        return compute(tuple(size))
    cache: dict[Ints, Ints] | None = layer.__dict__.get("_sizes")
    if cache is None:
        cache = layer.__dict__.setdefault("_sizes", {})
    out = cache.get(size)
    if out is None:
        out = cache[size] = compute(size)
    return out


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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        """How one output index along ``axis`` reads input indices (:mod:`atrous.geometry`).

        ``n_in`` is the input size along the axis when known; layers whose reads depend on it
        return :class:`~atrous.geometry.Unmodelled` without it. Identity unless overridden.
        """
        return Identity()

    def _set(self, **values: Any) -> None:
        self.__dict__.update(values)  # frozen: fields are set once, here


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


def _simple_padding(padding: Any, k: int, s: int, d: int) -> tuple[int, int] | None:
    """``(left, right)`` for an int, ``"valid"``, or ``"same"`` at stride 1; else None."""
    if type(padding) is int:
        return (padding, padding) if padding >= 0 else None
    if type(padding) is not str:
        return None
    if padding == "valid":
        return (0, 0)
    if padding == "same" and s == 1:
        total = d * (k - 1)
        return (total // 2, total - total // 2)
    return None


def _plain_ints(values: tuple[Any, ...], minimum: int) -> bool:
    """Every value a plain int (no bool) in ``[minimum, MAX_INT)``: what ``as_ints`` accepts
    unchanged."""
    return all(type(v) is int and minimum <= v < MAX_INT for v in values)


def _plain_conv(kernel: Any, stride: Any, padding: Any, dilation: Any, groups: Any, ndim: Any,
                in_channels: Any, out_channels: Any, size: Any) -> bool:
    """True when :class:`Conv`'s arguments are already in its normal form, valid: ``ndim`` of
    1-3, kernel, stride and dilation tuples of that many ints >= 1, padding that many
    ``(left, right)`` tuples of ints >= 0, groups an int >= 1 dividing the channel counts (ints
    >= 1 or None), ``size`` None or that many ints >= 1. The general path would return the
    same values (new tuples, equal) for them."""
    if not (type(ndim) is int and 1 <= ndim <= 3 and type(kernel) is tuple
            and type(stride) is tuple and type(dilation) is tuple and type(padding) is tuple
            and len(kernel) == ndim and len(stride) == ndim and len(dilation) == ndim
            and len(padding) == ndim and type(groups) is int and 1 <= groups < MAX_INT
            and _plain_ints(kernel, 1) and _plain_ints(stride, 1)
            and _plain_ints(dilation, 1)):
        return False
    for pair in padding:
        if type(pair) is not tuple or len(pair) != 2 or not _plain_ints(pair, 0):
            return False
    for ch in (in_channels, out_channels):
        if ch is not None and (type(ch) is not int or not 1 <= ch < MAX_INT or ch % groups):
            return False
    return size is None or (type(size) is tuple and len(size) == ndim and _plain_ints(size, 1))


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
        if (  # the common case, without the general normalisation (stack() builds many)
            type(kernel) is int and type(stride) is int and type(dilation) is int
            and type(groups) is int and type(ndim) is int and ndim in (1, 2, 3) and size is None
            and in_channels is None and out_channels is None
            and min(kernel, stride, dilation, groups) >= 1
        ):
            pair = _simple_padding(padding, kernel, stride, dilation)
            if pair is not None:
                self._set(kernel=(kernel,) * ndim, stride=(stride,) * ndim,
                          padding=(pair,) * ndim, dilation=(dilation,) * ndim, groups=groups,
                          in_channels=None, out_channels=None, bias=bool(bias))
                return
        if _plain_conv(kernel, stride, padding, dilation, groups, ndim, in_channels,
                       out_channels, size):
            # per-axis tuples of plain ints in range, as the front ends build them: what the
            # general normalisation below returns for them, without its per-value checks
            self._set(kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, in_channels=in_channels, out_channels=out_channels,
                      bias=bool(bias))
            return
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
        return _cached_size(self, size, self._output_size)

    def _output_size(self, size: Ints) -> Ints:
        k = self.kernel
        nd = len(k)
        if len(size) == nd and all(type(v) is int and v >= 1 for v in size):
            # the layer was validated when built: only the size needs checking
            s, p, d = self.stride, self.padding, self.dilation
            return tuple(conv_axis(size[a], k[a], s[a], p[a], d[a], at_axis(a, nd, False))
                         for a in range(nd))
        out: Ints = arith.conv_output_size(
            tuple(size), self.kernel, self.stride, self.padding, self.dilation
        )
        return out

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        """``o*stride - pad_left + j*dilation`` for ``j < kernel``.

        >>> Conv(3, stride=2, padding=1, ndim=1).axis_geometry(0)
        Taps(stride=2, offset=1, dilation=1, kernel=3)
        """
        # an immutable layer: computed once
        cache: dict[int, Taps] = self.__dict__.setdefault("_taps", {})
        taps = cache.get(axis)
        if taps is None:
            taps = cache[axis] = Taps(self.stride[axis], self.padding[axis][0],
                                      self.dilation[axis], self.kernel[axis])
        return taps


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
        scalar = infer_ndim(kernel, stride, padding, dilation, output_padding) is None
        op = check_output_padding(as_ints(output_padding, nd, "output_padding", 0), s, d, scalar)
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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        return Scatter(self.stride[axis], self.padding[axis], self.dilation[axis],
                       self.kernel[axis])


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
        scalar = infer_ndim(kernel, stride, padding, dilation) is None
        k, s, p, d = pool_params(kernel, stride, padding, dilation, mode, nd, scalar)
        self._set(mode=mode, kernel=k, stride=s, padding=p, dilation=d,
                  ceil_mode=as_bool(ceil_mode, "ceil_mode"))

    @property
    def ndim(self) -> int | None:
        return len(self.kernel)

    def output_size(self, size: Ints) -> Ints:
        return _cached_size(self, size, self._output_size)

    def _output_size(self, size: Ints) -> Ints:
        out: Ints = arith.pool_output_size(
            tuple(size), self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode,
            self.mode,
        )
        return out

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        return Taps(self.stride[axis], self.padding[axis], self.dilation[axis],
                    self.kernel[axis])


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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        return Whole(n_in)


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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        """PyTorch's windows ``floor(o*n/t) <= i < ceil((o+1)*n/t)``; global for ``t == 1``."""
        t = self.target[axis]
        if t == 1:
            return Whole(n_in)
        if n_in is None:
            return Unmodelled(
                f"{self.kind} has windows that depend on the size: pass input_size to map its "
                "coverage",
                f"adaptive pooling to {t} cells has windows that depend on the input size, which "
                "was not given; modelled as the identity (a lower bound)",
            )
        if n_in % t == 0:
            w = n_in // t
            return Taps(w, 0, 1, w)
        return Windows(n_in, t)


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
        align = as_bool(align_corners, "align_corners")
        nd = _ndim(ndim, scale)
        if mode == "nearest" and align:
            raise AtrousError("align_corners only applies to the interpolating modes, not nearest")
        self._set(scale=as_ints(scale, nd, "scale", 1), mode=mode, align_corners=align)

    @property
    def ndim(self) -> int | None:
        return len(self.scale)

    def output_size(self, size: Ints) -> Ints:
        return tuple(n * f for n, f in zip(size, self.scale))

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        """Nearest reads ``o // scale``; the interpolating modes PyTorch's half-pixel rule
        (``align_corners=True`` needs ``n_in``; without it, half-pixel is assumed).

        >>> Upsample(2, "linear", ndim=1).axis_geometry(0).reads(3)   # source 1.25
        range(1, 3)
        """
        f = self.scale[axis]
        if f == 1:
            return Identity()
        if self.mode == "nearest":
            return Sample("nearest", Fraction(1, f), Fraction(0), n_in)
        if self.align_corners and n_in is None:
            return Unmodelled(
                "upsampling with align_corners=True depends on the input size: pass input_size",
                "upsample with align_corners=True samples non-uniformly; without an input size "
                "it is modelled as align_corners=False",
                interpolation(self.mode, None, None, scale=Fraction(f)),
            )
        return interpolation(self.mode, n_in, None if n_in is None else n_in * f,
                             scale=Fraction(f), align_corners=self.align_corners)


def _scale_factor(value: Any, nd: int) -> tuple[Fraction, ...]:
    """Per-axis scale factors as exact Fractions (a float is read as its shortest decimal)."""
    values = list(value) if isinstance(value, (tuple, list)) else [value] * nd
    if len(values) != nd:
        raise AtrousError(f"scale_factor must have {nd} entries (one per axis), got {value!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, Fraction)) or (
            isinstance(v, float) and not math.isfinite(v)
        ):
            raise AtrousError(f"scale_factor must be a finite number > 0, got {v!r}")
        f = Fraction(repr(v)) if isinstance(v, float) else Fraction(v)
        if f <= 0:
            raise AtrousError(f"scale_factor must be > 0, got {v!r}")
        out.append(f)
    return tuple(out)


_COORDINATE_MODES = get_args(CoordinateMode)
_NEAREST_MODES = get_args(NearestMode)


@dataclass(frozen=True, init=False)
class Resize(Layer):
    """Interpolation at any ratio: ``F.interpolate(size=...)``/``(scale_factor=...)``, ONNX
    ``Resize``.

    Which input pixels output ``o`` of an axis reads depends on the input size ``n`` and the
    output size ``m`` of that axis (:meth:`reads`), so analyses need the input size. An integer
    ratio is better written as :class:`Upsample`, whose geometry does not depend on the size.
    Modes are modelled per axis, as for :class:`Upsample`.

    Args:
        size: the output size per axis, or None with ``scale_factor`` (then the output is
            ``floor(n * scale_factor)``, PyTorch's and ONNX's rule).
        mode: ``nearest``, ``nearest-exact``, ``linear``/``bilinear``/``trilinear`` or
            ``bicubic``.
        align_corners: PyTorch's ``align_corners`` (interpolating modes only).
        scale_factor: the factor the runtime *samples* with, per axis: the source step is
            ``1/scale_factor``, not ``n/m``. PyTorch does so when ``F.interpolate`` gets
            ``scale_factor=`` and ``recompute_scale_factor`` is not True (with
            ``recompute_scale_factor=True``, or with ``size=``, leave it None); ONNX ``Resize``
            does so when it gets ``scales``. Ignored with ``align_corners`` (PyTorch ignores it
            too). A float is read as its shortest decimal (``2.05`` is ``41/20``).
        coordinate_mode: ``"pytorch"`` (default): PyTorch's rule for the mode: ``nearest`` is
            ``floor(o * step)``, ``nearest-exact`` is ``floor((o + 1/2) * step)``, both in
            float32 as PyTorch computes them, and the interpolating modes read around
            ``(o + 1/2) * step - 1/2`` (``o * (n-1)/(m-1)`` with ``align_corners``); an axis
            whose size does not change is copied by the linear modes (and by 2-D ``nearest``,
            which also reads ``o // 2`` when the size doubles), whatever the scale, as
            PyTorch's forward kernels do (see :func:`atrous.geometry.interpolation`). Otherwise
            ONNX ``Resize``'s ``coordinate_transformation_mode``, computed exactly:
            ``half_pixel`` ``(o + 1/2) * step - 1/2``; ``pytorch_half_pixel`` the same but 0
            when ``m == 1``; ``align_corners`` ``o * (n-1)/(m-1)``; ``asymmetric``
            ``o * step``; ``half_pixel_symmetric`` (opset 19) the half-pixel rule centred on
            the input. (``tf_crop_and_resize`` needs a region of interest and is not modelled.)
        nearest_mode: with an ONNX ``coordinate_mode`` and a ``nearest`` mode: ONNX's
            ``nearest_mode``: ``round_prefer_floor`` (ONNX's default), ``round_prefer_ceil``,
            ``floor`` or ``ceil``. ONNX's ``cubic`` mode is ``bicubic`` here; the support of
            its weights does not depend on ``cubic_coeff_a`` or ``exclude_outside``.
        ndim: number of spatial axes when ``size`` is an int.

    >>> Resize((513, 513), "bilinear").output_size((65, 65))
    (513, 513)
    >>> r = Resize(5, "linear", ndim=1)
    >>> [r.reads(0, 2, o) for o in range(5)]
    [[0], [0, 1], [0, 1], [0, 1], [1]]
    >>> up = Resize(None, "linear", scale_factor=2.5, ndim=1)   # samples every 0.4 pixel
    >>> up.output_size((23,)), up.reads(0, 23, 5)
    ((57,), [1, 2])
    """

    kind: ClassVar[str] = "resize"
    size: Ints | None
    mode: ResizeMode
    align_corners: bool
    scale_factor: tuple[Fraction, ...] | None = field(default=None, repr=False)
    coordinate_mode: CoordinateMode = field(default="pytorch", repr=False)
    nearest_mode: NearestMode | None = field(default=None, repr=False)

    def __init__(
        self,
        size: IntOrTuple | None,
        mode: ResizeMode = "nearest",
        align_corners: bool = False,
        *,
        ndim: int | None = None,
        scale_factor: float | Fraction | tuple[float | Fraction, ...] | None = None,
        coordinate_mode: CoordinateMode = "pytorch",
        nearest_mode: NearestMode | None = None,
    ) -> None:
        _check_choice(mode, ResizeMode, "resize mode")
        _check_choice(coordinate_mode, CoordinateMode, "coordinate_mode")
        align = as_bool(align_corners, "align_corners")
        sf_shape = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else None
        nd = _ndim(ndim, size, sf_shape)
        if mode.startswith("nearest") and align:
            raise AtrousError(
                f"align_corners only applies to the interpolating modes, not {mode}"
            )
        if size is None and scale_factor is None:
            raise AtrousError("a resize needs an output size or a scale_factor")
        if coordinate_mode != "pytorch" and align:
            raise AtrousError("align_corners=True is PyTorch's rule; with an ONNX coordinate_mode "
                              "write coordinate_mode='align_corners'")
        if nearest_mode is not None:
            _check_choice(nearest_mode, NearestMode, "nearest_mode")
            if coordinate_mode == "pytorch" or not mode.startswith("nearest"):
                raise AtrousError("nearest_mode applies to a nearest mode with an ONNX "
                                  f"coordinate_mode, got mode={mode!r}, "
                                  f"coordinate_mode={coordinate_mode!r}")
        self._set(
            size=None if size is None else as_ints(size, nd, "size", 1), mode=mode,
            align_corners=align,
            scale_factor=None if scale_factor is None else _scale_factor(scale_factor, nd),
            coordinate_mode=coordinate_mode, nearest_mode=nearest_mode,
        )

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={getattr(self, name)!r}"
            for name, default in (("scale_factor", None), ("coordinate_mode", "pytorch"),
                                  ("nearest_mode", None))
            if getattr(self, name) != default
        )
        return (f"Resize(size={self.size!r}, mode={self.mode!r}, "
                f"align_corners={self.align_corners!r}{extra})")

    @property
    def ndim(self) -> int | None:
        per_axis = self.size if self.size is not None else self.scale_factor
        assert per_axis is not None
        return len(per_axis)

    def output_size(self, size: Ints) -> Ints:
        if self.size is not None:
            return self.size
        assert self.scale_factor is not None
        out = tuple(math.floor(n * float(f)) for n, f in zip(size, self.scale_factor))
        if min(out) < 1:
            raise AtrousError(f"resizing {tuple(size)} by {self.scale_factor} leaves an empty "
                              "axis")
        return out

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        what = (f"resizing to {self.size[axis]}" if self.size is not None
                else f"resizing by {self.scale_factor[axis] if self.scale_factor else 1}")
        if n_in is None:
            return Unmodelled(
                f"{what} reads pixels that depend on the input size: pass input_size",
                f"{what} reads pixels that depend on the input size, which was not given; "
                "modelled as the identity (a lower bound)",
            )
        if self.size is not None:
            n_out = self.size[axis]
        else:
            assert self.scale_factor is not None
            n_out = math.floor(n_in * float(self.scale_factor[axis]))
        scale = None if self.scale_factor is None or self.align_corners else (
            self.scale_factor[axis])
        return interpolation(
            self.mode, n_in, n_out, scale=scale, align_corners=self.align_corners,
            coordinate_mode=self.coordinate_mode, nearest_mode=self.nearest_mode,
            nearest_shortcuts=self.ndim == 2,
        )

    def reads(self, axis: int, in_size: int, o: int, *, clamp: bool = True) -> list[int]:
        """The input pixels (sorted) that output ``o`` of ``axis`` reads with a nonzero weight.

        The rule is :meth:`axis_geometry`'s (see the class docstring); ``clamp=False`` leaves
        the indices unclamped at the borders (an infinitely extended input).
        """
        geom = self.axis_geometry(axis, in_size)
        assert not isinstance(geom, (Unmodelled, Whole))
        return list(geom.reads_within(o) if clamp else geom.reads(o))


def interpolate_layer(
    in_size: IntOrTuple,
    out_size: IntOrTuple,
    mode: str,
    align_corners: bool | None = None,
    scale_factor: float | Fraction | tuple[float | Fraction, ...] | None = None,
    recompute_scale_factor: bool | None = None,
) -> Layer:
    """The layer for one ``F.interpolate`` call, as a front end sees it (sizes from a trace).

    PyTorch samples with ``1/scale_factor`` when ``scale_factor`` is given and
    ``recompute_scale_factor`` is not True, so a scale that is not exactly ``out/in`` gives a
    :class:`Resize` that carries it, even when ``out`` is a multiple of ``in``. Otherwise:
    the identity for an unchanged size, :class:`Upsample` for an integer ratio, a strided
    :class:`Slice` for nearest downsampling by an integer, :class:`AdaptivePool` for ``area``
    (which ignores the scale), a :class:`Resize` for any other ratio.

    >>> interpolate_layer(50, 100, "linear")
    Upsample(scale=(2,), mode='linear', align_corners=False)
    >>> interpolate_layer(50, 100, "linear", scale_factor=2.01)   # samples every 1/2.01 pixel
    Resize(size=(100,), mode='linear', align_corners=False, scale_factor=(Fraction(201, 100),))
    """
    sin = as_ints(in_size, infer_ndim(in_size, out_size, default=1) or 1, "in_size", 1)
    nd = len(sin)
    sout = as_ints(out_size, nd, "out_size", 1)
    align = bool(align_corners) and not mode.startswith("nearest") and mode != "area"
    if mode == "area":
        return Pointwise("interpolate:area") if sin == sout else AdaptivePool("avg", sout)
    sampled = None
    if scale_factor is not None and not recompute_scale_factor and not align:
        sampled = _scale_factor(scale_factor, nd)
        if all(f == Fraction(o, i) for f, o, i in zip(sampled, sout, sin)):
            sampled = None  # samples at the size ratio anyway
    if sampled is None:
        if sin == sout:
            return Pointwise(f"interpolate:{mode}")
        if all(o % i == 0 for o, i in zip(sout, sin)):
            up = "nearest" if mode == "nearest-exact" else mode  # Upsample checks it
            return Upsample(tuple(o // i for o, i in zip(sout, sin)), cast("UpsampleMode", up),
                            align)
        if mode == "nearest" and all(i % o == 0 for o, i in zip(sout, sin)):
            return Slice(0, None, tuple(i // o for o, i in zip(sout, sin)))
    return Resize(sout, cast("ResizeMode", mode), align, scale_factor=sampled)  # Resize checks it


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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        return Taps(1, self.padding[axis][0], 1, 1)


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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        return Taps(self.step[axis], -self.start[axis], 1, 1)


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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        return Whole(n_in)


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

    def axis_geometry(self, axis: int, n_in: int | None = None) -> AxisGeometry:
        return Unmodelled(
            f"{self.op!r} is opaque ({self.reason})",
            f"{self.op!r} is opaque ({self.reason}); the receptive field after it is computed "
            "as if it were the identity (a lower bound only if the op moves no pixel)",
        )


def layer_fields(layer: Layer) -> dict[str, Any]:
    """The layer's fields as a JSON-able dict (with its ``kind``)."""
    out: dict[str, Any] = {"kind": layer.kind}
    for f in fields(layer):
        value = getattr(layer, f.name)
        if isinstance(value, tuple) and value and isinstance(value[0], Fraction):
            value = tuple(str(v) for v in value)
        out[f.name] = value
    return out
