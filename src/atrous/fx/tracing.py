"""The torch.fx path: symbolic trace, shape propagation, and the walk that builds the Graph."""

from __future__ import annotations

import operator
from typing import Any

from ..graph import Graph
from .convert import _convert
from .emit import _Builder, _set_outputs
from .functions import _FACTORIES, _values_only
from .plumbing import _dtype, _fake_mode, _leaf
from .registry import _FUNCTIONS_BY_OBJ, OpCall, TensorInfo, _fn_name


# -- torch.fx path -----------------------------------------------------------------------------
def _trace_fx(model: Any, input_shape: tuple[int, ...], name: str) -> Graph:
    import torch
    import torch.fx as fx

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return _leaf(m, qualname)

    autowrap = tuple(f for f in _FUNCTIONS_BY_OBJ
                     if getattr(f, "__module__", None) not in (None, "builtins")
                     and type(f).__name__ == "function")
    tracer = Tracer(autowrap_functions=autowrap)
    graph = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, graph, name)
    values: dict[Any, Any] = {}

    keep_shape = _shape_preserving()

    class Recorder(fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            out = super().run_node(n)
            values[n] = out
            return out

        def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
            # norms and activations keep the shape: skip their (slow, decomposed) fake kernels
            mod = self.fetch_attr(target)
            if (isinstance(mod, keep_shape) and len(args) == 1 and not kwargs
                    and isinstance(args[0], torch.Tensor)):
                return args[0]
            return super().call_module(target, args, kwargs)

    try:
        with _fake_mode(), torch.no_grad():
            Recorder(gm).run(torch.empty(input_shape, dtype=_dtype(model)))
    except Exception:
        # e.g. a registered leaf with data-dependent control flow: shapes from one real run
        values.clear()
        with torch.no_grad():
            Recorder(gm).run(torch.zeros(input_shape, dtype=_dtype(model)))
    return _build_from_fx(gm, values, input_shape, name)


def _shape_preserving() -> tuple[type, ...]:
    import torch.nn as nn

    names = [
        "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
        "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "Hardtanh", "Softplus", "Identity"
    ]
    return (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
            nn.modules.dropout._DropoutNd, *(getattr(nn, n) for n in names))


def _info(value: Any, live: bool) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return TensorInfo(tuple(int(s) for s in value.shape), live)
    return value


def _build_from_fx(gm: Any, values: dict[Any, Any], input_shape: tuple[int, ...],
                   name: str) -> Graph:
    import torch
    import torch.fx as fx

    nd = len(input_shape) - 2
    b = _Builder(nd, TensorInfo(input_shape).spatial(nd), name, "fx")
    live: dict[Any, Any] = {}  # fx node -> graph node name, or list of names for tuples
    modules = dict(gm.named_modules())
    seen_params: set[int] = set()
    seen_attrs: set[str] = set()
    outputs: Any = None

    def path_of(n: Any) -> str:
        stack = n.meta.get("nn_module_stack") or {}
        return list(stack.values())[-1][0] if stack else ""

    for n in gm.graph.nodes:
        val = values.get(n)
        if n.op == "placeholder":
            live[n] = "input"
            continue
        if n.op == "output":
            outputs = n.args[0]
            continue
        if n.op == "get_attr":
            continue
        srcs: list[str] = []
        infos: list[TensorInfo] = []

        def sub(a: Any, srcs: list[str] = srcs, infos: list[TensorInfo] = infos) -> Any:
            if isinstance(a, fx.Node):
                if a in live:
                    ref = live[a]
                    if isinstance(ref, list):
                        out = []
                        for r, v in zip(ref, values[a]):
                            srcs.append(r)
                            info = _info(v, True)
                            infos.append(info)
                            out.append(info)
                        return tuple(out)
                    srcs.append(ref)
                    info = _info(values[a], True)
                    infos.append(info)
                    return info
                return _info(values.get(a), False)
            if isinstance(a, (list, tuple)):
                return type(a)(sub(v) for v in a)
            if isinstance(a, slice):
                return slice(sub(a.start), sub(a.stop), sub(a.step))
            if isinstance(a, dict):
                return {k: sub(v) for k, v in a.items()}
            return a

        args = tuple(sub(a) for a in n.args)
        kwargs = {k: sub(v) for k, v in n.kwargs.items()}
        _values_only(_fn_name(n.target), args, srcs, infos)
        if not srcs or _fn_name(n.target) in _FACTORIES:
            continue  # a constant: does not depend on the input's values
        if n.op == "call_function" and n.target is operator.getitem and isinstance(
                live.get(n.args[0]), list):
            live[n] = live[n.args[0]][int(n.args[1])]
            continue
        module = modules.get(n.target) if n.op == "call_module" else None
        label: str | None = None
        if module is not None:
            target: Any = module
            op_name = type(module).__name__
            path = str(n.target)
            params = 0
            if id(module) not in seen_params:
                seen_params.add(id(module))
                params = sum(int(p.numel()) for p in module.parameters())
        else:
            target = n.target
            op_name = _fn_name(n.target)
            scope = path_of(n)
            path = f"{scope}.{op_name}" if scope else op_name
            params = 0
            # a wrapped function handed its module (atrous.nn's PooledBatchNorm2d calls
            # _pooled_batch_norm_module(x, self)): the row is that module, with its parameters
            owner = next((a for a in n.all_input_nodes if a.op == "get_attr"
                          and isinstance(values.get(a), torch.nn.Module)), None)
            if owner is not None:
                owner_mod = values[owner]
                path, label = str(owner.target), type(owner_mod).__name__
                if id(owner_mod) not in seen_params:
                    seen_params.add(id(owner_mod))
                    params = sum(int(p.numel()) for p in owner_mod.parameters())
            # parameters read directly or through constant ops (e.g. a standardised weight)
            todo = [a for a in n.all_input_nodes if a not in live]
            visited: set[Any] = set()
            while todo:
                a = todo.pop()
                if a in visited:
                    continue
                visited.add(a)
                if a.op == "get_attr":
                    val_a = values.get(a)
                    if isinstance(val_a, torch.nn.Parameter) and a.target not in seen_attrs:
                        seen_attrs.add(a.target)
                        params += int(val_a.numel())
                elif a.op != "placeholder":
                    todo.extend(x for x in a.all_input_nodes if x not in live)
        elements = list(val) if isinstance(val, (tuple, list)) else [val]
        if not all(isinstance(e, torch.Tensor) for e in elements) or not elements:
            continue  # sizes, shapes, python values
        names = []
        for i, e in enumerate(elements):
            call = OpCall(target, op_name, path, args, kwargs, tuple(infos), _info(e, True), nd)
            layer, reason, notes = _convert(call, module)
            base = path if len(elements) == 1 else f"{path}.{i}"
            names.append(b.emit(call, list(srcs), layer, reason, params if i == 0 else 0, base,
                                label, notes if i == 0 else ()))
        live[n] = names if isinstance(val, (tuple, list)) else names[0]

    _set_outputs(b, outputs, lambda o: live.get(o) if isinstance(o, fx.Node) else None)
    return b.finish()
