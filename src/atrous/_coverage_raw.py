"""A coverage map before it is a :class:`~atrous.Coverage`, and the small steps on such maps.

What both the engine (:mod:`atrous._coverage`) and the work one :func:`atrous.layer_gridding`
call shares between nodes (:mod:`atrous._gridding`) read: the raw map record :class:`_Raw`, a
layer's per-axis geometry as the engine takes it (:func:`_axis_geom`), the sum of two offset maps
(:func:`_accumulate`), the empty map and the 1x1 test. Imported by both, importing neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._axis_maps import INT64_SAFE, Array, Budget, prod, to_py
from ._types import Ints
from .errors import CoverageUnavailable
from .geometry import Identity, Reads, Taps, Unmodelled, Whole
from .layers import Layer


@dataclass
class _Raw:
    """A map before it becomes a :class:`~atrous.Coverage`: per-axis factors or a dense map."""

    factors: list[tuple[Array, int]] | None  # separable: counts = outer product of factors
    dense: tuple[Array, Ints] | None
    node: str
    unit: Ints
    diagnostics: tuple[str, ...] = ()
    int64: bool = False  # the factors are int64 and so is their outer product

    def stats(self) -> tuple[Ints, int, int, int, int]:
        """(rf_size, cells, covered, min, max) without building a separable map."""
        if self.factors is not None:
            sizes = tuple(len(a) for a, _ in self.factors)
            cov = prod([int(np.count_nonzero(a)) for a, _ in self.factors])
            mins = prod([to_py(a.min()) if len(a) else 0 for a, _ in self.factors])
            maxs = prod([to_py(a.max()) if len(a) else 0 for a, _ in self.factors])
            return sizes, prod(sizes), cov, mins, maxs
        assert self.dense is not None
        arr = self.dense[0]
        sizes = tuple(int(n) for n in arr.shape)
        if not arr.size:
            return sizes, 0, 0, 0, 0
        return (sizes, prod(sizes), int(np.count_nonzero(arr != 0)), to_py(arr.min()),
                to_py(arr.max()))


def _axis_geom(name: str, layer: Layer, axis: int, n_in: int | None) -> Reads | None:
    """The layer's geometry along ``axis`` (None for an identity), or why it has no map."""
    geom = layer.axis_geometry(axis, n_in)
    if isinstance(geom, Unmodelled):
        raise CoverageUnavailable(name, geom.reason)
    if isinstance(geom, Whole) and geom.n_in is None:
        raise CoverageUnavailable(
            name, f"{layer.kind} reads the whole input: pass input_size to map its coverage"
        )
    return None if isinstance(geom, Identity) else geom


def _accumulate(acc: tuple[Array, Ints] | None, arr: Array, origin: Ints,
                budget: Budget) -> tuple[Array, Ints]:
    if acc is None:
        return arr, origin
    a, ao = acc
    if a.dtype != arr.dtype or (
        a.dtype != object
        and float(a.max(initial=0)) + float(arr.max(initial=0)) >= INT64_SAFE
    ):
        a, arr = a.astype(object), arr.astype(object)
    lo = [min(x, y) for x, y in zip(ao, origin)]
    hi = [max(x + n, y + m) for x, y, n, m in zip(ao, origin, a.shape, arr.shape)]
    out = budget.zeros([h - low for h, low in zip(hi, lo)], a.dtype)
    for src, o in ((a, ao), (arr, origin)):
        out[tuple(slice(x - low, x - low + n) for x, low, n in zip(o, lo, src.shape))] += src
    return out, tuple(lo)


def _empty(ndim: int, target: str, u: Ints) -> _Raw:
    return _Raw(None, (np.zeros((0,) * ndim, dtype=np.int64), (0,) * ndim), target, u,
                ("no input pixel reaches this unit",))


def _one_to_one(geom: Reads | None) -> bool:
    """Output ``o`` reads input ``o`` alone (a 1x1 conv, stride 1, no padding)."""
    return (type(geom) is Taps and geom.kernel == 1 and geom.stride == 1
            and geom.offset == 0)
