r"""GraphBuilder: how a front end that observes a model turns what it saw into a Graph.

A front end (the torch tracer, the hook recorder, an ONNX reader) walks the model's operations in
order and, for each one, hands the builder the analytic layer it converted the operation to (or
``None`` and a reason when it has no model for it), the names of the nodes feeding it, and the
spatial output size it *observed* (from a shape propagation or a run). The builder

- checks the layer's computed output size against the observed one; on a mismatch the node
  becomes an :class:`~atrous.layers.Opaque` with a diagnostic, never a silently wrong layer;
- records a diagnostic naming the node for every opaque node, so the Graph is ``partial``;
- aligns merge inputs torch-style (a size-1 axis is broadcast over the map, exactly as nearest
  upsampling by the full size);
- makes node names unique (``"conv"``, ``"conv_1"``, ...);
- labels the outputs and, in :meth:`GraphBuilder.finish`, drops nodes no output depends on.

It imports no framework: the same code serves every front end.

    >>> from atrous import Conv, Pointwise
    >>> b = GraphBuilder(ndim=2, input_size=(32, 32), method="onnx")
    >>> c = b.add(Conv(3, stride=2, padding=1, ndim=2), ["input"], (16, 16), "conv")
    >>> r = b.add(Pointwise("relu"), [c], (16, 16), "relu")
    >>> bad = b.add(Conv(3, ndim=2), [r], (16, 16), "conv", op="Conv")  # observed != computed
    >>> b.set_outputs([("", bad)])
    >>> g = b.finish()
    >>> [n.name for n in g.layer_nodes()], g.partial, g.method
    (['conv', 'relu', 'conv_1'], True, 'onnx')
    >>> print(g.diagnostics[0].replace("; ", ";\n"))
    conv_1 (Conv): the analytic output size (14, 14) disagrees with the observed size (16, 16);
    results that depend on it are partial
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._types import Ints
from .errors import AtrousError
from .graph import Graph
from .layers import Layer, Merge, Opaque, Pointwise, Upsample

__all__ = ["GraphBuilder"]


class GraphBuilder:
    """Builds a :class:`~atrous.graph.Graph` from observed operations, checking every shape.

    Args:
        ndim: number of spatial axes (1, 2 or 3).
        input_size: the observed spatial size of the graph input (node ``"input"``).
        name: the graph's label.
        method: provenance recorded on the Graph (``"fx"``, ``"hooks"``, ``"onnx"``, ...).
    """

    def __init__(self, ndim: int, input_size: Sequence[int], *, name: str = "",
                 method: str = "graph") -> None:
        self._g = Graph(ndim, name, method=method)
        self.ndim = self._g.ndim
        size = tuple(int(v) for v in input_size)
        if len(size) != self.ndim:
            raise AtrousError(f"input size {size} has {len(size)} axes, the graph has {ndim}")
        self._sizes: dict[str, Ints] = {"input": size}
        self._counts: dict[str, int] = {}
        self._diagnostics: dict[str, str] = {}  # node -> why it is not modelled
        self._notes: dict[str, list[str]] = {}  # node -> exact remarks
        self._graph_diagnostics: list[str] = []

    # -- reading --------------------------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        """The graph built so far (complete only after :meth:`finish`)."""
        return self._g

    def size(self, node: str) -> Ints:
        """The observed spatial output size of ``node``."""
        try:
            return self._sizes[node]
        except KeyError:
            raise AtrousError(f"no node named {node!r}") from None

    # -- building -------------------------------------------------------------------------------
    def add(self, layer: Layer | None, inputs: Sequence[str], out_size: Sequence[int], name: str,
            *, op: str = "", reason: str = "", notes: Sequence[str] = (),
            meta: Mapping[str, Any] | None = None) -> str:
        """Add one observed operation; return the (unique) name of its node.

        Args:
            layer: the analytic layer, or ``None`` when the front end has no model for the
                operation (then ``reason`` says why and the node is :class:`Opaque`).
            inputs: names of the nodes feeding it (at least one).
            out_size: the spatial output size the front end observed.
            name: the node's base name (module path, op name); made unique as ``name_1``, ...
            op: the operation's type name (``"Conv2d"``, ``"Conv"``, ``"roll"``), used in
                diagnostics and as the opaque node's ``op``.
            reason: why ``layer`` is None (or a remark to keep with an Opaque layer).
            notes: exact remarks about this node (the analysis stays complete).
            meta: node metadata; ``module``, ``target``, ``shape``, ``params`` and ``macs``
                get defaults (the node name, ``op``, ``()``, 0, 0).
        """
        srcs = list(inputs)
        if not srcs:
            raise AtrousError(f"node {name!r} needs at least one input")
        out = tuple(int(v) for v in out_size)
        node = self._unique(name)
        label = op or (layer.kind if layer is not None else "op")
        layer, reason = self._check(layer, srcs, out, reason)
        if layer is None or isinstance(layer, Opaque):
            layer = layer if layer is not None else Opaque(label, reason or "no analytic model")
            self._opaque(node, label, layer.reason)
        if isinstance(layer, Merge) or (isinstance(layer, Opaque) and len(srcs) > 1):
            srcs = self._align(srcs, out, node)
            if isinstance(layer, Merge) and len(srcs) < 2:
                layer = Opaque(label, "its inputs' sizes do not broadcast")
                self._opaque(node, label, layer.reason)
            if isinstance(layer, Opaque) and len(srcs) > 1:
                joined = self._g.merge("concat", srcs, name=self._unique(f"{node}.inputs"))
                self._sizes[joined] = out
                srcs = [joined]
        full = {"module": node, "target": label, "shape": (), "params": 0, "macs": 0}
        full.update(meta or {})
        self._g.add(layer, srcs, name=node, meta=full)
        self._sizes[node] = out
        if notes:
            self._notes[node] = [f"{node} ({full['target']}): {text}" for text in notes]
        return node

    def diagnose(self, message: str) -> None:
        """Record a problem with the graph as a whole (it becomes incomplete, hence partial).

        Such messages come first in the Graph's ``diagnostics`` and make up its ``incomplete``.
        """
        self._graph_diagnostics.append(message)

    def set_outputs(self, outputs: Sequence[tuple[str, str]]) -> None:
        """Declare the outputs as ``(label, node)`` pairs, in order.

        One output keeps its node; several get one ``output.<label>`` node each, so that two
        outputs that are the same tensor stay apart. Labels are kept in ``output_labels``.
        """
        if not outputs:
            raise AtrousError("the model's output does not depend on its input")
        g = self._g
        if len(outputs) == 1:
            label, ref = outputs[0]
            g.set_outputs(ref)
            if label:
                g.output_labels[ref] = label
            return
        names = []
        for label, ref in outputs:
            node = g.add(Pointwise("output"), ref, name=self._unique(f"output.{label}"),
                         meta={"module": f"output.{label}", "target": "output",
                               "shape": g[ref].meta.get("shape", ()), "params": 0, "macs": 0})
            self._sizes[node] = self._sizes[ref]
            g.output_labels[node] = label
            names.append(node)
        g.set_outputs(*names)

    def finish(self) -> Graph:
        """Drop nodes no output depends on and attach the diagnostics and notes of the rest."""
        g = self._g
        keep = set(g.outputs)
        for out in g.outputs:
            keep |= g.ancestors(out)
        if len(keep | {"input"}) < len(g) + 1:
            new = Graph(g.ndim, g.name, method=g.method)
            new.output_labels = dict(g.output_labels)
            new.input_shape = g.input_shape
            for node in g.layer_nodes():
                if node.name in keep:
                    new.add(node.layer, node.inputs, name=node.name, meta=node.meta)
            new.set_outputs(*g.outputs)
            g = new
        g.diagnostics = list(self._graph_diagnostics) + [
            msg for node, msg in self._diagnostics.items() if node in keep]
        g.notes = [msg for node, msgs in self._notes.items() if node in keep for msg in msgs]
        g.incomplete = "; ".join(self._graph_diagnostics)
        self._g = g
        return g

    # -- internals ------------------------------------------------------------------------------
    def _unique(self, base: str) -> str:
        base = base or "op"
        if base not in self._g and base != "input":
            self._counts.setdefault(base, 0)
            return base
        n = self._counts.get(base, 0) + 1
        while f"{base}_{n}" in self._g:
            n += 1
        self._counts[base] = n
        return f"{base}_{n}"

    def _opaque(self, node: str, label: str, reason: str) -> None:
        self._diagnostics[node] = (f"{node} ({label}): {reason}; results that depend on it "
                                   "are partial")

    def _check(self, layer: Layer | None, srcs: list[str], out: Ints,
               reason: str) -> tuple[Layer | None, str]:
        """The layer if its computed output size is the observed one; else None and why."""
        if layer is None or isinstance(layer, (Merge, Opaque)):
            return layer, reason
        for s in srcs:
            if s not in self._sizes:
                raise AtrousError(f"unknown input node {s!r}")
        if len(srcs) > 1:
            return None, f"{type(layer).__name__} cannot take {len(srcs)} tensor inputs"
        try:
            expected = layer.output_size(self._sizes[srcs[0]])
        except AtrousError as exc:
            return None, f"its geometry does not fit the observed shapes ({exc})"
        if tuple(expected) != out:
            return None, (f"the analytic output size {tuple(expected)} disagrees with the "
                          f"observed size {out}")
        return layer, reason

    def _align(self, srcs: list[str], out: Ints, name: str) -> list[str]:
        aligned = []
        for i, s in enumerate(srcs):
            size = self._sizes[s]
            if size != out and all(v in (1, o) for v, o in zip(size, out)):
                # broadcasting: a size-1 axis (a pooled gate: global pooling, or strip pooling
                # over one axis) is repeated over the map; nearest upsampling by the full size
                # along that axis is the same read pattern, exactly
                scale = tuple(o if v == 1 else 1 for v, o in zip(size, out))
                b = self._g.add(Upsample(scale, "nearest", ndim=self.ndim), s,
                                name=self._unique(f"{name}.broadcast{i}"),
                                meta={"module": name, "target": "broadcast",
                                      "shape": (), "params": 0, "macs": 0})
                self._sizes[b] = out
                aligned.append(b)
            else:
                aligned.append(s)
        if len({self._sizes[s] for s in aligned}) > 1:
            aligned = [s for s in aligned if self._sizes[s] == out] or aligned[:1]
        return aligned
