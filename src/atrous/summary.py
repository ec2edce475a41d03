"""``atrous.summarize``: a model's per-layer summary, the record behind ``atrous model``.

A :class:`ModelSummary` holds :func:`atrous.analyze`'s :class:`~atrous.report.Report` of a
model's graph and what only a model has: its input shapes, how it was traced, totals, each
output's label and the op that made a global receptive field global, the parameter and memory
estimate by torchinfo's definitions (:class:`MemoryEstimate`) and, on request, the effective
receptive field. :meth:`ModelSummary.table` gives the rows of the torchinfo-style table (flat,
or grouped by module path with ``depth``) as typed :class:`TableRow` records, the row record of
both per-layer tables (``atrous analyze``'s too, :meth:`TableRow.of`), and
:meth:`ModelSummary.to_dict` the ``atrous model --json`` record (``schema_version`` 2,
``atrous/schemas/model.schema.json``). :func:`atrous.render.text.render_model` only draws it.

    >>> from atrous import stack
    >>> s = summarize(stack([1, 2, 5], ndim=1), [(1, 1, 64)])
    >>> s.params, s.method, [o.made_global_by for o in s.outputs]
    (0, 'graph', [None])
    >>> [(r.module, r.op, r.geometry, r.rf.size) for r in s.table()][:2]
    [('conv0', 'conv', '3', (3,)), ('conv1', 'conv', '3 d2', (7,))]
    >>> sorted(s.to_dict()["model"])  # doctest: +NORMALIZE_WHITESPACE
    ['gridding', 'input', 'macs', 'method', 'name', 'outputs', 'params', 'partial',
     'verdicts']
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ._types import _is_sequence, as_int, as_size
from .errors import AtrousError
from .graph import Graph
from .report import GRIDDING_AUTO_NODES, LayerRow, Report, Verdict, analyze
from .rf import ReceptiveField

if TYPE_CHECKING:  # type-only: importing this module imports no torch
    from torch import nn

    from ._coverage import LayerGridding
    from ._erf import ERFResult

__all__ = ["MemoryEstimate", "ModelOutput", "ModelSummary", "TableRow", "summarize"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class MemoryEstimate:
    """Parameter counts and memory in bytes, by torchinfo's definitions.

    Attributes:
        params, trainable, frozen: distinct parameters (shared ones once), split by
            ``requires_grad``.
        param_bytes: their ``numel * element_size`` (torchinfo's "Params size").
        buffer_bytes: the buffers (batch-norm statistics), which torchinfo leaves out.
        input_bytes: the input tensors at the model's floating dtype (torchinfo's "Input size").
        forward_backward_bytes: twice the output of every layer that has parameters (an
            activation and its gradient), torchinfo's "Forward/backward pass size".
    """

    params: int
    trainable: int
    frozen: int
    param_bytes: int
    buffer_bytes: int
    input_bytes: int
    forward_backward_bytes: int

    @property
    def total_bytes(self) -> int:
        """input + forward/backward + parameters, torchinfo's "Estimated Total Size"."""
        return self.input_bytes + self.forward_backward_bytes + self.param_bytes

    @classmethod
    def of(cls, model: nn.Module, rows: Sequence[LayerRow],
           inputs: Sequence[Shape]) -> MemoryEstimate:
        """The estimate for an ``nn.Module`` whose graph has ``rows``, fed ``inputs``."""
        params = list(model.parameters())  # distinct tensors: a shared parameter counts once
        trainable = sum(int(p.numel()) for p in params if p.requires_grad)
        total = sum(int(p.numel()) for p in params)
        floats = [p for p in params if p.is_floating_point()]
        itemsize = int(floats[0].element_size()) if floats else 4
        act = sum(math.prod(int(v) for v in r.meta["shape"]) * itemsize
                  for r in rows if r.meta.get("params") and r.meta.get("shape"))
        return cls(
            params=total, trainable=trainable, frozen=total - trainable,
            param_bytes=sum(int(p.numel() * p.element_size()) for p in params),
            buffer_bytes=sum(int(b.numel() * b.element_size()) for b in model.buffers()),
            input_bytes=sum(math.prod(s) for s in inputs) * itemsize,
            forward_backward_bytes=2 * act,
        )

    def to_dict(self) -> dict[str, int]:
        return {"params": self.params, "trainable": self.trainable, "frozen": self.frozen,
                "param_bytes": self.param_bytes, "buffer_bytes": self.buffer_bytes,
                "input_bytes": self.input_bytes,
                "forward_backward_bytes": self.forward_backward_bytes,
                "total_bytes": self.total_bytes}


@dataclass(frozen=True)
class ModelOutput:
    """One output of the model: its node, its label (dict key or tuple index, or None) and
    the layer that made its receptive field global (``"module (op)"``, or None)."""

    name: str
    label: str | None
    made_global_by: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "label": self.label, "made_global_by": self.made_global_by}


@dataclass(frozen=True)
class TableRow:
    """One row of a per-layer table (``atrous analyze``'s and ``atrous model``'s): a layer, a
    group of consecutive layers under one module path (``layers`` > 1), or the header of an
    enclosing module (``header``).

    Attributes:
        module: the node's module path (its name when it has none; the group's path when
            grouped).
        level: nesting depth (0 at the top; only grouped tables nest).
        op: the torch op, else the layer kind (``"3 layers"`` for a group, ``""`` for a header).
        geometry: the layer in the spec language (``""`` for a group or a header).
        shape: the full output tensor shape a front end observed (``()`` when it observed
            none; None without a front end's shape and for a header).
        size: the spatial output size (None without an input size and for a header); a
            group's shapes and sizes are its last layer's.
        rf: the receptive field (the last layer's for a group; None for a header).
        gridding: the gridding of the node's unit so far (None when not computed or not
            available).
        params, macs: counts (summed over a group or a header's module; 0 when unknown).
        kernel: the module's weight shape (``()`` when it has none or is not known).
        trainable: its parameters with ``requires_grad`` (None without the ``nn.Module``).
    """

    module: str
    level: int
    op: str
    geometry: str
    shape: Shape | None
    size: Shape | None
    rf: ReceptiveField | None
    gridding: LayerGridding | None
    params: int
    macs: int
    kernel: Shape = ()
    trainable: int | None = None
    header: bool = False
    layers: int = 1

    @property
    def holes(self) -> int | None:
        """Holes in the node's unit's coverage so far (None when not computed)."""
        return None if self.gridding is None else self.gridding.holes

    @classmethod
    def of(cls, row: LayerRow) -> TableRow:
        """The table row of one node of a :class:`~atrous.report.Report`."""
        meta = row.meta
        shape, size = meta.get("shape"), row.output_size
        g = row.gridding
        return cls(
            module=str(meta.get("module") or row.name), level=0,
            op=str(meta["target"]) if "target" in meta else row.op, geometry=row.geometry,
            shape=None if shape is None else tuple(int(v) for v in shape),
            size=None if size is None else tuple(size), rf=row.rf,
            gridding=g if g is not None and g.available else None,
            params=_int(meta.get("params")), macs=_int(meta.get("macs")),
        )


def _path(row: LayerRow) -> str:
    return str(row.meta.get("module") or row.name)


def _int(value: Any) -> int:
    return int(value or 0)


def _group_rows(rows: Sequence[LayerRow], depth: int) -> list[TableRow]:
    """Rows grouped by the first ``depth`` parts of their module path, with a header row for
    each enclosing module (torchinfo's nested view). A group shows its last row's output and
    receptive field and the sum of its parameters and MACs."""
    paths = [tuple(_path(r).split(".")) for r in rows]

    def totals(prefix: tuple[str, ...]) -> tuple[int, int]:
        inside = [r for r, parts in zip(rows, paths) if parts[:len(prefix)] == prefix]
        return (sum(_int(r.meta.get("params")) for r in inside),
                sum(_int(r.meta.get("macs")) for r in inside))

    out: list[TableRow] = []
    seen: set[tuple[str, ...]] = set()
    last: tuple[str, ...] | None = None
    for row, parts in zip(rows, paths):
        key = parts[:depth]
        for k in range(1, len(key)):
            head = key[:k]
            if head not in seen:
                seen.add(head)
                p, m = totals(head)
                out.append(TableRow(".".join(head), k - 1, "", "", None, None, None, None, p,
                                    m, header=True))
        new = replace(TableRow.of(row), module=".".join(key), level=len(key) - 1)
        if key == last:  # one more layer of the group above: sum, keep the last's geometry
            g = out[-1]
            out[-1] = replace(new, op=f"{g.layers + 1} layers", geometry="",
                              params=g.params + new.params, macs=g.macs + new.macs,
                              layers=g.layers + 1)
            continue
        seen.add(key)
        out.append(new)
        last = key
    return out


def _kernel(model: nn.Module, path: str) -> Shape:
    try:
        weight = model.get_submodule(path).weight
    except (AttributeError, ValueError):
        return ()
    return tuple(int(v) for v in getattr(weight, "shape", ()))


def _trainable(model: nn.Module, path: str) -> int:
    try:
        mod = model.get_submodule(path)
    except (AttributeError, ValueError):
        return 0
    return sum(int(p.numel()) for p in mod.parameters() if p.requires_grad)


@dataclass
class ModelSummary:
    """Everything ``atrous model`` shows, computed once (see the module docstring).

    Attributes:
        report: :func:`atrous.analyze`'s report of the model's graph.
        name: the graph's (model's) name.
        inputs: the full input shapes (one per input tensor).
        method: how the graph was made (``"fx"``, ``"hooks"``, ``"onnx"``, ...).
        partial: the graph's :attr:`~atrous.graph.Graph.partial`.
        gridding: whether the per-layer gridding was computed.
        outputs: one :class:`ModelOutput` per graph output.
        memory: the torchinfo-style estimate (None without the ``nn.Module``).
        erf: the effective receptive field when measured (:func:`atrous.erf`).
        model: the ``nn.Module`` (for the kernel and trainable columns), or None.
        units: the physical lengths (:func:`atrous.units.units_dict`) when asked for, the
            ``units`` member of the JSON record.
    """

    report: Report
    name: str
    inputs: list[Shape]
    method: str
    partial: bool
    gridding: bool
    outputs: list[ModelOutput]
    memory: MemoryEstimate | None = None
    erf: ERFResult | None = None
    model: nn.Module | None = field(default=None, repr=False)
    units: dict[str, Any] | None = None

    @property
    def params(self) -> int:
        """Parameters summed over the layers (each layer's own, as the front end counted)."""
        return sum(_int(r.meta.get("params")) for r in self.report.rows)

    @property
    def macs(self) -> int:
        return sum(_int(r.meta.get("macs")) for r in self.report.rows)

    def verdicts(self) -> list[Verdict]:
        """The labelled findings as (label, value, ok), in order."""
        return self.report.verdicts()

    def table(self, depth: int | None = None) -> list[TableRow]:
        """The rows of the model table: every layer (``depth`` None), or grouped by the first
        ``depth`` parts of the module path with a header row per enclosing module. With the
        ``nn.Module``, single layers carry their weight shape and every row its trainable
        parameters (a header none)."""
        if depth is not None:
            depth = as_int(depth, "depth", 1)
        rows = ([TableRow.of(r) for r in self.report.rows] if depth is None
                else _group_rows(self.report.rows, depth))
        if self.model is None:
            return rows
        return [r if r.header else replace(
            r, kernel=_kernel(self.model, r.module) if r.layers == 1 else (),
            trainable=_trainable(self.model, r.module)) for r in rows]

    def to_dict(self) -> dict[str, Any]:
        """The ``atrous model --json`` record: the report's :meth:`~atrous.Report.to_dict`
        (``counts=False``) plus a ``"model"`` section."""
        data = self.report.to_dict(counts=False)
        model: dict[str, Any] = {
            "name": self.name, "input": list(self.inputs[0]) if self.inputs else [],
            "method": self.method, "partial": self.partial, "params": self.params,
            "macs": self.macs, "gridding": self.gridding,
            "outputs": [o.to_dict() for o in self.outputs],
            "verdicts": [v.to_dict() for v in self.verdicts()],
        }
        if len(self.inputs) > 1:
            model["inputs"] = [list(s) for s in self.inputs]
        if self.memory is not None:
            model["memory"] = self.memory.to_dict()
        if self.erf is not None:
            model["erf"] = {k: v for k, v in self.erf.to_dict().items()
                            if k not in ("map", "rf")}
        data["model"] = model
        if self.units is not None:
            data["units"] = self.units
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)


def _made_global_by(report: Report, output: str) -> str | None:
    """``"module (op)"`` of the first layer (graph order) around ``output`` whose field is
    global while none of its inputs' is."""
    graph = report.graph
    rows = {r.name: r for r in report.rows}
    around = graph.ancestors(output) | {output}
    for node in graph.layer_nodes():
        row = rows[node.name]
        if node.name in around and row.rf.is_global and not any(
                rows[i].rf.is_global for i in node.inputs if i in rows):
            op = str(row.meta["target"]) if "target" in row.meta else row.op
            return f"{_path(row)} ({op})"
    return None


def _shapes(inputs: Any) -> list[Shape]:
    """The full input shapes, one per tensor: sequences of ints (a float or text refused)."""
    if not _is_sequence(inputs):
        raise AtrousError(f"inputs must be a list of input shapes, got {inputs!r}")
    if any(not _is_sequence(s) for s in inputs):
        raise AtrousError(f"inputs must be a list of input shapes, one per input tensor, got "
                          f"{tuple(inputs)!r} (one tensor: [{tuple(inputs)!r}])")
    return [as_size(s, f"input #{i} shape", 0) for i, s in enumerate(inputs)]


def summarize(
    graph: Graph, inputs: Sequence[Sequence[int]] = (), *, gridding: bool | None = None,
    model: nn.Module | None = None, erf_samples: int = 0,
) -> ModelSummary:
    """Analyse a model's graph once for ``atrous model``: the report, totals, outputs, memory.

    Args:
        graph: the model's :class:`~atrous.graph.Graph` (:func:`atrous.fx.to_graph`,
            :func:`atrous.onnx.to_graph`, or any Graph).
        inputs: the full input shapes it was traced with, one per input tensor (default: the
            graph's ``input_shape``). The analysis uses their spatial size when all agree.
        gridding: per-layer gridding; None: only for graphs of at most
            :data:`~atrous.report.GRIDDING_AUTO_NODES` nodes.
        model: the ``nn.Module``: adds the memory estimate and the kernel and trainable
            columns of :meth:`ModelSummary.table`.
        erf_samples: also measure the effective receptive field over this many random inputs
            (needs ``model`` and one input tensor).

    Raises:
        AtrousError: for an ERF request without a model or with several inputs, and what
            :func:`atrous.analyze` refuses.
    """
    shapes = _shapes(inputs)
    if not shapes and graph.input_shape:
        shapes = [tuple(graph.input_shape)]
    if erf_samples and (model is None or len(shapes) != 1):
        raise AtrousError("the effective receptive field needs the nn.Module and one input "
                          f"tensor, got {'no model' if model is None else f'{len(shapes)} inputs'}")
    if gridding is None:
        gridding = len(graph) <= GRIDDING_AUTO_NODES
    one_size = len({s[2:] for s in shapes}) == 1
    report = analyze(graph, input_size=shapes[0] if one_size else None, gridding=gridding)
    labels = graph.output_labels
    outputs = [ModelOutput(o.name, labels.get(o.name),
                           _made_global_by(report, o.name) if o.rf.is_global else None)
               for o in report.outputs]
    erf = None
    if erf_samples:
        from ._erf import erf as measure

        erf = measure(model, shapes[0], samples=erf_samples)
    return ModelSummary(
        report=report, name=graph.name, inputs=shapes, method=graph.method,
        partial=bool(graph.partial), gridding=gridding, outputs=outputs,
        memory=None if model is None else MemoryEstimate.of(model, report.rows, shapes),
        erf=erf, model=model,
    )
