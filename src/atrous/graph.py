"""The Graph: the one intermediate representation every analysis reads.

Nodes hold analytic layers (:mod:`atrous.layers`); edges carry data flow; merges are explicit
:class:`~atrous.layers.Merge` nodes. Front ends (spec text, a list of rates, an ``nn.Module``, an
ONNX model) produce a Graph; nothing downstream knows where it came from. Every Graph says how
complete it is (``partial``, ``diagnostics``), carries exact remarks (``notes``) and its provenance
(``method``); front ends that observe a model build it with :class:`atrous.builder.GraphBuilder`.

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
from typing import TYPE_CHECKING, Any, Union

from ._types import MAX_INT, Ints, as_int, as_key
from .errors import AtrousError
from .layers import Conv, Input, Layer, Merge, MergeMode, Opaque

__all__ = ["Graph", "Node", "as_graph", "chain", "local_graph", "parallel", "residual", "stack",
           "to_graph"]

Part = Union[Layer, "Graph"]


@dataclass(frozen=True)
class Node:
    """One node: a layer, the names of its inputs, and free-form metadata (module path, shape)."""

    name: str
    layer: Layer
    inputs: tuple[str, ...]
    # compared, but not hashed: a read-only mapping (and its values) need not be hashable
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # meta is a read-only MappingProxyType, which pickle (so deepcopy) cannot copy: the
        # node is rebuilt from a plain dict of it
        return (_node, (self.name, self.layer, self.inputs, dict(self.meta)))


def _node(name: str, layer: Layer, inputs: tuple[str, ...], meta: dict[str, Any]) -> Node:
    """A :class:`Node` with its metadata read-only again (unpickling and deep copies)."""
    return Node(name, layer, inputs, MappingProxyType(meta))


class Graph:
    """A directed acyclic graph of analytic layers with one input and one or more outputs.

    Args:
        ndim: number of spatial axes (1, 2 or 3).
        name: optional label used in reports.
        method: provenance: ``"graph"`` (built with this API), ``"spec"``, ``"fx"`` (torch.fx
            trace), ``"hooks"`` (recorded from one run of a model), ``"onnx"``, ...

    Attributes:
        diagnostics: one line per problem that makes an analysis of this graph partial (an
            operation without an analytic model, a fallback), naming the node or module.
        notes: exact remarks that leave the graph complete, one line each, naming the node (a
            norm modelled as pointwise, a non-zero padding mode).
        incomplete: why the graph may miss parts of the model as a whole (e.g. recorded from
            one run, so only the path that input took), ``""`` when it does not; the reason is
            also in ``diagnostics``. See :attr:`partial`.
        input_shape: the full input tensor shape a model was traced with (``()`` when none).
        output_labels: output node name -> label (dict key or tuple index) of a model's outputs.

    >>> g = Graph(2)
    >>> g.partial, g.method, g.diagnostics, g.notes
    (False, 'graph', [], [])
    """

    _nodes: dict[str, Node]

    def __init__(self, ndim: int, name: str = "", method: str = "graph") -> None:
        if type(ndim) is not int or not 1 <= ndim <= 3:
            ndim = as_int(ndim, "ndim", 1)
            if ndim > 3:
                raise AtrousError(f"ndim must be 1, 2 or 3, got {ndim}")
        self.ndim = ndim
        self.name = name
        self.method = method
        self.diagnostics: list[str] = []
        self.notes: list[str] = []
        self.incomplete = ""
        self.input_shape: tuple[int, ...] = ()
        self.output_labels: dict[str, str] = {}
        self._nodes = {"input": _input_node(ndim)}
        self._next_index: dict[str, int] = {}  # where _fresh resumes its search per base name
        self._outputs: list[str] = []
        self._last = "input"

    if not TYPE_CHECKING:  # hidden from mypy, which would then accept any attribute name

        def __getattr__(self, name: str) -> Any:
            # Only called when normal lookup fails: a graph from stack() builds its nodes on
            # first use (coverage() of such a graph never needs them).
            if name == "_nodes":
                pending = self.__dict__.get("_stack_spec")
                if pending is None and "_nodes" in self.__dict__:
                    return self.__dict__["_nodes"]  # built meanwhile by another thread
                if pending is not None:
                    kernel, rates = pending
                    nodes = {"input": _input_node(self.ndim)}
                    prev = "input"
                    for i, rate in enumerate(rates):
                        layer = _stack_conv(kernel, rate, self.ndim)
                        nodes[f"conv{i}"] = Node(f"conv{i}", layer, (prev,), MappingProxyType({}))
                        prev = f"conv{i}"
                    # published whole, in one step, before the spec goes: a reader in another
                    # thread sees either no nodes (and builds the same) or all of them
                    nodes = self.__dict__.setdefault("_nodes", nodes)
                    self.__dict__.pop("_stack_spec", None)
                    return nodes
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __copy__(self) -> Graph:
        """``copy.copy``: a graph that grows on its own (the node table and the lists of
        diagnostics, notes and outputs are copied; the immutable nodes are shared)."""
        new = object.__new__(type(self))
        for key, value in self.__dict__.items():
            new.__dict__[key] = value.copy() if isinstance(value, (dict, list)) else value
        return new

    def _plain_stack(self) -> tuple[int, tuple[int, ...]] | None:
        """``(kernel, rates)`` while the graph is still exactly what :func:`stack` built (any
        use of its nodes, so any change, builds them and ends this), else None."""
        if "_nodes" in self.__dict__:
            return None
        spec: tuple[int, tuple[int, ...]] | None = self.__dict__.get("_stack_spec")
        return spec

    # -- completeness -----------------------------------------------------------------------
    @property
    def partial(self) -> bool:
        """True when analyses of this graph may not be exact for the model it stands for.

        That is when the graph is :attr:`incomplete` or holds an :class:`~atrous.layers.Opaque`
        node. Setting it to True marks the graph incomplete (with a generic reason when it
        has none), to False clears :attr:`incomplete`.
        """
        return bool(self.incomplete) or any(isinstance(n.layer, Opaque)
                                            for n in self._nodes.values())

    @partial.setter
    def partial(self, value: bool) -> None:
        if not value:
            self.incomplete = ""
        elif not self.incomplete:
            self.incomplete = "the graph was marked partial"

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
        self.incomplete = self.incomplete or other.incomplete
        self.diagnostics.extend(d for d in other.diagnostics if d not in self.diagnostics)
        self.notes.extend(d for d in other.notes if d not in self.notes)
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
        from .rf import node_sizes  # the one size propagation (rf imports graph)

        return node_sizes(self, size, strict=True)  # type: ignore[return-value]


_INPUT_NODES: dict[int, Node] = {}


def _input_node(ndim: int) -> Node:
    """The input node of an ``ndim``-D graph (immutable, so shared by every graph)."""
    node = _INPUT_NODES.get(ndim)
    if node is None:
        node = _INPUT_NODES[ndim] = Node("input", Input(ndim), ())
    return node


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
    out.incomplete, out.diagnostics, out.notes = g.incomplete, g.diagnostics, g.notes
    return out


def stack(
    rates: Sequence[int],
    kernel: int = 3,
    ndim: int = 2,
    name: str = "",
) -> Graph:
    """The classic dilated stack: stride-1 convs with dilations ``rates`` and size-keeping padding.

    Padding is ``dilation*(kernel-1)/2`` on each side (TensorFlow's split, extra pixel on the
    right, when that is odd, e.g. for even kernels).

    >>> g = stack([1, 2, 3], kernel=3, ndim=1)
    >>> [n.layer.padding for n in g.layer_nodes()]
    [((1, 1),), ((2, 2),), ((3, 3),)]
    """
    plain = type(rates) is list or type(rates) is tuple  # skips two ABC checks
    if not plain and (isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence)):
        raise AtrousError(f"rates must be a non-empty sequence of ints, got {rates!r}")
    if not rates:
        raise AtrousError(f"rates must be a non-empty sequence of ints, got {rates!r}")
    if type(kernel) is not int or not 1 <= kernel < MAX_INT:
        kernel = as_int(kernel, "kernel", 1)
    g = Graph(ndim, name=name)
    rs = tuple(rates)
    for r in rs:
        if type(r) is not int or r < 1:  # numpy ints and the like become plain ints
            rs = tuple(as_int(v, f"rate #{i}", 1) for i, v in enumerate(rs))
            break
    # Valid ints make a valid Conv: the layers and nodes are built on first use
    # (Graph.__getattr__), and coverage() of an untouched stack needs neither.
    del g.__dict__["_nodes"]
    g.__dict__["_stack_spec"] = (kernel, rs)
    g._last = f"conv{len(rs) - 1}"
    return g


def _stack_conv(kernel: int, rate: int, ndim: int) -> Conv:
    """The layer of one stack() node; immutable, so one per (kernel, rate, ndim), shared."""
    conv = _STACK_CONVS.get((kernel, rate, ndim))
    if conv is None:
        if len(_STACK_CONVS) >= 4096:
            _STACK_CONVS.clear()
        conv = _STACK_CONVS[kernel, rate, ndim] = Conv(kernel, dilation=rate, padding="same",
                                                       ndim=ndim)
    return conv


_STACK_CONVS: dict[tuple[int, int, int], Conv] = {}


def as_graph(target: Any, input_size: Sequence[int] | None = None) -> Graph:
    """Turn any analysable target into a Graph.

    Accepts a :class:`Graph`, a spec string (:func:`atrous.parse`), a single layer or a sequence
    of layers, a ``torch.nn.Module`` (traced by :mod:`atrous.fx`; needs ``input_size``), or an
    ONNX model: a path ending in ``.onnx`` or an ``onnx.ModelProto`` (read by
    :mod:`atrous.onnx`; ``input_size`` only when its input shape is symbolic).
    """
    if isinstance(target, Graph):
        return target
    from .onnx._load import is_onnx_target

    if is_onnx_target(target):  # a path ending in .onnx, or an onnx.ModelProto
        from .onnx import to_graph as onnx_graph

        return onnx_graph(target, input_size)
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
        "layers, a torch.nn.Module, or an ONNX model (.onnx path or onnx.ModelProto)"
    )


def to_graph(model: Any, input_size: Sequence[int] | None = None) -> Graph:
    """A model's Graph: a ``torch.nn.Module`` (:func:`atrous.fx.to_graph`, ``input_size``
    required) or an ONNX model (:func:`atrous.onnx.to_graph`: a ``.onnx`` path or an
    ``onnx.ModelProto``, ``input_size`` optional when the input shape is static).

    >>> to_graph("model.txt")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: to_graph needs a torch.nn.Module or an ONNX model (...), got str
    """
    from .onnx._load import is_onnx_target

    if is_onnx_target(model):
        from .onnx import to_graph as onnx_graph

        return onnx_graph(model, input_size)
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        raise AtrousError(
            "to_graph needs a torch.nn.Module or an ONNX model (a .onnx path or an "
            f"onnx.ModelProto), got {type(model).__name__}"
        )
    from .fx import to_graph as torch_graph

    return torch_graph(model, input_size)


def local_graph(target: Any, input_size: Sequence[int] | None = None) -> Graph:
    """The graph with its global gates cut: the "local" receptive field of SE / ECA networks.

    A merge of a map with a value whose receptive field is global (a squeeze-excitation or ECA
    gate, a pooled context added back or concatenated as in ASPP) makes every unit after it
    global. Users of such networks also want the field of the convolutions alone, as
    rfa-toolbox reports it: this graph drops every global input of a merge that has a local one
    (a merge left with one input becomes a pointwise node of the same name), so
    ``receptive_field(local_graph(net, size))`` is that local field. Nodes no output needs any
    more are dropped; ``diagnostics``, ``notes`` and provenance are kept, with a note per cut.

    >>> from atrous.layers import GlobalPool
    >>> gate = parallel([[], [GlobalPool("avg")]], "mul", ndim=1)
    >>> gated = chain(Conv(3, padding=1, ndim=1), gate)
    >>> from atrous import receptive_field
    >>> receptive_field(gated, (32,)).is_global, receptive_field(local_graph(gated, (32,))).size
    (True, (3,))
    """
    from .rf import receptive_fields

    graph = as_graph(target, input_size)
    size = input_size if input_size is not None else (graph.input_shape or None)
    notes = list(graph.notes)
    while True:  # a gate cut early makes later maps local again: cut until nothing changes
        cut = _cut_gates(graph, receptive_fields(graph, size), notes)
        if len(cut.notes) == len(notes):
            return cut
        graph, notes = cut, cut.notes


def _cut_gates(graph: Graph, rfs: Mapping[str, Any], notes: list[str]) -> Graph:
    """One pass of :func:`local_graph`: cut the global inputs of the first merge with local ones."""
    from .layers import Pointwise

    out = Graph(graph.ndim, graph.name, method=graph.method)
    out.diagnostics, out.notes = list(graph.diagnostics), list(notes)
    out.incomplete, out.input_shape = graph.incomplete, graph.input_shape
    out.output_labels = dict(graph.output_labels)
    done = False
    for node in graph.layer_nodes():
        layer, inputs = node.layer, node.inputs
        if isinstance(layer, Merge) and not done:
            # the first merge in graph order only: a map after it may be local once it is cut
            local = tuple(i for i in inputs if not rfs[i].is_global)
            if local and len(local) < len(inputs):
                done = True
                cut = [i for i in inputs if i not in local]
                out.notes.append(f"{node.name}: the global input(s) {', '.join(cut)} cut for "
                                 "the local receptive field")
                inputs = local
                if len(inputs) == 1:
                    layer = Pointwise(f"local:{layer.mode}")
        out.add(layer, inputs, name=node.name, meta=node.meta)
    out.set_outputs(*graph.outputs)
    keep = set(out.outputs)
    for o in out.outputs:
        keep |= out.ancestors(o)
    if len(keep | {"input"}) == len(out) + 1:
        return out
    pruned = Graph(out.ndim, out.name, method=out.method)
    pruned.diagnostics, pruned.notes, pruned.incomplete = out.diagnostics, out.notes, out.incomplete
    pruned.input_shape, pruned.output_labels = out.input_shape, out.output_labels
    for node in out.layer_nodes():
        if node.name in keep:
            pruned.add(node.layer, node.inputs, name=node.name, meta=node.meta)
    pruned.set_outputs(*out.outputs)
    return pruned
