"""Walks an ONNX graph and hands each operation to the :class:`~atrous.builder.GraphBuilder`.

Every tensor that depends on the model input is *live*; for each one the walk knows which of
its axes are the input's spatial axes (they move under ``Transpose``, ``Reshape``,
``Squeeze``/``Unsqueeze``), the atrous node that produces it, and its spatial size. Tensors that
do not depend on the input (weights, shape arithmetic) are folded to values on demand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._types import Ints
from ..builder import GraphBuilder
from ..errors import AtrousError
from ..graph import Graph
from ..layers import Layer, Merge, MergeMode, Opaque, Pointwise
from ._load import check_opset, dims_of, implicit_inputs, input_shape, topo_order
from ._values import Dims, Values, infer_shapes


class Unsupported(Exception):
    """A converter cannot model this node: it becomes an opaque node with this reason."""


@dataclass(frozen=True)
class Live:
    """A tensor that depends on the model input.

    Attributes:
        node: the atrous node that produces it.
        rank: its number of axes.
        axes: positions of the input's spatial axes in it (``()`` once they are gone).
        size: its spatial size in input coordinates.
        batch: position of the batch axis (None once it is gone or merged).
        phase: block of a space-to-batch split in effect (1 for none): the spatial axes hold
            one of ``phase**ndim`` interleaved sub-grids.
        folded: a reshape folded the spatial axes into others (every later value is global).
    """

    node: str
    rank: int
    axes: tuple[int, ...]
    size: Ints
    batch: int | None = 0
    phase: int = 1
    folded: bool = False
    phase_node: str = ""


@dataclass
class Step:
    """What a converter returns: a chain of layers and the output tensor's layout."""

    layers: list[Layer]
    axes: tuple[int, ...] | None = None
    rank: int | None = None
    batch: int | bool | None = False  # False: unchanged
    phase: int | None = None
    folded: bool | None = None
    notes: tuple[str, ...] = ()


Handler = Callable[["Converter", Any, Live], Step]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn
    return deco


class Converter:
    """One conversion of a ModelProto for one input shape."""

    def __init__(self, onnx: Any, model: Any, name: str,
                 input_size: Sequence[int] | None, stripped: set[str] | None = None) -> None:
        self.onnx = onnx
        self.model = model
        self.opset = check_opset(onnx, model)
        graph = model.graph
        inits = {t.name for t in graph.initializer}
        data = [vi for vi in graph.input if vi.name not in inits]
        if not data:
            raise AtrousError("the ONNX model has no input (every graph input is an initializer)")
        self.input = data[0]
        self.extra_inputs = [vi.name for vi in data[1:]]
        self.shape = input_shape(self.input, input_size)
        rank = len(self.shape)
        if not 3 <= rank <= 5:
            raise AtrousError(
                f"input {self.input.name!r} has shape {self.shape}: atrous analyses (N, C, ...) "
                "inputs with 1 to 3 spatial axes"
            )
        self.ndim = rank - 2
        defined = inits | {vi.name for vi in graph.input}
        self.order = topo_order(graph, defined)
        self.live_names = self._live_set()
        self.values = Values(onnx, model, self.opset, self.live_names, {}, stripped or set())
        self.shapes = infer_shapes(onnx, model, self.input.name, self.shape,
                                   self.values.folded())
        self.values.set_shapes(self.shapes)
        self.channels_last = self._channels_last()
        axes = tuple(range(1, rank - 1)) if self.channels_last else tuple(range(2, rank))
        spatial = tuple(self.shape[a] for a in axes)
        self.b = GraphBuilder(self.ndim, spatial, name=name, method="onnx")
        # (N, C, *spatial) order, whatever the model's layout
        self.b.graph.input_shape = ((self.shape[0], self.shape[-1], *spatial)
                                    if self.channels_last else self.shape)
        self.tensors: dict[str, Live] = {
            self.input.name: Live("input", rank, axes, spatial)
        }
        self.inits = {t.name: t for t in graph.initializer}
        self.node_name = ""

    # -- setup ----------------------------------------------------------------------------------
    def _live_set(self) -> set[str]:
        live = {self.input.name}
        self.implicit: dict[int, list[str]] = {}
        for node in self.order:
            if node.op_type in ("Shape", "Size") and node.domain in ("", "ai.onnx"):
                continue  # a shape is known from shape inference, not from the input's values
            hidden = sorted(implicit_inputs(node)) if len(node.attribute) else []
            if hidden:
                self.implicit[id(node)] = hidden
            if any(i in live for i in [*node.input, *hidden] if i):
                live.update(o for o in node.output if o)
        return live

    def _channels_last(self) -> bool:
        rank = len(self.shape)
        to_first = [0, rank - 1, *range(1, rank - 1)]
        for node in self.order:
            if self.input.name in node.input:
                if node.op_type == "Transpose" and self.attr(node, "perm") == to_first:
                    return True
                if node.op_type == "SpaceToBatchND":
                    return True
        return False

    # -- helpers for converters -----------------------------------------------------------------
    @staticmethod
    def attr(node: Any, name: str, default: Any = None) -> Any:
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                v = helper.get_attribute_value(a)
                if isinstance(v, bytes):
                    return v.decode()
                if isinstance(v, list):
                    return [x.decode() if isinstance(x, bytes) else x for x in v]
                return v
        return default

    def const(self, node: Any, index: int, what: str) -> Any:
        """The constant value of input ``index`` (None when absent); Unsupported if not constant."""
        if index >= len(node.input) or not node.input[index]:
            return None
        value = self.values.get(node.input[index])
        if value is None:
            raise Unsupported(f"its {what} ({node.input[index]!r}) is not a constant")
        return value

    def dims(self, name: str) -> Dims | None:
        return self.shapes.get(name)

    def observed(self, name: str, axes: tuple[int, ...], phase: int = 1) -> Ints | None:
        """The spatial size of tensor ``name`` from shape inference (input coordinates)."""
        d = self.shapes.get(name)
        if d is None or not axes or any(a >= len(d) or d[a] is None for a in axes):
            return None
        return tuple(int(d[a] or 0) * phase for a in axes)

    # -- the walk -------------------------------------------------------------------------------
    def run(self) -> Graph:
        if self.extra_inputs:
            self.b.diagnose(
                f"the model has other inputs ({', '.join(map(repr, self.extra_inputs))}); "
                f"receptive fields are relative to {self.input.name!r} and those inputs are "
                "treated as constants"
            )
        for node in self.order:
            reads = [*node.input, *self.implicit.get(id(node), ())]
            ins = list(dict.fromkeys(i for i in reads if i in self.tensors))
            if not ins:
                continue
            self.node_name = node.name
            if node.domain not in ("", "ai.onnx") and node.op_type not in TF_OPS:
                self._opaque(node, ins, f"custom operator of domain {node.domain!r}")
            elif node.op_type in MULTI:
                MULTI[node.op_type](self, node, ins)
            elif len(ins) > 1:
                self._merge(node, ins)
            else:
                self._unary(node, ins[0])
        outs = []
        for vi in self.model.graph.output:
            t = self.tensors.get(vi.name)
            if t is not None:
                outs.append((vi.name, t.node))
        if not outs:
            raise AtrousError("no output of the ONNX model depends on its input "
                              f"{self.input.name!r}")
        if len(outs) == 1:
            outs = [("", outs[0][1])]
        self.b.set_outputs(outs)
        g = self.b.finish()
        return g

    # -- emission -------------------------------------------------------------------------------
    def base_name(self, node: Any) -> str:
        scopes = None
        for p in node.metadata_props:
            if p.key == "pkg.torch.onnx.name_scopes":
                scopes = p.value
        if scopes:
            try:
                import ast

                parts = [str(s) for s in ast.literal_eval(scopes) if s]
            except (ValueError, SyntaxError):
                parts = []
            if parts:
                path = _join_scopes(parts[:-1])
                return path or parts[-1]
        name = node.name.strip("/")
        if "/" in name:
            parts = name.split("/")
            return _join_scopes(parts[:-1]) or parts[-1]
        return name or str(node.op_type)

    def meta(self, node: Any, out: str, layer: Layer | None) -> dict[str, Any]:
        shape = _known(self.dims(out))
        params = 0
        for i in node.input[1:]:
            t = self.inits.get(i)
            if t is not None:
                params += int(math.prod(t.dims))
        meta: dict[str, Any] = {
            "module": self.base_name(node), "target": node.op_type, "onnx_node": node.name,
            "shape": shape if shape is not None else (), "params": params, "macs": 0,
        }
        if node.op_type in ("Conv", "ConvTranspose") and shape is not None:
            w = _known(self.dims(node.input[1])) if len(node.input) > 1 else None
            if w is not None and len(w) >= 2:
                big = shape if node.op_type == "Conv" else _known(self.dims(node.input[0]))
                if big is not None:
                    meta["macs"] = int(math.prod(big)) * int(math.prod(w[1:]))
        return meta

    def _unary(self, node: Any, src: str) -> None:
        x = self.tensors[src]
        handler = HANDLERS.get(node.op_type)
        try:
            if handler is None:
                raise Unsupported("no analytic model for this ONNX operator")
            if x.folded or not x.axes:
                step = _global_value(self, node, x)
            elif x.phase > 1 and handler not in PHASE_SAFE:
                raise Unsupported(
                    f"it acts on a tensor whose spatial axes {x.phase_node!r} split into "
                    f"{x.phase}x{x.phase} phases"
                )
            else:
                step = handler(self, node, x)
        except Unsupported as exc:
            self._opaque(node, [src], str(exc))
            return
        except (AtrousError, ValueError, TypeError, IndexError, KeyError) as exc:
            # a malformed attribute or input: the node is not modelled, the walk goes on
            self._opaque(node, [src], f"its attributes or inputs cannot be read ({exc})")
            return
        self._emit(node, x, step)

    def _emit(self, node: Any, x: Live, step: Step, out_name: str = "", tag: str = "") -> None:
        out_name = out_name or node.output[0]
        axes = x.axes if step.axes is None else step.axes
        phase = x.phase if step.phase is None else step.phase
        layers = step.layers or [Pointwise(node.op_type.lower())]
        size = x.size
        for layer in layers:
            size = layer.output_size(size) if not isinstance(layer, Opaque) else size
        seen = self.observed(out_name, axes, phase) if axes else None
        base = self.base_name(node) + tag
        cur = x.node
        for k, layer in enumerate(layers):
            last = k == len(layers) - 1
            name = base if len(layers) == 1 else f"{base}.{k}"
            if last:
                out = seen if seen is not None else size
                meta = self.meta(node, out_name, layer)
            else:
                out = layer.output_size(self.b.size(cur))
                meta = {**self.meta(node, out_name, layer), "shape": ()}
            cur = self.b.add(layer, [cur], out, name, op=node.op_type, notes=step.notes if last
                             else (), meta=meta)
        if not axes:
            size = (1,) * self.ndim
        elif phase == 1 and None in (self.shapes.get(out_name) or (None,)):
            self._fill_dims(node, out_name, x, step, axes, self.b.size(cur))
        batch = x.batch if step.batch is False else step.batch
        self.tensors[out_name] = Live(
            cur, x.rank if step.rank is None else step.rank, axes,
            self.b.size(cur) if axes else size, batch, phase,
            x.folded if step.folded is None else step.folded,
            self.base_name(node) if phase > 1 and x.phase == 1 else x.phase_node,
        )
        if not tag:
            self._passthrough(node, out_name)

    def _fill_dims(self, node: Any, out: str, x: Live, step: Step, axes: tuple[int, ...],
                   size: Ints) -> None:
        """Where shape inference could not follow, the dims atrous computed: the spatial sizes,
        and the other axes of the input when the op keeps the layout (later ``Shape`` nodes
        read them)."""
        dims = self.shapes.get(out)
        rank = x.rank if step.rank is None else step.rank
        new: list[int | None] = list(dims) if dims is not None and len(dims) == rank else (
            [None] * rank)
        for a, n in zip(axes, size):
            new[a] = n if new[a] is None else new[a]
        src = self.shapes.get(node.input[0])
        if step.rank is None and step.axes is None and src is not None and len(src) == rank:
            for p in range(rank):
                if new[p] is None and (p == x.batch or node.op_type not in _CHANNELS):
                    new[p] = src[p]
        self.shapes[out] = tuple(new)

    def _passthrough(self, node: Any, done: str) -> None:
        """Outputs beyond the first (indices, masks, statistics) become opaque nodes (dropped
        again by the builder's ``finish`` when nothing reads them)."""
        for k, extra in enumerate(node.output):
            if extra and extra != done and extra in self.live_names:
                self._opaque_one(node, [done], extra,
                                 f"its output #{k} ({extra!r}) is not modelled")

    def _opaque(self, node: Any, ins: Sequence[str], reason: str) -> None:
        for out in node.output:
            if out and out in self.live_names:
                self._opaque_one(node, ins, out, reason)

    def _opaque_one(self, node: Any, ins: Sequence[str], out: str, reason: str) -> None:
        x = self.tensors[ins[0]]
        srcs = [self.tensors[i].node for i in ins]
        shape = self.dims(out)
        rank = len(shape) if shape is not None else x.rank
        axes = x.axes if rank == x.rank else ()
        seen = self.observed(out, axes, x.phase) if axes else None
        size = seen if seen is not None else x.size
        label = f"{node.op_type} node {node.name!r}" if node.name else node.op_type
        name = self.b.add(None, srcs, size, self.base_name(node), op=label, reason=reason,
                          meta=self.meta(node, out, None))
        self.tensors[out] = replace(x, node=name, rank=rank, axes=axes, size=size)

    def _merge(self, node: Any, ins: list[str]) -> None:
        op = node.op_type
        if op not in MERGE_OPS:
            self._opaque(node, ins, "no analytic model for this ONNX operator with several "
                         "inputs that depend on the model input")
            return
        xs = [self.tensors[i] for i in ins]
        out_name = node.output[0]
        shape = self.dims(out_name)
        rank = max(x.rank for x in xs) if shape is None else len(shape)
        spatial = [x for x in xs if x.axes and not x.folded]
        if not spatial:
            self._emit_merge(node, ins, Live(xs[0].node, rank, (), (1,) * self.ndim,
                                             None, 1, any(x.folded for x in xs)))
            return
        if any(x.folded for x in xs):
            self._opaque(node, ins, "it combines a spatial map with values whose spatial axes "
                         "a reshape folded away")
            return
        shifted = {tuple(a + rank - x.rank for a in x.axes) for x in spatial}
        phases = {x.phase for x in xs if x.axes}
        if len(shifted) > 1 or len(phases) > 1:
            self._opaque(node, ins, "its inputs do not line up their spatial axes (or phases)")
            return
        axes = shifted.pop()
        size = tuple(max(v) for v in zip(*(x.size for x in spatial)))
        ref = spatial[0]
        self._emit_merge(node, ins, Live(ref.node, rank, axes, size, ref.batch, phases.pop(),
                                         False, ref.phase_node))

    def _emit_merge(self, node: Any, ins: list[str], like: Live) -> None:
        out_name = node.output[0]
        srcs = [self.tensors[i].node for i in ins]
        seen = self.observed(out_name, like.axes, like.phase) if like.axes else None
        out = seen if seen is not None else like.size
        mode: MergeMode = "concat" if node.op_type == "Concat" else (
            "mul" if node.op_type in ("Mul", "Div", "And", "Pow") else "add")
        name = self.b.add(Merge(mode), srcs, out, self.base_name(node), op=node.op_type,
                          meta=self.meta(node, out_name, None))
        if like.axes and like.phase == 1 and None in (self.shapes.get(out_name) or (None,)):
            first = next(self.tensors[i] for i in ins if self.tensors[i].rank == like.rank)
            self._fill_dims(node, out_name, first, Step([]), like.axes, self.b.size(name))
        self.tensors[out_name] = replace(like, node=name, size=self.b.size(name))


def _known(dims: Dims | None) -> Ints | None:
    """``dims`` when shape inference knows every entry, else None.

    >>> _known((1, 8, 32, 32)), _known((1, None, 32, 32)), _known(None)
    ((1, 8, 32, 32), None, None)
    """
    if dims is None:
        return None
    known = tuple(d for d in dims if d is not None)
    return known if len(known) == len(dims) else None


def _join_scopes(parts: Sequence[str]) -> str:
    """The module path from exporter scopes, where a scope may be relative to an ancestor
    (TorchScript's ``/aspp/convs.0/convs.0.0/Conv`` is module ``aspp.convs.0.0``) or full
    (the dynamo exporter's ``['aspp', 'aspp.convs.0', 'aspp.convs.0.0']``).

    >>> _join_scopes(["aspp", "convs.0", "convs.0.0"]), _join_scopes(["layer3", "layer3.0", "c"])
    ('aspp.convs.0.0', 'layer3.0.c')
    >>> _join_scopes(["aspp", "aspp.convs.0", "aspp.convs.0.0"])
    'aspp.convs.0.0'
    """
    comps: list[str] = []
    fulls: list[str] = []
    for c in parts:
        k = next((i for i in range(len(comps) - 1, -1, -1) if c.startswith(comps[i] + ".")),
                 None)
        if k is not None:  # c extends an earlier scope's name (relative or full): replace it
            full = fulls[k][: len(fulls[k]) - len(comps[k])] + c
        else:
            full = f"{fulls[-1]}.{c}" if fulls else c
        comps.append(c)
        fulls.append(full)
    return fulls[-1] if fulls else ""


def _global_value(cv: Converter, node: Any, x: Live) -> Step:
    """Any op on a value with no spatial extent left is pointwise (unless it unfolds)."""
    out = cv.dims(node.output[0])
    if x.folded and out is not None and node.op_type in ("Reshape", "Unsqueeze", "Expand",
                                                          "Tile", "Resize", "Upsample"):
        big = [d for d in out[2:] if d is not None and d > 1]
        if big:
            raise Unsupported("it unfolds a tensor whose spatial axes an earlier reshape folded "
                              "away; which pixel each value came from is not tracked")
    rank = len(out) if out is not None else x.rank
    return Step([Pointwise(node.op_type.lower())], axes=(), rank=rank)


def convert(onnx: Any, model: Any, name: str, input_size: Sequence[int] | None,
            stripped: set[str] | None = None) -> Graph:
    """The Graph of ``model`` analysed at ``input_size`` (see :func:`atrous.onnx.to_graph`);
    ``stripped`` names initializers whose data was not read."""
    from . import _ops  # noqa: F401  (registers the handlers)

    cv = Converter(onnx, model, name, input_size, stripped or set())
    return cv.run()


MultiHandler = Callable[[Converter, Any, list[str]], None]
MULTI: dict[str, MultiHandler] = {}
MERGE_OPS = {"Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean", "Where", "Pow", "And",
             "Or", "Xor", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Concat",
             "PRelu", "Mod", "BitShift"}
PHASE_SAFE: set[Handler] = set()
TF_OPS = {"SpaceToBatchND", "BatchToSpaceND"}
_CHANNELS = {"Conv", "ConvTranspose", "MatMul", "Gemm", "SpaceToDepth", "DepthToSpace"}

__all__ = ["HANDLERS", "MULTI", "Converter", "Live", "Step", "Unsupported", "convert", "dims_of"]
