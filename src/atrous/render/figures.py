"""matplotlib figures of the analyses: coverage, comparisons, gridding, RF boxes, ERF.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state,
nothing shown), in the look of :mod:`atrous.render.style`. matplotlib is imported when a function
runs, never when this module is imported. Save with :func:`save_figure` (atomic) or
``fig.savefig``. The figures only draw results computed elsewhere (a Coverage, a Report, the rows
of :func:`atrous.layer_gridding`, an array of counts); none runs an analysis.

    >>> import numpy as np
    >>> fig = coverage_figure(np.array([[1, 0, 1], [0, 4, 0], [1, 0, 1]]))
    >>> fig.axes[0].get_title().splitlines()[0]
    'coverage: RF 3x3, 4 holes (gridded), 56% covered'
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

import numpy as np

from .._files import refuse_special
from ..errors import AtrousError
from .style import PALETTE, ROLE, count_cmap, mpl, style_context, text_color

if TYPE_CHECKING:  # type-only: importing the renderers stays light
    from .._coverage import Coverage, LayerGridding
    from .._erf import ERFResult
    from ..report import Report
    from ..rf import ReceptiveField

    # What the figures draw (results, never inputs to compute): the core's result classes, or
    # the plain shapes the docstrings admit (arrays of counts, mappings with the same fields).
    _CoverageLike: TypeAlias = Coverage | Report | np.ndarray | Sequence[Any] | Mapping[str, Any]
    _GriddingLike: TypeAlias = Report | Sequence[LayerGridding | Mapping[str, Any]]
    _RFLike: TypeAlias = ReceptiveField | Report | Mapping[str, Any]
    _ERFLike: TypeAlias = ERFResult | Mapping[str, Any]

__all__ = [
    "compare_figure",
    "coverage_figure",
    "erf_figure",
    "figure_png",
    "figure_svg",
    "format_count",
    "gridding_strip",
    "rf_box_figure",
    "save_figure",
    "write_atomic",
]

ANNOTATE_MAX = 33
"""Counts are written in the cells when the map's longest side is at most this."""
COMPARE_ANNOTATE_MAX = 19
"""Side-by-side maps carry counts when every map is at most this many cells on a side."""
HATCH_MAX = 96
"""Holes are hatched (not only white) when the map's longest side is at most this."""
DRAW_MAX = 1024
"""Larger maps are drawn in blocks (each block's smallest count): no screen shows more."""


# -- helpers ----------------------------------------------------------------------------------
def _field(obj: object, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _is_report(obj: object) -> TypeGuard[Report]:
    """True for an :class:`atrous.Report` (or anything shaped like one)."""
    return not isinstance(obj, (Mapping, np.ndarray, str)) and all(
        hasattr(obj, name) for name in ("outputs", "layer_gridding", "rf", "coverage")
    )


def _report_coverage(report: Report) -> Coverage:
    """``report.coverage``, or an AtrousError saying why the report has none."""
    cov = report.coverage
    if cov is None:
        why = next((o.coverage_error for o in getattr(report, "outputs", [])
                    if getattr(o, "coverage_error", None)), None)
        raise AtrousError(
            f"the report for {getattr(report, 'target', '?')!r} has no coverage map"
            + (f": {why}" if why else "")
        )
    return cov


def _counts_of(cov: _CoverageLike) -> np.ndarray:
    if _is_report(cov):
        cov = _report_coverage(cov)
    counts = cov if isinstance(cov, np.ndarray) else _field(cov, "counts", None)
    if counts is None:
        if isinstance(cov, (list, tuple)):
            counts = cov
        else:
            raise AtrousError(
                f"expected a Coverage (with .counts) or an array of counts, got "
                f"{type(cov).__name__}"
            )
    arr = np.asarray(counts)
    if arr.ndim not in (1, 2, 3) or arr.size == 0:
        raise AtrousError(
            f"a coverage map must be a non-empty 1-D, 2-D or 3-D array, got shape {arr.shape}"
        )
    return arr


def _as_plane(arr: np.ndarray) -> tuple[np.ndarray, str]:
    """A 2-D view of a 1-/2-/3-D map and a note saying what was shown."""
    if arr.ndim == 1:
        return arr[None, :], ""
    if arr.ndim == 3:
        mid = arr.shape[0] // 2
        return arr[mid], f" (centre slice {mid} of {arr.shape[0]})"
    return arr, ""


def _offset_of(cov: _CoverageLike, shape: Sequence[int]) -> tuple[int, ...] | None:
    """Input coordinate of ``counts[0, ...]`` per axis (a Coverage's ``offset``), or None."""
    offset = None if isinstance(cov, np.ndarray) else _field(cov, "offset", None)
    if offset is None or len(offset) != len(shape):
        return None
    return tuple(int(o) for o in offset)


def _block_min(plane: np.ndarray, block: int) -> np.ndarray:
    """Reduce a 2-D map by ``block`` x ``block`` blocks, keeping each block's smallest count.

    The smallest count keeps every hole visible (a block with a hole is drawn as a hole), so a
    downsampled map never looks gridding-free when the full map is not.
    """
    h, w = plane.shape
    hb, wb = -(-h // block), -(-w // block)
    if plane.dtype == object:
        fill: Any = max(plane.ravel().tolist())
    else:
        fill = plane.max()
    padded = np.full((hb * block, wb * block), fill, dtype=plane.dtype)
    padded[:h, :w] = plane
    return padded.reshape(hb, block, wb, block).min(axis=(1, 3))


def _float(arr: np.ndarray) -> np.ndarray:
    """Counts as float64 (object arrays of Python ints too; huge counts saturate harmlessly)."""
    if arr.dtype == object:
        return np.vectorize(lambda v: float(v) if v < 1e300 else 1e300, otypes=[float])(arr)
    return arr.astype(np.float64)


def format_count(value: Any) -> str:
    """A count short enough for a cell: ``7``, ``1234``, ``1.2e5``.

    >>> format_count(7), format_count(123456), format_count(10**30)
    ('7', '1.2e5', '1.0e30')
    """
    v = int(value)
    if abs(v) < 10_000:
        return str(v)
    exp = len(str(abs(v))) - 1
    mantissa = v / 10**exp
    if round(mantissa, 1) >= 10:
        mantissa, exp = mantissa / 10, exp + 1
    return f"{mantissa:.1f}e{exp}"


def _summary(counts: np.ndarray, cov: _CoverageLike) -> tuple[int, bool, float]:
    nz = int(np.count_nonzero(counts != 0))
    holes = _field(cov, "holes", None)
    holes = int(counts.size - nz) if holes is None or isinstance(holes, np.ndarray) else int(holes)
    gridded = _field(cov, "gridded", None)
    gridded = holes > 0 if gridded is None else bool(gridded)
    fraction = _field(cov, "fraction", None)
    fraction = nz / counts.size if fraction is None else float(fraction)
    return holes, gridded, fraction


def _norm(values: Sequence[np.ndarray], log_above: float = 1000.0) -> Any:
    """One colour scale for the maps: linear, or logarithmic when max/min exceeds
    ``log_above``."""
    colors = mpl().colors
    vmax = max(float(v.max()) for v in values)
    nonzero = [float(v[v > 0].min()) for v in values if np.any(v > 0)]
    vmin = min(nonzero) if nonzero else 1.0
    if vmin > 0 and vmax / vmin > log_above:
        return colors.LogNorm(vmin=vmin, vmax=vmax, clip=False)
    return colors.Normalize(vmin=min(vmin, 1.0), vmax=max(vmax, vmin + 1e-9), clip=False)


def _draw_counts(
    ax: Any,
    counts: np.ndarray,
    norm: Any,
    annotate: bool | None,
    title: str,
    origin: Sequence[int] | None = None,
) -> Any:
    """Draw one 2-D count map on ``ax`` (counts in the cells, as tutorials draw it); returns the
    image.

    ``origin`` is the input coordinate of ``counts[0, 0]`` (a Coverage's ``offset``): the tick
    labels are input coordinates then, else offsets from the map's centre. Maps larger than
    :data:`DRAW_MAX` on a side are drawn in blocks (each block's smallest count, so holes stay
    visible); the data coordinates stay those of the full map.
    """
    patches = mpl().patches
    h, w = counts.shape
    side = max(h, w)
    block = -(-side // DRAW_MAX) if side > DRAW_MAX else 1
    shown = _block_min(counts, block) if block > 1 else counts
    values = _float(shown)
    masked = np.ma.masked_where(values <= 0, values)
    cmap = count_cmap()
    image = ax.imshow(masked, cmap=cmap, norm=norm, interpolation="nearest",
                      extent=(-0.5, block * values.shape[1] - 0.5,
                              block * values.shape[0] - 0.5, -0.5))
    image.atrous_block = block
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    if side <= HATCH_MAX:
        from matplotlib.collections import LineCollection, PatchCollection

        # the cell grid as one artist (minor ticks with grid lines cost a tick object each)
        lines = [[(x - 0.5, -0.5), (x - 0.5, h - 0.5)] for x in range(w + 1)]
        lines += [[(-0.5, y - 0.5), (w - 0.5, y - 0.5)] for y in range(h + 1)]
        ax.add_collection(LineCollection(
            lines, colors=PALETTE["black"], linewidths=1.2 if side <= ANNOTATE_MAX else 0.3,
            zorder=2, in_layout=False,
        ), autolim=False)
        holes = [patches.Rectangle((x - 0.5, y - 0.5), 1, 1)
                 for y, x in zip(*np.nonzero(values <= 0))]
        if holes:
            hatched = PatchCollection(holes, facecolor="none", edgecolor=ROLE["hole"],
                                      hatch="///", linewidth=0, zorder=1.5)
            hatched.set_in_layout(False)
            hatched.atrous_holes = len(holes)  # type: ignore[attr-defined]
            ax.add_collection(hatched, autolim=False)
    centre_x, centre_y = (w - 1) // 2, (h - 1) // 2
    base_y, base_x = (int(origin[0]), int(origin[1])) if origin is not None else (
        -centre_y, -centre_x)
    ax.set_xticks([0, centre_x, w - 1] if w > 2 else list(range(w)))
    ax.set_yticks([0, centre_y, h - 1] if h > 2 else list(range(h)))
    ax.set_xticklabels([str(t + base_x) for t in ax.get_xticks().astype(int)])
    ax.set_yticklabels([str(t + base_y) for t in ax.get_yticks().astype(int)])
    if h == 1:
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
    if annotate is None:
        annotate = side <= ANNOTATE_MAX
    if annotate and block == 1:
        size = max(4.0, min(9.0, 150.0 / side))
        cells = [(y, x, format_count(counts[y, x]),
                  PALETTE["black"] if counts[y, x] == 0
                  else text_color(cmap(norm(values[y, x]))))
                 for y in range(h) for x in range(w)]
        _cell_labels(ax, cells, size)
    ax.set_title(title)
    return image


def _cell_labels(ax: Any, cells: list[tuple[int, int, str, str]], size: float) -> Any:
    """Write short labels centred in cells, as ONE artist (glyph paths in a PathCollection).

    Hundreds of separate Text artists cost about a millisecond each to draw; one collection of
    glyph outlines draws in one call and looks the same. The labels are kept on the collection
    as ``atrous_labels`` (``(row, col, text, colour)``) for inspection.
    """
    m = mpl()
    from matplotlib.collections import PathCollection
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    prop = FontProperties(size=size)
    shapes: dict[str, Any] = {}
    paths = []
    for _, _, text, _ in cells:
        if text not in shapes:
            glyphs = TextPath((0, 0), text, prop=prop)
            ext = glyphs.get_extents()
            shapes[text] = glyphs.transformed(
                Affine2D().translate(-(ext.x0 + ext.x1) / 2, -(ext.y0 + ext.y1) / 2))
        paths.append(shapes[text])
    points_to_pixels = Affine2D().scale(1 / 72) + ax.figure.dpi_scale_trans
    labels = PathCollection(
        paths, offsets=[(x, y) for y, x, _, _ in cells], offset_transform=ax.transData,
        facecolors=[m.colors.to_rgba(c) for _, _, _, c in cells], edgecolors="none",
        linewidths=0, zorder=3, clip_on=True,
    )
    labels.set_transform(points_to_pixels)
    labels.set_in_layout(False)
    labels.atrous_labels = list(cells)  # type: ignore[attr-defined]
    ax.add_collection(labels, autolim=False)
    return labels


def _new_figure(width: float, height: float) -> Any:
    figure = mpl().figure
    return figure.Figure(figsize=(width, height), layout="constrained")


# -- coverage ---------------------------------------------------------------------------------
def coverage_figure(
    cov: _CoverageLike, *, title: str | None = None, annotate: bool | None = None
) -> Any:
    """Coverage heatmap with counts in the cells, grid lines and hatched holes.

    Args:
        cov: a :class:`atrous.Coverage` (its ``counts``, ``offset``, ``holes``, ``gridded``,
            ``fraction`` are read), a :class:`atrous.Report` (its ``coverage``) or an array of
            counts spanning the receptive-field box. 1-D maps are drawn as a step plot (paths
            per input position, the box shaded), 3-D maps as their centre slice.
        title: first title line (default: the verdict in words).
        annotate: write the counts in the cells; default when the map is at most
            :data:`ANNOTATE_MAX` cells on a side.

    Axes are in input coordinates when ``cov`` has an ``offset`` (a Coverage or a Report),
    else offsets from the map's centre.

    Returns:
        A matplotlib ``Figure`` (one axes with the map, plus a colour bar for 2-D maps).

    >>> import numpy as np
    >>> fig = coverage_figure(np.ones(5, dtype=int))
    >>> fig.axes[0].get_title().splitlines()[0]
    'coverage: RF 5, no holes, 100% covered'
    """
    if _is_report(cov):
        cov = _report_coverage(cov)
    counts = _counts_of(cov)
    origin = _offset_of(cov, counts.shape)
    plane, note = _as_plane(counts)
    holes, gridded, fraction = _summary(counts, cov)
    box = "x".join(str(n) for n in counts.shape)
    verdict = f"{holes} holes (gridded)" if gridded else "no holes"
    head = title or f"coverage: RF {box}, {verdict}, {fraction:.0%} covered"
    lo, hi = (int(plane[plane > 0].min()), int(plane.max())) if np.any(plane > 0) else (0, 0)
    sub = f"paths per input pixel: {format_count(lo)}..{format_count(hi)}{note}"
    if counts.ndim == 1:
        unit = None if isinstance(cov, np.ndarray) else _field(cov, "unit", None)
        return _coverage_line(counts, origin, annotate, f"{head}\n{sub}",
                              unit=int(unit[0]) if unit is not None and len(unit) == 1 else None)
    if origin is not None and counts.ndim == 3:
        origin = origin[1:]
    h, w = plane.shape
    if max(h, w) > DRAW_MAX:
        block = -(-max(h, w) // DRAW_MAX)
        sub += f"; drawn in {block}x{block} blocks (each its smallest count, so holes show)"
    cell = 0.42 if max(h, w) <= ANNOTATE_MAX else max(0.04, 8.0 / max(h, w))
    width = min(14.0, max(3.6, w * cell + 1.6))
    height = min(12.0, max(3.0, h * cell + 1.1))
    with style_context():
        fig = _new_figure(width, height)
        ax = fig.add_subplot()
        # the colour scale from the extremes alone (no float copy of a huge map)
        extremes = _float(np.array([lo, hi], dtype=object if plane.dtype == object else None))
        image = _draw_counts(ax, plane, _norm([extremes]), annotate, f"{head}\n{sub}",
                             origin=origin)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        bar.set_label("paths (count)")
        ax.set_xlabel("input x" if origin is not None else "offset from the centre (x)")
        ax.set_ylabel("input y" if origin is not None else "offset from the centre (y)")
    return fig


def _coverage_line(
    counts: np.ndarray,
    origin: tuple[int, ...] | None,
    annotate: bool | None,
    title: str,
    unit: int | None = None,
) -> Any:
    """A 1-D coverage map as a step plot: paths per input position, the RF box shaded.

    The x axis is in input coordinates (``origin`` is ``counts[0]``'s; without one, offsets
    from the map's centre). Holes are marked on the axis. The box is a shaded span (an
    ``axvspan`` polygon carrying ``atrous_box = (first, last)``).
    """
    n = int(counts.size)
    first = origin[0] if origin is not None else -((n - 1) // 2)
    values = _float(counts)
    edges = first - 0.5 + np.arange(n + 1, dtype=np.float64)
    positions = first + np.arange(n)
    hole_at = positions[values <= 0]
    positive = values[values > 0]
    log = positive.size > 0 and float(positive.max()) / float(positive.min()) > 1000.0
    with style_context():
        fig = _new_figure(min(12.0, max(5.0, n * 0.28 + 2.4)) if n <= ANNOTATE_MAX else 9.0,
                          3.2)
        ax = fig.add_subplot()
        span = ax.axvspan(first - 0.5, first + n - 0.5, color=ROLE["box"], alpha=0.12,
                          linewidth=0, label=f"RF box {first}..{first + n - 1}", zorder=0)
        span.atrous_box = (first, first + n - 1)
        shown = np.where(values > 0, values, np.nan) if log else values
        ax.stairs(shown, edges, color=PALETTE["blue"], linewidth=1.4, label="paths",
                  baseline=None if log else 0.0, fill=not log and n <= HATCH_MAX,
                  alpha=0.85 if not log and n <= HATCH_MAX else 1.0)
        if log:
            ax.set_yscale("log")
        low = float(positive.min()) if log else 0.0
        if hole_at.size:
            marks = ax.plot(hole_at, np.full(hole_at.size, low), linestyle="none",
                            marker="x" if n <= HATCH_MAX else "|", color=ROLE["hole"],
                            markersize=6, label=f"holes ({hole_at.size})", clip_on=False)
            marks[0].atrous_holes = int(hole_at.size)
        if annotate is None:
            annotate = n <= ANNOTATE_MAX
        if annotate:
            for x, v in zip(positions, counts.tolist()):
                ax.text(x, float(v) if float(v) > 0 or not log else low, format_count(v),
                        ha="center", va="bottom", fontsize=7)
        pad = max(1.0, 0.02 * n)
        ax.set_xlim(first - 0.5 - pad, first + n - 0.5 + pad)
        if not log:
            top = float(values.max()) if values.size else 1.0
            ax.set_ylim(0, max(top, 1.0) * (1.18 if annotate else 1.08))
        ticks = sorted({first, first + (n - 1) // 2, first + n - 1})
        if origin is None and 0 not in ticks:
            ticks = sorted({*ticks, 0})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel(("input position" + (f" (paths to output unit {unit})"
                                            if unit is not None else ""))
                      if origin is not None else "offset from the centre")
        ax.set_ylabel("paths (count" + (", log)" if log else ")"))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        ax.set_title(title)
    return fig


def _as_coverage(item: _CoverageLike) -> _CoverageLike:
    """A computed map to draw: a Coverage, a Report's coverage or an array of counts."""
    if _is_report(item):
        return _report_coverage(item)
    if isinstance(item, np.ndarray) or hasattr(item, "counts"):
        return item
    raise AtrousError(
        "compare_figure draws computed coverage maps: pass Coverages (atrous.coverage(...), "
        "e.g. of atrous.stack(rates)), Reports (atrous.analyze(...)) or numpy arrays of counts, "
        f"got {type(item).__name__}"
    )


def _label_of(item: _CoverageLike) -> str:
    if _is_report(item):
        return str(getattr(item, "target", "") or "")
    return ""


def compare_figure(
    items: Sequence[_CoverageLike] | Mapping[str, _CoverageLike],
    *,
    annotate: bool | None = None,
    title: str | None = None,
) -> Any:
    """Coverage maps side by side on one colour scale, e.g. rates ``[2, 2, 2]`` vs ``[1, 2, 3]``.

    Args:
        items: computed maps: Coverages (``atrous.coverage(atrous.stack([2, 2, 2]))``), Reports
            (their ``coverage``; labelled with their target) or numpy arrays of counts; a
            mapping gives each a label. Anything else (a rate list, a spec) is refused: the
            figure draws results, it does not compute them.
        annotate: counts in the cells (default: when every map is small enough).
        title: overall title.

    >>> import numpy as np
    >>> fig = compare_figure({"a": np.ones((3, 3), int), "b": np.eye(3, dtype=int)})
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes[:2]]
    ['a', 'b']
    """
    if isinstance(items, Mapping):
        labels, raw = list(items.keys()), list(items.values())
    else:
        raw = list(items)
        labels = [_label_of(x) or f"#{i + 1}" for i, x in enumerate(raw)]
    if not raw:
        raise AtrousError("compare_figure needs at least one coverage map")
    covs = [_as_coverage(x) for x in raw]
    planes = [_as_plane(_counts_of(c))[0] for c in covs]
    # a log scale when the maps' counts differ a lot, so no map is a flat dark square
    norm = _norm([_float(p) for p in planes], log_above=8.0)
    widths = [p.shape[1] for p in planes]
    tallest = max(p.shape[0] for p in planes)
    side = max(max(widths), tallest)
    if annotate is None:
        annotate = side <= COMPARE_ANNOTATE_MAX
    cell = 0.36 if side <= ANNOTATE_MAX else max(0.05, 8.0 / side)
    width = min(20.0, max(4.0, sum(widths) * cell + 1.2 * len(planes) + 1.0))
    height = min(10.0, max(2.4, tallest * cell + 1.4))
    with style_context():
        fig = _new_figure(width, height)
        grid = fig.add_gridspec(1, len(planes), width_ratios=widths)
        image = None
        for i, (cov, plane, label) in enumerate(zip(covs, planes, labels)):
            ax = fig.add_subplot(grid[0, i])
            counts = _counts_of(cov)
            holes, gridded, fraction = _summary(counts, cov)
            box = "x".join(str(n) for n in counts.shape)
            verdict = f"{holes} holes, gridded" if gridded else "no holes"
            origin = _offset_of(cov, counts.shape) if counts.ndim == 2 else None
            image = _draw_counts(
                ax, plane, norm, annotate, f"{label}\nRF {box}, {verdict}, {fraction:.0%}",
                origin=origin,
            )
        bar = fig.colorbar(image, ax=fig.axes, shrink=0.8)
        log = isinstance(norm, mpl().colors.LogNorm)
        bar.set_label("paths (count, log scale)" if log else "paths (count)")
        if title:
            fig.suptitle(title)
    return fig


# -- per-layer gridding -----------------------------------------------------------------------
def gridding_strip(target: _GriddingLike, *, title: str | None = None) -> Any:
    """Per-layer gridding: the covered fraction of each layer's RF box, where holes appear.

    Args:
        target: the rows of :func:`atrous.layer_gridding` (each with ``node``, ``rf_size``,
            ``holes``, ``gridded``, ``fraction``; rows with ``available=False`` are drawn as
            n/a) or a :class:`atrous.Report` (its ``layer_gridding``). A Graph, spec or rate
            list is refused: the figure draws results, it does not compute them.
        title: figure title.

    Gridded layers are drawn vermillion and hatched, gridding-free layers bluish green; the
    first gridded layer is called out.

    >>> rows = [dict(node="conv0", rf_size=(3, 3), holes=0, gridded=False, fraction=1.0),
    ...         dict(node="conv1", rf_size=(7, 7), holes=24, gridded=True, fraction=25 / 49)]
    >>> fig = gridding_strip(rows)
    >>> fig.axes[0].get_title()
    'per-layer gridding: holes from conv1 on'
    """
    rows = _gridding_rows(target)
    if not rows:
        raise AtrousError("no layers to draw: the gridding table is empty")
    names = [str(_field(r, "node", None) or _field(r, "name", "?")) for r in rows]
    fractions = [float(_field(r, "fraction", None) or 0.0) for r in rows]
    gridded = [bool(_field(r, "gridded", False)) for r in rows]
    holes = [int(_field(r, "holes", 0) or 0) for r in rows]
    available = [_field(r, "available", True) is not False and _field(r, "fraction", None)
                 is not None for r in rows]
    sizes = [_field(r, "rf_size", None) for r in rows]
    first = next((i for i, g in enumerate(gridded) if g), None)
    n = len(rows)
    many = n > 40  # e.g. WaveNet's 92 nodes: no per-bar labels, a subset of the names
    with style_context():
        fig = _new_figure(min(16.0, max(4.0, (0.16 if many else 0.75) * n + 1.5)), 3.0)
        ax = fig.add_subplot()
        x = np.arange(n)
        colors = [ROLE["bad"] if g else ROLE["ok"] for g in gridded]
        bars = ax.bar(x, fractions, color=colors, edgecolor=PALETTE["black"],
                      linewidth=0.3 if many else 0.6, width=0.9 if many else 0.8)
        for bar, g in zip(bars, gridded):
            if g:
                bar.set_hatch("///")
        for xi, ok in zip(x, available):
            if not ok:
                ax.text(xi, 0.5, "n/a", ha="center", va="center", fontsize=8,
                        color=PALETTE["grey"], rotation=90 if many else 0)
        for xi, f, h, s, ok in zip(x, fractions, holes, sizes, available):
            if not ok or many:
                continue
            size = "x".join(str(v) for v in s) if isinstance(s, (tuple, list)) else str(s or "")
            crowded = n > 10
            label = f"{f:.0%}" + (f"\n{h} holes" if h and not crowded else "")
            ax.text(xi, min(f, 1.0) + 0.03, label, ha="center", va="bottom",
                    fontsize=6 if crowded else 7, rotation=90 if crowded else 0)
            if size and not crowded:
                ax.text(xi, 0.03, f"RF\n{size}", ha="center", va="bottom", fontsize=7,
                        color=PALETTE["white"])
        if many:  # every k-th name, plus the first gridded layer
            step = int(np.ceil(n / 30))
            ticks = sorted(set(range(0, n, step)) | ({first} if first is not None else set()))
            ax.set_xticks(ticks)
            ax.set_xticklabels([names[i] for i in ticks], rotation=90, fontsize=7)
            ax.set_xlim(-0.8, n - 0.2)
            ax.set_xlabel(f"layer (every {step}th name shown)" if step > 1 else "layer")
        else:
            ax.set_xticks(x)
            ax.set_xticklabels(names, rotation=30 if n > 4 else 0,
                               ha="right" if n > 4 else "center")
        ax.set_ylim(0, 1.45 if n > 10 else 1.3)
        ax.set_yticks([0, 0.5, 1.0])
        ax.set_yticklabels(["0%", "50%", "100%"])
        ax.set_ylabel("RF box covered")
        ax.axhline(1.0, color=PALETTE["grey"], linewidth=0.8, linestyle="--")
        if first is not None:
            # a marker over the first gridded bar (a line left of it would sit on the y-axis
            # when the very first layer grids), and the gridded stretch shaded
            top = 1.45 if n > 10 else 1.3
            ax.axvspan(first - 0.5, n - 0.5, color=ROLE["bad"], alpha=0.06, linewidth=0,
                       zorder=0)
            ax.annotate("holes from here", xy=(first, min(fractions[first], 1.0) + 0.02),
                        xytext=(first, top - 0.05), ha="left" if first < n / 2 else "right",
                        va="top", fontsize=7, color=ROLE["bad"],
                        arrowprops={"arrowstyle": "->", "color": ROLE["bad"], "lw": 1.0})
        ax.set_title(title or (f"per-layer gridding: holes from {names[first]} on"
                               if first is not None else "per-layer gridding: no layer grids"))
    return fig


def _gridding_rows(target: _GriddingLike) -> list[LayerGridding | Mapping[str, Any]]:
    if _is_report(target):
        return list(target.layer_gridding)
    if isinstance(target, Sequence) and not isinstance(target, str) and all(
        isinstance(r, Mapping) or hasattr(r, "fraction") for r in target
    ):
        return list(target)
    raise AtrousError(
        "gridding_strip draws computed rows: pass atrous.layer_gridding(...)'s result (e.g. of "
        f"atrous.stack(rates)) or a Report (atrous.analyze(...)), got {type(target).__name__}"
    )


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
    if image is not None:
        img = np.asarray(image)
        if img.ndim not in (2, 3):
            raise AtrousError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
        shape = img.shape[:2]
    elif input_size is not None:
        shape = tuple(int(v) for v in input_size)[-2:]
        if len(shape) == 1:
            shape = (1, shape[0])
        img = None
    else:
        raise AtrousError("rf_box_figure needs an image or an input_size")
    size = _per_axis(_field(rf, "size"), 2) if _field(rf, "size") is not None else None
    if size is None:
        raise AtrousError("rf must have a per-axis size (an atrous.ReceptiveField)")
    if len(size) == 1:
        size = (1.0, size[0])
    stride = _per_axis(_field(rf, "stride", 1), len(size))
    start = _per_axis(_field(rf, "start", 0), len(size))
    if len(stride) == 1:
        stride, start = (1.0, stride[0]), (0.0, start[0])
    is_global = bool(_field(rf, "is_global", False))
    h, w = shape
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
                x0, y0, bw, bh = -0.5, -0.5, w, h
            elif callable(getattr(rf, "box", None)) and len(_per_axis(_field(rf, "size"), 2)) == 2:
                hulls = [b for b in _hulls(rf, u) or () if b is not None]  # the unit's exact hull
                if len(hulls) != 2:
                    raise AtrousError(f"output unit {u} reads no input pixel: it has no RF box")
                (ylo, yhi), (xlo, xhi) = hulls
                x0, y0, bw, bh = xlo - 0.5, ylo - 0.5, xhi - xlo + 1, yhi - ylo + 1
            else:
                cy, cx = (st + ui * sd for st, ui, sd in zip(start, u, stride))
                x0, y0, bw, bh = cx - size[1] / 2, cy - size[0] / 2, size[1], size[0]
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
    patches = mpl().patches
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
            ax.stairs(rel[0], np.arange(w + 1, dtype=np.float64) - 0.5, color=PALETTE["blue"],
                      linewidth=1.2, label="|gradient| (relative)")
            pad = max(1.0, 0.01 * (hi - lo))
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(0, 1.08)
            ax.set_xlabel("input position")
            ax.set_ylabel("|gradient| (relative)")
            ax.xaxis.set_major_locator(mpl().ticker.MaxNLocator(integer=True))
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        else:
            fig = _new_figure(min(9.0, max(3.6, w * 0.06 + 2.4)),
                              min(9.0, max(2.2, h * 0.06 + 1.6)))
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
                ax.add_patch(patches.Rectangle(
                    (cx0, cy0), cx1 - cx0, cy1 - cy0, fill=False, edgecolor=ROLE["box"],
                    linewidth=2, linestyle="--" if cut else "-",
                    label=f"theoretical RF {dims}" + (", clipped to the input" if cut else "")))
                ax.set_xlim(-0.5, w - 0.5)
                ax.set_ylim(h - 0.5, -0.5)
                ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
            ticker = mpl().ticker
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        if title is None:
            title = "effective RF"
            if fraction is not None and dims:
                where = "the whole input" if dims == "global" else f"the {dims} box"
                if clip_dims:  # the fraction is of the part of the box inside the input
                    where = f"the {clip_dims} part of the {dims} box inside the input"
                title += f" (95% of the mass in {float(fraction):.0%} of {where})"
        ax.set_title(title)
    return fig


# -- output -----------------------------------------------------------------------------------
def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    with style_context():
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def figure_svg(fig: Any) -> str:
    """The figure as an SVG document (text, fonts as text)."""
    buf = io.StringIO()
    with style_context():
        fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Save ``fig`` to ``path`` atomically (temp file + rename); format from the suffix.

    ``fig`` may also be PNG bytes from :func:`figure_png` (written as they are). Returns the
    path written.
    """
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower() or "png"
    if fmt not in ("png", "svg", "pdf", "jpg", "jpeg"):
        raise AtrousError(f"figure format must be .png, .svg, .pdf or .jpg, got {out.name!r}")
    data: bytes
    if isinstance(fig, bytes):
        data = fig  # already rendered (PNG bytes)
    elif fmt == "svg":
        data = figure_svg(fig).encode()
    else:
        buf = io.BytesIO()
        with style_context():
            fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
        data = buf.getvalue()
    write_atomic(out, data)
    return out


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a full disk leaves the old file as it was.
    A symbolic link is written through: its target is replaced and the link stays. A path that
    exists and is not a regular file (a character device such as ``/dev/null``, a FIFO, a socket)
    is refused: a rename would replace it with a regular file. A path that cannot be written
    raises :class:`AtrousError` naming ``path`` (not the temporary file) and the reason.

    Returns:
        ``path`` as a :class:`~pathlib.Path` (the link, where it was one).
    """
    given = Path(path)
    out = Path(os.path.realpath(given)) if given.is_symlink() else given
    refuse_special(given)
    raw = data.encode() if isinstance(data, str) else data
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise AtrousError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, out)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise AtrousError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        raise
    return given

