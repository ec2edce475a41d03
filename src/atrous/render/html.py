"""A self-contained HTML report: verdicts first, figures, HDC explanation, sortable layer table.

One file, nothing fetched: figures are embedded as base64 PNG, the stylesheet and the small
table-sorting script are inline, and a Content-Security-Policy allows only that script (by its
hash) to run. Every text that comes from a model or a spec (module names, paths, diagnostics) is
escaped by jinja2's autoescaping, so a module named ``<script>`` is shown, never executed.

    >>> page = page_html([section_from_dict({"target": "<b>x</b>", "status": "complete"})],
    ...                  title="demo")
    >>> "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypedDict, cast

from ..errors import AtrousError, printable
from .text import fmt_compact

if TYPE_CHECKING:  # type-only: importing the renderers stays light
    import jinja2

    from .._coverage import Coverage, LayerGridding
    from .._erf import ERFResult
    from ..report import Report
    from ..rf import ReceptiveField
    from ..units import Units
    from ._figures_base import Figure
    from ._records import (
        CoverageRecord,
        ERFRecord,
        GriddingRecord,
        HDCRecord,
        ReportRecord,
        RowRecord,
    )

    # A report as the page takes it: the Report, or its JSON record (Report.to_dict(), the
    # output of `atrous analyze --json`; typed in atrous.render._records).
    _ReportLike: TypeAlias = Report | ReportRecord

__all__ = [
    "CAPTIONS",
    "EMBED_MAX_CELLS",
    "EMBED_MAX_LIST",
    "EXPLAINER",
    "FigureItem",
    "Section",
    "embedded_data",
    "figure_item",
    "page_html",
    "report_html",
    "section_from_dict",
    "section_from_report",
    "write_html",
]

EMBED_MAX_CELLS = 256 * 256
"""A coverage map's counts are embedded in the page's JSON only up to this many cells."""
EMBED_MAX_LIST = 256
"""Longer lists of numbers or strings (e.g. ``hdc.missing``) are cut to this many in the JSON."""
FULL_DATA_HINT = (
    "the full data (every count, every offset) comes from `atrous analyze ... --json`, "
    "`atrous model ... --json FILE`, or Report.to_json() in Python"
)

EXPLAINER = (
    "Receptive field (RF): the box of input pixels one output unit can see. Its size, the "
    "effective stride (how far the box moves per output unit) and the centre are exact; "
    "transposed convolutions and upsampling give fractional strides, never a negative size.",
    "Coverage: the number of distinct paths from each input pixel to the output unit, the "
    "numbers the usual tutorial figures draw in their grids. A zero inside the RF box is a "
    "hole: that pixel is never read although pixels on both sides are. Holes are the gridding "
    "effect.",
    "HDC rule as stated: M_n = r_n, M_i = max[M_(i+1) - 2r_i, 2r_i - M_(i+1), r_i], and "
    "M_2 <= K, with a sawtooth schedule and no common factor. It is a heuristic: it passes "
    "[2, 3] with K = 3, which grids, and it depends on the order of the layers while coverage "
    "does not ([5, 2, 1] covers everything but fails the rule). The exact answer comes from "
    "the coverage map; the report shows both and says where they differ.",
    "Status: complete means every layer was understood; partial means some layer was not, and "
    "a diagnostic names it. An unknown operation is never silently treated as an identity.",
)
"""The "how to read this report" paragraphs."""


CAPTIONS: dict[str, str] = {
    "coverage": "Coverage map of the output's centre unit: paths from each input pixel (zero "
    "cells, hatched, are holes: the gridding effect).",
    "gridding": "Per-layer gridding: the share of each layer's RF box its centre unit reads; "
    "hatched vermillion bars grid.",
    "erf": "Effective receptive field (gradient of the centre output unit, averaged over random "
    "inputs) with the theoretical RF box.",
}
"""Captions of the standard figures."""


# -- small value formatting -------------------------------------------------------------------
def _fmt(value: object) -> str:
    """A cell value as short text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value}"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, Sequence):
        items: list[object] = list(value)
        groups = [v for v in items if isinstance(v, Sequence) and not isinstance(v, str)]
        if items and len(groups) == len(items):
            return " ".join("(" + ",".join(_fmt(x) for x in v) + ")" for v in groups)
        if all(isinstance(v, (int, float, Fraction)) and not isinstance(v, bool)
               for v in items):
            return "x".join(_fmt(v) for v in items)  # per-axis sizes: 33x33
        return ", ".join(_fmt(v) for v in items)  # names (a merge's inputs): a, b
    return str(value)


def _sort_key(value: object) -> str:
    """A sort key: a number for numbers and per-axis sizes (their product), else the text."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float, Fraction)):
        return repr(float(value))
    if isinstance(value, str):
        frac = re.fullmatch(r"(-?\d+)/(\d+)", value)
        if frac:
            return repr(int(frac.group(1)) / int(frac.group(2)))
        return value
    if isinstance(value, Sequence) and value and all(
        isinstance(v, (int, float, Fraction)) and not isinstance(v, bool) for v in value
    ):
        return repr(float(math.prod(float(v) for v in value)))
    return _fmt(value) if value is not None else ""


# -- figures ----------------------------------------------------------------------------------
@dataclass
class FigureItem:
    """One embedded figure: a ``data:`` URI, its alt text and caption."""

    src: str
    alt: str
    caption: str


def figure_item(
    fig: Figure | bytes, caption: str, alt: str | None = None, dpi: int = 90
) -> FigureItem:
    """Embed a matplotlib figure (or PNG bytes already rendered) as a base64 ``data:`` URI."""
    from .figures import figure_png

    png = fig if isinstance(fig, bytes) else figure_png(fig, dpi=dpi)
    data = base64.b64encode(png).decode("ascii")
    return FigureItem(f"data:image/png;base64,{data}", alt or caption, caption)


# -- sections ---------------------------------------------------------------------------------
class HDCBlock(TypedDict):
    """The HDC section of a page: (name, value) rows and the explanations."""

    table: list[tuple[str, str]]
    explanations: list[str]


class Column(TypedDict):
    """A column of the layer table: its header, and whether it is behind the toggle."""

    label: str
    extra: bool


class Cell(TypedDict):
    """A cell of the layer table: its ``text``, sort ``key``, ``kind`` (how it wraps),
    ``lines`` (wrapping pieces per line, or None), hover ``title`` and ``extra`` (toggled)."""

    text: str
    key: str
    kind: str
    lines: list[list[str]] | None
    title: str | None
    extra: bool


class TableRow(TypedDict):
    """A row of the layer table: its cells and a ``flag`` (``bad``: gridded, ``warn``: n/a)."""

    cells: list[Cell]
    flag: str


class Intro(TypedDict, total=False):
    """What a page shows before its sections: ``paragraphs`` and ``figures``."""

    paragraphs: list[str]
    figures: list[FigureItem]


def _no_record() -> ReportRecord:
    return {}


@dataclass
class Section:
    """Everything the template shows for one analysed target."""

    title: str
    anchor: str
    status: str = "complete"
    description: str = ""
    verdicts: list[dict[str, str]] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: list[FigureItem] = field(default_factory=list)
    hdc: HDCBlock | None = None
    columns: list[Column] = field(default_factory=list)
    rows: list[TableRow] = field(default_factory=list)
    data: ReportRecord = field(default_factory=_no_record)
    data_notes: list[str] = field(default_factory=list)

    @property
    def status_class(self) -> str:
        s = self.status.lower()
        return s if s in ("complete", "partial", "unavailable") else "partial"


def _verdict(label: str, value: str, state: str = "info") -> dict[str, str]:
    mark = {"good": "✓", "bad": "✗", "warn": "!", "info": "·"}[state]
    return {"label": label, "value": value, "state": state, "mark": mark}


def add_unit_verdicts(section: Section, units: Units, rf: ReceptiveField) -> None:
    """Add the physical receptive field and stride (:class:`atrous.units.Units`: a sample rate
    or a pixel spacing) to a report section: as verdicts (:func:`atrous.units.units_pairs`) and
    as the ``units`` member of its embedded JSON (:func:`atrous.units.units_dict`). Nothing
    without units."""
    from ..units import units_dict, units_pairs

    d = units_dict(rf, units)
    if d is None:
        return
    section.verdicts.extend(_verdict(label, value) for label, value in units_pairs(rf, units))
    section.data["units"] = d


_SKIP_COLUMNS = {"counts", "coverage_counts", "boxes", "axes", "meta"}

# The layer table: (header, row keys in order of preference, shown by default, kind). The keys
# of one column are different fields (a torch module path before the node name, the torch
# target before the layer kind), not spellings of one field: a record has one name per field.
# Kinds:
# "name" wraps at dots and underscores (full name on hover), "names" lists a merge's inputs one
# per line, "num" never wraps. Columns a row does not have are left out; any other key of the
# rows goes behind the "more columns" toggle, so a real model's table fits a laptop screen.
_LAYER_COLUMNS: tuple[tuple[str, tuple[str, ...], bool, str], ...] = (
    ("layer", ("module", "name"), True, "name"),
    ("op", ("target", "op"), True, "text"),
    ("geometry", ("geometry",), True, "geom"),
    ("inputs", ("inputs",), True, "names"),
    ("output", ("shape", "output_size"), True, "num"),
    ("rf size", ("rf_size",), True, "num"),
    ("rf stride", ("rf_stride",), True, "num"),
    ("rf start", ("rf_start",), True, "num"),
    ("holes", ("holes",), True, "num"),
    ("covered", ("fraction",), True, "num"),
    ("params", ("params",), True, "num"),
    ("MACs", ("macs",), True, "num"),
    ("node", ("name",), False, "name"),
    ("output size", ("output_size",), False, "num"),
    ("op kind", ("op",), False, "text"),
    ("rf global", ("rf_global",), False, "text"),
    ("gridded", ("gridded",), False, "text"),
    ("uniformity", ("uniformity",), False, "num"),
)


def _wrap_points(text: str) -> list[str]:
    """``text`` split after each ``.`` and ``_`` (the template puts a line-break opportunity
    between the pieces, so a long module path wraps between its parts, never mid-word)."""
    return re.findall(r"[^._]*[._]|[^._]+$", text) or [text]


def _cell(value: object, kind: str) -> Cell:
    if kind == "names" and isinstance(value, Sequence) and not isinstance(value, str):
        names = [str(v) for v in value]
        return {"text": ", ".join(names), "key": ", ".join(names), "kind": kind,
                "lines": [_wrap_points(n) for n in names], "title": ", ".join(names),
                "extra": False}
    text = _fmt(value) if value is not None else ""
    cell: Cell = {"text": text, "key": _sort_key(value), "kind": kind, "lines": None,
                  "title": None, "extra": False}
    if kind == "name":
        cell["lines"] = [_wrap_points(text)]
        cell["title"] = text
    return cell


def _table(rows: Sequence[RowRecord]) -> tuple[list[Column], list[TableRow]]:
    """The layer table's columns (``label``, ``extra``: behind the toggle) and rows.

    The rows are read as plain mappings: every key a row has becomes a column (the known ones
    in :data:`_LAYER_COLUMNS`' order and look), so a front end's extra fields show too."""
    dict_rows: list[Mapping[str, object]] = [dict(r) for r in rows]
    present: list[str] = []
    for r in dict_rows:
        for k in r:
            if k not in present and k not in _SKIP_COLUMNS:
                present.append(k)
    used: set[str] = set()
    spec: list[tuple[str, str, bool, str]] = []
    for label, keys, shown, kind in _LAYER_COLUMNS:
        key = next((k for k in keys if k in present), None)
        if key is None or key in used:
            continue  # absent, or shown already (the node name is the layer of a spec)
        used.add(key)
        spec.append((label, key, shown, kind))
    # a column no row fills (holes without per-layer gridding) is left out, and so is an extra
    # column that repeats a shown one in every row (the node name of a model's module path)
    spec = [c for c in spec if any(r.get(c[1]) is not None for r in dict_rows)]
    shown_keys = [key for _, key, shown, _ in spec if shown]
    spec = [c for c in spec if c[2] or not all(
        any(_fmt(r.get(c[1])) == _fmt(r.get(k)) for k in shown_keys) for r in dict_rows)]
    for key in present:  # anything else the rows carry: behind the toggle
        if key not in used:
            used.add(key)
            spec.append((key.replace("_", " "), key, False, "text"))
    out: list[TableRow] = []
    for r in dict_rows:
        gridded = r.get("gridded")
        flag = "bad" if gridded is True else ("warn" if r.get("available") is False else "")
        cells = []
        for label, key, shown, kind in spec:
            cell = _cell(r.get(key), kind)
            value = r.get(key)
            if label == "covered" and isinstance(value, (int, float)) and not isinstance(
                    value, bool):
                cell["text"] = f"{float(value):.0%}"  # the share of the box that is read
            if label in ("params", "MACs") and isinstance(value, int) and value >= 10**4:
                cell["text"], cell["title"] = fmt_compact(value), f"{value:,}"
            cell["extra"] = not shown
            cells.append(cell)
        out.append({"cells": cells, "flag": flag})
    columns: list[Column] = [{"label": label, "extra": not shown} for label, _, shown, _ in spec]
    return columns, out


def _verdicts(d: ReportRecord) -> list[dict[str, str]]:
    """The verdict rows of a report record: its ``findings`` as they are (schema version 2),
    or, for a version-1 record, the ones its ``rf``, ``coverage`` and ``hdc`` give plus its
    ``verdicts``."""
    out: list[dict[str, str]] = []
    status = str(d.get("status") or "complete")
    findings = d.get("findings")
    if findings is not None:  # a Report's own findings (schema 2): shown as they are
        looks = {"ok": "good", "note": "info", "warning": "bad", "error": "bad"}
        return [_verdict(str(f.get("label")), str(f.get("message")),
                         looks.get(str(f.get("severity")), "info"))
                for f in findings if f.get("label")]
    rf = d.get("rf")
    if rf is not None:
        if rf.get("is_global") and all(rf.get("global_axes") or [True]):
            out.append(_verdict("Receptive field", "global (sees the whole input)", "info"))
        else:
            out.append(_verdict("Receptive field", _fmt(rf.get("size")), "info"))
            if rf.get("stride") is not None:
                out.append(_verdict("Effective stride", _fmt(rf.get("stride")), "info"))
    cov = d.get("coverage")
    if cov is not None and cov.get("gridded") is not None:
        holes = int(cov.get("holes") or 0)
        if cov.get("gridded"):
            out.append(_verdict("Gridding (exact)", f"grids: {holes} holes in the RF box", "bad"))
        else:
            out.append(_verdict("Gridding (exact)", "gridding-free: no holes", "good"))
        fraction, uniformity = cov.get("fraction"), cov.get("uniformity")
        if fraction is not None:
            out.append(_verdict("RF box covered", f"{float(fraction):.0%}",
                                "good" if float(fraction) >= 1 else "bad"))
        if uniformity is not None:
            out.append(_verdict("Uniformity (min/max count)", f"{float(uniformity):.3g}"))
    hdc = d.get("hdc")
    if hdc is not None and "rule_passes" in hdc:
        passes = bool(hdc.get("rule_passes"))
        out.append(_verdict("HDC rule as stated", "passes" if passes else "fails",
                            "good" if passes else "bad"))
        if hdc.get("agrees") is False:
            out.append(_verdict("Rule vs exact", "disagree (see the HDC section)", "warn"))
    for v in d.get("verdicts") or []:
        ok = v.get("ok")
        state = "good" if ok is True else "bad" if ok is False else "info"
        out.append(_verdict(str(v.get("label") or ""), _fmt(v.get("value")), state))
    out.append(_verdict("Analysis", status, "good" if status == "complete" else "warn"))
    return out


def _hdc_block(hdc: HDCRecord | None) -> HDCBlock | None:
    if hdc is None or "rule_passes" not in hdc:
        return None
    table = [
        ("rates", ", ".join(_fmt(r) for r in hdc.get("rates") or [])),
        ("kernel K", _fmt(hdc.get("kernel"))),
        ("M_1..M_n", ", ".join(_fmt(m) for m in hdc.get("M") or [])),
        ("M_2 <= K", _fmt(hdc.get("m2_le_k"))),
        ("first rate 1", _fmt(hdc.get("first_rate_one"))),
        ("gcd of the rates", _fmt(hdc.get("gcd"))),
        ("sawtooth", _fmt(hdc.get("sawtooth"))),
        ("rule as stated", "passes" if hdc.get("rule_passes") else "fails"),
        ("exact (coverage)", "gridding-free" if hdc.get("gridding_free") else "grids"),
    ]
    return {"table": table, "explanations": [str(e) for e in hdc.get("explanations") or []]}


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "target"
    slug, i = base, 2
    while slug in used:
        slug, i = f"{base}-{i}", i + 1
    used.add(slug)
    return slug


def section_from_dict(
    d: ReportRecord,
    *,
    title: str | None = None,
    description: str = "",
    figures: Sequence[FigureItem] = (),
    anchor: str | None = None,
) -> Section:
    """A section from a report's JSON record (:meth:`atrous.Report.to_dict`, the output of
    ``atrous analyze --json``; its fields are typed in
    :class:`atrous.render._records.ReportRecord`)."""
    name = title or str(d.get("target") or "atrous report")
    rows = d.get("rows") or []
    columns, table = _table(rows) if rows else ([], [])
    data: ReportRecord = {**d}  # a copy: the section's JSON may gain members (units)
    return Section(
        title=name, anchor=anchor or _slug(name, set()),
        status=str(d.get("status") or "complete"), description=description,
        verdicts=_verdicts(d), diagnostics=[str(x) for x in d.get("diagnostics") or []],
        figures=list(figures), notes=[str(n) for n in d.get("notes") or []],
        hdc=_hdc_block(d.get("hdc")), columns=columns, rows=table, data=data,
    )


def _built(report: Report) -> Coverage | None:
    """The report's coverage map when it is built; a deferred (whole-input) map stays unbuilt:
    a renderer draws what the caller computed, it runs no analysis."""
    first = report.outputs[0]
    return None if first.deferred else first.coverage


def _coverage_of(report: _ReportLike, d: ReportRecord) -> Coverage | CoverageRecord | None:
    from ..report import Report

    cov = _built(report) if isinstance(report, Report) else None
    if cov is not None:
        return cov
    raw = d.get("coverage")
    if raw is not None and raw.get("counts") is not None:
        return raw
    return None


def section_from_report(
    report: _ReportLike,
    *,
    title: str | None = None,
    description: str = "",
    figures: bool = True,
    erf: ERFResult | ERFRecord | None = None,
    extra_figures: Sequence[FigureItem] = (),
    anchor: str | None = None,
) -> Section:
    """A section for one :class:`atrous.Report`, with its coverage/gridding figures.

    The section shows what the report holds and runs no analysis: a global output's deferred
    whole-input map (:attr:`atrous.report.OutputResult.deferred`) is neither built nor drawn;
    read ``report.coverage`` first to build it.

    Args:
        report: the Report, or its JSON record (``to_dict()``, a dict).
        title: heading (default: the report's target).
        description: a sentence under the heading.
        figures: draw the coverage map and the per-layer gridding strip.
        erf: an :func:`atrous.erf` result (or its ``to_dict()`` record) to draw too.
        extra_figures: more figures to append.
        anchor: HTML id of the section.
    """
    from ..report import Report
    from .progress import track

    d = _report_dict(report)
    jobs: list[tuple[str, Callable[[], FigureItem]]] = []
    if figures:
        from .figures import coverage_figure, gridding_strip

        cov = _coverage_of(report, d)
        if cov is not None:
            jobs.append(("coverage map", lambda: figure_item(
                coverage_figure(cov), CAPTIONS["coverage"], alt="coverage heatmap")))
        rows = _gridding_rows(report, d)
        if rows and len(rows) > 1:
            jobs.append(("per-layer gridding", lambda: figure_item(
                gridding_strip(rows), CAPTIONS["gridding"], alt="per-layer gridding bars")))
    if erf is not None:
        from .figures import erf_figure

        jobs.append(("effective RF", lambda: figure_item(
            erf_figure(erf), CAPTIONS["erf"], alt="effective receptive field heatmap")))
    items: list[FigureItem] = [
        job() for job in track([j for _, j in jobs], description="drawing figures",
                               labels=[label for label, _ in jobs])
    ]
    items.extend(extra_figures)
    section = section_from_dict(d, title=title, description=description, figures=items,
                                anchor=anchor)
    if isinstance(report, Report):  # the Report's own findings in words
        section.verdicts = [
            _verdict(str(v.label), str(v.value),
                     "good" if v.ok is True else "bad" if v.ok is False else "info")
            for v in report.verdicts()
        ]
        if section.verdicts and section.status != "complete":
            section.verdicts[-1]["state"] = "warn"
            section.verdicts[-1]["mark"] = "!"
    return section


def _cells(cov: Coverage | None) -> int:
    return 0 if cov is None else int(cov.counts.size)


def _report_dict(report: _ReportLike) -> ReportRecord:
    """The report's JSON record, without building nested lists of huge coverage maps (nor
    building a deferred map: :meth:`atrous.Report.to_dict` leaves those null)."""
    from ..report import Report

    if not isinstance(report, Report):
        if not isinstance(report, Mapping) or "status" not in report:
            got = ("a mapping with no 'status'" if isinstance(report, Mapping)
                   else type(report).__name__)
            raise AtrousError(f"report must be an atrous Report (atrous.analyze) or its record "
                              f"(to_dict(), JSON), got {got}")
        return report
    small = all(_cells(None if o.deferred else o.coverage) <= EMBED_MAX_CELLS
                for o in report.outputs)
    # Report.to_dict() is typed dict[str, Any]; its shape is the schema's, typed here
    return cast("ReportRecord", report.to_dict(counts=small))


def _gridding_rows(
    report: _ReportLike, d: ReportRecord
) -> Sequence[LayerGridding] | list[GriddingRecord]:
    """The per-layer gridding rows: the Report's own, else its record's ``layer_gridding``.

    (A record's layer-table ``rows`` carry a fraction only where ``layer_gridding`` has the
    node, so they are never a second source.)"""
    from ..report import Report

    if isinstance(report, Report) and report.layer_gridding:
        return report.layer_gridding
    return [r for r in d.get("layer_gridding") or [] if "fraction" in r]


# -- the embedded JSON ------------------------------------------------------------------------
def _count_cells(counts: object) -> int:
    """Cells of a nested-list map (product of the nesting lengths)."""
    n = 1
    while isinstance(counts, list):
        n *= len(counts)
        counts = counts[0] if counts else None
    return n


def _trim_coverage(cov: CoverageRecord, notes: list[str], where: str,
                   duplicate: bool = False) -> dict[str, object]:
    out: dict[str, object] = dict(cov)
    counts, cells = cov.get("counts"), cov.get("cells")
    if duplicate:
        out.pop("counts", None)
        out["counts_omitted"] = "same map as coverage.counts"
        return out
    if counts is None:
        if cells is not None and int(cells) > EMBED_MAX_CELLS:
            out["counts_omitted"] = f"{int(cells)} cells > {EMBED_MAX_CELLS}"
            notes.append(f"{where}.counts: {int(cells)} cells, not embedded")
        return out
    n = int(cells or _count_cells(counts))
    if n > EMBED_MAX_CELLS:
        del out["counts"]
        out["counts_omitted"] = f"{n} cells > {EMBED_MAX_CELLS}"
        notes.append(f"{where}.counts: {n} cells, not embedded")
    return out


def _trim_map(value: Mapping[str, object], notes: list[str], where: str) -> dict[str, object]:
    """Cut long lists of scalars to :data:`EMBED_MAX_LIST` items, with ``<key>_total`` and
    ``<key>_truncated`` beside them (in nested mappings and lists too)."""
    out: dict[str, object] = {}
    for key, item in value.items():
        path = f"{where}.{key}" if where else str(key)
        if key == "counts":
            out[key] = item
        elif (isinstance(item, list) and len(item) > EMBED_MAX_LIST
              and all(not isinstance(v, (list, dict)) for v in item)):
            out[key] = item[:EMBED_MAX_LIST]
            out[f"{key}_total"] = len(item)
            out[f"{key}_truncated"] = True
            notes.append(f"{path}: first {EMBED_MAX_LIST} of {len(item)} items")
        else:
            out[key] = _trim_lists(item, notes, path)
    return out


def _trim_lists(value: object, notes: list[str], where: str) -> object:
    if isinstance(value, Mapping):
        return _trim_map({str(k): v for k, v in value.items()}, notes, where)
    if isinstance(value, list):
        return [_trim_lists(v, notes, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def embedded_data(d: ReportRecord) -> tuple[dict[str, object], list[str]]:
    """A report record as the page embeds it: bounded in size, each map at most once.

    Coverage counts are kept only up to :data:`EMBED_MAX_CELLS` cells, and only once (the first
    output's map is the top-level ``coverage``; its copy under ``outputs`` is dropped with
    ``counts_omitted`` saying so). Lists of scalars longer than :data:`EMBED_MAX_LIST` (such as
    ``hdc.missing``) keep their first items plus ``<key>_total`` and ``<key>_truncated``.

    Returns:
        The trimmed dict and one note per cut (empty when nothing was cut).

    >>> data, notes = embedded_data({"hdc": {"missing": list(range(1000))}})
    >>> len(data["hdc"]["missing"]), data["hdc"]["missing_total"], notes
    (256, 1000, ['hdc.missing: first 256 of 1000 items'])
    """
    notes: list[str] = []
    out: dict[str, object] = dict(d)
    top = d.get("coverage")
    if top is not None:
        out["coverage"] = _trim_coverage(top, notes, "coverage")
    outputs = d.get("outputs")
    if outputs is not None:
        trimmed: list[object] = []
        for i, o in enumerate(outputs):
            cov = o.get("coverage")
            if cov is None:
                trimmed.append(o)
                continue
            same = i == 0 and top is not None and top.get("node") == cov.get("node")
            entry: dict[str, object] = dict(o)
            entry["coverage"] = _trim_coverage(cov, notes, f"outputs[{i}].coverage",
                                               duplicate=same)
            trimmed.append(entry)
        out["outputs"] = trimmed
    out = _jsonable(_trim_map(out, notes, ""))
    if notes:
        out["trimmed"] = {"notes": notes, "full_data": FULL_DATA_HINT}
    return out, notes


# -- pages ------------------------------------------------------------------------------------
def _resource(name: str) -> str:
    return resources.files("atrous.render").joinpath("templates").joinpath(name).read_text("utf-8")


def _visible(value: object) -> object:
    r"""What the page prints for a template value: text (a user's layer or module names among
    it) with control and format characters shown as escapes (``\x1b``, ``\u202e``), so a name
    cannot reorder the text around it (bidi overrides) or hide in zero-width characters; line
    breaks and tabs stay. Markup the page built itself (figures, pre-rendered HTML) is left as
    it is.

    >>> _visible("conv\u202eevil\x1b[31m"), _visible("a\nb"), _visible(3)
    ('conv\\u202eevil\\x1b[31m', 'a\nb', 3)
    """
    return printable(value, keep="\t\n\r") if type(value) is str else value


def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("atrous.render", "templates"),
        autoescape=True,
        finalize=_visible,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _jsonable(value: Mapping[str, object]) -> dict[str, object]:
    """``value`` as JSON reads it back (anything JSON cannot hold written as its ``str``)."""
    loaded: dict[str, object] = json.loads(json.dumps(value, default=str))
    return loaded


def page_html(
    sections: Sequence[Section],
    *,
    title: str = "atrous report",
    subtitle: str = "",
    intro: Intro | None = None,
    explainer: Sequence[str] = EXPLAINER,
    fragment: bool = False,
) -> str:
    """Render sections into one self-contained HTML page (or a fragment for Jupyter).

    Args:
        sections: one :class:`Section` per target.
        title, subtitle: page heading.
        intro: optional ``{"paragraphs": [...], "figures": [FigureItem, ...]}`` shown first.
        explainer: the "how to read this report" paragraphs.
        fragment: return only the body and the sorting script (for ``_repr_html_``), without
            the embedded JSON data.
    """
    import markupsafe

    from .. import __version__

    used: set[str] = set()
    for s in sections:
        s.anchor = _slug(s.anchor or s.title, used)
    env = _environment()
    context = dict(
        title=title, subtitle=subtitle, sections=list(sections), version=__version__,
        intro=dict(intro) if intro else None, explainer=list(explainer),
    )
    script = _resource("sort.js")
    if fragment:
        css = _resource("report.css")
        body = env.get_template("body.html.j2").render(**context)
        # the sorting script is an IIFE (no globals) that binds each table once, so several
        # fragments on one notebook page each sort their own table
        return f"<style>{css}</style>\n{body}\n<script>{script}</script>"
    reports = []
    for s in sections:
        data, notes = embedded_data(s.data)
        reports.append(data)
        s.data_notes = [
            f"The JSON embedded in this page is trimmed ({'; '.join(notes)}); {FULL_DATA_HINT}."
        ] if notes else []
    context["sections"] = list(sections)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    data = {"generator": f"atrous {__version__}", "reports": reports}
    return str(env.get_template("report.html.j2").render(
        **context, css=markupsafe.Markup(_resource("report.css")),
        script=markupsafe.Markup(script), script_hash=f"sha256-{digest}",
        data=data,
    ))


def report_html(
    report: _ReportLike,
    *,
    title: str | None = None,
    erf: ERFResult | ERFRecord | None = None,
    figures: bool = True,
    fragment: bool = False,
) -> str:
    """The HTML report of one :class:`atrous.Report` (``Report._repr_html_`` uses it).

    Args:
        report: the Report, or its JSON record (``to_dict()``).
        title: page title (default: "atrous report: " and the report's target).
        erf: an optional :func:`atrous.erf` result (or its record), drawn with the theoretical
            RF box.
        figures: embed the coverage and per-layer gridding figures.
        fragment: only the body, for Jupyter.
    """
    s = section_from_report(report, figures=figures, erf=erf)
    return page_html([s], title=title or f"atrous report: {s.title}", fragment=fragment)


def write_html(path: str | os.PathLike[str], html: str) -> Path:
    """Write a page atomically (temp file + rename)."""
    from .figures import write_atomic

    return write_atomic(path, html.encode("utf-8"))
