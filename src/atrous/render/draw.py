"""Conv-arithmetic drawings and animations, generated from the tested arithmetic.

In the manner of vdumoulin's *conv_arithmetic*: the input grid with its padding, the kernel's taps
highlighted with the holes between them, and the output grid filling in, one step per output
position. Unlike hand-drawn figures these cannot drift: the output size comes from
:mod:`atrous.arith` (checked against PyTorch), and every step's taps from the definition of the
operation. Beyond conv_arithmetic: numbers in the cells (input values, kernel weights, the computed
outputs), 1-D inputs, rectangular inputs, asymmetric padding, ``ceil_mode`` pooling.

A transposed convolution is drawn as conv_arithmetic draws it: a stride-1 convolution with the
flipped kernel over the input with ``stride-1`` zeros inserted between pixels and
``dilation*(kernel-1) - padding`` zeros around it (``+ output_padding`` after it); a negative
amount crops (PyTorch's ``padding > dilation*(kernel-1)``).

    >>> g = geometry("dilated", 7, kernel=3, dilation=2)
    >>> g.output_size, len(frames("dilated", 7, kernel=3, dilation=2))
    ((3, 3), 9)
    >>> frames("dilated", 7, kernel=3, dilation=2)[0].taps[:3]
    ((0, 0), (0, 2), (0, 4))
    >>> geometry("transposed", 3, kernel=3, stride=2, padding=1, ndim=1).output_size
    (5,)
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import arith
from .._arith_base import check_choice
from .._types import Ints, Pairs, as_int, as_ints
from ..errors import AtrousError, TooLargeError
from .style import PALETTE, ROLE, mpl, style_context

__all__ = [
    "MAX_FRAMES",
    "CellKind",
    "DrawKind",
    "Drawing",
    "Frame",
    "Geometry",
    "PoolMode",
    "animate",
    "draw",
    "frames",
    "geometry",
]

DrawKind = Literal["conv", "dilated", "transposed", "pool"]
PoolMode = arith.PoolMode
CellKind = Literal["input", "pad", "inserted", "overhang"]
MAX_FRAMES = 2000
"""An animation with more steps than this is refused (draw one step as PNG instead)."""
MAX_SIDE = 128
"""Longest canvas side that can be drawn."""


@dataclass(frozen=True)
class Frame:
    """One step: the output position being computed and the input cells its window reads.

    Attributes:
        step: index of the step (row-major over the output positions).
        output: the output position.
        taps: canvas coordinates of the kernel taps, in kernel order.
        weights: kernel-tap index for each tap (for transposed convs, the *flipped* kernel).
        reads: for each tap, the input index it reads, or None (padding, inserted zero,
            ceil_mode overhang).
        holes: canvas cells inside the window's extent that are not taps (the dilation's holes).
        value: the output value computed from the example numbers (None without numbers).
    """

    step: int
    output: Ints
    taps: tuple[Ints, ...]
    weights: tuple[Ints, ...]
    reads: tuple[Ints | None, ...]
    holes: tuple[Ints, ...]
    value: float | None = None


@dataclass(frozen=True)
class Geometry:
    """Everything a drawing needs, per axis; derived from :mod:`atrous.arith`.

    The *canvas* is the grid the window slides over: the input with its padding (for a
    transposed conv: with inserted zeros too).
    """

    kind: DrawKind
    input_size: Ints
    kernel: Ints
    stride: Ints
    padding: Pairs
    dilation: Ints
    output_padding: Ints
    ceil_mode: bool
    pool_mode: PoolMode
    output_size: Ints
    canvas_size: Ints
    window_stride: Ints
    canvas_offset: Ints = field(repr=False)
    """Canvas coordinate of input pixel 0 on each axis (may be negative when cropped)."""
    canvas_step: Ints = field(repr=False)
    """Canvas distance between consecutive input pixels (the stride, for transposed convs)."""

    @property
    def ndim(self) -> int:
        return len(self.input_size)

    @property
    def steps(self) -> int:
        """Number of output positions (= frames of an animation)."""
        return int(np.prod(self.output_size))

    def cell(self, c: Sequence[int]) -> tuple[CellKind, Ints | None]:
        """What canvas cell ``c`` holds, and the input index it shows (None if none)."""
        index = []
        kind: CellKind = "input"
        for axis, v in enumerate(c):
            z = v - self.canvas_offset[axis]
            step = self.canvas_step[axis]
            n = self.input_size[axis]
            if v >= self._padded_end(axis):
                return "overhang", None
            if z < 0 or z > (n - 1) * step:
                kind = "pad"
            elif z % step:
                if kind == "input":
                    kind = "inserted"
            else:
                index.append(z // step)
                continue
            index.append(-1)
        if kind != "input":
            return kind, None
        return "input", tuple(index)

    def _padded_end(self, axis: int) -> int:
        """Canvas coordinate where the padded input ends (cells from here are overhang)."""
        n, step = self.input_size[axis], self.canvas_step[axis]
        return self.canvas_offset[axis] + (n - 1) * step + 1 + self._right_pad(axis)

    def _right_pad(self, axis: int) -> int:
        if self.kind == "transposed":
            return self.canvas_offset[axis] + self.output_padding[axis]
        return self.padding[axis][1]

    def describe(self) -> str:
        """One line naming the operation and its parameters."""

        def fmt(values: Sequence[Any]) -> str:
            return "x".join(str(v) for v in values)

        def one(values: Sequence[Any]) -> str:
            return str(values[0]) if len(set(values)) == 1 else fmt(values)

        name = {
            "conv": "convolution", "dilated": "dilated convolution",
            "transposed": "transposed convolution", "pool": f"{self.pool_mode} pooling",
        }[self.kind]
        pads = self.padding
        sym = all(a == b for a, b in pads)
        pad = one([a for a, _ in pads]) if sym else ", ".join(f"{a}:{b}" for a, b in pads)
        parts = [f"input {fmt(self.input_size)}", f"kernel {fmt(self.kernel)}"]
        if any(d != 1 for d in self.dilation) or self.kind == "dilated":
            parts.append(f"dilation {one(self.dilation)}")
        parts += [f"stride {one(self.stride)}", f"padding {pad}"]
        if any(self.output_padding):
            parts.append(f"output_padding {one(self.output_padding)}")
        if self.ceil_mode:
            parts.append("ceil_mode")
        return f"{name}: {', '.join(parts)} -> output {fmt(self.output_size)}"


def _pairs(padding: Any, ndim: int, kind: DrawKind) -> Pairs:
    if kind == "conv" or kind == "dilated":
        pairs_in: Pairs = padding
        return pairs_in
    pairs = arith.normalize_padding(padding, ndim)
    if any(a != b for a, b in pairs):
        raise AtrousError(
            f"{kind} padding must be symmetric (PyTorch has one padding per axis), got {padding!r}"
        )
    return pairs


def geometry(
    kind: DrawKind,
    input: int | Sequence[int],
    kernel: int | Sequence[int] = 3,
    stride: int | Sequence[int] | None = None,
    padding: arith.PaddingArg = 0,
    dilation: int | Sequence[int] | None = None,
    output_padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    pool_mode: PoolMode = "max",
    ndim: int | None = None,
) -> Geometry:
    """The geometry of a drawing: sizes from :mod:`atrous.arith`, canvas layout per axis.

    Args:
        kind: ``"conv"``, ``"dilated"`` (dilation defaults to 2), ``"transposed"`` or ``"pool"``
            (stride defaults to the kernel, as in PyTorch).
        input: input size, an int or per-axis (1-D or 2-D).
        kernel, stride, padding, dilation, output_padding, ceil_mode: as in PyTorch; convs
            accept per-axis ``(left, right)`` padding pairs and ``"same"``.
        pool_mode: ``"max"`` or ``"avg"`` for pooling.
        ndim: 1 or 2 when every size is an int (default 2).

    >>> g = geometry("conv", (5, 7), kernel=3, padding=((0, 1), (1, 1)))
    >>> g.output_size, g.canvas_size
    ((4, 7), (6, 9))
    """
    check_choice(kind, DrawKind, "kind")
    check_choice(pool_mode, PoolMode, "pool_mode")
    per_axis = [v for v in (input, kernel, stride, dilation, output_padding)
                if isinstance(v, Sequence) and not isinstance(v, str)]
    nd = ndim if ndim is not None else (len(per_axis[0]) if per_axis else 2)
    if nd not in (1, 2):
        raise AtrousError(f"drawings are 1-D or 2-D, got ndim={nd}")
    n = as_ints(input, nd, "input size", 1)
    k = as_ints(kernel, nd, "kernel", 1)
    d = as_ints(dilation if dilation is not None else (2 if kind == "dilated" else 1), nd,
                "dilation", 1)
    s = as_ints(stride if stride is not None else (k if kind == "pool" else 1), nd, "stride", 1)
    op = as_ints(output_padding, nd, "output_padding", 0)
    if kind != "transposed" and any(op):
        raise AtrousError(f"output_padding only applies to transposed convolutions, got {op}")
    if ceil_mode and kind != "pool":
        raise AtrousError("ceil_mode only applies to pooling")
    if kind in ("conv", "dilated"):
        layout = _conv_layout(n, k, s, padding, d)
    elif kind == "pool":
        layout = _pool_layout(n, k, s, _pairs(padding, nd, kind), d, ceil_mode, pool_mode)
    else:
        layout = _transposed_layout(n, k, s, _pairs(padding, nd, kind), d, op)
    pads, out, canvas, wstride, offset, step = layout
    if max(canvas) > MAX_SIDE:
        raise TooLargeError(
            f"a drawing of a canvas {'x'.join(map(str, canvas))} is too large to read "
            f"(longest side must be <= {MAX_SIDE})"
        )
    return Geometry(
        kind=kind, input_size=n, kernel=k, stride=s, padding=pads, dilation=d,
        output_padding=op, ceil_mode=bool(ceil_mode), pool_mode=pool_mode, output_size=out,
        canvas_size=canvas, window_stride=wstride, canvas_offset=offset, canvas_step=step,
    )


_Layout = tuple[Pairs, Ints, Ints, Ints, Ints, Ints]
"""``(padding, output size, canvas size, window stride, canvas offset, canvas step)``."""


def _conv_layout(n: Ints, k: Ints, s: Ints, padding: arith.PaddingArg, d: Ints) -> _Layout:
    """A convolution's canvas: the input with its padding, the window moving by the stride."""
    nd = len(n)
    pads = arith.normalize_padding(padding, nd, k, s, d, n)
    out = as_ints(arith.conv_output_size(n, k, s, pads, d), nd, "output size")
    canvas = tuple(ni + a + b for ni, (a, b) in zip(n, pads))
    return pads, out, canvas, s, tuple(p[0] for p in pads), (1,) * nd


def _pool_layout(
    n: Ints, k: Ints, s: Ints, pads: Pairs, d: Ints, ceil_mode: bool, mode: PoolMode
) -> _Layout:
    """A pooling's canvas: as a convolution's, extended to show ``ceil_mode`` overhang."""
    nd = len(n)
    p = tuple(a for a, _ in pads)
    out = as_ints(arith.pool_output_size(n, k, s, p, d, ceil_mode, mode), nd, "output size")
    # ceil_mode windows may run past the right padding: extend the canvas to show them
    canvas = tuple(max(ni + 2 * pi, (oi - 1) * si + di * (ki - 1) + 1)
                   for ni, pi, oi, si, di, ki in zip(n, p, out, s, d, k))
    return pads, out, canvas, s, p, (1,) * nd


def _transposed_layout(n: Ints, k: Ints, s: Ints, pads: Pairs, d: Ints, op: Ints) -> _Layout:
    """A transposed convolution's canvas: the input spread by the stride, zeros around it."""
    nd = len(n)
    p = tuple(a for a, _ in pads)
    out = as_ints(arith.conv_transpose_output_size(n, k, s, p, d, op), nd, "output size")
    q = tuple(di * (ki - 1) - pi for di, ki, pi in zip(d, k, p))
    canvas = tuple((ni - 1) * si + 1 + 2 * qi + opi for ni, si, qi, opi in zip(n, s, q, op))
    for axis in range(nd):  # the drawing's own consistency with the tested arithmetic
        if canvas[axis] - d[axis] * (k[axis] - 1) != out[axis]:  # pragma: no cover
            raise AssertionError("transposed-conv canvas disagrees with atrous.arith")
    return pads, out, canvas, (1,) * nd, q, s


def example_numbers(g: Geometry, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Small integer input values (0..3) and kernel weights (1..3) for the numbers in the cells.

    Deterministic for a given ``seed`` (an integer >= 0). No weight is 0: a tap with weight 0
    would look like a hole in the drawing.

    >>> x, w = example_numbers(geometry("dilated", 7, kernel=3, dilation=2))
    >>> bool((w >= 1).all() and (w <= 3).all()), x.shape, w.shape
    (True, (7, 7), (3, 3))

    >>> example_numbers(geometry("conv", 4), seed=-1)
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: seed must be >= 0, got -1
    """
    seed = as_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=g.input_size)
    w = rng.integers(1, 4, size=g.kernel)
    return x, w


def _frames(g: Geometry, numbers: bool, seed: int = 0) -> list[Frame]:
    x, w = example_numbers(g, seed) if numbers else (None, None)
    taps_offsets = list(itertools.product(*(range(k) for k in g.kernel)))
    out: list[Frame] = []
    for step, o in enumerate(itertools.product(*(range(v) for v in g.output_size))):
        origin = tuple(oi * si for oi, si in zip(o, g.window_stride))
        taps = tuple(tuple(oa + t * d for oa, t, d in zip(origin, tap, g.dilation))
                     for tap in taps_offsets)
        tapset = set(taps)
        extent = [range(oa, oa + d * (k - 1) + 1) for oa, d, k in zip(origin, g.dilation,
                                                                       g.kernel)]
        holes = tuple(c for c in itertools.product(*extent) if c not in tapset)
        reads = tuple(g.cell(c)[1] for c in taps)
        if g.kind == "transposed":
            weights = tuple(tuple(k - 1 - t for k, t in zip(g.kernel, tap))
                            for tap in taps_offsets)
        else:
            weights = tuple(taps_offsets)
        value: float | None = None
        if x is not None and w is not None:
            value = _value(g, x, w, taps, reads, weights)
        out.append(Frame(step, tuple(o), taps, weights, reads, holes, value))
    return out


def _value(
    g: Geometry,
    x: np.ndarray,
    w: np.ndarray,
    taps: tuple[Ints, ...],
    reads: tuple[Ints | None, ...],
    weights: tuple[Ints, ...],
) -> float:
    vals = [int(x[r]) for r in reads if r is not None]
    if g.kind != "pool":
        return float(sum(int(x[r]) * int(w[wi]) for r, wi in zip(reads, weights)
                         if r is not None))
    if g.pool_mode == "max":
        return float(max(vals)) if vals else float("-inf")
    # PyTorch's avg_pool (count_include_pad=True): padding counts, the ceil_mode overhang not
    inside = sum(1 for c in taps if g.cell(c)[0] != "overhang")
    return float(sum(vals)) / inside


def frames(
    kind: DrawKind,
    input: int | Sequence[int],
    kernel: int | Sequence[int] = 3,
    stride: int | Sequence[int] | None = None,
    padding: arith.PaddingArg = 0,
    dilation: int | Sequence[int] | None = None,
    output_padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    pool_mode: PoolMode = "max",
    ndim: int | None = None,
    numbers: bool = True,
    seed: int = 0,
) -> list[Frame]:
    """Per-step geometry: one :class:`Frame` per output position, row-major.

    Arguments as in :func:`geometry`; ``numbers`` computes each step's output value from the
    example numbers (:func:`example_numbers` with ``seed``).

    >>> fs = frames("pool", 4, kernel=2, ndim=1)
    >>> [f.taps for f in fs]
    [((0,), (1,)), ((2,), (3,))]
    """
    g = geometry(kind, input, kernel, stride, padding, dilation, output_padding, ceil_mode,
                 pool_mode, ndim)
    return _frames(g, numbers, seed)


# -- rendering --------------------------------------------------------------------------------
def _fmt_value(v: float | None) -> str:
    if v is None:
        return ""
    if v == float("-inf"):
        return "-inf"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.2f}".rstrip("0")


class Drawing:
    """A matplotlib figure of one geometry whose step can be changed (cheap per frame).

    Args:
        g: the geometry.
        numbers: write input values, kernel weights and computed outputs in the cells.
        seed: seed of the example numbers.
    """

    def __init__(self, g: Geometry, numbers: bool = True, seed: int = 0) -> None:
        seed = as_int(seed, "seed", minimum=0)
        self.geometry = g
        self.numbers = numbers
        self.frames = _frames(g, numbers, seed)
        self._x, self._w = example_numbers(g, seed)
        self._build()

    # layout: 2-D grids in data coordinates, y pointing down; 1-D grids are one row
    def _grid(self, size: Ints) -> tuple[int, int]:
        return (1, size[0]) if len(size) == 1 else (size[0], size[1])

    def _build(self) -> None:
        g = self.geometry
        patches = mpl().patches
        figure = mpl().figure
        ch, cw = self._grid(g.canvas_size)
        oh, ow = self._grid(g.output_size)
        gap = 2
        self._out_x = cw + gap
        self._out_y = (ch - oh) / 2 if ch >= oh else 0.0
        self._in_y = 0.0 if ch >= oh else (oh - ch) / 2
        width_cells = cw + gap + ow
        height_cells = max(ch, oh)
        cell = min(0.42, 9.0 / width_cells, 7.0 / height_cells)
        self._cell_in = cell
        margin, header, footer = 0.12, 0.55, 0.32
        title = g.describe()
        legend = self._legend_entries()
        grid_w, grid_h = (width_cells + 0.6) * cell, (height_cells + 0.6) * cell
        fig_w = max(grid_w + 2 * margin, len(title) * 0.072 + 2 * margin,
                    sum(len(label) * 0.065 + 0.45 for _, label in legend) + 2 * margin)
        fig_h = grid_h + header + margin + footer
        with style_context():
            self.figure = figure.Figure(figsize=(fig_w, fig_h), dpi=100)
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            FigureCanvasAgg(self.figure)
            ax = self.figure.add_axes(((fig_w - grid_w) / 2 / fig_w, (margin + footer) / fig_h,
                                       grid_w / fig_w, grid_h / fig_h))
            # what the cells mean (taps, holes, inserted zeros, padding), under the grids
            self.figure.legend(
                handles=[patches.Patch(**style) for style, _ in legend],
                labels=[label for _, label in legend], loc="lower center",
                ncol=len(legend), fontsize=7, frameon=False, handlelength=1.4,
                handleheight=1.2, columnspacing=1.2, bbox_to_anchor=(0.5, 0.0))
        self.figure.text(margin / fig_w, 1 - 0.08 / fig_h, title, fontsize=9, ha="left",
                         va="top")
        self._title = self.figure.text(margin / fig_w, 1 - 0.3 / fig_h, "", fontsize=8,
                                       ha="left", va="top", color=PALETTE["black"])
        self.ax = ax
        ax.set_xlim(-0.3, width_cells + 0.3)
        ax.set_ylim(height_cells + 0.3, -0.3)
        ax.set_aspect("equal")
        ax.axis("off")
        font = max(5.0, min(10.0, cell * 100 * 0.36))
        self._font = font
        self._draw_canvas(ax, font)
        self._draw_output(ax, font)
        self._footprint = patches.Rectangle((0, 0), 1, 1, fill=False, edgecolor=ROLE["tap"],
                                            linewidth=2.2, zorder=4)
        ax.add_patch(self._footprint)
        self._weight_texts: list[Any] = []
        self._shown: int | None = None

    def _draw_canvas(self, ax: Any, font: float) -> None:
        """The canvas cells (input, padding, inserted zeros, overhang), with their numbers."""
        g = self.geometry
        patches = mpl().patches
        self._canvas: dict[Ints, Any] = {}
        self._canvas_kind: dict[Ints, CellKind] = {}
        self._canvas_text: dict[Ints, Any] = {}
        for c in itertools.product(*(range(v) for v in g.canvas_size)):
            kind, idx = g.cell(c)
            y, x = self._pos(c, canvas=True)
            face = ROLE[kind] if kind != "overhang" else ROLE["overhang"]
            style = "-" if kind == "input" else (":" if kind == "inserted" else "--")
            rect = patches.Rectangle((x, y), 1, 1, facecolor=face, edgecolor=PALETTE["grey"],
                                     linewidth=0.8, linestyle=style)
            ax.add_patch(rect)
            self._canvas[c] = rect
            self._canvas_kind[c] = kind
            if self.numbers and kind != "overhang":
                if idx is not None:
                    label = str(int(self._x[idx]))
                elif g.kind == "pool":
                    label = ""
                else:
                    label = "0"
                self._canvas_text[c] = ax.text(
                    x + 0.5, y + 0.5, label, ha="center", va="center", fontsize=font,
                    color=PALETTE["black"] if kind == "input" else PALETTE["grey"], zorder=3,
                )

    def _draw_output(self, ax: Any, font: float) -> None:
        """The output cells, their values hidden until their step is shown."""
        patches = mpl().patches
        self._output: dict[Ints, Any] = {}
        self._out_text: dict[Ints, Any] = {}
        values = {f.output: f.value for f in self.frames}
        for o in itertools.product(*(range(v) for v in self.geometry.output_size)):
            y, x = self._pos(o, canvas=False)
            rect = patches.Rectangle((x, y), 1, 1, facecolor=PALETTE["white"],
                                     edgecolor=PALETTE["grey"], linewidth=0.8)
            ax.add_patch(rect)
            self._output[o] = rect
            text = ax.text(x + 0.5, y + 0.5, _fmt_value(values[o]) if self.numbers else "",
                           ha="center", va="center", fontsize=font * 0.9, zorder=3)
            text.set_visible(False)
            self._out_text[o] = text

    def _legend_entries(self) -> list[tuple[dict[str, Any], str]]:
        """(patch style, label) for each kind of cell this drawing shows."""
        g = self.geometry
        kinds = {g.cell(c)[0] for c in itertools.product(*(range(v) for v in g.canvas_size))}
        grey = PALETTE["grey"]
        out: list[tuple[dict[str, Any], str]] = [
            ({"facecolor": ROLE["input"], "edgecolor": grey}, "input"),
            ({"facecolor": ROLE["tap"], "edgecolor": grey},
             "max over the window" if g.kind == "pool" else "tap (input x weight)"),
        ]
        if any(f.holes for f in self.frames):
            out.append(({"facecolor": ROLE["input"], "edgecolor": ROLE["hole"], "hatch": "////"},
                        "hole (skipped by the dilation)"))
        if "inserted" in kinds:
            out.append(({"facecolor": ROLE["inserted"], "edgecolor": grey, "linestyle": ":"},
                        "inserted zero (stride of the transposed conv)"))
        if "pad" in kinds:
            out.append(({"facecolor": ROLE["pad"], "edgecolor": grey, "linestyle": "--"},
                        "padding"))
        if "overhang" in kinds:
            out.append(({"facecolor": ROLE["overhang"], "edgecolor": grey, "linestyle": "--"},
                        "ceil_mode overhang"))
        out.append(({"facecolor": ROLE["output"], "edgecolor": grey}, "output"))
        return out

    def _pos(self, index: Sequence[int], canvas: bool) -> tuple[float, float]:
        """(y, x) of the top-left corner of a cell in data coordinates."""
        r, c = (0, index[0]) if len(index) == 1 else (index[0], index[1])
        if canvas:
            return self._in_y + r, float(c)
        return self._out_y + r, self._out_x + c

    def show(self, step: int) -> Drawing:
        """Draw step ``step`` (0-based): taps, holes, the output filled so far."""
        if not 0 <= step < len(self.frames):
            raise AtrousError(f"step must be in 0..{len(self.frames) - 1}, got {step}")
        g = self.geometry
        for o in self._output:
            idx = int(np.ravel_multi_index(o, g.output_size))
            self._set_output(o, "done" if idx < step else "pending")
        self._apply(step)
        return self

    def _set_output(self, o: Ints, state: Literal["pending", "done", "current"]) -> None:
        rect, text = self._output[o], self._out_text[o]
        rect.set_facecolor({"pending": PALETTE["white"], "done": ROLE["output"],
                            "current": ROLE["current"]}[state])
        text.set_visible(state != "pending")
        text.set_color("white" if state == "current" else PALETTE["black"])

    def _reset(self) -> None:
        """Every cell in its resting state, no window, empty title (the animation background)."""
        for c, rect in self._canvas.items():
            rect.set_facecolor(ROLE[self._canvas_kind[c]])
            rect.set_hatch(None)
            rect.set_edgecolor(PALETTE["grey"])
        for o in self._output:
            self._set_output(o, "pending")
        for text in self._canvas_text.values():
            text.set_visible(True)
        for t in self._weight_texts:
            t.remove()
        self._weight_texts = []
        self._footprint.set_visible(False)
        self._title.set_text("")

    def _apply(self, step: int) -> list[Any]:
        """Set the artists for ``step``; return those that differ from the resting state."""
        g = self.geometry
        frame = self.frames[step]
        taps, holes = set(frame.taps), set(frame.holes)
        dynamic: list[Any] = []
        for c, rect in self._canvas.items():
            kind = self._canvas_kind[c]
            rect.set_facecolor(ROLE["tap"] if c in taps else ROLE[kind])
            rect.set_hatch("////" if c in holes else None)
            rect.set_edgecolor(ROLE["hole"] if c in holes else PALETTE["grey"])
            if c in taps or c in holes:
                dynamic.append(rect)
        for c, text in self._canvas_text.items():
            text.set_visible(c not in taps)
        dynamic += [self._canvas_text[c] for c in frame.holes if c in self._canvas_text]
        self._set_output(frame.output, "current")
        dynamic += [self._output[frame.output], self._out_text[frame.output]]
        # the window's extent (taps and holes together)
        y0, x0 = self._pos(frame.taps[0], canvas=True)
        y1, x1 = self._pos(frame.taps[-1], canvas=True)
        self._footprint.set_xy((x0, y0))
        self._footprint.set_width(x1 + 1 - x0)
        self._footprint.set_height(y1 + 1 - y0)
        self._footprint.set_visible(True)
        dynamic.append(self._footprint)
        for t in self._weight_texts:
            t.remove()
        self._weight_texts = []
        for c, r, wi in zip(frame.taps, frame.reads, frame.weights):
            y, x = self._pos(c, canvas=True)
            kind = self._canvas_kind[c]
            if self.numbers:
                if g.kind != "pool":
                    self._weight_texts.append(self.ax.text(
                        x + 0.95, y + 0.95, f"×{int(self._w[wi])}", ha="right", va="bottom",
                        fontsize=self._font * 0.6, color=PALETTE["yellow"], zorder=6,
                    ))
                label = str(int(self._x[r])) if r is not None else (
                    "" if g.kind == "pool" or kind == "overhang" else "0")
                self._weight_texts.append(self.ax.text(
                    x + 0.5, y + 0.5, label, ha="center", va="center", fontsize=self._font,
                    color=PALETTE["white"], fontweight="bold", zorder=6,
                ))
        dynamic += self._weight_texts
        where = frame.output[0] if len(frame.output) == 1 else tuple(frame.output)
        self._title.set_text(f"step {step + 1}/{len(self.frames)}: output {where}" + (
                                 f" = {_fmt_value(frame.value)}" if self.numbers else ""))
        dynamic.append(self._title)
        self._shown = step
        return dynamic

    def iter_rgba(self) -> Iterator[np.ndarray]:
        """Yield every step as an ``(H, W, 4)`` uint8 array, fast (blitting: only what changes
        between steps is redrawn)."""
        canvas = self.figure.canvas
        self._reset()
        canvas.draw()
        background = canvas.copy_from_bbox(self.figure.bbox)
        for step, frame in enumerate(self.frames):
            canvas.restore_region(background)
            for artist in sorted(self._apply(step), key=lambda a: a.get_zorder()):
                self.figure.draw_artist(artist)
            yield np.asarray(canvas.buffer_rgba()).copy()
            # commit this output cell to the background as computed
            canvas.restore_region(background)
            self._set_output(frame.output, "done")
            self.figure.draw_artist(self._output[frame.output])
            self.figure.draw_artist(self._out_text[frame.output])
            background = canvas.copy_from_bbox(self.figure.bbox)

    def rgba(self) -> np.ndarray:
        """The current step rendered as an ``(H, W, 4)`` uint8 array."""
        self.figure.canvas.draw()
        pixels: np.ndarray = np.asarray(self.figure.canvas.buffer_rgba()).copy()
        return pixels

    def cell_pixel(self, index: Sequence[int], grid: Literal["input", "output"] = "input",
                   where: tuple[float, float] = (0.2, 0.2)) -> tuple[int, int]:
        """Pixel ``(row, col)`` in :meth:`rgba` of a point inside a cell (for checks).

        ``where`` is the point's (y, x) position inside the cell, 0..1 from the top-left.
        """
        self.ax.apply_aspect()
        y, x = self._pos(index, canvas=(grid == "input"))
        px, py = self.ax.transData.transform((x + where[1], y + where[0]))
        height = self.figure.canvas.get_width_height()[1]
        return round(float(height - py)), round(float(px))


def _render_gif(d: Drawing, path: Path, duration_ms: int) -> None:
    from PIL import Image

    from .progress import track

    images = []
    for rgba in track(d.iter_rgba(), total=len(d.frames), description="animating"):
        rgb = rgba[..., :3]
        images.append(Image.fromarray(rgb).quantize(colors=64, method=Image.Quantize.FASTOCTREE,
                                                   dither=Image.Dither.NONE))
    durations = [duration_ms] * len(images)
    durations[-1] = max(duration_ms, 2000)
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], loop=0,
                   duration=durations, disposal=1, optimize=False)
    from .figures import write_atomic

    write_atomic(path, buf.getvalue())


def draw(
    kind: DrawKind,
    input: int | Sequence[int],
    kernel: int | Sequence[int] = 3,
    stride: int | Sequence[int] | None = None,
    padding: arith.PaddingArg = 0,
    dilation: int | Sequence[int] | None = None,
    output_padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    pool_mode: PoolMode = "max",
    ndim: int | None = None,
    *,
    step: int = 0,
    numbers: bool = True,
    seed: int = 0,
) -> Drawing:
    """A :class:`Drawing` showing step ``step``; its ``.figure`` is a matplotlib Figure.

    Arguments as in :func:`geometry` and :func:`frames`.

    >>> d = draw("dilated", 7, kernel=3, dilation=2, step=4)
    >>> d.frames[4].output
    (1, 1)
    """
    g = geometry(kind, input, kernel, stride, padding, dilation, output_padding, ceil_mode,
                 pool_mode, ndim)
    return Drawing(g, numbers=numbers, seed=seed).show(_step_index(g, step))


def _step_index(g: Geometry, step: int) -> int:
    """``step`` as an index into the steps of ``g`` (negative counts from the end, as in
    Python); :meth:`Drawing.show` checks the range."""
    s = as_int(step, "step")
    return s + g.steps if s < 0 else s


def animate(
    path: str | os.PathLike[str],
    kind: DrawKind,
    input: int | Sequence[int],
    kernel: int | Sequence[int] = 3,
    stride: int | Sequence[int] | None = None,
    padding: arith.PaddingArg = 0,
    dilation: int | Sequence[int] | None = None,
    output_padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    pool_mode: PoolMode = "max",
    ndim: int | None = None,
    *,
    step: int = 0,
    numbers: bool = True,
    seed: int = 0,
    duration_ms: int = 700,
) -> Path:
    """Write the drawing to ``path``: ``.gif`` animates every step, ``.png``/``.svg`` one step.

    Written atomically (temp file + rename). A progress bar shows on a terminal for GIFs.
    Returns the path.
    """
    out = Path(path)
    fmt = out.suffix.lower()
    if fmt not in (".gif", ".png", ".svg"):
        raise AtrousError(f"output must end in .gif, .png or .svg, got {out.name!r}")
    g = geometry(kind, input, kernel, stride, padding, dilation, output_padding, ceil_mode,
                 pool_mode, ndim)
    if fmt == ".gif" and g.steps > MAX_FRAMES:
        raise TooLargeError(
            f"an animation of {g.steps} steps is too long (at most {MAX_FRAMES}); "
            "draw one step as .png with --step"
        )
    d = Drawing(g, numbers=numbers, seed=seed)
    if fmt == ".gif":
        _render_gif(d, out, duration_ms)
        return out
    d.show(_step_index(g, step))
    from .figures import save_figure

    save_figure(d.figure, out)
    return out
