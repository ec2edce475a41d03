"""The JSON records the renderers read, typed: what the core's ``to_dict()`` methods write.

The renderers take the core's result classes (a :class:`~atrous.Report`, a
:class:`~atrous.Coverage`, a :class:`~atrous.ReceptiveField`, ...). Where a renderer also takes
the result's JSON record (the HTML report of a saved ``atrous analyze --json``, a figure of a
``Coverage.to_dict()``), the record's shape is one of these TypedDicts: one key per field, the
names and types of the shipped JSON schemas (``atrous/schemas/analyze.schema.json``). Every key
is optional here (``total=False``): a renderer reads a record with ``.get`` and says what it
misses, so a hand-written record with only the fields a figure needs is drawn too.

At run time these are plain dicts; nothing here is imported by the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CoverageRecord",
    "ERFRecord",
    "FindingRecord",
    "GriddingRecord",
    "HDCRecord",
    "NestedCounts",
    "OutputRecord",
    "RFRecord",
    "ReportRecord",
    "RowRecord",
    "VerdictRecord",
]

NestedCounts = list[int] | list[list[int]] | list[list[list[int]]]
"""A 1-, 2- or 3-D count map as nested lists (``Coverage.to_dict()["counts"]``)."""

Frac = int | str
"""A fraction as JSON writes it: a whole number, or ``"p/q"`` (:func:`atrous.rf.frac_json`)."""


class RFRecord(TypedDict, total=False):
    """:meth:`atrous.ReceptiveField.to_dict` (the schema's ``rf``)."""

    node: str
    size: list[int]
    stride: list[Frac]
    start: list[Frac]
    is_global: bool
    global_axes: list[bool]
    partial: bool
    diagnostics: list[str]
    notes: list[str]
    axes: list[dict[str, object]]


class CoverageRecord(TypedDict, total=False):
    """:meth:`atrous.Coverage.to_dict` (the schema's ``coverage``; ``counts`` when asked for)."""

    node: str
    unit: list[int]
    input_size: list[int] | None
    offset: list[int]
    rf_size: list[int]
    cells: int
    covered: int
    holes: int
    gridded: bool
    fraction: float
    uniformity: float
    min_count: int
    max_count: int
    total_paths: int
    exact_dtype: str
    diagnostics: list[str]
    counts: NestedCounts


class GriddingRecord(TypedDict, total=False):
    """:meth:`atrous.LayerGridding.to_dict` (one row of the report's ``layer_gridding``)."""

    node: str
    op: str
    rf_size: list[int] | None
    holes: int | None
    gridded: bool | None
    fraction: float | None
    uniformity: float | None
    available: bool
    diagnostic: str


class RowRecord(TypedDict, total=False):
    """:meth:`atrous.report.LayerRow.to_dict` (one row of the report's layer table; the torch
    front end adds ``module``, ``target``, ``shape``, ``params``, ``macs``)."""

    name: str
    op: str
    geometry: str
    inputs: list[str]
    output_size: list[int] | None
    rf_size: list[int]
    rf_stride: list[Frac]
    rf_start: list[Frac]
    rf_global: bool
    holes: int | None
    gridded: bool | None
    fraction: float | None
    uniformity: float | None
    module: str
    target: str
    shape: list[int]
    params: int
    macs: int


class OutputRecord(TypedDict, total=False):
    """One graph output of a report (``outputs[i]``)."""

    name: str
    rf: RFRecord
    coverage: CoverageRecord | None
    coverage_error: str | None


class FindingRecord(TypedDict, total=False):
    """:meth:`atrous.findings.Finding.to_dict` (schema version 2)."""

    code: str
    severity: str
    node: str | None
    label: str
    message: str
    data: dict[str, object]


class VerdictRecord(TypedDict, total=False):
    """:meth:`atrous.report.Verdict.to_dict`: a verdict in words (schema version 1's
    ``verdicts``; ``atrous model --json``'s ``model.verdicts``)."""

    label: str
    value: str
    ok: bool | None


class HDCRecord(TypedDict, total=False):
    """:meth:`atrous.rules.HDCResult.to_dict`."""

    rates: list[int]
    kernel: int
    M: list[int]
    m2: int | None
    m2_le_k: bool
    first_rate_one: bool
    gcd: int
    no_common_factor: bool
    sawtooth: bool
    rule_passes: bool
    gridding_free: bool
    agrees: bool
    rf_size: int
    missing: list[float]
    explanations: list[str]


class ReportRecord(TypedDict, total=False):
    """:meth:`atrous.Report.to_dict` (``atrous analyze --json``; ``atrous model --json`` adds
    ``model``).

    ``findings`` is schema version 2's; a version-1 record has ``verdicts`` (the verdicts
    beyond the receptive field, coverage and HDC rule, which the HTML then derives from
    ``rf``, ``coverage`` and ``hdc``) instead.
    """

    schema_version: int
    target: str
    spec: str | None
    ndim: int
    input_size: list[int] | None
    status: str
    rf: RFRecord
    coverage: CoverageRecord | None
    outputs: list[OutputRecord]
    rows: list[RowRecord]
    layer_gridding: list[GriddingRecord]
    hdc: HDCRecord | None
    findings: list[FindingRecord]
    verdicts: list[VerdictRecord]
    diagnostics: list[str]
    notes: list[str]
    units: dict[str, object]
    model: dict[str, object]


class ERFRecord(TypedDict, total=False):
    """:meth:`atrous.ERFResult.to_dict`: ``map`` (nested lists or an array), ``rf``, the share
    ``fraction95``, the ``unit`` and its theoretical ``center``."""

    map: list[float] | list[list[float]] | np.ndarray
    rf: RFRecord
    fraction95: float
    unit: list[int]
    center: list[float]
    samples: int
    reinit: bool
    output: str | None
    variance: list[float | None]
