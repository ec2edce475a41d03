"""The torch.fx path: symbolic trace, shape propagation, and the walk that builds the Graph.

Shapes come from running the traced graph once on the ``meta`` device (parameters and buffers
swapped for meta tensors for the run, then restored): no data, no compute, a cost independent of
the input size. Shape-keeping modules and functions (norms, activations, dropout) are not run at
all: their output shape is their input's; convolutions, pooling, linear layers, elementwise
arithmetic, ``mean``, ``cat`` and resizing to a size get theirs from the size formula
(:mod:`atrous.fx.meta_shapes`), not from torch's Python meta kernels. Where a meta run fails
(an op without a meta kernel, a plain tensor attribute on the CPU), fake tensors are tried, then
one real run on zeros.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from typing import Any

from ..graph import Graph
from .convert import _convert
from .emit import _Builder, _set_outputs
from .functions import _FACTORIES, _values_only
from .meta_shapes import function_shortcut, method_shortcut, module_shortcut
from .plumbing import _dtype, _fake_mode, _leaf, _spatial_inputs
from .registry import _FUNCTIONS_BY_OBJ, OpCall, TensorInfo, _fn_name

Shapes = Sequence[tuple[int, ...]]

_SHAPE_KEEPING_FUNCTIONS = frozenset((  # noqa: SIM905 - a long word list reads better as text
    "batch_norm group_norm layer_norm instance_norm rms_norm relu relu6 leaky_relu gelu silu "
    "mish sigmoid tanh hardswish hardsigmoid hardtanh elu selu celu softplus dropout dropout1d "
    "dropout2d dropout3d alpha_dropout feature_alpha_dropout identity clone detach "
    "pooled_batch_norm _pooled_batch_norm_module").split())
"""Functions whose output has their first argument's shape and dtype: not run for shapes."""


def _trace_fx(model: Any, shapes: Shapes, name: str) -> Graph:
    gm = _symbolic_trace(model, name, len(shapes))
    values = _propagate(gm, model, shapes)
    return _FxWalk(gm, values, shapes, name).build()


@cache
def _tracer_class() -> type:
    """atrous' torch.fx tracer (its proxies record item assignment and unpack without
    disassembling the caller each time), made once."""
    import inspect

    import torch.fx as fx

    def cached_iter(self: Any) -> Any:
        # torch.fx's Proxy.__iter__, with its disassembly of the calling code looked up once
        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        if caller is None:
            return fx.Proxy.__iter__(self)
        count = _unpack_count(caller.f_code, caller.f_lasti)
        if count is not None:
            return (self[i] for i in range(count))
        return self.tracer.iter(self)

    class Attribute(fx.proxy.Attribute):
        __iter__ = cached_iter  # e.g. n, c, h, w = x.shape

    class Proxy(fx.Proxy):
        __iter__ = cached_iter

        def __getattr__(self, k: str) -> Any:
            return Attribute(self, k)

        def __setitem__(self, key: Any, value: Any) -> None:
            # torch.fx has no item assignment: record y[key] = value as a setitem node
            self.tracer.create_proxy("call_function", operator.setitem, (self, key, value), {})

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return _leaf(m, qualname)

        def proxy(self, node: Any) -> Any:
            return Proxy(node, self)

        def create_arg(self, a: Any) -> Any:
            # fast paths for what torch.fx's create_arg does with the commonest arguments
            kind = type(a)
            if kind is Proxy:
                return a.node
            if kind in _PLAIN_ARGS:
                return a
            if kind is tuple or kind is list:
                return kind(self.create_arg(v) for v in a)
            if kind is dict and all(type(k) is str for k in a):  # kwargs: as torch.fx maps them
                return {k: self.create_arg(v) for k, v in a.items()}
            if kind is Attribute:  # x.shape and the like: the proxy's (lazily made) node
                return a.node
            return super().create_arg(a)

        def create_args_for_root(self, *args: Any, **kwargs: Any) -> Any:
            # called by trace() once it has listed the root's modules (cleared on return)
            self.listed = getattr(self, "submodule_paths", None)
            return super().create_args_for_root(*args, **kwargs)

        def create_node(self, kind: str, target: Any, args: Any, kwargs: Any,
                        name: str | None = None, type_expr: Any = None) -> Any:
            # torch.fx's Graph.create_node walks every call's arguments (a pytree pass) for
            # symbolic ints, which a symbolic trace never makes: the node is created without
            # its arguments, which are then set as torch.fx's Node.__init__ sets them
            # the name torch.fx derives from the target (a regex per call), once per target
            if name is None:
                name = _candidate_name(self.graph, target)
            if args or kwargs:
                node = super().create_node(kind, target, (), {}, name, type_expr)
                update = getattr(node, "_update_args_kwargs", None)
                if update is not None:  # what the args/kwargs setters call
                    update(args, kwargs)
                else:
                    node.kwargs = kwargs
                    node.args = args
                return node
            return super().create_node(kind, target, args, kwargs, name, type_expr)

    return Tracer


def _symbolic_trace(model: Any, name: str, n_inputs: int = 1) -> Any:
    import inspect

    autowrap = tuple(f for f in _FUNCTIONS_BY_OBJ
                     if getattr(f, "__module__", None) not in (None, "builtins")
                     and type(f).__name__ == "function")
    tracer = _tracer_class()(autowrap_functions=autowrap)
    tracer.module_stack = _ModuleStack()
    tracer.scope = _scope_class()(tracer.scope.module_path, tracer.scope.module_type)
    # forward parameters past the given inputs keep their defaults (e.g. an optional mask=None)
    params = list(inspect.signature(model.forward).parameters.values())[n_inputs:]
    concrete = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    graph = tracer.trace(model, concrete_args=concrete or None)
    # the tracer listed the modules once (submodule_paths: module -> its named_modules name)
    listed = getattr(tracer, "listed", None)
    named = None if not listed else {path: mod for mod, path in listed.items()}
    return _Traced(tracer.root, graph, named)


class _ModuleStack(OrderedDict):  # type: ignore[type-arg]
    """torch.fx's module stack, copied into every node's meta by ``copy.copy``: here by the
    OrderedDict constructor (the same copy, without copy's reduce protocol)."""

    def __copy__(self) -> OrderedDict[Any, Any]:
        return OrderedDict(self)


@cache
def _scope_class() -> type:
    import torch.fx.proxy as fx_proxy

    class QuickScope(fx_proxy.Scope):
        """torch.fx's current-module scope, saved by ``copy.copy`` at every module call: here
        copied by its constructor (the same two fields), not copy's reduce protocol."""

        def __copy__(self) -> Any:
            return fx_proxy.Scope(self.module_path, self.module_type)

    return QuickScope


_NAMES: dict[Any, str] = {}


def _candidate_name(graph: Any, target: Any) -> str | None:
    """``graph._target_to_str(target)`` (the base of the node's name), cached per target."""
    try:
        got = _NAMES.get(target)
    except TypeError:  # an unhashable target: torch.fx derives the name itself
        return None
    if got is None:
        to_str = getattr(graph, "_target_to_str", None)  # private: absent, torch.fx names it
        if to_str is None:
            return None
        if len(_NAMES) > 50_000:  # module paths of many models: start again
            _NAMES.clear()
        got = _NAMES[target] = to_str(target)
    return got


_PLAIN_ARGS = frozenset((int, float, bool, str, type(None)))
"""Argument types torch.fx's ``Tracer.create_arg`` hands back unchanged."""

_UNPACKS: dict[tuple[Any, int], int | None] = {}


def _unpack_count(code: Any, lasti: int) -> int | None:
    """How many values the instruction at ``lasti`` unpacks (None when it is no
    ``UNPACK_SEQUENCE``): torch.fx's ``Proxy.__iter__`` test, cached per code position."""
    key = (code, lasti)
    if key not in _UNPACKS:
        import dis
        import sys
        from bisect import bisect_left

        insts = list(dis.get_instructions(code))
        if sys.version_info >= (3, 11):
            index = bisect_left(insts, lasti, key=lambda x: x.offset)
        else:
            index = lasti // 2
        inst = insts[index]
        _UNPACKS[key] = int(inst.argval) if inst.opname == "UNPACK_SEQUENCE" else None
    return _UNPACKS[key]


class _Traced:
    """A traced model: its root module and fx graph (no GraphModule: no code is generated)."""

    def __init__(self, root: Any, graph: Any, named: dict[str, Any] | None = None) -> None:
        self.root, self.graph = root, graph
        self.named = dict(root.named_modules()) if named is None else named

    def named_modules(self) -> Any:
        """``root.named_modules()``, as listed once after the trace."""
        return iter(self.named.items())

    def modules(self) -> Any:
        return self.root.modules()


def _propagate(gm: Any, model: Any, shapes: Shapes) -> dict[Any, Any]:
    """Every fx node's value on meta tensors (or fake ones, or one real run on zeros)."""
    import torch

    values: dict[Any, Any] = {}
    dtype = _dtype(model)
    recorder = _recorder_class()
    try:
        with _MetaParameters(gm, lazy=True) as params, torch.no_grad():
            recorder(gm, values, params).run(*(torch.empty(s, dtype=dtype, device="meta")
                                               for s in shapes))
        return values
    except Exception:
        values.clear()
    try:
        with _fake_mode(), torch.no_grad():
            recorder(gm, values).run(*(torch.empty(s, dtype=dtype) for s in shapes))
        return values
    except Exception:
        # e.g. a registered leaf with data-dependent control flow: shapes from one real run
        values.clear()
    with torch.no_grad():
        recorder(gm, values).run(*(torch.zeros(s, dtype=dtype) for s in shapes))
    return values


class _MetaParameters:
    """Swap every parameter and buffer of a module tree for a meta tensor; restore on exit.

    ``lazy=True`` swaps nothing on entry: the shape run calls :meth:`swap` on each module it
    runs or reads (norms and activations, which it skips, keep their tensors: most of a mobile
    network's), and exit restores whatever was swapped.
    """

    def __init__(self, root: Any, lazy: bool = False) -> None:
        self.root, self.lazy = root, lazy
        self.saved: list[tuple[dict[str, Any], str, Any]] = []
        self.memo: dict[int, Any] = {}
        self.done: set[int] = set()

    def __enter__(self) -> _MetaParameters:
        if not self.lazy:
            for mod in self.root.modules():
                self._swap_own(mod)
        return self

    def swap(self, module: Any, tree: bool = True) -> None:
        """Swap ``module``'s own tensors (and its submodules' when ``tree``) for meta ones."""
        for mod in module.modules() if tree and module._modules else (module,):
            if id(mod) not in self.done:
                self._swap_own(mod)

    def _swap_own(self, mod: Any) -> None:
        import torch

        self.done.add(id(mod))
        for table in (mod._parameters, mod._buffers):
            for key, t in table.items():
                if t is None or t.device.type == "meta":
                    continue
                meta = self.memo.get(id(t))
                if meta is None:
                    meta = torch.empty_like(t, device="meta")
                    if isinstance(t, torch.nn.Parameter):
                        meta = torch.nn.Parameter(meta, t.requires_grad)
                    self.memo[id(t)] = meta
                self.saved.append((table, key, t))
                table[key] = meta

    def __exit__(self, *exc: Any) -> None:
        for table, key, t in reversed(self.saved):
            table[key] = t
        self.saved.clear()
        self.done.clear()


@cache
def _recorder_class() -> Any:
    import torch
    import torch.fx as fx

    keep_shape = _shape_preserving()
    map_arg = fx.node.map_arg

    class Recorder(fx.Interpreter):
        """Runs the graph and keeps every node's value; skips shape-keeping calls."""

        def __init__(self, gm: Any, values: dict[Any, Any],
                     params: _MetaParameters | None = None) -> None:
            # every value is kept (values): no last-use bookkeeping to free them; the
            # modules as the trace listed them (gm.named_modules()), not walked again
            super().__init__(gm, garbage_collect_values=False, graph=gm.graph)
            self.module = gm.root
            self.values = values
            self.params = params  # the meta run's lazy parameter swap (None: none)

        def get_attr(self, target: Any, args: Any, kwargs: Any) -> Any:
            if self.params is not None:  # the owner's tensors (a module's whole tree) to meta
                owner, _, _ = str(target).rpartition(".")
                holder = self.fetch_attr(owner) if owner else self.module
                if isinstance(holder, torch.nn.Module):
                    self.params.swap(holder, tree=False)
                value = super().get_attr(target, args, kwargs)
                if isinstance(value, torch.nn.Module):
                    self.params.swap(value)
                return value
            return super().get_attr(target, args, kwargs)

        def run(self, *args: Any) -> None:  # type: ignore[override]
            # Interpreter.run without its progress bar, input/output processing and error
            # re-wording (the caller keeps the values and catches any failure)
            self.env = env = {}
            self.args_iter = iter(args)
            for node in self.graph.nodes:
                env[node] = self.run_node(node)

        def run_node(self, n: Any) -> Any:
            # Interpreter.run_node without its per-node debug log and node-meta context
            # (which only a re-trace under fx_traceback.preserve_node_meta reads); the
            # arguments fetched as fetch_args_kwargs_from_env does, without its per-call
            # closure (in graph order every argument node has its value)
            load = self.env.__getitem__
            args = map_arg(n.args, load) if n.args else ()
            kwargs = map_arg(n.kwargs, load) if n.kwargs else {}
            out = getattr(self, n.op)(n.target, args, kwargs)
            self.values[n] = out
            return out

        def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
            mod = self.submodules.get(target)
            if mod is None:
                mod = self.fetch_attr(target)
            if (isinstance(mod, keep_shape) and len(args) == 1 and not kwargs
                    and isinstance(args[0], torch.Tensor)):
                return args[0]  # norms and activations keep the shape: skip their kernels
            out = module_shortcut(mod, args, kwargs)  # a conv, pool or linear: by formula
            if out is not None:
                return out  # its own tensors never read: not swapped
            if self.params is not None:
                self.params.swap(mod)
            return super().call_module(target, args, kwargs)

        def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
            # arithmetic, mean, cat, resize: by formula
            out = _quick(target, args, kwargs, function_shortcut)
            return out if out is not None else super().call_function(target, args, kwargs)

        def call_method(self, target: Any, args: Any, kwargs: Any) -> Any:
            out = _quick(target, args, kwargs, method_shortcut)  # x.mean(dims): by formula
            return out if out is not None else super().call_method(target, args, kwargs)

    return Recorder


def _quick(target: Any, args: Any, kwargs: Any, shortcut: Any) -> Any:
    """A call's value in the shape run without running it (None: run it): its input when the
    call keeps the shape, else what ``shortcut`` makes from the size formulas."""
    import torch

    if (args and isinstance(args[0], torch.Tensor)
            and _fn_name(target) in _SHAPE_KEEPING_FUNCTIONS):
        return args[0]
    return shortcut(target, args, kwargs)


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


def _inplace(n: Any, op_name: str, module: Any) -> bool:
    """True for a call that writes into its first tensor argument."""
    if n.op == "call_method":
        name = str(n.target)
        return name.endswith("_") and not name.startswith("_")
    if n.op == "call_module":
        return bool(getattr(module, "inplace", False))
    name = getattr(n.target, "__name__", "")
    return (name.endswith("_") and not name.startswith("_")) or n.kwargs.get("inplace") is True


class _FxWalk:
    """Walks a traced GraphModule in order and emits one graph node per value-carrying call."""

    def __init__(self, gm: Any, values: dict[Any, Any], shapes: Shapes, name: str) -> None:
        self.gm, self.values = gm, values
        self.nd = len(shapes[0]) - 2
        self.shapes = list(shapes)
        self.b = _Builder(self.nd, TensorInfo(tuple(shapes[0])).spatial(self.nd), name, "fx")
        self.live: dict[Any, Any] = {}  # fx node -> graph node name, or names of a tuple
        self.modules = gm.named if isinstance(gm, _Traced) else dict(gm.named_modules())
        self.seen_params: set[int] = set()
        self.seen_attrs: set[str] = set()
        self.infos: dict[tuple[Any, str], TensorInfo] = {}

    def build(self) -> Graph:
        import torch.fx as fx

        outputs: Any = None
        spatial = _spatial_inputs(self.shapes)
        index = 0
        for n in self.gm.graph.nodes:
            if n.op == "placeholder":
                if index < len(spatial) and spatial[index]:
                    self.live[n] = "input"
                index += 1
            elif n.op == "output":
                outputs = n.args[0]
            elif n.op != "get_attr":
                self._node(n)
        _set_outputs(self.b, outputs,
                     lambda o: self.live.get(o) if isinstance(o, fx.Node) else None)
        return self.b.finish()

    # -- one call ---------------------------------------------------------------------------
    def _node(self, n: Any) -> None:
        srcs: list[str] = []
        infos: list[TensorInfo] = []
        sub = self._sub
        args = tuple([sub(a, srcs, infos) for a in n.args])
        raw_kwargs = n.kwargs
        kwargs = {k: sub(v, srcs, infos) for k, v in raw_kwargs.items()} if raw_kwargs else {}
        target, op = n.target, n.op
        fn_name = _fn_name(target)
        if op == "call_function" and target is operator.setitem:
            self._setitem(n, args, srcs, infos)
            return
        _values_only(fn_name, args, srcs, infos)
        module = self.modules.get(target) if op == "call_module" else None
        if not srcs or fn_name in _FACTORIES:
            if _inplace(n, fn_name, module) and n.args and n.args[0] in self.live:
                del self.live[n.args[0]]  # overwritten with values that do not depend on x
            return  # a constant: does not depend on the input's values
        if n.op == "call_function" and n.target is operator.getitem and isinstance(
                self.live.get(n.args[0]), list):
            self.live[n] = self.live[n.args[0]][int(n.args[1])]
            return
        val = self.values.get(n)
        elements: list[Any] = list(val) if isinstance(val, (tuple, list)) else [val]
        if not elements or not all(_is_tensor(e) for e in elements):
            return  # sizes, shapes, python values
        target, op_name, path, params, label = self._describe(n, module)
        names = []
        for i, e in enumerate(elements):
            out = self.b.output_info(op_name, infos, e.shape, args, kwargs)
            call = OpCall(target, op_name, path, args, kwargs, tuple(infos), out, self.nd)
            layer, reason, notes = _convert(call, module)
            base = path if len(elements) == 1 else f"{path}.{i}"
            names.append(self.b.emit(call, list(srcs), layer, reason, params if i == 0 else 0,
                                     base, label, notes if i == 0 else ()))
        self.live[n] = names if isinstance(val, (tuple, list)) else names[0]
        if _inplace(n, fn_name, module) and n.args and _is_fx_node(n.args[0]):
            self.live[n.args[0]] = names[0]  # later reads of the written tensor see the result

    def _setitem(self, n: Any, args: tuple[Any, ...], srcs: list[str],
                 infos: list[TensorInfo]) -> None:
        """``y[idx] = v``: y's node becomes v, a merge of y and v, or an opaque node."""
        base = n.args[0]
        if not _is_fx_node(base) or not isinstance(args[0], TensorInfo):
            return
        y: TensorInfo = args[0]
        whole = _covers_all(args[1], y.shape)
        if whole and y.live:
            srcs, infos = srcs[1:], infos[1:]  # y's old values are all overwritten
        if not srcs:
            self.live.pop(base, None)
            return
        path = f"{self._scope(n)}setitem"
        call = OpCall("setitem", "setitem", path, args, {}, tuple(infos), y, self.nd)
        layer, reason = _setitem_layer(call, args[1], len(srcs))
        self.live[base] = self.b.emit(call, list(srcs), layer, reason, 0, path, None, ())

    def _sub(self, a: Any, srcs: list[str], infos: list[TensorInfo]) -> Any:
        if _is_fx_node(a):
            ref = self.live.get(a)
            if ref is None:
                return _info(self.values.get(a), False)
            if isinstance(ref, list):
                out = []
                for r, v in zip(ref, self.values[a]):
                    srcs.append(r)
                    info = self.b.info(r, v.shape)
                    infos.append(info)
                    out.append(info)
                return tuple(out)
            srcs.append(ref)
            key = (a, ref)  # a tensor's info is fixed once its graph node exists (immutable)
            known = self.infos.get(key)
            if known is None:
                known = self.infos[key] = self.b.info(ref, self.values[a].shape)
            infos.append(known)
            return known
        if isinstance(a, (list, tuple)):
            return type(a)(self._sub(v, srcs, infos) for v in a)
        if isinstance(a, slice):
            return slice(self._sub(a.start, srcs, infos), self._sub(a.stop, srcs, infos),
                         self._sub(a.step, srcs, infos))
        if isinstance(a, dict):
            return {k: self._sub(v, srcs, infos) for k, v in a.items()}
        return a

    # -- naming and parameters --------------------------------------------------------------
    @staticmethod
    def _scope(n: Any) -> str:
        stack = n.meta.get("nn_module_stack") or {}
        return f"{list(stack.values())[-1][0]}." if stack else ""

    def _describe(self, n: Any, module: Any) -> tuple[Any, str, str, int, str | None]:
        """The call's target, op name, path, parameter count (counted once) and row label."""
        if module is not None:
            return module, type(module).__name__, str(n.target), self._count(module), None
        import torch

        op_name = _fn_name(n.target)
        path, label, params = f"{self._scope(n)}{op_name}", None, 0
        # a wrapped function handed its module (atrous.nn's PooledBatchNorm2d calls
        # _pooled_batch_norm_module(x, self)): the row is that module, with its parameters
        owner = next((a for a in n.all_input_nodes if a.op == "get_attr"
                      and isinstance(self.values.get(a), torch.nn.Module)), None)
        if owner is not None:
            owner_mod = self.values[owner]
            path, label = str(owner.target), type(owner_mod).__name__
            params = self._count(owner_mod)
        return n.target, op_name, path, params + self._direct_params(n), label

    def _count(self, module: Any) -> int:
        if id(module) in self.seen_params:
            return 0
        self.seen_params.add(id(module))
        if not module._modules:  # a leaf: its own parameters (as parameters() lists them)
            own = {id(p): p for p in module._parameters.values() if p is not None}
            return sum(int(p.numel()) for p in own.values())
        return sum(int(p.numel()) for p in module.parameters())

    def _direct_params(self, n: Any) -> int:
        """Parameters read directly or through constant ops (e.g. a standardised weight)."""
        import torch

        params = 0
        todo = [a for a in n.all_input_nodes if a not in self.live]
        visited: set[Any] = set()
        while todo:
            a = todo.pop()
            if a in visited:
                continue
            visited.add(a)
            if a.op == "get_attr":
                val = self.values.get(a)
                if isinstance(val, torch.nn.Parameter) and a.target not in self.seen_attrs:
                    self.seen_attrs.add(a.target)
                    params += int(val.numel())
            elif a.op != "placeholder":
                todo.extend(x for x in a.all_input_nodes if x not in self.live)
        return params


def _setitem_layer(call: OpCall, index: Any, n_live: int) -> tuple[Any, str]:
    """The layer of ``y[index] = v``: the written region must span every spatial axis."""
    from ..layers import Merge, Pointwise
    from .functions import _getitem

    region = OpCall("getitem", "getitem", call.path, (call.output, index), {}, (call.output,),
                    call.output, call.ndim)
    try:
        sliced = _getitem(region)
    except Exception as exc:  # an index the slicing converter cannot read
        return None, f"an in-place write through an index it cannot model ({exc})"
    if not isinstance(sliced, Pointwise):
        return None, "an in-place write into part of the map (y[..., a:b] = v) is not modelled"
    if n_live == 1:
        return Pointwise("setitem"), ""
    return Merge("concat"), ""  # unwritten channels keep y's values, written ones take v's


def _covers_all(index: Any, shape: tuple[int, ...]) -> bool:
    """True when ``y[index]`` is all of ``y`` (every axis sliced whole)."""
    items = list(index) if isinstance(index, tuple) else [index]
    if any(i is not Ellipsis and not isinstance(i, slice) for i in items):
        return False
    dims = [i for i in items if i is not Ellipsis]
    if len(dims) > len(shape):
        return False
    if Ellipsis in items:
        k = items.index(Ellipsis)
        axes = list(range(k)) + list(range(len(shape) - (len(items) - k - 1), len(shape)))
    else:
        axes = list(range(len(dims)))
    for ax, sl in zip(axes, dims):
        if any(isinstance(v, TensorInfo) for v in (sl.start, sl.stop, sl.step)):
            return False
        if sl.indices(shape[ax]) != (0, shape[ax], 1):
            return False
    return True


def _is_fx_node(a: Any) -> bool:
    return isinstance(a, _classes()[0])


def _is_tensor(value: Any) -> bool:
    return isinstance(value, _classes()[1])


@cache
def _classes() -> tuple[type, type]:
    """``(torch.fx.Node, torch.Tensor)``, imported once."""
    import torch
    import torch.fx as fx

    return fx.Node, torch.Tensor
