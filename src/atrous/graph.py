"""The Graph: the one intermediate representation every analysis reads.

Nodes hold analytic layers (:mod:`atrous.layers`); edges carry data flow; merges are explicit
:class:`~atrous.layers.Merge` nodes. Front ends (spec text, a list of rates, an ``nn.Module``)
produce a Graph; nothing downstream knows where it came from.

    >>> g = stack([1, 2, 5])
    >>> [n.layer.dilation for n in g.layer_nodes()]
    [(1, 1), (2, 2), (5, 5)]
    >>> g.shapes((64, 64))[g.output]
    (64, 64)
    >>> blk = chain(Conv(3, stride=2, padding=1, ndim=2), residual([Conv(3, padding=1, ndim=2)]))
    >>> [n.name for n in blk.topological()]
    ['input', 'conv0', 'res1.conv0', 'res1.add']
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Union

from ._types import Ints, as_int, as_key
from .errors import AtrousError
from .layers import Conv, Input, Layer, Merge, MergeMode

__all__ = ["Graph", "Node", "as_graph", "chain", "parallel", "residual", "stack"]

Part = Union[Layer, "Graph"]


@dataclass(frozen=True)
class Node:
    """One node: a layer, the names of its inputs, and free-form metadata (module path, shape)."""

    name: str
    layer: Layer
    inputs: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class Graph:
    """A directed acyclic graph of analytic layers with one input and one or more outputs.

    Args:
        ndim: number of spatial axes (1, 2 or 3).
        name: optional label used in reports.
    """

    def __init__(self, ndim: int, name: str = "") -> None:
        ndim = as_int(ndim, "ndim", 1)
        if ndim > 3:
            raise AtrousError(f"ndim must be 1, 2 or 3, got {ndim}")
        self.ndim = ndim
        self.name = name
        self._nodes: dict[str, Node] = {"input": Node("input", Input(ndim), ())}
        self._next_index: dict[str, int] = {}  # where _fresh resumes its search per base name
        self._outputs: list[str] = []
        self._last = "input"

    # -- building ---------------------------------------------------------------------------
    def add(
        self,
        layer: Layer,
        inputs: str | Sequence[str] | None = None,
        name: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> str:
        """Add a node fed by ``inputs`` (default: the last node added); return its name."""
        if not isinstance(layer, Layer) or isinstance(layer, Input):
            raise AtrousError(f"a graph node needs an analytic layer, got {layer!r}")
        if layer.ndim is not None and layer.ndim != self.ndim:
            raise AtrousError(
                f"layer {layer!r} has {layer.ndim} spatial axes but the graph has {self.ndim}"
            )
        if inputs is None:
            srcs: tuple[str, ...] = (self._last,)
        else:
            srcs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        for src in srcs:
            if src not in self._nodes:
                raise AtrousError(f"unknown input node {src!r}")
        if isinstance(layer, Merge):
            if len(srcs) < 2:
                raise AtrousError(f"a {layer.mode} merge needs at least 2 inputs, got {srcs}")
        elif len(srcs) != 1:
            raise AtrousError(f"{layer.kind} takes exactly one input, got {srcs}")
        if name is None:
            name = self._fresh(layer.kind)
        elif name in self._nodes:
            raise AtrousError(f"node name {name!r} is already used")
        self._nodes[name] = Node(name, layer, srcs, MappingProxyType(dict(meta or {})))
        self._last = name
        return name

    def merge(self, mode: MergeMode, inputs: Sequence[str], name: str | None = None) -> str:
        """Add an explicit merge node (``add``, ``concat`` or ``mul``) of ``inputs``."""
        return self.add(Merge(mode), inputs, name=name or self._fresh(mode))

    def set_outputs(self, *names: str) -> None:
        """Declare the output node(s); by default the last node added is the output."""
        for n in names:
            if n not in self._nodes:
                raise AtrousError(f"unknown output node {n!r}")
        self._outputs = list(names)

    def inline(self, other: Graph, at: str | None = None, prefix: str = "") -> str:
        """Copy ``other`` into this graph, feeding its input from node ``at`` (default: last).

        Node names get ``prefix``; returns the name of the copied output node.
        """
        if other.ndim != self.ndim:
            raise AtrousError(f"cannot join a {other.ndim}-D graph into a {self.ndim}-D graph")
        src = self._last if at is None else at
        rename = {"input": src}
        for node in other.topological():
            if node.name == "input":
                continue
            new = f"{prefix}{node.name}"
            if new in self._nodes:
                new = self._fresh(new)
            rename[node.name] = new
            self.add(node.layer, [rename[i] for i in node.inputs], name=new, meta=node.meta)
        self._last = rename[other.output]
        return self._last

    def _fresh(self, base: str) -> str:
        i = self._next_index.get(base, 0)
        while f"{base}{i}" in self._nodes:
            i += 1
        self._next_index[base] = i + 1
        return f"{base}{i}"

    # -- reading ----------------------------------------------------------------------------
    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the output nodes."""
        return tuple(self._outputs) if self._outputs else (self._last,)

    @property
    def output(self) -> str:
        """The single output node's name (an error if the graph has several outputs)."""
        outs = self.outputs
        if len(outs) != 1:
            raise AtrousError(f"the graph has {len(outs)} outputs {outs}; name one")
        return outs[0]

    def __getitem__(self, name: str) -> Node:
        as_key(name, "node", allow_none=False)  # a list or array names no node: AtrousError
        try:
            return self._nodes[name]
        except KeyError:
            raise AtrousError(f"no node named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self.topological())

    def __len__(self) -> int:
        return len(self._nodes) - 1

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Graph{label} {self.ndim}-D, {len(self)} nodes, outputs={list(self.outputs)}>"

    def topological(self) -> list[Node]:
        """Nodes in a topological order (insertion order, which the builders guarantee)."""
        return list(self._nodes.values())

    def layer_nodes(self) -> list[Node]:
        """All nodes but the input, in topological order."""
        return [n for n in self._nodes.values() if n.name != "input"]

    def successors(self, name: str) -> list[str]:
        """Names of the nodes that read ``name``."""
        return [n.name for n in self._nodes.values() if name in n.inputs]

    def ancestors(self, name: str) -> set[str]:
        """Every node ``name`` depends on (not including itself)."""
        seen: set[str] = set()
        todo = list(self[name].inputs)
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(self._nodes[n].inputs)
        return seen

    def is_chain(self) -> bool:
        """True when every node has one input and feeds at most one node (a plain stack)."""
        fan_out: dict[str, int] = {}
        for n in self._nodes.values():
            if len(n.inputs) > 1:
                return False
            for i in n.inputs:
                fan_out[i] = fan_out.get(i, 0) + 1
        return all(v <= 1 for v in fan_out.values())

    def shapes(self, input_size: Sequence[int]) -> dict[str, Ints]:
        """Spatial size of every node's output for a spatial input size (merges checked)."""
        size = tuple(as_int(v, "input size", 1) for v in input_size)
        if len(size) != self.ndim:
            raise AtrousError(
                f"input size {tuple(input_size)} has {len(size)} axes, the graph has {self.ndim}"
            )
        out: dict[str, Ints] = {}
        for node in self._nodes.values():
            if node.name == "input":
                out["input"] = size
                continue
            ins = [out[i] for i in node.inputs]
            if isinstance(node.layer, Merge):
                # a size-1 input is broadcast (ASPP's image-pooling branch is upsampled back)
                merged = tuple(max(axis) for axis in zip(*ins))
                if any(v not in (1, m) for s in ins for v, m in zip(s, merged)):
                    raise AtrousError(
                        f"{node.layer.mode} merge {node.name!r} gets different sizes {ins}"
                    )
                out[node.name] = merged
            else:
                try:
                    out[node.name] = node.layer.output_size(ins[0])
                except AtrousError as exc:
                    raise AtrousError(f"at node {node.name!r}: {exc}") from None
        return out


# -- builders -------------------------------------------------------------------------------
def _parts_ndim(parts: Sequence[Part], ndim: int | None) -> int:
    for p in parts:
        nd = p.ndim
        if nd is not None:
            if ndim is not None and nd != ndim:
                raise AtrousError(f"parts disagree on the number of spatial axes: {nd} vs {ndim}")
            ndim = nd
    if ndim is None:
        raise AtrousError("cannot tell the number of spatial axes: pass ndim=")
    return ndim


def _append(g: Graph, part: Part, index: int) -> str:
    if isinstance(part, Graph):
        return g.inline(part)
    return g.add(part, name=g._fresh(part.kind))


def chain(*parts: Part | Sequence[Part], ndim: int | None = None, name: str = "") -> Graph:
    """A sequential graph of layers and sub-graphs (sub-graphs are inlined with a prefix).

    >>> g = chain(Conv(3, padding=1, ndim=1), Conv(3, padding=2, dilation=2, ndim=1))
    >>> len(g)
    2
    """
    flat: list[Part] = []
    for p in parts:
        if isinstance(p, (Layer, Graph)):
            flat.append(p)
        else:
            flat.extend(p)
    g = Graph(_parts_ndim(flat, ndim), name=name)
    for i, p in enumerate(flat):
        if isinstance(p, Graph):
            g.inline(p, prefix=f"{p.name or ('res' if _is_residual(p) else 'block')}{i}.")
        else:
            _append(g, p, i)
    return g


def _is_residual(g: Graph) -> bool:
    last = g[g.output].layer
    return isinstance(last, Merge) and last.mode == "add"


def parallel(
    branches: Sequence[Part | Sequence[Part]],
    merge: MergeMode = "concat",
    ndim: int | None = None,
    name: str = "",
) -> Graph:
    """Branches fed by the same input, merged (ASPP-like). An empty branch is the identity.

    >>> aspp = parallel([[Conv(1, ndim=2)], [Conv(3, padding=6, dilation=6, ndim=2)]])
    >>> aspp[aspp.output].inputs
    ('branch0.conv0', 'branch1.conv0')
    """
    subs = [b if isinstance(b, Graph) else chain(b, ndim=ndim) if _nonempty(b) else None
            for b in branches]
    if len(subs) < 2:
        raise AtrousError(f"parallel needs at least 2 branches, got {len(subs)}")
    nd = ndim
    for s in subs:
        if s is not None:
            nd = _parts_ndim([s], nd)
    if nd is None:
        raise AtrousError("cannot tell the number of spatial axes: pass ndim=")
    g = Graph(nd, name=name)
    ends = []
    for i, s in enumerate(subs):
        ends.append("input" if s is None else g.inline(s, at="input", prefix=f"branch{i}."))
    g.merge(merge, ends, name=merge)
    return g


def _nonempty(b: Any) -> bool:
    return isinstance(b, Layer) or (isinstance(b, Sequence) and len(b) > 0)


def residual(
    body: Part | Sequence[Part],
    shortcut: Part | Sequence[Part] | None = None,
    ndim: int | None = None,
    name: str = "",
) -> Graph:
    """``body(x) + shortcut(x)`` (shortcut defaults to the identity), as in ResNet blocks."""
    g = parallel([body, shortcut if shortcut is not None else []], merge="add", ndim=ndim)
    # rename: residual nodes read better as body./shortcut.
    out = Graph(g.ndim, name=name)
    rename = {"input": "input"}
    for node in g.layer_nodes():
        new = node.name.replace("branch0.", "").replace("branch1.", "shortcut.")
        rename[node.name] = new
        out.add(node.layer, [rename[i] for i in node.inputs], name=new, meta=node.meta)
    return out


def stack(
    rates: Sequence[int],
    kernel: int = 3,
    ndim: int = 2,
    name: str = "",
) -> Graph:
    """The seeds' case: stride-1 convs with dilations ``rates`` and size-keeping padding.

    Padding is ``dilation*(kernel-1)/2`` on each side (TensorFlow's split, extra pixel on the
    right, when that is odd, e.g. for even kernels).

    >>> g = stack([1, 2, 3], kernel=3, ndim=1)
    >>> [n.layer.padding for n in g.layer_nodes()]
    [((1, 1),), ((2, 2),), ((3, 3),)]
    """
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or not rates:
        raise AtrousError(f"rates must be a non-empty sequence of ints, got {rates!r}")
    kernel = as_int(kernel, "kernel", 1)
    g = Graph(ndim, name=name)
    for i, r in enumerate(rates):
        r = as_int(r, f"rate #{i}", 1)
        g.add(Conv(kernel, dilation=r, padding="same", ndim=ndim), name=f"conv{i}")
    return g


def as_graph(target: Any, input_size: Sequence[int] | None = None) -> Graph:
    """Turn any analysable target into a Graph.

    Accepts a :class:`Graph`, a spec string (:func:`atrous.parse`), a single layer or a sequence
    of layers, or a ``torch.nn.Module`` (traced by :mod:`atrous.fx`; needs ``input_size``).
    """
    if isinstance(target, Graph):
        return target
    if isinstance(target, str):
        from .spec import parse

        return parse(target, input_size=input_size)  # resolves TensorFlow's 'same'
    if isinstance(target, Layer):
        return chain(target)
    if isinstance(target, Sequence) and target and all(isinstance(t, Layer) for t in target):
        return chain(*target)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(target, torch.nn.Module):
        from .fx import to_graph

        return to_graph(target, input_size)
    raise AtrousError(
        f"cannot analyse {type(target).__name__} {target!r:.60}: expected a Graph, a spec string, "
        "layers, or a torch.nn.Module"
    )
