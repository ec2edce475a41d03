"""Exact coverage maps: how many distinct paths lead from each input pixel to one output unit.

This is what the tutorials' ``dilated_conv_all_map`` loop computes and its figures show, made exact
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
backwards through vectorised per-axis scatters and sums the maps where branches meet. The work
one :func:`layer_gridding` call shares between nodes lives in :mod:`atrous._gridding` (the maps
kept, the reuse rules); the raw map record and the small steps both modules read live in
:mod:`atrous._coverage_raw`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from ._axis_maps import (
    SAFE_INT,
    Array,
    Budget,
    chain_axis,
    clip,
    int_bytes,
    make_step,
    outer,
    prod,
    safe,
    tap_convolve,
    to_py,
    trim,
)
from ._coverage_raw import _accumulate, _axis_geom, _empty, _one_to_one, _Raw
from ._gridding import _reuse, _strict_sizes
from ._gridding import _Shared as _Shared  # re-exported: atrous.report keeps one call's maps
from ._types import Ints, as_int, as_size
from .errors import AtrousError, CoverageUnavailable, TooLargeError
from .geometry import Reads, Taps
from .graph import Graph, as_graph
from .layers import Conv, Input, Layer, Merge, Opaque, Pointwise, Pool
from .rf import receptive_field

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CELLS",
    "Coverage",
    "CoverageUnavailable",
    "LayerGridding",
    "coverage",
    "layer_gridding",
    "tap_profile",
]

DEFAULT_MAX_CELLS = 1 << 24
"""Largest map (number of cells) :func:`coverage` builds before raising ``TooLargeError``."""
DEFAULT_MAX_BYTES = 1 << 28
"""Largest estimated memory (bytes) of a map :func:`coverage` builds: 256 MiB. A deep stack's
counts are Python integers of thousands of bits, so a map within ``max_cells`` can still need
gigabytes; it is refused up front, from an estimate, before any work."""


# -- results --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Coverage:
    """The exact coverage map of one output unit.

    Attributes:
        counts: number of distinct paths from each input pixel to the unit; the array spans
            exactly the receptive-field box (the bounding box of the pixels with a path).
            ``int64``, or ``object`` (Python ints) when counts may exceed the int64 range.
            May be read-only (``counts.flags.writeable`` False): a 1-D map that is atrous's
            cached profile itself (a chain of stride-1 convs/pools, ``stack()``'s included)
            is returned without a copy, so every call shares it; ``counts.copy()`` gives an
            array to change.
        offset: input coordinate of ``counts[0, ..., 0]`` per axis. Without ``input_size`` the
            input is taken as unbounded, so the offset may be negative (left of pixel 0).
        node: the graph node whose unit was mapped.
        unit: the index of the mapped unit in that node's output, per axis.
        input_size: the spatial input size when one was given, else None (unbounded input).
    """

    counts: Array
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
        return prod(self.rf_size)

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
        return to_py(self.counts.max()) if self.counts.size else 0

    @cached_property
    def min_count(self) -> int:
        """The smallest count over the box (0 when gridded)."""
        return to_py(self.counts.min()) if self.counts.size else 0

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


def _nested(arr: Array) -> Any:
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


# -- the engine -----------------------------------------------------------------------------
def _resolve(
    g: Graph, node: str | None, input_size: Sequence[int] | int | None,
    unit: Sequence[int] | int | None, shared: _Shared | None = None,
) -> tuple[str, set[str], dict[str, Ints] | None, Ints]:
    """The target node, its ancestors, every node's size (None: unbounded input), the unit.

    With ``shared`` the sizes may cover more nodes than the ancestors (the same values)."""
    ndim = g.ndim
    target = g.output if node is None else g[node].name
    names = g.ancestors(target) | {target} if shared is None else shared.upstream(g, target)
    if "input" not in names:
        raise AtrousError(f"node {target!r} does not depend on the input")
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
        opaque = ([nd.name for nd in g.topological() if isinstance(nd.layer, Opaque)]
                  if shared is None else shared.opaque)
        for name in opaque:  # an opaque op has no size: say so as coverage does
            if name in names:
                layer = g[name].layer
                assert isinstance(layer, Opaque)
                raise CoverageUnavailable(name, f"{layer.op!r} is opaque ({layer.reason})")
        if shared is not None:
            sizes = shared.node_sizes(g, size)
        if sizes is None:
            sizes = _strict_sizes(g, size, names)
    if unit is None:
        u: Ints = (0,) * ndim if sizes is None else tuple((n - 1) // 2 for n in sizes[target])
        return target, names, sizes, u
    if isinstance(unit, (int, np.integer)):
        unit = (int(unit),) * ndim
    u = as_size(unit, "unit", minimum=-(2**63))
    if len(u) != ndim:
        raise AtrousError(f"unit {u} has {len(u)} entries, the graph has {ndim} axes")
    if sizes is not None:
        for a, (v, n) in enumerate(zip(u, sizes[target])):
            if not 0 <= v < n:
                raise AtrousError(f"unit index {v} on axis {a} is outside 0..{n - 1}")
    return target, names, sizes, u


def _described(
    g: Graph,
    order: list[Any],
    sizes: dict[str, Ints] | None,
    target: str,
    budget: Budget,
    shared: _Shared | None,
) -> dict[str, list[Reads | None]]:
    """Every node's per-axis reads (``shared`` keeps them), then the work checked against the
    budget. All layers are described (and so validated) first: an opaque node is reported even
    if no path reaches it."""
    ndim = g.ndim

    def n_in(nd: Any) -> Ints | None:
        return None if sizes is None or not nd.inputs else sizes[nd.inputs[0]]

    if shared is None:
        descs: dict[str, list[Reads | None]] = {}
        for nd in order:
            size = n_in(nd)
            descs[nd.name] = [_axis_geom(nd.name, nd.layer, axis,
                                         None if size is None else size[axis])
                              for axis in range(ndim)]
    else:
        descs = {nd.name: shared.describe(nd, ndim, n_in(nd)) for nd in order}
    _check_work(g, order, descs, sizes, target, budget, shared)
    return descs


def _compute(
    g: Graph,
    node: str | None,
    input_size: Sequence[int] | int | None,
    unit: Sequence[int] | int | None,
    budget: Budget,
    shared: _Shared | None = None,
) -> _Raw:
    target, names, sizes, u = _resolve(g, node, input_size, unit, shared)
    order = [n for n in (g.topological() if shared is None else shared.order) if n.name in names]
    if sizes is None:
        fast = _stride1_chain(order, u, g.ndim, budget)
        if fast is not None:
            return _Raw(fast, None, target, u, int64=True)
    descs = _described(g, order, sizes, target, budget, shared)
    if shared is not None:
        raw = _reuse(g, target, order, descs, sizes, u, shared, budget)
        if raw is None:
            raw = _compute_map(order, descs, sizes, target, u, budget)
            shared.plain.add(target)
        shared.raws[target] = raw
        return raw
    return _compute_map(order, descs, sizes, target, u, budget)


def _compute_map(order: list[Any], descs: dict[str, list[Reads | None]],
                 sizes: dict[str, Ints] | None, target: str, u: Ints, budget: Budget) -> _Raw:
    """The map of unit ``u`` of ``target``, its ancestors' layers already described."""
    ndim = len(u)
    if all(len(nd.inputs) <= 1 for nd in order):  # a chain: the map is separable
        factors: list[tuple[Array, int]] = []
        cache: dict[tuple[Any, ...], tuple[Array, int] | None] = {}
        chain_order = [nd for nd in reversed(order) if nd.inputs]
        for axis in range(ndim):
            plan = tuple(
                (descs[nd.name][axis], None if sizes is None else sizes[nd.inputs[0]][axis])
                for nd in chain_order
            )
            key = (plan, u[axis])
            if key not in cache:
                cache[key] = chain_axis(plan, u[axis], budget)
            m = cache[key]
            if m is None:
                return _empty(ndim, target, u)
            factors.append(m)
        return _Raw(factors, None, target, u)
    dense = _dag_map(order, descs, sizes, target, u, budget)
    return _empty(ndim, target, u) if dense is None else _Raw(None, dense, target, u)


def _check_work(g: Graph, order: list[Any], descs: dict[str, list[Reads | None]],
                sizes: dict[str, Ints] | None, target: str, budget: Budget,
                shared: _Shared | None = None) -> None:
    """Refuse up front a map whose Python-int counts would take more than ``max_bytes``.

    The counts are at most the number of paths, the product of every layer's fan-in (and of
    the number of inputs of every merge); the map spans at most the receptive-field box.
    """
    bits = 0.0
    if shared is not None:
        for nd in order:
            for term in shared.log_terms(nd, descs[nd.name]):
                bits += term
    else:
        for nd in order:
            if isinstance(nd.layer, Merge):
                bits += math.log2(len(nd.inputs))
            for geom in descs[nd.name]:
                if geom is not None:
                    bits += math.log2(max(geom.fan_in, 1))
    if bits < 62:
        return  # int64 counts: the cell budget bounds the memory
    spatial = None if sizes is None else sizes["input"]
    if all(len(nd.inputs) <= 1 for nd in order):  # a chain: the halo of one unit per axis
        extents = [1] * g.ndim
        for nd in reversed(order):
            for axis, geom in enumerate(descs[nd.name]):
                if geom is not None:
                    extents[axis] = geom.input_span(extents[axis])
    else:
        rf = None if shared is None else shared.receptive_field(g, spatial, target)
        if rf is None:
            try:
                rf = receptive_field(g, spatial, output=target)
            except AtrousError:
                return  # the steps' own checks still apply
        extents = [
            (a.size if not a.is_global else (spatial[i] if spatial else 1)) or 1
            for i, a in enumerate(rf.axes)
        ]
    if spatial is not None:
        extents = [min(e, n) for e, n in zip(extents, spatial)]
    budget.check(extents, int_bytes(bits))


def _dag_map(
    order: list[Any], descs: dict[str, list[Reads | None]], sizes: dict[str, Ints] | None,
    target: str, u: Ints, budget: Budget,
) -> tuple[Array, Ints] | None:
    """A general DAG: propagate an n-D map backwards, summing at fan-out points."""
    ndim = len(u)
    maps: dict[str, tuple[Array, Ints]] = {target: (np.ones((1,) * ndim, dtype=np.int64), u)}
    for nd in reversed(order):
        if nd.name not in maps or nd.name == "input":
            continue
        arr, origin = maps.pop(nd.name)
        for src in nd.inputs:
            if isinstance(nd.layer, Merge):
                cur: tuple[Array, Ints] | None = (arr, origin)
                if sizes is not None:
                    cur = _broadcast_back(arr, origin, sizes[src], sizes[nd.name])
            else:
                cur = _steps_back(arr, origin, descs[nd.name],
                                  None if sizes is None else sizes[src], budget)
            if cur is not None:
                maps[src] = _accumulate(maps.get(src), cur[0], cur[1], budget)
    return None if "input" not in maps else trim(*maps["input"])


def _broadcast_back(arr: Array, origin: Ints, src: Ints, out: Ints) -> tuple[Array, Ints]:
    """A broadcast merge input (size 1 on an axis) is read by every position of that axis."""
    o = list(origin)
    for axis in range(len(origin)):
        if src[axis] == 1 and out[axis] > 1:
            o[axis] = 0
            arr = arr.sum(axis=axis, keepdims=True)
    return arr, tuple(o)


def _steps_back(arr: Array, origin: Ints, geoms: list[Reads | None], src: Ints | None,
                budget: Budget) -> tuple[Array, Ints] | None:
    """A single-input node's map of its input, one axis after the other."""
    o = list(origin)
    for axis, geom in enumerate(geoms):
        if geom is None:
            continue
        if _one_to_one(geom):  # a 1x1 conv's step copies the map: skip the copy
            res: tuple[Array, int] | None = clip((arr, o[axis]), axis,
                                                 None if src is None else src[axis])
        else:
            res = clip(make_step(geom)(safe(arr), o[axis], axis, budget), axis,
                       None if src is None else src[axis])
        if res is None:
            return None
        arr, o[axis] = res
    return arr, tuple(o)


def _stride1_chain(
    order: list[Any], u: Ints, ndim: int, budget: Budget
) -> list[tuple[Array, int]] | None:
    """The classic case, directly: a chain of stride-1 convs/pools on an unbounded input.

    Per axis the map is the convolution of the layers' tap patterns; equal ``(rate, kernel)``
    layers are applied as one precomputed power of their pattern. None when the graph is not
    such a chain (the general engine then handles it). The counts fit int64.
    """
    keys: list[list[tuple[int, int]]] = [[] for _ in range(ndim)]
    shift = [0] * ndim
    paths = 1  # the total number of paths of the n-D map
    for nd in order:
        layer = nd.layer
        kind = type(layer)
        if kind is Input or (kind is Pointwise and len(nd.inputs) == 1):
            continue
        if (kind is not Conv and kind is not Pool) or len(nd.inputs) != 1:
            return None
        axes = layer.__dict__.get("_stride1_axes", _UNSET)
        if axes is _UNSET:  # an immutable layer: summarised once
            axes = layer.__dict__["_stride1_axes"] = _stride1_axes(layer, ndim)
        if axes is None:
            return None
        for a, (dk, offset) in enumerate(axes):
            keys[a].append(dk)
            shift[a] += offset
            paths *= dk[1]
    if paths >= SAFE_INT:
        return None  # counts may leave int64: the general engine switches to Python ints
    done: dict[tuple[tuple[int, int], ...], Array] = {}  # square stacks: one map per axis
    factors = []
    for axis in range(ndim):
        key = tuple(sorted(keys[axis]))
        if key not in done:
            budget.check((1 + sum((k - 1) * d for d, k in key),))
            done[key] = _profile(key)
        factors.append((done[key], u[axis] - shift[axis]))
    return factors


_UNSET = object()


def _stride1_axes(layer: Layer, ndim: int) -> tuple[tuple[tuple[int, int], int], ...] | None:
    """``((dilation, kernel), offset)`` per axis of a layer whose taps are all stride 1."""
    out = []
    for a in range(ndim):
        geom = layer.axis_geometry(a)
        if not isinstance(geom, Taps) or geom.stride != 1:
            return None
        out.append(((geom.dilation, geom.kernel), geom.offset))
    return tuple(out)


@lru_cache(maxsize=64)
def _profile(key: tuple[tuple[int, int], ...]) -> Array:
    """The exact profile of sorted ``(dilation, kernel)`` stride-1 layers (read-only).

    Shared by every caller (1-D maps return it as their counts), so it is sealed: a view of a
    read-only array, whose ``writeable`` flag no caller can set back to True."""
    arr = _build_profile(key)
    arr.setflags(write=False)
    return arr.view()


def _build_profile(key: tuple[tuple[int, int], ...]) -> Array:
    paths = math.prod(k for _, k in key)
    big = paths >= SAFE_INT
    length = 1 + sum((k - 1) * d for d, k in key)
    if all(k <= _PACKED_MAX_K for _, k in key):
        if big or length <= _PACKED_MAX_LEN:
            return _packed_profile(key, length, paths)
        return _inplace_profile(key, length)
    arr = np.ones(1, dtype=object if big else np.int64)
    for (d, k), m in Counter(key).items():  # equal layers as one pattern power
        arr = tap_convolve(arr, d, k, m)
    arr.setflags(write=False)
    return arr


_PACKED_MAX_K = 16
_PACKED_MAX_LEN = 1 << 10  # longer int64 profiles: _inplace_profile is faster


def _packed_profile(key: tuple[tuple[int, int], ...], length: int, paths: int) -> Array:
    """:func:`_profile` with the whole profile packed in one Python int, a fixed-width slot per
    entry (Kronecker substitution): a ``(d, k)`` layer is ``k - 1`` shifted adds of that int.

    Every entry is at most ``paths`` (the sum of all entries), so with slots of
    ``paths.bit_length()`` bits (64 while the counts fit int64) no slot ever carries into the
    next and the result is exact. Fastest for short profiles (one big-int operation per tap
    instead of several numpy calls); long int64 ones are built by :func:`_inplace_profile`.
    """
    big = paths >= SAFE_INT
    width = (paths.bit_length() + 7) // 8 if big else 8
    bits = 8 * width
    packed = 1
    for d, k in key:
        step = bits * d
        acc = packed
        for j in range(1, k):
            acc += packed << (step * j)
        packed = acc
    raw = packed.to_bytes(length * width, "little")
    if not big:
        arr = np.frombuffer(raw, dtype="<i8").astype(np.int64, copy=False)
    else:
        arr = np.empty(length, dtype=object)
        arr[:] = [int.from_bytes(raw[i : i + width], "little") for i in range(0, len(raw), width)]
    arr.setflags(write=False)
    return arr


def _inplace_profile(key: tuple[tuple[int, int], ...], length: int) -> Array:
    """:func:`_profile` of a long ``int64`` profile, built inside its final (zeroed) array: no
    other array of its length is allocated and its zeros are never written again.

    The layers are applied in ascending dilation. While the part built so far (``n`` entries)
    is no longer than the layer's dilation ``d`` (every long profile's large rates), the
    layer's ``k`` shifted copies do not overlap: the new part is the old one copied ``d``
    apart (two numpy calls whatever ``k``). A layer with ``d < n`` adds ``k - 1`` shifted
    copies of a saved copy of the old part. Exact: every entry is at most the number of paths,
    which the caller has checked fits ``int64``.
    """
    out = np.zeros(length, dtype=np.int64)
    out[0] = 1
    n = 1
    for d, k in key:  # sorted: ascending dilation
        grown = n + (k - 1) * d
        if d >= n:
            out[: (k - 1) * d].reshape(k - 1, d)[1:, :n] = out[:n]  # copies 1 .. k-2
            out[(k - 1) * d : grown] = out[:n]
        else:
            old = out[:n].copy()
            for j in range(1, k):
                out[j * d : j * d + n] += old
        n = grown
    assert n == length
    out.setflags(write=False)
    return out


def tap_profile(taps: Sequence[Taps]) -> Array:
    """Exact 1-D path counts of a chain of stride-1 :class:`~atrous.geometry.Taps` (any order).

    The convolution of the layers' tap patterns: entry ``i`` counts the paths from input
    ``i - sum(offsets)`` (relative to the unit) to one output unit. ``int64``, or Python ints
    when the total number of paths could leave the int64 range. Equal ``(dilation, kernel)``
    layers are applied as one precomputed power of their pattern. This is the profile
    :func:`atrous._design.count_profile` reports for a schedule of rates.

    >>> from atrous.geometry import Taps
    >>> tap_profile([Taps(1, 0, 1, 3), Taps(1, 0, 2, 3)]).tolist()
    [1, 1, 2, 1, 2, 1, 1]
    """
    if any(t.stride != 1 for t in taps):
        raise AtrousError(f"a tap profile needs stride-1 taps, got {list(taps)}")
    return _profile(tuple(sorted((t.dilation, t.kernel) for t in taps))).copy()


def _finish(raw: _Raw, size: Ints | None, budget: Budget) -> Coverage:
    if raw.factors is not None and raw.int64:
        counts = raw.factors[0][0]
        budget.check([len(a) for a, _ in raw.factors])
        for a, _ in raw.factors[1:]:  # 1-D: the cached profile itself, read-only
            counts = np.multiply.outer(counts, a)
        offset = tuple(o for _, o in raw.factors)
    elif raw.factors is not None:
        counts = outer(raw.factors, budget)
        offset = tuple(o for _, o in raw.factors)
    else:
        assert raw.dense is not None
        counts, offset = raw.dense
    return Coverage(counts, tuple(int(o) for o in offset), raw.node, raw.unit, size,
                    raw.diagnostics)


def _spatial(g: Graph, input_size: Sequence[int] | int | None) -> Ints | None:
    if input_size is None:
        # an ONNX model read at its static input shape knows its size
        shape = g.input_shape if g.method == "onnx" else ()
        return tuple(shape[2:]) if len(shape) == g.ndim + 2 else None
    if isinstance(input_size, (int, np.integer)):
        return (int(input_size),) * g.ndim
    size = tuple(int(v) for v in input_size)
    if len(size) != g.ndim + 2:
        return size
    from .rf import _channels_last

    return size[1:-1] if _channels_last(g, size) else size[2:]


def _spatial_or_same(g: Graph, input_size: Any) -> Any:
    """The spatial sizes (an ONNX model may be channels-last); a malformed value unchanged, for
    the checks downstream to refuse."""
    try:
        return _spatial(g, input_size)
    except (TypeError, ValueError):
        return input_size


def coverage(
    target: Any,
    *,
    input_size: Sequence[int] | int | None = None,
    node: str | None = None,
    unit: Sequence[int] | int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Coverage:
    """The exact coverage map of one output unit: distinct paths from each input pixel.

    Args:
        target: a :class:`~atrous.Graph`, a spec string, layers, or an ``nn.Module`` (anything
            :func:`atrous.as_graph` accepts). Build the classic dilated stack with
            ``atrous.stack(rates, kernel, ndim)``.
        input_size: spatial input size, or a full ``(N, C, *spatial)`` shape (which an
            ``nn.Module`` needs to be traced). Without it the input is unbounded (no unit is
            clipped by the border); with it, padding carries no paths and global pooling can be
            mapped.
        node: map a unit of this node instead of the graph's output.
        unit: index of the unit in that node's output (default: 0 without ``input_size``, the
            centre unit ``(n - 1) // 2`` with it).
        max_cells: refuse (``TooLargeError``) to build a map with more cells than this.
        max_bytes: refuse (``TooLargeError``), up front, a map whose exact counts would take
            more memory than this (deep stacks' counts are Python ints of many bits).

    Returns:
        A :class:`Coverage` whose ``counts`` span exactly the receptive-field box.

    Raises:
        CoverageUnavailable: an opaque layer, or a global/size-dependent op without
            ``input_size``; the message names the node.
        TooLargeError: the map would exceed ``max_cells`` or ``max_bytes``; the message names
            the one to raise.

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
    if (
        type(target) is Graph and input_size is None and node is None and unit is None
        and type(max_cells) is int and type(max_bytes) is int
    ):
        spec = target._plain_stack()
        if spec is not None and target.method != "onnx":
            fast = _stack_coverage(target, spec[0], spec[1], max_cells, max_bytes)
            if fast is not None:
                return fast
    g = _graph(target, input_size)
    input_size = _spatial_or_same(g, input_size)
    budget = _budget(max_cells, max_bytes)
    return _finish(_compute(g, node, input_size, unit, budget), _spatial(g, input_size), budget)


@lru_cache(maxsize=256)
def _stack_plan(rates: tuple[int, ...], kernel: int) -> tuple[int, int, int, tuple[Any, ...]]:
    """``(length, shift, paths, profile key)`` of one axis of ``stack(rates, kernel)``."""
    return (1 + (kernel - 1) * sum(rates), sum(r * (kernel - 1) // 2 for r in rates),
            kernel ** len(rates), tuple(sorted((r, kernel) for r in rates)))


def _stack_coverage(g: Graph, kernel: int, rates: tuple[int, ...], max_cells: int,
                    max_bytes: int) -> Coverage | None:
    """The map of a graph exactly as :func:`atrous.stack` built it, at the least cost: every
    axis is the same profile, so the map is its outer power. None when the map is over budget
    (the general engine then refuses it, in its words)."""
    length, shift, paths, key = _stack_plan(rates, kernel)
    ndim = g.ndim
    cells = length**ndim
    if cells > max_cells:
        return None
    if paths**ndim < SAFE_INT:  # int64 counts
        if cells * 8 > max_bytes:
            return None
        prof = _profile(key)
        if ndim == 1:
            counts = prof  # the cached profile itself, read-only: no copy per call
        else:
            counts = np.multiply.outer(prof, prof)
            if ndim == 3:
                counts = np.multiply.outer(counts, prof)
    else:  # Python-int counts: the general engine's memory estimate (_check_work), then its map
        bits = 0.0
        log_k = math.log2(kernel)
        for _ in range(len(rates) * ndim):
            bits += log_k
        if cells * (int_bytes(bits) if bits >= 62 else 8) > max_bytes:
            return None
        counts = outer([(_profile(key), 0)] * ndim, Budget(max_cells, max_bytes))
    return Coverage(counts, (-shift,) * ndim, g._last, (0,) * ndim)


def _budget(max_cells: Any, max_bytes: Any) -> Budget:
    cells = max_cells if type(max_cells) is int and max_cells >= 1 else as_int(
        max_cells, "max_cells", 1)
    size = max_bytes if type(max_bytes) is int and max_bytes >= 1 else as_int(
        max_bytes, "max_bytes", 1)
    return Budget(cells, size)


def _graph(target: Any, input_size: Sequence[int] | int | None) -> Graph:
    """``as_graph``; an ``nn.Module`` is traced with the full ``(N, C, *spatial)`` shape."""
    if type(target) is Graph:
        return target
    full = None if input_size is None or isinstance(input_size, (int, np.integer)) else as_size(
        input_size, "input_size", minimum=-(2**63)
    )
    return as_graph(target, input_size=full)


def layer_gridding(
    target: Any,
    *,
    input_size: Sequence[int] | int | None = None,
    max_cells: int = DEFAULT_MAX_CELLS,
    max_bytes: int = DEFAULT_MAX_BYTES,
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
    input_size = _spatial_or_same(g, input_size)
    return _layer_gridding(g, input_size, _budget(max_cells, max_bytes), None)


def _coverage_with(g: Graph, spatial: Ints, node: str, max_cells: int,
                   rfs: dict[str, Any], done: _Shared | None = None) -> Coverage:
    """``coverage(g, input_size=spatial, node=node, max_cells=max_cells)`` for a spatial size
    (not None), given ``rfs = receptive_fields(g, spatial)`` already: the same map, without
    computing the receptive fields again. ``done``: what :func:`_layer_gridding` kept; a map
    it made exactly as this call would (same size and budget, the general engine's own steps
    or a pointwise node's copy of them, so the same counts and dtype) is used as it is."""
    input_size = _spatial_or_same(g, spatial)
    budget = _budget(max_cells, DEFAULT_MAX_BYTES)
    if (done is not None and node in done.plain and done.input_key == input_size
            and done.budget_key == (budget.max_cells, budget.max_bytes)):
        return _finish(done.raws[node], _spatial(g, input_size), budget)
    shared = _Shared(g)
    shared.rf_key, shared.rfs = spatial, rfs
    return _finish(_compute(g, node, input_size, None, budget, shared),
                   _spatial(g, input_size), budget)


def _layer_gridding(g: Graph, input_size: Any, budget: Budget,
                    rfs: tuple[Ints, dict[str, Any]] | None,
                    shared: _Shared | None = None) -> list[LayerGridding]:
    """:func:`layer_gridding` of a graph; ``rfs``: ``(spatial, receptive_fields(g, spatial))``
    when the caller has them already (a spatial size, not None). ``shared``: a fresh
    :class:`_Shared` of ``g`` to keep the maps in (for :func:`_coverage_with`)."""
    rows: list[LayerGridding] = []
    shared = _Shared(g) if shared is None else shared
    shared.budget_key = (budget.max_cells, budget.max_bytes)
    shared.input_key = input_size
    if rfs is not None:
        shared.rf_key, shared.rfs = rfs
    for nd in g.layer_nodes():
        try:
            raw = _compute(g, nd.name, input_size, None, budget, shared)
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
