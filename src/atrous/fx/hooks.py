"""The hook fallback: record a model that torch.fx cannot trace from one run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import AtrousError
from ..graph import Graph
from .convert import _convert
from .emit import _Builder, _set_outputs
from .functions import _FACTORIES, _values_only
from .plumbing import _dtype, _fake_mode, _first_line, _leaf, _spatial_inputs
from .registry import OpCall, TensorInfo, _fn_name
from .tracing import _covers_all, _info, _setitem_layer

_SHAPE_QUERIES = frozenset(["size", "dim", "shape", "get", "numel", "stride"])


# -- hook fallback ----------------------------------------------------------------------------
def _trace_hooks(model: Any, shapes: Sequence[tuple[int, ...]], name: str, fake: bool = True,
                 *, mode: str | None = None) -> Graph:
    """Record ``model`` from one run with forward hooks: on ``mode`` ``"meta"`` tensors
    (parameters swapped for the run), ``"fake"`` tensors or ``"zeros"`` (default: ``fake``)."""
    return _HookRecorder(model, shapes, name).run(mode or ("fake" if fake else "zeros"))


class _HookRecorder:
    """Records leaf modules (forward hooks) and functions (a torch-function mode) from one run."""

    def __init__(self, model: Any, shapes: Sequence[tuple[int, ...]], name: str) -> None:
        self.model, self.shapes = model, list(shapes)
        self.nd = len(shapes[0]) - 2
        self.b = _Builder(self.nd, TensorInfo(tuple(shapes[0])).spatial(self.nd), name, "hooks")
        self.live: dict[int, str] = {}
        self.keep: list[Any] = []  # recorded tensors stay alive so their ids stay unique
        self.stack: list[str] = [""]
        self.depth = 0
        self.seen_params: set[int] = set()
        self.paths = {id(m): p for p, m in model.named_modules()}
        self.leaves = {id(m) for p, m in model.named_modules() if p and _leaf(m, p)}

    def run(self, mode: str) -> Graph:
        import torch

        from .tracing import _MetaParameters

        handles = []
        for m in self.model.modules():
            if m is not self.model:
                handles.append(m.register_forward_pre_hook(self._pre))
                handles.append(m.register_forward_hook(self._post))
        try:
            with torch.no_grad():
                if mode == "meta":
                    with _MetaParameters(self.model):
                        result = self._call(lambda s, dtype: torch.empty(s, dtype=dtype,
                                                                         device="meta"))
                elif mode == "fake":
                    with _fake_mode():
                        result = self._call(torch.empty)
                else:
                    result = self._call(torch.zeros)
        finally:
            for h in handles:
                h.remove()
        _set_outputs(self.b, result, lambda o: self.live.get(id(o)) if _is_tensor(o) else None)
        return self.b.finish()

    def _call(self, make: Any) -> Any:
        from torch.overrides import TorchFunctionMode

        recorder = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func: Any, types: Any, args: Any = (),
                                   kwargs: Any = None) -> Any:
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                recorder._function(func, args, kwargs, out)
                return out

        xs = [make(s, dtype=_dtype(self.model)) for s in self.shapes]
        for x, image in zip(xs, _spatial_inputs(self.shapes)):
            if image:
                self.live[id(x)] = "input"
        self.keep.extend(xs)
        with Mode():
            return self.model(*xs)

    # -- hooks ------------------------------------------------------------------------------
    def _function(self, func: Any, args: Any, kwargs: Any, out: Any) -> None:
        if self.depth:
            return
        op_name = _fn_name(func)
        if op_name in _SHAPE_QUERIES:
            return
        scope = self.stack[-1]
        path = f"{scope}.{op_name}" if scope else op_name
        if op_name == "setitem":
            self._setitem(path, args)
        else:
            self._record(func, op_name, path, args, kwargs, out, None, 0)

    def _pre(self, m: Any, args: Any) -> None:
        if id(m) in self.leaves:
            self.depth += 1
        elif self.depth == 0:
            self.stack.append(self.paths.get(id(m), ""))

    def _post(self, m: Any, args: Any, out: Any) -> None:
        if id(m) in self.leaves:
            self.depth -= 1
            if self.depth == 0:
                params = 0
                if id(m) not in self.seen_params:
                    self.seen_params.add(id(m))
                    params = sum(int(p.numel()) for p in m.parameters())
                self._record(m, type(m).__name__, self.paths.get(id(m), ""), args, {}, out, m,
                             params)
        elif self.depth == 0 and len(self.stack) > 1:
            self.stack.pop()

    # -- recording --------------------------------------------------------------------------
    def _sub(self, a: Any, srcs: list[str], infos: list[TensorInfo]) -> Any:
        if _is_tensor(a):
            ref = self.live.get(id(a))
            if ref is not None:
                srcs.append(ref)
                info = self.b.info(ref, a.shape)
                infos.append(info)
                return info
            return _info(a, False)
        if isinstance(a, (list, tuple)):
            return type(a)(self._sub(v, srcs, infos) for v in a)
        if isinstance(a, dict):
            return {k: self._sub(v, srcs, infos) for k, v in a.items()}
        return a

    def _record(self, target: Any, op_name: str, path: str, args: Any, kwargs: Any, out: Any,
                module: Any, params: int) -> None:
        srcs: list[str] = []
        infos: list[TensorInfo] = []
        a = tuple(self._sub(v, srcs, infos) for v in args)
        k = {key: self._sub(v, srcs, infos) for key, v in (kwargs or {}).items()}
        _values_only(op_name, a, srcs, infos)
        if not srcs or op_name in _FACTORIES:
            if args and _is_tensor(args[0]) and out is args[0]:
                self.live.pop(id(args[0]), None)  # overwritten in place with constants
            return
        elements = list(_tensors(out))
        for i, e in enumerate(elements):
            info = self.b.output_info(op_name, infos, e.shape, a, k)
            call = OpCall(target, op_name, path, a, k, tuple(infos), info, self.nd)
            layer, reason, notes = _convert(call, module)
            base = path if len(elements) == 1 else f"{path}.{i}"
            node = self.b.emit(call, list(srcs), layer, reason, params if i == 0 else 0, base,
                               None, notes if i == 0 else ())
            self.live[id(e)] = node
            self.keep.append(e)

    def _setitem(self, path: str, args: Any) -> None:
        """``y[idx] = v``: y's node becomes v, a merge of y and v, or an opaque node."""
        srcs: list[str] = []
        infos: list[TensorInfo] = []
        a = tuple(self._sub(v, srcs, infos) for v in args)
        y = args[0]
        if not _is_tensor(y) or len(a) < 2:
            return
        if _covers_all(a[1], tuple(y.shape)) and id(y) in self.live:
            srcs, infos = srcs[1:], infos[1:]
        if not srcs:
            self.live.pop(id(y), None)
            return
        call = OpCall("setitem", "setitem", path, a, {}, tuple(infos), _info(y, True), self.nd)
        layer, reason = _setitem_layer(call, a[1], len(srcs))
        self.live[id(y)] = self.b.emit(call, list(srcs), layer, reason, 0, path, None, ())


def _tensors(obj: Any) -> Iterator[Any]:
    if _is_tensor(obj):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


_HOW = {"meta": "recorded from one run on meta tensors",
        "fake": "recorded from one run on fake tensors",
        "zeros": "recorded from one run on an all-zeros input"}


def _fallback(model: Any, shapes: Sequence[tuple[int, ...]], name: str, why: str) -> Graph:
    """The hook recorder on meta tensors, then fake ones, then zeros; the graph is incomplete."""
    errors: list[str] = []
    for mode in ("meta", "fake", "zeros"):
        if mode == "fake" and "cannot be called on meta tensors" in errors[-1]:
            continue  # a data-dependent branch: fake tensors cannot decide it either
        try:
            g = _trace_hooks(model, shapes, name, mode=mode)
        except AtrousError:
            raise
        except Exception as exc:
            errors.append(_first_line(exc))
            continue
        how = _HOW[mode] + (f" (meta tensors failed: {errors[0]})" if errors else "")
        break
    else:
        raise AtrousError(
            f"cannot trace {name} (torch.fx: {why}) nor run it on an input of shape "
            f"{_shapes_text(shapes)} ({errors[-1]})") from None
    g.incomplete = (f"torch.fx could not trace {name} ({why}); the graph was {how} with "
                    "forward hooks, so it shows only the path that input took (partial)")
    g.diagnostics.insert(0, g.incomplete)
    return g


def _shapes_text(shapes: Sequence[tuple[int, ...]]) -> str:
    return str(shapes[0]) if len(shapes) == 1 else ", ".join(str(s) for s in shapes)
