"""ONNX ``Resize`` / ``Upsample``: which input pixels each output reads, checked against a layer.

The ONNX rule (coordinate transformation, nearest rounding, linear and cubic taps) is evaluated
for every output index of every spatial axis; the node becomes an atrous layer only when that
layer reads exactly the same pixels everywhere. Otherwise it is opaque, with the reason.
"""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AtrousError
from ..layers import Layer, Resize, Upsample

if TYPE_CHECKING:
    from ._convert import Converter, Live

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
_EXACT = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
          "half_pixel_symmetric")


def interpolation(cv: Converter, node: Any, x: Live) -> Layer:
    from ._convert import Unsupported

    if cv.attr(node, "antialias", 0):
        raise Unsupported("antialiased resizing reads a wider window than atrous models")
    mode = cv.attr(node, "mode", "nearest")
    if node.op_type == "Upsample":
        ctm, nearest = "asymmetric", "floor"
        scales = cv.attr(node, "scales")
        if scales is None:
            scales = cv.const(node, 1, "scales")
        sizes = None
    else:
        ctm = cv.attr(node, "coordinate_transformation_mode", "half_pixel")
        nearest = cv.attr(node, "nearest_mode", "round_prefer_floor")
        if cv.opset < 11:
            ctm = "asymmetric"
            scales, sizes = cv.const(node, 1, "scales"), None
        else:
            scales = cv.const(node, 2, "scales")
            sizes = cv.const(node, 3, "sizes")
        if cv.attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
            raise Unsupported("keep_aspect_ratio_policy other than 'stretch'")
    if ctm not in _EXACT:
        raise Unsupported(f"coordinate_transformation_mode {ctm!r} is not modelled")
    axes_attr = cv.attr(node, "axes")
    axes = [int(a) % x.rank for a in axes_attr] if axes_attr else list(range(x.rank))
    given = sizes if sizes is not None and np.asarray(sizes).size else scales
    if given is None or not np.asarray(given).size:
        raise Unsupported("neither scales nor sizes is given")
    vals = [v for v in np.asarray(given).reshape(-1)]
    if len(vals) != len(axes):
        raise Unsupported(f"{len(vals)} scales/sizes for {len(axes)} axes")
    per = dict(zip(axes, vals))
    use_sizes = given is sizes
    outs, factors = [], []
    for a, n in zip(x.axes, x.size):
        v = per.get(a, 1)
        if use_sizes:
            m = int(v)
            factors.append(Fraction(m, n))
        else:
            f = Fraction(np.format_float_positional(np.float32(v)))  # shortest decimal
            m = math.floor(n * f)
            factors.append(f)
        outs.append(m)
    for a in axes:
        if a not in x.axes:
            v = per[a]
            if (int(v) != cv.dims(node.input[0])[a]) if use_sizes else float(v) != 1.0:  # type: ignore[index]
                raise Unsupported("it resizes a non-spatial axis")
    if ctm != "half_pixel_symmetric":
        # the same reads as PyTorch's upsampling or resizing: say it with that layer
        want = [[_onnx_reads(mode, ctm, nearest, n, m, f, o) for o in range(m)]
                for n, m, f in zip(x.size, outs, factors)]
        for layer in _candidates(mode, x.size, tuple(outs), cv.ndim):
            if all(_layer_reads(layer, i, n, m) == want[i]
                   for i, (n, m) in enumerate(zip(x.size, outs))):
                return layer
    name = "nearest" if mode == "nearest" else "bicubic" if mode == "cubic" else (
        _LINEAR[cv.ndim] if mode == "linear" else "")
    if name:
        try:
            return Resize(
                tuple(outs), name, ndim=cv.ndim,  # type: ignore[arg-type]
                scale_factor=None if use_sizes else tuple(factors),
                coordinate_mode=ctm,  # type: ignore[arg-type]
                nearest_mode=nearest if mode == "nearest" else None,  # type: ignore[arg-type]
            )
        except AtrousError:
            pass
    raise Unsupported(
        f"its sampling (mode={mode!r}, coordinate_transformation_mode={ctm!r}"
        + (f", nearest_mode={nearest!r}" if mode == "nearest" else "")
        + f", {x.size} -> {tuple(outs)}) matches no atrous layer exactly"
    )


def _candidates(mode: str, size: tuple[int, ...], out: tuple[int, ...], nd: int) -> list[Layer]:
    found: list[Layer] = []
    whole = all(m % n == 0 for n, m in zip(size, out))
    names = (["nearest", "nearest-exact"] if mode == "nearest" else
             [_LINEAR[nd]] if mode == "linear" else ["bicubic"] if mode == "cubic" else [])
    for name in names:
        for align in ((False,) if name.startswith("nearest") else (False, True)):
            if whole and name != "nearest-exact" and not align:
                scale = tuple(m // n for n, m in zip(size, out))
                found.append(Upsample(scale, name, ndim=nd))  # type: ignore[arg-type]
            with contextlib.suppress(AtrousError):
                found.append(Resize(out, name, align, ndim=nd))  # type: ignore[arg-type]
    return found


def _layer_reads(layer: Layer, axis: int, n: int, m: int) -> list[list[int]]:
    if isinstance(layer, Upsample):
        f = layer.scale[axis]
        if layer.mode == "nearest":
            return [[o // f] for o in range(m)]
        probe = Resize(m, layer.mode, False, ndim=1)
        return [probe.reads(0, n, o) for o in range(m)]
    assert isinstance(layer, Resize)
    return [layer.reads(axis, n, o) for o in range(m)]


def _onnx_reads(mode: str, ctm: str, nearest: str, n: int, m: int, f: Fraction,
                o: int) -> list[int]:
    """The input pixels ONNX's Resize reads with a nonzero weight for output ``o`` (sorted)."""
    if ctm == "align_corners":
        src = Fraction(o * (n - 1), m - 1) if m > 1 else Fraction(0)
    elif ctm == "asymmetric":
        src = o / f
    elif ctm == "pytorch_half_pixel" and m == 1:
        src = Fraction(0)
    else:
        src = (o + Fraction(1, 2)) / f - Fraction(1, 2)
    if mode == "nearest":
        fl = math.floor(src)
        frac = src - fl
        if nearest == "floor":
            i = fl
        elif nearest == "ceil":
            i = math.ceil(src)
        elif frac == Fraction(1, 2):
            i = fl + (1 if nearest == "round_prefer_ceil" else 0)
        else:
            i = round(src)
        return [min(max(i, 0), n - 1)]
    i0 = math.floor(src)
    taps = (-1, 0, 1, 2) if mode == "cubic" else (0, 1)
    idx = [i0] if src == i0 else [i0 + t for t in taps]
    return sorted({min(max(i, 0), n - 1) for i in idx})
