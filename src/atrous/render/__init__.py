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

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'atrous.render' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
