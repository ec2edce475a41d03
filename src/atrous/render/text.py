"""Terminal rendering with rich: report tables, verdicts in words, coloured coverage heatmaps.

Everything here only displays results (a :class:`atrous.Report`, a :class:`atrous.Coverage`);
nothing computes. The heatmap colours counts with viridis (zero = a hole, drawn as an orange
``·`` so it does not rest on colour alone) and writes the counts in the cells when they fit, like
the figures of the HDC paper (Wang et al., WACV 2018).

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
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .._format import fmt_compact, fmt_coord, fmt_count, fmt_position, fmt_si, fmt_size
from ..errors import printable
from .style import PALETTE

if TYPE_CHECKING:  # type-only: importing the renderers stays light
    import numpy as np
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table

    from .._coverage import Coverage
    from ..report import Report
    from ..rf import ReceptiveField
    from ..summary import ModelSummary, TableRow

__all__ = [
    "MAX_CELLS_SHOWN",
    "MODEL_COLUMNS",
    "compare_panel",
    "coverage_heatmap",
    "fmt_compact",
    "fmt_coord",
    "fmt_count",
    "fmt_position",
    "fmt_si",
    "fmt_size",
    "group_notes",
    "heatmap_text",
    "layer_table",
    "model_table",
    "render_compare",
    "render_model",
    "render_report",
    "report_table",
    "rf_cells",
    "rf_texts",
    "verdicts_table",
]

MAX_CELLS_SHOWN = 48
"""Longest side drawn cell by cell; larger maps are shown in blocks (the minimum of each)."""

_VIRIDIS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
_HOLE = PALETTE["orange"]
_SHADES = "░▒▓█"


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


@lru_cache(maxsize=1024)  # a map's cells share few counts: one colour per count, not per cell
def _viridis(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    a = [int(_VIRIDIS[i][j : j + 2], 16) for j in (1, 3, 5)]
    b = [int(_VIRIDIS[i + 1][j : j + 2], 16) for j in (1, 3, 5)]
    f = t - i
    return _hex([x + (y - x) * f for x, y in zip(a, b)])


@lru_cache(maxsize=1024)
def _ink(background: str) -> str:
    r, g, b = (int(background[j : j + 2], 16) for j in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def _log1p(v: int) -> float:
    """``log(1 + v)`` for any Python int (``math.log1p`` overflows past 1.8e308)."""
    return math.log1p(v) if v < 2**52 else math.log(v)


def _plane(cov: Coverage | np.ndarray) -> tuple[np.ndarray, str]:
    """A 2-D array of Python ints to draw, and a note on what it shows."""
    import numpy as np

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
    import numpy as np

    f = max(1, math.ceil(max(counts.shape) / limit))
    if f == 1:
        return counts, 1
    h, w = (math.ceil(n / f) for n in counts.shape)
    out = np.empty((h, w), dtype=object)
    for i in range(h):
        for j in range(w):
            out[i, j] = min(counts[i * f : (i + 1) * f, j * f : (j + 1) * f].ravel().tolist())
    return out, f


def heatmap_text(
    cov: Coverage | np.ndarray, *, limit: int = MAX_CELLS_SHOWN, annotate: bool | None = None
) -> str:
    """The heatmap as plain text (counts, ``·`` for holes); see :func:`coverage_heatmap`."""
    from rich.console import Console

    console = Console(width=400, color_system=None, force_terminal=False, record=True)
    with console.capture() as cap:
        console.print(coverage_heatmap(cov, limit=limit, annotate=annotate, legend=False))
    return "\n".join(line.rstrip() for line in cap.get().rstrip("\n").splitlines())


def coverage_heatmap(
    cov: Coverage | np.ndarray,
    *,
    limit: int = MAX_CELLS_SHOWN,
    annotate: bool | None = None,
    legend: bool = True,
    max_width: int = 100,
    colour: bool = True,
) -> Group:
    """A rich renderable: the coverage map as coloured cells, counts written when they fit.

    Args:
        cov: a :class:`atrous.Coverage` (or an integer array of counts).
        limit: longest side drawn cell by cell; a larger map is shown in square blocks, each
            showing the minimum count of its pixels (so a block with a hole shows a hole).
        annotate: write the counts (default: when they fit in ``max_width`` columns); else
            cells show a shade ``░▒▓█`` (few to many paths) as well as the colour.
        legend: add a line saying what the colours and marks mean.
        max_width: widest annotated map, in terminal columns.
        colour: the legend explains the colours; False (output without colour) explains only
            the counts and the marks.
    """
    from rich.console import Group
    from rich.text import Text

    counts, note = _plane(cov)
    counts, factor = _blocks(counts, limit)
    values = [int(v) for v in counts.ravel().tolist()]
    top = max(values) if values else 0
    width = max(len(fmt_count(v)) for v in values) if values else 1
    columns = counts.shape[1] if counts.ndim == 2 else 1
    if annotate is None:
        annotate = width <= 4 and columns * (width + 1) <= max_width
    if not annotate:
        width = 1
    scale = _log1p(top) if top else 1.0
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
            level = _log1p(v) / scale if top > 1 else 1.0
            bg = _viridis(level)
            label = fmt_count(v).rjust(width) if annotate else _SHADES[min(int(level * 4), 3)]
            text.append(label, style=f"{_ink(bg)} on {bg}")
    parts: list[Text] = [text]
    if legend:
        extra = []
        if factor > 1:
            extra.append(f"each cell = {factor}x{factor} pixels (their minimum count)")
        if note:
            extra.append(note)
        what = "paths per input pixel (dark = few, yellow = many)" if colour else (
            "paths per input pixel in the cells" if annotate else
            "paths per input pixel: ░▒▓█ = few to many")
        legend_text = Text(f"{what}; ", style="dim")
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


def _rf_join(glob: Sequence[bool], size: Sequence[Any], stride: Sequence[Any],
             start: Sequence[Any], coord: Callable[[Any], str]) -> tuple[str, str, str]:
    """The one rule for RF cells: ``global``/``-`` on the global axes only."""
    if all(glob):
        return "global", "-", "-"
    return ("x".join("global" if g else str(v) for g, v in zip(glob, size)),
            "x".join("-" if g else str(v) for g, v in zip(glob, stride)),
            ",".join("-" if g else coord(v) for g, v in zip(glob, start)))


def rf_texts(rf: ReceptiveField, coord: Callable[[Any], str] = fmt_coord) -> tuple[str, str, str]:
    """RF size, effective stride and centre cells of a receptive field (every per-layer table).

    ``global``/``-`` on the global axes only (a map pooled over one axis, as in strip pooling,
    is global along it and local along the other); centres written by ``coord`` (default
    :func:`fmt_coord`: ``-0.5``).

    >>> from atrous import receptive_field
    >>> rf = receptive_field("2x2, 3x3 s2")
    >>> rf_texts(rf), rf_texts(rf, coord=str), rf_texts(receptive_field("3x3, gpool"))
    (('4x4', '2x2', '0.5,0.5'), ('4x4', '2x2', '1/2,1/2'), ('global', '-', '-'))
    """
    return _rf_join(rf.global_axes, rf.size, rf.stride, rf.start, coord)


def rf_cells(row: dict[str, Any], coord: Callable[[Any], str] = fmt_coord) -> tuple[str, str, str]:
    """:func:`rf_texts` of a row dict (:meth:`LayerRow.to_dict`, as in the JSON): a global
    axis is one with effective stride 0.

    >>> rf_cells({"rf_global": False, "rf_size": [5, 5], "rf_stride": [1, 1],
    ...           "rf_start": ["-1/2", 0]})
    ('5x5', '1x1', '-0.5,0')
    """
    glob = [bool(row["rf_global"]) and s in (0, "0") for s in row["rf_stride"]]
    return _rf_join(glob, row["rf_size"], row["rf_stride"], row["rf_start"], coord)


def _wrap_name(name: str, width: int) -> str:
    """``name`` on lines of at most ``width`` characters, broken after ``.`` or ``_`` only
    (a part longer than the width stays whole on its own line)."""
    parts = re.findall(r"[^._]+[._]?|[._]", name)
    lines: list[str] = []
    cur = ""
    for part in parts:
        if cur and len(cur) + len(part) > width:
            lines.append(cur)
            cur = ""
        cur += part
    if cur:
        lines.append(cur)
    return "\n".join(lines)


def _row_cells(row: TableRow, *, model: bool, total_params: int = 1,
               indent: bool = False) -> dict[str, str]:
    """The cells of one :class:`~atrous.summary.TableRow` by column name: the one cell rule of
    both per-layer tables. ``model``: ``atrous model``'s conventions (a blank for a missing
    value, exact fractions, counts to one decimal: ``1.2k``); else ``atrous analyze``'s (``-``
    for a missing value, centres in decimals, three significant digits: ``1.23k``)."""
    header, g = row.header, row.gridding
    count = fmt_compact if model else fmt_si
    name = printable(row.module)
    if indent:
        name = "  " * row.level + name
    rf = ("", "", "") if row.rf is None else rf_texts(row.rf, coord=str if model else fmt_coord)
    if model:  # the tensor shape the front end observed ("" when none), else the spatial size
        shape = "" if header else fmt_size(row.shape if row.shape is not None else
                                           row.size or ())
        holes = "" if g is None or header else str(g.holes)
    else:
        shape = _cell(row.shape or row.size)
        holes = _cell(None if g is None else g.holes)
    empty = g is not None and not g.gridded and g.fraction == 0
    return {
        "module": name, "op": printable(row.op), "geometry": printable(row.geometry),
        "output": shape, "RF": rf[0], "stride": rf[1], "start": rf[2], "holes": holes,
        "cov": _cell(None if g is None else g.fraction),
        "grid": "-" if g is None else "✗ empty" if empty else "✗ grids" if g.gridded
        else "✓ free",
        "kernel": fmt_size(row.kernel),
        "params": count(row.params) if row.params else "",
        "param%": f"{100 * row.params / total_params:.1f}%" if row.params else "",
        "trainable": fmt_compact(row.trainable) if row.trainable is not None and row.params
        and not header else "",
        "MACs": count(row.macs) if row.macs else "",
    }


def _layer_columns(
    report: Report,
) -> tuple[list[tuple[str, str]], list[tuple[list[str], str | None]]]:
    """(header, kind) per column and (cells, style) per row of :func:`layer_table`."""
    from ..summary import TableRow

    rows = [TableRow.of(r) for r in report.rows]
    has_meta = any("module" in r.meta for r in report.rows)
    has_size = any(r.size or r.shape for r in rows)
    has_grid = any(r.gridding is not None for r in rows)
    has_params = any(r.params for r in rows)
    columns: list[tuple[str, str, str]] = [("#", "#", "num"),
                                           ("module" if has_meta else "node", "module", "name")]
    if has_meta:
        columns.append(("op", "op", "name"))
    columns.append(("geometry", "geometry", "name"))
    if has_size:
        columns.append(("out", "output", "num"))
    columns += [("RF", "RF", "num"), ("stride", "stride", "num"), ("centre", "start", "num")]
    if has_grid:
        columns += [("holes", "holes", "num"), ("cov", "cov", "num"), ("grid", "grid", "keep")]
    if has_params:
        columns += [("params", "params", "num"), ("MACs", "MACs", "num")]
    body: list[tuple[list[str], str | None]] = []
    for i, (row, layer) in enumerate(zip(rows, report.rows), 1):
        if not has_meta:  # a spec graph's node name, not a module path
            row = replace(row, module=layer.name, shape=None)
        cells = {**_row_cells(row, model=False), "#": str(i)}
        g = row.gridding
        style = "red" if has_grid and g is not None and (g.gridded or g.fraction == 0) else None
        body.append(([cells[key] for _, key, _ in columns], style))
    return [(h, kind) for h, _, kind in columns], body


def layer_table(report: Report, *, width: int | None = None, title: str | None = None) -> Table:
    """The one per-layer table (rich) of a :class:`atrous.Report`, for spec and model graphs.

    Columns: ``#``, node (or module path and torch op for a model), geometry in the spec
    language, output size (a model's full output shape), receptive field, effective stride and
    the first unit's centre (in input pixels), the gridding of the node's unit so far when
    computed, parameters and MACs when known. Numbers are never shortened; names wrap after a
    ``.`` or ``_`` (never inside a word) so the table fits ``width`` columns when it can. Names
    are shown with control characters escaped (:func:`atrous.errors.printable`) and never read
    as rich markup.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    columns, body = _layer_columns(report)
    widths = [max([len(h), *(len(c[i]) for c, _ in body)]) for i, (h, _) in enumerate(columns)]
    names = [i for i, (_, kind) in enumerate(columns) if kind == "name"]
    if width is not None and names:
        fixed = sum(w for i, w in enumerate(widths) if i not in names) + 3 * len(columns) + 1
        room = max(8, (width - fixed) // len(names))
        spare = max(0, width - fixed - room * len(names))
        for i in names:  # narrow names first, widest gets what is left
            need = widths[i]
            widths[i] = min(need, room + spare) if need > room else need
            spare -= max(0, widths[i] - room)
        body = [([_wrap_name(c, widths[i]) if i in names else c for i, c in enumerate(cells)],
                 style) for cells, style in body]
    table = Table(title=title, title_justify="left", header_style="bold", box=box.HEAVY_HEAD)
    for i, (header, kind) in enumerate(columns):
        if kind == "name":
            longest = max(len(line) for c, _ in body for line in c[i].splitlines() or [""])
            table.add_column(header, overflow="fold", min_width=min(max(longest, len(header)),
                                                                      widths[i]))
            continue
        table.add_column(header, justify="right" if kind == "num" else "left", no_wrap=True,
                         min_width=widths[i])
    for cells, style in body:
        table.add_row(*(Text(c) for c in cells), style=style)
    return table


def report_table(report: Report, *, title: str | None = None, width: int | None = None) -> Table:
    """The per-layer table of a Report (see :func:`layer_table`)."""
    return layer_table(report, width=width, title=title)


_MARKS = {"ok": ("✓", "green"), "note": ("·", "dim"), "warning": ("✗", "red"),
          "error": ("✗", "bold red")}


def verdicts_table(report: Report) -> Table:
    """The labelled findings of a Report in words, one per line, marked ✓ / ✗ / ·."""
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for f in report.findings:
        if not f.label:
            continue
        mark, style = _MARKS[f.severity]
        if f.code == "analysis" and f.severity != "ok":
            mark, style = "!", "yellow"
        table.add_row(Text(mark, style=style), Text(printable(f.label) + ":"),
                      Text(printable(f.message)))
    return table


def render_report(report: Report, console: Console, *, heatmap: bool = True) -> None:
    """Print a Report: title, per-layer table, verdicts, coverage heatmap, node findings.

    Only displays ``report.findings`` (and the rows and maps); the colour legend of the
    heatmap is printed only when the console shows colour. Names (the target, nodes, outputs)
    are shown with control characters escaped (:func:`atrous.errors.printable`).
    """
    from rich.text import Text

    size = "" if report.input_size is None else " on " + "x".join(map(str, report.input_size))
    console.print(Text(f"atrous analyze: {printable(report.target)}{size}", style="bold"))
    console.print(layer_table(report, width=console.width))
    if any(r.geometry.startswith("pw:") for r in report.rows):
        console.print(Text("pw:NAME = a pointwise op (each output pixel reads the same input "
                           "pixel)", style="dim"))
    console.print(verdicts_table(report))
    if heatmap:
        colour = console.color_system is not None
        for out in report.outputs:
            deferred = out.deferred
            cov = out.judged  # never builds a whole-input map
            if cov is None or not cov.cells:
                continue
            label = "" if len(report.outputs) == 1 else f" of {printable(out.name)}"
            if deferred:
                label = f" of {printable(cov.node)}'s centre unit (the last local map)"
            box = "x".join(map(str, cov.rf_size))
            console.print(Text(f"\ncoverage map{label} ({box} box):", style="bold"))
            console.print(coverage_heatmap(cov, colour=colour))
    for f in report.findings:
        if f.label:
            continue
        if f.severity in ("warning", "error"):
            console.print(Text(f"! {printable(f.message)}", style="yellow"))
        else:
            console.print(Text(f"· {printable(f.message)}", style="dim"))


MODEL_COLUMNS = ("kernel", "param%", "trainable")
"""The optional columns of :func:`model_table`."""

_HOW = {"fx": "traced by torch.fx", "hooks": "traced by forward hooks", "onnx": "read from ONNX"}


def _mb(n: int) -> str:
    """Bytes in MB (10^6 bytes, as torchinfo)."""
    return f"{n / 10**6:.2f} MB"


def model_table(summary: ModelSummary, *, depth: int | None = None,
                columns: Sequence[str] = ()) -> Table:
    """The per-layer table of ``atrous model`` (rich, torchinfo's layout: no box).

    Columns: module path (indented by nesting with ``depth``), torch op, geometry in the spec
    language, output shape, receptive field, effective stride, first unit's start (exact
    fractions), holes, then the chosen :data:`MODEL_COLUMNS` (``kernel`` before the
    parameters, ``param%`` and ``trainable`` after them), parameters and MACs. The rows are
    :meth:`ModelSummary.table`'s; names are shown with control characters escaped.
    """
    from rich.table import Table

    rows = summary.table(depth)
    total = max(summary.params, 1)
    names = [("module", "left"), ("op", "left"), ("geometry", "left"), ("output", "right"),
             ("RF", "right"), ("stride", "right"), ("start", "right"), ("holes", "right")]
    names += [("kernel", "right")] if "kernel" in columns else []
    names += [("params", "right")]
    names += [(c, "right") for c in ("param%", "trainable") if c in columns]
    names += [("MACs", "right")]
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col, justify in names:
        table.add_column(col, justify="left" if justify == "left" else "right")
    for row in rows:
        cells = _row_cells(row, model=True, total_params=total, indent=depth is not None)
        table.add_row(*(cells[c] for c, _ in names))
    return table


def render_model(summary: ModelSummary, file: Any = None, *, table: bool = True,
                 depth: int | None = None, columns: Sequence[str] = ()) -> None:
    """Print ``atrous model``'s text: a title line, :func:`model_table`, the parameter and
    memory lines (torchinfo's definitions), the verdicts, the op that made each output global,
    what is partial (``!``) and the grouped notes (``·``, :func:`group_notes`).

    Only displays ``summary``. Without a terminal the text is 160 columns wide, without
    colour and without trailing blanks. Names are shown with control characters escaped.
    """
    import sys

    from rich.console import Console

    out = file or sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    console = Console(file=out, width=None if tty else 160, color_system="auto" if tty else None,
                      highlight=False, soft_wrap=False, markup=False, emoji=False)
    report = summary.report
    console.print(
        f"{printable(summary.name)}: input {', '.join(fmt_size(s) for s in summary.inputs)}, "
        f"{len(report.rows)} nodes, {fmt_compact(summary.params)} parameters, "
        f"{fmt_compact(summary.macs)} MACs ({_HOW.get(summary.method, summary.method)})")
    if table:
        with console.capture() as cap:
            console.print(model_table(summary, depth=depth, columns=columns))
        # no trailing blanks (rich pads every cell to its column's width)
        console.file.write("\n".join(line.rstrip() for line in cap.get().splitlines()) + "\n")
    mem = summary.memory
    if mem is not None:
        console.print(f"Parameters: {mem.params:,} ({mem.trainable:,} trainable, "
                      f"{mem.frozen:,} frozen)", soft_wrap=True)
        console.print(
            f"Memory: parameters {_mb(mem.param_bytes)}, buffers {_mb(mem.buffer_bytes)}, "
            f"input {_mb(mem.input_bytes)}, forward/backward {_mb(mem.forward_backward_bytes)}; "
            f"total {_mb(mem.total_bytes)} (torchinfo's estimate: parameters + input + "
            "forward/backward)", soft_wrap=True)
    for v in summary.verdicts():
        line = f"{v.label}: {v.value}"
        for o in summary.outputs:
            if o.name in v.label and o.label:
                line = line.replace(o.name, f"{o.name} ({o.label!r})", 1)
        console.print(printable(line), soft_wrap=True)
    for o in summary.outputs:
        if o.made_global_by:
            where = f" of {o.name}" if len(summary.outputs) > 1 else ""
            console.print(printable(f"Global{where}: made global by {o.made_global_by}"),
                          soft_wrap=True)
    for d in report.diagnostics:
        console.print(printable(f"! {d}"), soft_wrap=True)
    for n in group_notes(report.notes):
        console.print(printable(f"· {n}"), soft_wrap=True)


def group_notes(notes: Sequence[str], keep: int = 3) -> list[str]:
    """Notes with more than ``keep`` repeats of one kind (the same text at other nodes, numbers
    aside) folded into one line naming the other nodes (``--json`` keeps every note).

    >>> group_notes([f"add_{i}: centres differ ({i}, 0)" for i in range(5)])  # doctest: +ELLIPSIS
    ['add_0: centres differ (0, 0) [the same, ... at 4 more nodes: add_1, add_2, add_3, add_4]']
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for note in notes:
        m = re.match(r"^(\S+): (.*)$", note, re.DOTALL)
        name, body = (m.group(1), m.group(2)) if m else ("", note)
        key = re.sub(r"-?\d+(?:/\d+)?(?:\.\d+)?", "#", body) if m else note
        groups.setdefault(key, []).append((name, note))
    out: list[str] = []
    for items in groups.values():
        if len(items) <= keep:
            out.extend(note for _, note in items)
            continue
        names = [name for name, _ in items[1:]]
        shown = ", ".join(names) if len(names) <= 6 else ", ".join(names[:5]) + f", ... {names[-1]}"
        out.append(f"{items[0][1]} [the same, with other numbers, at {len(names)} more nodes: "
                   f"{shown}]")
    return out


def compare_panel(report: Report) -> Panel:
    """One side of a comparison: the target, a short verdict and its coverage heatmap."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    rf = report.rf
    lines = Text("RF " + ("global" if rf.is_global else _cell(rf.size)))
    cov = report.outputs[0].judged
    if cov is not None and report.outputs[0].deferred:
        lines.append(f"\nmap of {printable(cov.node)}'s centre unit (the last local map)",
                     style="dim")
    if cov is not None:
        if not cov.cells:
            lines.append("\n✗ empty: reads no input pixel", style="red")
        elif cov.gridded:
            lines.append(f"\n✗ grids: {cov.holes} holes ({cov.fraction:.0%} covered)",
                         style="red")
        else:
            lines.append("\n✓ gridding-free", style="green")
    if report.hdc is not None:
        lines.append(f"\nHDC rule as stated: {'passes' if report.hdc.rule_passes else 'fails'}")
    parts: list[Any] = [lines]
    if cov is not None:
        parts.append(coverage_heatmap(cov, legend=False))
    return Panel(Group(*parts), title=Text(printable(report.target)), title_align="left",
                 expand=False)


def render_compare(reports: Sequence[Report], console: Console) -> None:
    """Print reports side by side, then a table of their key numbers."""
    from rich.columns import Columns
    from rich.table import Table
    from rich.text import Text

    console.print(Text("atrous analyze: comparison", style="bold"))
    console.print(Columns([compare_panel(r) for r in reports], equal=False, expand=False))
    table = Table(header_style="bold")
    table.add_column("")
    for r in reports:
        table.add_column(Text(printable(r.target)))

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    row("receptive field", ["global" if r.rf.is_global else _cell(r.rf.size) for r in reports])
    row("effective stride", [_cell(r.rf.stride) for r in reports])
    covs = [r.outputs[0].judged for r in reports]
    row("holes in the RF box", ["-" if c is None else str(c.holes) for c in covs])
    row("covered", ["-" if c is None else f"{c.fraction:.0%}" for c in covs])
    row("paths per pixel", [
        "-" if c is None else f"{fmt_count(c.min_count)} to {fmt_count(c.max_count)}" for c in covs
    ])
    row("exact verdict", [
        "-" if c is None else "✗ empty" if not c.cells else
        ("✗ grids" if c.gridded else "✓ gridding-free") for c in covs
    ])
    row("HDC rule as stated", [
        "-" if r.hdc is None else ("passes" if r.hdc.rule_passes else "fails") for r in reports
    ])
    console.print(table)
    for r in reports:
        for d in r.diagnostics:
            console.print(Text(f"! {printable(r.target)}: {printable(d)}", style="yellow"))
