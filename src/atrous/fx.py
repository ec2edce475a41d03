"""``nn.Module`` -> :class:`~atrous.graph.Graph`: the PyTorch front end.

:func:`to_graph` traces a model with :mod:`torch.fx` symbolic tracing, so functional ops and tensor
methods (``F.conv2d``, ``F.interpolate``, ``F.pad``, ``torch.cat``, ``+``, ``*``,
``x.mean((2, 3), keepdim=True)``, slicing, ``view``/``transpose`` channel shuffles) are seen, not
only modules. Shapes come from running the traced graph on fake tensors (no data, no compute: a
1024x1024 input costs nothing). One registry maps torch modules and functions to analytic layers;
:func:`register_module` and :func:`register_function` extend it, and a registered module class is
a leaf of the trace. A model that ``torch.fx`` cannot trace (data-dependent control flow) is
recorded instead by running it once with forward hooks and a torch-function recorder; the result
is then marked ``partial``, with a diagnostic saying why. An operation without a converter becomes
an :class:`~atrous.layers.Opaque` node with a diagnostic naming its module path, never an identity.

Node metadata (read by :mod:`atrous.report`): ``module`` (module path or op name), ``target``
(class or function name), ``shape`` (output tensor shape), ``params`` and ``macs``.

    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=2, dilation=2), nn.ReLU(), nn.MaxPool2d(2))
    >>> g = to_graph(net, (1, 3, 64, 64))
    >>> [(n.name, n.layer.kind) for n in g.layer_nodes()]
    [('0', 'conv'), ('1', 'pointwise'), ('2', 'pool')]
    >>> g["2"].meta["shape"], g.partial
    ((1, 8, 32, 32), False)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._types import Ints
from .builder import GraphBuilder
from .errors import AtrousError
from .graph import Graph
from .layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Layer,
    Merge,
    Pad,
    Pointwise,
    Pool,
    Resize,
    Slice,
    Upsample,
)

__all__ = [
    "ModelGraph",
    "OpCall",
    "TensorInfo",
    "Unsupported",
    "register_function",
    "register_module",
    "to_graph",
]


# -- what converters see ------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorInfo:
    """A tensor as a converter sees it: its shape, and whether it depends on the model input."""

    shape: tuple[int, ...]
    live: bool = True

    def spatial(self, ndim: int) -> Ints:
        """The trailing ``ndim`` sizes; ``(1,) * ndim`` for a tensor whose spatial axes are gone."""
        if len(self.shape) >= 2 + ndim:
            return tuple(self.shape[-ndim:])
        return (1,) * ndim

    def collapsed(self, ndim: int) -> bool:
        """True when the tensor has no spatial extent left (rank too low or all sizes 1)."""
        return all(s == 1 for s in self.spatial(ndim))


@dataclass(frozen=True)
class OpCall:
    """One call of a module or function, as handed to a converter.

    Attributes:
        target: the module instance, the function, or the method name.
        name: normalised op name (``"conv2d"``, ``"add"``, ``"Conv2d"``).
        path: module path of the call (``"layer1.0.conv1"``), or of the module whose ``forward``
            made the functional call.
        args, kwargs: the call's arguments, tensors replaced by :class:`TensorInfo`.
        inputs: the tensor inputs that depend on the model input, in order.
        output: the output tensor.
        ndim: number of spatial axes of the model.
    """

    target: Any
    name: str
    path: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    inputs: tuple[TensorInfo, ...]
    output: TensorInfo
    ndim: int

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        """Argument ``name`` given by keyword or at position ``index`` (0 = the input tensor)."""
        if name in self.kwargs:
            return self.kwargs[name]
        if index < len(self.args):
            return self.args[index]
        return default

    @property
    def in_spatial(self) -> Ints:
        """Spatial size of the first live input."""
        return self.inputs[0].spatial(self.ndim) if self.inputs else (1,) * self.ndim

    @property
    def out_spatial(self) -> Ints:
        """Spatial size of the output."""
        return self.output.spatial(self.ndim)


class Unsupported(Exception):
    """Raised by a converter that cannot model this particular call; the node becomes Opaque."""


ModuleConverter = Callable[[Any, OpCall], Layer]
FunctionConverter = Callable[[OpCall], Layer]

_MODULES: dict[type, ModuleConverter] = {}
_FUNCTIONS_BY_OBJ: dict[Any, FunctionConverter] = {}
_FUNCTIONS_BY_NAME: dict[str, FunctionConverter] = {}


def register_module(cls: type, converter: ModuleConverter) -> None:
    """Map a module class (and its subclasses that keep its ``forward``) to an analytic layer.

    A registered class is a leaf of the trace: its ``forward`` is not traced into.

    Args:
        cls: an ``nn.Module`` subclass.
        converter: ``converter(module, call) -> Layer``; raise :class:`Unsupported` for a call it
            cannot model.

    >>> import torch.nn as nn
    >>> from atrous import Conv
    >>> class MyConv(nn.Module):
    ...     def forward(self, x):
    ...         return x[..., 1:-1, 1:-1]
    >>> register_module(MyConv, lambda m, call: Conv(3, ndim=call.ndim))
    >>> to_graph(nn.Sequential(MyConv()), (1, 1, 8, 8))["0"].layer.kernel
    (3, 3)
    """
    if not isinstance(cls, type):
        raise AtrousError(f"register_module needs a module class, got {cls!r}")
    if not callable(converter):
        raise AtrousError(f"converter must be callable, got {converter!r}")
    _MODULES[cls] = converter


def register_function(fn: Callable[..., Any] | str, converter: FunctionConverter) -> None:
    """Map a function (or a tensor method name such as ``"mean"``) to an analytic layer.

    A registered plain Python function is also a leaf of the trace (it is not traced into).

    Args:
        fn: the function object, or a method/function name.
        converter: ``converter(call) -> Layer``; raise :class:`Unsupported` when it cannot model
            the call.

    >>> from atrous import Pointwise
    >>> register_function("my_custom_op", lambda call: Pointwise("my_custom_op"))
    """
    if not callable(converter):
        raise AtrousError(f"converter must be callable, got {converter!r}")
    if isinstance(fn, str):
        if not fn:
            raise AtrousError("function name must not be empty")
        _FUNCTIONS_BY_NAME[fn] = converter
    elif callable(fn):
        _FUNCTIONS_BY_OBJ[fn] = converter
    else:
        raise AtrousError(f"register_function needs a function or a name, got {fn!r}")


def _module_converter(module: Any) -> ModuleConverter | None:
    mro = type(module).__mro__
    for klass in mro:
        conv = _MODULES.get(klass)
        if conv is not None:
            owner = next((k for k in mro if "forward" in vars(k)), klass)
            if issubclass(klass, owner) or owner.__module__.startswith("torch.nn"):
                return conv
            return None  # a user subclass with its own forward: trace into it
    return None


_DUNDER = {"radd": "add", "iadd": "add", "rsub": "sub", "isub": "sub", "rmul": "mul",
           "imul": "mul", "rtruediv": "truediv", "itruediv": "truediv", "div": "truediv",
           "concat": "cat", "concatenate": "cat"}


def _fn_name(fn: Any) -> str:
    name = fn if isinstance(fn, str) else getattr(fn, "__name__", None) or type(fn).__name__
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
    if name.endswith("_") and not name.startswith("_") and name not in ("max_", "min_"):
        name = name[:-1]  # in-place variants: relu_ -> relu
    return _DUNDER.get(name, name)


def _function_converter(fn: Any) -> FunctionConverter | None:
    try:
        conv = _FUNCTIONS_BY_OBJ.get(fn)
    except TypeError:
        conv = None
    if conv is not None:
        return conv
    return _FUNCTIONS_BY_NAME.get(_fn_name(fn))


# -- small helpers for converters -------------------------------------------------------------
def _tup(value: Any, ndim: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) == 1 and ndim > 1:
            return tuple(int(value[0]) for _ in range(ndim))
        return tuple(int(v) for v in value)
    return (int(value),) * ndim


def _pool_mode(name: str) -> Literal["max", "avg"]:
    return "max" if "max" in name.lower() else "avg"


def _global_or_adaptive(call: OpCall, mode: Literal["max", "avg"]) -> Layer:
    out = call.out_spatial
    if all(v == 1 for v in out):
        return GlobalPool(mode)
    return AdaptivePool(mode, out, ndim=call.ndim)


def _conv_from(call: OpCall, weight: tuple[int, ...], stride: Any, padding: Any, dilation: Any,
               groups: int, bias: bool, pairs: Any = None) -> Layer:
    nd = call.ndim
    kernel = tuple(weight[2:])
    if len(kernel) != nd:
        raise Unsupported(f"a {len(kernel)}-D convolution in a {nd}-D model")
    if pairs is None:
        pairs = padding if isinstance(padding, str) else _tup(padding, nd)
    return Conv(kernel, stride=_tup(stride, nd), padding=pairs, dilation=_tup(dilation, nd),
                groups=int(groups), ndim=nd, in_channels=weight[1] * int(groups),
                out_channels=weight[0], bias=bias, size=call.in_spatial)


def _upsample(call: OpCall, mode: str, align_corners: Any) -> Layer:
    nd = call.ndim
    sin, sout = call.in_spatial, call.out_spatial
    if sin == sout:
        return Pointwise(f"interpolate:{mode}")
    if all(v == 1 for v in sin):
        return Upsample(sout, "nearest", ndim=nd)  # a constant map: broadcasting
    if mode not in ("nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic",
                    "trilinear"):
        raise Unsupported(f"interpolation mode {mode!r}")
    integer = all(o % i == 0 for o, i in zip(sout, sin))
    if mode in ("nearest-exact", "area") and integer:
        mode = "nearest"  # the same pixels at an integer upsampling
    if mode == "area":
        return AdaptivePool("avg", sout, ndim=nd)  # area interpolation is adaptive pooling
    ac = bool(align_corners) if not mode.startswith("nearest") else False
    if integer:
        scale = tuple(o // i for o, i in zip(sout, sin))
        return Upsample(scale, mode, ac, ndim=nd)  # type: ignore[arg-type]
    if mode == "nearest" and all(i % o == 0 for o, i in zip(sout, sin)):
        return Slice(0, None, tuple(i // o for o, i in zip(sout, sin)), ndim=nd)
    return Resize(sout, mode, ac, ndim=nd)  # type: ignore[arg-type]


def _reshape_like(call: OpCall) -> Layer:
    nd = call.ndim
    x, out = call.inputs[0], call.output
    if call.name in ("permute", "transpose", "movedim", "swapaxes", "swapdims", "t"):
        if x.collapsed(nd):
            return Pointwise(call.name)
        rank = len(x.shape)
        perm = list(range(rank))
        if call.name == "permute":
            dims = call.args[1:] if len(call.args) > 2 else call.arg(1, "dims")
            perm = [int(d) % rank for d in _as_list(dims)]
        elif call.name in ("transpose", "swapaxes", "swapdims"):
            a, b = int(call.arg(1, "dim0")) % rank, int(call.arg(2, "dim1")) % rank
            perm[a], perm[b] = perm[b], perm[a]
        else:
            raise Unsupported(f"{call.name} of a spatial tensor")
        if len(x.shape) >= 2 + nd and all(perm[rank - k] == rank - k for k in range(1, nd + 1)):
            return Pointwise(call.name)
        raise Unsupported(f"{call.name} moves a spatial axis")
    sin, sout = x.spatial(nd), out.spatial(nd)
    if x.collapsed(nd):
        if out.collapsed(nd):
            return Pointwise(call.name)
        return Upsample(sout, "nearest", ndim=nd)  # broadcasting a global value over the map
    if len(out.shape) >= 2 + nd and sout == sin:
        return Pointwise(call.name)
    if len(out.shape) < 2 + nd:
        return Dense(call.name)  # the spatial axes are folded away: every value spans the map
    raise Unsupported(f"{call.name} reshapes the spatial axes {sin} -> {sout}")


def _as_list(v: Any) -> list[Any]:
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]


def _reduce(call: OpCall, mode: Literal["max", "avg"]) -> Layer:
    nd = call.ndim
    x = call.inputs[0]
    rank = len(x.shape)
    if x.collapsed(nd):
        return Pointwise(call.name)
    dim = call.arg(1, "dim")
    if isinstance(dim, TensorInfo):
        raise Unsupported(f"{call.name} with a tensor argument")
    dims = set(range(rank)) if dim is None or dim == [] or dim == () else {
        int(d) % rank for d in _as_list(dim)}
    spatial = set(range(rank - nd, rank)) if rank >= 2 + nd else set()
    keepdim = bool(call.arg(2, "keepdim", False))
    if spatial <= dims:
        return GlobalPool(mode)
    if not spatial & dims:
        return Pointwise(call.name)
    if keepdim:
        target = tuple(1 if ax in dims else x.shape[ax] for ax in sorted(spatial))
        return AdaptivePool(mode, target, ndim=nd)
    raise Unsupported(f"{call.name} over some spatial axes without keepdim")


def _pointwise(call: OpCall) -> Layer:
    return Pointwise(call.name)


def _binary(call: OpCall) -> Layer:
    if len(call.inputs) >= 2:
        return Merge("mul" if call.name in ("mul", "truediv", "floordiv") else "add")
    return Pointwise(call.name)


def _softmax(call: OpCall) -> Layer:
    x = call.inputs[0]
    dim = call.arg(1, "dim")
    rank = len(x.shape)
    if x.collapsed(call.ndim) or dim is None:
        return Pointwise(call.name)
    if rank >= 2 + call.ndim and int(dim) % rank >= rank - call.ndim:
        raise Unsupported(f"{call.name} over a spatial axis mixes the whole axis")
    return Pointwise(call.name)


def _cat(call: OpCall) -> Layer:
    rank = len(call.output.shape)
    dim = int(call.arg(1, "dim", 0)) % rank
    if rank >= 2 + call.ndim and dim >= rank - call.ndim and not call.output.collapsed(call.ndim):
        raise Unsupported("concatenation along a spatial axis")
    return Merge("concat") if len(call.inputs) >= 2 else Pointwise(call.name)


def _getitem(call: OpCall) -> Layer:
    nd = call.ndim
    x = call.inputs[0]
    if x.collapsed(nd):
        return Pointwise("getitem")
    rank = len(x.shape)
    idx = call.args[1]
    items = list(idx) if isinstance(idx, tuple) else [idx]
    if any(isinstance(i, (TensorInfo, list, bool)) for i in items):
        raise Unsupported("advanced (tensor) indexing")
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    expanded: list[Any] = []
    for i in items:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (rank - consumed))
        else:
            expanded.append(i)
    axis = 0
    per_axis: dict[int, Any] = {}
    for i in expanded:
        if i is None:
            continue
        per_axis[axis] = i
        axis += 1
    starts, stops, steps = [], [], []
    for ax in range(rank - nd, rank):
        i = per_axis.get(ax, slice(None))
        if not isinstance(i, slice):
            raise Unsupported("integer indexing of a spatial axis")
        a, b, s = i.indices(x.shape[ax])
        if s < 1:
            raise Unsupported(f"slice step {s}")
        starts.append(a)
        stops.append(b if b < x.shape[ax] else None)
        steps.append(s)
    if all(a == 0 for a in starts) and all(b is None for b in stops) and all(s == 1
                                                                           for s in steps):
        return Pointwise("getitem")
    return Slice(tuple(starts), tuple(stops), tuple(steps), ndim=nd)


def _pad_pairs(pad: Sequence[int], ndim: int) -> tuple[tuple[int, int], ...]:
    pairs = []
    for j in range(ndim):
        t = ndim - 1 - j
        lo = int(pad[2 * t]) if 2 * t < len(pad) else 0
        hi = int(pad[2 * t + 1]) if 2 * t + 1 < len(pad) else 0
        pairs.append((lo, hi))
    if any(v < 0 for p in pairs for v in p):
        raise Unsupported(f"negative padding (cropping) {tuple(pad)}")
    return tuple(pairs)


def _linear(call: OpCall) -> Layer:
    x = call.inputs[0]
    if len(x.shape) >= 2 + call.ndim and x.shape[-1] > 1:
        raise Unsupported("a linear layer over the last spatial axis")
    return Pointwise("linear")


def _norm(call: OpCall) -> Layer:
    return Pointwise(call.name)


# -- built-in converters ----------------------------------------------------------------------
def _fn_conv(call: OpCall) -> Layer:
    w = call.arg(1, "weight")
    return _conv_from(call, w.shape, call.arg(3, "stride", 1), call.arg(4, "padding", 0),
                      call.arg(5, "dilation", 1), call.arg(6, "groups", 1),
                      call.arg(2, "bias") is not None)


def _fn_conv_t(call: OpCall) -> Layer:
    w = call.arg(1, "weight")
    nd = call.ndim
    groups = int(call.arg(6, "groups", 1))
    return ConvTranspose(tuple(w.shape[2:]), _tup(call.arg(3, "stride", 1), nd),
                         _tup(call.arg(4, "padding", 0), nd), _tup(call.arg(7, "dilation", 1), nd),
                         _tup(call.arg(5, "output_padding", 0), nd), groups, ndim=nd,
                         in_channels=w.shape[0], out_channels=w.shape[1] * groups,
                         bias=call.arg(2, "bias") is not None)


def _fn_pool(call: OpCall) -> Layer:
    nd = call.ndim
    k = _tup(call.arg(1, "kernel_size"), nd)
    stride = call.arg(2, "stride")
    stride = k if stride is None or stride == [] or stride == () else _tup(stride, nd)
    mode = _pool_mode(call.name)
    if mode == "max":
        dilation, ceil = call.arg(4, "dilation", 1), call.arg(5, "ceil_mode", False)
    else:
        dilation, ceil = 1, call.arg(4, "ceil_mode", False)
    return Pool(mode, k, stride, _tup(call.arg(3, "padding", 0), nd), _tup(dilation, nd),
                bool(ceil), ndim=nd)


def _fn_lp_pool(call: OpCall) -> Layer:
    nd = call.ndim
    k = _tup(call.arg(2, "kernel_size"), nd)
    stride = call.arg(3, "stride")
    return Pool("avg", k, k if stride is None else _tup(stride, nd),
                ceil_mode=bool(call.arg(4, "ceil_mode", False)), ndim=nd)


def _fn_adaptive(call: OpCall) -> Layer:
    return _global_or_adaptive(call, _pool_mode(call.name))


def _fn_interpolate(call: OpCall) -> Layer:
    return _upsample(call, str(call.arg(3, "mode", "nearest")), call.arg(4, "align_corners"))


def _fn_pad(call: OpCall) -> Layer:
    pad = call.arg(1, "pad")
    return Pad(_pad_pairs(pad, call.ndim), ndim=call.ndim)


def _fn_mean(call: OpCall) -> Layer:
    return _reduce(call, "avg")


def _fn_max(call: OpCall) -> Layer:
    other = call.arg(1, "dim")
    if isinstance(other, TensorInfo):
        return _binary(call)
    return _reduce(call, "max")


def _fn_pixel_shuffle(call: OpCall) -> Layer:
    return _upsample(call, "nearest", None)


def _fn_pixel_unshuffle(call: OpCall) -> Layer:
    r = int(call.arg(1, "downscale_factor"))
    return Conv(r, stride=r, ndim=call.ndim)


def _split(call: OpCall) -> Layer:
    x = call.inputs[0]
    rank = len(x.shape)
    dim = call.arg(1, "dim", 0) if call.name == "unbind" else call.arg(2, "dim", 0)
    if rank >= 2 + call.ndim and int(dim) % rank >= rank - call.ndim and not x.collapsed(
            call.ndim):
        raise Unsupported(f"{call.name} along a spatial axis")
    return Pointwise(call.name)


def _fn_flatten(call: OpCall) -> Layer:
    return _reshape_like(call)


_UNARY = (  # noqa: SIM905 - a long word list reads better as text
    "relu relu6 leaky_relu prelu rrelu elu selu celu gelu silu mish sigmoid tanh hardswish "
    "hardsigmoid hardtanh hardshrink softshrink softplus softsign tanhshrink threshold logsigmoid "
    "glu dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout identity "
    "batch_norm group_norm layer_norm instance_norm local_response_norm rms_norm normalize "
    "channel_shuffle native_channel_shuffle contiguous clone detach float double half to type "
    "type_as neg abs exp log log1p sqrt rsqrt pow square clamp clip sin cos erf reciprocal "
    "sign floor ceil round pos bool int long nan_to_num masked_fill sigmoid_ relu_ requires_grad"
    " pooled_batch_norm _pooled_batch_norm_module"  # atrous.nn.aspp's batch-1-safe norm
).split()
_BINARY = [
    "add", "sub", "mul", "truediv", "floordiv", "maximum", "minimum", "fmax", "fmin", "where",
    "mod", "pow_"
]
_RESHAPE = [
    "view", "reshape", "unflatten", "squeeze", "unsqueeze", "expand", "expand_as", "permute",
    "transpose", "movedim", "swapaxes", "swapdims", "view_as", "reshape_as", "t"
]

for _n in _UNARY:
    _FUNCTIONS_BY_NAME[_n] = _norm if "norm" in _n else _pointwise
for _n in _BINARY:
    _FUNCTIONS_BY_NAME[_n] = _binary
for _n in _RESHAPE:
    _FUNCTIONS_BY_NAME[_n] = _reshape_like
for _n in ("conv1d", "conv2d", "conv3d"):
    _FUNCTIONS_BY_NAME[_n] = _fn_conv
for _n in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
    _FUNCTIONS_BY_NAME[_n] = _fn_conv_t
for _d in (1, 2, 3):
    for _p in ("max", "avg"):
        _FUNCTIONS_BY_NAME[f"{_p}_pool{_d}d"] = _fn_pool
        _FUNCTIONS_BY_NAME[f"adaptive_{_p}_pool{_d}d"] = _fn_adaptive
        _FUNCTIONS_BY_NAME[f"adaptive_{_p}_pool{_d}d_with_indices"] = _fn_adaptive
    _FUNCTIONS_BY_NAME[f"max_pool{_d}d_with_indices"] = _fn_pool
    _FUNCTIONS_BY_NAME[f"lp_pool{_d}d"] = _fn_lp_pool
_FUNCTIONS_BY_NAME.update({
    "interpolate": _fn_interpolate, "upsample": _fn_interpolate, "pad": _fn_pad,
    "mean": _fn_mean, "sum": _fn_mean, "nanmean": _fn_mean, "std": _fn_mean, "var": _fn_mean,
    "norm": _fn_mean, "logsumexp": _fn_mean, "prod": _fn_mean, "amax": _fn_max, "amin": _fn_max,
    "max": _fn_max, "min": _fn_max, "softmax": _softmax, "log_softmax": _softmax,
    "cat": _cat, "getitem": _getitem, "flatten": _fn_flatten, "linear": _linear,
    "chunk": _split, "split": _split, "unbind": _split, "tensor_split": _split,
    "pixel_shuffle": _fn_pixel_shuffle, "pixel_unshuffle": _fn_pixel_unshuffle,
})


_FACTORIES = frozenset([
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
    "randint_like", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor",
])
"""Ops whose result depends on an input's shape only, not its values: constants."""

_MIXING = frozenset(["linear", "Linear", "Bilinear", "matmul", "mm", "bmm", "einsum"])
"""Ops that mix every element of the last axis: after a fold, every value spans the map."""

_SHAPE_ONLY_OTHER = frozenset(["expand_as", "view_as", "reshape_as", "type_as"])
"""Methods whose second tensor gives only a shape or dtype: ``y.expand_as(x)`` reads ``y``."""


def _values_only(op_name: str, args: tuple[Any, ...], srcs: list[str],
                 infos: list[TensorInfo]) -> None:
    """Drop the tensors an op reads only the shape of from its value inputs (in place)."""
    if op_name not in _SHAPE_ONLY_OTHER:
        return
    keep = 1 if args and isinstance(args[0], TensorInfo) and args[0].live else 0
    del srcs[keep:]
    del infos[keep:]


def _install_module_converters() -> None:
    """Register the torch.nn converters (needs torch; called on the first trace)."""
    if _MODULES.get(_Sentinel) is not None:
        return
    import torch.nn as nn

    def conv(m: Any, call: OpCall) -> Layer:
        nd = call.ndim
        rev = m._reversed_padding_repeated_twice
        pairs = tuple((int(rev[2 * (nd - 1 - j)]), int(rev[2 * (nd - 1 - j) + 1]))
                      for j in range(nd))
        return _conv_from(call, tuple(m.weight.shape), m.stride, 0, m.dilation, m.groups,
                          m.bias is not None, pairs=pairs)

    def conv_t(m: Any, call: OpCall) -> Layer:
        nd = call.ndim
        layer = ConvTranspose(m.kernel_size, m.stride, m.padding, m.dilation, m.output_padding,
                              m.groups, ndim=nd, in_channels=m.in_channels,
                              out_channels=m.out_channels, bias=m.bias is not None)
        got = call.out_spatial
        if layer.output_size(call.in_spatial) != got:  # forward(x, output_size=...)
            base = ConvTranspose(m.kernel_size, m.stride, m.padding, m.dilation, 0, m.groups,
                                 ndim=nd).output_size(call.in_spatial)
            extra = tuple(g - b for g, b in zip(got, base))
            layer = ConvTranspose(m.kernel_size, m.stride, m.padding, m.dilation, extra,
                                  m.groups, ndim=nd, in_channels=m.in_channels,
                                  out_channels=m.out_channels, bias=m.bias is not None)
        return layer

    def pool(m: Any, call: OpCall) -> Layer:
        nd = call.ndim
        mode = _pool_mode(type(m).__name__)
        k = _tup(m.kernel_size, nd)
        stride = k if m.stride is None else _tup(m.stride, nd)
        dil = _tup(getattr(m, "dilation", 1), nd)
        pad = _tup(getattr(m, "padding", 0), nd)
        return Pool(mode, k, stride, pad, dil, bool(getattr(m, "ceil_mode", False)), ndim=nd)

    def adaptive(m: Any, call: OpCall) -> Layer:
        return _global_or_adaptive(call, _pool_mode(type(m).__name__))

    def upsample(m: Any, call: OpCall) -> Layer:
        return _upsample(call, m.mode, getattr(m, "align_corners", None))

    def padmod(m: Any, call: OpCall) -> Layer:
        return Pad(_pad_pairs(m.padding, call.ndim), ndim=call.ndim)

    def pointwise(m: Any, call: OpCall) -> Layer:
        return Pointwise(type(m).__name__)

    def linear(m: Any, call: OpCall) -> Layer:
        return _linear(call)

    def reshape(m: Any, call: OpCall) -> Layer:
        return _reshape_like(call)

    def softmax(m: Any, call: OpCall) -> Layer:
        dim = getattr(m, "dim", None)
        return _softmax(OpCall(call.target, call.name, call.path, (None, dim), {}, call.inputs,
                               call.output, call.ndim))

    def shuffle_up(m: Any, call: OpCall) -> Layer:
        return _upsample(call, "nearest", None)

    def shuffle_down(m: Any, call: OpCall) -> Layer:
        r = int(m.downscale_factor)
        return Conv(r, stride=r, ndim=call.ndim)

    def lp_pool(m: Any, call: OpCall) -> Layer:
        nd = call.ndim
        k = _tup(m.kernel_size, nd)
        return Pool("avg", k, k if m.stride is None else _tup(m.stride, nd),
                    ceil_mode=bool(m.ceil_mode), ndim=nd)

    table: dict[Any, ModuleConverter] = {
        nn.modules.conv._ConvNd: conv,
        nn.modules.conv._ConvTransposeNd: conv_t,
        nn.modules.pooling._MaxPoolNd: pool,
        nn.modules.pooling._AvgPoolNd: pool,
        nn.modules.pooling._LPPoolNd: lp_pool,
        nn.modules.pooling._AdaptiveAvgPoolNd: adaptive,
        nn.modules.pooling._AdaptiveMaxPoolNd: adaptive,
        nn.Upsample: upsample,
        nn.modules.padding._ConstantPadNd: padmod,
        nn.modules.padding._ReflectionPadNd: padmod,
        nn.modules.padding._ReplicationPadNd: padmod,
        nn.Linear: linear,
        nn.Bilinear: linear,
        nn.Flatten: reshape,
        nn.Unflatten: reshape,
        nn.Softmax: softmax,
        nn.LogSoftmax: softmax,
        nn.PixelShuffle: shuffle_up,
        nn.PixelUnshuffle: shuffle_down,
    }
    circ = getattr(nn.modules.padding, "_CircularPadNd", None)
    if circ is not None:
        table[circ] = padmod
    for cls in (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm,
                nn.LocalResponseNorm, nn.modules.dropout._DropoutNd, nn.Identity,
                nn.ChannelShuffle, getattr(nn, "RMSNorm", nn.Identity)):
        table[cls] = pointwise
    for name in [
        "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
        "Mish", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "Hardtanh", "Hardshrink",
        "Softshrink", "Softplus", "Softsign", "Tanhshrink", "Threshold", "LogSigmoid", "GLU"
    ]:
        table[getattr(nn, name)] = pointwise
    for cls, fn in table.items():
        _MODULES.setdefault(cls, fn)
    _MODULES[_Sentinel] = pointwise


class _Sentinel:
    """Marks that the torch.nn converters are installed."""


# -- the graph a model produces ---------------------------------------------------------------
ModelGraph = Graph
"""The graph a model produces: a plain :class:`~atrous.graph.Graph` (kept as a name for
compatibility; ``partial``, ``diagnostics``, ``notes``, ``method``, ``input_shape`` and
``output_labels`` live on every Graph)."""


def _prod(values: Sequence[int]) -> int:
    return math.prod(int(v) for v in values)


class _Builder:
    """Feeds recorded calls to a :class:`~atrous.builder.GraphBuilder` (shared by fx and the hook
    recorder), tracking tensors whose spatial axes a reshape folded away."""

    def __init__(self, ndim: int, input_size: Sequence[int], name: str, method: str) -> None:
        self.b = GraphBuilder(ndim, input_size, name=name, method=method)
        self.ndim = ndim
        self.folded: set[str] = set()

    def emit(self, call: OpCall, srcs: list[str], layer: Layer | None, reason: str = "",
             params: int = 0, base: str = "", label: str | None = None,
             notes: Sequence[str] = ()) -> str:
        folded_src = len(srcs) == 1 and srcs[0] in self.folded
        layer, reason, folds = _unfold(call, folded_src, layer, reason)
        is_module = label is not None or (
            hasattr(call.target, "forward") and hasattr(call.target, "training"))
        op = label or _target_name(call)
        meta: dict[str, Any] = {
            "target": op,
            "shape": tuple(call.output.shape),
            "params": int(params),
            "macs": _macs(layer, call) if layer is not None else 0,
        }
        if is_module and call.path:
            meta["module"] = call.path
        name = self.b.add(layer, srcs, call.out_spatial, base or call.path, op=op, reason=reason,
                          notes=notes, meta=meta)
        if folds:
            self.folded.add(name)
        return name

    def finish(self) -> Graph:
        return self.b.finish()


def _unfold(call: OpCall, folded_src: bool, layer: Layer | None,
            reason: str) -> tuple[Layer | None, str, bool]:
    """Track tensors whose spatial axes a reshape folded away; refuse to unfold them.

    ``y.flatten(2)`` is ``Dense`` (global) because what usually follows (a ``Linear``) mixes
    every position. Reshaped back to a map without such mixing, each value is still one
    pixel's: broadcasting it as a global value would be wrong. Returns the layer, the reason and
    whether the output is folded too.
    """
    reshape = call.name in _RESHAPE or call.name in ("flatten", "Flatten", "Unflatten")
    if reshape and isinstance(layer, Dense):
        return layer, reason, True
    if folded_src and reshape and isinstance(layer, Upsample) and _prod(
            call.inputs[0].shape) == _prod(call.output.shape):
        return None, ("it unfolds a tensor whose spatial axes an earlier reshape folded "
                      "away; which pixel each value came from is not tracked"), False
    if folded_src and isinstance(layer, Pointwise) and call.name not in _MIXING:
        return layer, reason, True
    return layer, reason, False


def _target_name(call: OpCall) -> str:
    t = call.target
    if isinstance(t, str):
        return t
    if hasattr(t, "forward") and hasattr(t, "training"):
        return type(t).__name__
    return call.name


def _macs(layer: Layer, call: OpCall) -> int:
    if not call.inputs:
        return 0
    x = call.inputs[0].shape
    y = call.output.shape
    if isinstance(layer, Conv) and len(x) >= 2:
        return _prod(y) * (x[1] // layer.groups) * _prod(layer.kernel)
    if isinstance(layer, ConvTranspose) and len(y) >= 2:
        return _prod(x) * (y[1] // layer.groups) * _prod(layer.kernel)
    if call.name in ("linear", "Linear") and x:
        return _prod(y) * x[-1]
    return 0


def _convert(call: OpCall, module: Any = None) -> tuple[Layer | None, str, list[str]]:
    """The call's layer (None and a reason when it cannot be modelled) and its exact notes."""
    notes = _stat_notes(call, module)
    mode = _padding_mode(call, module)
    if mode is not None:
        notes.append(f"{mode!r} padding: {_PAD_MODE_EFFECT.get(mode, _PAD_MODE_OTHER)}; "
                     + _PAD_MODE_EXACT)
        call = _zero_padding_call(call)
    conv: Any = None
    try:
        if module is not None:
            conv = _module_converter(module)
            if conv is None:
                return None, f"no converter registered for module {type(module).__name__}", notes
            layer = conv(module, call)
        else:
            conv = _function_converter(call.target)
            if conv is None:
                return None, f"no converter registered for {call.name!r}", notes
            layer = conv(call)
    except Unsupported as exc:
        return None, str(exc), notes
    except AtrousError as exc:
        return None, str(exc), notes
    if not isinstance(layer, Layer):
        who = getattr(conv, "__qualname__", None) or repr(conv)
        what = f"module {type(module).__name__}" if module is not None else repr(call.name)
        raise AtrousError(
            f"the converter {who} registered for {what} returned {type(layer).__name__} "
            f"({layer!r:.40}) at {call.path or call.name}, not an atrous layer (Conv, Pool, "
            "Pointwise, ...)")
    return layer, "", notes


_PAD_MODE_EFFECT = {
    "reflect": "border units also read the mirror images of pixels near the edge",
    "replicate": "border units read the edge pixel again in place of the padding",
    "circular": "border units also read pixels at the opposite edge (wrap-around)",
}
_PAD_MODE_OTHER = "border units read input pixels in place of the padding"
_PAD_MODE_EXACT = ("the boxes shown (clipped at the border, as with zero padding) are exact for "
                   "units whose box lies inside the input; size, stride and centre are unchanged")


def _padding_mode(call: OpCall, module: Any) -> str | None:
    """The non-zero padding mode of a conv or pad (None for zero/constant padding)."""
    if module is not None:
        import torch.nn as nn

        pads = nn.modules.padding
        for cls, mode in ((getattr(pads, "_ReflectionPadNd", None), "reflect"),
                          (getattr(pads, "_ReplicationPadNd", None), "replicate"),
                          (getattr(pads, "_CircularPadNd", None), "circular")):
            if cls is not None and isinstance(module, cls):
                return mode
        mode = getattr(module, "padding_mode", "zeros")
        return mode if isinstance(mode, str) and mode != "zeros" else None
    if call.name == "pad":
        mode = call.arg(2, "mode", "constant")
        return mode if isinstance(mode, str) and mode != "constant" else None
    index = _padding_mode_index(call.target)
    if index is None:
        return None
    mode = call.arg(index, "padding_mode", "zeros")
    return mode if isinstance(mode, str) and mode != "zeros" else None


def _padding_mode_index(fn: Any) -> int | None:
    import inspect

    if isinstance(fn, str) or not callable(fn):
        return None
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params.index("padding_mode") if "padding_mode" in params else None


def _zero_padding_call(call: OpCall) -> OpCall:
    """The same call with zero padding (the geometry a converter models)."""
    index = _padding_mode_index(call.target)
    if index is None:
        return call
    args, kwargs = list(call.args), dict(call.kwargs)
    if "padding_mode" in kwargs:
        kwargs["padding_mode"] = "zeros"
    elif index < len(args):
        args[index] = "zeros"
    return OpCall(call.target, call.name, call.path, tuple(args), kwargs, call.inputs,
                  call.output, call.ndim)


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _stat_notes(call: OpCall, module: Any) -> list[str]:
    """Notes for norms whose statistics (computed from the input, also in eval mode) span
    spatial axes: modelled as pointwise, as is conventional, and said so."""
    nd = call.ndim
    if not call.inputs or call.inputs[0].collapsed(nd):
        return []
    x = call.inputs[0]
    rank = len(x.shape)
    if rank < 2 + nd:
        return []
    spatial = list(range(rank - nd, rank))
    axes: list[int] = []
    what = ""
    if module is not None:
        import torch.nn as nn

        kind = type(module).__name__
        if isinstance(module, nn.GroupNorm):
            axes, what = spatial, "the mean and variance of each group over the whole map"
        elif isinstance(module, nn.modules.instancenorm._InstanceNorm):
            if not module.track_running_stats:
                axes, what = spatial, "each channel's mean and variance over the whole map"
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            if not module.track_running_stats:
                axes, what = spatial, "batch statistics (no running statistics are tracked)"
        elif isinstance(module, nn.LayerNorm) or kind == "RMSNorm":
            shape = getattr(module, "normalized_shape", ())
            n = len(shape) if isinstance(shape, (tuple, list)) else 1
            axes, what = spatial[max(0, nd - n):], "statistics over its normalized_shape"
    else:
        name = call.name
        if name == "group_norm":
            axes, what = spatial, "the mean and variance of each group over the whole map"
        elif name == "instance_norm" and call.arg(5, "use_input_stats", True):
            axes, what = spatial, "each channel's mean and variance over the whole map"
        elif name == "batch_norm" and (call.arg(5, "training", False)
                                       or call.arg(1, "running_mean") is None):
            axes, what = spatial, "batch statistics"
        elif name in ("layer_norm", "rms_norm"):
            shape = call.arg(1, "normalized_shape", ())
            n = len(shape) if isinstance(shape, (tuple, list)) else 1
            axes, what = spatial[max(0, nd - n):], "statistics over its normalized_shape"
        elif name == "normalize":
            dims = call.arg(2, "dim", 1)
            dims = {int(d) % rank for d in _as_list(dims)}
            axes = [a for a in spatial if a in dims]
            what = "the vector norm along the normalised dimension"
    axes = [a for a in axes if x.shape[a] > 1]
    if not axes:
        return []
    names = "x".join(_AXES[nd][a - (rank - nd)] for a in axes)
    return [f"normalises with {what} (computed from the input, in eval mode too), coupling "
            f"every unit to every pixel along {names} through those statistics; modelled as "
            "pointwise, as is conventional"]


# -- torch plumbing ----------------------------------------------------------------------------
def _check_input_size(input_size: Any) -> tuple[int, ...]:
    if input_size is None:
        raise AtrousError("analysing a torch model needs input_size=(N, C, *spatial), e.g. "
                          "(1, 3, 224, 224)")
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence):
        raise AtrousError(f"input_size must be a tuple like (1, 3, 224, 224), got {input_size!r}")
    size = tuple(input_size)
    if len(size) not in (3, 4, 5):
        raise AtrousError(
            f"input_size must be (N, C, *spatial) with 1 to 3 spatial axes, got {size}")
    for v in size:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise AtrousError(f"every input_size entry must be an integer >= 1, got {size}")
    return size


class _Eval:
    """Put a model in eval mode for the trace and restore every module's flag afterwards."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.flags: list[tuple[Any, bool]] = []

    def __enter__(self) -> None:
        self.flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()

    def __exit__(self, *exc: Any) -> None:
        for m, flag in self.flags:
            m.training = flag


_TORCH_LOGGERS = ("torch._subclasses.fake_tensor", "torch._subclasses", "torch.fx",
                  "torch.fx.experimental.symbolic_shapes", "torch._dispatch", "torch._refs",
                  "torch._prims_common")
"""Torch loggers that report (with a full traceback each) what atrous handles itself: an op
whose fake (meta) kernel fails, which atrous answers with the fallback or a one-line error."""


class _QuietTorch:
    """Silence torch's own error logging while atrous traces; restore the levels afterwards."""

    def __init__(self) -> None:
        self.levels: list[tuple[Any, int]] = []

    def __enter__(self) -> None:
        import logging

        self.levels = []
        for name in _TORCH_LOGGERS:
            log = logging.getLogger(name)
            self.levels.append((log, log.level))
            log.setLevel(logging.CRITICAL + 1)

    def __exit__(self, *exc: Any) -> None:
        for log, level in self.levels:
            log.setLevel(level)


def _dtype(model: Any) -> Any:
    """The model's floating dtype (its first floating parameter or buffer; float32 if none)."""
    import itertools

    import torch

    for t in itertools.chain(model.parameters(), model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _fake_mode() -> Any:
    from torch._subclasses.fake_tensor import FakeTensorMode

    return FakeTensorMode(allow_non_fake_inputs=True)


def _flatten_outputs(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten_outputs(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _flatten_outputs(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _leaf(module: Any, qualname: str) -> bool:
    import torch.nn as nn

    if _module_converter(module) is not None:
        return True
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return False
    mod = type(module).__module__
    return mod.startswith("torch.nn") or mod.startswith("torch.ao.nn")


# -- torch.fx path -----------------------------------------------------------------------------
def _trace_fx(model: Any, input_shape: tuple[int, ...], name: str) -> ModelGraph:
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
                   name: str) -> ModelGraph:
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


def _set_outputs(b: _Builder, outputs: Any, lookup: Callable[[Any], Any]) -> None:
    flat: list[tuple[str, str]] = []
    for label, o in _flatten_outputs(outputs):
        ref = lookup(o)
        if isinstance(ref, list):
            flat.extend((f"{label}.{i}" if label else str(i), r) for i, r in enumerate(ref))
        elif ref is not None:
            flat.append((label, ref))
    b.b.set_outputs(flat)


# -- hook fallback ----------------------------------------------------------------------------
def _trace_hooks(model: Any, input_shape: tuple[int, ...], name: str, fake: bool) -> ModelGraph:
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


# -- public entry ------------------------------------------------------------------------------
def to_graph(model: Any, input_size: Sequence[int] | None) -> ModelGraph:
    """Trace ``model`` into a Graph of analytic layers.

    Args:
        model: a ``torch.nn.Module`` taking one tensor.
        input_size: the full input shape ``(N, C, *spatial)`` with 1 to 3 spatial axes.

    Returns:
        A :class:`ModelGraph` (a Graph with ``diagnostics``, ``partial`` and ``method``).

    Raises:
        AtrousError: when ``input_size`` is malformed, or the model can neither be traced nor
            run on an input of that shape.

    >>> import torch.nn as nn
    >>> g = to_graph(nn.Conv1d(1, 1, 2, dilation=4), (1, 1, 100))
    >>> g[g.output].layer
    Conv(kernel=(2,), stride=(1,), padding=((0, 0),), dilation=(4,), groups=1)
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise AtrousError(f"to_graph needs a torch.nn.Module, got {type(model).__name__}")
    shape = _check_input_size(input_size)
    _install_module_converters()
    name = type(model).__name__
    if _module_converter(model) is not None:
        model = _wrap(model)  # a bare leaf module (e.g. one Conv2d): analyse it as a leaf
    with _Eval(model), _QuietTorch():
        try:
            g = _trace_fx(model, shape, name)
        except AtrousError:
            raise
        except Exception as exc:
            why = _first_line(exc)
            g = _fallback(model, shape, name, why)
        g.input_shape = shape
    return g


def _wrap(module: Any) -> Any:
    import torch.nn as nn

    class Root(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.add_module(type(module).__name__.lower(), module)

        def forward(self, x: Any) -> Any:
            return getattr(self, type(module).__name__.lower())(x)

    return Root()


def _fallback(model: Any, shape: tuple[int, ...], name: str, why: str) -> ModelGraph:
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
