"""Converters of torch functions and tensor methods (``F.conv2d``, ``x.mean``, ``x[..., ::2]``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..layers import (
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
from .layout import LayoutError, normalise, permute_layout, reshape_layout
from .registry import _FUNCTIONS_BY_NAME, OpCall, TensorInfo, Unsupported


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


_PERMUTES = frozenset(["permute", "transpose", "movedim", "swapaxes", "swapdims", "t"])


def _permutation(call: OpCall) -> list[int]:
    """The axis order of a permute-like call (output axis i is input axis perm[i])."""
    rank = len(call.inputs[0].shape)
    perm = list(range(rank))
    if call.name == "permute":
        dims = call.args[1:] if len(call.args) > 2 else call.arg(1, "dims")
        perm = [int(d) % rank for d in _as_list(dims)]
    elif call.name in ("transpose", "swapaxes", "swapdims"):
        a, b = int(call.arg(1, "dim0")) % rank, int(call.arg(2, "dim1")) % rank
        perm[a], perm[b] = perm[b], perm[a]
    elif call.name == "movedim":
        src = [int(d) % rank for d in _as_list(call.arg(1, "source"))]
        dst = [int(d) % rank for d in _as_list(call.arg(2, "destination"))]
        rest = [d for d in range(rank) if d not in src]
        perm = [-1] * rank
        for s_, d_ in zip(src, dst):
            perm[d_] = s_
        it = iter(rest)
        perm = [p if p >= 0 else next(it) for p in perm]
    elif rank > 1:  # t(): a 2-D transpose
        perm = perm[::-1]
    return perm


def _reshape_like(call: OpCall) -> Layer:
    """Permutes and views: the image axes are followed (:mod:`atrous.fx.layout`)."""
    nd = call.ndim
    x, out = call.inputs[0], call.output
    if call.name in _PERMUTES:
        return Pointwise(call.name)  # the walker follows where the image axes went
    sin, sout = x.spatial(nd), out.spatial(nd)
    if x.collapsed(nd):
        if out.collapsed(nd):
            return Pointwise(call.name)
        return Upsample(sout, "nearest", ndim=nd)  # broadcasting a global value over the map
    try:
        r = reshape_layout(x.shape, out.shape, x.layout or _default(x, nd), nd)
    except LayoutError as exc:
        if len(out.shape) < 2 + nd and out.layout is None:
            return Dense(call.name)  # the spatial axes are folded away: every value spans the map
        raise Unsupported(f"{call.name} reshapes the spatial axes {sin} -> {sout}: {exc}"
                          ) from None
    if r.folded:
        return Dense(call.name)
    if any(f > 1 for f in r.factors):
        return Conv(r.factors, stride=r.factors, ndim=nd)  # space-to-depth written with views
    return Pointwise(call.name)


def _default(x: TensorInfo, nd: int) -> tuple[tuple[int, ...], ...]:
    rank = len(x.shape)
    return tuple((rank - nd + j,) for j in range(nd))


def _out_layout(name: str, x: TensorInfo | None, out_shape: tuple[int, ...], call_args: tuple[
        Any, ...], kwargs: dict[str, Any], nd: int) -> tuple[tuple[int, ...], ...] | None:
    """Where the output's image axes are, given the first live input ``x`` (None: trailing)."""
    if x is None or (x.layout is None and len(x.shape) < 2 + nd):
        return None
    if name in _PERMUTES:
        probe = OpCall(name, name, "", call_args, kwargs, (x,), x, nd)
        try:
            perm = _permutation(probe)
        except (TypeError, ValueError, IndexError):
            return None
        if len(perm) != len(x.shape):
            return None
        return normalise(permute_layout(x.layout or _default(x, nd), perm), len(out_shape), nd)
    if name in _VIEWS:
        try:
            r = reshape_layout(x.shape, out_shape, x.layout or _default(x, nd), nd)
        except LayoutError:
            return None
        return r.layout
    if x.layout is not None and len(out_shape) == len(x.shape):
        return x.layout  # elementwise, linear over the channels, norms: the layout stays
    return None


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
    if len(x.shape) - 1 in x.image_axes(call.ndim) and x.shape[-1] > 1:
        raise Unsupported("a linear layer over the last spatial axis")
    return Pointwise("linear")


def _stack(call: OpCall) -> Layer:
    """``torch.stack`` of maps along a new non-image axis: a concatenation (SKNet's branches)."""
    rank = len(call.output.shape)
    dim = int(call.arg(1, "dim", 0)) % rank
    if dim >= rank - call.ndim and not call.output.collapsed(call.ndim):
        raise Unsupported("stacking along a spatial axis")
    return Merge("concat") if len(call.inputs) >= 2 else Pointwise(call.name)


def _roll(call: OpCall) -> Layer:
    """``torch.roll``: exact along the channels; along an image axis it moves pixels."""
    x = call.inputs[0]
    rank = len(x.shape)
    dims = call.arg(2, "dims")
    image = set(x.image_axes(call.ndim))
    if dims is not None and dims != () and not x.collapsed(call.ndim) and not (
            {int(d) % rank for d in _as_list(dims)} & image):
        return Pointwise(call.name)
    if x.collapsed(call.ndim):
        return Pointwise(call.name)
    raise Unsupported("a circular shift along an image axis (torch.roll) moves pixels: a "
                      "field computed through it as the identity is neither a lower nor an "
                      "upper bound")


def _im2col(call: OpCall) -> Layer:
    """``F.unfold`` / ``F.fold`` / ``Tensor.unfold``: they move pixels between axes."""
    if call.inputs[0].collapsed(call.ndim) and call.output.collapsed(call.ndim):
        return Pointwise(call.name)
    raise Unsupported(f"{call.name} moves pixels between the image and other axes (im2col): "
                      "a field computed through it as the identity is neither a lower nor an "
                      "upper bound")


def _matmul(call: OpCall) -> Layer:
    """Matrix products of tensors with no image axes left (attention over folded tokens)."""
    nd = call.ndim
    if all(x.collapsed(nd) and x.layout is None for x in call.inputs) and call.output.collapsed(
            nd):
        return Merge("mul") if len(call.inputs) >= 2 else Pointwise(call.name)
    raise Unsupported(f"{call.name} over image axes")


def _drop_path(call: OpCall) -> Layer:
    """Stochastic depth / drop-path: the identity at eval, a per-sample scale in training."""
    return Pointwise(call.name)


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
    "interpolate": _fn_interpolate, "upsample": _fn_interpolate, "pad": _fn_pad, "copy": _pointwise,
    "mean": _fn_mean, "sum": _fn_mean, "nanmean": _fn_mean, "std": _fn_mean, "var": _fn_mean,
    "norm": _fn_mean, "logsumexp": _fn_mean, "prod": _fn_mean, "amax": _fn_max, "amin": _fn_max,
    "max": _fn_max, "min": _fn_max, "softmax": _softmax, "log_softmax": _softmax,
    "cat": _cat, "getitem": _getitem, "flatten": _fn_flatten, "linear": _linear,
    "chunk": _split, "split": _split, "unbind": _split, "tensor_split": _split,
    "pixel_shuffle": _fn_pixel_shuffle, "pixel_unshuffle": _fn_pixel_unshuffle,
    "stack": _stack, "stochastic_depth": _drop_path, "drop_path": _drop_path, "roll": _roll,
    "unfold": _im2col, "fold": _im2col, "matmul": _matmul, "mm": _matmul, "bmm": _matmul,
    "einsum": _matmul,
})


_VIEWS = frozenset(["view", "reshape", "unflatten", "squeeze", "unsqueeze", "view_as",
                    "reshape_as", "flatten", "Flatten", "Unflatten", "contiguous"])
"""Calls that regroup axes without moving values (their layout is followed)."""

_FACTORIES = frozenset([
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
    "randint_like", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor",
])
"""Ops whose result depends on an input's shape only, not its values: constants."""

_MIXING = frozenset(["linear", "Linear", "Bilinear", "matmul", "mm", "bmm", "einsum"])
"""Ops that mix every element of the last axis: after a fold, every value spans the map."""

_SHAPE_ONLY_OTHER = frozenset(["expand_as", "view_as", "reshape_as", "type_as"])
"""Methods whose second tensor gives only a shape or dtype: ``y.expand_as(x)`` reads ``y``."""


_OVERWRITES = frozenset(["copy", "zero", "fill"])
"""In-place methods whose result does not read the destination's old values."""


def _values_only(op_name: str, args: tuple[Any, ...], srcs: list[str],
                 infos: list[TensorInfo]) -> None:
    """Drop the tensors an op reads only the shape of from its value inputs (in place)."""
    if op_name in _OVERWRITES:
        if args and isinstance(args[0], TensorInfo) and args[0].live:
            del srcs[0]
            del infos[0]
        return
    if op_name not in _SHAPE_ONLY_OTHER:
        return
    keep = 1 if args and isinstance(args[0], TensorInfo) and args[0].live else 0
    del srcs[keep:]
    del infos[keep:]
