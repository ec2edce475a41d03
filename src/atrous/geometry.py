"""One geometry: how one output index along one axis reads input indices, for every layer.

Each layer type states its geometry once, as one of the frozen records below, through
:meth:`atrous.layers.Layer.axis_geometry`. Output sizes, receptive fields (:mod:`atrous.rf`),
coverage maps (:mod:`atrous._coverage`), design profiles and tiling halos all read these records;
none of them knows a layer's fields.

- :class:`Identity`: output ``o`` reads input ``o`` (pointwise ops, merges).
- :class:`Taps`: output ``o`` reads ``o*stride - offset + j*dilation`` for ``j < kernel``
  (convolution, pooling, padding, slicing, adaptive pooling of a divisible size).
- :class:`Scatter`: output ``o`` reads every ``i`` with ``i*stride - padding + j*dilation == o``
  for some ``j < kernel`` (transposed convolution; it can read fewer than ``kernel/stride``
  inputs, or none).
- :class:`Sample`: interpolation; output ``o`` samples the source coordinate ``x = a*o + b``
  and reads the nearest pixel (by a rounding rule), the two linear or four cubic neighbours of
  ``x`` (only ``x`` itself when it lands on a pixel), clamped to the input at its borders.
- :class:`Windows`: adaptive pooling, ``floor(o*n/t) <= i < ceil((o+1)*n/t)``.
- :class:`Whole`: every output reads the whole axis (global pooling, dense ops).
- :class:`Unmodelled`: the geometry depends on something not known (an input size that was
  not given, an opaque op); ``reason`` says what, ``fallback`` is an approximation or None.

Every record is periodic: ``reads(o + q) == reads(o) + t`` for ``(q, t) = period`` (on an
unbounded input), which is what lets :mod:`atrous.rf` follow fractional strides exactly.

    >>> Taps(stride=2, offset=1, dilation=2, kernel=3).reads(4)
    range(7, 12, 2)
    >>> Scatter(stride=2, padding=1, dilation=1, kernel=4).reads(5)
    range(2, 4)
    >>> s = interpolation("linear", 10, 25)          # 10 -> 25 pixels, PyTorch's half-pixel rule
    >>> [list(s.reads_within(o)) for o in range(4)]
    [[0], [0, 1], [0, 1], [0, 1]]
    >>> s.period
    (5, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeAlias

import numpy as np

from .errors import AtrousError

__all__ = [
    "AxisGeometry",
    "CoordinateMode",
    "Identity",
    "Interp",
    "NearestMode",
    "Reads",
    "Sample",
    "Scatter",
    "Taps",
    "Unmodelled",
    "Whole",
    "Windows",
    "interpolation",
]

Interp = Literal["nearest", "linear", "cubic"]
"""What an interpolation reads around its source coordinate: 1, 2 or 4 pixels."""
NearestMode = Literal["floor", "ceil", "round_prefer_floor", "round_prefer_ceil"]
"""How ``nearest`` rounds the source coordinate (ONNX's ``nearest_mode`` names)."""
CoordinateMode = Literal[
    "pytorch", "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
    "half_pixel_symmetric",
]
"""How an output index maps to a source coordinate: ``"pytorch"`` is PyTorch's rule for the
mode (asymmetric for ``nearest``, half-pixel otherwise, ``align_corners`` when asked), the
others are ONNX ``Resize``'s ``coordinate_transformation_mode`` values."""


def _drop_outside(r: range, n: int | None) -> range:
    """The reads that land inside ``0..n-1`` (the others read padding)."""
    if n is None or not len(r):
        return r
    lo = r.start if r.start >= 0 else r.start + (-r.start + r.step - 1) // r.step * r.step
    return range(lo, min(r.stop, n), r.step)


@dataclass(frozen=True, slots=True)
class Identity:
    """Output ``o`` reads input ``o``."""

    def reads(self, o: int) -> range:
        """Input indices read by output ``o`` on an unbounded axis."""
        return range(o, o + 1)

    def reads_within(self, o: int, n: int | None = None) -> range:
        """Input indices read by output ``o`` of an input of ``n`` pixels (sorted, distinct):
        reads outside a zero-padded input are dropped, those of an interpolation clamped."""
        return _drop_outside(self.reads(o), n)

    @property
    def period(self) -> tuple[int, int]:
        return (1, 1)

    def input_span(self, n_out: int) -> int:
        """An upper bound on how many consecutive inputs ``n_out`` consecutive outputs read
        (the halo a tile of ``n_out`` outputs needs)."""
        return n_out

    @property
    def fan_in(self) -> int:
        """An upper bound on the inputs one output reads."""
        return 1


@dataclass(frozen=True, slots=True)
class Taps:
    """Output ``o`` reads ``o*stride - offset + j*dilation`` for ``j < kernel``.

    ``offset`` is the left padding (negative for a slice's start). Reads outside the input are
    padding: they reach no input pixel.
    """

    stride: int
    offset: int
    dilation: int
    kernel: int

    def reads(self, o: int) -> range:
        first = o * self.stride - self.offset
        return range(first, first + (self.kernel - 1) * self.dilation + 1, self.dilation)

    def reads_within(self, o: int, n: int | None = None) -> range:
        return _drop_outside(self.reads(o), n)

    @property
    def span(self) -> int:
        """``dilation*(kernel-1)+1``: the extent of one output's reads."""
        return (self.kernel - 1) * self.dilation + 1

    @property
    def period(self) -> tuple[int, int]:
        return (1, self.stride)

    def input_span(self, n_out: int) -> int:
        return (n_out - 1) * self.stride + (self.kernel - 1) * self.dilation + 1

    @property
    def fan_in(self) -> int:
        return self.kernel


@dataclass(frozen=True, slots=True)
class Scatter:
    """Transposed convolution: output ``o`` reads every ``i`` with ``i*stride - padding +
    j*dilation == o`` for some ``j < kernel``."""

    stride: int
    padding: int
    dilation: int
    kernel: int

    def reads(self, o: int) -> range:
        s, d, k = self.stride, self.dilation, self.kernel
        v = o + self.padding  # i*s + j*d == v
        g = math.gcd(s, d)
        if v % g:
            return range(0)
        step = s // g  # consecutive valid j differ by s/g, consecutive i by d/g
        j0 = (v // g) * pow(d // g, -1, step) % step if step > 1 else 0
        if j0 >= k:
            return range(0)
        j1 = j0 + (k - 1 - j0) // step * step
        return range((v - j1 * d) // s, (v - j0 * d) // s + 1, d // g)

    def reads_within(self, o: int, n: int | None = None) -> range:
        return _drop_outside(self.reads(o), n)

    @property
    def period(self) -> tuple[int, int]:
        return (self.stride, 1)

    def input_span(self, n_out: int) -> int:
        return -(-(n_out - 1 + (self.kernel - 1) * self.dilation) // self.stride) + 1

    @property
    def fan_in(self) -> int:
        return -(-self.kernel // (self.stride // math.gcd(self.stride, self.dilation)))


def _round(x: Fraction, rule: NearestMode) -> int:
    if rule == "floor":
        return math.floor(x)
    if rule == "ceil":
        return math.ceil(x)
    if rule == "round_prefer_ceil":
        return math.floor(x + Fraction(1, 2))
    return math.ceil(x - Fraction(1, 2))


@dataclass(frozen=True, slots=True)
class Sample:
    """Interpolation: output ``o`` samples the source coordinate ``x = a*o + b`` (exact).

    Attributes:
        interp: ``nearest`` reads one pixel, ``round(x)`` by ``rounding``; ``linear`` reads
            ``floor(x)`` and the next; ``cubic`` reads ``floor(x) - 1 .. floor(x) + 2``; a
            ``linear``/``cubic`` source that lands on a pixel reads only that pixel (the
            other weights are exactly zero).
        a, b: the affine map from output index to source coordinate.
        n_in: the input size (indices are clamped to ``0..n_in-1``: a border pixel is
            repeated), or None for an unbounded axis.
        rounding: the rounding of ``nearest``.
        float32_scale: PyTorch's ``nearest`` and ``nearest-exact`` compute the index in float32
            (``floor(o * scale)``, ``floor((o + 0.5) * scale)``), which for some ratios picks
            the pixel before the exact one; when set, this is that float32 scale and ``reads``
            reproduces it.
        n_out: the output size (needed with ``float32_scale``: the float32 index is not
            exactly periodic, so one period spans every output).
    """

    interp: Interp
    a: Fraction
    b: Fraction
    n_in: int | None = None
    rounding: NearestMode = "floor"
    float32_scale: float | None = None
    n_out: int | None = None

    def _float32_index(self, o: int) -> int:
        scale = np.float32(self.float32_scale)
        if self.b == 0:
            return int(np.floor(np.float32(o) * scale))
        # nearest-exact: (o + 0.5) is a double in C++, the product is rounded to float32
        return int(np.floor(np.float32(float(o + 0.5) * float(scale))))

    def reads(self, o: int) -> range:
        if self.interp == "nearest":
            i = (self._float32_index(o) if self.float32_scale is not None
                 else _round(self.a * o + self.b, self.rounding))
            return range(i, i + 1)
        x = self.a * o + self.b
        i0 = math.floor(x)
        if x == i0:
            return range(i0, i0 + 1)
        return range(i0, i0 + 2) if self.interp == "linear" else range(i0 - 1, i0 + 3)

    def reads_within(self, o: int, n: int | None = None) -> range:
        r = self.reads(o)
        n = self.n_in if n is None else n
        if n is None:
            return r
        return range(min(max(r[0], 0), n - 1), min(max(r[-1], 0), n - 1) + 1)

    @property
    def period(self) -> tuple[int, int]:
        q, t = self.a.denominator, self.a.numerator
        if self.float32_scale is not None and self.n_out is not None:
            reps = -(-self.n_out // q)
            return (q * reps, t * reps)
        return (q, t)

    @property
    def fan_in(self) -> int:
        return {"nearest": 1, "linear": 2, "cubic": 4}[self.interp]

    def input_span(self, n_out: int) -> int:
        bound = math.ceil((n_out - 1) * self.a) + self.fan_in + 1
        return bound if self.n_in is None else min(bound, self.n_in)


@dataclass(frozen=True, slots=True)
class Windows:
    """Adaptive pooling of ``n_in`` inputs to ``n_out`` outputs (PyTorch's floor/ceil bounds)."""

    n_in: int
    n_out: int

    def reads(self, o: int) -> range:
        return range((o * self.n_in) // self.n_out, -(-(o + 1) * self.n_in // self.n_out))

    def reads_within(self, o: int, n: int | None = None) -> range:
        return self.reads(o)

    @property
    def period(self) -> tuple[int, int]:
        g = math.gcd(self.n_in, self.n_out)
        return (self.n_out // g, self.n_in // g)

    @property
    def fan_in(self) -> int:
        return -(-self.n_in // self.n_out) + 1

    def input_span(self, n_out: int) -> int:
        return min(-(-n_out * self.n_in // self.n_out) + 1, self.n_in)


@dataclass(frozen=True, slots=True)
class Whole:
    """Every output reads the whole axis of ``n_in`` pixels (None: the size is not known)."""

    n_in: int | None

    def reads(self, o: int) -> range:
        return range(self.fan_in)

    def reads_within(self, o: int, n: int | None = None) -> range:
        return self.reads(o)

    @property
    def period(self) -> tuple[int, int]:
        return (1, 0)

    @property
    def fan_in(self) -> int:
        if self.n_in is None:
            raise AtrousError("a global op reads the whole input, whose size is not known")
        return self.n_in

    def input_span(self, n_out: int) -> int:
        return self.fan_in


@dataclass(frozen=True, slots=True)
class Unmodelled:
    """The geometry cannot be stated exactly here.

    Attributes:
        reason: what is missing, for a coverage message (e.g. ``"... depends on the input
            size: pass input_size"``).
        note: the same for a receptive-field note, saying what is assumed instead.
        fallback: the geometry assumed instead (None: the identity).
    """

    reason: str
    note: str
    fallback: Identity | Taps | Sample | None = None


AxisGeometry: TypeAlias = Identity | Taps | Scatter | Sample | Windows | Whole | Unmodelled
"""How one output index along one axis reads input indices."""
Reads: TypeAlias = Taps | Scatter | Sample | Windows | Whole
"""A geometry that reads input pixels (neither the identity nor unmodelled)."""


# -- interpolation ----------------------------------------------------------------------------
def interpolation(
    interp: Interp | str,
    n_in: int | None,
    n_out: int | None,
    *,
    scale: Fraction | None = None,
    align_corners: bool = False,
    coordinate_mode: CoordinateMode = "pytorch",
    nearest_mode: NearestMode | None = None,
    nearest_shortcuts: bool = False,
) -> Identity | Sample:
    """The geometry of one axis of an interpolation from ``n_in`` to ``n_out`` pixels.

    Args:
        interp: ``nearest``, ``linear`` or ``cubic`` (PyTorch's mode names are accepted:
            ``nearest-exact``, ``bilinear``, ``trilinear``, ``bicubic``).
        n_in, n_out: the sizes (``n_in`` None: an unbounded axis, only with ``scale``).
        scale: the factor the runtime samples with (PyTorch's ``scale_factor`` when
            ``recompute_scale_factor`` is not True, ONNX's ``scales``): the source step is
            ``1/scale``. None: ``n_out/n_in``.
        align_corners: PyTorch's flag (only with ``coordinate_mode="pytorch"``).
        coordinate_mode: ``"pytorch"`` or an ONNX ``coordinate_transformation_mode``.
        nearest_mode: ONNX's rounding for ``nearest`` (default ``round_prefer_floor``).
        nearest_shortcuts: PyTorch's 2-D ``nearest`` kernel copies an axis whose size is
            unchanged and reads ``o // 2`` when it doubles, whatever the scale; the 1-D and
            3-D kernels use the float32 index throughout (PyTorch's CPU kernels, checked with
            torch 2.13; its backward pass always takes the shortcuts, so its autograd Jacobian
            can disagree with its forward pass there).

    PyTorch's ``linear`` modes copy an axis whose size is unchanged, whatever the scale;
    ``nearest-exact`` and ``bicubic`` sample it with the scale.

    >>> interpolation("nearest", 10, 7, scale=Fraction(3, 4)).reads(5)   # floor(5 / 0.75)
    range(6, 7)
    >>> interpolation("nearest", 3, 6, coordinate_mode="half_pixel").reads(2)
    range(1, 2)
    """
    mode = str(interp)
    exact_nearest = mode == "nearest-exact"
    kind: Interp = (
        "nearest" if mode.startswith("nearest") else "cubic" if "cubic" in mode else "linear"
    )
    step = _step(n_in, n_out, scale)
    if n_in == 1:
        return Sample(kind, Fraction(0), Fraction(0), 1)
    if coordinate_mode == "pytorch":
        return _torch_sample(kind, exact_nearest, n_in, n_out, step, scale, align_corners,
                             nearest_shortcuts)
    if align_corners:
        raise AtrousError("align_corners=True goes with coordinate_mode='pytorch'; use "
                          "coordinate_mode='align_corners' for ONNX's rule")
    a, b = _onnx_map(coordinate_mode, n_in, n_out, step)
    rule: NearestMode = nearest_mode or "round_prefer_floor"
    if a == 1 and b == 0:
        return Identity()
    return Sample(kind, a, b, n_in, rule if kind == "nearest" else "floor")


def _step(n_in: int | None, n_out: int | None, scale: Fraction | None) -> Fraction:
    if scale is not None:
        if scale <= 0:
            raise AtrousError(f"scale must be > 0, got {scale}")
        return 1 / Fraction(scale)
    if n_in is None or n_out is None:
        raise AtrousError("an interpolation without a scale needs both sizes")
    return Fraction(n_in, n_out)


def _torch_sample(
    kind: Interp, exact_nearest: bool, n_in: int | None, n_out: int | None, step: Fraction,
    scale: Fraction | None, align_corners: bool, shortcuts: bool,
) -> Identity | Sample:
    """PyTorch's rules (``aten/src/ATen/native/UpSample.h``, the CPU kernels)."""
    if kind == "nearest":
        if shortcuts and not exact_nearest and n_out is not None and n_in is not None:
            if n_out == n_in:
                return Identity()  # PyTorch copies, whatever the scale
            if n_out == 2 * n_in:
                return Sample("nearest", Fraction(1, 2), Fraction(0), n_in)
        if n_in is None or n_out is None:  # an integer upsampling of an unknown size: exact
            b = step / 2 - Fraction(1, 2) if exact_nearest else Fraction(0)
            rule: NearestMode = "round_prefer_ceil" if exact_nearest else "floor"
            return Sample("nearest", step, b, n_in, rule)
        f32 = (float(np.float32(1.0 / float(scale))) if scale is not None
               else float(np.float32(n_in) / np.float32(n_out)))
        b = step / 2 - Fraction(1, 2) if exact_nearest else Fraction(0)
        return Sample("nearest", step, b, n_in, "round_prefer_ceil" if exact_nearest else "floor",
                      f32, n_out)
    if align_corners:
        if n_in is None or n_out is None:
            raise AtrousError("align_corners=True needs the input size")
        a = Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)
        return Identity() if a == 1 else Sample(kind, a, Fraction(0), n_in)
    if step == 1 or (kind == "linear" and n_in is not None and n_in == n_out):
        return Identity()
    return Sample(kind, step, step / 2 - Fraction(1, 2), n_in)


def _onnx_map(
    mode: CoordinateMode, n_in: int | None, n_out: int | None, step: Fraction
) -> tuple[Fraction, Fraction]:
    """ONNX ``Resize``'s ``x_original = a * x_resized + b`` for each transformation mode."""
    if mode == "asymmetric":
        return step, Fraction(0)
    if mode == "half_pixel" or (mode == "pytorch_half_pixel" and (n_out is None or n_out > 1)):
        return step, step / 2 - Fraction(1, 2)
    if mode == "pytorch_half_pixel":
        return Fraction(0), Fraction(0)
    if n_in is None or n_out is None:
        raise AtrousError(f"coordinate_mode={mode!r} needs the input size")
    if mode == "align_corners":
        return (Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)), Fraction(0)
    if mode == "half_pixel_symmetric":
        adjustment = Fraction(n_out) * step / n_in
        offset = Fraction(n_in, 2) * (1 - adjustment)
        return step, offset + step / 2 - Fraction(1, 2)
    raise AtrousError(
        "coordinate_mode must be one of 'pytorch', 'half_pixel', 'pytorch_half_pixel', "
        f"'align_corners', 'asymmetric', 'half_pixel_symmetric', got {mode!r}"
    )
