"""The one look of every atrous figure: a colour-blind-safe palette and matplotlib helpers.

Categorical colours are the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency); counts use ``viridis`` (perceptually uniform, readable in grey scale) with zero drawn
white, as in the usual tutorial coverage figures. Meaning never rests on colour alone: holes are
also hatched, gridded layers also marked with a symbol.

This module does not import matplotlib at import time; :func:`mpl` loads it with the Agg backend.

    >>> PALETTE["blue"]
    '#0072B2'
    >>> text_color("#000000"), text_color("#ffffff")
    ('white', 'black')
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any

__all__ = [
    "COUNT_CMAP",
    "FONT_SIZE",
    "PALETTE",
    "RC",
    "ROLE",
    "count_cmap",
    "mpl",
    "pyplot",
    "style_context",
    "text_color",
]

PALETTE: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
    "light": "#EEEEEE",
    "white": "#FFFFFF",
}
"""Okabe-Ito colours (plus neutral greys) by name."""

ROLE: dict[str, str] = {
    "ok": PALETTE["green"],
    "bad": PALETTE["vermillion"],
    "warn": PALETTE["orange"],
    "box": PALETTE["vermillion"],
    "input": "#B9DDF3",  # a light tint of sky blue
    "pad": PALETTE["white"],
    "inserted": PALETTE["light"],
    "tap": PALETTE["blue"],
    "hole": PALETTE["orange"],
    "output": "#9FD9C5",  # a light tint of bluish green
    "current": PALETTE["green"],
    "overhang": "#F6D9C4",  # a light tint of vermillion: ceil_mode windows past the padding
}
"""Colour of each role in the drawings and figures."""

COUNT_CMAP = "viridis"
FONT_SIZE = 9
RC: dict[str, Any] = {
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 1,
    "axes.labelsize": FONT_SIZE,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "atrous",
    "text.parse_math": False,  # names are drawn as written: "$x$" in a module name is not TeX
}
"""matplotlib rc settings every atrous figure is drawn under."""


def mpl() -> Any:
    """Import matplotlib lazily, on the non-interactive Agg backend unless one was chosen."""
    import matplotlib

    if "MPLBACKEND" not in os.environ and matplotlib.get_backend().lower() not in ("agg",):
        # only switch when nothing interactive is running (pyplot not yet imported)
        import sys

        if "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg")
    # the submodules the renderers use, so ``mpl().patches`` etc. resolve
    import matplotlib.backends.backend_agg
    import matplotlib.colors
    import matplotlib.figure
    import matplotlib.patches
    import matplotlib.ticker

    return matplotlib


def pyplot() -> Any:
    """``matplotlib.pyplot``, imported lazily (Agg backend)."""
    mpl()
    import matplotlib.pyplot as plt

    return plt


def style_context() -> AbstractContextManager[Any]:
    """A context manager applying :data:`RC` (use around figure construction)."""
    ctx: AbstractContextManager[Any] = mpl().rc_context(RC)
    return ctx


def count_cmap() -> Any:
    """The count colormap: viridis with zero (and masked cells) drawn white."""
    matplotlib = mpl()
    return matplotlib.colormaps[COUNT_CMAP].with_extremes(
        bad=PALETTE["white"], under=PALETTE["white"]
    )


def text_color(rgba: Any) -> str:
    """``"black"`` or ``"white"``, whichever reads better on a background colour.

    Args:
        rgba: a colour as a hex string or an RGB(A) tuple of floats in 0..1.
    """
    if isinstance(rgba, str):
        h = rgba.lstrip("#")
        r, g, b = (int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
    else:
        r, g, b = (float(v) for v in tuple(rgba)[:3])

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "black" if luminance > 0.179 else "white"
