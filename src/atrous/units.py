"""Physical units: receptive fields, strides, halos and buffers in seconds or millimetres.

A 1-D signal sampled at ``sample_rate`` Hz has one sample every ``1/sample_rate`` s; an image or
volume with a pixel ``spacing`` of ``MM`` per axis has pixels ``MM`` millimetres apart. A length
of ``n`` samples (or pixels) is then ``n / sample_rate`` seconds (``n * spacing`` mm): the
receptive field of a WaveNet with rates 1..512 repeated 3 times and kernel 2 is 3070 samples,
191.9 ms at 16 kHz:

    >>> Units(sample_rate=16000).length(3070)
    '191.9 ms'
    >>> Units(spacing=(0.5, 0.25)).length(129, axis=1)
    '32.25 mm'
    >>> parse_spacing("0.5x0.5x2")
    (0.5, 0.5, 2.0)
    >>> parse_sample_rate("16kHz")
    16000.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ._types import Ints
from .errors import AtrousError

__all__ = [
    "Units",
    "add_unit_arguments",
    "add_units",
    "format_duration",
    "format_millimetres",
    "format_size",
    "parse_sample_rate",
    "parse_size",
    "parse_spacing",
    "print_units",
    "units_dict",
    "units_lines",
    "units_pairs",
]


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AtrousError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise AtrousError(f"{name} must be a positive number, got {text!r}")
    return value


def parse_sample_rate(value: Any) -> float:
    """A sample rate in Hz from a number or text (``"16000"``, ``"16k"``, ``"16 kHz"``).

    >>> parse_sample_rate(8000), parse_sample_rate("44.1k")
    (8000.0, 44100.0)
    """
    if isinstance(value, bool):
        raise AtrousError(f"sample rate must be a positive number of Hz, got {value!r}")
    if isinstance(value, (int, float)):
        return _finite_period(_number(str(value), "sample rate"), value)
    text = str(value).strip().lower().replace(" ", "")
    m = re.fullmatch(r"([0-9.eE+-]+)(k|khz|hz|mhz)?", text)
    if not m:
        raise AtrousError(f"sample rate must be a number of Hz like 16000 or 16k, got {value!r}")
    scale = {None: 1.0, "hz": 1.0, "k": 1e3, "khz": 1e3, "mhz": 1e6}[m.group(2)]
    return _finite_period(_number(m.group(1), "sample rate") * scale, value)


def _finite_period(rate: float, value: Any) -> float:
    """``rate`` when both it and one sample's duration ``1/rate`` are finite numbers."""
    if not math.isfinite(rate) or not math.isfinite(1.0 / rate):
        raise AtrousError(f"sample rate must be a positive number of Hz whose period 1/rate is "
                          f"finite, got {value!r}")
    return rate


def parse_spacing(value: Any, ndim: int | None = None) -> tuple[float, ...]:
    """Pixel spacing in millimetres per axis from ``"0.5x0.5"`` (or one number for every axis).

    >>> parse_spacing("0.8", ndim=3)
    (0.8, 0.8, 0.8)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        parts: list[Any] = [value]
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        parts = list(value)
    else:
        parts = [p for p in str(value).lower().replace("mm", "").split("x")]
    spacing = tuple(_number(str(p).strip(), "spacing") for p in parts)
    if ndim is not None:
        if len(spacing) == 1:
            spacing = spacing * ndim
        elif len(spacing) != ndim:
            entries = "1 entry (mm)" if ndim == 1 else f"1 or {ndim} entries (mm per axis)"
            raise AtrousError(f"spacing must have {entries} for {ndim}-D data, got {value!r}")
    return spacing


def parse_size(value: Any, name: str = "size") -> Ints:
    """A size per axis from ``"512x512"`` (or an int, or a tuple); every entry >= 1.

    >>> parse_size("1x3x64x48")
    (1, 3, 64, 48)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        parts: list[Any] = [value]
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        parts = list(value)
    else:
        parts = str(value).lower().split("x")
    out = []
    for p in parts:
        try:
            v = int(str(p).strip())
        except ValueError:
            raise AtrousError(f"{name} must be integers joined by 'x' like 512x512, got "
                              f"{value!r}") from None
        if v < 1:
            raise AtrousError(f"{name} entries must be >= 1, got {v} in {value!r}")
        out.append(v)
    return tuple(out)


def format_duration(seconds: float) -> str:
    """``0.191875`` -> ``'191.9 ms'`` (4 significant digits, s / ms / µs).

    >>> format_duration(2.5), format_duration(1 / 16000)
    ('2.5 s', '62.5 µs')
    """
    if seconds == 0:
        return "0 s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale or unit == "µs":
            return f"{seconds / scale:.4g} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_millimetres(mm: float) -> str:
    """``32.25`` -> ``'32.25 mm'``; metres above 1000 mm, µm below 0.1 mm.

    >>> format_millimetres(1536.0), format_millimetres(0.05)
    ('1.536 m', '50 µm')
    """
    if abs(mm) >= 1000:
        return f"{mm / 1000:.4g} m"
    if 0 < abs(mm) < 0.1:
        return f"{mm * 1000:.4g} µm"
    return f"{mm:.4g} mm"


def format_size(nbytes: float) -> str:
    """Bytes as ``'1.5 GiB'``.

    >>> format_size(3 * 2**20)
    '3 MiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(nbytes) < 1024 or unit == "GiB":
            return f"{nbytes:.4g} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Units:
    """The physical size of one sample (``sample_rate`` in Hz, 1-D) or one pixel (``spacing``
    in mm per axis). Both None: lengths stay in pixels."""

    sample_rate: float | None = None
    spacing: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.sample_rate is not None and self.spacing is not None:
            raise AtrousError("give a sample rate (1-D signals) or a spacing (images), not both")
        if self.sample_rate is not None:
            object.__setattr__(self, "sample_rate", parse_sample_rate(self.sample_rate))
        if self.spacing is not None:
            object.__setattr__(self, "spacing", parse_spacing(self.spacing))

    @classmethod
    def from_args(cls, args: Any) -> Units:
        """The ``--sample-rate`` / ``--spacing`` of a command's parsed arguments (either may
        be missing: no unit)."""
        return cls(sample_rate=getattr(args, "sample_rate", None),
                   spacing=getattr(args, "spacing", None))

    @property
    def active(self) -> bool:
        return self.sample_rate is not None or self.spacing is not None

    def check_ndim(self, ndim: int) -> Units:
        """These units for a network with ``ndim`` axes (a one-entry spacing broadcast)."""
        if self.sample_rate is not None and ndim != 1:
            raise AtrousError(f"--sample-rate is for 1-D signals; this network has {ndim} axes "
                              "(use --spacing MMxMM)")
        if self.spacing is not None:
            return Units(spacing=parse_spacing(self.spacing, ndim))
        return self

    def value(self, pixels: float | Fraction, axis: int = 0) -> float | None:
        """``pixels`` in seconds (sample rate) or millimetres (spacing); None without units."""
        if self.sample_rate is not None:
            return float(pixels) / self.sample_rate
        if self.spacing is not None:
            sp = self.spacing[axis] if axis < len(self.spacing) else self.spacing[-1]
            return float(pixels) * sp
        return None

    def length(self, pixels: float | Fraction, axis: int = 0) -> str:
        """``pixels`` as text in the physical unit (``''`` without units)."""
        v = self.value(pixels, axis)
        if v is None:
            return ""
        return format_duration(v) if self.sample_rate is not None else format_millimetres(v)

    def where(self) -> str:
        """``'at 16 kHz'`` or ``'at 0.5x0.5 mm spacing'``."""
        if self.sample_rate is not None:
            sr = self.sample_rate
            return f"at {sr / 1000:g} kHz" if sr >= 1000 else f"at {sr:g} Hz"
        if self.spacing is not None:
            return f"at {'x'.join(f'{s:g}' for s in self.spacing)} mm spacing"
        return ""

    def per_axis(self, values: Sequence[float | Fraction], unit: str = "pixels") -> str:
        """``'3070 samples = 191.9 ms'``: values per axis in pixels and physical units."""
        name = "samples" if self.sample_rate is not None and unit == "pixels" else unit
        px = "x".join(str(v) for v in values)
        if not self.active:
            return f"{px} {name}"
        phys = " x ".join(self.length(v, ax) for ax, v in enumerate(values))
        return f"{px} {name} = {phys}"


def units_lines(rf: Any, units: Units, *, halo: Sequence[tuple[int, int]] | None = None,
                buffers: int | None = None) -> list[str]:
    """Lines that state a receptive field (and a halo, a stream buffer) in physical units.

    Args:
        rf: an :class:`atrous.ReceptiveField` (``size`` and ``stride`` per axis).
        units: the physical size of a sample / pixel.
        halo: a tile plan's halo per axis, ``(before, after)``.
        buffers: a stream's total buffered samples.

    >>> from atrous import receptive_field
    >>> rf = receptive_field(", ".join(f"2 d{2**i}" for i in range(10)) * 1)
    >>> units_lines(rf, Units(sample_rate=16000))[0]
    'receptive field 1024 samples = 64 ms at 16 kHz'
    """
    if not units.active:
        return []
    units = units.check_ndim(rf.ndim)
    where = units.where()
    if _unsized(rf):
        lines = [f"receptive field global (the whole input, of no given size) {where}"]
    else:
        lines = [f"receptive field {units.per_axis(rf.size)} {where}"]
    if not rf.is_global:
        lines.append(f"effective stride {units.per_axis(rf.stride)}")
    if halo is not None:
        sides = "; ".join(f"{units.length(b, ax)} before / {units.length(a, ax)} after"
                          for ax, (b, a) in enumerate(halo))
        lines.append(f"halo {sides}")
    if buffers is not None:
        lines.append(f"stream buffers {buffers} samples = {units.length(buffers)}")
    return lines


def units_dict(rf: Any, units: Units, *, halo: Sequence[tuple[int, int]] | None = None,
               buffers: int | None = None) -> dict[str, Any] | None:
    """The physical lengths of :func:`units_lines` as a JSON-able record (None without units).

    Keys: ``unit`` (``"s"`` or ``"mm"``), ``sample_rate`` (Hz) or ``spacing`` (mm per axis),
    ``receptive_field`` (None on an axis where it is global and no input size gives it a
    length) and ``effective_stride`` per axis in that unit (the stride None when
    the receptive field is global), ``halo`` per axis ``[before, after]`` and
    ``stream_buffers`` when given, and ``text``: the lines :func:`units_lines` prints. This is
    the ``units`` member of ``atrous analyze / model / tile --json``.

    >>> from atrous import receptive_field
    >>> d = units_dict(receptive_field("2 d1, 2 d2"), Units(sample_rate=8000))
    >>> d["unit"], d["receptive_field"], d["effective_stride"]
    ('s', [0.0005], [0.000125])
    """
    if not units.active:
        return None
    units = units.check_ndim(rf.ndim)

    def per_axis(values: Sequence[Any]) -> list[float | None]:
        return [units.value(v, ax) for ax, v in enumerate(values)]

    out: dict[str, Any] = {
        "unit": "s" if units.sample_rate is not None else "mm",
        "sample_rate": units.sample_rate,
        "spacing": None if units.spacing is None else list(units.spacing),
        # a global field without an input size has no length: null (its size 0 is no length)
        "receptive_field": [None if g else v for g, v in zip(_unsized_axes(rf),
                                                              per_axis(rf.size))],
        "effective_stride": None if rf.is_global else per_axis(rf.stride),
    }
    if halo is not None:
        out["halo"] = [[units.value(b, ax), units.value(a, ax)]
                       for ax, (b, a) in enumerate(halo)]
    if buffers is not None:
        out["stream_buffers"] = units.value(buffers)
    out["text"] = units_lines(rf, units, halo=halo, buffers=buffers)
    return out


def _unsized_axes(rf: Any) -> list[bool]:
    """Per axis: the field is global and no input size gives it a length (its size is 0)."""
    return [bool(a.is_global) and not a.size for a in rf.axes]


def _unsized(rf: Any) -> bool:
    return any(_unsized_axes(rf))


def units_pairs(rf: Any, units: Units) -> list[tuple[str, str]]:
    """``(label, value)`` pairs for a report's verdict list: the receptive field and the
    effective stride in physical units (empty without units).

    >>> from atrous import receptive_field
    >>> units_pairs(receptive_field("3x3 d2"), Units(spacing=0.5))[0]
    ('Receptive field (0.5x0.5 mm spacing)', '2.5 mm x 2.5 mm')
    """
    if not units.active:
        return []
    units = units.check_ndim(rf.ndim)
    where = units.where().removeprefix("at ")

    def text(values: Sequence[Any]) -> str:
        return " x ".join(units.length(v, ax) for ax, v in enumerate(values))

    pairs = [(f"Receptive field ({where})",
              "global (the whole input)" if _unsized(rf) else text(rf.size))]
    if not rf.is_global:
        pairs.append((f"Effective stride ({where})", text(rf.stride)))
    return pairs


def add_units(record: dict[str, Any], args: Any, rf: Any, **kwargs: Any) -> dict[str, Any]:
    """Set ``record["units"]`` to :func:`units_dict` for the ``--sample-rate`` / ``--spacing``
    of ``args`` (nothing without them); returns ``record``. ``kwargs`` go to
    :func:`units_dict`."""
    d = units_dict(rf, Units.from_args(args), **kwargs)
    if d is not None:
        record["units"] = d
    return record


def add_unit_arguments(parser: Any) -> None:
    """Add ``--sample-rate HZ`` and ``--spacing MMxMM`` to a command's argument parser."""
    parser.add_argument("--sample-rate", metavar="HZ", default=None,
                        help="1-D: also state lengths in seconds (16000, 16k)")
    parser.add_argument("--spacing", metavar="MMxMM", default=None,
                        help="also state lengths in mm (pixel spacing per axis, e.g. 0.5x0.5)")


def print_units(args: Any, rf: Any, out: Any = print) -> None:
    """Print :func:`units_lines` for the ``--sample-rate`` / ``--spacing`` of ``args``."""
    for line in units_lines(rf, Units.from_args(args)):
        out(line)
