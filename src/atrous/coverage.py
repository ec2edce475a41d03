"""Exact coverage maps: how many distinct paths lead from each input pixel to one output unit.

This is what seed 001's ``dilated_conv_all_map`` loop computes and its figures show, made exact
and fast, and generalised from a stack of stride-1 convolutions to any :class:`~atrous.Graph`:
strides, pooling (a pooling window is a set of taps), transposed convolution and upsampling
(paths through the scatter/interpolation), padding and slicing, residual and parallel branches
(a merge sums the paths of its branches) and, when ``input_size`` is given, global pooling.

The *gridding effect* is a zero inside the receptive-field box: an input pixel the unit never
reads although its neighbours on both sides are read.

    >>> from atrous import stack
    >>> cov = coverage(stack([2, 2, 2], ndim=1))
    >>> cov.counts.tolist()
    [1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1]
    >>> cov.holes, cov.gridded, cov.rf_size
    (6, True, (13,))
    >>> coverage(stack([1, 2, 3], ndim=1)).gridded
    False

Counts are exact: ``counts`` is an ``int64`` array, or an ``object`` array of Python ints when a
count could exceed the ``int64`` range (deep stacks); the switch is decided by a bound computed
before each step, so nothing ever overflows silently. A map larger than ``max_cells`` is refused
with :class:`~atrous.errors.TooLargeError`; a layer without a coverage model (an opaque op, or a
global pool without ``input_size``) raises :class:`CoverageUnavailable` naming the node.
:func:`layer_gridding` maps every node, to show where a network starts to grid.

How: every layer reads, per axis, a set of input positions for each output position, so a chain
of layers is separable: one exact 1-D map per distinct axis (for stride-1 taps, one exact
integer convolution with the layer's sparse tap pattern per layer, ``O(length * min(k, 16))``
whatever the dilation) and an outer product. A graph with merges propagates an n-D map
backwards through vectorised per-axis scatters and sums the maps where branches meet.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from ._types import Ints, as_int, as_size
from .errors import AtrousError, TooLargeError
from .graph import Graph, as_graph
from .layers import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Input,
    Layer,
    Merge,
    Opaque,
    Pad,
    Pointwise,
    Pool,
    Resize,
    Slice,
    Upsample,
)

__all__ = [
    "DEFAULT_MAX_CELLS",
    "Coverage",
    "CoverageUnavailable",
    "LayerGridding",
    "coverage",
    "layer_gridding",
]

DEFAULT_MAX_CELLS = 1 << 24
"""Largest map (number of cells) :func:`coverage` builds before raising ``TooLargeError``."""

# A step never produces a count larger than the sum of the counts it starts from (each output
# reads a given input pixel at most once), so an int64 map whose sum is below this limit can take
# one more step in int64. The limit is half the int64 range, so the float64 estimate of the sum
# (relative error < 1e-9 here) can never hide an overflow.
_INT64_SAFE = float(2**62)

_Array = Any  # numpy array of int64 or of Python ints (dtype=object)


class CoverageUnavailable(AtrousError):
    """Coverage cannot be computed for this target; ``node`` names the layer that stopped it.

    Attributes:
        node: name of the graph node that could not be analysed.
        reason: why, in words.
    """

    def __init__(self, node: str, reason: str) -> None:
        self.node = node
        self.reason = reason
        super().__init__(f"coverage is unavailable at node {node!r}: {reason}")


# -- results --------------------------------------------------------------------------------
def _prod(values: Sequence[int]) -> int:
    return math.prod(int(v) for v in values)


def _to_py(value: Any) -> int:
    return int(value)


@dataclass(frozen=True, eq=False)
class Coverage:
    """The exact coverage map of one output unit.

    Attributes:
        counts: number of distinct paths from each input pixel to the unit; the array spans
            exactly the receptive-field box (the bounding box of the pixels with a path).
            ``int64``, or ``object`` (Python ints) when counts may exceed the int64 range.
        offset: input coordinate of ``counts[0, ..., 0]`` per axis. Without ``input_size`` the
            input is taken as unbounded, so the offset may be negative (left of pixel 0).
        node: the graph node whose unit was mapped.
        unit: the index of the mapped unit in that node's output, per axis.
        input_size: the spatial input size when one was given, else None (unbounded input).
    """

    counts: _Array
    offset: Ints
    node: str
    unit: Ints
    input_size: Ints | None = None
    diagnostics: tuple[str, ...] = field(default=())

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.offset)

    @property
    def rf_size(self) -> Ints:
        """Size of the receptive-field box per axis (the shape of ``counts``)."""
        return tuple(int(n) for n in self.counts.shape)

    @property
    def box(self) -> tuple[tuple[int, int], ...]:
        """``(first, last)`` input coordinate of the box per axis (both inclusive)."""
        return tuple((o, o + n - 1) for o, n in zip(self.offset, self.rf_size))

    @property
    def cells(self) -> int:
        """Number of pixels in the box."""
        return _prod(self.rf_size)

    @cached_property
    def covered(self) -> int:
        """Number of pixels in the box with at least one path."""
        return int(np.count_nonzero(self.counts != 0))

    @property
    def holes(self) -> int:
        """Number of pixels inside the box that no path reaches (the gridding effect)."""
        return self.cells - self.covered

    @property
    def gridded(self) -> bool:
        """True when the box has holes."""
        return self.holes > 0

    @property
    def fraction(self) -> float:
        """Covered pixels / pixels in the box (0.0 for an empty map)."""
        return self.covered / self.cells if self.cells else 0.0

    @cached_property
    def max_count(self) -> int:
        """The largest count (exact)."""
        return _to_py(self.counts.max()) if self.counts.size else 0

    @cached_property
    def min_count(self) -> int:
        """The smallest count over the box (0 when gridded)."""
        return _to_py(self.counts.min()) if self.counts.size else 0

    @cached_property
    def total_paths(self) -> int:
        """The number of paths from the whole input to the unit (exact)."""
        if self.counts.dtype == object:
            return int(sum(self.counts.ravel().tolist()))
        if not self.counts.size:
            return 0
        if int(self.counts.max()) * self.counts.size < 2**63:
            return int(self.counts.sum())  # cannot overflow int64
        rows = self.counts.reshape(self.counts.shape[0], -1)
        if int(self.counts.max()) * rows.shape[1] < 2**63:
            return sum(rows.sum(axis=1).tolist())  # per-row int64 sums, added exactly
        return sum(int(v) for v in self.counts.ravel().tolist())

    @property
    def uniformity(self) -> float:
        """``min / max`` count over the box: 1.0 is perfectly even, 0.0 means gridded."""
        return self.min_count / self.max_count if self.max_count else 0.0

    @property
    def exact_dtype(self) -> str:
        """``"int64"`` or ``"object"`` (Python ints, used when counts may exceed int64)."""
        return "object" if self.counts.dtype == object else "int64"

    def hole_mask(self) -> Any:
        """Boolean array, True at the holes (same shape as ``counts``)."""
        return np.asarray(self.counts == 0, dtype=bool)

    def hole_offsets(self, limit: int = 64) -> list[Ints]:
        """Input coordinates of (at most ``limit``) holes, in row-major order."""
        idx = np.argwhere(self.hole_mask())[:limit]
        return [tuple(int(i) + o for i, o in zip(row, self.offset)) for row in idx]

    def to_dict(self, counts: bool = True) -> dict[str, Any]:
        """A JSON-able summary; ``counts`` as nested lists of (possibly big) ints if asked."""
        out: dict[str, Any] = {
            "node": self.node,
            "unit": list(self.unit),
            "input_size": None if self.input_size is None else list(self.input_size),
            "offset": list(self.offset),
            "rf_size": list(self.rf_size),
            "cells": self.cells,
            "covered": self.covered,
            "holes": self.holes,
            "gridded": self.gridded,
            "fraction": self.fraction,
            "uniformity": self.uniformity,
            "min_count": self.min_count,
            "max_count": self.max_count,
            "total_paths": self.total_paths,
            "exact_dtype": self.exact_dtype,
            "diagnostics": list(self.diagnostics),
        }
        if counts:
            out["counts"] = self.counts.tolist() if self.counts.dtype != object else _nested(
                self.counts
            )
        return out

    def __repr__(self) -> str:
        size = "x".join(map(str, self.rf_size))
        return (
            f"<Coverage node={self.node!r} rf={size} holes={self.holes} "
            f"fraction={self.fraction:.3f} uniformity={self.uniformity:.3g}>"
        )


def _nested(arr: _Array) -> Any:
    if arr.ndim == 1:
        return [int(v) for v in arr.tolist()]
    return [_nested(a) for a in arr]


@dataclass(frozen=True)
class LayerGridding:
    """Gridding of one node's unit relative to the input (one row of :func:`layer_gridding`).

    ``available`` is False (and the numbers None) when the node's coverage could not be
    computed; ``diagnostic`` says why.
    """

    node: str
    op: str
    rf_size: Ints | None
    holes: int | None
    gridded: bool | None
    fraction: float | None
    uniformity: float | None
    available: bool = True
    diagnostic: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "node": self.node,
            "op": self.op,
            "rf_size": None if self.rf_size is None else list(self.rf_size),
            "holes": self.holes,
            "gridded": self.gridded,
            "fraction": self.fraction,
            "uniformity": self.uniformity,
            "available": self.available,
            "diagnostic": self.diagnostic,
        }


# -- per-axis backward steps ----------------------------------------------------------------
def _index(ndim: int, axis: int, sl: slice | int) -> tuple[Any, ...]:
    idx: list[Any] = [slice(None)] * ndim
    idx[axis] = sl
    return tuple(idx)


class _Budget:
    def __init__(self, max_cells: int) -> None:
        self.max_cells = max_cells

    def check(self, shape: Sequence[int]) -> None:
        cells = shape[0] if len(shape) == 1 else _prod(shape)
        if cells > self.max_cells:
            dims = " x ".join(str(int(s)) for s in shape)
            raise TooLargeError(
                f"the coverage map would have {dims} = {cells:,} cells, more than "
                f"max_cells={self.max_cells:,}; pass a larger max_cells (Python API) if memory "
                "allows"
            )

    def zeros(self, shape: Sequence[int], dtype: Any) -> _Array:
        self.check(shape)
        return np.zeros(tuple(shape), dtype=dtype)


def _safe(arr: _Array) -> _Array:
    """Switch ``arr`` to Python ints if one more step could pass int64."""
    if arr.dtype != object and float(arr.sum(dtype=np.float64)) >= _INT64_SAFE:
        return arr.astype(object)
    return arr


# A map along one axis: (array, origin) where arr[..., i, ...] is input coordinate origin + i;
# None means no path reaches this node.
_Map = tuple[_Array, int]
_StepFn = Callable[[_Array, int, int, _Budget], "_Map | None"]


def _taps_step(s: int, p: int, d: int, k: int) -> _StepFn:
    """Output ``o`` reads input ``o*s - p + j*d`` for ``j < k`` (conv, pooling)."""

    def step(arr: _Array, origin: int, axis: int, budget: _Budget) -> _Map | None:
        n = arr.shape[axis]
        up = (n - 1) * s + 1
        if arr.ndim == 1 and s == 1:
            # one exact integer convolution with the sparse tap pattern
            budget.check((up + (k - 1) * d,))
            return _tap_convolve(arr, d, k), origin - p
        shape = list(arr.shape)
        shape[axis] = up + (k - 1) * d
        out = budget.zeros(shape, arr.dtype)
        pre = (slice(None),) * axis
        for j in range(k):
            idx = (*pre, slice(j * d, j * d + up, s))
            out[idx] += arr
        return out, origin * s - p

    return step


def _transposed_step(s: int, p: int, d: int, k: int) -> _StepFn:
    """Output ``o`` reads input ``i`` for each ``j < k`` with ``i*s + j*d - p == o``."""

    def step(arr: _Array, origin: int, axis: int, budget: _Budget) -> _Map | None:
        n = arr.shape[axis]
        shape = list(arr.shape)
        shape[axis] = n + (k - 1) * d
        t = budget.zeros(shape, arr.dtype)
        for j in range(k):
            a = (k - 1 - j) * d
            t[_index(arr.ndim, axis, slice(a, a + n))] += arr
        t_origin = origin + p - (k - 1) * d  # t[x - t_origin] holds the taps landing on x
        x0 = -(-t_origin // s) * s
        start = x0 - t_origin
        if start >= shape[axis]:
            return None
        return t[_index(arr.ndim, axis, slice(start, None, s))].copy(), x0 // s

    return step


def _pairs_step(reads: Callable[[int], Sequence[int]]) -> _StepFn:
    """Generic step: output ``o`` reads the distinct input pixels ``reads(o)``."""

    def step(arr: _Array, origin: int, axis: int, budget: _Budget) -> _Map | None:
        n = arr.shape[axis]
        pairs = [(q, i) for q in range(n) for i in sorted(set(reads(origin + q)))]
        if not pairs:
            return None
        lo = min(i for _, i in pairs)
        hi = max(i for _, i in pairs)
        shape = list(arr.shape)
        shape[axis] = hi - lo + 1
        out = budget.zeros(shape, arr.dtype)
        for q, i in pairs:
            out[_index(arr.ndim, axis, i - lo)] += arr[_index(arr.ndim, axis, q)]
        return out, lo

    return step


def _nearest_step(f: int) -> _StepFn:
    """Nearest upsampling by ``f``: output ``o`` reads input ``o // f``."""

    def step(arr: _Array, origin: int, axis: int, budget: _Budget) -> _Map | None:
        n = arr.shape[axis]
        i0 = origin // f
        front = origin - i0 * f
        total = -(-(front + n) // f) * f
        shape = list(arr.shape)
        shape[axis] = total
        padded = budget.zeros(shape, arr.dtype)
        padded[_index(arr.ndim, axis, slice(front, front + n))] = arr
        split = [*arr.shape[:axis], total // f, f, *arr.shape[axis + 1 :]]
        return padded.reshape(split).sum(axis=axis + 1), i0

    return step


def _global_step(n_in: int) -> _StepFn:
    """Every output reads every input pixel ``0..n_in-1`` along the axis."""

    def step(arr: _Array, origin: int, axis: int, budget: _Budget) -> _Map | None:
        total = arr.sum(axis=axis, keepdims=True)
        shape = list(arr.shape)
        shape[axis] = n_in
        out = budget.zeros(shape, arr.dtype)
        out += total
        return out, 0

    return step


def _linear_reads(f: int, mode: str, align: bool, n_in: int | None, n_out: int | None) -> Any:
    """Input pixels with a nonzero interpolation weight for output ``o`` (PyTorch's rule)."""
    cubic = mode == "bicubic"

    def src(o: int) -> tuple[int, int, int]:
        # source position = num / den, exactly
        if align:
            assert n_in is not None and n_out is not None
            if n_out == 1:
                return 0, 0, 1
            num, den = o * (n_in - 1), n_out - 1
        else:
            num, den = 2 * o + 1 - f, 2 * f
            if num < 0 and not cubic and n_in is not None:
                num = 0  # PyTorch clamps a negative source index to 0 for linear modes
        return num // den, num % den, den

    def reads(o: int) -> list[int]:
        i0, rem, _ = src(o)
        if cubic:
            idx = [i0] if rem == 0 else [i0 - 1, i0, i0 + 1, i0 + 2]
        else:
            idx = [i0] if rem == 0 else [i0, i0 + 1]
        if n_in is not None:
            idx = [min(max(i, 0), n_in - 1) for i in idx]
        return idx

    return reads


def _adaptive_reads(n_in: int, target: int) -> Any:
    def reads(o: int) -> range:
        return range((o * n_in) // target, -(-((o + 1) * n_in) // target))

    return reads


_Desc = tuple[Any, ...]
"""A hashable description of one layer's backward step along one axis."""


def _axis_desc(
    name: str, layer: Layer, axis: int, n_in: int | None, n_out: int | None
) -> _Desc | None:
    """The backward step of ``layer`` along ``axis`` as a descriptor; None for an identity."""
    if isinstance(layer, Conv):
        return ("taps", layer.stride[axis], layer.padding[axis][0], layer.dilation[axis],
                layer.kernel[axis])
    if isinstance(layer, Pool):
        return ("taps", layer.stride[axis], layer.padding[axis], layer.dilation[axis],
                layer.kernel[axis])
    if isinstance(layer, ConvTranspose):
        return ("tconv", layer.stride[axis], layer.padding[axis], layer.dilation[axis],
                layer.kernel[axis])
    if isinstance(layer, Pad):
        return ("taps", 1, layer.padding[axis][0], 1, 1)
    if isinstance(layer, Slice):
        return ("taps", layer.step[axis], -layer.start[axis], 1, 1)
    if isinstance(layer, (Pointwise, Merge, Input)):
        return None
    if isinstance(layer, Upsample):
        f = layer.scale[axis]
        if layer.mode == "nearest":
            return ("nearest", f)
        if layer.align_corners and n_in is None:
            raise CoverageUnavailable(
                name, "upsampling with align_corners=True depends on the input size: pass "
                "input_size"
            )
        return ("interp", f, layer.mode, layer.align_corners, n_in, n_out)
    if isinstance(layer, Resize):
        if n_in is None:
            raise CoverageUnavailable(
                name, f"resizing to {layer.size[axis]} reads pixels that depend on the input "
                "size: pass input_size"
            )
        return None if n_in == n_out else ("resize", layer, axis, n_in)
    is_global = isinstance(layer, (GlobalPool, Dense)) or (
        isinstance(layer, AdaptivePool) and layer.is_global
    )
    if is_global or isinstance(layer, AdaptivePool):
        if n_in is None:
            what = "reads the whole input" if is_global else "has windows that depend on the size"
            raise CoverageUnavailable(
                name, f"{layer.kind} {what}: pass input_size to map its coverage"
            )
        if is_global:
            return ("global", n_in)
        assert isinstance(layer, AdaptivePool)
        return ("adaptive", n_in, layer.target[axis])
    if isinstance(layer, Opaque):
        raise CoverageUnavailable(name, f"{layer.op!r} is opaque ({layer.reason})")
    raise CoverageUnavailable(name, f"no coverage model for layer kind {layer.kind!r}")


@lru_cache(maxsize=1024)
def _make_step(desc: _Desc) -> _StepFn:
    kind = desc[0]
    if kind == "taps":
        return _taps_step(*desc[1:])
    if kind == "tconv":
        return _transposed_step(*desc[1:])
    if kind == "nearest":
        return _nearest_step(desc[1])
    if kind == "interp":
        return _pairs_step(_linear_reads(*desc[1:]))
    if kind == "global":
        return _global_step(desc[1])
    if kind == "resize":
        layer, axis, n_in = desc[1:]
        return _pairs_step(lambda o: layer.reads(axis, n_in, o))
    return _pairs_step(_adaptive_reads(desc[1], desc[2]))


def _fan_in(desc: _Desc) -> int:
    """An upper bound on the input pixels one output reads (sum of counts grows by this)."""
    kind = desc[0]
    if kind in ("taps", "tconv"):
        return int(desc[4])
    if kind == "nearest":
        return 1
    if kind == "interp":
        return 4 if desc[2] == "bicubic" else 2
    if kind == "global":
        return int(desc[1])
    if kind == "resize":
        return {"bicubic": 4}.get(desc[1].mode, 1 if desc[1].mode.startswith("nearest") else 2)
    return -(-desc[1] // desc[2]) + 1


def _clip(m: _Map | None, axis: int, n: int | None) -> _Map | None:
    """Drop the part of a map outside ``[0, n)`` (padding carries no path to the input)."""
    if m is None or n is None:
        return m
    arr, origin = m
    lo, hi = max(0, -origin), min(arr.shape[axis], n - origin)
    if hi <= lo:
        return None
    if lo == 0 and hi == arr.shape[axis]:
        return m
    return arr[_index(arr.ndim, axis, slice(lo, hi))], origin + lo


def _trim(arr: _Array, origin: Sequence[int]) -> tuple[_Array, Ints]:
    """Crop to the bounding box of the nonzero cells."""
    nz = np.asarray(arr != 0, dtype=bool)
    if not nz.any():
        return arr[tuple(slice(0, 0) for _ in range(arr.ndim))], tuple(origin)
    idx = []
    new_origin = []
    for axis in range(arr.ndim):
        other = tuple(a for a in range(arr.ndim) if a != axis)
        hit = np.flatnonzero(nz.any(axis=other) if other else nz)
        idx.append(slice(int(hit[0]), int(hit[-1]) + 1))
        new_origin.append(origin[axis] + int(hit[0]))
    return arr[tuple(idx)], tuple(new_origin)


# -- the engine -----------------------------------------------------------------------------
@dataclass
class _Raw:
    """Coverage before it becomes a :class:`Coverage`: either per-axis factors or a dense map."""

    factors: list[tuple[_Array, int]] | None  # separable: counts = outer product of factors
    dense: tuple[_Array, Ints] | None
    node: str
    unit: Ints
    diagnostics: tuple[str, ...] = ()

    def stats(self) -> tuple[Ints, int, int, int, int]:
        """(rf_size, cells, covered, min, max) without building a separable map."""
        if self.factors is not None:
            sizes = tuple(len(a) for a, _ in self.factors)
            cov = _prod([int(np.count_nonzero(a)) for a, _ in self.factors])
            mins = _prod([_to_py(a.min()) if len(a) else 0 for a, _ in self.factors])
            maxs = _prod([_to_py(a.max()) if len(a) else 0 for a, _ in self.factors])
            return sizes, _prod(sizes), cov, mins, maxs
        assert self.dense is not None
        arr = self.dense[0]
        sizes = tuple(int(n) for n in arr.shape)
        if not arr.size:
            return sizes, 0, 0, 0, 0
        return (sizes, _prod(sizes), int(np.count_nonzero(arr != 0)), _to_py(arr.min()),
                _to_py(arr.max()))


def _sizes(g: Graph, names: set[str], input_size: Ints) -> dict[str, Ints]:
    out: dict[str, Ints] = {}
    for node in g.topological():
        if node.name not in names:
            continue
        if isinstance(node.layer, Input):
            out[node.name] = input_size
            continue
        ins = [out[i] for i in node.inputs]
        if isinstance(node.layer, Merge):
            # as Graph.shapes: a size-1 input is broadcast along that axis
            merged = tuple(max(axis) for axis in zip(*ins))
            if any(v not in (1, m) for s in ins for v, m in zip(s, merged)):
                raise AtrousError(
                    f"{node.layer.mode} merge {node.name!r} gets different sizes {ins}"
                )
            out[node.name] = merged
            continue
        if isinstance(node.layer, Opaque):
            raise CoverageUnavailable(
                node.name, f"{node.layer.op!r} is opaque ({node.layer.reason})"
            )
        try:
            out[node.name] = node.layer.output_size(ins[0])
        except AtrousError as exc:
            raise AtrousError(f"at node {node.name!r}: {exc}") from None
    return out


def _accumulate(acc: tuple[_Array, Ints] | None, arr: _Array, origin: Ints,
                budget: _Budget) -> tuple[_Array, Ints]:
    if acc is None:
        return arr, origin
    a, ao = acc
    if a.dtype != arr.dtype or (
        a.dtype != object
        and float(a.max(initial=0)) + float(arr.max(initial=0)) >= _INT64_SAFE
    ):
        a, arr = a.astype(object), arr.astype(object)
    lo = [min(x, y) for x, y in zip(ao, origin)]
    hi = [max(x + n, y + m) for x, y, n, m in zip(ao, origin, a.shape, arr.shape)]
    out = budget.zeros([h - low for h, low in zip(hi, lo)], a.dtype)
    for src, o in ((a, ao), (arr, origin)):
        out[tuple(slice(x - low, x - low + n) for x, low, n in zip(o, lo, src.shape))] += src
    return out, tuple(lo)


def _compute(
    g: Graph,
    node: str | None,
    input_size: Sequence[int] | int | None,
    unit: Sequence[int] | int | None,
    max_cells: int,
) -> _Raw:
    ndim = g.ndim
    target = g.output if node is None else g[node].name
    names = g.ancestors(target) | {target}
    if "input" not in names:
        raise AtrousError(f"node {target!r} does not depend on the input")
    size: Ints | None = None
    sizes: dict[str, Ints] | None = None
    if isinstance(input_size, (str, bytes)):
        raise AtrousError(
            f"input_size must be an int or a tuple of ints like (64, 64), got {input_size!r}"
        )
    if input_size is not None:
        if isinstance(input_size, (int, np.integer)):
            input_size = (int(input_size),) * ndim
        size = tuple(as_int(v, "input size", 1) for v in input_size)
        if len(size) == ndim + 2:
            size = size[2:]  # a full (N, C, *spatial) tensor shape
        if len(size) != ndim:
            raise AtrousError(
                f"input size {size} has {len(size)} axes, the graph has {ndim} spatial axes"
            )
        sizes = _sizes(g, names, size)
    if unit is None:
        u: Ints = (0,) * ndim if sizes is None else tuple((n - 1) // 2 for n in sizes[target])
    else:
        if isinstance(unit, (int, np.integer)):
            unit = (int(unit),) * ndim
        u = as_size(unit, "unit", minimum=-(2**63))
        if len(u) != ndim:
            raise AtrousError(f"unit {u} has {len(u)} entries, the graph has {ndim} axes")
        if sizes is not None:
            for a, (v, n) in enumerate(zip(u, sizes[target])):
                if not 0 <= v < n:
                    raise AtrousError(f"unit index {v} on axis {a} is outside 0..{n - 1}")
    max_cells = as_int(max_cells, "max_cells", 1)
    budget = _Budget(max_cells)
    order = [n for n in g.topological() if n.name in names]
    if sizes is None:
        fast = _stride1_chain(order, u, ndim, budget)
        if fast is not None:
            return _Raw(fast, None, target, u)

    # Describe (and so validate) every layer first: an opaque node is reported even if no
    # path reaches it.
    descs: dict[str, list[_Desc | None]] = {}
    for nd in order:
        descs[nd.name] = [
            _axis_desc(
                nd.name, nd.layer, axis,
                None if sizes is None or not nd.inputs else sizes[nd.inputs[0]][axis],
                None if sizes is None else sizes[nd.name][axis],
            )
            for axis in range(ndim)
        ]

    if all(len(nd.inputs) <= 1 for nd in order):  # a chain: the map is separable
        factors: list[tuple[_Array, int]] = []
        cache: dict[tuple[Any, ...], tuple[_Array, int] | None] = {}
        chain_order = [nd for nd in reversed(order) if nd.inputs]
        for axis in range(ndim):
            plan = tuple(
                (descs[nd.name][axis],
                 None if sizes is None else sizes[nd.inputs[0]][axis])
                for nd in chain_order
            )
            key = (plan, u[axis])
            if key not in cache:
                cache[key] = _chain_axis(plan, u[axis], budget)
            m = cache[key]
            if m is None:
                return _Raw(None, (np.zeros((0,) * ndim, dtype=np.int64), (0,) * ndim),
                            target, u, ("no input pixel reaches this unit",))
            factors.append(m)
        return _Raw(factors, None, target, u)

    # general DAG: propagate an nd map backwards, summing at fan-out points
    maps: dict[str, tuple[_Array, Ints]] = {
        target: (np.ones((1,) * ndim, dtype=np.int64), u)
    }
    for nd in reversed(order):
        if nd.name not in maps or nd.name == "input":
            continue
        arr, origin = maps.pop(nd.name)
        for src in nd.inputs:
            cur: tuple[_Array, Ints] | None = (arr, origin)
            if isinstance(nd.layer, Merge) and sizes is not None:
                # a broadcast input (size 1 on an axis) is read by every position of that axis
                for axis in range(ndim):
                    if sizes[src][axis] == 1 and sizes[nd.name][axis] > 1:
                        assert cur is not None
                        o = list(cur[1])
                        o[axis] = 0
                        cur = (cur[0].sum(axis=axis, keepdims=True), tuple(o))
            elif not isinstance(nd.layer, Merge):
                for axis in range(ndim):
                    assert cur is not None
                    desc = descs[nd.name][axis]
                    if desc is None:
                        continue
                    res = _make_step(desc)(_safe(cur[0]), cur[1][axis], axis, budget)
                    res = _clip(res, axis, None if sizes is None else sizes[src][axis])
                    if res is None:
                        cur = None
                        break
                    o = list(cur[1])
                    o[axis] = res[1]
                    cur = (res[0], tuple(o))
            if cur is not None:
                maps[src] = _accumulate(maps.get(src), cur[0], cur[1], budget)
    if "input" not in maps:
        return _Raw(None, (np.zeros((0,) * ndim, dtype=np.int64), (0,) * ndim), target, u,
                    ("no input pixel reaches this unit",))
    arr, origin = _trim(*maps["input"])
    return _Raw(None, (arr, origin), target, u)


_SAFE_INT = int(_INT64_SAFE)


_SHIFT_ADD_MAX_K = 16
_DENSE_MAX_WORK = 1 << 14


@lru_cache(maxsize=256)
def _pattern_power(d: int, k: int, m: int) -> Any:
    """The taps of ``m`` stacked ``(rate d, kernel k)`` layers along one axis (read-only);
    ``m = 1``: ``k`` ones spaced ``d`` apart. Built only for short patterns (the dense path)."""
    if m == 1:
        kernel = np.zeros((k - 1) * d + 1, dtype=np.int64)
        kernel[::d] = 1
    else:
        kernel = np.convolve(_pattern_power(d, k, m - 1), _pattern_power(d, k, 1))
    kernel.setflags(write=False)
    return kernel


def _tap_convolve(arr: _Array, d: int, k: int, m: int = 1) -> _Array:
    """``arr`` (1-D) convolved ``m`` times with ``k`` ones spaced ``d`` apart, exactly.

    Short work is one C-level correlation with the precomputed pattern (symmetric, so
    correlating is convolving). Otherwise the same result as ``np.convolve`` without its
    ``O(len * d * k)`` cost (a dilation of 10**5 made that minutes): ``k`` shifted adds, or for a
    wide kernel a running sum along each residue class mod ``d``, ``O(len)`` whatever ``k`` and
    ``d``. Every partial sum is at most ``arr.sum()``, so an int64 input that the caller has
    checked stays exact.
    """
    if arr.dtype != object and len(arr) * ((k - 1) * d * m + 1) <= _DENSE_MAX_WORK:
        return np.correlate(arr, _pattern_power(d, k, m), "full")
    for _ in range(m):
        arr = _sparse_taps(arr, d, k)
    return arr


def _sparse_taps(arr: _Array, d: int, k: int) -> _Array:
    """One sparse pass of :func:`_tap_convolve`."""
    n = len(arr)
    length = n + (k - 1) * d
    if k <= _SHIFT_ADD_MAX_K:
        out = np.zeros(length, dtype=arr.dtype)
        for j in range(k):
            out[j * d : j * d + n] += arr
        return out
    rows = -(-length // d)
    padded = np.zeros(rows * d, dtype=arr.dtype)
    padded[:n] = arr
    run = np.cumsum(padded.reshape(rows, d), axis=0).reshape(-1)[:length]
    out = run.copy()
    if k * d < length:
        out[k * d :] -= run[: length - k * d]
    return out


def _stride1_chain(
    order: list[Any], u: Ints, ndim: int, budget: _Budget
) -> list[tuple[_Array, int]] | None:
    """The seeds' case, directly: a chain of stride-1 convs/pools on an unbounded input.

    Per axis the map is the convolution of the layers' tap patterns; equal ``(rate, kernel)``
    layers are applied as one precomputed power of their pattern. None when the graph is not
    such a chain (the general engine then handles it).
    """
    layers: list[Any] = []
    for nd in order:
        layer = nd.layer
        kind = type(layer)
        if kind is Input or (kind is Pointwise and len(nd.inputs) == 1):
            continue
        if (kind is not Conv and kind is not Pool) or len(nd.inputs) != 1:
            return None
        if layer.stride.count(1) != ndim:
            return None
        layers.append(layer)
    if math.prod(k for layer in layers for k in layer.kernel) >= _SAFE_INT:
        return None  # counts may leave int64: the general engine switches to Python ints
    taps = [[(layer.dilation[a], layer.kernel[a]) for layer in layers] for a in range(ndim)]
    shift = [
        sum(p[a][0] if type(p[a]) is tuple else p[a] for p in (lay.padding for lay in layers))
        for a in range(ndim)
    ]
    done: dict[tuple[tuple[int, int], ...], _Array] = {}  # square stacks: one map per axis
    factors = []
    for axis in range(ndim):
        key = tuple(sorted(taps[axis]))
        if key not in done:
            budget.check((1 + sum((k - 1) * d for d, k in key),))
            arr = np.ones(1, dtype=np.int64)
            for (d, k), m in Counter(key).items():  # equal layers as one pattern power
                arr = _tap_convolve(arr, d, k, m)
            done[key] = arr
        factors.append((done[key], u[axis] - shift[axis]))
    return factors


def _chain_axis(
    plan: tuple[tuple[_Desc | None, int | None], ...], unit: int, budget: _Budget
) -> tuple[_Array, int] | None:
    """One axis of a chain: apply the steps from the output back to the input."""
    taps = [desc for desc, _ in plan if desc is not None]
    if (
        all(d[0] == "taps" and d[1] == 1 for d in taps)
        and all(n is None for _, n in plan)
        and _prod([d[4] for d in taps]) < _SAFE_INT
    ):
        # the seeds' case: stride-1 taps on an unbounded input; the map is the convolution
        # of the layers' tap patterns (exact in int64: the total number of paths fits)
        budget.check((1 + sum((d[4] - 1) * d[3] for d in taps),))
        arr = np.ones(1, dtype=np.int64)
        for d in taps:
            arr = _tap_convolve(arr, d[3], d[4])
        hit = np.flatnonzero(arr)
        return arr[hit[0] : hit[-1] + 1], unit - sum(d[2] for d in taps) + int(hit[0])
    cur: _Map | None = (np.ones(1, dtype=np.int64), unit)
    bound = 1  # an upper bound on the sum of the counts
    for desc, n_in in plan:
        if desc is None:
            continue
        assert cur is not None
        arr = cur[0]
        if bound >= _SAFE_INT and arr.dtype != object:
            arr = _safe(arr)
            if arr.dtype != object:
                bound = int(float(arr.sum(dtype=np.float64)) * 1.000001) + 1
        cur = _clip(_make_step(desc)(arr, cur[1], 0, budget), 0, n_in)
        if cur is None:
            return None
        bound *= _fan_in(desc)
    assert cur is not None
    arr, origin = cur
    hit = np.flatnonzero(arr != 0) if arr.dtype == object else np.flatnonzero(arr)
    if not len(hit):
        return None
    return arr[hit[0] : hit[-1] + 1], origin + int(hit[0])


def _outer(factors: list[tuple[_Array, int]], budget: _Budget) -> _Array:
    shape = [len(a) for a, _ in factors]
    budget.check(shape)
    maxes: dict[int, int] = {}  # the axes of a square stack share one factor
    for a, _ in factors:
        if id(a) not in maxes:
            maxes[id(a)] = _to_py(a.max()) if len(a) else 0
    bound = math.prod(maxes[id(a)] for a, _ in factors)
    dtype: Any = np.int64 if bound < 2**63 else object
    arrs = [a if a.dtype == dtype else a.astype(dtype) for a, _ in factors]
    out = arrs[0]
    for a in arrs[1:]:
        out = np.multiply.outer(out, a)
    return out


def _finish(raw: _Raw, size: Ints | None, budget: _Budget) -> Coverage:
    if raw.factors is not None:
        counts = _outer(raw.factors, budget)
        offset = tuple(o for _, o in raw.factors)
    else:
        assert raw.dense is not None
        counts, offset = raw.dense
    return Coverage(counts, tuple(int(o) for o in offset), raw.node, raw.unit, size,
                    raw.diagnostics)


def _spatial(g: Graph, input_size: Sequence[int] | int | None) -> Ints | None:
    if input_size is None:
        return None
    if isinstance(input_size, (int, np.integer)):
        return (int(input_size),) * g.ndim
    size = tuple(int(v) for v in input_size)
    return size[2:] if len(size) == g.ndim + 2 else size


def coverage(
    target: Any,
    *,
    input_size: Sequence[int] | int | None = None,
    node: str | None = None,
    unit: Sequence[int] | int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> Coverage:
    """The exact coverage map of one output unit: distinct paths from each input pixel.

    Args:
        target: a :class:`~atrous.Graph`, a spec string, layers, or an ``nn.Module`` (anything
            :func:`atrous.as_graph` accepts). Build the seeds' case with
            ``atrous.stack(rates, kernel, ndim)``.
        input_size: spatial input size, or a full ``(N, C, *spatial)`` shape (which an
            ``nn.Module`` needs to be traced). Without it the input is unbounded (no unit is
            clipped by the border); with it, padding carries no paths and global pooling can be
            mapped.
        node: map a unit of this node instead of the graph's output.
        unit: index of the unit in that node's output (default: 0 without ``input_size``, the
            centre unit ``(n - 1) // 2`` with it).
        max_cells: refuse (``TooLargeError``) to build a map with more cells than this.

    Returns:
        A :class:`Coverage` whose ``counts`` span exactly the receptive-field box.

    Raises:
        CoverageUnavailable: an opaque layer, or a global/size-dependent op without
            ``input_size``; the message names the node.
        TooLargeError: the map would exceed ``max_cells``.

    A stack of stride-1 convs is the convolution of the layers' tap patterns, so [1, 2, 5]
    covers its 17x17 box and the order of the rates does not matter:

    >>> from atrous import stack
    >>> cov = coverage(stack([1, 2, 5]))
    >>> cov.rf_size, cov.gridded, cov.max_count
    ((17, 17), False, 4)
    >>> (coverage(stack([5, 1, 2])).counts == cov.counts).all()
    np.True_
    >>> coverage(stack([1, 2, 9])).holes   # 25 x 25 box, 21 of 25 offsets reached per axis
    184
    """
    g = _graph(target, input_size)
    raw = _compute(g, node, input_size, unit, max_cells)
    return _finish(raw, _spatial(g, input_size), _Budget(as_int(max_cells, "max_cells", 1)))


def _graph(target: Any, input_size: Sequence[int] | int | None) -> Graph:
    """``as_graph``; an ``nn.Module`` is traced with the full ``(N, C, *spatial)`` shape."""
    full = None if input_size is None or isinstance(input_size, (int, np.integer)) else as_size(
        input_size, "input_size", minimum=-(2**63)
    )
    return as_graph(target, input_size=full)


def layer_gridding(
    target: Any,
    *,
    input_size: Sequence[int] | int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> list[LayerGridding]:
    """Gridding of every node's (centre) unit relative to the input, in topological order.

    Shows *where* a network starts to grid. A node whose coverage cannot be computed (an opaque
    layer, or a map over ``max_cells``) gets a row with ``available=False`` and a diagnostic
    naming the reason; the other rows are still computed. For a chain the statistics come from
    the per-axis 1-D maps, so no n-D map is built.

    >>> from atrous import stack
    >>> [(r.node, r.rf_size, r.holes) for r in layer_gridding(stack([2, 2, 2], ndim=1))]
    [('conv0', (5,), 2), ('conv1', (9,), 4), ('conv2', (13,), 6)]
    """
    g = _graph(target, input_size)
    rows: list[LayerGridding] = []
    for nd in g.layer_nodes():
        try:
            raw = _compute(g, nd.name, input_size, None, max_cells)
        except (CoverageUnavailable, TooLargeError) as exc:
            rows.append(LayerGridding(nd.name, nd.layer.kind, None, None, None, None, None,
                                      available=False, diagnostic=str(exc)))
            continue
        sizes, cells, cov, lo, hi = raw.stats()
        rows.append(LayerGridding(
            node=nd.name, op=nd.layer.kind, rf_size=sizes, holes=cells - cov,
            gridded=cells - cov > 0, fraction=cov / cells if cells else 0.0,
            uniformity=lo / hi if hi else 0.0,
            diagnostic="; ".join(raw.diagnostics),
        ))
    return rows


