"""Renderers: they only display analysis results, never compute them.

- :mod:`atrous.render.text`: rich terminal tables, verdicts and coverage heatmaps;
- :mod:`atrous.render.figures`: matplotlib figures (coverage, comparisons, per-layer gridding,
  receptive-field boxes, effective receptive fields);
- :mod:`atrous.render.draw`: conv-arithmetic drawings and animations (PNG, GIF, SVG);
- :mod:`atrous.render.html`: the self-contained HTML report;
- :mod:`atrous.render.style`: the one colour-blind-safe look they share.

Names load lazily, so ``import atrous.render`` imports neither matplotlib nor jinja2.

    >>> import atrous.render
    >>> atrous.render.coverage_figure.__module__
    'atrous.render.figures'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._lazy import lazy_dir, lazy_getattr

if TYPE_CHECKING:  # the names' real types for mypy; at run time they load on first use
    from .draw import Drawing as Drawing
    from .draw import Frame as Frame
    from .draw import Geometry as Geometry
    from .draw import animate as animate
    from .draw import frames as frames
    from .draw import geometry as geometry
    from .figures import compare_figure as compare_figure
    from .figures import coverage_figure as coverage_figure
    from .figures import erf_figure as erf_figure
    from .figures import gridding_strip as gridding_strip
    from .figures import rf_box_figure as rf_box_figure
    from .figures import save_figure as save_figure
    from .html import page_html as page_html
    from .html import report_html as report_html
    from .html import write_html as write_html
    from .pareto import pareto_figure as pareto_figure
    from .text import coverage_heatmap as coverage_heatmap
    from .text import render_compare as render_compare
    from .text import render_model as render_model
    from .text import render_report as render_report

# public name -> submodule of atrous.render that defines it
_EXPORTS: dict[str, str] = {
    # figures.py
    "coverage_figure": "figures",
    "compare_figure": "figures",
    "gridding_strip": "figures",
    "rf_box_figure": "figures",
    "erf_figure": "figures",
    "save_figure": "figures",
    # draw.py (the function draw() lives at atrous.render.draw.draw: the module has that name)
    "animate": "draw",
    "frames": "draw",
    "geometry": "draw",
    "Drawing": "draw",
    "Frame": "draw",
    "Geometry": "draw",
    # html.py
    "report_html": "html",
    "page_html": "html",
    "write_html": "html",
    # pareto.py
    "pareto_figure": "pareto",
    # text.py
    "render_report": "text",
    "render_compare": "text",
    "render_model": "text",
    "coverage_heatmap": "text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # a lazily loaded name
    return lazy_getattr(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return lazy_dir(__name__, _EXPORTS)
