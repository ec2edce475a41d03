"""Figures of receptive fields: RF boxes over an image, the effective RF with its box.

Private: import them from :mod:`atrous.render.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ..errors import AtrousError
from ._figures_base import Axes, Figure, _new_figure, _wrong_type
from .style import PALETTE, ROLE, mpl, style_context

if TYPE_CHECKING:
    import numpy.typing as npt

    from ..rf import ReceptiveField
    from ._figures_base import _ERFLike, _RFLike
    from ._records import RFRecord

__all__ = ["erf_figure", "rf_box_figure"]


# -- reading results --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    """A receptive field to draw: per-axis ``size``, ``stride``, ``start`` (None: no size
    known), whether it is global, and the ReceptiveField itself when there is one (its exact
    per-unit hulls, :meth:`atrous.ReceptiveField.box`)."""

    size: tuple[float, ...] | None
    stride: tuple[float, ...] | None
    start: tuple[float, ...] | None
    is_global: bool
    exact: ReceptiveField | None = None


RF_TYPES = ("a ReceptiveField (atrous.receptive_field), a Report (atrous.analyze) or a "
            "receptive-field record (ReceptiveField.to_dict())")
"""The inputs :func:`rf_box_figure` takes, in words."""


def _floats(values: Sequence[int | float | str | Fraction]) -> tuple[float, ...]:
    """Per-axis numbers as floats; JSON's ``"p/q"`` strings (:func:`atrous.rf.frac_json`) too."""
    return tuple(float(Fraction(v)) if isinstance(v, str) else float(v) for v in values)


def _field_of(rf: ReceptiveField | RFRecord, where: str) -> _Field:
    """The field of a ReceptiveField or of its record; anything else is refused naming
    ``where`` and the accepted types."""
    from ..rf import ReceptiveField

    if isinstance(rf, ReceptiveField):
        return _Field(_floats(rf.size), _floats(rf.stride), _floats(rf.start), rf.is_global, rf)
    if isinstance(rf, Mapping):
        size, stride, start = rf.get("size"), rf.get("stride"), rf.get("start")
        return _Field(None if size is None else _floats(size),
                      None if stride is None else _floats(stride),
                      None if start is None else _floats(start),
                      bool(rf.get("is_global", False)))
    raise _wrong_type(where, rf, RF_TYPES)


# -- receptive-field box ----------------------------------------------------------------------
def rf_box_figure(
    rf: _RFLike,
    *,
    image: npt.ArrayLike | None = None,
    input_size: Sequence[int] | None = None,
    units: Sequence[Sequence[int]] | None = None,
    title: str | None = None,
) -> Figure:
    """Receptive-field boxes of output units drawn over an image (or a blank input grid).

    Output unit ``u`` sees the box centred at ``start + u*stride`` of side ``size`` on each axis
    (the fields of :class:`atrous.ReceptiveField`).

    Args:
        rf: a :class:`atrous.ReceptiveField` (``size``, ``stride``, ``start`` per axis;
            ``is_global``; boxes are its exact hulls), a :class:`atrous.Report` (its ``rf``; its
            ``input_size`` when none is given) or a receptive-field record
            (:meth:`atrous.ReceptiveField.to_dict`, or a dict with ``size`` and optionally
            ``stride``, ``start``, ``is_global``: boxes centred at ``start + u*stride``).
            Anything else is refused (:class:`AtrousError` naming ``rf``).
        image: an array ``(H, W)`` or ``(H, W, 3|4)`` to draw under the boxes.
        input_size: ``(H, W)`` when there is no image.
        units: output-unit indices to box (default: the unit nearest the image centre).
        title: figure title.

    >>> rf = {"size": [7, 7], "stride": [1, 1], "start": [0, 0], "is_global": False}
    >>> fig = rf_box_figure(rf, input_size=(16, 16))
    >>> len(fig.axes[0].patches)
    1
    """
    from ..report import Report

    if isinstance(rf, Report):
        if input_size is None and image is None:
            input_size = rf.input_size
        rf = rf.rf
    field = _field_of(rf, "rf_box_figure: rf")
    img, (h, w) = _rf_backdrop(image, input_size)
    size, stride, start, is_global = _rf_axes(field)
    if units is None:
        units = [tuple(
            max(0, round(((n - 1) / 2 - st) / sd)) if sd else 0
            for n, st, sd in zip((h, w), start, stride)
        )]
    patches = mpl().patches
    with style_context():
        fig = _new_figure(min(10.0, max(3.5, w * 0.08 + 2)), min(10.0, max(3.5, h * 0.08 + 2)))
        ax = fig.add_subplot()
        if img is not None:
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        else:
            ax.imshow(np.zeros((h, w)), cmap="gray", vmin=-1, vmax=1, alpha=0.15,
                      interpolation="nearest")
        colors = [ROLE["box"], PALETTE["blue"], PALETTE["orange"], PALETTE["purple"]]
        for i, unit in enumerate(units):
            t = tuple(int(v) for v in unit)
            u = t[-2:] if len(t) >= 2 else (0, *t)
            if is_global:
                x0, y0, bw, bh = -0.5, -0.5, float(w), float(h)
            else:
                x0, y0, bw, bh = _unit_box(field, u, size, stride, start)
            ax.plot([x0 + bw / 2 - 0.5 + 0.5], [y0 + bh / 2], marker="+",
                    color=colors[i % len(colors)], markersize=8)
            ax.add_patch(patches.Rectangle(
                (x0, y0), bw, bh, fill=False, edgecolor=colors[i % len(colors)], linewidth=2,
                linestyle="-" if i == 0 else "--",
            ))
        ax.set_xlim(min(-0.5, x0) - 1, max(w - 0.5, x0 + bw) + 1)
        ax.set_ylim(max(h - 0.5, y0 + bh) + 1, min(-0.5, y0) - 1)
        dims = "x".join(f"{v:g}" for v in size)
        ax.set_title(title or ("receptive field: global" if is_global
                               else f"receptive field {dims} of unit {tuple(units[0])}"))
    return fig


def _rf_backdrop(
    image: npt.ArrayLike | None, input_size: Sequence[int] | None
) -> tuple[np.ndarray | None, tuple[int, int]]:
    """The image to draw under the boxes (None: a blank grid) and its ``(H, W)``."""
    if image is not None:
        img = np.asarray(image)
        if img.ndim not in (2, 3):
            raise AtrousError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
        return img, (int(img.shape[0]), int(img.shape[1]))
    if input_size is not None:
        shape = tuple(int(v) for v in input_size)[-2:]
        return None, (1, shape[0]) if len(shape) == 1 else (shape[0], shape[1])
    raise AtrousError("rf_box_figure needs an image or an input_size")


def _rf_axes(
    field: _Field,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], bool]:
    """``(size, stride, start)`` of a field as 2-D ``(H, W)`` (a 1-D field is one row), and
    whether it is global."""
    size = field.size
    if size is None:
        raise AtrousError("rf must have a per-axis size (an atrous.ReceptiveField)")
    if len(size) == 1:
        size = (1.0, size[0])
    stride = field.stride if field.stride is not None else (1.0,) * len(size)
    start = field.start if field.start is not None else (0.0,) * len(size)
    if len(stride) == 1:
        stride, start = (1.0, stride[0]), (0.0, start[0])
    return size, stride, start, field.is_global


def _unit_box(
    field: _Field,
    u: tuple[int, ...],
    size: tuple[float, ...],
    stride: tuple[float, ...],
    start: tuple[float, ...],
) -> tuple[float, float, float, float]:
    """``(x0, y0, width, height)`` of output unit ``u``'s box in pixel-edge coordinates: its
    exact hull where the field knows it (a 2-D ReceptiveField), else centre and size."""
    if field.exact is not None and field.exact.ndim == 2:
        hulls = [b for b in field.exact.box(u) if b is not None]  # the unit's exact hull
        if len(hulls) != 2:
            raise AtrousError(f"output unit {u} reads no input pixel: it has no RF box")
        (ylo, yhi), (xlo, xhi) = hulls
        return xlo - 0.5, ylo - 0.5, xhi - xlo + 1, yhi - ylo + 1
    cy, cx = (st + ui * sd for st, ui, sd in zip(start, u, stride))
    return cx - size[1] / 2, cy - size[0] / 2, size[1], size[0]


# -- effective receptive field ----------------------------------------------------------------
@dataclass(frozen=True)
class _ERF:
    """An effective RF to draw, read from an ERFResult or its record."""

    map: np.ndarray
    rf: _Field | None
    fraction95: float | None
    unit: tuple[int, ...] | None
    center: tuple[float, ...] | None


ERF_TYPES = "an ERFResult (atrous.erf) or its record (ERFResult.to_dict())"
"""The inputs :func:`erf_figure` takes, in words."""


def _erf_of(result: _ERFLike) -> _ERF:
    from .._erf import ERFResult

    where = "erf_figure: result"
    if isinstance(result, ERFResult):
        return _ERF(np.asarray(result.map, dtype=np.float64), _field_of(result.rf, where + ".rf"),
                    result.fraction95, tuple(result.unit), tuple(result.center))
    if isinstance(result, Mapping):
        data, rf = result.get("map"), result.get("rf")
        if data is None:
            raise AtrousError(f"{where}: an ERF record needs its 'map' (ERFResult.to_dict())")
        fraction, unit, centre = result.get("fraction95"), result.get("unit"), result.get(
            "center")
        return _ERF(np.asarray(data, dtype=np.float64),
                    None if rf is None else _field_of(rf, where + "['rf']"),
                    None if fraction is None else float(fraction),
                    None if unit is None else tuple(int(u) for u in unit),
                    None if centre is None else tuple(float(c) for c in centre))
    raise _wrong_type(where, result, ERF_TYPES)


def _erf_box(
    result: _ERF,
    rf: _Field,
    centre: tuple[float, float],
    h: int,
    w: int,
    one_d: bool,
) -> tuple[tuple[float, float, float, float], str]:
    """The theoretical box ``(x0, y0, width, height)`` in pixel-edge coordinates, and its size
    in words (``"global"`` for a global field)."""
    if rf.is_global or rf.size is None:
        return (-0.5, -0.5, float(w), float(h)), "global"
    sz = rf.size
    if len(sz) == 1:
        sz = (1.0, sz[0])
    x0, y0 = centre[1] - sz[1] / 2, centre[0] - sz[0] / 2
    bw, bh = sz[1], sz[0]
    if result.unit is not None and rf.exact is not None:
        boxes: tuple[tuple[int, int] | None, ...] | None
        try:  # the exact hull of the unit, when the RF knows it
            boxes = tuple(rf.exact.box(result.unit))
        except (AtrousError, TypeError, ValueError):  # fall back to centre, size
            boxes = None
        known = [b for b in boxes or () if b is not None]
        if boxes is not None and len(known) == len(boxes):
            (ylo, yhi), (xlo, xhi) = [(0, 0), *known] if len(known) == 1 else known
            x0, y0, bw, bh = xlo - 0.5, ylo - 0.5, xhi - xlo + 1, yhi - ylo + 1
    dims = "x".join(f"{v:g}" for v in (sz[1:] if one_d else sz))
    return (float(x0), float(y0), float(bw), float(bh)), dims


def erf_figure(result: _ERFLike, *, title: str | None = None) -> Figure:
    """The effective receptive field (gradient magnitude) with the theoretical RF box drawn over it.

    Args:
        result: an :func:`atrous.erf` result (:class:`atrous.ERFResult`): ``map`` (1-D or 2-D,
            input-sized), ``rf`` (the theoretical ReceptiveField), ``fraction95`` (the share of
            the theoretical box that holds 95% of the mass), ``unit`` and ``center`` (input
            coordinates of the unit's centre); or its record (:meth:`ERFResult.to_dict`, or a
            dict with ``map`` and optionally ``rf`` as a receptive-field record,
            ``fraction95``, ``unit``, ``center``: default the map's centre). Anything else is
            refused (:class:`AtrousError` naming ``result``).
        title: figure title.

    2-D maps are a heatmap with the box as a rectangle; 1-D maps a step plot of the gradient
    against the input position with the box as a shaded span (an ``axvspan`` polygon carrying
    ``atrous_box = (first, last)``, input coordinates). Axes are input coordinates. A 2-D box
    larger than the input is drawn clipped to it (dashed, and the legend says so); the title's
    fraction is of the part of the box inside the input, as :attr:`ERFResult.fraction95` is.

    >>> import numpy as np
    >>> g = np.exp(-((np.arange(15) - 7.0) ** 2)[:, None] / 4 - ((np.arange(15) - 7.0) ** 2) / 4)
    >>> res = {"map": g, "rf": {"size": [7, 7], "is_global": False}, "fraction95": 0.4}
    >>> fig = erf_figure(res)
    >>> fig.axes[0].get_title()
    'effective RF (95% of the mass in 40% of the 7x7 box)'
    """
    erf = _erf_of(result)
    data = erf.map
    one_d = data.ndim == 1
    if one_d:
        data = data[None, :]
    if data.ndim != 2:
        raise AtrousError(f"an ERF map must be 1-D or 2-D, got shape {data.shape}")
    h, w = data.shape
    centre: tuple[float, float]
    if erf.center is None:
        centre = ((h - 1) / 2, (w - 1) / 2)
    elif len(erf.center) == 1:
        centre = (0.0, erf.center[0])
    else:
        centre = (erf.center[0], erf.center[1])
    fraction = erf.fraction95
    peak = float(np.abs(data).max()) or 1.0
    rel = np.abs(data) / peak
    box, dims = _erf_box(erf, erf.rf, centre, h, w, one_d) if erf.rf is not None else (None, "")
    clipped = None
    clip_dims = ""
    if box is not None:
        x0, y0, bw, bh = box
        clipped = (max(x0, -0.5), max(y0, -0.5), min(x0 + bw, w - 0.5), min(y0 + bh, h - 0.5))
        if clipped != (x0, y0, x0 + bw, y0 + bh) and dims != "global":
            cw, ch = clipped[2] - clipped[0], clipped[3] - clipped[1]
            clip_dims = f"{cw:g}" if one_d else f"{ch:g}x{cw:g}"
    with style_context():
        if one_d:
            fig, ax = _erf_line(rel[0], box, dims)
        else:
            fig, ax = _erf_image(rel, box, clipped, dims)
        if title is None:
            title = "effective RF"
            if fraction is not None and dims:
                where = "the whole input" if dims == "global" else f"the {dims} box"
                if clip_dims:  # the fraction is of the part of the box inside the input
                    where = f"the {clip_dims} part of the {dims} box inside the input"
                title += f" (95% of the mass in {float(fraction):.0%} of {where})"
        ax.set_title(title)
    return fig


def _erf_line(
    rel: np.ndarray, box: tuple[float, float, float, float] | None, dims: str
) -> tuple[Figure, Axes]:
    """A 1-D ERF: the relative gradient as a step plot, the theoretical box a shaded span."""
    w = rel.shape[0]
    fig = _new_figure(9.0, 3.2)
    ax = fig.add_subplot()
    lo, hi = -0.5, w - 0.5
    if box is not None:
        x0, _, bw, _ = box
        first, last = round(x0 + 0.5), round(x0 + bw - 0.5)
        span = ax.axvspan(x0, x0 + bw, color=ROLE["box"], alpha=0.15, linewidth=0,
                          zorder=0, label="theoretical RF" + (
                              "" if dims == "global" else f" {first}..{last}"))
        span.atrous_box = (first, last)
        for edge in (x0, x0 + bw):
            ax.axvline(edge, color=ROLE["box"], linewidth=1.2)
        lo, hi = min(lo, x0), max(hi, x0 + bw)
    ax.stairs(rel, np.arange(w + 1, dtype=np.float64) - 0.5, color=PALETTE["blue"],
              linewidth=1.2, label="|gradient| (relative)")
    pad = max(1.0, 0.01 * (hi - lo))
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("input position")
    ax.set_ylabel("|gradient| (relative)")
    ax.xaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig, ax


def _erf_image(
    rel: np.ndarray,
    box: tuple[float, float, float, float] | None,
    clipped: tuple[float, float, float, float] | None,
    dims: str,
) -> tuple[Figure, Axes]:
    """A 2-D ERF: the relative gradient as a heatmap, the theoretical box a rectangle."""
    h, w = rel.shape
    fig = _new_figure(min(9.0, max(3.6, w * 0.06 + 2.4)), min(9.0, max(2.2, h * 0.06 + 1.6)))
    ax = fig.add_subplot()
    image = ax.imshow(rel, cmap="viridis", vmin=0, vmax=1, interpolation="nearest",
                      aspect="equal")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("|gradient| (relative)")
    if box is not None and clipped is not None:
        # drawn clipped to the input (a box larger than the input would be drawn
        # outside the image, invisible); dashed where the input cuts it
        cx0, cy0, cx1, cy1 = clipped
        cut = dims != "global" and clipped != (box[0], box[1], box[0] + box[2],
                                               box[1] + box[3])
        ax.add_patch(mpl().patches.Rectangle(
            (cx0, cy0), cx1 - cx0, cy1 - cy0, fill=False, edgecolor=ROLE["box"],
            linewidth=2, linestyle="--" if cut else "-",
            label=f"theoretical RF {dims}" + (", clipped to the input" if cut else "")))
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ticker = mpl().ticker
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    return fig, ax
