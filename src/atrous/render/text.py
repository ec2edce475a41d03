"""Terminal rendering with rich: report tables, verdicts in words, coloured coverage heatmaps.

Everything here only displays results (a :class:`atrous.Report`, a :class:`atrous.Coverage`);
nothing computes. The heatmap colours counts with viridis (zero = a hole, drawn as an orange
``·`` so it does not rest on colour alone) and writes the counts in the cells when they fit, like
the seeds' figures.

    >>> from atrous import coverage, stack
    >>> print(heatmap_text(coverage(stack([2], ndim=2))))
    1 · 1 · 1
    · · · · ·
    1 · 1 · 1
    · · · · ·
    1 · 1 · 1
    >>> print(heatmap_text(coverage(stack([1, 2, 9], ndim=1))))
    1 1 2 1 2 1 1 · · 1 1 2 1 2 1 1 · · 1 1 2 1 2 1 1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .style import PALETTE

__all__ = [
    "MAX_CELLS_SHOWN",
    "compare_panel",
    "coverage_heatmap",
    "heatmap_text",
    "render_compare",
    "render_report",
    "report_table",
    "verdicts_table",
]

MAX_CELLS_SHOWN = 48
"""Longest side drawn cell by cell; larger maps are shown in blocks (the minimum of each)."""

_VIRIDIS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
_HOLE = PALETTE["orange"]
_SHADES = "░▒▓█"


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


def _viridis(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    a = [int(_VIRIDIS[i][j : j + 2], 16) for j in (1, 3, 5)]
    b = [int(_VIRIDIS[i + 1][j : j + 2], 16) for j in (1, 3, 5)]
    f = t - i
    return _hex([x + (y - x) * f for x, y in zip(a, b)])


def _ink(background: str) -> str:
    r, g, b = (int(background[j : j + 2], 16) for j in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def _count_str(v: int) -> str:
    if v < 1000:
        return str(v)
    exp = len(str(v)) - 1
    mantissa = round(v / 10**exp)
    if mantissa == 10:
        mantissa, exp = 1, exp + 1
    return f"{mantissa}e{exp}"


def _plane(cov: Any) -> tuple[np.ndarray, str]:
    """A 2-D array of Python ints to draw, and a note on what it shows."""
    counts = np.asarray(cov.counts if hasattr(cov, "counts") else cov, dtype=object)
    note = ""
    if counts.ndim == 1:
        counts = counts[None, :]
    elif counts.ndim == 3:
        mid = counts.shape[0] // 2
        note = f"central slice {mid} of {counts.shape[0]} along the first axis"
        counts = counts[mid]
    return counts, note


def _blocks(counts: np.ndarray, limit: int) -> tuple[np.ndarray, int]:
    f = max(1, math.ceil(max(counts.shape) / limit))
    if f == 1:
        return counts, 1
    h, w = (math.ceil(n / f) for n in counts.shape)
    out = np.empty((h, w), dtype=object)
    for i in range(h):
        for j in range(w):
            out[i, j] = min(counts[i * f : (i + 1) * f, j * f : (j + 1) * f].ravel().tolist())
    return out, f


def heatmap_text(cov: Any, *, limit: int = MAX_CELLS_SHOWN, annotate: bool | None = None) -> str:
    """The heatmap as plain text (counts, ``·`` for holes); see :func:`coverage_heatmap`."""
    from rich.console import Console

    console = Console(width=400, color_system=None, force_terminal=False, record=True)
    with console.capture() as cap:
        console.print(coverage_heatmap(cov, limit=limit, annotate=annotate, legend=False))
    return "\n".join(line.rstrip() for line in cap.get().rstrip("\n").splitlines())


def coverage_heatmap(
    cov: Any,
    *,
    limit: int = MAX_CELLS_SHOWN,
    annotate: bool | None = None,
    legend: bool = True,
    max_width: int = 100,
) -> Any:
    """A rich renderable: the coverage map as coloured cells, counts written when they fit.

    Args:
        cov: a :class:`atrous.Coverage` (or an integer array of counts).
        limit: longest side drawn cell by cell; a larger map is shown in square blocks, each
            showing the minimum count of its pixels (so a block with a hole shows a hole).
        annotate: write the counts (default: when they fit in ``max_width`` columns); else
            cells show a shade ``░▒▓█`` (few to many paths) as well as the colour.
        legend: add a line saying what the colours and marks mean.
        max_width: widest annotated map, in terminal columns.
    """
    from rich.console import Group
    from rich.text import Text

    counts, note = _plane(cov)
    counts, factor = _blocks(counts, limit)
    values = [int(v) for v in counts.ravel().tolist()]
    top = max(values) if values else 0
    width = max(len(_count_str(v)) for v in values) if values else 1
    columns = counts.shape[1] if counts.ndim == 2 else 1
    if annotate is None:
        annotate = width <= 4 and columns * (width + 1) <= max_width
    if not annotate:
        width = 1
    scale = math.log1p(top) if top else 1.0
    text = Text()
    for r, row in enumerate(counts.tolist()):
        if r:
            text.append("\n")
        for c, v in enumerate(row):
            v = int(v)
            if c:
                text.append(" ")
            if v == 0:
                text.append("·".rjust(width), style=f"bold {_HOLE}")
                continue
            bg = _viridis(math.log1p(v) / scale if top > 1 else 1.0)
            level = math.log1p(v) / scale if top > 1 else 1.0
            label = _count_str(v).rjust(width) if annotate else _SHADES[min(int(level * 4), 3)]
            text.append(label, style=f"{_ink(bg)} on {bg}")
    parts: list[Any] = [text]
    if legend:
        extra = []
        if factor > 1:
            extra.append(f"each cell = {factor}x{factor} pixels (their minimum count)")
        if note:
            extra.append(note)
        legend_text = Text("paths per input pixel (dark = few, yellow = many); ", style="dim")
        legend_text.append("·", style=f"bold {_HOLE}")
        legend_text.append(" = hole (never read)", style="dim")
        if extra:
            legend_text.append("; " + "; ".join(extra), style="dim")
        parts.append(legend_text)
    return Group(*parts)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.0%}" if value <= 1 else f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    return str(value)


def report_table(report: Any, *, title: str | None = None) -> Any:
    """The per-layer table of a Report (name, op, geometry, sizes, RF, gridding so far)."""
    from rich.table import Table

    rows = [r.to_dict() for r in report.rows]
    has_size = any(r.get("output_size") for r in rows)
    has_meta = any("module" in r for r in rows)
    has_grid = any(r.get("gridded") is not None for r in rows)
    body: list[tuple[list[str], str | None]] = []
    for i, r in enumerate(rows, 1):
        glob = r["rf_global"]
        rf = "global" if glob and not any(r["rf_size"]) else _cell(r["rf_size"])
        cells = [str(i), r["name"]]
        if has_meta:
            cells.append(str(r.get("module", "")))
        cells += [r["op"], r["geometry"]]
        if has_size:
            cells.append(_cell(r.get("output_size")))
        cells += [rf, "-" if glob else _cell(r["rf_stride"]), "-" if glob else _cell(r["rf_start"])]
        style = None
        if has_grid:
            g = r.get("gridded")
            mark = "-" if g is None else ("✗ grids" if g else "✓ free")
            cells += [_cell(r.get("holes")), _cell(r.get("fraction")), mark]
            style = "red" if g else None
        body.append((cells, style))
    # (header, kind): numbers and verdicts are never shortened; names and geometry fold instead
    columns: list[tuple[str, str]] = [("#", "num"), ("node", "text")]
    if has_meta:
        columns.append(("module", "text"))
    columns += [("op", "text"), ("geometry", "text")]
    if has_size:
        columns.append(("out", "num"))
    columns += [("RF", "num"), ("stride", "num"), ("start", "num")]
    if has_grid:
        columns += [("holes", "num"), ("cov", "num"), ("grid", "keep")]
    table = Table(title=title, title_justify="left", header_style="bold")
    for col, (header, kind) in enumerate(columns):
        if kind == "text":
            # names keep up to 12 characters on one line; geometry and op fold first
            longest = max([len(header), *(len(cells[col]) for cells, _ in body)])
            keep = min(longest, 12) if header in ("node", "module") else None
            table.add_column(header, overflow="fold", min_width=keep)
            continue
        widest = max([len(header), *(len(cells[col]) for cells, _ in body)])
        table.add_column(header, justify="right" if kind == "num" else "left", no_wrap=True,
                         min_width=widest)
    for cells, style in body:
        table.add_row(*cells, style=style)
    return table


def verdicts_table(report: Any) -> Any:
    """The verdicts of a Report in words, one per line, marked ✓ / ✗ / ·."""
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for v in report.verdicts():
        mark, style = {True: ("✓", "green"), False: ("✗", "red"), None: ("·", "dim")}[v.ok]
        table.add_row(f"[{style}]{mark}[/]", v.label + ":", v.value)
    return table


def render_report(report: Any, console: Any, *, heatmap: bool = True) -> None:
    """Print a Report: title, per-layer table, verdicts, coverage heatmap, diagnostics."""
    from rich.text import Text

    size = "" if report.input_size is None else " on " + "x".join(map(str, report.input_size))
    console.print(Text(f"atrous analyze: {report.target}{size}", style="bold"))
    console.print(report_table(report))
    console.print(verdicts_table(report))
    if heatmap:
        for out in report.outputs:
            if out.coverage is None:
                continue
            label = "" if len(report.outputs) == 1 else f" of {out.name}"
            box = "x".join(map(str, out.coverage.rf_size))
            console.print(Text(f"\ncoverage map{label} ({box} box):", style="bold"))
            console.print(coverage_heatmap(out.coverage))
    for d in report.diagnostics:
        console.print(Text(f"! {d}", style="yellow"))
    for n in report.notes:
        console.print(Text(f"· {n}", style="dim"))


def compare_panel(report: Any) -> Any:
    """One side of a comparison: the target, a short verdict and its coverage heatmap."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    rf = report.rf
    lines = Text("RF " + ("global" if rf.is_global else _cell(rf.size)))
    cov = report.coverage
    if cov is not None:
        if cov.gridded:
            lines.append(f"\n✗ grids: {cov.holes} holes ({cov.fraction:.0%} covered)",
                         style="red")
        else:
            lines.append("\n✓ gridding-free", style="green")
    if report.hdc is not None:
        lines.append(f"\nHDC rule as stated: {'passes' if report.hdc.rule_passes else 'fails'}")
    parts: list[Any] = [lines]
    if cov is not None:
        parts.append(coverage_heatmap(cov, legend=False))
    return Panel(Group(*parts), title=report.target, title_align="left", expand=False)


def render_compare(reports: Sequence[Any], console: Any) -> None:
    """Print reports side by side, then a table of their key numbers."""
    from rich.columns import Columns
    from rich.table import Table
    from rich.text import Text

    console.print(Text("atrous analyze: comparison", style="bold"))
    console.print(Columns([compare_panel(r) for r in reports], equal=False, expand=False))
    table = Table(header_style="bold")
    table.add_column("")
    for r in reports:
        table.add_column(r.target)

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    row("receptive field", ["global" if r.rf.is_global else _cell(r.rf.size) for r in reports])
    row("effective stride", [_cell(r.rf.stride) for r in reports])
    covs = [r.coverage for r in reports]
    row("holes in the RF box", ["-" if c is None else str(c.holes) for c in covs])
    row("covered", ["-" if c is None else f"{c.fraction:.0%}" for c in covs])
    row("uniformity (min/max)", ["-" if c is None else f"{c.uniformity:.3g}" for c in covs])
    row("exact verdict", [
        "-" if c is None else ("✗ grids" if c.gridded else "✓ gridding-free") for c in covs
    ])
    row("HDC rule as stated", [
        "-" if r.hdc is None else ("passes" if r.hdc.rule_passes else "fails") for r in reports
    ])
    console.print(table)
    for r in reports:
        for d in r.diagnostics:
            console.print(Text(f"! {r.target}: {d}", style="yellow"))
