"""Reading and checking an ONNX model: the file, the opset, the graph's wiring, the input shape.

Every problem is an :class:`~atrous.errors.AtrousError` with a one-line message that names the
file, node or input and the rule it broke.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

from ..errors import AtrousError

INSTALL_HINT = "the ONNX front end needs the onnx package: pip install atrous[onnx]"


def import_onnx() -> Any:
    """The ``onnx`` module, or a one-line error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise AtrousError(INSTALL_HINT) from None
    return onnx


def is_onnx_target(target: Any) -> bool:
    """True for a path ending in ``.onnx`` or an ``onnx.ModelProto`` (without importing onnx)."""
    if isinstance(target, (str, pathlib.PurePath)):
        return str(target).lower().endswith(".onnx")
    cls = type(target)
    return cls.__name__ == "ModelProto" and cls.__module__.startswith("onnx")


def load_model(target: Any) -> tuple[Any, str, set[str]]:
    """The ``ModelProto``, a display name for it, and the initializers whose data was not read.

    A file is read without the data of large weights (:mod:`._wire`); small external tensors
    are loaded, large ones only checked to exist.
    """
    onnx = import_onnx()
    if isinstance(target, onnx.ModelProto):
        return target, target.graph.name or "onnx model", set()
    path = pathlib.Path(target)
    if not path.is_file():
        raise AtrousError(f"no ONNX file at {str(path)!r}")
    from ._wire import read_without_weights

    light = read_without_weights(os.fspath(path))
    if light is not None:
        model, stripped = light
    else:
        try:
            model = onnx.load(os.fspath(path), load_external_data=False)
        except Exception as exc:  # protobuf's DecodeError and friends
            raise AtrousError(
                f"{str(path)!r} is not a readable ONNX model ({_first_line(exc)})"
            ) from None
        stripped = set()
    if not model.graph.node and not model.graph.input:
        raise AtrousError(f"{str(path)!r} is not an ONNX model (no graph inside)")
    stripped |= _load_external(onnx, model, path)
    return model, path.stem, stripped


def _load_external(onnx: Any, model: Any, path: pathlib.Path) -> set[str]:
    """Check that every external tensor's file exists; load the small ones. Returns the names
    of the large ones (their data is not needed)."""
    from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

    from ._wire import KEEP_BYTES

    external = [t for t in model.graph.initializer if uses_external_data(t)]
    missing = []
    for t in external:
        loc = next((e.value for e in t.external_data if e.key == "location"), "")
        if not (path.parent / loc).is_file():
            missing.append(f"{t.name!r} (file {loc!r})")
    if missing:
        raise AtrousError(
            f"{str(path)!r} keeps weights in external data that is missing: "
            f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
        )
    skipped = set()
    for t in external:
        length = next((int(e.value) for e in t.external_data if e.key == "length"), None)
        if length is None or length > KEEP_BYTES:
            skipped.add(t.name)
            continue
        try:
            load_external_data_for_tensor(t, os.fspath(path.parent))
        except Exception as exc:
            raise AtrousError(
                f"cannot read the external data of {t.name!r} in {str(path)!r} "
                f"({_first_line(exc)})"
            ) from None
        t.data_location = onnx.TensorProto.DEFAULT
        del t.external_data[:]
    return skipped


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_opset(onnx: Any, model: Any) -> int:
    """The default-domain opset, refused when atrous' onnx does not know it."""
    known = int(onnx.defs.onnx_opset_version())
    version = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            version = int(imp.version)
    if version is None:
        if not model.opset_import:
            raise AtrousError("the ONNX model declares no opset (opset_import is empty)")
        return known
    if version < 1 or version > known:
        raise AtrousError(
            f"the ONNX model uses opset {version}; the installed onnx knows opsets 1 to {known}"
        )
    return version


def topo_order(graph: Any, defined: set[str]) -> list[Any]:
    """The graph's nodes in dependency order; refuses undefined inputs and cycles."""
    producer: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for out in node.output:
            if out:
                producer[out] = i
    deps: list[set[int]] = []
    for node in graph.node:
        d = {producer[n] for n in implicit_inputs(node) if n in producer}
        for name in node.input:
            if not name or name in defined:
                continue
            if name not in producer:
                raise AtrousError(
                    f"node {_label(node)} reads {name!r}, which no node, input or "
                    "initializer defines"
                )
            d.add(producer[name])
        deps.append(d)
    order: list[int] = []
    state = [0] * len(deps)  # 0 new, 1 on the stack, 2 done
    for root in range(len(deps)):
        if state[root]:
            continue
        stack: list[tuple[int, list[int]]] = [(root, sorted(deps[root]))]
        state[root] = 1
        while stack:
            i, todo = stack[-1]
            if todo:
                j = todo.pop()
                if state[j] == 1:
                    raise AtrousError(
                        f"the ONNX graph has a cycle through node {_label(graph.node[j])}"
                    )
                if state[j] == 0:
                    state[j] = 1
                    stack.append((j, sorted(deps[j])))
                continue
            stack.pop()
            state[i] = 2
            order.append(i)
    return [graph.node[i] for i in order]


def implicit_inputs(node: Any) -> set[str]:
    """Names a node's subgraphs (``If``, ``Loop``, ``Scan`` bodies) read from outside them."""
    from onnx import AttributeProto

    out: set[str] = set()
    for a in node.attribute:
        graphs = [a.g] if a.type == AttributeProto.GRAPH else list(a.graphs)
        for g in graphs:
            inner = {vi.name for vi in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                inner.update(o for o in n.output if o)
            for n in g.node:
                out.update(i for i in n.input if i and i not in inner)
                out.update(i for i in implicit_inputs(n) if i not in inner)
    return out


def _label(node: Any) -> str:
    return f"{node.name!r} ({node.op_type})" if node.name else f"{node.op_type}"


def dims_of(value_info: Any) -> list[int | str | None] | None:
    """The dims of a value's tensor type: ints, symbolic names, or None; None without a shape."""
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out: list[int | str | None] = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def input_shape(value_info: Any, input_size: Sequence[int] | None) -> tuple[int, ...]:
    """The full input shape: the model's static one, or ``input_size`` (full or spatial)."""
    dims = dims_of(value_info)
    name = value_info.name
    if input_size is not None:
        if isinstance(input_size, int):
            input_size = (input_size,)
        if isinstance(input_size, (str, bytes)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in input_size
        ):
            raise AtrousError(
                f"input_size must be sizes >= 1 like (1, 3, 64, 64), got {input_size!r}"
            )
        size = tuple(int(v) for v in input_size)
        if dims is None or len(size) == len(dims):
            full = size
        elif len(size) == len(dims) - 2 and all(isinstance(d, int) for d in dims[:2]):
            full = (int(dims[0]), int(dims[1]), *size)  # type: ignore[arg-type]
        else:
            raise AtrousError(
                f"input {name!r} has {len(dims)} axes {_show(dims)}, but input_size is {size}"
            )
        for axis, (d, v) in enumerate(zip(dims or (), full)):
            if isinstance(d, int) and d != v and axis < 2:
                raise AtrousError(
                    f"input {name!r} has size {d} on axis {axis} {_show(dims or [])}, "
                    f"but input_size gives {v}"
                )
        return full
    if dims is None:
        raise AtrousError(f"input {name!r} has no shape in the model: pass input_size")
    if not all(isinstance(d, int) and d >= 1 for d in dims):
        raise AtrousError(
            f"input {name!r} has symbolic dimensions {_show(dims)}: pass input_size "
            f"(a full shape like {_example(dims)})"
        )
    return tuple(int(d) for d in dims)  # type: ignore[arg-type]


def _show(dims: Sequence[Any]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def _example(dims: Sequence[Any]) -> str:
    return "x".join(str(d) if isinstance(d, int) and d > 0 else "64" for d in dims)
