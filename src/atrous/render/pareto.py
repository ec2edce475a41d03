"""The design Pareto frontier as a matplotlib figure (:func:`atrous.pareto`).

matplotlib is imported when :func:`pareto_figure` runs, never when this module is imported.

    >>> import atrous
    >>> fig = pareto_figure(atrous.pareto(kernel=3, max_rate=8, max_layers=3, counts=(1, 2)))
    >>> fig.axes[0].get_xlabel()
    'layers'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import AtrousError
from .style import PALETTE, style_context

if TYPE_CHECKING:  # type-only: importing the renderers stays light
    from collections.abc import Sequence

    from .._design import ParetoFrontier, ParetoPoint
    from ._figures_base import Figure

__all__ = ["pareto_figure"]

_COLORS = ["blue", "vermillion", "green", "orange", "purple", "sky", "black", "yellow"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _pixels(value: float, _pos: object = None) -> str:
    """A y tick label: a whole number of pixels as an integer.

    >>> _pixels(128.0), _pixels(0.5)
    ('128', '0.5')
    """
    return str(round(value)) if float(value).is_integer() else f"{value:g}"


def _series(points: Sequence[ParetoPoint]) -> tuple[list[int], list[int]]:
    """``(layers, widths)`` of the points, as ``ax.plot`` takes them."""
    return [p.layers for p in points], [p.width for p in points]


def pareto_figure(frontier: ParetoFrontier, *, title: str | None = None) -> Figure:
    """Widest evenly covered window (log scale) against layers, one line per count level.

    Filled markers are Pareto-optimal points; hollow ones are matched by a point with fewer
    layers or a higher count. Each level has its own colour *and* marker.

    Args:
        frontier: a :class:`atrous.ParetoFrontier` (:func:`atrous.pareto`); anything else is
            refused (:class:`AtrousError` naming ``frontier``).
        title: figure title (default: kernel and max rate).

    Returns:
        A :class:`matplotlib.figure.Figure`.
    """
    from .._design import ParetoFrontier

    if not isinstance(frontier, ParetoFrontier):
        raise AtrousError("pareto_figure: frontier must be a ParetoFrontier (atrous.pareto(...)), "
                          f"got {type(frontier).__name__}")
    points = frontier.points
    with style_context():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = fig.add_subplot()
        nd = frontier.ndim
        for i, level in enumerate(frontier.counts):
            rows = [p for p in points if p.count == level and p.width > 0]
            if not rows:
                continue
            color = PALETTE[_COLORS[i % len(_COLORS)]]
            marker = _MARKERS[i % len(_MARKERS)]
            label = "gridding-free RF" if level == 1 else f">= {level} paths/axis"
            if nd > 1 and level > 1:
                label += f" ({level**nd} in {nd}-D)"
            # every point of the level, hollow and joined; the Pareto-optimal ones filled on top
            ax.plot(*_series(rows), color=color, marker=marker, linestyle="-", label=label,
                    markerfacecolor="none")
            ax.plot(*_series([p for p in rows if p.optimal]), color=color, marker=marker,
                    linestyle="none")
        ax.set_yscale("log", base=2)
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        # widths are whole pixels: integer tick labels at powers of two ("128", not "128.0")
        ax.yaxis.set_major_locator(LogLocator(base=2))
        ax.yaxis.set_major_formatter(FuncFormatter(_pixels))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("layers")
        ax.set_ylabel("widest window per axis (pixels)")
        ax.set_xticks(sorted({p.layers for p in points}))
        ax.grid(True, which="major", color=PALETTE["light"])
        cap = "no max rate" if frontier.max_rate is None else f"max rate {frontier.max_rate}"
        ax.set_title(title or f"gridding-free frontier: kernel {frontier.kernel}, {cap}")
        ax.legend(loc="upper left", frameon=False)
    return fig
