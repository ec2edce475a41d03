"""Figures of coverage analyses: a coverage map, maps side by side, per-layer gridding.

Private: import them from :mod:`atrous.render.figures`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import AtrousError, printable
from ._figures_base import (
    ANNOTATE_MAX,
    COMPARE_ANNOTATE_MAX,
    DRAW_MAX,
    HATCH_MAX,
    Axes,
    Figure,
    _as_plane,
    _coverage_map,
    _draw_counts,
    _float,
    _Map,
    _new_figure,
    _norm,
    _offset_of,
    _summary,
    format_count,
)
from .style import PALETTE, ROLE, mpl, style_context

if TYPE_CHECKING:
    from .._coverage import LayerGridding
    from ._figures_base import _ComparedLike, _CoverageLike, _GriddingLike
    from ._records import GriddingRecord

__all__ = ["compare_figure", "coverage_figure", "gridding_strip"]


# -- coverage ---------------------------------------------------------------------------------
def coverage_figure(
    cov: _CoverageLike, *, title: str | None = None, annotate: bool | None = None
) -> Figure:
    """Coverage heatmap with counts in the cells, grid lines and hatched holes.

    Args:
        cov: a :class:`atrous.Coverage` (its ``counts``, ``offset``, ``holes``, ``gridded``,
            ``fraction`` are read), a :class:`atrous.Report` (its ``coverage``), a coverage
            record (:meth:`atrous.Coverage.to_dict` with its ``counts``, the same fields) or an
            array (or nested lists) of counts spanning the receptive-field box. 1-D maps are
            drawn as a step plot (paths per input position, the box shaded), 3-D maps as their
            centre slice. Anything else is refused (:class:`AtrousError` naming ``cov``).
        title: first title line (default: the verdict in words).
        annotate: write the counts in the cells; default when the map is at most
            :data:`ANNOTATE_MAX` cells on a side.

    Axes are in input coordinates when ``cov`` has an ``offset`` (a Coverage, a Report or a
    record), else offsets from the map's centre.

    Returns:
        A matplotlib ``Figure`` (one axes with the map, plus a colour bar for 2-D maps).

    >>> import numpy as np
    >>> fig = coverage_figure(np.ones(5, dtype=int))
    >>> fig.axes[0].get_title().splitlines()[0]
    'coverage: RF 5, no holes, 100% covered'
    """
    drawn = _coverage_map(cov, "coverage_figure: cov")
    counts = drawn.counts
    origin = _offset_of(drawn)
    plane, note = _as_plane(counts)
    holes, gridded, fraction = _summary(drawn)
    box = "x".join(str(n) for n in counts.shape)
    verdict = f"{holes} holes (gridded)" if gridded else "no holes"
    head = title or f"coverage: RF {box}, {verdict}, {fraction:.0%} covered"
    lo, hi = (int(plane[plane > 0].min()), int(plane.max())) if np.any(plane > 0) else (0, 0)
    sub = f"paths per input pixel: {format_count(lo)}..{format_count(hi)}{note}"
    if counts.ndim == 1:
        unit = drawn.unit
        return _coverage_line(counts, origin, annotate, f"{head}\n{sub}",
                              unit=unit[0] if unit is not None and len(unit) == 1 else None)
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


STEP_MAX = 4096
"""1-D maps longer than this are drawn as the range (min..max) of the counts per bin of
adjacent positions (at most ``STEP_MAX // 2`` bins), holes marked per bin: a figure has fewer
pixels than steps, and drawing millions of steps takes matplotlib minutes."""


def _envelope(
    shown: np.ndarray, edges: np.ndarray, holes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin minimum and maximum of ``shown`` (NaN entries skipped), the bins' edges and the
    centres of the bins holding a hole.

    >>> lo, hi, e, h = _envelope(np.arange(10.0), np.arange(11.0) - 0.5, np.arange(10) == 3)
    >>> lo.tolist()[:2], hi.tolist()[:2], e.tolist()[:3], h.tolist()
    ([0.0, 1.0], [0.0, 1.0], [-0.5, 0.5, 1.5], [3.0])
    """
    n = shown.size
    width = -(-n // (STEP_MAX // 2))
    bins = -(-n // width)
    padded = np.full(bins * width, np.nan)
    padded[:n] = shown
    rows = padded.reshape(bins, width)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bin of holes only (log scale)
        low, high = np.nanmin(rows, axis=1), np.nanmax(rows, axis=1)
    bin_edges = edges[0] + width * np.arange(bins + 1, dtype=np.float64)
    bin_edges[-1] = edges[-1]
    marked = np.zeros(bins * width, dtype=bool)
    marked[:n] = holes
    centres = (bin_edges[:-1] + bin_edges[1:]) / 2
    return low, high, bin_edges, centres[marked.reshape(bins, width).any(axis=1)]


def _coverage_line(
    counts: np.ndarray,
    origin: tuple[int, ...] | None,
    annotate: bool | None,
    title: str,
    unit: int | None = None,
) -> Figure:
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
        if n > STEP_MAX:  # more steps than a figure has pixels: the per-bin range
            low_env, high_env, bin_edges, hole_bins = _envelope(shown, edges, values <= 0)
            ax.stairs(high_env, bin_edges, baseline=low_env, fill=True, color=PALETTE["blue"],
                      label=f"paths (min..max per {int(bin_edges[1] - bin_edges[0])} px)")
            ax.stairs(high_env, bin_edges, baseline=None, color=PALETTE["blue"], linewidth=1.2)
        else:
            ax.stairs(shown, edges, color=PALETTE["blue"], linewidth=1.4, label="paths",
                      baseline=None if log else 0.0, fill=not log and n <= HATCH_MAX,
                      alpha=0.85 if not log and n <= HATCH_MAX else 1.0)
            hole_bins = hole_at
        if log:
            ax.set_yscale("log")
        low = float(positive.min()) if log else 0.0
        if hole_at.size:
            marks = ax.plot(hole_bins, np.full(hole_bins.size, low), linestyle="none",
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


COMPARED_TYPES = (
    "computed coverage maps: Coverages (atrous.coverage(...), e.g. of atrous.stack(rates)), "
    "Reports (atrous.analyze(...)), their records (to_dict(), JSON, with the counts) or numpy "
    "arrays of counts"
)


def _compared(item: _ComparedLike, where: str) -> _Map:
    """A computed map to draw side by side: a Coverage, a Report's coverage or an array."""
    from .._coverage import Coverage
    from ..report import Report

    if not isinstance(item, (Coverage, Report, np.ndarray, Mapping)):
        raise AtrousError(
            f"compare_figure draws {COMPARED_TYPES}; {where} is a {type(item).__name__}, which "
            "is not computed (the figure draws results, it runs no analysis)"
        )
    return _coverage_map(item, where)


def _label_of(item: _ComparedLike) -> str:
    from ..report import Report

    if isinstance(item, Mapping):  # a report's record names its target
        return printable(str(item.get("target") or ""))
    return printable(str(item.target or "")) if isinstance(item, Report) else ""


def compare_figure(
    items: Sequence[_ComparedLike] | Mapping[str, _ComparedLike],
    *,
    annotate: bool | None = None,
    title: str | None = None,
) -> Figure:
    """Coverage maps side by side on one colour scale, e.g. rates ``[2, 2, 2]`` vs ``[1, 2, 3]``.

    Args:
        items: computed maps: Coverages (``atrous.coverage(atrous.stack([2, 2, 2]))``), Reports
            (their ``coverage``; labelled with their target) or numpy arrays of counts; a
            mapping gives each a label. Anything else (a rate list, a spec, a Graph) is refused
            (:class:`AtrousError` naming the item): the figure draws results, it does not
            compute them.
        annotate: counts in the cells (default: when every map is small enough).
        title: overall title.

    >>> import numpy as np
    >>> fig = compare_figure({"a": np.ones((3, 3), int), "b": np.eye(3, dtype=int)})
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes[:2]]
    ['a', 'b']
    """
    if isinstance(items, Mapping):
        labels, raw = [str(k) for k in items], list(items.values())
        where = [f"items[{k!r}]" for k in items]
    elif isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise AtrousError(
            f"compare_figure draws {COMPARED_TYPES}, as a list or a mapping of labels to maps; "
            f"items is a {type(items).__name__}"
        )
    else:
        raw = list(items)
        labels = [_label_of(x) or f"#{i + 1}" for i, x in enumerate(raw)]
        where = [f"items[{i}]" for i in range(len(raw))]
    if not raw:
        raise AtrousError("compare_figure needs at least one coverage map")
    covs = [_compared(x, w) for x, w in zip(raw, where)]
    planes = [_as_plane(c.counts)[0] for c in covs]
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
            counts = cov.counts
            holes, gridded, fraction = _summary(cov)
            box = "x".join(str(n) for n in counts.shape)
            verdict = f"{holes} holes, gridded" if gridded else "no holes"
            origin = _offset_of(cov) if counts.ndim == 2 else None
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
def gridding_strip(target: _GriddingLike, *, title: str | None = None) -> Figure:
    """Per-layer gridding: the covered fraction of each layer's RF box, where holes appear.

    Args:
        target: the rows of :func:`atrous.layer_gridding` (:class:`atrous.LayerGridding`, each
            with ``node``, ``rf_size``, ``holes``, ``gridded``, ``fraction``; rows with
            ``available=False`` are drawn as n/a), their records (``LayerGridding.to_dict()``,
            a report record's ``layer_gridding``: dicts with the same keys) or a
            :class:`atrous.Report` (its ``layer_gridding``). A Graph, spec or rate list is
            refused (:class:`AtrousError` naming ``target``): the figure draws results, it does
            not compute them.
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
    names = [printable(r.name) for r in rows]  # drawn as written, control characters escaped
    fractions = [r.fraction for r in rows]
    gridded = [r.gridded for r in rows]
    holes = [r.holes for r in rows]
    available = [r.available for r in rows]
    sizes = [r.rf_size for r in rows]
    first = next((i for i, g in enumerate(gridded) if g), None)
    n = len(rows)
    many = n > 40  # e.g. WaveNet's 92 nodes: no per-bar labels, a subset of the names
    with style_context():
        fig = _new_figure(min(16.0, max(4.0, (0.16 if many else 0.75) * n + 1.5)), 3.0)
        ax = fig.add_subplot()
        _gridding_bars(ax, fractions, gridded, holes, sizes, available, many)
        _gridding_names(ax, names, first, many)
        top = 1.45 if n > 10 else 1.3
        ax.set_ylim(0, top)
        ax.set_yticks([0, 0.5, 1.0])
        ax.set_yticklabels(["0%", "50%", "100%"])
        ax.set_ylabel("RF box covered")
        ax.axhline(1.0, color=PALETTE["grey"], linewidth=0.8, linestyle="--")
        if first is not None:
            # a marker over the first gridded bar (a line left of it would sit on the y-axis
            # when the very first layer grids), and the gridded stretch shaded
            ax.axvspan(first - 0.5, n - 0.5, color=ROLE["bad"], alpha=0.06, linewidth=0,
                       zorder=0)
            ax.annotate("holes from here", xy=(first, min(fractions[first], 1.0) + 0.02),
                        xytext=(first, top - 0.05), ha="left" if first < n / 2 else "right",
                        va="top", fontsize=7, color=ROLE["bad"],
                        arrowprops={"arrowstyle": "->", "color": ROLE["bad"], "lw": 1.0})
        ax.set_title(title or (f"per-layer gridding: holes from {names[first]} on"
                               if first is not None else "per-layer gridding: no layer grids"))
    return fig


def _gridding_bars(
    ax: Axes,
    fractions: list[float],
    gridded: list[bool],
    holes: list[int],
    sizes: list[tuple[int, ...] | None],
    available: list[bool],
    many: bool,
) -> None:
    """One bar per layer (gridded ones vermillion and hatched), n/a where the layer has none,
    and, unless there are ``many``, each bar's fraction, holes and RF size written on it."""
    n = len(fractions)
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
        size = "" if s is None else "x".join(str(v) for v in s)
        crowded = n > 10
        label = f"{f:.0%}" + (f"\n{h} holes" if h and not crowded else "")
        ax.text(xi, min(f, 1.0) + 0.03, label, ha="center", va="bottom",
                fontsize=6 if crowded else 7, rotation=90 if crowded else 0)
        if size and not crowded:
            ax.text(xi, 0.03, f"RF\n{size}", ha="center", va="bottom", fontsize=7,
                    color=PALETTE["white"])


def _gridding_names(ax: Axes, names: list[str], first: int | None, many: bool) -> None:
    """The layer names under the bars: all of them, or every k-th and the first gridded."""
    n = len(names)
    if many:  # every k-th name, plus the first gridded layer
        step = int(np.ceil(n / 30))
        ticks = sorted(set(range(0, n, step)) | ({first} if first is not None else set()))
        ax.set_xticks(ticks)
        ax.set_xticklabels([names[i] for i in ticks], rotation=90, fontsize=7)
        ax.set_xlim(-0.8, n - 0.2)
        ax.set_xlabel(f"layer (every {step}th name shown)" if step > 1 else "layer")
    else:
        ax.set_xticks(np.arange(n))
        ax.set_xticklabels(names, rotation=30 if n > 4 else 0,
                           ha="right" if n > 4 else "center")


@dataclass(frozen=True)
class _Bar:
    """One layer of the strip, read from a LayerGridding or its record."""

    name: str
    fraction: float  # 0.0 where not available
    gridded: bool
    holes: int
    available: bool
    rf_size: tuple[int, ...] | None


GRIDDING_TYPES = (
    "computed rows: atrous.layer_gridding(...)'s result (e.g. of atrous.stack(rates)), their "
    "records (LayerGridding.to_dict()), a Report (atrous.analyze(...)) or its record (to_dict(), "
    "JSON)"
)


def _bar(row: LayerGridding | GriddingRecord) -> _Bar:
    from .._coverage import LayerGridding

    name: str | None
    size: tuple[int, ...] | None
    if isinstance(row, LayerGridding):
        name, fraction, gridded = row.node, row.fraction, row.gridded
        holes, available, size = row.holes, row.available, row.rf_size
    else:
        name, fraction, gridded = row.get("node"), row.get("fraction"), row.get("gridded")
        holes, available = row.get("holes"), row.get("available", True)
        rf_size = row.get("rf_size")
        size = None if rf_size is None else tuple(int(v) for v in rf_size)
    return _Bar(str(name or "?"), float(fraction or 0.0), bool(gridded), int(holes or 0),
                available is not False and fraction is not None, size)


def _gridding_rows(target: _GriddingLike) -> list[_Bar]:
    from .._coverage import LayerGridding
    from ..report import Report

    if isinstance(target, Report):
        return [_bar(r) for r in target.layer_gridding]
    rows: object = target
    if isinstance(target, Mapping) and isinstance(target.get("layer_gridding"), list):
        rows = target["layer_gridding"]  # a report's record (to_dict(), JSON)
    listed = isinstance(rows, Sequence) and not isinstance(rows, (str, bytes))
    if isinstance(rows, Sequence) and listed and all(
            isinstance(r, LayerGridding) or (isinstance(r, Mapping) and "node" in r)
            for r in rows):
        return [_bar(r) for r in rows]
    kinds = sorted({type(r).__name__ for r in rows}) if isinstance(rows, Sequence) else []
    raise AtrousError(
        f"gridding_strip draws {GRIDDING_TYPES}; target is a {type(rows).__name__}"
        + (" of " + ", ".join(kinds) if listed else "")
    )
