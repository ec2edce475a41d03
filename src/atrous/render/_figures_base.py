"""What the analysis figures share: reading results, count maps drawn cell by cell, colours.

Private: the figures are :mod:`atrous.render.figures`; this module holds the helpers and limits
that the coverage figures (:mod:`atrous.render._figures_coverage`) and the receptive-field figures
(:mod:`atrous.render._figures_rf`) both use. matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

import numpy as np

from ..errors import AtrousError
from .style import PALETTE, ROLE, count_cmap, mpl, text_color

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
    reduced: np.ndarray = padded.reshape(hb, block, wb, block).min(axis=(1, 3))
    return reduced


def _float(arr: np.ndarray) -> np.ndarray:
    """Counts as float64 (object arrays of Python ints too; huge counts saturate harmlessly)."""
    if arr.dtype == object:
        saturated: np.ndarray = np.vectorize(lambda v: float(v) if v < 1e300 else 1e300,
                                             otypes=[float])(arr)
        return saturated
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
