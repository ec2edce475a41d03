"""The fx graph of a model :func:`atrous.stream` runs, read as ops it can run on chunks.

:class:`_Analyser` turns each traced node into an :class:`_Op`: which of its inputs are time
series, and how its output unit ``u`` reads them (``s*u + lo .. s*u + hi``, with ``right`` units
of padding or, negative, dropped at the end). Stream decides which nodes it can *run* on chunks
(convolutions, zero ``F.pad``, slices of the time axis, pointwise ops and merges); how each one
*reads* comes from the layer the torch front end's converters give the call
(:func:`atrous.fx.node_layer.node_layer`) and its ``axis_geometry``. Anything else is refused,
naming the node. :mod:`atrous._stream` composes these ops (causality, buffers) and runs them.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from .errors import AtrousError
from .geometry import Identity, Sample, Scatter, Taps, Unmodelled, Whole, Windows
from .layers import Conv, Layer


@dataclass
class _Op:
    """How one fx node reads the units of its time-series inputs."""

    name: str
    kind: str  # "input" | "const" | "pointwise" | "taps"
    ts_args: list[str] = field(default_factory=list)  # names of time-series inputs
    lo: int = 0  # unit u reads input units s*u + lo .. s*u + hi (conv: hi - lo = (k-1)*d)
    hi: int = 0
    right: int = 0  # right padding (conv / pad) or -units dropped at the end (slice)
    stride: int = 1  # s: a strided layer emits one unit every s input units
    layer: Layer | None = None  # the torch front end's layer for a "taps" node
    conv: dict[str, Any] | None = None  # a convolution's weight, bias, groups (to run it)
    index: tuple[Any, ...] | None = None  # a slice's index off the time axis (to run it)

    def counts(self, counts: list[Any]) -> Any:
        """Units computable from ``counts`` units of the inputs (zeros before unit 0), for
        arrays of counts (one entry per pushed length)."""
        import numpy as np

        if self.kind == "pointwise":
            return np.minimum.reduce(counts)
        return np.maximum(0, (counts[0] - 1 - self.hi) // self.stride + 1)

    def lengths(self, lengths: list[Any]) -> Any:
        """The offline output length for input lengths ``lengths`` (arrays of them)."""
        import numpy as np

        if self.kind == "pointwise":
            return lengths[0]
        return np.maximum(0, (lengths[0] - 1 - self.hi + self.right) // self.stride + 1)

    def reads_all(self, m: Any, n: Any) -> Any:
        """:meth:`reads` for arrays."""
        import numpy as np

        last = np.minimum(m, n) if self.kind == "pointwise" else np.maximum(
            0, np.minimum(n, self.stride * (m - 1) + self.hi + 1))
        return np.where(m > 0, last, 0)

    def reads(self, m: int, n: int) -> int:
        """How many leading units of an input of ``n`` units the first ``m`` output units
        read (what lies past them is padding or never read)."""
        if m <= 0:
            return 0
        if self.kind == "pointwise":
            return min(m, n)
        return max(0, min(n, self.stride * (m - 1) + self.hi + 1))


_POINTWISE_MODULES = (
    "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh",
    "Sigmoid", "Hardtanh", "ReLU6", "Softplus", "Hardswish", "Hardsigmoid", "Identity",
    "Dropout", "Dropout1d", "AlphaDropout", "Tanhshrink", "Softsign", "LogSigmoid",
)
_POINTWISE_NAMES = {
    "add", "sub", "mul", "truediv", "neg", "tanh", "sigmoid", "relu", "gelu", "silu", "elu",
    "leaky_relu", "softplus", "hardtanh", "relu6", "mish", "exp", "abs", "zeros_like",
    "ones_like", "gated_activation", "contiguous", "clone", "dropout", "float", "double",
    "__add__", "__mul__", "__sub__", "pow", "square", "sqrt", "clamp", "clip", "maximum",
    "minimum", "where", "cat", "concat", "concatenate", "chunk", "split",
}
"""The ops stream runs chunk by chunk (as the model calls them): each keeps time as the last
axis and acts on each time step alone. Their geometry comes from the front end's converters
(the identity, or a refusal such as a concatenation along time); the list says which ones are
safe to *run* on chunks, which the geometry alone does not (a permute or a view also reads
``o`` from ``o``, yet moves the time axis)."""
_FACTORIES = {"zeros_like", "ones_like"}
"""Their values do not depend on the input (the front end reads them as constants): the
identity, shaped as the chunk."""
_CONVS = ("conv1d", "dilated_conv1d", "causal_dilated_conv1d")
_REF = 1 << 16
"""The input length the converters see (they allocate nothing); the geometry is checked at
other lengths too."""
_RUN = 1 << 10
"""The input length of the one run that gives a refused call's output length."""


def _name(target: Any) -> str:
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _record(geom: Any) -> str:
    """What a geometry record other than Taps/Identity means, for a refusal."""
    if isinstance(geom, Unmodelled):
        return f"its geometry is not modelled ({geom.reason})"
    what = {Scatter: "scatters its inputs (a transposed convolution)",
            Sample: "samples a resampled coordinate (interpolation)",
            Windows: "reads adaptive windows", Whole: "reads the whole time axis"}
    return f"it {what.get(type(geom), 'reads its input otherwise')} ({type(geom).__name__})"


_TUPLE_MAKERS = frozenset(("chunk", "split", "split_with_sizes", "tensor_split", "unbind"))
"""Calls that return a tuple of tensors: an element is taken by an int index only."""


class _Analyser:
    """The fx graph's nodes as ops stream can run, with the reads the front end's layers state.

    Stream decides which nodes it can *run* on chunks (convolutions, zero padding and slices
    of the time axis, the pointwise ops above); how each one *reads* its input comes from the
    layer :func:`atrous.fx.node_layer.node_layer` gives it (``axis_geometry``: ``Taps`` or the
    identity; anything else is refused, naming the node).
    """

    def __init__(self, gm: Any) -> None:
        self.gm = gm
        self.ops: dict[str, _Op] = {}
        self._values: dict[str, Any] = {}

    def run(self) -> dict[str, _Op]:
        for node in self.gm.graph.nodes:
            if node.op == "output":
                continue
            self.ops[node.name] = self._op(node)
        return self.ops

    def _ts(self, node: Any) -> list[str]:
        import torch.fx as fx

        found: list[str] = []

        def visit(a: Any) -> Any:
            if isinstance(a, fx.Node) and self.ops[a.name].kind != "const":
                found.append(a.name)
            return a

        fx.node.map_arg((node.args, node.kwargs), visit)
        return list(dict.fromkeys(found))

    def _refuse(self, node: Any, why: str) -> AtrousError:
        return AtrousError(f"stream: node {node.name!r} ({_name(node.target)}): {why}")

    def _op(self, node: Any) -> _Op:
        if node.op == "placeholder":
            if self.ops:
                raise self._refuse(node, "the model takes more than one input")
            return _Op(node.name, "input")
        if node.op == "get_attr":
            return _Op(node.name, "const")
        ts = self._ts(node)
        if not ts:
            return _Op(node.name, "const")
        target = node.target
        if node.op == "call_module":
            return self._module(node, self.gm.get_submodule(target), ts)
        name = _name(target)
        if target is operator.getitem or name == "__getitem__":
            return self._getitem(node, ts)
        if name in _CONVS:
            return self._taps(node, None, ts, self._fn_conv(node))
        if name == "pad":
            self._check_pad(node)
            return self._taps(node, None, ts)
        if name in _FACTORIES:
            return _Op(node.name, "pointwise", ts)
        if name == "dropout" and self._arg(node, 2, "training", True) is not False:
            raise self._refuse(node, "F.dropout with training=True (its default) drops "
                               "random units: pass training=self.training and call "
                               "model.eval()")
        if name in _POINTWISE_NAMES:
            return self._identity(node, None, ts)
        raise self._no_rule(node, None, "operation")

    def _module(self, node: Any, mod: Any, ts: list[str]) -> _Op:
        import torch.nn as nn

        kind = type(mod).__name__
        if isinstance(mod, nn.Conv1d):
            self._check_hooks(node, mod)
            return self._taps(node, mod, ts, {"module": mod})
        if isinstance(mod, (nn.ConstantPad1d, nn.ZeroPad1d)):
            if float(getattr(mod, "value", 0.0)) != 0.0:
                raise self._refuse(node, "padding with a non-zero value")
            return self._taps(node, mod, ts)
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            if mod.training:
                raise self._refuse(node, "batch statistics (training mode) differ per chunk: "
                                   "call model.eval()")
            return self._identity(node, mod, ts)
        if kind in _POINTWISE_MODULES:
            if "Dropout" in kind and mod.training:
                raise self._refuse(node, "dropout in training mode: call model.eval()")
            return self._identity(node, mod, ts)
        raise self._no_rule(node, mod, "module")

    # -- the front end's layer and its geometry ----------------------------------------------
    def _convert(self, node: Any, mod: Any, x: Any, out: Any) -> tuple[Layer | None, str,
                                                                      list[str]]:
        """The front end's layer for ``node``, its time-series inputs described by ``x``."""
        import torch

        from .fx.node_layer import node_layer
        from .fx.registry import TensorInfo

        def arg(a: Any) -> Any:
            if self.ops[a.name].kind != "const":
                return x
            value = self._value(a)
            if isinstance(value, torch.Tensor):
                return TensorInfo(tuple(int(v) for v in value.shape), live=False)
            return value

        return node_layer(node, mod, arg, out, 1)

    def _layer(self, node: Any, mod: Any, n: int) -> Layer:
        """The converted layer of ``node`` for inputs of ``n`` units (refused: no layer, or
        a layer that holds only up to a note, e.g. a padding mode or spatial statistics)."""
        from .fx.registry import TensorInfo

        x = TensorInfo((1, 1, n))  # converters read the rank and the time axis here
        layer, reason, notes = self._convert(node, mod, x, x)
        if layer is None:
            raise self._refuse(node, f"its geometry is not modelled ({reason})")
        if notes:
            raise self._refuse(node, f"not exact on chunks: {notes[0]}")
        return layer

    def _check_hooks(self, node: Any, mod: Any) -> None:
        """Stream runs a convolution module's weights itself (``F.conv1d`` on a window), so a
        forward hook or pre-hook (that would change its input or output) is refused; the
        pre-hook of ``torch.nn.utils.weight_norm`` is run before each push (it only sets the
        weight)."""
        from torch.nn.modules import module as torch_module
        from torch.nn.utils.weight_norm import WeightNorm

        hooks = [*mod._forward_hooks.values(), *torch_module._global_forward_hooks.values(),
                 *torch_module._global_forward_pre_hooks.values(),
                 *(h for h in mod._forward_pre_hooks.values() if not isinstance(h, WeightNorm))]
        if hooks:
            raise self._refuse(node, f"a forward hook ({_name(hooks[0])}) stream cannot run on "
                               "chunks (it runs the convolution's weights itself)")

    def _no_rule(self, node: Any, mod: Any, what: str) -> AtrousError:
        """Refuse a node stream cannot run, saying how its layer reads when that is what
        rules it out (a transposed convolution scatters, an interpolation samples, ...)."""
        why = self._reads(node, mod)
        return self._refuse(node, f"no streaming rule for this {what}"
                            + (f": {why}" if why else " (stream knows convolutions, F.pad, "
                               "slices, pointwise ops and merges)"))

    def _reads(self, node: Any, mod: Any) -> str:
        """How the front end's layer of ``node`` reads, if not as Taps or the identity ('' when
        it does, or cannot be told): the output length comes from one run on zeros, for
        stateless modules and functions only (a run must change nothing)."""
        import torch
        import torch.fx as fx

        from .fx.registry import TensorInfo, _fn_name

        pure = ("interpolate", "upsample", "pool", "conv_transpose", "mean", "sum", "amax",
                "amin", "softmax")
        if (mod is not None and any(True for _ in mod.buffers())) or (
                mod is None and not any(p in _fn_name(node.target) for p in pure)):
            return ""
        try:
            c = next((getattr(mod, k) for k in ("in_channels", "num_channels", "num_features")
                      if isinstance(getattr(mod, k, None), int)), 1)
            x = torch.zeros(1, int(c), _RUN)
            args, kwargs = fx.node.map_arg(
                (node.args, node.kwargs),
                lambda a: x if self.ops[a.name].kind != "const" else self._value(a))
            with torch.no_grad():
                y = _exec(self.gm, node, args, kwargs)
            layer, reason, notes = self._convert(node, mod, TensorInfo(tuple(x.shape)),
                                                 TensorInfo(tuple(int(v) for v in y.shape)))
        except Exception:  # a call that wants other channels or arguments: say nothing more
            return ""
        if layer is None:
            return f"its geometry is not modelled ({reason})"
        if notes:
            return notes[0]
        geom = layer.axis_geometry(0, _RUN)
        return "" if isinstance(geom, (Taps, Identity)) else _record(geom)

    def _check_inplace(self, node: Any, mod: Any) -> None:
        """Refuse an in-place op (``nn.ReLU(inplace=True)``, ``F.relu(x, inplace=True)``) on
        a node that another node reads too: offline, a reader that runs first sees the values
        before the op; streamed, it would read past frames the op has already changed."""
        import inspect

        import torch.fx as fx

        if mod is not None:
            inplace = getattr(mod, "inplace", False) is True
        else:
            try:
                bound = inspect.signature(node.target).bind(*node.args, **node.kwargs)
                inplace = bound.arguments.get("inplace") is True
            except (TypeError, ValueError):  # a builtin without a signature: no such flag
                inplace = False
        source = node.args[0] if node.args else None
        if inplace and isinstance(source, fx.Node) and len(source.users) > 1:
            raise self._refuse(node, f"it changes {source.name!r} in place while other nodes "
                               "read it (streamed, they would read frames it already "
                               "changed): use inplace=False")

    def _identity(self, node: Any, mod: Any, ts: list[str]) -> _Op:
        self._check_inplace(node, mod)
        geom = self._layer(node, mod, _REF).axis_geometry(0, _REF)
        if not isinstance(geom, Identity):
            raise self._refuse(node, _record(geom))
        return _Op(node.name, "pointwise", ts)

    def _taps(self, node: Any, mod: Any, ts: list[str], conv: dict[str, Any] | None = None,
              index: tuple[Any, ...] | None = None) -> _Op:
        """A node whose output ``u`` reads ``s*u + lo .. s*u + hi`` (Taps) of its one input;
        ``right`` from the layer's output sizes (``(n - 1 - hi + right) // s + 1``)."""
        if len(ts) != 1:
            raise self._refuse(node, "a convolution whose weight depends on the input")
        layer = self._layer(node, mod, _REF)
        geom = layer.axis_geometry(0, _REF)
        if isinstance(geom, Identity):  # a slice that keeps every unit
            geom = Taps(1, 0, 1, 1)
        if not isinstance(geom, Taps):
            raise self._refuse(node, _record(geom))
        s, lo = geom.stride, -geom.offset
        hi = lo + (geom.kernel - 1) * geom.dilation
        varies = self._refuse(node, "its reads or its output length depend on the input "
                              "length (a slice needs a start >= 0 and a negative or no stop)")

        def out(n: int) -> int:
            at_n = self._layer(node, mod, n)
            g = at_n.axis_geometry(0, n)
            if g != geom and not (isinstance(g, Identity) and geom == Taps(1, 0, 1, 1)):
                raise varies
            try:
                return at_n.output_size((n,))[0]
            except AtrousError:  # e.g. a slice that starts past the end: empty
                raise varies from None

        # the one n in R .. R+s-1 where the output grows is where (n - 1 - hi + right) % s == 0
        grows = next((n for n in range(_REF, _REF + s) if out(n) > out(n - 1)), None)
        if grows is None:
            raise varies
        right = s * (out(grows) - 1) - (grows - 1) + hi
        if any(out(n) != (n - 1 - hi + right) // s + 1 for n in (_REF + s, 3 * _REF + 1)):
            raise varies
        if conv is not None:
            if not isinstance(layer, Conv):
                raise self._refuse(node, f"a convolution read as {type(layer).__name__}")
            conv = {**conv, "groups": layer.groups, "dilation": geom.dilation}
        return _Op(node.name, "taps", ts, lo=lo, hi=hi, right=right, stride=s, layer=layer,
                   conv=conv, index=index)

    # -- what stream needs to run a node -----------------------------------------------------
    def _arg(self, node: Any, index: int, key: str, default: Any) -> Any:
        if key in node.kwargs:
            return node.kwargs[key]
        return node.args[index] if index < len(node.args) else default

    def _fn_conv(self, node: Any) -> dict[str, Any]:
        weight = self._weight(node, self._arg(node, 1, "weight", None))
        bias = self._weight(node, self._arg(node, 2, "bias", None))
        return {"weight": weight, "bias": bias}

    def _value(self, arg: Any) -> Any:
        """The value of a constant node (a get_attr, or an op of constants only)."""
        import torch.fx as fx

        if arg.name not in self._values:
            if arg.op == "get_attr":
                obj = self.gm
                for part in str(arg.target).split("."):
                    obj = getattr(obj, part)
                value = obj
            else:
                args, kwargs = fx.node.map_arg((arg.args, arg.kwargs), self._value)
                value = _exec(self.gm, arg, args, kwargs)
            self._values[arg.name] = value
        return self._values[arg.name]

    def _weight(self, node: Any, arg: Any) -> Any:
        import torch.fx as fx

        if isinstance(arg, fx.Node):
            if arg.op != "get_attr":
                raise self._refuse(node, "a weight computed at run time")
            return self._value(arg)
        return arg

    def _check_pad(self, node: Any) -> None:
        """Stream pads by reading zeros before unit 0: zeros, on the time axis, only."""
        pad = self._arg(node, 1, "pad", ())
        value = self._arg(node, 3, "value", None)
        if value not in (None, 0, 0.0):
            raise self._refuse(node, f"padding value {value!r} (zeros only)")
        if len(pad) < 2 or any(p != 0 for p in pad[2:]):
            raise self._refuse(node, f"padding {tuple(pad)} beyond the time axis")

    def _getitem(self, node: Any, ts: list[str]) -> _Op:
        index = node.args[1]
        if isinstance(index, int):
            return _Op(node.name, "pointwise", ts)  # an element of a chunk/split tuple
        source = node.args[0]
        if getattr(source, "op", None) in ("call_function", "call_method") and _name(
                source.target) in _TUPLE_MAKERS:
            raise self._refuse(node, f"indexing the tuple {source.name!r} returns with "
                               f"{index!r} (stream takes its elements one by one: t[0], t[1])")
        items = index if isinstance(index, tuple) else (index,)
        lead: tuple[Any, ...] = ()
        if items and items[0] is Ellipsis:
            time = items[-1] if len(items) > 1 else slice(None)
            rest = list(items[1:-1])
            lead = (Ellipsis,)
        else:
            if len(items) > 3:
                raise self._refuse(node, f"indexing with {index!r}")
            time = items[2] if len(items) == 3 else slice(None)
            rest = list(items[:2])
        for i in rest:
            if not isinstance(i, slice):
                raise self._refuse(node, f"indexing with {i!r}")
        if not isinstance(time, slice):
            raise self._refuse(node, f"indexing the time axis with {time!r}")
        # the index off the time axis (channels), applied to the gathered time window
        other = (*lead, *rest, slice(None))
        keep = None if all(i in (Ellipsis, slice(None)) for i in other) else other
        return self._taps(node, None, ts, index=keep)


def _exec(gm: Any, node: Any, args: Any, kwargs: Any) -> Any:
    if node.op == "call_module":
        return gm.get_submodule(node.target)(*args, **kwargs)
    if node.op == "call_method":
        self_obj, *rest = args
        return getattr(self_obj, node.target)(*rest, **kwargs)
    return node.target(*args, **kwargs)


def _caller(gm: Any, node: Any, srcs: list[str], consts: dict[str, Any]) -> Any:
    """``node`` as a function of the values of its time-series inputs ``srcs`` (a list, in
    that order; the value itself for one input): the call :func:`_exec` makes with the
    arguments ``fx.node.map_arg`` gives (each input node replaced by its value, each
    constant node by ``consts``), with the module, the method name and the arguments'
    layout resolved once (per signal: the constants are this signal's)."""
    run = _caller_of_list(gm, node, srcs, consts)
    if len(srcs) != 1:
        return run
    if not node.kwargs and len(node.args) == 1 and getattr(run, "fn", None) is not None:
        return run.fn  # fn(x): a module, an activation, a method without arguments
    return lambda value: run([value])


def _caller_of_list(gm: Any, node: Any, srcs: list[str], consts: dict[str, Any]) -> Any:
    """:func:`_caller` for the values as a list."""
    import torch.fx as fx

    pos = {n: i for i, n in enumerate(srcs)}
    if node.op == "call_module":
        fn = gm.get_submodule(node.target)
    elif node.op == "call_method":
        method = node.target

        def fn(self_obj: Any, *rest: Any, **kwargs: Any) -> Any:
            return getattr(self_obj, method)(*rest, **kwargs)
    else:
        fn = node.target

    def nested(a: Any) -> bool:  # a container holding a node: map_arg rebuilds it per call
        found: list[Any] = []
        fx.node.map_arg(a, found.append)
        return not isinstance(a, fx.Node) and bool(found)

    if any(nested(a) for a in (*node.args, *node.kwargs.values())):
        def run_nested(values: list[Any]) -> Any:
            args, kwargs = fx.node.map_arg(
                (node.args, node.kwargs),
                lambda n: values[pos[n.name]] if n.name in pos else consts[n.name])
            return fn(*args, **kwargs)
        return run_nested

    def fixed(a: Any) -> Any:  # a constant's value; an input's slot is filled per call
        if isinstance(a, fx.Node):
            return None if a.name in pos else consts[a.name]
        return a

    template = [fixed(a) for a in node.args]
    kwargs = {k: fixed(v) for k, v in node.kwargs.items()}
    slots = [(i, pos[a.name]) for i, a in enumerate(node.args)
             if isinstance(a, fx.Node) and a.name in pos]
    kslots = [(k, pos[v.name]) for k, v in node.kwargs.items()
              if isinstance(v, fx.Node) and v.name in pos]
    if not kwargs and [j for _, j in slots] == list(range(len(template))):
        def run_all(values: list[Any]) -> Any:
            return fn(*values)
        run_all.fn = fn  # type: ignore[attr-defined]
        return run_all

    def run(values: list[Any]) -> Any:
        args = list(template)
        for i, j in slots:
            args[i] = values[j]
        kw = dict(kwargs)
        for k, j in kslots:
            kw[k] = values[j]
        return fn(*args, **kw)
    return run
