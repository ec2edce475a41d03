"""Design: exact search for gridding-free dilation schedules, repair, and the Pareto frontier.

A stack of stride-1 convs with kernel ``K`` and rates ``r_1..r_n`` reaches, along each axis, the
offsets ``{sum_i t_i r_i : 0 <= t_i < K}``; the number of ways to write an offset that way is its
*count* (paths). Two facts make the search exact and fast (proved in ``docs/design.md``):

1. The counts are the convolution of the layers' tap patterns, so they do not depend on the
   order of the layers: a schedule is a *multiset* of rates.
2. With the rates sorted ascending, the covered set is an interval (no gridding) exactly when
   every rate is at most the receptive field of the layers before it:
   ``r_i <= RF_{i-1}`` with ``RF_0 = 1`` and ``RF_i = RF_{i-1} + (K-1) r_i`` (any ``K >= 2``).

So :func:`design` walks sorted multisets, prunes with the criterion and with exact bounds, and
never enumerates orders. For square kernels the 2-D count is the outer product of the 1-D
counts, so the 2-D minimum over a square window is the 1-D minimum squared.

    >>> is_gridding_free([1, 2, 5]), is_gridding_free([2, 2, 2]), is_gridding_free([5, 1, 2])
    (True, False, True)
    >>> [c.rates for c in design(kernel=3, layers=3, top=2)]
    [(1, 3, 9), (1, 3, 8)]
    >>> best = design(kernel=3, target_rf=129, top=1)[0]
    >>> best.layers, best.rf, best.rates
    (5, 129, (1, 1, 5, 14, 43))
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from ._types import Ints, as_choice, as_int
from .errors import AtrousError, TooLargeError

__all__ = [
    "Candidate",
    "Change",
    "Objective",
    "ParetoFrontier",
    "ParetoPoint",
    "Repair",
    "count_profile",
    "design",
    "is_gridding_free",
    "pareto",
    "repair",
]

Objective = Literal["rf", "layers", "uniform"]
"""``"rf"``: largest RF for ``layers`` layers; ``"layers"``: fewest layers reaching
``target_rf``; ``"uniform"``: largest minimum count over the ``target_rf`` window."""

DEFAULT_MAX_NODES = 400_000
"""Partial schedules the search may visit before it gives up with :class:`TooLargeError`."""
MAX_LAYERS = 64
"""Most layers a search considers."""
PROFILE_MAX = 1 << 21
"""Longest 1-D count profile computed (longer receptive fields report no counts)."""


# -- the exact criterion and exact counts ----------------------------------------------------
def _rates(rates: Any, name: str = "rates") -> Ints:
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or not rates:
        raise AtrousError(f"{name} must be a non-empty sequence of ints, got {rates!r}")
    return tuple(as_int(r, f"rate #{i}", 1) for i, r in enumerate(rates))


def _kernel(kernel: Any) -> int:
    k = as_int(kernel, "kernel", -(1 << 62))
    if k < 2:
        raise AtrousError(
            f"kernel must be >= 2 to design dilation rates (kernel 1 ignores dilation), got {k}"
        )
    return k


def is_gridding_free(rates: Sequence[int], kernel: int = 3) -> bool:
    """The exact criterion: sorted ascending, every rate is at most the RF of the ones before it.

    Args:
        rates: dilation rates of a stack of stride-1 convs (any order).
        kernel: kernel size ``K >= 2`` of every layer.

    >>> is_gridding_free([1, 3, 9]), is_gridding_free([1, 3, 10]), is_gridding_free([2, 3])
    (True, False, False)
    >>> is_gridding_free([1, 2, 4, 8], kernel=2)   # WaveNet
    True
    """
    r = _rates(rates)
    c = _kernel(kernel) - 1
    rf = 1
    for rate in sorted(r):
        if rate > rf:
            return False
        rf += c * rate
    return True


def _dtype(kernel: int, layers: int) -> Any:
    return np.int64 if kernel**layers < 2**62 else object


def _add_layer(profile: np.ndarray, rate: int, kernel: int) -> np.ndarray:
    out = np.zeros(len(profile) + (kernel - 1) * rate, dtype=profile.dtype)
    n = len(profile)
    for t in range(kernel):
        out[t * rate : t * rate + n] += profile
    return out


def count_profile(rates: Sequence[int], kernel: int = 3) -> np.ndarray:
    """Exact 1-D counts: paths from each offset of the receptive field to one output unit.

    The convolution of the layers' tap patterns (``K`` ones spaced ``rate`` apart). For square
    kernels the 2-D map is ``np.outer(p, p)`` of this profile ``p``.

    >>> count_profile([1, 2]).tolist()
    [1, 1, 2, 1, 2, 1, 1]
    """
    r = _rates(rates)
    k = _kernel(kernel)
    length = 1 + (k - 1) * sum(r)
    if length > PROFILE_MAX:
        raise TooLargeError(f"a count profile of {length} offsets exceeds {PROFILE_MAX}")
    prof = np.ones(1, dtype=_dtype(k, len(r)))
    for rate in r:
        prof = _add_layer(prof, rate, k)
    return prof


def _window(length: int, width: int) -> tuple[int, int]:
    """Start and stop of the centred ``width`` window of a ``length`` profile."""
    s = (length - width) // 2
    return s, s + width


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One gridding-free schedule proposed by :func:`design`.

    Attributes:
        rates: the dilation rates in a suggested layer order (rising, or the sawtooth group
            repeated); any order has the same coverage.
        kernel: kernel size ``K`` of every layer.
        ndim: number of spatial axes the counts and costs refer to.
        rf: receptive field per axis, ``1 + (K-1) * sum(rates)``.
        window: width per axis of the centred window the counts are measured over (the target
            RF if one was given, else ``rf``).
        min_count: fewest paths from a pixel of the window (``ndim``-D; the corners of the full
            RF box always have 1), or None when the RF is too large to count.
        max_count: most paths to a pixel of the window (``ndim``-D), or None.
        profile: the exact 1-D counts over the whole RF (the ``ndim``-D map is their outer
            product), or None when too large.
        groups: how often the sawtooth group repeats (1 without the sawtooth option).
        channels: channel width the costs assume, or None.
        params: weights of the stack (``layers * K**ndim * channels**2``, no bias), or None.
        macs: multiply-accumulates per output position, or per map with ``feature_size``.
        hdc: the HDC rule's verdicts for ``rates`` in this order (:func:`atrous.hdc_check`).
        gridding_free: always True (checked by the exact criterion).
    """

    rates: Ints
    kernel: int
    ndim: int
    rf: int
    window: int
    min_count: int | None
    max_count: int | None
    profile: tuple[int, ...] | None = field(repr=False)
    groups: int = 1
    channels: int | None = None
    params: int | None = None
    macs: int | None = None
    hdc: Any = field(default=None, repr=False)
    gridding_free: bool = True

    @property
    def layers(self) -> int:
        """Number of layers."""
        return len(self.rates)

    @property
    def uniformity(self) -> float | None:
        """``min_count / max_count`` over the window (1.0 is perfectly even)."""
        if self.min_count is None or not self.max_count:
            return None
        return self.min_count / self.max_count

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        hdc = self.hdc.to_dict() if hasattr(self.hdc, "to_dict") else None
        return {
            "rates": list(self.rates),
            "kernel": self.kernel,
            "ndim": self.ndim,
            "layers": self.layers,
            "rf": self.rf,
            "window": self.window,
            "min_count": self.min_count,
            "max_count": self.max_count,
            "uniformity": self.uniformity,
            "groups": self.groups,
            "channels": self.channels,
            "params": self.params,
            "macs": self.macs,
            "gridding_free": self.gridding_free,
            "hdc": hdc,
            "profile": None if self.profile is None else [int(v) for v in self.profile],
        }


@dataclass(frozen=True)
class Change:
    """One changed (or added) layer of a :class:`Repair`.

    Attributes:
        index: layer position (input side first); added layers come after the original ones.
        old: the original rate, or None for an added layer.
        new: the proposed rate.
        reason: why, in words.
    """

    index: int
    old: int | None
    new: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"index": self.index, "old": self.old, "new": self.new, "reason": self.reason}


@dataclass(frozen=True)
class Repair:
    """A gridding-free schedule near a given one: fewest changed rates, RF kept or grown.

    Attributes:
        original: the rates given.
        rates: the repaired rates, in the original layer order (added layers last).
        kernel: kernel size.
        rf_before: RF per axis of the original.
        rf: RF per axis of the repair (``>= rf_before``).
        changes: the changed or added layers, each with its reason.
    """

    original: Ints
    rates: Ints
    kernel: int
    rf_before: int
    rf: int
    changes: tuple[Change, ...]

    @property
    def gridding_free(self) -> bool:
        """Always True for a proposed repair (the exact criterion)."""
        return is_gridding_free(self.rates, self.kernel)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "original": list(self.original),
            "rates": list(self.rates),
            "kernel": self.kernel,
            "rf_before": self.rf_before,
            "rf": self.rf,
            "gridding_free": self.gridding_free,
            "changes": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True)
class ParetoPoint:
    """The widest evenly covered window reachable with ``layers`` layers at a count level.

    Attributes:
        layers: number of layers.
        count: per-axis minimum count ``C`` (the ``ndim``-D minimum is ``C**ndim``).
        width: widest centred window per axis in which every pixel has ``>= count`` paths
            (for ``count == 1`` this is the largest gridding-free RF).
        rates: a schedule reaching it (rising order), or None when no window exists.
        rf: that schedule's full RF per axis.
        optimal: True when no other point has as few layers, as high a count and as wide a
            window, with one of them strictly better (the Pareto frontier).
    """

    layers: int
    count: int
    width: int
    rates: Ints | None
    rf: int
    optimal: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "layers": self.layers,
            "count": self.count,
            "width": self.width,
            "rates": None if self.rates is None else list(self.rates),
            "rf": self.rf,
            "optimal": self.optimal,
        }


@dataclass(frozen=True)
class ParetoFrontier:
    """RF against layers against uniformity for one kernel and max rate (:func:`pareto`).

    Attributes:
        kernel: kernel size.
        max_rate: largest rate allowed (None: only the criterion bounds the rates).
        ndim: axes the ``ndim``-D counts refer to.
        counts: the per-axis count levels tabulated.
        points: one :class:`ParetoPoint` per (layers, count level).
    """

    kernel: int
    max_rate: int | None
    ndim: int
    counts: Ints
    points: tuple[ParetoPoint, ...]

    def width(self, layers: int, count: int = 1) -> int:
        """The tabulated width for ``layers`` layers at per-axis count ``count``."""
        for p in self.points:
            if p.layers == layers and p.count == count:
                return p.width
        raise AtrousError(f"no point for layers={layers}, count={count} in this frontier")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "kernel": self.kernel,
            "max_rate": self.max_rate,
            "ndim": self.ndim,
            "counts": list(self.counts),
            "points": [p.to_dict() for p in self.points],
        }


# -- the search engine ------------------------------------------------------------------------
Mode = Literal["rf", "close", "uniform", "width"]


@dataclass
class _Query:
    kernel: int
    groups: int  # each distinct group rate appears ``groups`` times
    size: int  # rates per group (layers = size * groups)
    max_rate: int | None
    target: int | None  # window width per axis (None: the whole RF)
    count: int  # per-axis minimum count over the window (1: no constraint)
    mode: Mode
    top: int
    strict: bool  # rates within a group strictly rising (sawtooth)
    max_nodes: int


@dataclass(order=True)
class _Hit:
    key: tuple[int, ...]
    seq: int
    rates: Ints = field(compare=False)  # the group, sorted


def _greedy_sum(total: int, last: int, left: int, q: _Query) -> int | None:
    """Largest reachable final sum, or None when no ``left`` further rates can be placed.

    Each further rate ``a`` must satisfy ``a <= 1 + (K-1) * total`` (the criterion),
    ``a >= last`` (``> last`` in strict mode) and ``a <= max_rate``. In strict mode the ``j``-th
    of the ``left`` rates must also leave room for the strictly rising ones after it, so its
    ceiling is ``max_rate - (left - j)``. Taking every rate at its ceiling is feasible whenever
    any completion is (each ceiling is above the previous rate) and dominates every completion
    rate by rate, so this is the exact maximum (tested against exhaustive search).
    """
    c, g, cap = q.kernel - 1, q.groups, q.max_rate
    if q.strict and cap is not None and last + left > cap:
        return None  # no room for ``left`` strictly rising rates in (last, cap]
    for j in range(left):
        a = 1 + c * total
        if cap is not None:
            a = min(a, cap - (left - 1 - j) if q.strict else cap)
        if a < last + q.strict:
            return None
        total += g * a
        last = a
    return total


def _min_sum(total: int, last: int, left: int, q: _Query) -> int:
    step = 1 if q.strict else 0
    return total + q.groups * (left * last + step * left * (left + 1) // 2)


@functools.lru_cache(maxsize=256)
def _tap_weights(layers: int, kernel: int) -> tuple[int, ...]:
    """``N(w)``: tap choices of ``layers`` layers (tap ``0..K-1`` each) whose taps add up to w.

    >>> _tap_weights(2, 3)
    (1, 2, 3, 2, 1)
    """
    poly = [1]
    for _ in range(layers):
        out = [0] * (len(poly) + kernel - 1)
        for i, v in enumerate(poly):
            for t in range(kernel):
                out[i + t] += v
        poly = out
    return tuple(poly)


def _count_ceiling(prof: np.ndarray, low: int, layers: int, kernel: int, width: int) -> np.ndarray:
    """Upper bounds on the final counts at offsets ``0..width-1`` from the RF's left edge.

    ``prof`` is the profile of the rates chosen so far; ``layers`` more layers follow, each with
    a rate ``>= low``. The final count is ``q(x) = sum_u p(x - U_u)`` over the tap choices ``u``
    of the added layers, with ``U_u = sum_j u_j a_j >= |u| * low``. So ``q(x) <= p(x) +
    sum_{w >= 1} N(w) * max(p[: x - w * low + 1])``, whatever the added rates are. The bound
    is exact below ``low`` (no added tap reaches there) and tight near the edge.

    >>> _count_ceiling(np.array([1, 1, 1]), 2, 1, 3, 6).tolist()   # rates (1,), then >= 2
    [1, 1, 2, 1, 2, 2]
    >>> count_profile([1, 2]).tolist()[:6]                            # the real counts
    [1, 1, 2, 1, 2, 1]
    """
    n0 = len(prof)
    base = np.zeros(width, dtype=prof.dtype)
    base[: min(n0, width)] = prof[:width]
    out = base.copy()
    if width == 0:
        return out
    peak = np.maximum.accumulate(base)
    weights = _tap_weights(layers, kernel)
    for w in range(1, min(len(weights) - 1, (width - 1) // low) + 1):
        out[w * low :] += weights[w] * peak[: width - w * low]
    return out


def _tail_floor(prof: np.ndarray, stop: int) -> int:
    """Least mass of any final profile left of offset ``stop``: ``sum max(p(x), 1)``.

    Added layers never lower the count at an offset measured from the left edge (the all-zero
    tap keeps every old path), and a gridding-free profile has no zero.
    """
    n0 = len(prof)
    head = int(np.maximum(prof[: min(stop, n0)], 1).sum()) if stop > 0 else 0
    return head + max(0, stop - n0)


def _sliding_min(a: np.ndarray, w: int) -> np.ndarray:
    """``out[i] = min(a[i : i + w])`` (cut at the end), by doubling spans."""
    n = len(a)
    out = a.copy()
    span = 1
    while span * 2 <= w:
        out[: n - span] = np.minimum(out[: n - span], out[span:])
        span *= 2
    rest = w - span
    if rest > 0:
        res = out.copy()
        res[: n - rest] = np.minimum(out[: n - rest], out[rest:])
        return res
    return out


def _window_ceiling(
    prof: np.ndarray,
    low: int,
    layers: int,
    kernel: int,
    target: int,
    smin: int,
    smax: int,
    mass: int,
) -> tuple[np.ndarray, int]:
    """Upper bounds on the final window minimum, one per window start ``s`` in ``[smin, smax]``.

    A final RF ``L`` puts the centred ``target`` window at ``s = (L - target) // 2``. Its
    minimum is at most (a) the count ceiling (:func:`_count_ceiling`) at any offset of
    ``[s, s + target)``, and (b) the mass left for the window, ``(K**n - 2 * tail) // target``,
    with the tail mass left of ``s`` at least :func:`_tail_floor` (the right tail is as long).
    (a) grows with ``s`` and (b) shrinks. Starts ``s_end < s <= smax`` share one entry,
    bounded by (b) at ``s_end + 1``. Returns the bounds and ``s_end``.
    """
    s_end = min(smax, smin + target)
    xs = s_end + target
    ceil_ = _sliding_min(_count_ceiling(prof, low, layers, kernel, xs), target)[smin : s_end + 1]
    n0 = len(prof)
    ext = np.ones(s_end + 2, dtype=np.int64 if prof.dtype != object else object)
    head = min(n0, s_end + 2)
    ext[:head] = np.maximum(prof[:head], 1)
    cum = np.concatenate([np.zeros(1, dtype=ext.dtype), np.cumsum(ext)])
    room = (mass - 2 * cum[smin : s_end + 2]) // target
    per_s = np.minimum(ceil_, room[:-1])
    if s_end < smax:
        per_s = np.append(per_s, room[-1])
    return per_s, s_end


def _sliding_min_rows(a: np.ndarray, w: int) -> np.ndarray:
    """:func:`_sliding_min` along the last axis of a 2-D array."""
    n = a.shape[1]
    out = a.copy()
    span = 1
    while span * 2 <= w:
        out[:, : n - span] = np.minimum(out[:, : n - span], out[:, span:])
        span *= 2
    rest = w - span
    if rest > 0:
        res = out.copy()
        res[:, : n - rest] = np.minimum(out[:, : n - rest], out[:, rest:])
        return res
    return out


def _child_bounds(
    prof: np.ndarray,
    total: int,
    rates: np.ndarray,
    left: int,
    q: _Query,
    kk: tuple[int, ...] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The uniform-mode bound of every child at once (one group, rates not strictly rising).

    Row ``i`` is the child that adds rate ``rates[i]`` to the rates summing to ``total`` with
    profile ``prof``; ``left`` more rates follow it. Row by row this is exactly what the search's
    per-node bound computes (:func:`_greedy_sum`, :func:`_min_sum`, :func:`_window_ceiling`),
    evaluated as whole-array operations. Rows whose mass bound alone cannot beat the ranking's
    k-th key ``kk`` are marked infeasible early (the bound only tightens after that test).
    Returns ``(feasible, m_hi, lmin)``: the optimistic key of a feasible row is ``(-m_hi, lmin)``.
    """
    assert q.target is not None
    k, c, target, cap = q.kernel, q.kernel - 1, q.target, q.max_rate
    mass = k ** (q.size * q.groups)
    a_all = rates.astype(np.int64)
    m_all = len(a_all)
    feasible = np.zeros(m_all, dtype=bool)
    m_out = np.zeros(m_all, dtype=np.int64)
    l_out = np.zeros(m_all, dtype=np.int64)
    n0 = len(prof)
    tot = total + a_all
    # greedy completion (every further rate at its ceiling) and the smallest completion
    hi = tot.copy()
    for _ in range(left):
        step = 1 + c * hi
        if cap is not None:
            step = np.minimum(step, cap)
        hi = hi + step
    lmax = 1 + c * hi
    lmin = 1 + c * (tot + left * a_all)
    steps = -(-(target - 1 - c * tot) // c)
    lmin = np.where(lmin < target, 1 + c * (tot + steps), lmin)
    smin = (lmin - target) // 2
    # mass bound at the earliest window start: (mass - 2 * tail) // target, tail >= the
    # child's own counts left of smin (each at least 1)
    cum_p = np.concatenate([[0], np.cumsum(np.maximum(prof, 1))])
    tail = np.zeros(m_all, dtype=np.int64)
    for t in range(k):
        pos = smin - t * a_all
        tail += cum_p[np.minimum(np.maximum(pos, 0), n0)]
    over = smin - np.minimum(smin, n0 + c * a_all)  # offsets past the child's RF count 1 each
    tail_lo = np.maximum(tail, 0)
    room0 = (mass - 2 * (tail_lo + over)) // target
    keep = (lmax >= target) & (room0 >= q.count)
    if kk is not None:
        keep &= (room0 > -kk[0]) | ((room0 == -kk[0]) & (lmin < kk[1]))
    idx = np.flatnonzero(keep)
    if not len(idx):
        return feasible, m_out, l_out
    a, tot, lmax, lmin, smin = a_all[idx], tot[idx], lmax[idx], lmin[idx], smin[idx]
    m = len(a)
    smax = (lmax - target) // 2
    s_end = np.minimum(smax, smin + target)
    xs = s_end + target
    lengths = n0 + c * a
    width = int(max(int(xs.max()), int(s_end.max()) + 2)) + 1
    rows = np.arange(m)[:, None]
    cols = np.arange(width)[None, :]
    base = np.zeros((m, width + c * int(a.max()) + n0), dtype=np.int64)
    src = np.arange(n0)[None, :]
    for t in range(k):
        base[rows, t * a[:, None] + src] += prof
    base = base[:, :width]
    # count ceiling: base + sum_w N(w) * peak shifted by w * a (``left`` layers, rates >= a)
    # (peak padded with ``width`` zero columns in front, so shifted reads need no mask)
    peak = np.zeros((m, 2 * width), dtype=np.int64)
    np.maximum.accumulate(base, axis=1, out=peak[:, width:])
    ceil_ = base.copy()
    weights = _tap_weights(left, k)
    amin = int(a.min())
    for w in range(1, len(weights)):
        if w * amin >= width:
            break
        pos = (width + cols) - np.minimum(w * a, width)[:, None]
        ceil_ += weights[w] * peak[rows, pos]
    win = _sliding_min_rows(ceil_, target)
    ext = np.where(cols < lengths[:, None], np.maximum(base, 1), 1)
    cum = np.cumsum(ext, axis=1) - ext  # cum[:, s] = mass of offsets < s
    room = (mass - 2 * cum) // target
    per_s = np.minimum(win, room)
    inside = (cols >= smin[:, None]) & (cols <= s_end[:, None])
    extra = (cols == s_end[:, None] + 1) & (s_end < smax)[:, None]
    per_s = np.where(inside, per_s, np.where(extra, room, -(1 << 62)))
    m_hi = per_s.max(axis=1)
    first = per_s.argmax(axis=1)
    need = target + 2 * first
    lmin = np.maximum(lmin, 1 + c * (tot + -(-(need - 1 - c * tot) // c)))
    feasible[idx] = m_hi >= q.count
    m_out[idx] = m_hi
    l_out[idx] = lmin
    return feasible, m_out, l_out


def _search(q: _Query) -> list[_Hit]:
    """Top ``q.top`` sorted groups by the mode's key (smaller is better), exact."""
    k, c, g = q.kernel, q.kernel - 1, q.groups
    n_layers = q.size * g
    need_profile = q.mode in ("uniform", "width") or q.count > 1
    total_mass = k**n_layers
    dtype = _dtype(k, n_layers)
    target, cnt = q.target, q.count
    hits: list[_Hit] = []
    nodes = 0
    seq = 0
    cg = c * g
    big = 1 << 62
    # the uniform mode bounds all children of a node at once (int64 counts, one group)
    vector_ok = (
        q.mode == "uniform" and g == 1 and not q.strict and target is not None and dtype is np.int64
    )

    def kth() -> tuple[int, ...] | None:
        return hits[q.top - 1].key if len(hits) >= q.top else None

    def window_min(prof: np.ndarray) -> int:
        if target is None:
            return int(prof.min())
        s, e = _window(len(prof), target)
        return int(prof[s:e].min())

    def width_of(prof: np.ndarray) -> int:
        length = len(prof)
        bad = np.flatnonzero(prof[: (length + 1) // 2] < cnt)
        e = int(bad[-1]) + 1 if len(bad) else 0
        return max(length - 2 * e, 0)

    def leaf(
        group: Ints,
        total: int,
        prof: np.ndarray | None,
        m1: int | None = None,
        w: int | None = None,
    ) -> None:
        nonlocal seq
        length = 1 + c * total
        if target is not None and q.mode != "width" and length < target:
            return
        if w is not None:  # width mode, measured by the caller
            m1 = 1
        elif m1 is not None:
            if m1 < cnt:
                return
        elif prof is None:
            m1 = 1
        else:
            m1 = 1
            if q.mode == "width":
                w = width_of(prof)
                if w <= 0:
                    return
            else:
                m1 = window_min(prof)
                if m1 < cnt:
                    return
        if q.mode == "rf":
            key: tuple[int, ...] = (-length, -m1)
        elif q.mode == "close":
            key = (length, -m1)
        elif q.mode == "uniform":
            key = (-m1, length)
        else:
            assert w is not None  # width mode always measures a width above
            key = (-w, length)
        kk = kth()
        if kk is not None and key >= kk:
            return
        seq += 1
        bisect.insort(hits, _Hit(key, seq, group))
        del hits[q.top :]

    def bound(total: int, last: int, left: int, prof: np.ndarray | None) -> tuple[int, ...] | None:
        """An optimistic key for every completion, or None when none is feasible."""
        hi = _greedy_sum(total, last, left, q)
        if hi is None:
            return None
        lo = _min_sum(total, last, left, q)
        lmax = 1 + c * hi
        lmin = 1 + c * lo
        if target is not None and q.mode != "width":
            if lmax < target:
                return None
            if lmin < target:  # reachable sums form an interval (docs/design.md)
                steps = -(-(target - 1 - c * total) // cg)
                lmin = 1 + c * (total + g * steps)
        m_hi = big if prof is not None else 1  # without counts every leaf has m1 = 1
        w_hi = lmax
        if prof is not None:
            low = last + (1 if q.strict else 0)  # every further rate is >= low
            more = left * g  # layers still to add
            n0 = len(prof)
            if q.mode == "width":
                half = (lmin + 1) // 2  # offsets < half lie in the left half of every final RF
                xs = min(half, n0 + c * more * low + 1)
                ceil_ = _count_ceiling(prof, low, more, k, xs)
                bad = np.flatnonzero(ceil_ < cnt)
                e = int(bad[-1]) + 1 if len(bad) else 0
                if e == xs and xs < half:  # the ceiling is flat from here: bad up to the middle
                    e = half
                w_hi = min(lmax - 2 * e, (total_mass - 2 * _tail_floor(prof, e)) // cnt)
                if w_hi <= 0:
                    return None
            elif target is not None:
                smax = (lmax - target) // 2
                smin = (lmin - target) // 2
                per_s, s_end = _window_ceiling(prof, low, more, k, target, smin, smax, total_mass)
                ok = np.flatnonzero(per_s >= cnt)
                if not len(ok):
                    return None
                m_hi = int(per_s.max())
                if q.mode == "uniform":  # a completion with min m_hi has its s where that fits
                    need = target + 2 * (smin + int(np.flatnonzero(per_s >= m_hi)[0]))
                    lmin = max(lmin, 1 + c * (total + g * -(-(need - 1 - c * total) // cg)))
                elif q.mode == "close":  # the window may start no earlier than the first good s
                    need = target + 2 * (smin + int(ok[0]))
                    if need > lmin:
                        steps = -(-(need - 1 - c * total) // cg)
                        lmin = 1 + c * (total + g * steps)
                        if lmin > lmax:
                            return None
                elif q.mode == "rf" and smin + int(ok[-1]) <= s_end:
                    lmax = min(lmax, target + 2 * (smin + int(ok[-1])) + 1)
        if q.mode == "rf":
            return (-lmax, -m_hi)
        if q.mode == "close":
            return (lmin, -m_hi)
        if q.mode == "uniform":
            return (-m_hi, lmin)
        return (-w_hi, lmin)

    def last_layer(group: Ints, total: int, prof: np.ndarray, choices: range) -> None:
        """All choices of the last rate at once: window minima of every final profile."""
        nonlocal nodes
        nodes += 1 + len(choices) // 16  # vectorised rows are cheap
        rates = np.fromiter(choices, dtype=np.int64, count=len(choices))
        if len(rates) == 0:
            return
        n0 = len(prof)
        if q.mode == "width":
            last_layer_width(group, total, prof, rates)
            return
        assert target is not None
        lengths = n0 + c * rates
        ok = lengths >= target
        if not ok.any():
            return
        rates, lengths = rates[ok], lengths[ok]
        # exact tail mass left of each window: the final profile is sum_t prof(p - t*a)
        starts = (lengths - target) // 2
        cum = np.concatenate([np.zeros(1, dtype=prof.dtype), np.cumsum(prof)])
        tail = np.zeros(len(rates), dtype=prof.dtype)
        for t in range(k):
            tail += cum[np.minimum(np.maximum(starts - t * rates, 0), n0)]
        m_hi = (total_mass - 2 * tail) // target
        keep = m_hi >= cnt
        kk = kth()
        if kk is not None:
            if q.mode == "uniform":
                keep &= m_hi >= -kk[0]
            elif q.mode == "close":
                keep &= lengths <= kk[0]
            else:
                keep &= lengths >= -kk[0]
        if not keep.any():
            return
        rates, lengths, starts = rates[keep], lengths[keep], starts[keep]
        # exact counts at a few offsets of each window bound its minimum from above: cheap
        # rows that cannot enter the ranking go before the full profiles are built
        probe = starts[:, None] + np.arange(min(target, 8))[None, :]
        sample = np.zeros(probe.shape, dtype=prof.dtype)
        for t in range(k):
            pos = probe - t * rates[:, None]
            inside = (pos >= 0) & (pos < n0)
            sample += np.where(inside, prof[np.minimum(np.maximum(pos, 0), n0 - 1)], 0)
        m_up = sample.min(axis=1)
        keep = could_rank(m_up, lengths, kk)
        if not keep.any():
            return
        rates, lengths, starts = rates[keep], lengths[keep], starts[keep]
        width = int(lengths.max())
        mat = np.zeros((len(rates), width), dtype=prof.dtype)
        rows = np.arange(len(rates))[:, None]
        cols = np.arange(n0)[None, :]
        for t in range(k):
            mat[rows, t * rates[:, None] + cols] += prof
        mins = mat[rows, starts[:, None] + np.arange(target)[None, :]].min(axis=1)
        keep = could_rank(mins, lengths, kk)
        rates, mins = rates[keep], mins[keep]
        for a, m in zip(rates.tolist(), mins.tolist()):
            leaf((*group, a), total + a, None, int(m))

    def could_rank(mins: np.ndarray, lengths: np.ndarray, kk: tuple[int, ...] | None) -> Any:
        """Rows whose minimum count (exact or an upper bound) and length could enter the ranking
        as it stands (``kk``: the k-th key so far, None while it is not full)."""
        keep = mins >= cnt
        if kk is None:
            return keep
        if q.mode == "uniform":
            return keep & ((mins > -kk[0]) | ((mins == -kk[0]) & (lengths < kk[1])))
        if q.mode == "close":
            return keep & ((lengths < kk[0]) | ((lengths == kk[0]) & (mins > -kk[1])))
        return keep & ((lengths > -kk[0]) | ((lengths == -kk[0]) & (mins > -kk[1])))

    def last_layer_width(group: Ints, total: int, prof: np.ndarray, rates: np.ndarray) -> None:
        """Width mode, all last rates at once: the widest window with every count >= cnt."""
        n0 = len(prof)
        lengths = n0 + c * rates
        mass_cap = total_mass // cnt
        kk = kth()
        if kk is not None:  # (-width, length): no row can beat the k-th with width > length
            keep = np.minimum(lengths, mass_cap) >= -kk[0]
            rates, lengths = rates[keep], lengths[keep]
            if not len(rates):
                return
        width = int(lengths.max())
        mat = np.zeros((len(rates), width), dtype=prof.dtype)
        rows = np.arange(len(rates))[:, None]
        cols = np.arange(n0)[None, :]
        for t in range(k):
            mat[rows, t * rates[:, None] + cols] += prof
        halves = (lengths + 1) // 2
        bad = (mat[:, : (width + 1) // 2] < cnt) & (
            np.arange((width + 1) // 2)[None, :] < halves[:, None]
        )
        # e = 1 + the last bad offset of the left half (0 when none)
        rev = bad[:, ::-1]
        has = rev.any(axis=1)
        e = np.where(has, bad.shape[1] - rev.argmax(axis=1), 0)
        widths = np.maximum(lengths - 2 * e, 0)
        for a, w, length in zip(rates.tolist(), widths.tolist(), lengths.tolist()):
            if w <= 0:
                continue
            key = (-w, length)
            kk = kth()
            if kk is not None and key >= kk:
                continue
            leaf((*group, a), total + a, None, None, w)

    def dfs(
        group: Ints, total: int, last: int, prof: np.ndarray | None, bounded: bool = False
    ) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > q.max_nodes:
            raise TooLargeError(
                f"the search visited more than {q.max_nodes} partial schedules without "
                "finishing; narrow it (a smaller max_rate, fewer layers, a lower min_count, "
                "a smaller top: the most-uniform objective at 8 layers with rates up to 64 "
                "takes about a second with top=1, ten with top=10) or raise max_nodes"
            )
        left = q.size - len(group)
        if left == 0:
            leaf(group, total, prof)
            return
        if not bounded:  # (a parent that bounded all its children at once says so)
            b = bound(total, last, left, prof)
            if b is None:
                return
            kk = kth()
            if kk is not None and b >= kk:
                return
        lo = last + 1 if q.strict else last
        hi = 1 + c * total
        if q.max_rate is not None:
            # strict: leave room for the ``left - 1`` strictly rising rates after this one
            hi = min(hi, q.max_rate - (left - 1 if q.strict else 0))
        # the final sum after choosing ``a`` grows with ``a`` (greedy completion, fact 2), so
        # the useful children form a range found by bisection, never by stepping through it

        def best_after(a: int) -> int:
            s = _greedy_sum(total + g * a, a, left - 1, q)
            return -1 if s is None else 1 + c * s

        def first_reaching(length: int, a_lo: int, a_hi: int) -> int:
            """Smallest a in [a_lo, a_hi + 1] whose best completion reaches ``length``."""
            while a_lo <= a_hi:
                mid = (a_lo + a_hi) // 2
                if best_after(mid) >= length:
                    a_hi = mid - 1
                else:
                    a_lo = mid + 1
            return a_lo

        if target is not None and q.mode != "width":
            lo = first_reaching(target, lo, hi)
        if lo > hi:
            return
        choices = range(hi, lo - 1, -1) if q.mode in ("rf", "width") else range(lo, hi + 1)
        if left == 1 and prof is not None and g == 1 and (target is not None or q.mode == "width"):
            last_layer(group, total, prof, choices)
            return
        if vector_ok and left >= 2 and prof is not None:
            # bound every child at once; the bounds stay valid as the ranking improves
            rates = np.arange(lo, hi + 1, dtype=np.int64)
            feasible, m_hi, lmin = _child_bounds(prof, total, rates, left - 1, q, kth())
            nodes += len(rates) // 16
            for a, f, m, lm in zip(rates.tolist(), feasible.tolist(), m_hi.tolist(), lmin.tolist()):
                if not f:
                    continue
                kk = kth()
                if kk is not None and (-m, lm) >= kk:
                    continue
                dfs((*group, a), total + a, a, _add_layer(prof, a, k), True)
            return
        seen_kk: tuple[int, ...] | None = None
        cut = lo
        for a in choices:
            kk = kth()
            if kk is not None and q.mode in ("rf", "close"):
                if q.mode == "rf":
                    if kk != seen_kk:  # children below ``cut`` cannot reach the k-th RF
                        seen_kk, cut = kk, first_reaching(-kk[0], lo, hi)
                    if a < cut:
                        break
                elif 1 + c * _min_sum(total + g * a, a, left - 1, q) > kk[0]:
                    break  # every completion is longer than the k-th result
            child = None
            if prof is not None:
                child = prof
                for _ in range(g):
                    child = _add_layer(child, a, k)
            dfs((*group, a), total + g * a, a, child)

    # every gridding-free schedule contains a rate 1 (the smallest rate must be <= RF_0 = 1)
    start: np.ndarray | None = None
    if need_profile:
        start = np.ones(1, dtype=dtype)
        for _ in range(g):
            start = _add_layer(start, 1, k)
    if q.max_rate is None or q.max_rate >= 1:
        dfs((1,), g, 1, start)
    return hits


# -- design -----------------------------------------------------------------------------------
def _opt_int(value: Any, name: str, minimum: int) -> int | None:
    return None if value is None else as_int(value, name, minimum)


def _root(value: int, ndim: int) -> int:
    """Smallest per-axis count whose ``ndim``-th power is at least ``value``."""
    r = max(1, round(value ** (1.0 / ndim)))
    while r**ndim < value:
        r += 1
    while r > 1 and (r - 1) ** ndim >= value:
        r -= 1
    return r


def _groups_option(sawtooth: Any) -> int | None:
    """0: off; None: any repeat count >= 2; n: exactly n repeats."""
    if isinstance(sawtooth, bool):
        return None if sawtooth else 0
    if isinstance(sawtooth, numbers.Integral):
        g = as_int(sawtooth, "sawtooth", 1)
        return 0 if g == 1 else g
    raise AtrousError(f"sawtooth must be True/False or a repeat count >= 1, got {sawtooth!r}")


def _feature_sizes(feature_size: Any, ndim: int) -> Ints | None:
    if feature_size is None:
        return None
    if isinstance(feature_size, numbers.Integral) and not isinstance(feature_size, bool):
        return (as_int(feature_size, "feature_size", 1),) * ndim
    if isinstance(feature_size, Sequence) and not isinstance(feature_size, (str, bytes)):
        sizes = tuple(as_int(v, "feature_size", 1) for v in feature_size)
        if len(sizes) != ndim:
            raise AtrousError(
                f"feature_size must have one entry per axis (ndim={ndim}), got {feature_size!r}"
            )
        return sizes
    raise AtrousError(f"feature_size must be an int or one int per axis, got {feature_size!r}")


def _feature_cap(feature: Sequence[int], kernel: int) -> int:
    """Largest rate whose dilated kernel ``(K-1)*r + 1`` fits the smallest feature-map side."""
    return max(1, (min(feature) - 1) // (kernel - 1))


def _candidate(
    group: Ints,
    groups: int,
    kernel: int,
    ndim: int,
    window: int | None,
    channels: int | None,
    feature: Ints | None,
) -> Candidate:
    rates = tuple(group) * groups
    rf = 1 + (kernel - 1) * sum(rates)
    profile: np.ndarray | None = None
    lo = hi = None
    if rf <= PROFILE_MAX:
        profile = count_profile(rates, kernel)
        s, e = _window(rf, window if window is not None else rf)
        lo = int(profile[s:e].min()) ** ndim
        hi = int(profile[s:e].max()) ** ndim
    params = macs = None
    if channels is not None:
        params = len(rates) * kernel**ndim * channels * channels
        macs = params * (math.prod(feature) if feature is not None else 1)
    hdc = None
    if rf <= 1 << 16:
        from .rules import hdc_check

        hdc = hdc_check(rates, kernel)
    return Candidate(
        rates=rates,
        kernel=kernel,
        ndim=ndim,
        rf=rf,
        window=window if window is not None else rf,
        min_count=lo,
        max_count=hi,
        profile=None if profile is None else tuple(int(v) for v in profile),
        groups=groups,
        channels=channels,
        params=params,
        macs=macs,
        hdc=hdc,
    )


def design(
    kernel: int = 3,
    layers: int | None = None,
    target_rf: int | None = None,
    max_rate: int | None = None,
    *,
    objective: Objective | None = None,
    min_count: int = 1,
    first_rate_one: bool = False,
    sawtooth: bool | int = False,
    ndim: int = 2,
    channels: int | None = None,
    feature_size: int | Sequence[int] | None = None,
    top: int = 10,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> list[Candidate]:
    """Ranked gridding-free dilation schedules, found by exact search (no order enumeration).

    Args:
        kernel: kernel size ``K >= 2`` of every layer (square kernels in 2-D).
        layers: number of layers (``"rf"``, ``"uniform"``), or the most layers ``"layers"``
            may use.
        target_rf: receptive field per axis to reach; the counts are measured over the centred
            ``target_rf`` window.
        max_rate: largest dilation rate allowed. Defaults to the largest rate whose dilated
            kernel fits ``feature_size`` when that is given, else only the criterion bounds it.
        objective: ``"rf"`` (largest RF for ``layers`` layers), ``"layers"`` (fewest layers
            reaching ``target_rf``) or ``"uniform"`` (largest minimum count over the
            ``target_rf`` window with ``layers`` layers). Default: ``"rf"`` when only ``layers``
            is given, ``"layers"`` when only ``target_rf`` is, ``"uniform"`` for both.
        min_count: every pixel of the ``target_rf`` window must have at least this many paths
            (``ndim``-D count). Values above 1 need ``target_rf``: the corners of a full RF box
            are always reached by exactly one path.
        first_rate_one: HDC's "start at rate 1". Every gridding-free schedule contains a 1
            (its smallest rate must be ``<= RF_0 = 1``), so this never removes a candidate;
            candidates are always listed starting with 1.
        sawtooth: HDC's "sawtooth": a repeat count ``n >= 2`` asks for one strictly rising
            group repeated ``n`` times (``[1, 2, 5, 1, 2, 5]``); True allows any ``n >= 2``
            dividing the layer count; False (or 1) puts no constraint.
        ndim: spatial axes the counts and costs refer to (1, 2 or 3).
        channels: channel width for the parameter and MAC counts.
        feature_size: feature-map size (int or per axis): MACs per map, and the default
            ``max_rate``.
        top: how many candidates to return.
        max_nodes: give up with :class:`~atrous.errors.TooLargeError` after visiting this many
            partial schedules (the uniform objective on large spaces can need many).

    Returns:
        Up to ``top`` :class:`Candidate` objects, best first. With ``min_count > 1`` ties of
        the objective are broken by the larger minimum count over the window; then by the
        rates (rising order, smaller first; for ``"rf"`` larger first). Every one is
        gridding-free.

    Raises:
        AtrousError: a bad argument, or no schedule meets the constraints.
        TooLargeError: the search exceeded ``max_nodes``.

    The known optimum: ``K**N`` with rates ``1, K, K**2, ...``:

    >>> c = design(kernel=3, layers=4, top=1)[0]
    >>> c.rates, c.rf == 3**4
    ((1, 3, 9, 27), True)
    >>> [c.rates for c in design(kernel=3, layers=6, sawtooth=2, top=2)]
    [(1, 5, 25, 1, 5, 25), (1, 5, 24, 1, 5, 24)]
    >>> u = design(kernel=3, layers=5, target_rf=41, top=1)[0]
    >>> u.rates, u.min_count, u.window
    ((1, 1, 2, 5, 15), 25, 41)
    """
    k = _kernel(kernel)
    nd = as_int(ndim, "ndim", 1)
    if nd > 3:
        raise AtrousError(f"ndim must be 1, 2 or 3, got {nd}")
    n = _opt_int(layers, "layers", 1)
    t = _opt_int(target_rf, "target_rf", 1)
    ch = _opt_int(channels, "channels", 1)
    feature = _feature_sizes(feature_size, nd)
    cap = _opt_int(max_rate, "max_rate", 1)
    if cap is None and feature is not None:
        cap = _feature_cap(feature, k)
    top_n = as_int(top, "top", 1)
    budget = as_int(max_nodes, "max_nodes", 1)
    cnt = as_int(min_count, "min_count", 1)
    if not isinstance(first_rate_one, bool):
        raise AtrousError(f"first_rate_one must be True or False, got {first_rate_one!r}")
    reps = _groups_option(sawtooth)
    if n is not None and n > MAX_LAYERS:
        raise AtrousError(f"layers must be <= {MAX_LAYERS}, got {n}")
    if objective is None:
        if n is None and t is None:
            raise AtrousError(
                "design needs layers= (largest RF) or target_rf= (fewest layers), "
                "or both (most uniform)"
            )
        objective = "rf" if t is None else "layers" if n is None else "uniform"
    as_choice(objective, get_args(Objective), "objective")  # an array is no choice either
    if objective in ("rf", "uniform") and n is None:
        raise AtrousError(f"objective {objective!r} needs layers=N")
    if objective in ("layers", "uniform") and t is None:
        raise AtrousError(f"objective {objective!r} needs target_rf=")
    if cnt > 1 and t is None:
        raise AtrousError(
            f"min_count={cnt} needs target_rf: the corners of the full receptive "
            "field are reached by exactly one path"
        )
    per_axis = _root(cnt, nd)

    def run(size: int, g: int, mode: Mode) -> list[_Hit]:
        q = _Query(
            kernel=k,
            groups=g,
            size=size,
            max_rate=cap,
            target=t,
            count=per_axis,
            mode=mode,
            top=top_n,
            strict=g > 1,
            max_nodes=budget,
        )
        return _search(q)

    def repeat_counts(total: int) -> list[int]:
        if reps == 0:
            return [1]
        if reps is None:
            return [g for g in range(2, total + 1) if total % g == 0]
        if total % reps:
            return []
        return [reps]

    ranked: list[tuple[tuple[Any, ...], Ints, int]] = []

    def collect(total: int, mode: Mode, prefix: tuple[int, ...]) -> None:
        for g in repeat_counts(total):
            for h in run(total // g, g, mode):
                tie = tuple(-r for r in h.rates) if mode == "rf" else h.rates
                ranked.append(((*prefix, *h.key), tie, g))

    if objective == "layers":
        assert t is not None
        limit = n if n is not None else MAX_LAYERS
        for total in range(1, limit + 1):
            if ranked and len(ranked) >= top_n:
                break
            if reps is not None and reps and total % reps:
                continue
            collect(total, "close", (total,))
    else:
        assert n is not None
        if reps is not None and reps and n % reps:
            raise AtrousError(f"layers={n} is not a multiple of the sawtooth repeat {reps}")
        collect(n, "rf" if objective == "rf" else "uniform", ())

    ranked.sort(key=lambda item: (item[0], item[1]))
    seen: set[Ints] = set()
    out: list[Candidate] = []
    for _key, tie, g in ranked:
        group = tuple(-r for r in tie) if objective == "rf" else tie
        full = tuple(sorted(group * g))
        if full in seen:
            continue
        seen.add(full)
        out.append(_candidate(group, g, k, nd, t, ch, feature))
        if len(out) >= top_n:
            break
    if not out:
        raise AtrousError(_nothing_found(k, n, t, cap, cnt, objective, reps))
    return out


def _nothing_found(
    k: int,
    n: int | None,
    t: int | None,
    cap: int | None,
    cnt: int,
    objective: str,
    reps: int | None,
) -> str:
    parts = [f"kernel {k}"]
    if n is not None:
        parts.append(f"{'at most ' if objective == 'layers' else ''}{n} layers")
    if t is not None:
        parts.append(f"target RF {t}")
    if cap is not None:
        parts.append(f"max rate {cap}")
    if cnt > 1:
        parts.append(f"min count {cnt}")
    if reps is None or reps:
        parts.append("sawtooth groups")
    hint = ""
    if n is not None:
        best = _greedy_sum(1, 1, n - 1, _Query(k, 1, n, cap, None, 1, "rf", 1, False, 1))
        if best is not None:
            hint = f"; the largest gridding-free RF with {n} layers is {1 + (k - 1) * best}"
    return "no gridding-free schedule meets " + ", ".join(parts) + hint


# -- repair -----------------------------------------------------------------------------------
def _fill(kept: Ints, new: int, lo_sum: int, hi_sum: int, c: int, cap: int) -> list[Ints]:
    """All sorted multisets V of ``new`` rates with ``kept + V`` gridding-free and sum in range."""
    out: list[Ints] = []
    kept_suffix = [sum(kept[i:]) for i in range(len(kept) + 1)]

    def go(i: int, total: int, last: int, left: int, chosen: Ints) -> None:
        rest = kept_suffix[i]
        if total + rest + left * last > hi_sum:
            return
        vmax = min(cap, (1 + c * hi_sum) // (1 + c))
        if total + rest + left * vmax < lo_sum:
            return
        if i == len(kept) and left == 0:
            out.append(chosen)
            return
        # next element: a new value strictly below the next kept one, or the kept one
        if left:
            upper = min(cap, 1 + c * total)
            if i < len(kept):
                upper = min(upper, kept[i] - 1)
            for v in range(last, upper + 1):
                go(i, total + v, v, left - 1, (*chosen, v))
        if i < len(kept) and kept[i] <= 1 + c * total and kept[i] >= last:
            go(i + 1, total + kept[i], kept[i], left, chosen)

    go(0, 0, 1, new, ())
    return out


def _explain(
    original: Ints,
    repaired: Ints,
    kernel: int,
    index: int,
    old: int | None,
    new: int,
    rf_before: int,
    most: int,
) -> str:
    c = kernel - 1

    def below(rates: Sequence[int], value: int, skip: int) -> str:
        smaller = sorted(r for j, r in enumerate(rates) if j != skip and r < value)
        rf = 1 + c * sum(smaller)
        return f"RF {rf} of the smaller rates {smaller}" if smaller else "RF_0 = 1"

    words = []
    if old is not None:
        rf_o = 1 + c * sum(r for j, r in enumerate(original) if j != index and r < old)
        if old > rf_o:
            words.append(f"{old} > {below(original, old, index)}: holes")
    fits = f"<= {below(repaired, new, index)}"
    # kept rates that left holes before and fit now thanks to this smaller value
    now_fit = []
    for j, v in enumerate(original):
        if j >= len(repaired) or repaired[j] != v or j == index or new >= v:
            continue
        rf_o = 1 + c * sum(r for i, r in enumerate(original) if i != j and r < v)
        if v > rf_o:
            msg = f"now {v} fits ({v} <= {below(repaired, v, j)})"
            if msg not in now_fit:
                now_fit.append(msg)
    if old is None:
        words.append(
            f"added {new} ({fits}): {len(original)} layers reach at most RF {most} "
            f"without holes, below {rf_before}"
        )
    elif new < old:
        words.append(f"lowered to {new} ({fits})")
    elif now_fit:
        words.append(f"raised to {new} ({fits})")
    else:
        words.append(f"raised to {new} ({fits}) to keep the RF >= {rf_before}")
    words.extend(now_fit)
    return "; ".join(words)


def repair(
    rates: Sequence[int],
    kernel: int = 3,
    *,
    max_rate: int | None = None,
    top: int = 5,
    max_added: int = 4,
) -> list[Repair]:
    """The nearest gridding-free schedules to ``rates``: fewest changes, RF kept or grown.

    Layers stay in place; only the changed rates differ. Layers are added (last) only when the
    given number of layers cannot reach the RF without holes (their most is ``K**n``). Only
    the repairs with the fewest changes are returned, ranked by RF growth, then by the total
    change of the rates; of several layer orders of the same rates only the best is kept.

    Args:
        rates: the schedule to repair (input side first).
        kernel: kernel size ``K >= 2``.
        max_rate: largest rate a repair may use (default: no limit but the criterion).
        top: how many repairs to return.
        max_added: most layers a repair may add.

    Returns:
        Up to ``top`` :class:`Repair` objects; a single one with no changes when ``rates`` is
        already gridding-free.

    >>> r = repair([2, 2, 2])[0]
    >>> r.rates, r.rf_before, r.rf, [(c.old, c.new) for c in r.changes]
    ((1, 2, 3), 13, 13, [(2, 1), (2, 3)])
    >>> repair([1, 2, 9])[0].rates      # one change; the RF grows from 25 to 27
    (1, 3, 9)
    """
    orig = _rates(rates)
    k = _kernel(kernel)
    c = k - 1
    cap_in = _opt_int(max_rate, "max_rate", 1)
    top_n = as_int(top, "top", 1)
    extra_max = as_int(max_added, "max_added", 0)
    s0 = sum(orig)
    rf0 = 1 + c * s0
    if is_gridding_free(orig, k):
        return [Repair(orig, orig, k, rf0, rf0, ())]
    n = len(orig)
    same = _greedy_sum(1, 1, n - 1, _Query(k, 1, n, cap_in, None, 1, "rf", 1, False, 1))
    most = 1 + c * (same if same is not None else 0)  # largest gap-free RF with n layers
    found: list[tuple[tuple[int, ...], Ints, Ints]] = []
    for added in range(0, extra_max + 1):
        total_layers = n + added
        best = _greedy_sum(
            1, 1, total_layers - 1, _Query(k, 1, total_layers, cap_in, None, 1, "rf", 1, False, 1)
        )
        if best is None or best < s0:
            continue  # too few layers to reach the RF without holes
        cap = cap_in if cap_in is not None else 1 + c * (s0 + best)
        for k_changed in range(0 if added else 1, n + 1):
            growth = 0
            while True:
                hits = _repair_level(orig, k_changed, added, s0, s0 + growth, c, cap)
                if len(hits) >= top_n or s0 + growth >= best:
                    break
                growth = max(1, 2 * growth)
            for positions, new_rates in hits:
                fixed = list(orig) + [0] * added
                for pos, v in zip(positions, new_rates):
                    fixed[pos] = v
                repaired = tuple(fixed)
                delta = sum(abs(fixed[p] - orig[p]) for p in positions if p < n)
                rising = 0 if list(repaired) == sorted(repaired) else 1
                key = (
                    added,
                    k_changed,
                    sum(repaired) - s0,
                    delta,
                    max(repaired),
                    rising,
                    *positions,
                )
                found.append((key, repaired, positions))
            if found:
                break
        if found:
            break
    if not found:
        raise AtrousError(_no_repair(orig, k, cap_in, extra_max, s0))
    found.sort(key=lambda item: (item[0], item[1]))
    out: list[Repair] = []
    seen: set[Ints] = set()
    for _key, repaired, positions in found:
        if tuple(sorted(repaired)) in seen:
            continue  # the same multiset in another layer order has the same coverage
        seen.add(tuple(sorted(repaired)))
        rf = 1 + c * sum(repaired)
        ch = []
        for p in positions:
            old = orig[p] if p < n else None
            ch.append(
                Change(
                    p, old, repaired[p], _explain(orig, repaired, k, p, old, repaired[p], rf0, most)
                )
            )
        out.append(Repair(orig, repaired, k, rf0, rf, tuple(ch)))
        if len(out) >= top_n:
            break
    return out


def _no_repair(orig: Ints, k: int, cap: int | None, extra_max: int, s0: int) -> str:
    """Why no repair exists: how many layers the RF needs at the least, and what to do."""
    n, rf0 = len(orig), 1 + (k - 1) * s0
    capped = "" if cap is None else f" and rates <= {cap}"
    need = None
    for layers in range(n + extra_max + 1, MAX_LAYERS + 1):
        q = _Query(k, 1, layers, cap, None, 1, "rf", 1, False, 1)
        best = _greedy_sum(1, 1, layers - 1, q)
        if best is not None and best >= s0:
            need = layers
            break
    head = f"cannot repair {list(orig)} (RF {rf0}) by adding at most {extra_max} layers: "
    if need is None:
        return head + (
            f"no gap-free stack of up to {MAX_LAYERS} layers with kernel {k}{capped} reaches "
            "that RF; allow larger rates"
        )
    return head + (
        f"a gap-free RF >= {rf0} with kernel {k}{capped} needs {need} layers; raise max_added, "
        f"or search directly: atrous design --kernel {k} --target-rf {rf0}"
    )


def _repair_level(
    orig: Ints, k_changed: int, added: int, lo: int, hi: int, c: int, cap: int
) -> list[tuple[tuple[int, ...], Ints]]:
    n = len(orig)
    hits: list[tuple[tuple[int, ...], Ints]] = []
    for positions in itertools.combinations(range(n), k_changed):
        kept = tuple(sorted(orig[i] for i in range(n) if i not in positions))
        olds = sorted(positions, key=lambda p: (orig[p], p))
        for values in _fill(kept, k_changed + added, lo, hi, c, cap):
            # which new values replace old ones (rank to rank) and which go to added layers:
            # the split with the least total change
            best: tuple[int, Ints, Ints] | None = None
            for pick in itertools.combinations(range(len(values)), k_changed):
                changed = [values[i] for i in pick]
                cost = sum(abs(v - orig[p]) for v, p in zip(changed, olds))
                if best is None or cost < best[0]:
                    extra = tuple(values[i] for i in range(len(values)) if i not in pick)
                    best = (cost, tuple(changed), extra)
            assert best is not None
            assign = dict(zip(olds, best[1]))
            pos = tuple(sorted(assign)) + tuple(range(n, n + added))
            new = tuple(assign[p] for p in sorted(assign)) + best[2]
            hits.append((pos, new))
    return hits


# -- pareto -----------------------------------------------------------------------------------
def pareto(
    kernel: int = 3,
    max_rate: int | None = 16,
    max_layers: int = 6,
    *,
    counts: Sequence[int] = (1, 2, 3, 4),
    ndim: int = 2,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> ParetoFrontier:
    """RF against layers against uniformity: the widest evenly covered window per layer count.

    For every number of layers ``1..max_layers`` and every per-axis count level ``C`` in
    ``counts``, the exact widest centred window (per axis) in which every pixel has at least
    ``C`` paths, over all gridding-free schedules with rates ``<= max_rate``. ``C = 1`` is the
    largest gridding-free RF.

    Args:
        kernel: kernel size ``K >= 2``.
        max_rate: largest rate (None: only the criterion bounds the rates).
        max_layers: most layers tabulated.
        counts: per-axis count levels (the ``ndim``-D minimum is ``C**ndim``).
        ndim: axes the counts refer to (reported only).
        max_nodes: search budget per point.

    >>> f = pareto(kernel=3, max_rate=16, max_layers=3, counts=(1, 2))
    >>> [(p.layers, p.count, p.width) for p in f.points]
    [(1, 1, 3), (1, 2, 0), (2, 1, 9), (2, 2, 3), (3, 1, 27), (3, 2, 11)]
    """
    k = _kernel(kernel)
    cap = _opt_int(max_rate, "max_rate", 1)
    top_layers = as_int(max_layers, "max_layers", 1)
    if top_layers > MAX_LAYERS:
        raise AtrousError(f"max_layers must be <= {MAX_LAYERS}, got {top_layers}")
    nd = as_int(ndim, "ndim", 1)
    if nd > 3:
        raise AtrousError(f"ndim must be 1, 2 or 3, got {nd}")
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Sequence) or not counts:
        raise AtrousError(f"counts must be a non-empty sequence of ints, got {counts!r}")
    levels = tuple(sorted({as_int(v, "count", 1) for v in counts}))
    budget = as_int(max_nodes, "max_nodes", 1)
    raw: list[tuple[int, int, int, Ints | None, int]] = []
    for n in range(1, top_layers + 1):
        for level in levels:
            q = _Query(
                kernel=k,
                groups=1,
                size=n,
                max_rate=cap,
                target=None,
                count=level,
                mode="width",
                top=1,
                strict=False,
                max_nodes=budget,
            )
            hits = _search(q)
            if hits:
                group = hits[0].rates
                raw.append((n, level, -hits[0].key[0], group, 1 + (k - 1) * sum(group)))
            else:
                raw.append((n, level, 0, None, 0))
    points = []
    for n, level, width, rates, rf in raw:
        dominated = width == 0 or any(
            (n2 <= n and c2 >= level and w2 >= width) and (n2, c2, w2) != (n, level, width)
            for n2, c2, w2, _, _ in raw
        )
        points.append(ParetoPoint(n, level, width, rates, rf, not dominated))
    return ParetoFrontier(k, cap, nd, levels, tuple(points))
