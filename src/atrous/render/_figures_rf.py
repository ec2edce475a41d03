"""Figures of receptive fields: RF boxes over an image, the effective RF with its box.

Private: import them from :mod:`atrous.render.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AtrousError
from ._figures_base import _field, _is_report, _new_figure
from .style import PALETTE, ROLE, mpl, style_context

if TYPE_CHECKING:
    from ..rf import ReceptiveField
    from ._figures_base import _ERFLike, _RFLike

__all__ = ["erf_figure", "rf_box_figure"]


# -- receptive-field box ----------------------------------------------------------------------
def _hulls(rf: object, unit: tuple[int, ...]) -> tuple[tuple[int, int] | None, ...] | None:
    """``rf.box(unit)`` (per-axis exact hulls, None on an axis the unit reads nothing of) when
    ``rf`` knows it (a :class:`atrous.ReceptiveField`), else None."""
    box = getattr(rf, "box", None)
    return tuple(box(unit)) if callable(box) else None


def _per_axis(value: Any, ndim: int) -> tuple[float, ...]:
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (float(value),) * ndim
    return tuple(float(v) for v in value)


def rf_box_figure(
    rf: _RFLike,
    *,
    image: Any = None,
    input_size: Sequence[int] | None = None,
    units: Sequence[Sequence[int]] | None = None,
    title: str | None = None,
) -> Any:
    """Receptive-field boxes of output units drawn over an image (or a blank input grid).

    Output unit ``u`` sees the box centred at ``start + u*stride`` of side ``size`` on each axis
    (the fields of :class:`atrous.ReceptiveField`).

    Args:
        rf: a ReceptiveField (``size``, ``stride``, ``start`` per axis; ``is_global``), or a
            :class:`atrous.Report` (its ``rf``; its ``input_size`` when none is given).
        image: an array ``(H, W)`` or ``(H, W, 3|4)`` to draw under the boxes.
        input_size: ``(H, W)`` when there is no image.
        units: output-unit indices to box (default: the unit nearest the image centre).
        title: figure title.

    >>> from types import SimpleNamespace as NS
    >>> rf = NS(size=(7, 7), stride=(1, 1), start=(0.0, 0.0), is_global=False)
    >>> fig = rf_box_figure(rf, input_size=(16, 16))
    >>> len(fig.axes[0].patches)
    1
    """
    if _is_report(rf):
        if input_size is None and image is None:
            input_size = getattr(rf, "input_size", None)
        rf = rf.rf
    img, (h, w) = _rf_backdrop(image, input_size)
    size, stride, start, is_global = _rf_axes(rf)
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
                x0, y0, bw, bh = _unit_box(rf, u, size, stride, start)
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
    image: Any, input_size: Sequence[int] | None
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
    rf: object,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], bool]:
    """``(size, stride, start)`` of a field as 2-D ``(H, W)`` (a 1-D field is one row), and
    whether it is global."""
    size = _per_axis(_field(rf, "size"), 2) if _field(rf, "size") is not None else None
    if size is None:
        raise AtrousError("rf must have a per-axis size (an atrous.ReceptiveField)")
    if len(size) == 1:
        size = (1.0, size[0])
    stride = _per_axis(_field(rf, "stride", 1), len(size))
    start = _per_axis(_field(rf, "start", 0), len(size))
    if len(stride) == 1:
        stride, start = (1.0, stride[0]), (0.0, start[0])
    return size, stride, start, bool(_field(rf, "is_global", False))


def _unit_box(
    rf: object,
    u: tuple[int, ...],
    size: tuple[float, ...],
    stride: tuple[float, ...],
    start: tuple[float, ...],
) -> tuple[float, float, float, float]:
    """``(x0, y0, width, height)`` of output unit ``u``'s box in pixel-edge coordinates: its
    exact hull where the field knows it (a 2-D ReceptiveField), else centre and size."""
    if callable(getattr(rf, "box", None)) and len(_per_axis(_field(rf, "size"), 2)) == 2:
        hulls = [b for b in _hulls(rf, u) or () if b is not None]  # the unit's exact hull
        if len(hulls) != 2:
            raise AtrousError(f"output unit {u} reads no input pixel: it has no RF box")
        (ylo, yhi), (xlo, xhi) = hulls
        return xlo - 0.5, ylo - 0.5, xhi - xlo + 1, yhi - ylo + 1
    cy, cx = (st + ui * sd for st, ui, sd in zip(start, u, stride))
    return cx - size[1] / 2, cy - size[0] / 2, size[1], size[0]


# -- effective receptive field ----------------------------------------------------------------
def _erf_box(
    result: _ERFLike,
    rf: ReceptiveField | Mapping[str, Any],
    centre: tuple[float, float],
    h: int,
    w: int,
    one_d: bool,
) -> tuple[tuple[float, float, float, float], str]:
    """The theoretical box ``(x0, y0, width, height)`` in pixel-edge coordinates, and its size
    in words (``"global"`` for a global field)."""
    size = _field(rf, "size")
    if bool(_field(rf, "is_global", False)) or size is None:
        return (-0.5, -0.5, float(w), float(h)), "global"
    sz = _per_axis(size, 2)
    if len(sz) == 1:
        sz = (1.0, sz[0])
    x0, y0 = centre[1] - sz[1] / 2, centre[0] - sz[0] / 2
    bw, bh = sz[1], sz[0]
    unit = _field(result, "unit", None)
    if unit is not None and callable(getattr(rf, "box", None)):
        try:  # the exact hull of the unit, when the RF knows it
            boxes = _hulls(rf, tuple(unit))
        except (AtrousError, TypeError, ValueError):  # fall back to centre, size
            boxes = None
        known = [b for b in boxes or () if b is not None]
        if boxes is not None and len(known) == len(boxes):
            (ylo, yhi), (xlo, xhi) = [(0, 0), *known] if len(known) == 1 else known
            x0, y0, bw, bh = xlo - 0.5, ylo - 0.5, xhi - xlo + 1, yhi - ylo + 1
    dims = "x".join(f"{v:g}" for v in (sz[1:] if one_d else sz))
    return (float(x0), float(y0), float(bw), float(bh)), dims


def erf_figure(result: _ERFLike, *, title: str | None = None) -> Any:
    """The effective receptive field (gradient magnitude) with the theoretical RF box drawn over it.

    Args:
        result: an :class:`atrous.erf` result: ``map`` (1-D or 2-D, input-sized), ``rf`` (the
            theoretical ReceptiveField) and ``fraction95`` (the share of the theoretical box that
            holds 95% of the mass); an optional ``center`` (input coordinates of the unit's
            centre, default the map's centre).
        title: figure title.

    2-D maps are a heatmap with the box as a rectangle; 1-D maps a step plot of the gradient
    against the input position with the box as a shaded span (an ``axvspan`` polygon carrying
    ``atrous_box = (first, last)``, input coordinates). Axes are input coordinates. A 2-D box
    larger than the input is drawn clipped to it (dashed, and the legend says so); the title's
    fraction is of the part of the box inside the input, as :attr:`ERFResult.fraction95` is.

    >>> from types import SimpleNamespace as NS
    >>> import numpy as np
    >>> g = np.exp(-((np.arange(15) - 7.0) ** 2)[:, None] / 4 - ((np.arange(15) - 7.0) ** 2) / 4)
    >>> res = NS(map=g, rf=NS(size=(7, 7), is_global=False), fraction95=0.4)
    >>> fig = erf_figure(res)
    >>> fig.axes[0].get_title()
    'effective RF (95% of the mass in 40% of the 7x7 box)'
    """
    data = np.asarray(_field(result, "map"), dtype=np.float64)
    one_d = data.ndim == 1
    if one_d:
        data = data[None, :]
    if data.ndim != 2:
        raise AtrousError(f"an ERF map must be 1-D or 2-D, got shape {data.shape}")
    rf = _field(result, "rf")
    h, w = data.shape
    centre = _field(result, "center", None)
    if centre is None:
        centre = ((h - 1) / 2, (w - 1) / 2)
    else:
        centre = tuple(float(c) for c in centre)
        if len(centre) == 1:
            centre = (0.0, centre[0])
    fraction = _field(result, "fraction95", None)
    peak = float(np.abs(data).max()) or 1.0
    rel = np.abs(data) / peak
    box, dims = _erf_box(result, rf, centre, h, w, one_d) if rf is not None else (None, "")
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
) -> tuple[Any, Any]:
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
) -> tuple[Any, Any]:
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
