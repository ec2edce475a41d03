"""What the analysis figures share: reading results, count maps drawn cell by cell, colours.

Private: the figures are :mod:`atrous.render.figures`; this module holds the helpers and limits
that the coverage figures (:mod:`atrous.render._figures_coverage`) and the receptive-field figures
(:mod:`atrous.render._figures_rf`) both use. matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, SupportsInt, TypeAlias

import numpy as np

from ..errors import AtrousError
from .style import PALETTE, ROLE, count_cmap, mpl, text_color

if TYPE_CHECKING:  # type-only: importing the renderers stays light
    from .._coverage import Coverage, LayerGridding
    from .._erf import ERFResult
    from ..report import Report
    from ..rf import ReceptiveField
    from ._records import (
        CoverageRecord,
        ERFRecord,
        GriddingRecord,
        NestedCounts,
        ReportRecord,
        RFRecord,
    )

    # What the figures draw (results, never inputs to compute): the core's result classes, or
    # the documented plain alternatives: an array (or nested lists) of counts, a result's JSON
    # record (atrous.render._records). Each figure dispatches with isinstance on these classes.
    _CoverageLike: TypeAlias = (Coverage | Report | CoverageRecord | ReportRecord | np.ndarray
                                | NestedCounts)
    _ComparedLike: TypeAlias = Coverage | Report | CoverageRecord | ReportRecord | np.ndarray
    _GriddingLike: TypeAlias = Report | ReportRecord | Sequence[LayerGridding | GriddingRecord]
    _RFLike: TypeAlias = ReceptiveField | Report | RFRecord
    _ERFLike: TypeAlias = ERFResult | ERFRecord

# matplotlib is untyped here (pyproject: ignore_missing_imports), so its objects are Any to mypy;
# these names only say which object a signature means.
Figure: TypeAlias = Any
Axes: TypeAlias = Any
Artist: TypeAlias = Any
Norm: TypeAlias = Any

ANNOTATE_MAX = 33
"""Counts are written in the cells when the map's longest side is at most this."""
COMPARE_ANNOTATE_MAX = 19
"""Side-by-side maps carry counts when every map is at most this many cells on a side."""
HATCH_MAX = 96
"""Holes are hatched (not only white) when the map's longest side is at most this."""
DRAW_MAX = 1024
"""Larger maps are drawn in blocks (each block's smallest count): no screen shows more."""


# -- reading results --------------------------------------------------------------------------
def _wrong_type(where: str, value: object, accepted: str) -> AtrousError:
    """The error for an input of the wrong type: the parameter, what it takes, what it got."""
    return AtrousError(f"{where} must be {accepted}, got {type(value).__name__}")


def _report_coverage(report: Report) -> Coverage:
    """``report.coverage``, or an AtrousError saying why the report has none. A deferred map
    (a global output's whole input, :attr:`atrous.report.OutputResult.deferred`) is not built
    here: a figure draws results, it runs no analysis."""
    if report.outputs[0].deferred:
        raise AtrousError(
            f"the report for {report.target!r} has not built its coverage map (the output is "
            "global: the map is the whole input); pass report.coverage, which builds it"
        )
    cov = report.coverage
    if cov is None:
        why = next((o.coverage_error for o in report.outputs if o.coverage_error), None)
        raise AtrousError(
            f"the report for {report.target!r} has no coverage map" + (f": {why}" if why else "")
        )
    return cov


@dataclass(frozen=True)
class _Map:
    """A coverage map to draw, read from whichever result it came in: the counts, and what the
    result states about them (None: derived from the counts, or unknown)."""

    counts: np.ndarray
    offset: tuple[int, ...] | None = None
    unit: tuple[int, ...] | None = None
    holes: int | None = None
    gridded: bool | None = None
    fraction: float | None = None


COVERAGE_TYPES = ("a Coverage (atrous.coverage), a Report (atrous.analyze), a coverage record "
                  "(Coverage.to_dict() with its counts) or an array of counts")
"""The inputs :func:`coverage_figure` takes, in words (its error messages say them)."""


def _coverage_map(cov: _CoverageLike, where: str = "cov") -> _Map:
    """The map of a Coverage, a Report (its coverage), a coverage record or an array (or nested
    lists) of counts; anything else is refused naming ``where`` and the accepted types."""
    from .._coverage import Coverage
    from ..report import Report

    if isinstance(cov, Report):
        cov = _report_coverage(cov)
    if isinstance(cov, Coverage):
        out = _Map(cov.counts, tuple(cov.offset), tuple(cov.unit), cov.holes, cov.gridded,
                   cov.fraction)
    elif isinstance(cov, (np.ndarray, list, tuple)):
        out = _Map(_counts_array(cov, where))
    elif isinstance(cov, Mapping):
        record: Mapping[str, Any] = cov
        inner = record.get("coverage")
        if "counts" not in record and isinstance(inner, Mapping):  # a report's record
            record = inner
        counts = record.get("counts")
        if counts is None:
            raise AtrousError(
                f"{where}: a coverage record must carry its counts (Coverage.to_dict() or "
                "Report.to_dict() with counts=True), this one has none"
            )
        array = _counts_array(counts, where)
        offset, unit = record.get("offset"), record.get("unit")
        holes, gridded, fraction = (record.get("holes"), record.get("gridded"),
                                    record.get("fraction"))
        try:
            out = _Map(
                array,
                None if offset is None else tuple(int(o) for o in offset),
                None if unit is None else tuple(int(u) for u in unit),
                None if holes is None else int(holes),
                None if gridded is None else bool(gridded),
                None if fraction is None else float(fraction),
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise AtrousError(f"{where}: a coverage record's offset, unit, holes and fraction "
                              f"must be numbers ({exc})") from None
    else:
        raise _wrong_type(where, cov, COVERAGE_TYPES)
    arr = out.counts
    if arr.ndim not in (1, 2, 3) or arr.size == 0:
        raise AtrousError(
            f"a coverage map must be a non-empty 1-D, 2-D or 3-D array, got shape {arr.shape}"
        )
    return out


def _counts_array(counts: object, where: str) -> np.ndarray:
    """``counts`` as an array of path counts: numbers (ints, exact big ints as objects, bools,
    finite floats), none negative; ragged lists, strings, NaN are refused naming ``where``."""
    try:
        arr = np.asarray(counts)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise AtrousError(f"{where}: the counts are not a rectangular array ({exc})") from None
    if arr.dtype == object:
        bad = next((v for v in arr.ravel() if isinstance(v, bool)
                    or not isinstance(v, (int, np.integer))), None)
        if bad is not None:
            raise AtrousError(f"{where}: the counts must be whole numbers, got {bad!r}")
    elif arr.dtype.kind not in "biuf":
        raise AtrousError(f"{where}: the counts must be numbers, got an array of {arr.dtype}")
    elif arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
        raise AtrousError(f"{where}: the counts must be finite, got NaN or infinity")
    if arr.size and arr.dtype.kind != "b" and (arr < 0).any():
        raise AtrousError(f"{where}: the counts are path counts (>= 0), got a negative one")
    return arr


def _as_plane(arr: np.ndarray) -> tuple[np.ndarray, str]:
    """A 2-D view of a 1-/2-/3-D map and a note saying what was shown."""
    if arr.ndim == 1:
        return arr[None, :], ""
    if arr.ndim == 3:
        mid = arr.shape[0] // 2
        return arr[mid], f" (centre slice {mid} of {arr.shape[0]})"
    return arr, ""


def _offset_of(cov: _Map) -> tuple[int, ...] | None:
    """Input coordinate of ``counts[0, ...]`` per axis (a Coverage's ``offset``), or None."""
    if cov.offset is None or len(cov.offset) != cov.counts.ndim:
        return None
    return cov.offset


def _block_min(plane: np.ndarray, block: int) -> np.ndarray:
    """Reduce a 2-D map by ``block`` x ``block`` blocks, keeping each block's smallest count.

    The smallest count keeps every hole visible (a block with a hole is drawn as a hole), so a
    downsampled map never looks gridding-free when the full map is not.
    """
    h, w = plane.shape
    hb, wb = -(-h // block), -(-w // block)
    if plane.dtype == object:
        fill: object = max(plane.ravel().tolist())
    else:
        fill = plane.max()
    padded = np.full((hb * block, wb * block), fill, dtype=plane.dtype)
    padded[:h, :w] = plane
    reduced: np.ndarray = padded.reshape(hb, block, wb, block).min(axis=(1, 3))
    return reduced


def _float(arr: np.ndarray) -> np.ndarray:
    """Counts as float64 (object arrays of Python ints too; huge counts saturate harmlessly)."""
    if arr.dtype == object:
        saturated: np.ndarray = np.vectorize(lambda v: float(v) if v < 1e300 else 1e300,
                                             otypes=[float])(arr)
        return saturated
    return arr.astype(np.float64)


def format_count(value: SupportsInt) -> str:
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


def _summary(cov: _Map) -> tuple[int, bool, float]:
    """Holes, gridded and the covered fraction: as the result states them, else from the
    counts."""
    counts = cov.counts
    nz = int(np.count_nonzero(counts != 0))
    holes = int(counts.size - nz) if cov.holes is None else cov.holes
    gridded = holes > 0 if cov.gridded is None else cov.gridded
    fraction = nz / counts.size if cov.fraction is None else cov.fraction
    return holes, gridded, fraction


def _norm(values: Sequence[np.ndarray], log_above: float = 1000.0) -> Norm:
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
    ax: Axes,
    counts: np.ndarray,
    norm: Norm,
    annotate: bool | None,
    title: str,
    origin: Sequence[int] | None = None,
) -> Artist:
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


def _cell_labels(ax: Axes, cells: list[tuple[int, int, str, str]], size: float) -> Artist:
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
    shapes: dict[str, Artist] = {}  # matplotlib Paths
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


def _new_figure(width: float, height: float) -> Figure:
    figure = mpl().figure
    return figure.Figure(figsize=(width, height), layout="constrained")
