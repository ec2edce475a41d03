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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from .text import fmt_compact

if TYPE_CHECKING:  # type-only: importing the renderers stays light
    from .._coverage import Coverage, LayerGridding
    from .._erf import ERFResult
    from ..report import Report

    # A report as the page takes it: the Report, or its JSON dict (Report.to_dict()).
    _ReportLike: TypeAlias = Report | Mapping[str, Any]

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
def _fmt(value: Any) -> str:
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
        items = list(value)
        if items and all(isinstance(v, Sequence) and not isinstance(v, str) for v in items):
            return " ".join("(" + ",".join(_fmt(x) for x in v) + ")" for v in items)
        if all(isinstance(v, (int, float, Fraction)) and not isinstance(v, bool)
               for v in items):
            return "x".join(_fmt(v) for v in items)  # per-axis sizes: 33x33
        return ", ".join(_fmt(v) for v in items)  # names (a merge's inputs): a, b
    return str(value)


def _sort_key(value: Any) -> str:
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
    fig: Any, caption: str, alt: str | None = None, dpi: int = 90
) -> FigureItem:
    """Embed a matplotlib figure (or PNG bytes already rendered) as a base64 ``data:`` URI."""
    from .figures import figure_png

    png = fig if isinstance(fig, bytes) else figure_png(fig, dpi=dpi)
    data = base64.b64encode(png).decode("ascii")
    return FigureItem(f"data:image/png;base64,{data}", alt or caption, caption)


# -- sections ---------------------------------------------------------------------------------
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
    hdc: dict[str, Any] | None = None
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    data_notes: list[str] = field(default_factory=list)

    @property
    def status_class(self) -> str:
        s = self.status.lower()
        return s if s in ("complete", "partial", "unavailable") else "partial"


def _verdict(label: str, value: str, state: str = "info") -> dict[str, str]:
    mark = {"good": "✓", "bad": "✗", "warn": "!", "info": "·"}[state]
    return {"label": label, "value": value, "state": state, "mark": mark}


def _get(d: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return None


def _diagnostic_text(d: Any) -> str:
    if isinstance(d, Mapping):
        where = _get(d, "node", "layer", "path", "module")
        level = _get(d, "level", "severity", "kind")
        msg = _get(d, "message", "text", "reason") or json.dumps(d, default=str)
        prefix = f"[{level}] " if level else ""
        return f"{prefix}{where}: {msg}" if where and str(where) not in str(msg) else prefix + msg
    return str(d)


_SKIP_COLUMNS = {"counts", "coverage_counts", "boxes", "axes", "meta"}

# The layer table: (header, row keys in order of preference, shown by default, kind). Kinds:
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


def _cell(value: Any, kind: str) -> dict[str, Any]:
    if kind == "names" and isinstance(value, Sequence) and not isinstance(value, str):
        names = [str(v) for v in value]
        return {"text": ", ".join(names), "key": ", ".join(names), "kind": kind,
                "lines": [_wrap_points(n) for n in names], "title": ", ".join(names)}
    text = _fmt(value) if value is not None else ""
    cell: dict[str, Any] = {"text": text, "key": _sort_key(value), "kind": kind,
                            "lines": None, "title": None}
    if kind == "name":
        cell["lines"] = [_wrap_points(text)]
        cell["title"] = text
    return cell


def _table(rows: Sequence[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The layer table's columns (``label``, ``extra``: behind the toggle) and rows."""
    dict_rows = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in rows]
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
    out = []
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
    columns = [{"label": label, "extra": not shown} for label, _, shown, _ in spec]
    return columns, out


def _verdicts(d: Mapping[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    status = str(d.get("status") or "complete")
    if isinstance(d.get("findings"), list):  # a Report's own findings (schema 2): shown as they are
        looks = {"ok": "good", "note": "info", "warning": "bad", "error": "bad"}
        return [_verdict(str(f["label"]), str(f["message"]), looks.get(f["severity"], "info"))
                for f in d["findings"] if isinstance(f, Mapping) and f.get("label")]
    rf = _get(d, "rf", "receptive_field")
    if isinstance(rf, Mapping):
        if rf.get("is_global") and all(rf.get("global_axes") or [True]):
            out.append(_verdict("Receptive field", "global (sees the whole input)", "info"))
        else:
            out.append(_verdict("Receptive field", _fmt(rf.get("size")), "info"))
            if rf.get("stride") is not None:
                out.append(_verdict("Effective stride", _fmt(rf.get("stride")), "info"))
    cov = d.get("coverage")
    if isinstance(cov, Mapping) and cov.get("gridded") is not None:
        holes = int(cov.get("holes") or 0)
        if cov.get("gridded"):
            out.append(_verdict("Gridding (exact)", f"grids: {holes} holes in the RF box", "bad"))
        else:
            out.append(_verdict("Gridding (exact)", "gridding-free: no holes", "good"))
        if cov.get("fraction") is not None:
            out.append(_verdict("RF box covered", f"{float(cov['fraction']):.0%}",
                                "good" if float(cov["fraction"]) >= 1 else "bad"))
        if cov.get("uniformity") is not None:
            out.append(_verdict("Uniformity (min/max count)", f"{float(cov['uniformity']):.3g}"))
    elif isinstance(cov, str):
        out.append(_verdict("Coverage", cov, "warn"))
    hdc = d.get("hdc")
    if isinstance(hdc, Mapping) and "rule_passes" in hdc:
        out.append(_verdict("HDC rule as stated", "passes" if hdc["rule_passes"] else "fails",
                            "good" if hdc["rule_passes"] else "bad"))
        if hdc.get("agrees") is False:
            out.append(_verdict("Rule vs exact", "disagree (see the HDC section)", "warn"))
    for v in d.get("verdicts") or []:
        if isinstance(v, Mapping):
            ok = v.get("ok", v.get("passed"))
            state = "good" if ok is True else "bad" if ok is False else "info"
            out.append(_verdict(str(v.get("label") or v.get("name") or ""),
                                _fmt(v.get("value") if "value" in v else v.get("text")), state))
        elif isinstance(v, str):
            out.append(_verdict("Verdict", v))
    out.append(_verdict("Analysis", status, "good" if status == "complete" else "warn"))
    return out


def _hdc_block(hdc: Any) -> dict[str, Any] | None:
    if not isinstance(hdc, Mapping) or "rule_passes" not in hdc:
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
    d: Mapping[str, Any],
    *,
    title: str | None = None,
    description: str = "",
    figures: Sequence[FigureItem] = (),
    anchor: str | None = None,
) -> Section:
    """A section from a report's JSON dict (:meth:`atrous.Report.to_dict`)."""
    name = title or str(_get(d, "title", "target", "name") or "atrous report")
    rows = _get(d, "rows", "layers") or []
    columns, table = _table(rows) if rows else ([], [])
    diags = [_diagnostic_text(x) for x in d.get("diagnostics") or []]
    return Section(
        title=name, anchor=anchor or _slug(name, set()),
        status=str(d.get("status") or "complete"), description=description,
        verdicts=_verdicts(d), diagnostics=diags, figures=list(figures),
        notes=[str(n) for n in d.get("notes") or []],
        hdc=_hdc_block(d.get("hdc")), columns=columns, rows=table, data=dict(d),
    )


def _coverage_of(
    report: _ReportLike, d: Mapping[str, Any]
) -> Coverage | Mapping[str, Any] | None:
    cov = None if isinstance(report, Mapping) else report.coverage
    if cov is not None:
        return cov
    raw = d.get("coverage")
    if isinstance(raw, Mapping) and raw.get("counts") is not None:
        return raw
    return None


def section_from_report(
    report: _ReportLike,
    *,
    title: str | None = None,
    description: str = "",
    figures: bool = True,
    erf: ERFResult | Mapping[str, Any] | None = None,
    extra_figures: Sequence[FigureItem] = (),
    anchor: str | None = None,
) -> Section:
    """A section for one :class:`atrous.Report`, with its coverage/gridding figures.

    Args:
        report: the Report, or its ``to_dict()`` (a dict).
        title: heading (default: the report's target).
        description: a sentence under the heading.
        figures: draw the coverage map and the per-layer gridding strip.
        erf: an :func:`atrous.erf` result to draw too.
        extra_figures: more figures to append.
        anchor: HTML id of the section.
    """
    from .progress import track

    d = _report_dict(report)
    jobs: list[tuple[str, Any]] = []
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
    if not isinstance(report, Mapping):  # the Report's own findings in words
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


def _report_dict(report: _ReportLike) -> dict[str, Any]:
    """The report's JSON dict, without building nested lists of huge coverage maps."""
    if isinstance(report, Mapping):
        return dict(report)
    small = all(_cells(o.coverage) <= EMBED_MAX_CELLS for o in report.outputs)
    return report.to_dict(counts=small)


def _gridding_rows(
    report: _ReportLike, d: Mapping[str, Any]
) -> list[LayerGridding | Mapping[str, Any]]:
    if not isinstance(report, Mapping) and report.layer_gridding:
        return list(report.layer_gridding)
    raw = d.get("layer_gridding") or d.get("gridding")
    if isinstance(raw, Sequence) and raw and isinstance(raw[0], Mapping):
        return [r for r in raw if "fraction" in r]
    table = d.get("rows") or []
    if table and isinstance(table[0], Mapping) and "fraction" in table[0]:
        return [r for r in table if r.get("fraction") is not None]
    return []


# -- the embedded JSON ------------------------------------------------------------------------
def _count_cells(counts: Any) -> int:
    """Cells of a nested-list map (product of the nesting lengths)."""
    n = 1
    while isinstance(counts, list):
        n *= len(counts)
        counts = counts[0] if counts else None
    return n


def _trim_coverage(cov: Mapping[str, Any], notes: list[str], where: str,
                   duplicate: bool = False) -> dict[str, Any]:
    out = dict(cov)
    counts = out.get("counts")
    if duplicate:
        out.pop("counts", None)
        out["counts_omitted"] = "same map as coverage.counts"
        return out
    if counts is None:
        if _get(out, "cells") is not None and int(out["cells"]) > EMBED_MAX_CELLS:
            out["counts_omitted"] = f"{int(out['cells'])} cells > {EMBED_MAX_CELLS}"
            notes.append(f"{where}.counts: {int(out['cells'])} cells, not embedded")
        return out
    cells = int(out.get("cells") or _count_cells(counts))
    if cells > EMBED_MAX_CELLS:
        del out["counts"]
        out["counts_omitted"] = f"{cells} cells > {EMBED_MAX_CELLS}"
        notes.append(f"{where}.counts: {cells} cells, not embedded")
    return out


def _trim_lists(value: Any, notes: list[str], where: str) -> Any:
    """Cut long lists of scalars to :data:`EMBED_MAX_LIST` items, with ``<key>_total`` and
    ``<key>_truncated`` beside them."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
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
    if isinstance(value, list):
        return [_trim_lists(v, notes, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def embedded_data(d: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A report dict as the page embeds it: bounded in size, each map at most once.

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
    out = dict(d)
    top = out.get("coverage")
    if isinstance(top, Mapping):
        out["coverage"] = _trim_coverage(top, notes, "coverage")
    outputs = out.get("outputs")
    if isinstance(outputs, list):
        trimmed = []
        for i, o in enumerate(outputs):
            if isinstance(o, Mapping) and isinstance(o.get("coverage"), Mapping):
                o = dict(o)
                same = i == 0 and isinstance(top, Mapping) and top.get("node") == o[
                    "coverage"].get("node")
                o["coverage"] = _trim_coverage(o["coverage"], notes, f"outputs[{i}].coverage",
                                               duplicate=same)
            trimmed.append(o)
        out["outputs"] = trimmed
    out = _jsonable(_trim_lists(out, notes, ""))
    if notes:
        out["trimmed"] = {"notes": notes, "full_data": FULL_DATA_HINT}
    return out, notes


# -- pages ------------------------------------------------------------------------------------
def _resource(name: str) -> str:
    return resources.files("atrous.render").joinpath("templates").joinpath(name).read_text("utf-8")


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("atrous.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: str(o)))


def page_html(
    sections: Sequence[Section],
    *,
    title: str = "atrous report",
    subtitle: str = "",
    intro: Mapping[str, Any] | None = None,
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
    erf: ERFResult | Mapping[str, Any] | None = None,
    figures: bool = True,
    fragment: bool = False,
) -> str:
    """The HTML report of one :class:`atrous.Report` (``Report._repr_html_`` uses it).

    Args:
        report: the Report.
        title: page title (default: "atrous report: " and the report's target).
        erf: an optional :func:`atrous.erf` result, drawn with the theoretical RF box.
        figures: embed the coverage and per-layer gridding figures.
        fragment: only the body, for Jupyter.
    """
    s = section_from_report(report, figures=figures, erf=erf)
    return page_html([s], title=title or f"atrous report: {s.title}", fragment=fragment)


def write_html(path: str | os.PathLike[str], html: str) -> Path:
    """Write a page atomically (temp file + rename)."""
    from .figures import write_atomic

    return write_atomic(path, html.encode("utf-8"))
