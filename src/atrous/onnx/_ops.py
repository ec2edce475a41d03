"""ONNX operator -> analytic layer converters (registered into :mod:`._convert`'s tables)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import AtrousError
from ..layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Layer,
    Pad,
    Pointwise,
    Pool,
    PoolMode,
    Slice,
    Upsample,
)
from ._convert import MULTI, PHASE_SAFE, Converter, Live, Step, Unsupported, handles
from ._resize import interpolation

POINTWISE = [
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "Tanh", "Elu", "Selu", "Celu",
    "Gelu", "Mish", "Softplus", "Softsign", "HardSwish", "ThresholdedRelu", "Swish", "Clip",
    "Erf", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign",
    "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
    "Not", "IsNaN", "IsInf", "Cast", "CastLike", "Identity", "Dropout", "QuantizeLinear",
    "DequantizeLinear", "DynamicQuantizeLinear", "Shrink", "LRN", "Add", "Sub", "Mul", "Div",
    "Pow", "Max", "Min", "Mean", "Sum", "Where", "And", "Or", "Xor", "Equal", "Greater",
    "Less", "GreaterOrEqual", "LessOrEqual", "Mod", "BitShift", "BatchNormalization",
    "InstanceNormalization", "LayerNormalization", "GroupNormalization",
    "MeanVarianceNormalization", "LpNormalization", "RMSNormalization",
    "SimplifiedLayerNormalization",
]
_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
Ints = tuple[int, ...]


def _ints(v: Any, n: int, default: int, what: str) -> tuple[int, ...]:
    if v is None:
        return (default,) * n
    out = tuple(int(a) for a in v)
    if len(out) != n:
        raise Unsupported(f"its {what} {list(out)} do not have {n} entries")
    return out


def _channels_first(cv: Converter, x: Live) -> None:
    if x.axes != tuple(range(x.rank - cv.ndim, x.rank)) or x.rank != cv.ndim + 2:
        raise Unsupported(
            f"it works on axes {list(range(2, x.rank))} of a rank-{x.rank} tensor whose spatial "
            f"axes are {list(x.axes)}"
        )


def _auto_pads(cv: Converter, node: Any, x: Live, k: Sequence[int], s: Sequence[int],
               d: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    nd = cv.ndim
    auto = cv.attr(node, "auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = _ints(cv.attr(node, "pads"), 2 * nd, 0, "pads")
        return pads[:nd], pads[nd:]
    if auto == "VALID":
        return (0,) * nd, (0,) * nd
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise Unsupported(f"unknown auto_pad {auto!r}")
    lo, hi = [], []
    for n, kk, ss, dd in zip(x.size, k, s, d):
        out = -(-n // ss)
        total = max(0, (out - 1) * ss + (kk - 1) * dd + 1 - n)
        small, big = total // 2, total - total // 2
        lo.append(small if auto == "SAME_UPPER" else big)
        hi.append(big if auto == "SAME_UPPER" else small)
    return tuple(lo), tuple(hi)


def _layer(make: Any) -> Layer:
    try:
        layer: Layer = make()
    except AtrousError as exc:
        raise Unsupported(str(exc)) from None
    return layer


# -- convolutions and pooling -----------------------------------------------------------------
def _conv_attrs(cv: Converter, node: Any, x: Live) -> tuple[Ints, Ints, Ints]:
    """Kernel, strides and dilations of a Conv or ConvTranspose node on a channels-first input
    (the kernel from ``kernel_shape``, else from the weight's shape)."""
    _channels_first(cv, x)
    nd = cv.ndim
    w = cv.dims(node.input[1])
    k = cv.attr(node, "kernel_shape") or (list(w[2:]) if w is not None else None)
    if k is None or None in k:
        raise Unsupported("its kernel shape is unknown")
    return (_ints(k, nd, 1, "kernel_shape"), _ints(cv.attr(node, "strides"), nd, 1, "strides"),
            _ints(cv.attr(node, "dilations"), nd, 1, "dilations"))


@handles("Conv")
def _conv(cv: Converter, node: Any, x: Live) -> Step:
    nd = cv.ndim
    k, s, d = _conv_attrs(cv, node, x)
    lo, hi = _auto_pads(cv, node, x, k, s, d)
    groups = int(cv.attr(node, "group", 1))
    if x.phase > 1:
        if any(v != 1 for v in s):
            raise Unsupported("a strided convolution of space-to-batch phases")
        b = x.phase
        d = tuple(v * b for v in d)
        lo, hi = tuple(v * b for v in lo), tuple(v * b for v in hi)
    if any(v < 0 for v in (*lo, *hi)):
        raise Unsupported(f"negative pads {list(lo) + list(hi)}")
    return Step([_layer(lambda: Conv(k, stride=s, padding=tuple(zip(lo, hi)), dilation=d,
                                     groups=groups, ndim=nd))])


PHASE_SAFE.add(_conv)


@handles("ConvTranspose")
def _conv_transpose(cv: Converter, node: Any, x: Live) -> Step:
    nd = cv.ndim
    k, s, d = _conv_attrs(cv, node, x)
    op = _ints(cv.attr(node, "output_padding"), nd, 0, "output_padding")
    groups = int(cv.attr(node, "group", 1))
    shape = cv.attr(node, "output_shape")
    auto = cv.attr(node, "auto_pad", "NOTSET")
    full = [sv * (n - 1) + o + (kk - 1) * dd + 1 for n, sv, o, kk, dd in zip(x.size, s, op, k, d)]
    if shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(shape)[-nd:] if shape is not None else [n * sv for n, sv in zip(x.size, s)]
        lo, hi = [], []
        for f, t in zip(full, target):
            total = f - int(t)
            small, big = total // 2, total - total // 2
            upper = auto == "SAME_UPPER"
            lo.append(small if upper else big)
            hi.append(big if upper else small)
    elif auto == "VALID":
        lo, hi = [0] * nd, [0] * nd
    else:
        pads = _ints(cv.attr(node, "pads"), 2 * nd, 0, "pads")
        lo, hi = list(pads[:nd]), list(pads[nd:])
    # ONNX crops lo at the start and hi at the end of the full output, which output_padding
    # extended by op; atrous' layer crops p at the start and p - output_padding at the end
    end = [h - o for h, o in zip(hi, op)]
    extra = [lv - e for lv, e in zip(lo, end)]
    if all(0 <= e < max(sv, dv) for e, sv, dv in zip(extra, s, d)) and min(lo) >= 0:
        return Step([_layer(lambda: ConvTranspose(k, s, tuple(lo), d, tuple(extra), groups,
                                                  ndim=nd))])
    if min(lo) < 0:
        raise Unsupported(f"negative pads {lo + hi}")
    layers: list[Layer] = [_layer(lambda: ConvTranspose(k, s, 0, d, 0, groups, ndim=nd))]
    crop = tuple(f - max(e, 0) for f, e in zip(full, end))
    layers.append(Slice(tuple(lo), crop, 1, ndim=nd))
    if min(end) < 0:
        layers.append(Pad(tuple((0, max(-e, 0)) for e in end), ndim=nd))
    return Step(layers)


@handles("MaxPool", "AveragePool", "LpPool")
def _pool(cv: Converter, node: Any, x: Live) -> Step:
    _channels_first(cv, x)
    nd = cv.ndim
    k = _ints(cv.attr(node, "kernel_shape"), nd, 1, "kernel_shape")
    s = _ints(cv.attr(node, "strides"), nd, 1, "strides")
    d = _ints(cv.attr(node, "dilations"), nd, 1, "dilations")
    lo, hi = _auto_pads(cv, node, x, k, s, d)
    ceil = bool(cv.attr(node, "ceil_mode", 0))
    seen = cv.observed(node.output[0], x.axes)
    if seen is not None:  # a ceil-mode window that hangs over the end reads padding there
        hi = tuple(max(h, (o - 1) * sv + (kk - 1) * dv + 1 - n - lv)
                   for h, o, sv, kk, dv, n, lv in zip(hi, seen, s, k, d, x.size, lo))
    elif ceil:
        raise Unsupported("ceil_mode with an unknown output size")
    mode: PoolMode = "max" if node.op_type == "MaxPool" else "avg"
    if lo == hi and all(p <= kk // 2 for p, kk in zip(lo, k)) and (mode == "max" or set(d) == {1}):
        return Step([_layer(lambda: Pool(mode, k, s, lo, d, False, ndim=nd))])
    # same windows as a convolution with these pads (any pooling reads exactly its window)
    return Step([_layer(lambda: Conv(k, stride=s, padding=tuple(zip(lo, hi)), dilation=d,
                                     ndim=nd))])


@handles("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def _global_pool(cv: Converter, node: Any, x: Live) -> Step:
    _channels_first(cv, x)
    mode: PoolMode = "max" if node.op_type == "GlobalMaxPool" else "avg"
    return Step([GlobalPool(mode)])


def _reduce_axes(cv: Converter, node: Any, x: Live) -> tuple[list[int], bool]:
    axes = cv.attr(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in np.asarray(cv.const(node, 1, "axes")).reshape(-1)]
    keep = bool(cv.attr(node, "keepdims", 1))
    if not axes:
        if cv.attr(node, "noop_with_empty_axes", 0):
            return [], True
        axes = list(range(x.rank))
    return sorted({int(a) % x.rank for a in axes}), keep


@handles("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceL1", "ReduceL2",
         "ReduceLogSum", "ReduceLogSumExp", "ReduceProd", "ReduceSumSquare")
def _reduce(cv: Converter, node: Any, x: Live) -> Step:
    axes, keep = _reduce_axes(cv, node, x)
    hit = [a for a in x.axes if a in axes]
    mode: PoolMode = "max" if node.op_type in ("ReduceMax", "ReduceMin") else "avg"
    new_axes = x.axes if keep else tuple(a - sum(r < a for r in axes) for a in x.axes)
    batch = x.batch
    if not keep and batch is not None:
        batch = None if batch in axes else batch - sum(r < batch for r in axes)
    rank = x.rank if keep else x.rank - len(axes)
    if not hit:
        return Step([Pointwise(node.op_type.lower())], axes=new_axes, rank=rank, batch=batch)
    if len(hit) == len(x.axes):
        return Step([GlobalPool(mode)], axes=x.axes if keep else (), rank=rank, batch=batch)
    if not keep:
        raise Unsupported("it removes some of the spatial axes (keepdims=0)")
    target = tuple(1 if a in axes else n for a, n in zip(x.axes, x.size))
    return Step([AdaptivePool(mode, target, ndim=cv.ndim)])


# -- resampling ---------------------------------------------------------------------------------
@handles("Resize", "Upsample")
def _resize(cv: Converter, node: Any, x: Live) -> Step:
    return Step([interpolation(cv, node, x)])


@handles("DepthToSpace")
def _depth_to_space(cv: Converter, node: Any, x: Live) -> Step:
    _channels_first(cv, x)
    b = int(cv.attr(node, "blocksize"))
    if x.phase > 1:
        if x.batch != 1 or b != x.phase:
            raise Unsupported("it does not undo the space-to-batch split in effect")
        return Step([Pointwise("batch_to_space")], phase=1)
    return Step([Upsample(b, "nearest", ndim=cv.ndim)])


PHASE_SAFE.add(_depth_to_space)


@handles("SpaceToDepth")
def _space_to_depth(cv: Converter, node: Any, x: Live) -> Step:
    _channels_first(cv, x)
    b = int(cv.attr(node, "blocksize"))
    if x.batch == 1:  # tf2onnx's space-to-batch: blocks go to the (transposed) batch axis
        if any(n % b for n in x.size):
            raise Unsupported(f"spatial size {x.size} is not a multiple of the block {b}")
        return Step([Pointwise("space_to_batch")], phase=b)
    return Step([Conv(b, stride=b, ndim=cv.ndim)])


@handles("SpaceToBatchND")
def _space_to_batch_nd(cv: Converter, node: Any, x: Live) -> Step:
    nd = cv.ndim
    if x.axes != tuple(range(1, nd + 1)):
        raise Unsupported("its spatial axes (1 to N, TensorFlow's layout) are not the input's")
    block = [int(v) for v in np.asarray(cv.const(node, 1, "block_shape")).reshape(-1)]
    pads = np.asarray(cv.const(node, 2, "paddings")).reshape(-1, 2)
    if len(block) != nd or len(set(block)) != 1 or len(pads) != nd:
        raise Unsupported(f"block shape {block} is not one block for all {nd} spatial axes")
    b = block[0]
    padded = [n + int(p[0]) + int(p[1]) for n, p in zip(x.size, pads)]
    if any(n % b for n in padded):
        raise Unsupported(f"padded size {padded} is not a multiple of the block {b}")
    pairs = tuple((int(p[0]), int(p[1])) for p in pads)
    layers: list[Layer] = [Pad(pairs, ndim=nd)] if any(any(p) for p in pairs) else []
    return Step(layers or [Pointwise("space_to_batch")], phase=b)


@handles("BatchToSpaceND")
def _batch_to_space_nd(cv: Converter, node: Any, x: Live) -> Step:
    nd = cv.ndim
    block = [int(v) for v in np.asarray(cv.const(node, 1, "block_shape")).reshape(-1)]
    crops = np.asarray(cv.const(node, 2, "crops")).reshape(-1, 2)
    if x.phase == 1 or block != [x.phase] * nd or x.axes != tuple(range(1, nd + 1)):
        raise Unsupported("it does not undo the space-to-batch split in effect")
    if not crops.any():
        return Step([Pointwise("batch_to_space")], phase=1)
    start = tuple(int(c[0]) for c in crops)
    stop = tuple(n - int(c[1]) for n, c in zip(x.size, crops))
    return Step([Slice(start, stop, 1, ndim=nd)], phase=1)


PHASE_SAFE.update({_batch_to_space_nd})


# -- padding, slicing, splitting ------------------------------------------------------------------
@handles("Pad")
def _pad(cv: Converter, node: Any, x: Live) -> Step:
    mode = cv.attr(node, "mode", "constant")
    if cv.opset < 11:
        pads = cv.attr(node, "pads") or cv.attr(node, "paddings")
        axes = list(range(x.rank))
    else:
        pads = [int(v) for v in np.asarray(cv.const(node, 1, "pads")).reshape(-1)]
        ax = cv.const(node, 3, "axes")
        axes = ([int(a) % x.rank for a in np.asarray(ax).reshape(-1)] if ax is not None
                else list(range(x.rank)))
    pads = [int(v) for v in pads]
    if len(pads) != 2 * len(axes):
        raise Unsupported(f"pads {pads} do not match axes {axes}")
    per = {a: (pads[i], pads[i + len(axes)]) for i, a in enumerate(axes)}
    pairs = tuple(per.get(a, (0, 0)) for a in x.axes)
    layers: list[Layer] = []
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
    if any(any(p) for p in grow):
        layers.append(Pad(grow, ndim=cv.ndim))
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        size = tuple(n + lo + hi for n, (lo, hi) in zip(x.size, grow))
        start = tuple(max(-lo, 0) for lo, _ in pairs)
        stop = tuple(n - max(-hi, 0) for n, (_, hi) in zip(size, pairs))
        layers.append(Slice(start, stop, 1, ndim=cv.ndim))
    notes: tuple[str, ...] = ()
    if mode != "constant" and layers:
        notes = (f"pads in {mode!r} mode: interior units read exactly the boxes shown; units "
                 "near the border read mirrored or repeated pixels instead of zeros",)
    return Step(layers or [Pointwise("pad")], notes=notes)


@handles("Slice")
def _slice(cv: Converter, node: Any, x: Live) -> Step:
    if cv.opset < 10:
        starts, ends = cv.attr(node, "starts"), cv.attr(node, "ends")
        axes = cv.attr(node, "axes")
        steps = None
    else:
        starts = cv.const(node, 1, "starts")
        ends = cv.const(node, 2, "ends")
        axes = cv.const(node, 3, "axes")
        steps = cv.const(node, 4, "steps")
    starts = [int(v) for v in np.asarray(starts).reshape(-1)]
    ends = [int(v) for v in np.asarray(ends).reshape(-1)]
    axes_l = ([int(a) % x.rank for a in np.asarray(axes).reshape(-1)] if axes is not None
              else list(range(len(starts))))
    steps_l = ([int(v) for v in np.asarray(steps).reshape(-1)] if steps is not None
               else [1] * len(starts))
    start, stop, step = [0] * cv.ndim, [None] * cv.ndim, [1] * cv.ndim
    touched = False
    for a, st, en, sp in zip(axes_l, starts, ends, steps_l):
        if a not in x.axes:
            continue
        i = x.axes.index(a)
        n = x.size[i]
        if sp <= 0:
            raise Unsupported(f"step {sp} on a spatial axis")
        st = min(max(st + n if st < 0 else st, 0), n)
        en = min(max(en + n if en < 0 else en, 0), n)
        if (st, en, sp) != (0, n, 1):
            touched = True
        start[i], stop[i], step[i] = st, None if en >= n else en, sp
    if not touched:
        return Step([Pointwise("slice")])
    return Step([_layer(lambda: Slice(tuple(start), tuple(stop), tuple(step), ndim=cv.ndim))])


def _split(cv: Converter, node: Any, ins: list[str]) -> None:
    x = cv.tensors[ins[0]]
    if len(ins) > 1:
        cv._opaque(node, ins, "its split sizes depend on the model input")
        return
    axis = int(cv.attr(node, "axis", 0)) % x.rank
    outs = list(node.output)
    if axis not in x.axes or x.folded or x.phase > 1:
        for k, out in enumerate(outs):
            if out:
                cv._emit(node, x, Step([Pointwise("split")]), out, f".{k}" if k else "")
        return
    i = x.axes.index(axis)
    n = x.size[i]
    try:
        split = cv.const(node, 1, "split") if cv.opset >= 13 else cv.attr(node, "split")
    except Unsupported as exc:
        cv._opaque(node, ins, str(exc))
        return
    if split is None:
        count = len(outs)
        chunk = -(-n // count)
        sizes = [min(chunk, n - chunk * j) for j in range(count)]
    else:
        sizes = [int(v) for v in np.asarray(split).reshape(-1)]
    pos = 0
    for k, (out, length) in enumerate(zip(outs, sizes)):
        start = [0] * cv.ndim
        stop: list[int | None] = [None] * cv.ndim
        start[i], stop[i] = pos, pos + length
        pos += length
        if out:
            cv._emit(node, x, Step([Slice(tuple(start), tuple(stop), 1, ndim=cv.ndim)]), out,
                     f".{k}" if k else "")


def _concat(cv: Converter, node: Any, ins: list[str]) -> None:
    rank = max(cv.tensors[i].rank for i in ins)
    axis = int(cv.attr(node, "axis", 1)) % rank
    for i in ins:
        t = cv.tensors[i]
        if axis in t.axes and not t.folded:
            cv._opaque(node, ins, "it concatenates along a spatial axis")
            return
    if len(ins) == 1:
        cv._unary(node, ins[0])
    else:
        cv._merge(node, ins)


MULTI["Split"] = _split
MULTI["Concat"] = _concat


# -- layout: transposes and reshapes -------------------------------------------------------------
@handles("Transpose")
def _transpose(cv: Converter, node: Any, x: Live) -> Step:
    perm = cv.attr(node, "perm") or list(range(x.rank))[::-1]
    perm = [int(p) for p in perm]
    axes = tuple(perm.index(a) for a in x.axes)
    batch = perm.index(x.batch) if x.batch is not None else None
    return Step([Pointwise("transpose")], axes=axes, batch=batch)


PHASE_SAFE.add(_transpose)


def _out_dims(cv: Converter, node: Any) -> list[int]:
    d = cv.dims(node.output[0])
    if d is None or None in d:
        raise Unsupported("its output shape is unknown")
    return [int(v) for v in d]  # type: ignore[arg-type]


def _in_dims(cv: Converter, node: Any, x: Live) -> list[int]:
    d = cv.dims(node.input[0])
    if d is None or None in d:
        raise Unsupported("its input shape is unknown")
    return [int(v) for v in d]  # type: ignore[arg-type]


@handles("Reshape", "Flatten")
def _reshape(cv: Converter, node: Any, x: Live) -> Step:
    din = _in_dims(cv, node, x)
    dout = _out_dims(cv, node)
    nd = cv.ndim
    if all(n == 1 for n in x.size):
        tail = tuple(range(len(dout) - nd, len(dout)))
        if len(dout) >= nd + 2 and all(dout[a] == 1 for a in tail):
            return Step([Pointwise("reshape")], axes=tail, rank=len(dout), batch=None)
        return Step([Pointwise("reshape")], axes=(), rank=len(dout), batch=None)
    lead = x.axes[0]
    block = list(x.size)
    # the spatial axes stay one contiguous block with the same sizes, and the axes before
    # (batch, or batch and channel groups) keep their product: a channel shuffle
    if x.axes == tuple(range(lead, lead + nd)):
        for start in range(len(dout) - nd + 1):
            if (dout[start:start + nd] == block
                    and math.prod(dout[:start]) == math.prod(din[:lead])
                    and math.prod(dout[start + nd:]) == math.prod(din[lead + nd:])):
                return Step([Pointwise("reshape")], axes=tuple(range(start, start + nd)),
                            rank=len(dout), batch=0 if start > 0 and dout[0] == din[0] else None)
    if len(dout) < len(din) and math.prod(dout) == math.prod(din):
        return Step([Dense("flatten")], axes=(), rank=len(dout), folded=True, batch=None)
    raise Unsupported(f"it reshapes {din} to {dout}, mixing the spatial axes with others")


@handles("Squeeze", "Unsqueeze")
def _squeeze(cv: Converter, node: Any, x: Live) -> Step:
    axes = cv.attr(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in np.asarray(cv.const(node, 1, "axes")).reshape(-1)]
    if node.op_type == "Unsqueeze":
        rank = x.rank + len(axes)
        new = sorted(int(a) % rank for a in axes)
        old = [p for p in range(rank) if p not in new]
        mapped = tuple(old[a] for a in x.axes)
        batch = old[x.batch] if x.batch is not None else None
        return Step([Pointwise("unsqueeze")], axes=mapped, rank=rank, batch=batch)
    dims = _in_dims(cv, node, x)
    gone = (sorted(int(a) % x.rank for a in axes) if axes is not None
            else [i for i, n in enumerate(dims) if n == 1])
    hit = [a for a in x.axes if a in gone]
    if hit and len(hit) < len(x.axes):
        raise Unsupported("it removes some of the spatial axes")
    left = tuple(a - sum(g < a for g in gone) for a in x.axes) if not hit else ()
    batch = None if x.batch is None or x.batch in gone else x.batch - sum(
        g < x.batch for g in gone)
    return Step([Pointwise("squeeze")], axes=left, rank=x.rank - len(gone), batch=batch)


@handles("Expand")
def _expand(cv: Converter, node: Any, x: Live) -> Step:
    dout = _out_dims(cv, node)
    shift = len(dout) - x.rank
    axes = tuple(a + shift for a in x.axes)
    out = tuple(dout[a] for a in axes)
    if out == x.size:
        return Step([Pointwise("expand")], axes=axes, rank=len(dout))
    if any(n != 1 and n != o for n, o in zip(x.size, out)):
        raise Unsupported(f"it expands spatial size {x.size} to {out}")
    scale = tuple(o if n == 1 else 1 for n, o in zip(x.size, out))
    return Step([Upsample(scale, "nearest", ndim=cv.ndim)], axes=axes, rank=len(dout))


@handles("Tile")
def _tile(cv: Converter, node: Any, x: Live) -> Step:
    reps = [int(v) for v in np.asarray(cv.const(node, 1, "repeats")).reshape(-1)]
    if any(reps[a] != 1 for a in x.axes):
        raise Unsupported(f"it tiles the spatial axes ({reps})")
    return Step([Pointwise("tile")])


@handles("Gather")
def _gather(cv: Converter, node: Any, x: Live) -> Step:
    axis = int(cv.attr(node, "axis", 0)) % x.rank
    if axis in x.axes:
        raise Unsupported("it gathers along a spatial axis")
    dout = cv.dims(node.output[0])
    rank = len(dout) if dout is not None else x.rank
    shift = rank - x.rank
    axes = tuple(a + shift if a > axis else a for a in x.axes)
    return Step([Pointwise("gather")], axes=axes, rank=rank, batch=x.batch if axis != x.batch
                else None)


@handles("MatMul", "Gemm", "MatMulInteger", "QLinearMatMul")
def _matmul(cv: Converter, node: Any, x: Live) -> Step:
    if node.op_type == "Gemm" or x.rank - 1 in x.axes:
        raise Unsupported("it multiplies along a spatial axis")
    return Step([Pointwise(node.op_type.lower())])


@handles("Softmax", "LogSoftmax", "Hardmax")
def _softmax(cv: Converter, node: Any, x: Live) -> Step:
    default = 1 if cv.opset < 13 else -1
    axis = int(cv.attr(node, "axis", default)) % x.rank
    covered = range(axis, x.rank) if cv.opset < 13 else [axis]
    if any(a in covered for a in x.axes):
        raise Unsupported("it normalises over a spatial axis")
    return Step([Pointwise(node.op_type.lower())])


# -- pointwise ----------------------------------------------------------------------------------
def _pointwise(cv: Converter, node: Any, x: Live) -> Step:
    return Step([Pointwise(node.op_type.lower())], notes=_stat_notes(cv, node, x))


for _op in POINTWISE:
    handles(_op)(_pointwise)
PHASE_SAFE.add(_pointwise)


def _stat_notes(cv: Converter, node: Any, x: Live) -> tuple[str, ...]:
    """Norms whose statistics span spatial axes: pointwise, as is conventional, said so."""
    op = node.op_type
    axes: list[int] = []
    what = ""
    if op in ("InstanceNormalization", "GroupNormalization"):
        axes, what = list(x.axes), ("each channel's mean and variance over the whole map"
                                    if op == "InstanceNormalization" else
                                    "the mean and variance of each group over the whole map")
    elif op == "BatchNormalization" and cv.attr(node, "training_mode", 0):
        axes, what = list(x.axes), "batch statistics"
    elif op in ("LayerNormalization", "RMSNormalization", "SimplifiedLayerNormalization"):
        start = int(cv.attr(node, "axis", -1)) % x.rank
        axes, what = [a for a in x.axes if a >= start], "statistics over its normalized axes"
    elif op == "MeanVarianceNormalization":
        mv = [int(a) % x.rank for a in (cv.attr(node, "axes") or [0, 2, 3])]
        axes, what = [a for a in x.axes if a in mv], "the mean and variance over its axes"
    elif op == "LpNormalization":
        a = int(cv.attr(node, "axis", -1)) % x.rank
        axes, what = [a] if a in x.axes else [], "the vector norm along its axis"
    axes = [a for a in axes if x.size[x.axes.index(a)] > 1]
    if not axes:
        return ()
    names = "x".join(_AXES[cv.ndim][x.axes.index(a)] for a in axes)
    return (f"normalises with {what} (computed from the input, in eval mode too), coupling "
            f"every unit to every pixel along {names} through those statistics; modelled as "
            "pointwise, as is conventional",)
