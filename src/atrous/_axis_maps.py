"""The per-axis machinery of :mod:`atrous._coverage`: one vectorised backward step per geometry.

A map along one axis is ``(array, origin)``: ``array[..., i, ...]`` counts the paths from input
coordinate ``origin + i``. Each :mod:`atrous.geometry` record becomes one step that turns the
map of a layer's output into the map of its input, exactly (int64, or Python ints past the
int64 range), within a cell budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ._types import Ints
from .errors import TooLargeError
from .geometry import Reads, Sample, Scatter, Taps, Whole, Windows

# A step never produces a count larger than the sum of the counts it starts from (each output
# reads a given input pixel at most once), so an int64 map whose sum is below this limit can take
# one more step in int64. The limit is half the int64 range, so the float64 estimate of the sum
# (relative error < 1e-9 here) can never hide an overflow.
INT64_SAFE = float(2**62)

Array = Any  # numpy array of int64 or of Python ints (dtype=object)


def prod(values: Sequence[int]) -> int:
    return math.prod(int(v) for v in values)


def to_py(value: Any) -> int:
    return int(value)

# -- per-axis backward steps ----------------------------------------------------------------
def _index(ndim: int, axis: int, sl: slice | int) -> tuple[Any, ...]:
    idx: list[Any] = [slice(None)] * ndim
    idx[axis] = sl
    return tuple(idx)


class Budget:
    """The limits of one coverage computation: cells of any map, and bytes of memory."""

    def __init__(self, max_cells: int, max_bytes: int | None = None) -> None:
        self.max_cells = max_cells
        self.max_bytes = max_bytes

    def check(self, shape: Sequence[int], bytes_per_cell: int = 8) -> None:
        cells = shape[0] if len(shape) == 1 else prod(shape)
        if cells <= self.max_cells and (
            self.max_bytes is None or cells * bytes_per_cell <= self.max_bytes
        ):
            return
        dims = " x ".join(str(int(s)) for s in shape)
        if cells > self.max_cells:
            raise TooLargeError(
                f"the coverage map would have {dims} = {cells:,} cells, more than "
                f"max_cells={self.max_cells:,}; pass a larger max_cells (Python API) if memory "
                "allows"
            )
        if self.max_bytes is not None and cells * bytes_per_cell > self.max_bytes:
            raise TooLargeError(
                f"the coverage map would take about {cells * bytes_per_cell / 2**20:,.0f} MiB "
                f"({dims} cells of {bytes_per_cell} bytes), more than "
                f"max_bytes={self.max_bytes:,}; pass a larger max_bytes (Python API) if memory "
                "allows"
            )

    def zeros(self, shape: Sequence[int], dtype: Any) -> Array:
        self.check(shape)
        return np.zeros(tuple(shape), dtype=dtype)


def int_bytes(bits: float) -> int:
    """Bytes one cell of an object map takes for counts of ``bits`` bits (pointer + int)."""
    return 8 + 24 + 4 * math.ceil(max(bits, 1) / 30)


def safe(arr: Array) -> Array:
    """Switch ``arr`` to Python ints if one more step could pass int64."""
    if arr.dtype != object and float(arr.sum(dtype=np.float64)) >= INT64_SAFE:
        return arr.astype(object)
    return arr


# A map along one axis: (array, origin) where arr[..., i, ...] is input coordinate origin + i;
# None means no path reaches this node.
_Map = tuple[Array, int]
_StepFn = Callable[[Array, int, int, Budget], "_Map | None"]


def _taps_along(arr: Array, axis: int, d: int, k: int, budget: Budget | None) -> Array:
    """``out[i + j*d] += arr[i]`` for ``j < k`` along ``axis`` (length ``n + (k-1)*d``).

    ``k`` shifted adds for a short kernel; for a wide one a running sum along each residue
    class mod ``d``, ``O(cells)`` whatever ``k`` (a kernel of 10**8 taps is not 10**8 adds).
    """
    n = arr.shape[axis]
    length = n + (k - 1) * d
    shape = list(arr.shape)
    shape[axis] = length
    if budget is not None:
        budget.check(shape)
    if k <= _SHIFT_ADD_MAX_K:
        out = np.zeros(shape, dtype=arr.dtype)
        for j in range(k):
            out[_index(arr.ndim, axis, slice(j * d, j * d + n))] += arr
        return out
    moved = np.moveaxis(arr, axis, 0)
    rows = -(-length // d)
    padded = np.zeros((rows * d, *moved.shape[1:]), dtype=arr.dtype)
    padded[:n] = moved
    run = np.cumsum(padded.reshape(rows, d, *moved.shape[1:]), axis=0)
    run = run.reshape(rows * d, *moved.shape[1:])[:length]
    out = run.copy()
    if k * d < length:
        out[k * d :] -= run[: length - k * d]
    return np.moveaxis(out, 0, axis)


def _taps_step(s: int, p: int, d: int, k: int) -> _StepFn:
    """Output ``o`` reads input ``o*s - p + j*d`` for ``j < k`` (conv, pooling)."""

    def step(arr: Array, origin: int, axis: int, budget: Budget) -> _Map | None:
        n = arr.shape[axis]
        up = (n - 1) * s + 1
        if arr.ndim == 1 and s == 1:
            # one exact integer convolution with the sparse tap pattern
            budget.check((up + (k - 1) * d,))
            return tap_convolve(arr, d, k), origin - p
        shape = [*arr.shape[:axis], up + (k - 1) * d, *arr.shape[axis + 1 :]]
        budget.check(shape)
        if s > 1 and k <= _SHIFT_ADD_MAX_K:
            # tap j of output o lands on o*s + j*d: k strided adds of the whole map (no
            # spread copy s times the map's size)
            out = np.zeros(shape, dtype=arr.dtype)
            for j in range(k):
                out[_index(arr.ndim, axis, slice(j * d, j * d + up, s))] += arr
            return out, origin * s - p
        if s > 1:  # spread the outputs s apart, then add the taps
            shape = list(arr.shape)
            shape[axis] = up
            spread = budget.zeros(shape, arr.dtype)
            spread[_index(arr.ndim, axis, slice(None, None, s))] = arr
            arr = spread
        return _taps_along(arr, axis, d, k, budget), origin * s - p

    return step


def _transposed_step(s: int, p: int, d: int, k: int) -> _StepFn:
    """Output ``o`` reads input ``i`` for each ``j < k`` with ``i*s + j*d - p == o``."""

    def step(arr: Array, origin: int, axis: int, budget: Budget) -> _Map | None:
        t = _taps_along(arr, axis, d, k, budget)  # the tap pattern is symmetric
        t_origin = origin + p - (k - 1) * d  # t[x - t_origin] holds the taps landing on x
        x0 = -(-t_origin // s) * s
        start = x0 - t_origin
        if start >= t.shape[axis]:
            return None
        return t[_index(arr.ndim, axis, slice(start, None, s))].copy(), x0 // s

    return step


def _pairs_step(reads: Callable[[int], range]) -> _StepFn:
    """Generic step: output ``o`` reads the distinct input pixels ``reads(o)`` (a range).

    The extent is known from the ranges' ends before anything is built; each output then adds
    its counts to its whole range of inputs in one slice (a window of 10**9 pixels is one
    operation, not 10**9).
    """

    def step(arr: Array, origin: int, axis: int, budget: Budget) -> _Map | None:
        n = arr.shape[axis]
        spans = [(q, r) for q in range(n) if len(r := reads(origin + q))]
        if not spans:
            return None
        lo = min(r[0] for _, r in spans)
        hi = max(r[-1] for _, r in spans)
        shape = list(arr.shape)
        shape[axis] = hi - lo + 1
        out = budget.zeros(shape, arr.dtype)
        for q, r in spans:
            sl = slice(r.start - lo, r[-1] - lo + 1, r.step)
            out[_index(arr.ndim, axis, sl)] += arr[_index(arr.ndim, axis, slice(q, q + 1))]
        return out, lo

    return step


def _nearest_step(f: int) -> _StepFn:
    """Nearest upsampling by ``f``: output ``o`` reads input ``o // f``."""

    def step(arr: Array, origin: int, axis: int, budget: Budget) -> _Map | None:
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

    def step(arr: Array, origin: int, axis: int, budget: Budget) -> _Map | None:
        total = arr.sum(axis=axis, keepdims=True)
        shape = list(arr.shape)
        shape[axis] = n_in
        out = budget.zeros(shape, arr.dtype)
        out += total
        return out, 0

    return step


@lru_cache(maxsize=1024)
def make_step(geom: Reads) -> _StepFn:
    """The vectorised backward step of one geometry."""
    if isinstance(geom, Taps):
        return _taps_step(geom.stride, geom.offset, geom.dilation, geom.kernel)
    if isinstance(geom, Scatter):
        return _transposed_step(geom.stride, geom.padding, geom.dilation, geom.kernel)
    if isinstance(geom, Whole):
        assert geom.n_in is not None
        return _global_step(geom.n_in)
    if (
        isinstance(geom, Sample) and geom.interp == "nearest" and geom.rounding == "floor"
        and geom.float32_scale is None and geom.b == 0 and geom.a.numerator == 1
    ):
        return _nearest_step(geom.a.denominator)
    assert isinstance(geom, (Sample, Windows))
    return _pairs_step(geom.reads_within)


def clip(m: _Map | None, axis: int, n: int | None) -> _Map | None:
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


def trim(arr: Array, origin: Sequence[int]) -> tuple[Array, Ints]:
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


SAFE_INT = int(INT64_SAFE)


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


def tap_convolve(arr: Array, d: int, k: int, m: int = 1) -> Array:
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
        arr = _taps_along(arr, 0, d, k, None)
    return arr


def chain_axis(
    plan: tuple[tuple[Reads | None, int | None], ...], unit: int, budget: Budget
) -> tuple[Array, int] | None:
    """One axis of a chain: apply the steps from the output back to the input."""
    geoms = [geom for geom, _ in plan if geom is not None]
    taps = [g for g in geoms if isinstance(g, Taps) and g.stride == 1]
    if (
        len(taps) == len(geoms)
        and all(n is None for _, n in plan)
        and prod([t.kernel for t in taps]) < SAFE_INT
    ):
        # stride-1 taps on an unbounded input: the map is the convolution of the layers' tap
        # patterns (exact in int64: the total number of paths fits)
        budget.check((1 + sum(t.span - 1 for t in taps),))
        arr = np.ones(1, dtype=np.int64)
        for t in taps:
            arr = tap_convolve(arr, t.dilation, t.kernel)
        hit = np.flatnonzero(arr)
        return arr[hit[0] : hit[-1] + 1], unit - sum(t.offset for t in taps) + int(hit[0])
    cur: _Map | None = (np.ones(1, dtype=np.int64), unit)
    bound = 1  # an upper bound on the sum of the counts
    for desc, n_in in plan:
        if desc is None:
            continue
        assert cur is not None
        arr = cur[0]
        if bound >= SAFE_INT and arr.dtype != object:
            arr = safe(arr)
            if arr.dtype != object:
                bound = int(float(arr.sum(dtype=np.float64)) * 1.000001) + 1
        cur = clip(make_step(desc)(arr, cur[1], 0, budget), 0, n_in)
        if cur is None:
            return None
        bound *= desc.fan_in
    assert cur is not None
    arr, origin = cur
    hit = np.flatnonzero(arr != 0) if arr.dtype == object else np.flatnonzero(arr)
    if not len(hit):
        return None
    return arr[hit[0] : hit[-1] + 1], origin + int(hit[0])


def outer(factors: list[tuple[Array, int]], budget: Budget) -> Array:
    """The n-D map of per-axis factors, exactly (int64, or Python ints where needed).

    One factor is the map itself: a read-only one (a cached profile) is returned as it is,
    a writable one copied. Python-int products are the cost of deep maps; a palindromic
    factor (every symmetric stack's) is multiplied over its first half only and the product
    mirrored back, so a square 2-D map costs a quarter of the products.
    """
    shape = [len(a) for a, _ in factors]
    budget.check(shape)
    maxes: dict[int, int] = {}  # the axes of a square stack share one factor
    for a, _ in factors:
        if id(a) not in maxes:
            maxes[id(a)] = to_py(a.max()) if len(a) else 0
    bound = math.prod(maxes[id(a)] for a, _ in factors)
    dtype: Any = np.int64 if bound < 2**63 else object
    arrs = [a if a.dtype == dtype else a.astype(dtype) for a, _ in factors]
    if len(arrs) == 1:  # a read-only factor (a cached profile) is shared as it is, not copied
        one = arrs[0]
        return one.copy() if one is factors[0][0] and one.flags.writeable else one
    if dtype is not object:
        out = arrs[0]
        for a in arrs[1:]:
            out = np.multiply.outer(out, a)
        return out
    halves = [_palindrome_half(a) for a in arrs]
    out = halves[0]
    for h in halves[1:]:
        out = np.multiply.outer(out, h)
    for axis, (a, h) in enumerate(zip(arrs, halves)):
        n, k = len(a), len(h)
        if k < n:  # mirror: entry i >= k is entry n - 1 - i
            tail = np.flip(out, axis)[_index(out.ndim, axis, slice(2 * k - n, None))]
            out = np.concatenate([out, tail], axis=axis)
    return out


def _palindrome_half(a: Array) -> Array:
    """The first ``ceil(n/2)`` entries of a palindrome, else ``a`` itself."""
    n = len(a)
    half = a[: (n + 1) // 2]
    if n > 2 and a[: n // 2].tolist() == a[::-1][: n // 2].tolist():
        return half
    return a
