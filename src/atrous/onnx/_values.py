"""Shapes and constant values of an ONNX graph.

Shapes come from ONNX shape inference (with data propagation) run on a light copy of the model
whose input has the concrete shape being analysed; weights are left out of that copy (only their
shapes matter). Values (initializers, ``Constant`` nodes, and whatever is computed from them and
from the *shapes* of live tensors, such as a ``Resize``'s target size) are folded on demand with
ONNX's reference evaluator, one node at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import AtrousError
from ._load import dims_of

Dims = tuple[int | None, ...]

_SMALL = 64  # initializers up to this many elements keep their data for shape inference


def infer_shapes(onnx: Any, model: Any, input_name: str, shape: tuple[int, ...],
                 folded: dict[str, np.ndarray]) -> dict[str, Dims]:
    """Every value's dims (None where unknown) for the given input shape.

    ``folded`` holds constant values computed beforehand: their nodes are replaced by
    initializers, so that shapes computed from constants (a ``Pad``'s pads built by a chain of
    ``ConstantOfShape``, ``Reshape``, ``Transpose``) are known to the inference.
    """
    from onnx import numpy_helper

    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    g = light.graph
    for node in model.graph.node:
        if node.output and all(o in folded for o in node.output if o):
            continue
        g.node.append(node)
    g.name = model.graph.name
    for name, value in folded.items():
        g.initializer.append(numpy_helper.from_array(np.asarray(value), name))
    init_names = set()
    for t in model.graph.initializer:
        init_names.add(t.name)
        if (int(np.prod(t.dims, dtype=np.int64)) <= _SMALL and not t.external_data
                and (t.raw_data or not t.HasField("raw_data"))):
            g.initializer.append(t)
        else:
            g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for vi in model.graph.input:
        if vi.name in init_names:
            continue
        if vi.name == input_name:
            elem = vi.type.tensor_type.elem_type or onnx.TensorProto.FLOAT
            g.input.append(onnx.helper.make_tensor_value_info(vi.name, elem, list(shape)))
        else:
            g.input.append(vi)
    for vi in model.graph.output:
        elem = vi.type.tensor_type.elem_type if vi.type.HasField("tensor_type") else 0
        g.output.append(onnx.helper.make_tensor_value_info(vi.name, elem, None))
    for f in model.functions:
        light.functions.append(f)
    try:
        inferred = onnx.shape_inference.infer_shapes(light, strict_mode=False, data_prop=True)
    except Exception:
        inferred = light  # shapes stay unknown; converters fall back to atrous' own sizes
    out: dict[str, Dims] = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = dims_of(vi)
        if dims is not None:
            out[vi.name] = tuple(d if isinstance(d, int) and d >= 0 else None for d in dims)
    for t in model.graph.initializer:
        out[t.name] = tuple(int(d) for d in t.dims)
    return out


_MAX_FOLD = 1 << 20  # elements


def _small_result(op: str, args: list[np.ndarray | None]) -> bool:
    """False when folding ``op`` could build a huge array (a malformed or hostile model)."""
    try:
        if any(a is not None and a.size > _MAX_FOLD for a in args):
            return False
        if op == "ConstantOfShape" and args[0] is not None:
            return int(np.prod(args[0].astype(np.float64))) <= _MAX_FOLD
        if op == "Range" and all(a is not None for a in args[:3]):
            start, limit, delta = (float(np.asarray(a).reshape(-1)[0]) for a in args[:3])
            return delta != 0 and abs((limit - start) / delta) <= _MAX_FOLD
        if op in ("Expand", "Tile") and args[0] is not None and args[1] is not None:
            grow = np.abs(args[1].astype(np.float64)).reshape(-1)
            return float(np.prod(grow)) * max(args[0].size, 1) <= _MAX_FOLD
    except (TypeError, ValueError, OverflowError, IndexError):
        return False
    return True


class Values:
    """Constant values of the graph, folded on demand.

    Args:
        onnx: the onnx module.
        model: the ModelProto.
        opset: default-domain opset.
        live: names of the tensors that depend on the model input (never folded).
        shapes: dims of every value (``Shape`` of a live tensor folds when they are static).
    """

    def __init__(self, onnx: Any, model: Any, opset: int, live: set[str],
                 shapes: dict[str, Dims], stripped: set[str] | None = None) -> None:
        self._onnx = onnx
        self._model = model
        self._opset = opset
        self._live = live
        self._shapes = shapes
        self._inits = {t.name: t for t in model.graph.initializer}
        self._stripped = stripped or set()  # initializers whose data was not read
        self._cache: dict[str, np.ndarray | None] = {}
        self.pending: set[str] = set()
        self._producer: dict[str, Any] = {}
        for node in model.graph.node:
            for out in node.output:
                if out:
                    self._producer[out] = node

    def set_shapes(self, shapes: dict[str, Dims]) -> None:
        """Use these dims for ``Shape`` nodes from now on (values that needed them are
        computed again)."""
        self._shapes = shapes
        self._cache = {k: v for k, v in self._cache.items() if v is not None}

    def folded(self, limit: int = 4096) -> dict[str, np.ndarray]:
        """Fold every node that does not depend on the input or on a shape; the small values
        (at most ``limit`` elements) that did not come from an initializer."""
        out = {}
        for name, node in self._producer.items():
            if name in self._live or node.op_type == "Constant":
                continue
            value = self.get(name)
            if value is not None and value.size <= limit:
                out[name] = value
        return out

    def get(self, name: str) -> np.ndarray | None:
        """The value of ``name`` when it is a constant (None otherwise)."""
        if not name:
            return None
        if name in self._cache:
            return self._cache[name]
        self._cache[name] = None  # guards against re-entry
        value = self._compute(name)
        self._cache[name] = value
        return value

    def _compute(self, name: str) -> np.ndarray | None:
        from onnx import numpy_helper

        if name in self._inits:
            if name in self._stripped:
                return None
            try:
                return np.asarray(numpy_helper.to_array(self._inits[name]))
            except Exception as exc:
                raise AtrousError(f"cannot read initializer {name!r}: {exc}") from None
        node = self._producer.get(name)
        if node is None:
            return None
        if node.op_type == "Shape" and node.domain in ("", "ai.onnx"):
            return self._shape_of(node)
        if name in self._live or node.domain not in ("", "ai.onnx"):
            return None
        if node.op_type == "Constant":
            return self._constant(node)
        args = [self.get(i) if i else None for i in node.input]
        if any(a is None for a, i in zip(args, node.input) if i):
            return None
        if node.op_type == "Identity":  # exporters wrap shared weights in Identity nodes
            return args[0]
        if not _small_result(node.op_type, args):
            return None  # a constant this large is never a shape, pad or scale
        try:
            outs = self._evaluate(node, args)
        except Exception:
            return None
        for out, value in zip(node.output, outs):
            if out:
                self._cache[out] = None if value is None else np.asarray(value)
        return self._cache.get(name)

    def _shape_of(self, node: Any) -> np.ndarray | None:
        dims = self._shapes.get(node.input[0])
        if dims is None or any(d is None for d in dims):
            return None
        arr = np.array(dims, dtype=np.int64)
        start = end = None
        for a in node.attribute:
            if a.name == "start":
                start = int(a.i)
            elif a.name == "end":
                end = int(a.i)
        return arr[start:end]

    def _constant(self, node: Any) -> np.ndarray | None:
        from onnx import helper, numpy_helper

        for a in node.attribute:
            if a.name == "value":
                return np.asarray(numpy_helper.to_array(a.t))
            if a.name in ("value_float", "value_int", "value_floats", "value_ints"):
                return np.asarray(helper.get_attribute_value(a))
        return None

    def _evaluate(self, node: Any, args: list[np.ndarray | None]) -> list[Any]:
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        ins = [f"in{k}" if name else "" for k, name in enumerate(node.input)]
        outs = [f"out{k}" for k in range(len(node.output))]
        one = helper.make_node(node.op_type, ins, outs, domain=node.domain)
        one.attribute.extend(node.attribute)
        graph = helper.make_graph(
            [one], "fold",
            [helper.make_empty_tensor_value_info(n) for n in ins if n],
            [helper.make_empty_tensor_value_info(n) for n in outs],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self._opset)])
        feeds = {n: a for n, a in zip(ins, args) if n}
        result = ReferenceEvaluator(model).run(None, feeds)
        return list(result)
