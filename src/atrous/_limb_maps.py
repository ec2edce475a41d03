"""Exact coverage maps of a DAG in int64 limbs: big path counts without Python integers.

The general engine of :mod:`atrous._coverage` (``_dag_map``) steps a map back from the unit to
the input in ``int64`` and switches to Python integers (``dtype=object``) once a step could
leave the int64 range. A global output of a 224x224 network has counts of 50-300 bits, so its
whole-input map was stepped in Python integers (a dozen numpy-object operations over 50,000
cells: 10-60 ms). Here the same map is held as ``L`` int64 limbs of :data:`LIMB_BITS` bits
(``value = sum(limb[j] << (LIMB_BITS * j))``): every backward step only adds counts, so each
limb steps on its own, and an exact bound on the limbs says when to carry (before any limb
could pass ``2**62``). The receptive-field box, its holes and the smallest and largest counts
come from the limbs; the Python-int array (``Coverage.counts``) is built on first read.

The result is the map ``_dag_map`` makes, count for count, and of the dtype it gives
(``object`` exactly when that engine would have switched to Python integers), so every
report field is unchanged; ``tests/test_limb_maps.py`` compares the two on model graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ._axis_maps import INT64_SAFE, Budget, clip, make_step
from ._coverage import Coverage
from ._types import Ints
from .geometry import Reads, Scatter, Taps
from .layers import Merge

LIMB_BITS = 32
"""Bits per limb once carried (every limb then below ``2**LIMB_BITS``)."""

_MASK = (1 << LIMB_BITS) - 1
_LIMIT = 1 << 62  # no limb entry may pass this (a carry then still fits int64)


class _Map:
    """One node's map: ``limbs[j, ...]`` (int64) of the counts; ``origin`` per axis; ``bound``
    an upper bound on every limb entry; ``big``: ``_dag_map`` would hold it in Python ints."""

    __slots__ = ("big", "bound", "limbs", "origin", "owned")

    def __init__(self, limbs: Any, origin: Ints, bound: int, big: bool,
                 owned: bool = False) -> None:
        self.limbs, self.origin, self.bound, self.big = limbs, origin, bound, big
        self.owned = owned  # limbs is this map's own array (a sum may be added into it)

    def carried(self) -> _Map:
        """The same counts with every limb below ``2**LIMB_BITS`` (more limbs if needed)."""
        if self.bound <= _MASK:
            return self
        return _Map(carry(self.limbs), self.origin, _MASK, self.big)

    def room(self, factor: int) -> _Map:
        """This map, carried first if a step multiplying the bound by ``factor`` could pass
        the limit (the bound is first tightened to the largest limb entry)."""
        if self.bound * factor <= _LIMIT:
            return self
        top = int(self.limbs.max(initial=0))
        if top * factor <= _LIMIT:
            return _Map(self.limbs, self.origin, top, self.big)
        return self.carried()


def carry(limbs: Any) -> Any:
    """Propagate carries: every limb below ``2**LIMB_BITS``, limbs added on top as needed
    (a new array; ``limbs`` is left as it is)."""
    top = int(limbs[-1].max(initial=0)) + (1 << 31)  # a carry into a limb is below 2**31
    extra = max(0, -(-(top.bit_length() - LIMB_BITS) // LIMB_BITS))
    out = np.zeros((len(limbs) + extra, *limbs.shape[1:]), dtype=np.int64)
    out[: len(limbs)] = limbs
    for j in range(len(out) - 1):
        out[j + 1] += out[j] >> LIMB_BITS
        out[j] &= _MASK
    while len(out) > 1 and not out[-1].any():
        out = out[:-1]
    return out


def _value_sum(limbs: Any) -> float:
    """``float`` of the sum of the counts as ``_dag_map``'s int64 test computes it."""
    if len(limbs) == 1:
        return float(limbs[0].sum(dtype=np.float64))
    return sum(float(limbs[j].sum(dtype=np.float64)) * 2.0 ** (LIMB_BITS * j)
               for j in range(len(limbs)))


def _value_max(limbs: Any) -> float:
    if len(limbs) == 1:
        return float(limbs[0].max(initial=0))
    return float(_extreme(carry(limbs), max))


def _extreme(limbs: Any, pick: Any) -> int:
    """The largest (``pick=max``) or smallest (``min``) count of carried limbs, exactly.

    A float64 estimate of every count (relative error below ``2**-45``) picks the few cells
    that can hold the extreme; the limbs of those are compared exactly, most significant
    first."""
    if not limbs[0].size:
        return 0
    flat = limbs.reshape(len(limbs), -1)
    n = len(flat)
    if n <= 30:  # the scaled estimate stays a normal float
        approx = flat[n - 1].astype(np.float64)
        for j in range(n - 2, -1, -1):
            approx += flat[j] * 2.0 ** (LIMB_BITS * (j - n + 1))
        if pick is max:
            top = float(approx.max())
            keep = np.flatnonzero(approx >= top * (1 - 2.0**-40))
        else:
            low = float(approx.min())
            keep = np.flatnonzero(approx <= low * (1 + 2.0**-40))
        flat = flat[:, keep]
    alive = np.ones(flat.shape[1], dtype=bool)
    value = 0
    for j in range(n - 1, -1, -1):
        row = flat[j]
        best = int(row[alive].max() if pick is max else row[alive].min())
        alive &= row == best
        value += best << (LIMB_BITS * j)
    return value


class _LimbBudget(Budget):
    """The caller's budget, applied to a limb array's spatial shape (its axes past the first)."""

    def __init__(self, inner: Budget) -> None:
        super().__init__(inner.max_cells, inner.max_bytes)
        self.inner = inner

    def check(self, shape: Sequence[int], bytes_per_cell: int = 8) -> None:
        self.inner.check(list(shape)[1:], bytes_per_cell)

    def zeros(self, shape: Sequence[int], dtype: Any) -> Any:
        self.check(shape)
        return np.zeros(tuple(shape), dtype=dtype)


def _fan(geom: Reads, n: int) -> int:
    """The most outputs that read one input pixel along an axis of ``n`` outputs (how much a
    backward step can multiply a count)."""
    if type(geom) is Taps or type(geom) is Scatter:
        return min(geom.kernel, n)
    return max(n, 1)


def _one_to_one(geom: Reads | None) -> bool:
    return (type(geom) is Taps and geom.kernel == 1 and geom.stride == 1
            and geom.offset == 0)


def _steps_back(m: _Map, geoms: list[Reads | None], src: Ints | None,
                budget: Budget) -> _Map | None:
    """``_coverage._steps_back`` on limbs (axis ``a`` of the map is axis ``a + 1`` here)."""
    o = list(m.origin)
    for axis, geom in enumerate(geoms):
        if geom is None:
            continue
        n_in = None if src is None else src[axis]
        if _one_to_one(geom):
            res = clip((m.limbs, o[axis]), axis + 1, n_in)
            if res is None:
                return None
            m = _Map(res[0], m.origin, m.bound, m.big)
            o[axis] = res[1]
            continue
        big = m.big or _value_sum(m.limbs) >= INT64_SAFE  # _axis_maps.safe's test
        fan = _fan(geom, m.limbs.shape[axis + 1])
        m = m.room(fan)
        res = clip(make_step(geom)(m.limbs, o[axis], axis + 1, budget), axis + 1, n_in)
        if res is None:
            return None
        m = _Map(res[0], m.origin, m.bound * fan, big)
        o[axis] = res[1]
    return _Map(m.limbs, tuple(o), m.bound, m.big)


def _broadcast_back(m: _Map, src: Ints, out: Ints) -> _Map:
    """A broadcast merge input (size 1 on an axis) is read by every position of that axis."""
    o = list(m.origin)
    for axis in range(len(o)):
        if src[axis] == 1 and out[axis] > 1:
            n = m.limbs.shape[axis + 1]
            m = m.room(n)
            o[axis] = 0
            m = _Map(m.limbs.sum(axis=axis + 1, keepdims=True), m.origin, m.bound * n, m.big)
    return _Map(m.limbs, tuple(o), m.bound, m.big)


def _accumulate(acc: _Map | None, m: _Map, budget: Budget) -> _Map:
    """The sum of two maps of one node (``_coverage._accumulate``)."""
    if acc is None:
        return m
    big = acc.big or m.big or _value_max(acc.limbs) + _value_max(m.limbs) >= INT64_SAFE
    if acc.bound + m.bound > _LIMIT:
        acc, m = acc.room(2), m.room(2)
    for into, part in ((acc, m), (m, acc)):  # add in place into a sum made here
        if into.owned and len(part.limbs) <= len(into.limbs) and all(
                x <= y and y + k <= x + n for x, y, n, k in
                zip(into.origin, part.origin, into.limbs.shape[1:], part.limbs.shape[1:])):
            box = tuple(slice(y - x, y - x + k) for x, y, k in
                        zip(into.origin, part.origin, part.limbs.shape[1:]))
            into.limbs[tuple([slice(0, len(part.limbs)), *box])] += part.limbs
            return _Map(into.limbs, into.origin, acc.bound + m.bound, big, True)
    lo = [min(x, y) for x, y in zip(acc.origin, m.origin)]
    hi = [max(x + n, y + k) for x, y, n, k in
          zip(acc.origin, m.origin, acc.limbs.shape[1:], m.limbs.shape[1:])]
    n_limbs = max(len(acc.limbs), len(m.limbs))
    out = budget.zeros([n_limbs, *(h - low for h, low in zip(hi, lo))], np.int64)
    for part in (acc, m):
        box = tuple(slice(x - low, x - low + n)
                    for x, low, n in zip(part.origin, lo, part.limbs.shape[1:]))
        out[tuple([slice(0, len(part.limbs)), *box])] += part.limbs
    return _Map(out, tuple(lo), acc.bound + m.bound, big, True)


def dag_map(order: list[Any], descs: dict[str, list[Reads | None]], sizes: dict[str, Ints] | None,
            target: str, u: Ints, budget: Budget) -> tuple[Any, Ints, bool] | None:
    """``_coverage._dag_map`` in limbs: ``(carried limbs, origin, big)`` trimmed to the
    bounding box of the reached pixels, or None when no path reaches the input."""
    ndim = len(u)
    lb = _LimbBudget(budget)
    maps: dict[str, _Map] = {target: _Map(np.ones((1,) * (ndim + 1), dtype=np.int64), u, 1,
                                          False)}
    for nd in reversed(order):
        if nd.name not in maps or nd.name == "input":
            continue
        m = maps.pop(nd.name)
        merge = isinstance(nd.layer, Merge)
        for src in nd.inputs:
            cur: _Map | None
            if merge:
                cur = (_Map(m.limbs, m.origin, m.bound, m.big) if sizes is None
                       else _broadcast_back(m, sizes[src], sizes[nd.name]))
            else:
                cur = _steps_back(m, descs[nd.name], None if sizes is None else sizes[src], lb)
            if cur is not None:
                maps[src] = _accumulate(maps.get(src), cur, lb)
    if "input" not in maps:
        return None
    got = maps["input"]
    limbs = carry(got.limbs)  # every limb below 2**LIMB_BITS, no zero limb on top
    nz = limbs.any(axis=0)
    if not nz.any():
        return limbs[tuple([slice(None)] + [slice(0, 0)] * ndim)], got.origin, got.big
    idx: list[slice] = []
    origin = []
    for axis in range(ndim):
        other = tuple(a for a in range(ndim) if a != axis)
        hit = np.flatnonzero(nz.any(axis=other) if other else nz)
        idx.append(slice(int(hit[0]), int(hit[-1]) + 1))
        origin.append(got.origin[axis] + int(hit[0]))
    return limbs[tuple([slice(None), *idx])], tuple(origin), got.big


def to_counts(limbs: Any, big: bool) -> Any:
    """The counts of carried limbs as ``_dag_map`` gives them: int64, or Python ints
    (``dtype=object``) when ``big``."""
    shape = limbs.shape[1:]
    n = len(limbs)
    if n == 1 or (n == 2 and int(limbs[1].max(initial=0)) < 2**31):  # the counts fit int64
        out = limbs[0].copy() if n == 1 else limbs[0] + (limbs[1] << LIMB_BITS)
        return out.astype(object) if big else out
    words = np.ascontiguousarray(limbs.astype("<u4").reshape(len(limbs), -1).T).tobytes()
    width = 4 * len(limbs)
    frm = int.from_bytes
    out = np.empty(shape, dtype=object)
    out.reshape(-1)[:] = [frm(words[i : i + width], "little")
                          for i in range(0, len(words), width)]
    return out


def _limbs_of(counts: Any) -> Any:
    """Carried limbs of a counts array (int64, or Python ints)."""
    if counts.dtype != object:
        return carry(np.asarray(counts, dtype=np.int64)[None])
    top = max((int(v) for v in counts.ravel().tolist()), default=0)
    n = max(1, -(-top.bit_length() // LIMB_BITS))
    return np.stack([((counts >> (LIMB_BITS * j)) & _MASK).astype(np.int64) for j in range(n)])


class LimbCoverage(Coverage):
    """A :class:`~atrous._coverage.Coverage` whose counts are held as limbs until read: the
    box, holes, smallest, largest and total counts come from the limbs; ``counts`` (the same
    array the general engine makes) is built on first access."""

    def __init__(self, limbs: Any = None, big: bool = False, offset: Ints = (), node: str = "",
                 unit: Ints = (), input_size: Ints | None = None,
                 diagnostics: tuple[str, ...] = (), *, counts: Any = None) -> None:
        if counts is not None:  # Coverage's own fields (dataclasses.replace): from the counts
            limbs, big = _limbs_of(counts), counts.dtype == object
            self.__dict__["_counts"] = counts
        for key, value in (("offset", offset), ("node", node), ("unit", unit),
                           ("input_size", input_size), ("diagnostics", diagnostics)):
            object.__setattr__(self, key, value)
        self.__dict__["_limbs"] = limbs
        self.__dict__["_big"] = big

    @property
    def counts(self) -> Any:
        got = self.__dict__.get("_counts")
        if got is None:
            got = self.__dict__["_counts"] = to_counts(self.__dict__["_limbs"],
                                                       self.__dict__["_big"])
        return got

    @property
    def rf_size(self) -> Ints:
        return tuple(int(n) for n in self.__dict__["_limbs"].shape[1:])

    @cached_property
    def covered(self) -> int:
        return int(np.count_nonzero(self.__dict__["_limbs"].any(axis=0)))

    @cached_property
    def max_count(self) -> int:
        return _extreme(self.__dict__["_limbs"], max)

    @cached_property
    def min_count(self) -> int:
        return _extreme(self.__dict__["_limbs"], min)

    @cached_property
    def total_paths(self) -> int:
        limbs = self.__dict__["_limbs"]
        if limbs[0].size >= 2**31:
            return super().total_paths
        return sum(int(limbs[j].sum()) << (LIMB_BITS * j) for j in range(len(limbs)))

    @property
    def exact_dtype(self) -> str:
        return "object" if self.__dict__["_big"] else "int64"

    def hole_mask(self) -> Any:
        return ~self.__dict__["_limbs"].any(axis=0)


def output_coverage(g: Any, spatial: Ints, node: str, max_cells: int,
                    rfs: dict[str, Any], known: dict[str, Ints] | None = None) -> Coverage:
    """``coverage(g, input_size=spatial, node=node, max_cells=max_cells)`` (what
    ``_coverage._coverage_with`` makes without kept maps), given ``rfs =
    receptive_fields(g, spatial)`` (and ``known = g.shapes(spatial)`` if computed): the same
    checks and errors, the same map; a DAG's map is stepped in limbs and returned as a
    :class:`LimbCoverage`."""
    from ._coverage import (
        DEFAULT_MAX_BYTES,
        _budget,
        _compute_map,
        _coverage_with,
        _described,
        _finish,
        _resolve,
        _spatial,
        _spatial_or_same,
    )
    from ._coverage_raw import _empty
    from ._gridding import _Shared

    input_size = _spatial_or_same(g, spatial)
    budget = _budget(max_cells, DEFAULT_MAX_BYTES)
    shared = _Shared(g)
    shared.rf_key, shared.rfs = spatial, rfs
    shared.closed[g[node].name] = _upstream(g, g[node].name)
    if known is not None:  # the strict sizes, as _resolve would make them
        shared.sizes, shared.size_key = known, tuple(spatial)
    target, names, sizes, u = _resolve(g, node, input_size, None, shared)
    if sizes is None:
        return _coverage_with(g, spatial, node, max_cells, rfs)
    order = [nd for nd in shared.order if nd.name in names]
    ndim = g.ndim
    descs = _described(g, order, sizes, target, budget, shared)
    size = _spatial(g, input_size)
    if all(len(nd.inputs) <= 1 for nd in order):  # a chain: separable, the engine's own way
        return _finish(_compute_map(order, descs, sizes, target, u, budget), size, budget)
    got = dag_map(order, descs, sizes, target, u, budget)
    if got is None:
        return _finish(_empty(ndim, target, u), size, budget)
    limbs, origin, big = got
    return LimbCoverage(limbs, big, tuple(int(o) for o in origin), target, u, size)


def _upstream(g: Any, name: str) -> set[str]:
    """``g.ancestors(name) | {name}`` by one walk back over the inputs."""
    seen = {name}
    todo = [name]
    while todo:
        for i in g[todo.pop()].inputs:
            if i not in seen:
                seen.add(i)
                todo.append(i)
    return seen
