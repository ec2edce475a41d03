"""``atrous.analyze``: every analysis of one target, gathered in a JSON-serialisable Report.

    >>> rep = analyze("3x3 d2, 3x3 d2, 3x3 d2")
    >>> rep.status, rep.rf.size, rep.coverage.gridded, rep.hdc.rule_passes
    ('complete', (13, 13), True, False)
    >>> [row.name for row in rep.rows]
    ['conv0', 'conv1', 'conv2']
    >>> rep.to_dict()["schema_version"]
    2

A Report holds, for one target (a spec string, a Graph, layers, or an ``nn.Module``):

- ``rows``: one :class:`LayerRow` per node: name, op, geometry (in the spec language), output
  size when an input size is known, receptive field (size, stride, start) and the gridding of the
  node's unit so far (:func:`atrous._coverage.layer_gridding`), plus the torch front end's ``meta``
  (module path, op, output shape, params, MACs) when the graph came from a model;
- ``outputs``: one :class:`OutputResult` per graph output: its receptive field and exact
  coverage map (``rf`` and ``coverage`` are those of the first output);
- ``hdc``: the HDC rule of Wang et al. (WACV 2018) and the exact verdict
  (:func:`atrous.hdc_check`) when the graph is a stack of stride-1 convs with one square kernel
  size;
- ``findings``: every verdict as a :class:`~atrous.findings.Finding` (stable ``code``,
  ``severity``, ``node``, ``data``, ``message``), in the order the text report shows them: the
  labelled verdicts (receptive field, gridding or an empty field, the HDC rule, the exact answer,
  the repair, where gridding starts, grouped merges, the status), then the remarks about single
  nodes in graph order (what is partial, and the model front end's exact remarks);
- ``status`` (``"complete"`` or ``"partial"``), with ``diagnostics`` and ``notes`` the sentences
  of the partial findings and of the remarks.

JSON schema (``schema_version`` 2, shipped as ``atrous/schemas/analyze.schema.json``):
``to_dict()`` has the keys ``schema_version``, ``target``, ``spec``, ``ndim``, ``input_size``,
``status``, ``rf`` (the first output's :meth:`~atrous.rf.ReceptiveField.to_dict`), ``coverage``
(the first output's :meth:`~atrous._coverage.Coverage.to_dict`, or null), ``outputs`` (per
output: ``name``, ``rf``, ``coverage``, ``coverage_error``), ``rows`` (flat dicts, see
:meth:`LayerRow.to_dict`), ``layer_gridding``, ``hdc`` (or null), ``findings`` (each
:meth:`~atrous.findings.Finding.to_dict`), ``diagnostics`` and ``notes`` (strings). Version 2
replaced version 1's ``verdicts`` (only the extra verdicts) by ``findings`` (all of them).
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ._format import fmt_position, fmt_si, fmt_size
from ._types import Ints
from ._types import _describe as _shown
from .errors import AtrousError, printable
from .findings import Finding, group
from .graph import Graph, as_graph
from .layers import Conv, Input, Layer, Merge, Opaque, Pointwise
from .rf import (
    ReceptiveField,
    _analyse,
    frac_json,
    node_sizes,
    spatial_input_size,
)

if TYPE_CHECKING:  # type-only: importing the report does not import numpy
    from ._coverage import Coverage, LayerGridding, _Shared
    from .rules import HDCResult

__all__ = [
    "GRIDDING_AUTO_NODES", "SCHEMA_VERSION", "LayerRow", "OutputResult", "Report", "Verdict",
    "analyze",
]

SCHEMA_VERSION = 2
Status = Literal["complete", "partial"]

DEFER_CELLS = 1 << 16
"""An output that is global on every axis gets its (whole-input) coverage map built lazily
when the input has more pixels than this (256x256; a 224x224 input is still built at once), so
that :func:`analyze` costs the same at any larger size."""

GRIDDING_AUTO_NODES = 120
"""``gridding="auto"`` computes the per-layer gridding up to this many nodes (it costs a coverage
map per node: about 30 s on a 342-node ResNet-101 at 513x513)."""


@dataclass(frozen=True)
class Verdict:
    """A finding in words: ``label``, ``value`` and whether it is good (None: neutral)."""

    label: str
    value: str
    ok: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "value": self.value, "ok": self.ok}


@dataclass(frozen=True)
class LayerRow:
    """One node of the analysed graph.

    Attributes:
        name: node name; op: the layer kind (or the torch op from ``meta["target"]``);
        geometry: the layer in the spec language (``"3x3 d2"``); inputs: input node names;
        output_size: spatial output size (None without an input size); rf: the node's
        receptive field; gridding: the coverage of the node's unit so far (or None);
        meta: the torch front end's metadata (module, target, shape, params, macs).
    """

    name: str
    op: str
    geometry: str
    inputs: tuple[str, ...]
    output_size: Ints | None
    rf: ReceptiveField
    gridding: LayerGridding | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-able dict (the columns of the report's table)."""
        g = self.gridding if self.gridding is not None and self.gridding.available else None
        out: dict[str, Any] = {
            "name": self.name,
            "op": self.op,
            "geometry": self.geometry,
            "inputs": list(self.inputs),
            "output_size": None if self.output_size is None else list(self.output_size),
            "rf_size": list(self.rf.size),
            "rf_stride": [frac_json(s) for s in self.rf.stride],
            "rf_start": [frac_json(s) for s in self.rf.start],
            "rf_global": self.rf.is_global,
            "holes": None if g is None else g.holes,
            "gridded": None if g is None else g.gridded,
            "fraction": None if g is None else g.fraction,
            "uniformity": None if g is None else g.uniformity,
        }
        for key in ("module", "target", "shape", "params", "macs"):
            if key in self.meta:
                value = self.meta[key]
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


class OutputResult:
    """Receptive field and coverage of one graph output (``coverage_error`` when unavailable).

    The coverage map of an output that is global on every axis is the whole input; above
    :data:`DEFER_CELLS` input pixels it is not built by :func:`analyze` (whose cost then does
    not grow with the input size) but on first access of ``coverage``; ``local`` is then the
    coverage of the centre unit of the last local map (the input of the global op), which the
    gridding verdict reports.
    """

    def __init__(
        self, name: str, rf: ReceptiveField, coverage: Coverage | None = None,
        coverage_error: str | None = None, *, local: Coverage | None = None,
        load: Callable[[], Coverage] | None = None,
    ) -> None:
        self.name, self.rf, self.coverage_error, self.local = name, rf, coverage_error, local
        self._coverage, self._load = coverage, load

    @property
    def deferred(self) -> bool:
        """True while the (whole-input) coverage map has not been built."""
        return self._load is not None

    @property
    def judged(self) -> Coverage | None:
        """The map the gridding verdict judges, never building one: the whole map, or while it
        is deferred (a global output of a large input) the last local map's centre unit."""
        return self.local if self.deferred else self.coverage

    @property
    def coverage(self) -> Coverage | None:
        """The exact coverage map (:class:`atrous.Coverage`), built on first access if deferred;
        None when unavailable (``coverage_error`` says why)."""
        if self._load is not None:
            load, self._load = self._load, None
            try:
                self._coverage = load()
            except AtrousError as exc:
                self.coverage_error = str(exc)
        return self._coverage

    def to_dict(self, counts: bool = True) -> dict[str, Any]:
        """JSON-able dict; a deferred map stays unbuilt (null, ``coverage_error`` says why)."""
        cov = None if self.deferred else self.coverage
        error = self.coverage_error
        if self.deferred:
            error = ("not built: the output is global, its coverage map is the whole input "
                     f"(over {DEFER_CELLS} pixels); the gridding verdict is that of the last "
                     "local map's centre unit")
        return {
            "name": self.name,
            "rf": self.rf.to_dict(),
            "coverage": None if cov is None else cov.to_dict(counts=counts),
            "coverage_error": error,
        }

    def __repr__(self) -> str:
        return f"OutputResult(name={self.name!r}, rf={self.rf}, deferred={self.deferred})"


class _LazySpec:
    """The ``spec`` field of a :class:`Report`: a string, None, or a zero-argument callable
    that writes it (:func:`atrous.to_spec`), called on first read and its answer kept.

    A descriptor-typed dataclass field: the constructor takes it as before and ``rep.spec``
    reads the text, but :func:`analyze` does not pay for writing the spec (and parsing it back
    to check the header) of a large model graph nobody reads it from.
    """

    def __init__(self, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if callable(value):
            value = value()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: Any, value: str | Callable[[], str | None] | None) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class Report:
    """Everything atrous knows about one target; see the module docstring for the fields."""

    schema_version: ClassVar[int] = SCHEMA_VERSION

    target: str
    spec: str | None  # (a _LazySpec: written on first read)
    ndim: int
    input_size: Ints | None
    rows: list[LayerRow]
    outputs: list[OutputResult]
    layer_gridding: list[LayerGridding]
    hdc: HDCResult | None
    findings: list[Finding]
    graph: Graph = field(repr=False)

    @property
    def rf(self) -> ReceptiveField:
        """Receptive field of the first output."""
        return self.outputs[0].rf

    @property
    def coverage(self) -> Coverage | None:
        """Coverage map (:class:`atrous.Coverage`) of the first output, or None."""
        return self.outputs[0].coverage

    @property
    def status(self) -> Status:
        """``"partial"`` when any finding makes a part of the analysis partial."""
        return "partial" if any(f.partial for f in self.findings) else "complete"

    @property
    def partial(self) -> bool:
        return self.status == "partial"

    @property
    def diagnostics(self) -> list[str]:
        """The sentences of the findings that make the analysis partial (naming the nodes)."""
        return [f.message for f in self.findings if f.partial]

    @property
    def notes(self) -> list[str]:
        """The sentences of the exact remarks listed under the verdicts, in graph order."""
        return [f.message for f in self.findings if not f.label and not f.partial]

    def verdicts(self) -> list[Verdict]:
        """The findings of the verdict table as (label, value, ok), in order."""
        return [Verdict(f.label, f.message, f.ok) for f in self.findings if f.label]

    def to_dict(self, counts: bool = True) -> dict[str, Any]:
        """JSON-able dict (schema in the module docstring); ``counts=False`` drops the maps."""
        first = self.outputs[0].to_dict(counts=counts)
        return {
            "schema_version": self.schema_version,
            "target": self.target,
            "spec": self.spec,
            "ndim": self.ndim,
            "input_size": None if self.input_size is None else list(self.input_size),
            "status": self.status,
            "rf": first["rf"],
            "coverage": first["coverage"],
            "outputs": [first, *(o.to_dict(counts=counts) for o in self.outputs[1:])],
            "rows": [r.to_dict() for r in self.rows],
            "layer_gridding": [g.to_dict() for g in self.layer_gridding],
            "hdc": None if self.hdc is None else self.hdc.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "diagnostics": self.diagnostics,
            "notes": self.notes,
        }

    def to_json(self, indent: int | None = 2, counts: bool = True) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(counts=counts), indent=indent)

    def _repr_html_(self) -> str:
        from .render.html import report_html

        for output in self.outputs:  # a deferred (whole-input) map: built here, the page draws it
            output.coverage  # noqa: B018 - the renderer builds nothing
        return str(report_html(self, fragment=True))

    def __str__(self) -> str:
        lines = [f"atrous report: {printable(self.target)} ({self.status})"]
        for f in self.findings:
            mark = {"ok": "✓", "note": "·", "warning": "!", "error": "✗"}[f.severity]
            text = printable(f.message)  # names come out escaped, never as terminal controls
            label = f"{printable(f.label)}: " if f.label else ""
            lines.append(f"  {mark} {label}{text}")
        return "\n".join(lines)


setattr(Report, "spec", _LazySpec("spec"))  # noqa: B010 - installed after the dataclass


# -- building ---------------------------------------------------------------------------------
def _geometry(layer: Layer) -> str:
    from .spec import layer_spec

    if isinstance(layer, Merge):
        return layer.mode
    try:
        return layer_spec(layer)
    except AtrousError:
        return layer.kind


def _spec_of(graph: Graph) -> str | None:
    """The graph in the spec language (None when it cannot be written)."""
    from .spec import to_spec

    try:
        return to_spec(graph)
    except AtrousError:
        return None


def _describe(target: Any, graph: Graph) -> tuple[str, Callable[[], str | None] | str | None]:
    """The target's name and its spec text (a callable writing it when the name does not
    need it: the spec is then written on first read of ``Report.spec``)."""
    if isinstance(target, str):
        return target.strip(), partial(_spec_of, graph)
    if isinstance(target, (Graph, Layer, list, tuple)) and not graph.name:
        spec = _spec_of(graph)
        return spec or repr(graph), spec
    return graph.name or type(target).__name__, partial(_spec_of, graph)


def hdc_rates(graph: Graph) -> tuple[list[int], int] | None:
    """``(rates, kernel)`` when the graph is a chain of stride-1 convs with one square kernel
    size and equal dilation on every axis (pointwise ops in between are allowed), else None.

    >>> hdc_rates(as_graph("3x3 d1, relu, 3x3 d2, 3x3 d5"))
    ([1, 2, 5], 3)
    >>> hdc_rates(as_graph("3x3 s2, 3x3 d2")) is None
    True
    """
    if not graph.is_chain() or len(graph.outputs) != 1:
        return None
    rates: list[int] = []
    kernel: int | None = None
    for node in graph.layer_nodes():
        layer = node.layer
        if isinstance(layer, Pointwise):
            continue
        if not isinstance(layer, Conv) or any(s != 1 for s in layer.stride):
            return None
        if len(set(layer.kernel)) != 1 or len(set(layer.dilation)) != 1:
            return None
        if kernel is None:
            kernel = layer.kernel[0]
        elif layer.kernel[0] != kernel:
            return None
        rates.append(layer.dilation[0])
    if kernel is None or not rates:
        return None
    return rates, kernel


def analyze(
    target: Any,
    input_size: Sequence[int] | None = None,
    *,
    gridding: bool | Literal["auto"] = "auto",
    max_cells: int | None = None,
) -> Report:
    """Analyse a target: per-layer table, receptive fields, coverage, gridding and HDC verdicts.

    Args:
        target: a spec string (``"3x3 d1, 3x3 d2, 3x3 d5"``), a :class:`~atrous.Graph`,
            layers, or an ``nn.Module`` (traced by :mod:`atrous.fx`; then ``input_size`` is the
            full ``(N, C, *spatial)`` shape).
        input_size: the input size; enables output sizes, global fields and border effects.
        gridding: also compute the gridding of every intermediate node (per-row columns; a
            coverage map per node). ``"auto"`` (the default, as ``atrous model``): only for
            graphs of at most :data:`GRIDDING_AUTO_NODES` nodes.
        max_cells: largest coverage map to build (default: :mod:`atrous._coverage`'s).

    Returns:
        A :class:`Report`; its ``findings`` are every verdict in order, and ``status`` is
        ``"partial"`` with findings naming the nodes whenever a part could not be computed
        exactly.

    >>> rep = analyze("3x3 d1, 3x3 d2, 3x3 d5", input_size=(64, 64))
    >>> rep.rows[-1].output_size, rep.rf.size, rep.coverage.gridded, rep.hdc.gridding_free
    ((64, 64), (17, 17), False, True)
    >>> analyze("3x3, opaque:roll, 3x3").status
    'partial'
    >>> [f.code for f in analyze("3 d2, 3 d3").findings]  # doctest: +NORMALIZE_WHITESPACE
    ['receptive-field', 'gridding', 'hdc-rule', 'hdc-exact', 'hdc-vs-exact', 'repair',
     'gridding-start', 'analysis']
    """
    if not isinstance(gridding, bool) and not (isinstance(gridding, str) and gridding == "auto"):
        raise AtrousError(f"gridding must be True, False or 'auto', got {_shown(gridding)}")
    with _gc_paused():  # tracing and analysis make many short-lived objects
        return _analyze(target, input_size, gridding, max_cells)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (if enabled) for the block: the thousands of
    objects a trace and its analysis allocate otherwise set off several collections of
    everything the process holds. Cycles made meanwhile are collected after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _analyze(target: Any, input_size: Sequence[int] | None, gridding: bool | str,
             max_cells: int | None) -> Report:
    """:func:`analyze` after its argument check."""
    graph = as_graph(target, input_size)
    spatial = spatial_input_size(graph, input_size)
    limit = {} if max_cells is None else {"max_cells": max_cells}
    if spatial is not None and not any(isinstance(n.layer, Opaque) for n in graph.layer_nodes()):
        # refuse sizes the network cannot take (e.g. a merge of 4x4 and 8x8)
        strict: dict[str, Ints] | None = graph.shapes(spatial)
    else:
        strict = None
    # every size known strictly: the same as the lenient pass (which falls back to a node's
    # meta shape only where the layer gives none)
    sizes: dict[str, Ints | None] = (
        dict(strict) if strict is not None and all(v is not None for v in strict.values())
        else node_sizes(graph, spatial))
    rfs = _analyse(graph, spatial, sizes=sizes)  # receptive_fields(graph, spatial), sized
    if gridding == "auto":
        gridding = len(graph) <= GRIDDING_AUTO_NODES
    # done: the per-node maps, which the output's coverage may reuse
    grid_rows, grid_error, done = (_node_gridding(graph, spatial, rfs, limit) if gridding
                                   else ([], None, None))
    by_node = {g.node: g for g in grid_rows}
    rows = []
    written: dict[Layer, str] = {}  # equal layers (every ReLU, ...) are written once
    for node in graph.topological():
        if isinstance(node.layer, Input):
            continue
        meta = dict(node.meta) if node.meta else {}
        try:
            geometry = written.get(node.layer)
            if geometry is None:
                geometry = written[node.layer] = _geometry(node.layer)
        except TypeError:  # an unhashable layer
            geometry = _geometry(node.layer)
        rows.append(LayerRow(
            name=node.name, op=str(meta.get("target") or node.layer.kind),
            geometry=geometry, inputs=node.inputs, output_size=sizes.get(node.name),
            rf=rfs[node.name], gridding=by_node.get(node.name), meta=meta,
        ))
    outputs = [_output(graph, name, rfs[name], spatial, limit, rfs, done, strict)
               for name in graph.outputs]
    found = hdc_rates(graph)
    hdc = None if found is None else _hdc_check(found[0], found[1])
    findings = _findings(graph, rfs, rows, outputs, hdc, grid_rows, grid_error)
    target_name, spec = _describe(target, graph)
    return Report(
        target=target_name, spec=spec, ndim=graph.ndim, input_size=spatial, rows=rows,  # type: ignore[arg-type]
        outputs=outputs, layer_gridding=grid_rows, hdc=hdc, findings=findings, graph=graph,
    )


def _node_gridding(
    graph: Graph, spatial: Ints | None, rfs: dict[str, ReceptiveField], limit: dict[str, int]
) -> tuple[list[LayerGridding], str | None, _Shared | None]:
    """:func:`analyze`'s per-layer gridding: ``(rows, error, the per-node maps kept)``; a
    refusal gives no rows and the error's words."""
    from ._coverage import (
        DEFAULT_MAX_BYTES,
        DEFAULT_MAX_CELLS,
        _budget,
        _layer_gridding,
        _Shared,
        _spatial_or_same,
    )

    try:
        # the graph and its sizes as layer_gridding(graph, input_size=spatial) takes
        # them, sharing the receptive fields computed above
        budget = _budget(limit.get("max_cells", DEFAULT_MAX_CELLS), DEFAULT_MAX_BYTES)
        done = _Shared(graph)
        grid_rows = _layer_gridding(graph, _spatial_or_same(graph, spatial), budget,
                                    None if spatial is None else (spatial, rfs), done)
    except AtrousError as exc:
        return [], f"per-layer gridding unavailable: {exc}", None
    return grid_rows, None, done


def _hdc_check(rates: list[int], kernel: int) -> HDCResult:
    from .rules import hdc_check

    return hdc_check(rates, kernel)


def _output(
    graph: Graph, name: str, rf: ReceptiveField, spatial: Ints | None, limit: dict[str, int],
    rfs: dict[str, ReceptiveField], done: _Shared | None = None,
    strict: dict[str, Ints] | None = None,
) -> OutputResult:
    """One output's receptive field and coverage map (the error when it has none); a global
    output of a large input gets its map deferred and the last local map's centre unit now."""
    from ._coverage import DEFAULT_MAX_CELLS, _coverage_with
    from ._coverage import coverage as coverage_map
    from ._limb_maps import output_coverage

    def build(node: str) -> Coverage:
        if spatial is None:
            return coverage_map(graph, input_size=spatial, node=node, **limit)
        # coverage(graph, input_size=spatial, node=node), sharing the receptive fields (and
        # the per-layer gridding's map of the node when it made one); otherwise the map of a
        # DAG is stepped in int64 limbs and its Python-int counts built on first read
        max_cells = limit.get("max_cells", DEFAULT_MAX_CELLS)
        if done is not None and node in done.plain:
            return _coverage_with(graph, spatial, node, max_cells, rfs, done)
        return output_coverage(graph, spatial, node, max_cells, rfs, strict)

    if (spatial is not None and rf.is_global and all(rf.global_axes)
            and math.prod(spatial) > DEFER_CELLS):
        maker = _made_global_by(graph, rfs, name)
        feed = graph[maker].inputs[0] if maker is not None and graph[maker].inputs else None
        if feed is not None and not rfs[feed].is_global:
            try:
                local = build(feed)
            except AtrousError:
                local = None
            if local is not None:
                return OutputResult(name, rf, local=local, load=lambda: build(name))
    try:
        cov = build(name)
    except AtrousError as exc:
        return OutputResult(name, rf, None, str(exc))
    return OutputResult(name, rf, cov, None)


# -- findings ---------------------------------------------------------------------------------
def _findings(
    graph: Graph, rfs: dict[str, ReceptiveField], rows: list[LayerRow],
    outputs: list[OutputResult], hdc: HDCResult | None, grid_rows: list[LayerGridding],
    grid_error: str | None,
) -> list[Finding]:
    """Every finding, in the order the text report shows them (verdicts, then node remarks)."""
    out: list[Finding] = []
    for res in outputs:
        out.extend(_output_findings(graph, rfs, res, len(outputs) > 1))
    if hdc is not None:
        out.extend(_hdc_findings(hdc))
    out.extend(_gridding_start(rows, outputs, grid_rows))
    out.extend(_merge_findings(graph, rfs))
    remarks = _node_remarks(graph, rfs, outputs, grid_error)
    partial = any(f.partial for f in out + remarks)
    status = "partial" if partial else "complete"
    out.append(Finding("analysis", "warning" if partial else "ok", status,
                       data={"status": status}, label="Analysis"))
    return out + remarks


def _is_empty(res: OutputResult) -> bool:
    cov = res.judged
    if cov is not None:
        return cov.cells == 0
    return not res.rf.is_global and 0 in res.rf.size


def _output_findings(
    graph: Graph, rfs: dict[str, ReceptiveField], res: OutputResult, several: bool
) -> list[Finding]:
    """The receptive field, gridding (or empty field) and global op of one output."""

    of = f" of {res.name}" if several else ""
    rf = res.rf
    cov = res.judged
    data: dict[str, Any] = {"output": res.name, **{k: v for k, v in rf.to_dict().items()
                                                   if k in ("size", "stride", "start",
                                                            "is_global", "global_axes")}}
    if _is_empty(res):
        unit = "" if cov is None else f" {fmt_position(cov.unit)}"
        return [Finding(
            "empty-rf", "error",
            f"empty: unit{unit} reads no input pixel (no path from the input reaches it), "
            "so the output does not depend on the input", res.name, data,
            f"Receptive field{of}",
        )]
    found: list[Finding] = []
    if rf.is_global and all(rf.global_axes):
        text = "global (sees the whole input)"
    else:
        periodic = any(a.period > 1 and not a.is_global for a in rf.axes)
        centre = "the units' mean centre" if periodic else "the first unit centred"
        text = (f"{fmt_size(rf.size)}, effective stride {fmt_size(rf.stride)}, {centre} on "
                f"input pixel {fmt_position(rf.start)}")
        if periodic:
            sizes = [sorted({b[1] - b[0] + 1 for b in a.boxes if b is not None})
                     for a in rf.axes]
            text += ("; the box varies with the unit's phase (period "
                     f"{fmt_size([a.period for a in rf.axes])}; sizes "
                     f"{' x '.join('/'.join(map(str, s)) for s in sizes)}), the largest is shown")
        text += " (partial)" if rf.partial else ""
    found.append(Finding("receptive-field", "note", text, res.name, data, f"Receptive field{of}"))
    if cov is not None:
        found.append(_gridding_finding(res, cov, of))
    elif res.coverage_error:
        found.append(Finding("coverage-unavailable", "warning",
                             f"unavailable: {res.coverage_error}", res.name,
                             {"output": res.name, "reason": res.coverage_error},
                             f"Coverage{of}"))
    if rf.is_global:
        maker = _made_global_by(graph, rfs, res.name)
        if maker is not None:
            op = graph[maker].layer.kind
            found.append(Finding(
                "global-op", "note", f"{maker} ({_geometry(graph[maker].layer)}) makes the "
                "receptive field global: every output unit reads the whole input", maker,
                {"output": res.name, "node": maker, "op": op}, f"Global{of}",
            ))
    return found


def _gridding_finding(res: OutputResult, cov: Coverage, of: str) -> Finding:

    box = f"{fmt_size(cov.rf_size)} box of unit {fmt_position(cov.unit)}"
    if res.deferred:  # the output reads the whole input: judge the last local map
        box += (f" of {cov.node} (the last local map before the global op; the output's own "
                "map, the whole input, is built on demand)")
    data = {"output": res.name, "node": cov.node, "unit": list(cov.unit),
            "rf_size": list(cov.rf_size),
            "cells": cov.cells, "holes": cov.holes, "fraction": cov.fraction,
            "min_count": cov.min_count, "max_count": cov.max_count}
    if cov.gridded:
        return Finding(
            "gridding", "warning",
            f"grids: {cov.holes} of the {cov.cells} pixels in the {box} are never read "
            f"({cov.fraction:.0%} covered)", res.name, data, f"Gridding{of}",
        )
    lo, hi = fmt_si(cov.min_count), fmt_si(cov.max_count)
    paths = f"{lo} path{'s' if lo != '1' else ''}" if lo == hi else f"{lo} to {hi} paths"
    return Finding(
        "gridding", "ok",
        f"gridding-free: every pixel of the {box} is read ({paths} per pixel)", res.name,
        data, f"Gridding{of}",
    )


def _made_global_by(graph: Graph, rfs: dict[str, ReceptiveField], output: str) -> str | None:
    """The first node (graph order) whose field is global while none of its inputs' is."""
    around = graph.ancestors(output) | {output}
    for node in graph.layer_nodes():
        if node.name in around and rfs[node.name].is_global and not any(
                rfs[i].is_global for i in node.inputs):
            return node.name
    return None


def _hdc_findings(h: HDCResult) -> list[Finding]:
    full = h.to_dict()
    keys = ("rates", "kernel", "M", "m2_le_k", "first_rate_one", "gcd", "sawtooth",
            "rule_passes")
    data: dict[str, Any] = {k: full[k] for k in keys if k in full}
    m2 = (f"M_2 = {h.M[1]} {'<=' if h.m2_le_k else '>'} K = {h.kernel}" if len(h.M) > 1
          else "one layer: no M_2")
    out = [
        Finding("hdc-rule", "ok" if h.rule_passes else "warning",
                f"{'passes' if h.rule_passes else 'fails'} (M = {list(h.M)}; {m2}; "
                f"gcd of the rates {h.gcd}; "
                f"{'a' if h.sawtooth else 'not a'} sawtooth)", None, data,
                "HDC rule as stated"),
        Finding("hdc-exact", "ok" if h.gridding_free else "warning",
                "gridding-free" if h.gridding_free else "grids", None,
                {"gridding_free": h.gridding_free}, "Exact answer"),
    ]
    if not h.agrees:
        out.append(Finding("hdc-vs-exact", "warning", "disagree: " + " ".join(h.explanations),
                           None, {"explanations": list(h.explanations)}, "Rule vs exact"))
    if not h.gridding_free:
        out.extend(_repair_finding(list(h.rates), h.kernel))
    return out


def _repair_finding(rates: list[int], kernel: int) -> list[Finding]:
    """The nearest gridding-free schedule (:func:`atrous.repair`'s first answer), if any."""
    from ._design import repair

    try:
        fix = repair(rates, kernel, top=1)[0]
    except AtrousError:
        return []
    rates_text = ",".join(map(str, rates))
    changes = "; ".join(
        f"layer {c.index + 1}: {'added' if c.old is None else c.old} -> {c.new}"
        for c in fix.changes)
    return [Finding(
        "repair", "note",
        f"rates {list(fix.rates)} are gridding-free (RF {fix.rf_before} -> {fix.rf}; {changes}); "
        f"more: atrous design --repair {rates_text} --kernel {kernel}", None, fix.to_dict(),
        "Repair",
    )]


def _gridding_start(
    rows: list[LayerRow], outputs: list[OutputResult], grid_rows: list[LayerGridding]
) -> list[Finding]:

    gridded_rows = [g for g in grid_rows if g.gridded]
    if not gridded_rows:
        return []
    first = gridded_rows[0]
    index = [r.name for r in rows].index(first.node) + 1
    where = (f"{first.node} (layer {index} of {len(rows)}, {first.holes} holes in its "
             f"{fmt_size(first.rf_size or ())} box)")
    data = {"node": first.node, "index": index, "layers": len(rows), "holes": first.holes,
            "gridded_nodes": [g.node for g in gridded_rows]}
    def grids(o: OutputResult) -> bool:
        cov = o.judged
        return cov is not None and bool(cov.gridded)

    if any(grids(o) for o in outputs):
        return [Finding("gridding-start", "warning", where, first.node, data,
                        "Gridding starts at")]
    text = (f"{len(gridded_rows)} intermediate node(s) grid, first {where}; the output does not"
            if all(o.deferred or o.coverage is not None for o in outputs) else
            f"{len(gridded_rows)} node(s) grid, first {where}")
    return [Finding("intermediate-gridding", "note", text, first.node, data,
                    "Intermediate gridding")]


def _merge_findings(graph: Graph, rfs: dict[str, ReceptiveField]) -> list[Finding]:
    """Merges whose paths' centres differ (exact) or whose strides differ (partial), grouped.

    Read from the inputs' receptive fields, axis by axis (a global axis has no centre).
    """
    used: set[str] = set()
    for name in graph.outputs:
        used |= graph.ancestors(name) | {name}
    misaligned: list[tuple[str, dict[str, Any]]] = []
    strided: list[tuple[str, dict[str, Any]]] = []
    for node in graph.topological():
        if not isinstance(node.layer, Merge) or node.name not in used:
            continue
        ins = [rfs[i] for i in node.inputs]
        centres: dict[int, list[Any]] = {}
        strides: dict[int, list[Any]] = {}
        for ax in range(graph.ndim):
            axes = [r.axes[ax] for r in ins]
            if any(a.is_global for a in axes):
                continue
            if len({a.stride for a in axes}) > 1:
                strides[ax] = sorted({a.stride for a in axes})
            elif len({a.start for a in axes}) > 1:
                centres[ax] = sorted({a.start for a in axes})
        if strides:
            strided.append((node.name, {"axes": list(strides), "strides": list(strides.values())}))
        elif centres:
            misaligned.append((node.name, {"axes": list(centres),
                                           "centres": list(centres.values())}))
    found = [
        group("misaligned-merge", "note", misaligned, "merge(s) of paths whose centres differ",
              "; exact: the union of their boxes is shown (a causal net has them by design)",
              label="Alignment"),
        group("merge-strides", "warning", strided, "merge(s) of paths with different strides",
              "; the receptive field differs from unit to unit, the path with the largest box "
              "is shown (partial)", label="Alignment"),
    ]
    return [f for f in found if f is not None]


def _node_of(text: str, names: Sequence[str]) -> str | None:
    """The node a front end's or the rf's sentence is about (it starts with the node's name)."""
    hits = [n for n in names if text.startswith((f"{n}:", f"{n} ("))]
    return max(hits, key=len) if hits else None


def _node_remarks(
    graph: Graph, rfs: dict[str, ReceptiveField], outputs: list[OutputResult],
    grid_error: str | None,
) -> list[Finding]:
    """Findings listed under the verdicts, in graph order: what is partial, and the front
    end's exact remarks. Each sentence's code follows from the kind of node it names."""
    order = {node.name: i for i, node in enumerate(graph.topological())}
    names = list(order)
    seen: set[str] = set()
    found: list[Finding] = []

    def add(text: str, exact: bool) -> None:
        if text in seen:
            return
        seen.add(text)
        node = _node_of(text, names)
        layer = None if node is None else graph[node].layer
        if isinstance(layer, Merge):
            return  # a merge's strides are the grouped "merge-strides" finding
        if exact:
            code, severity = "model-note", "note"
        else:
            code = "opaque-op" if isinstance(layer, Opaque) else "partial"
            severity = "warning"
        data = {"op": layer.op} if isinstance(layer, Opaque) else {}
        found.append(Finding(code, severity, text, node, data))  # type: ignore[arg-type]

    graph_diags = list(graph.diagnostics)
    for text in graph_diags:
        add(text, exact=False)
    if graph.incomplete and not graph_diags:
        add("the model graph is partial (see the torch front end)", exact=False)
    for res in outputs:
        for text in res.rf.diagnostics:
            add(text, exact=False)
    for text in graph.notes:
        add(text, exact=True)
    if grid_error is not None:
        add(grid_error, exact=False)
    found.sort(key=lambda f: order.get(f.node or "", len(order)))
    return found
