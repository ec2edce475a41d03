"""The hook fallback: record a model that torch.fx cannot trace from one run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import AtrousError
from ..graph import Graph
from .convert import _convert
from .emit import _Builder, _set_outputs
from .functions import _FACTORIES, _values_only
from .plumbing import _dtype, _fake_mode, _first_line, _leaf
from .registry import OpCall, TensorInfo, _fn_name
from .tracing import _info


# -- hook fallback ----------------------------------------------------------------------------
def _trace_hooks(model: Any, input_shape: tuple[int, ...], name: str, fake: bool) -> Graph:
    import torch
    from torch.overrides import TorchFunctionMode

    nd = len(input_shape) - 2
    b = _Builder(nd, TensorInfo(input_shape).spatial(nd), name, "hooks")
    live: dict[int, str] = {}
    keep: list[Any] = []
    stack: list[str] = [""]
    depth = [0]
    seen_params: set[int] = set()
    paths = {id(m): p for p, m in model.named_modules()}

    def tensors(obj: Any) -> Iterator[Any]:
        if isinstance(obj, torch.Tensor):
            yield obj
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                yield from tensors(v)
        elif isinstance(obj, dict):
            for v in obj.values():
                yield from tensors(v)

    def sub(a: Any, srcs: list[str], infos: list[TensorInfo]) -> Any:
        if isinstance(a, torch.Tensor):
            ref = live.get(id(a))
            if ref is not None:
                srcs.append(ref)
                info = _info(a, True)
                infos.append(info)
                return info
            return _info(a, False)
        if isinstance(a, (list, tuple)):
            return type(a)(sub(v, srcs, infos) for v in a)
        if isinstance(a, dict):
            return {k: sub(v, srcs, infos) for k, v in a.items()}
        return a

    def record(target: Any, op_name: str, path: str, args: Any, kwargs: Any, out: Any,
               module: Any, params: int) -> None:
        srcs: list[str] = []
        infos: list[TensorInfo] = []
        a = tuple(sub(v, srcs, infos) for v in args)
        k = {key: sub(v, srcs, infos) for key, v in (kwargs or {}).items()}
        _values_only(op_name, a, srcs, infos)
        if not srcs or op_name in _FACTORIES:
            return
        elements = list(tensors(out))
        for i, e in enumerate(elements):
            call = OpCall(target, op_name, path, a, k, tuple(infos), _info(e, True), nd)
            layer, reason, notes = _convert(call, module)
            base = path if len(elements) == 1 else f"{path}.{i}"
            node = b.emit(call, list(srcs), layer, reason, params if i == 0 else 0, base,
                          None, notes if i == 0 else ())
            live[id(e)] = node
            keep.append(e)

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if depth[0] == 0:
                op_name = _fn_name(func)
                if op_name not in ("size", "dim", "shape", "get", "numel", "stride"):
                    scope = stack[-1]
                    record(func, op_name, f"{scope}.{op_name}" if scope else op_name, args,
                           kwargs, out, None, 0)
            return out

    handles = []
    leaves = set()
    for path, m in model.named_modules():
        if path and _leaf(m, path):
            leaves.add(id(m))

    def pre(m: Any, args: Any) -> None:
        if id(m) in leaves:
            depth[0] += 1
        elif depth[0] == 0:
            stack.append(paths.get(id(m), ""))

    def post(m: Any, args: Any, out: Any) -> None:
        if id(m) in leaves:
            depth[0] -= 1
            if depth[0] == 0:
                params = 0
                if id(m) not in seen_params:
                    seen_params.add(id(m))
                    params = sum(int(p.numel()) for p in m.parameters())
                record(m, type(m).__name__, paths.get(id(m), ""), args, {}, out, m, params)
        elif depth[0] == 0 and len(stack) > 1:
            stack.pop()

    for m in model.modules():
        if m is not model:
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
    try:
        with torch.no_grad():
            if fake:
                with _fake_mode():
                    x = torch.empty(input_shape, dtype=_dtype(model))
                    live[id(x)] = "input"
                    with Recorder():
                        result = model(x)
            else:
                x = torch.zeros(input_shape, dtype=_dtype(model))
                live[id(x)] = "input"
                with Recorder():
                    result = model(x)
    finally:
        for h in handles:
            h.remove()
    _set_outputs(b, result, lambda o: live.get(id(o)) if isinstance(o, torch.Tensor) else None)
    return b.finish()



def _fallback(model: Any, shape: tuple[int, ...], name: str, why: str) -> Graph:
    try:
        g = _trace_hooks(model, shape, name, fake=True)
        how = "recorded from one run on fake tensors"
    except AtrousError:
        raise
    except Exception as exc_fake:
        try:
            g = _trace_hooks(model, shape, name, fake=False)
            how = (f"recorded from one run on an all-zeros input (fake tensors failed: "
                   f"{_first_line(exc_fake)})")
        except AtrousError:
            raise
        except Exception as exc:
            raise AtrousError(
                f"cannot trace {name} (torch.fx: {why}) nor run it on an input of shape "
                f"{shape} ({_first_line(exc)})") from None
    g.incomplete = (f"torch.fx could not trace {name} ({why}); the graph was {how} with "
                    "forward hooks, so it shows only the path that input took (partial)")
    g.diagnostics.insert(0, g.incomplete)
    return g

