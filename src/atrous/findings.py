"""Findings as data: one typed record per verdict, note or diagnostic of an analysis.

:func:`atrous.analyze` returns its verdicts as :class:`Finding` records, in the order the text
report shows them; the terminal table, the JSON and the HTML only display them. Each finding has

- ``code``: a stable machine name (see :data:`CODES`); scripts test codes, never sentences;
- ``severity``: ``"ok"`` (a good verdict), ``"note"`` (a fact worth knowing), ``"warning"``
  (a defect of the network, or a part of the analysis that is partial) or ``"error"`` (the
  answer is degenerate, e.g. the unit reads no input pixel);
- ``node``: the graph node it is about, or None (a grouped finding lists its nodes in ``data``);
- ``data``: the numbers behind it (JSON-able);
- ``message``: the sentence shown to a reader; ``label``: its short heading in the verdict
  table ("" for a finding listed under the table).

    >>> f = Finding("gridding", "warning", "grids: 16 holes", data={"holes": 16},
    ...             label="Gridding")
    >>> f.ok, f.partial, f.to_dict()["code"]
    (False, False, 'gridding')
    >>> Finding.from_dict(f.to_dict()) == f
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, cast

from .errors import AtrousError

__all__ = ["CODES", "PARTIAL_CODES", "SEVERITIES", "Finding", "Severity", "group", "jsonable"]

Severity = Literal["ok", "note", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("ok", "note", "warning", "error")

CODES: dict[str, str] = {
    "receptive-field": "the receptive field of an output: size, effective stride, centre",
    "empty-rf": "the unit reads no input pixel (its receptive field is empty)",
    "gridding": "the exact coverage of an output unit's box: holes or none",
    "coverage-unavailable": "the coverage map could not be computed (the analysis is partial)",
    "hdc-rule": "the HDC rule as Wang et al. (WACV 2018) state it: passes or fails",
    "hdc-exact": "the exact gridding answer for a stack of stride-1 dilated convs",
    "hdc-vs-exact": "the stated HDC rule and the exact answer disagree, and why",
    "repair": "the nearest gridding-free schedule (atrous.repair's first answer)",
    "gridding-start": "the first node whose unit grids (the output grids too)",
    "intermediate-gridding": "intermediate nodes grid, the output does not",
    "misaligned-merge": "merges of paths whose centres differ (exact; grouped)",
    "merge-strides": "merges of paths with different strides (partial; grouped)",
    "global-op": "the node that made an output's receptive field global",
    "opaque-op": "an operation atrous cannot model (the analysis after it is partial)",
    "partial": "another part of the analysis that is partial or unavailable",
    "model-note": "an exact remark of the model front end (norm statistics, padding modes)",
    "analysis": "the status of the whole analysis: complete or partial",
    "size-dependent": "a tile plan's refusal: the layer's geometry depends on the input size",
    "map-statistics": "a tile plan's refusal: a norm whose statistics span the whole map",
    "training-mode": "a tile plan's refusal: batch statistics or dropout differ per tile",
    "multi-output": "a tile plan's refusal: the model has several outputs",
}
"""Every stable ``code`` and what it means."""

PARTIAL_CODES = frozenset({"coverage-unavailable", "merge-strides", "opaque-op", "partial"})
"""Codes whose findings make the analysis partial."""

_OK: dict[str, bool | None] = {"ok": True, "note": None, "warning": False, "error": False}


def jsonable(value: Any) -> Any:
    """``value`` with fractions as ``"p/q"`` strings (whole ones as ints), tuples as lists.

    >>> jsonable({"start": (Fraction(-1, 2), Fraction(3))})
    {'start': ['-1/2', 3]}
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class Finding:
    """One verdict, note or diagnostic of an analysis (see the module docstring)."""

    code: str
    severity: Severity
    message: str
    node: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)
    label: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise AtrousError(
                f"severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}"
            )
        if self.code not in CODES:
            raise AtrousError(f"unknown finding code {self.code!r} (see atrous.findings.CODES)")

    @property
    def ok(self) -> bool | None:
        """True for a good verdict, False for a warning or an error, None for a note."""
        return _OK[self.severity]

    @property
    def partial(self) -> bool:
        """True when this finding makes the analysis partial."""
        return self.code in PARTIAL_CODES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: ``code``, ``severity``, ``node``, ``label``, ``message``, ``data``."""
        return {
            "code": self.code,
            "severity": self.severity,
            "node": self.node,
            "label": self.label,
            "message": self.message,
            "data": jsonable(dict(self.data)),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Finding:
        """The finding of :meth:`to_dict`'s dict (``data`` as JSON gives it)."""
        return cls(
            code=str(d["code"]), severity=cast(Severity, d["severity"]),
            message=str(d["message"]), node=d.get("node"), data=dict(d.get("data") or {}),
            label=str(d.get("label") or ""),
        )

    def __str__(self) -> str:
        head = f"{self.label}: " if self.label else ""
        return f"[{self.severity}] {head}{self.message}"


def _names(nodes: Sequence[str], shown: int = 4) -> str:
    if len(nodes) <= shown:
        return ", ".join(nodes)
    return f"{', '.join(nodes[:shown])} and {len(nodes) - shown} more"


def group(
    code: str, severity: Severity, items: Sequence[tuple[str, Mapping[str, Any]]], what: str,
    tail: str, *, label: str = "",
) -> Finding | None:
    """One finding for repeated per-node facts: ``"<n> <what> (<nodes>)<tail>"``.

    ``items`` are ``(node, data)`` pairs in graph order; None when there are none. The nodes
    (all of them) and each node's data are in ``data``; the sentence names the first few.

    >>> f = group("misaligned-merge", "note", [("add0", {}), ("add1", {})],
    ...           "merge(s) of paths whose centres differ", "; the union is shown")
    >>> f.message, f.data["nodes"]
    ('2 merge(s) of paths whose centres differ (add0, add1); the union is shown', ['add0', 'add1'])
    """
    if not items:
        return None
    nodes = [n for n, _ in items]
    node = nodes[0] if len(nodes) == 1 else None
    return Finding(
        code, severity, f"{len(nodes)} {what} ({_names(nodes)}){tail}", node,
        {"nodes": nodes, "count": len(nodes), "items": {n: dict(d) for n, d in items}},
        label,
    )
