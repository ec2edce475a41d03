"""The exact branch-and-bound search behind :mod:`atrous._design` (private).

The search walks sorted groups of rates (a schedule is a multiset: fact 1 of
``docs/design.md``), prunes with the criterion (fact 2) and with bounds that each hold for
every completion of a partial schedule. Every bound is a plain function (or a method of
:class:`_Search` that reads only its arguments and the query), so each is tested alone against
exhaustive enumeration on small spaces (``tests/test_design_search.py``).
"""

from __future__ import annotations

import bisect
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ._types import Ints, as_int
from .errors import AtrousError, TooLargeError
from .rules import _rates

PROGRESS_EVERY = 0.5
"""Seconds between two progress reports of a long search."""
MAX_LAYERS = 64
"""Most layers a search considers."""
SCHEMA_VERSION = 1
"""Version of the JSON records (``to_json()``: an object with ``schema_version`` and ``kind``)."""
SPACE_PER_NODE = 250
"""The most-uniform and Pareto searches are refused up front when their space holds more than
this many gridding-free rate multisets per node of the ``max_nodes`` budget (100 million at the
default budget of 400,000; :func:`_space`)."""
SPACE_RATE_CAP = 256
"""Rates counted by :func:`_space` (larger ones only add to a space already counted)."""


# -- the criterion ----------------------------------------------------------------------------
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


def _opt_int(value: Any, name: str, minimum: int) -> int | None:
    return None if value is None else as_int(value, name, minimum)


# -- the size of a search space ---------------------------------------------------------------
def _space(
    kernel: int, size: int, groups: int, max_rate: int | None, strict: bool, limit: float
) -> float:
    """How many sorted gridding-free groups of ``size`` rates the search space holds.

    Rates are at most ``max_rate`` (and at most :data:`SPACE_RATE_CAP`, so the count is a lower
    bound when larger rates are allowed); each rate counts ``groups`` times in the criterion's
    sums; ``strict``: strictly rising. A dynamic program over (largest rate, sum). Counting
    stops once more than ``limit`` partial groups of one length exist (the search may have to
    visit each of them) and that count is returned.

    >>> _space(3, 3, 1, None, False, 1e9)   # 1,1,1..5  1,2,2..7  1,3,3..9
    18.0
    >>> _space(3, 8, 1, 64, False, 1e12)    # the README's most-uniform example
    79433065.0
    """
    c = kernel - 1
    cap = SPACE_RATE_CAP if max_rate is None else min(max_rate, SPACE_RATE_CAP)
    if cap < 1:
        return 0.0
    cnt = np.zeros((cap + 1, groups + 1))  # cnt[a, s]: partial groups, largest rate a, sum s
    cnt[1, groups] = 1.0  # every gridding-free schedule contains a 1
    for _ in range(1, size):
        if cnt.sum() > limit:
            break
        n_s = cnt.shape[1]
        below = np.cumsum(cnt, axis=0)  # below[a, s]: partial groups with largest rate <= a
        if strict:
            below = np.vstack([np.zeros((1, n_s)), below[:-1]])
        new = np.zeros((cap + 1, n_s + groups * cap))
        for a in range(1, cap + 1):
            s0 = -(-(a - 1) // c)  # the criterion: a <= 1 + c * s
            if s0 < n_s:
                new[a, s0 + groups * a : n_s + groups * a] = below[a, s0:]
        cnt = new[:, : int(np.flatnonzero(new.any(axis=0))[-1]) + 1] if new.any() else new
    return float(cnt.sum())


def _refuse_space(space: float, max_nodes: int, what: str, knobs: str) -> None:
    """:class:`TooLargeError` up front when ``space`` multisets exceed the budget's share."""
    allowed = SPACE_PER_NODE * max_nodes
    if space > allowed:
        raise TooLargeError(
            f"{what} spans {space:.3g} or more gridding-free rate multisets, more than "
            f"the budget allows ({SPACE_PER_NODE} per node of max_nodes={max_nodes}: "
            f"{allowed:.3g}); narrow it ({knobs}) or raise max_nodes (--max-nodes)"
        )


# -- profiles ---------------------------------------------------------------------------------
def _dtype(kernel: int, layers: int) -> Any:
    return np.int64 if kernel**layers < 2**62 else object


def _add_layer(profile: np.ndarray, rate: int, kernel: int) -> np.ndarray:
    out = np.zeros(len(profile) + (kernel - 1) * rate, dtype=profile.dtype)
    n = len(profile)
    for t in range(kernel):
        out[t * rate : t * rate + n] += profile
    return out


def _window(length: int, width: int) -> tuple[int, int]:
    """Start and stop of the centred ``width`` window of a ``length`` profile."""
    s = (length - width) // 2
    return s, s + width


def _ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for ints (``b > 0``)."""
    return -(-a // b)


def _shifted_sums(prof: np.ndarray, rates: np.ndarray, kernel: int, width: int) -> np.ndarray:
    """Row ``i``: the profile after one more layer of rate ``rates[i]``, cut to ``width``.

    ``row[x] = sum_t prof[x - t * rates[i]]`` (zero outside ``prof``). Each shifted copy is a
    whole-row read of one padded array, so no per-element index is built.

    >>> _shifted_sums(np.array([1, 1, 1]), np.array([1, 3]), 3, 7).tolist()
    [[1, 2, 3, 2, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]]
    """
    n0 = len(prof)
    padded = np.zeros(2 * width + n0, dtype=prof.dtype)
    padded[width : width + n0] = prof
    step = padded.strides[0]  # view[o] = padded[o : o + width] (a read-only strided view)
    view = np.ndarray((width + n0 + 1, width), padded.dtype, padded, 0, (step, step))
    out = np.zeros((len(rates), width), dtype=prof.dtype)
    for t in range(kernel):
        out += view[np.maximum(width - t * rates, 0)]
    return out


def _window_min(prof: np.ndarray, target: int | None) -> int:
    """Fewest paths over the centred ``target`` window (the whole profile when None)."""
    if target is None:
        return int(prof.min())
    s, e = _window(len(prof), target)
    return int(prof[s:e].min())


def _width_of(prof: np.ndarray, count: int) -> int:
    """Widest centred window of a (symmetric) profile with every count ``>= count``."""
    length = len(prof)
    bad = np.flatnonzero(prof[: (length + 1) // 2] < count)
    e = int(bad[-1]) + 1 if len(bad) else 0
    return max(length - 2 * e, 0)


# -- the query and its bounds ----------------------------------------------------------------
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


def _most_sum(kernel: int, layers: int, max_rate: int | None) -> int | None:
    """Largest sum of ``layers`` gridding-free rates ``<= max_rate`` (the greedy ``1, K, ..``).

    >>> _most_sum(3, 4, None), _most_sum(3, 4, 5)
    (40, 14)
    """
    q = _Query(kernel, 1, layers, max_rate, None, 1, "rf", 1, False, 1)
    return _greedy_sum(1, 1, layers - 1, q)


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
    >>> _add_layer(np.array([1, 1, 1]), 2, 3).tolist()[:6]           # the real counts
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


def _children_matrix(
    profs: Sequence[np.ndarray], rates: Sequence[np.ndarray], kernel: int, width: int
) -> np.ndarray:
    """Row per child (parent ``j``'s profile with one more layer of each rate of ``rates[j]``,
    rows ordered by ``j``), cut to ``width`` columns (:func:`_shifted_sums` of each parent).

    >>> _children_matrix([np.array([1, 1, 1]), np.array([1])], [np.array([1, 3]), np.array([2])],
    ...                  3, 7).tolist()
    [[1, 2, 3, 2, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0, 0]]
    """
    return np.concatenate(
        [
            _shifted_sums(p.astype(np.int64, copy=False), r, kernel, width)
            for p, r in zip(profs, rates)
        ]
    )


def _child_lengths(
    profs: Sequence[np.ndarray],
    totals: Sequence[int],
    rates: Sequence[np.ndarray],
    left: int,
    q: _Query,
) -> tuple[np.ndarray, ...]:
    """Per child (rate ``rates[j][r]`` added to parent ``j``, of profile ``profs[j]`` and
    rates summing to ``totals[j]``): its sum, the longest and shortest final RF, the earliest
    window start, the mass bound there, ``(mass - 2 * tail) // target``, with the tail at least
    the child's own counts left of the start (each at least 1), and its parent's length."""
    assert q.target is not None
    k, c, target, cap = q.kernel, q.kernel - 1, q.target, q.max_rate
    a = np.concatenate(rates).astype(np.int64, copy=False)
    par = np.repeat(np.arange(len(rates)), [len(r) for r in rates])
    lens = np.array([len(p) for p in profs], dtype=np.int64)
    n0 = lens[par]
    tot = np.array(totals, dtype=np.int64)[par] + a
    # greedy completion (every further rate at its ceiling) and the smallest completion
    hi = tot.copy()
    for _ in range(left):
        step = 1 + c * hi
        if cap is not None:
            step = np.minimum(step, cap)
        hi = hi + step
    lmax = 1 + c * hi
    lmin = 1 + c * (tot + left * a)
    steps = -(-(target - 1 - c * tot) // c)
    lmin = np.where(lmin < target, 1 + c * (tot + steps), lmin)
    smin = (lmin - target) // 2
    span = int(lens.max()) + 1  # cum_p[j, y]: parent j's mass (each count >= 1) left of y
    cum_p = np.zeros((len(profs), span), dtype=np.int64)
    for j, p in enumerate(profs):
        np.cumsum(np.maximum(p, 1), out=cum_p[j, 1 : len(p) + 1])
    tail = np.zeros(len(a), dtype=np.int64)
    for t in range(k):
        tail += cum_p.ravel().take(par * span + np.minimum(np.maximum(smin - t * a, 0), n0))
    over = smin - np.minimum(smin, n0 + c * a)  # offsets past the child's RF count 1 each
    room0 = (k ** (q.size * q.groups) - 2 * (np.maximum(tail, 0) + over)) // target
    return a, tot, lmax, lmin, smin, room0, n0


def _start_bounds(
    base: np.ndarray,
    n1: np.ndarray,
    a: np.ndarray,
    left: int,
    q: _Query,
    smin: np.ndarray,
    s_end: np.ndarray,
    smax: np.ndarray,
    sliding: bool,
) -> np.ndarray:
    """Row ``i``, column ``s``: a bound on the final window minimum if the window starts at
    ``s`` (child ``base[i]`` of length ``n1[i]``, last rate ``a[i]``, ``left`` more rates
    ``>= a[i]``); ``-2**62`` outside the starts the row can reach. ``sliding``: the count
    ceiling's minimum over the window (columns up to ``s + target`` needed); else the ceiling
    at the window's first offset (columns up to ``s``). Either way also at most the mass left
    for the window (:func:`_window_ceiling`)."""
    assert q.target is not None
    k, target = q.kernel, q.target
    m, width = base.shape
    cols = np.arange(width)[None, :]
    # count ceiling: base + sum_w N(w) * peak shifted by w * a (``left`` layers, rates >= a)
    # (peak padded with ``width`` zero columns in front, so shifted reads need no mask; the
    # shifted rows are read from the flat array)
    peak = np.zeros((m, 2 * width), dtype=np.int64)
    np.maximum.accumulate(base, axis=1, out=peak[:, width:])
    flat = peak.ravel()
    row_start = (np.arange(m) * (2 * width) + width)[:, None] + cols
    ceil_ = base.copy()
    weights = _tap_weights(left, k)
    amin = int(a.min())
    for w in range(1, len(weights)):
        if w * amin >= width:
            break
        ceil_ += weights[w] * flat.take(row_start - np.minimum(w * a, width)[:, None])
    win = _sliding_min_rows(ceil_, target) if sliding else ceil_
    ext = np.where(cols < n1[:, None], np.maximum(base, 1), 1)
    cum = np.cumsum(ext, axis=1) - ext  # cum[:, s] = mass of offsets < s
    room = (k ** (q.size * q.groups) - 2 * cum) // target
    inside = (cols >= smin[:, None]) & (cols <= s_end[:, None])
    extra = (cols == s_end[:, None] + 1) & (s_end < smax)[:, None]
    return np.where(inside, np.minimum(win, room), np.where(extra, room, -(1 << 62)))


def _last_starts(
    profs: Sequence[np.ndarray],
    rates: Sequence[np.ndarray],
    idx: np.ndarray,
    smin: np.ndarray,
    smax: np.ndarray,
    limit: int,
    kernel: int,
) -> np.ndarray:
    """Per child ``idx`` (rows of ``rates``, ordered by parent): the last start ``s`` in
    ``[smin, smax]`` at which the child's own mass left of ``s``, ``sum_t cum(s - t*a)`` of its
    parent, is at most ``limit`` (``smin`` when none is); the mass left of a later window start
    only grows, so no later start leaves the window ``limit`` or more."""
    lens = np.array([len(p) for p in profs], dtype=np.int64)
    span = int(lens.max()) + 1
    counts = np.zeros((len(profs), span), dtype=np.int64)
    for j, p in enumerate(profs):
        counts[j, : len(p)] = p
    cum = np.zeros((len(profs), span), dtype=np.int64)  # (constant past each parent's end)
    np.cumsum(counts[:, :-1], axis=1, out=cum[:, 1:])
    flat = cum.ravel()
    par = np.repeat(np.arange(len(rates)), [len(r) for r in rates])[idx]
    a = np.concatenate(rates).astype(np.int64, copy=False)[idx]
    base = par * span
    lo, hi = smin.copy(), smax.copy()
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi + 1) // 2
        mass = np.zeros(len(mid), dtype=np.int64)
        for t in range(kernel):
            mass += flat.take(base + np.minimum(np.maximum(mid - t * a, 0), span - 1))
        ok = mass <= limit
        lo = np.where(open_ & ok, mid, lo)
        hi = np.where(open_ & ~ok, mid - 1, hi)


def _child_bounds(
    profs: Sequence[np.ndarray],
    totals: Sequence[int],
    rates: Sequence[np.ndarray],
    left: int,
    q: _Query,
    kk: tuple[int, ...] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The uniform-mode bound of every child at once (one group, rates not strictly rising).

    The children of several parents: row ``i`` is the child that adds rate ``rates[j][r]`` to
    parent ``j``'s rates, summing to ``totals[j]`` with profile ``profs[j]`` (rows ordered by
    ``j``, then ``r``); ``left`` more rates follow it. Row by row this is exactly what the
    search's per-node bound computes (:func:`_greedy_sum`, :func:`_min_sum`,
    :func:`_window_ceiling`), evaluated as whole-array operations. Rows whose mass bound alone,
    or then the count ceiling at each window's first offset (:func:`_start_bounds`, a few
    columns), cannot beat the ranking's k-th key ``kk`` are marked infeasible early (the bound
    only tightens after them). Returns ``(feasible, m_hi, lmin)``: the optimistic key of a
    feasible row is ``(-m_hi, lmin)``.
    """
    assert q.target is not None
    c, target = q.kernel - 1, q.target
    a_all, tot, lmax, lmin, smin, room0, n0 = _child_lengths(profs, totals, rates, left, q)
    m_all = len(a_all)
    feasible = np.zeros(m_all, dtype=bool)
    m_out = np.zeros(m_all, dtype=np.int64)
    l_out = np.zeros(m_all, dtype=np.int64)
    keep = (lmax >= target) & (room0 >= q.count)
    if kk is not None:
        keep &= (room0 > -kk[0]) | ((room0 == -kk[0]) & (lmin < kk[1]))
    idx = np.flatnonzero(keep)
    if not len(idx):
        return feasible, m_out, l_out
    a, tot, lmax, lmin, smin = a_all[idx], tot[idx], lmax[idx], lmin[idx], smin[idx]
    n1 = n0[idx] + c * a
    smax = (lmax - target) // 2
    s_end = np.minimum(smax, smin + target)
    # starts past s_end share one bound, the mass bound just after it (it only falls later):
    # no start past the last one within the mass limit can reach ``need``
    need = q.count if kk is None else max(q.count, -kk[0])
    limit = (q.kernel ** (q.size * q.groups) - target * need) // 2
    s_end = _last_starts(profs, rates, idx, smin, s_end, limit, q.kernel)
    width = int(max(int((s_end + target).max()), int(s_end.max()) + 2)) + 1
    # the children left, parent by parent (rows are ordered by parent)
    cuts = np.cumsum([len(r) for r in rates])[:-1]
    kept = [(p, r[k_]) for p, r, k_ in zip(profs, rates, np.split(keep, cuts)) if k_.any()]
    base = _children_matrix([p for p, _ in kept], [r for _, r in kept], q.kernel, width)
    if kk is not None:
        # a cheap first pass: the ceiling at a window's first offset bounds its minimum too,
        # and needs only the columns up to the last start (a few, against ~2 * target)
        narrow = int(s_end.max()) + 3
        per_s = _start_bounds(base[:, :narrow], n1, a, left, q, smin, s_end, smax, False)
        m_n = per_s.max(axis=1)
        ok = (m_n > -kk[0]) | ((m_n == -kk[0]) & (lmin < kk[1]))
        rows = (idx, a, tot, lmin, smin, smax, s_end, n1, base)
        idx, a, tot, lmin, smin, smax, s_end, n1, base = (v[ok] for v in rows)
        if not len(idx):
            return feasible, m_out, l_out
    width = int(max(int((s_end + target).max()), int(s_end.max()) + 2)) + 1
    per_s = _start_bounds(base[:, :width], n1, a, left, q, smin, s_end, smax, True)
    m_hi = per_s.max(axis=1)
    first = per_s.argmax(axis=1)
    need = target + 2 * first
    lmin = np.maximum(lmin, 1 + c * (tot + -(-(need - 1 - c * tot) // c)))
    feasible[idx] = m_hi >= q.count
    m_out[idx] = m_hi
    l_out[idx] = lmin
    return feasible, m_out, l_out


PROBES = 8
Bounds = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(feasible, m_hi, lmin)`` per child: the uniform mode's optimistic key is ``(-m_hi, lmin)``."""
Known = tuple[tuple[int, int], Bounds, "dict[int, tuple[np.ndarray, Any]] | None"]
"""A node's child rates ``lo..hi``, their :data:`Bounds`, and (or None) per child rate that
could rank then, the child's profile and its own ``Known``: computed by an ancestor."""
"""Window offsets (from its start) at which :func:`_pair_bounds` reads the exact counts."""


class _Parents:
    """Parent profiles padded into one matrix, read by the pair bounds: counts (zero past each
    parent's end, and a zero last column) and the mass left of each offset (full past the end).
    Row ``par[i]`` is the parent of child ``i``."""

    def __init__(self, profs: Sequence[np.ndarray], rates: Sequence[np.ndarray]) -> None:
        self.lens = np.array([len(p) for p in profs], dtype=np.int64)
        self.span = int(self.lens.max()) + 1
        counts = np.zeros((len(profs), self.span), dtype=np.int64)
        for j, p in enumerate(profs):
            counts[j, : len(p)] = p
        self.cum = np.zeros((len(profs), self.span), dtype=np.int64)
        np.cumsum(counts[:, :-1], axis=1, out=self.cum[:, 1:])  # (stays full past the end)
        self.counts_flat, self.cum_flat = counts.ravel(), self.cum.ravel()
        self.par = np.repeat(np.arange(len(rates)), [len(r) for r in rates])

    def left_mass(self, base: np.ndarray, a: np.ndarray, at: np.ndarray, k: int) -> np.ndarray:
        """The mass left of ``at`` of the children adding rate ``a`` (parent rows at ``base``
        of the flat matrix): ``sum_t cum(at - t * a)``."""
        out = np.zeros(at.shape, dtype=np.int64)
        for t in range(k):
            pos = np.minimum(np.maximum(at - t * a, 0), self.span - 1)
            out += self.cum_flat.take(base + pos)
        return out

    def last_start(self, a: np.ndarray, n1: np.ndarray, limit: int, k: int) -> np.ndarray:
        """Per child, the last start whose own mass left of it is within ``limit``, by
        bisection (``2**40``: the whole child is within it)."""
        s_par = (self.cum <= limit).sum(axis=1) - 1  # the parent's mass is below the child's
        s_par = np.where(s_par >= self.span - 1, 1 << 40, s_par)
        base = self.par * self.span
        lo, hi = np.zeros(len(a), dtype=np.int64), np.minimum(n1, s_par[self.par])
        while True:
            open_ = lo < hi
            if not open_.any():
                break
            mid = (lo + hi + 1) // 2
            ok = self.left_mass(base, a, mid, k) <= limit
            lo = np.where(open_ & ok, mid, lo)
            hi = np.where(open_ & ~ok, mid - 1, hi)
        return np.where(lo >= n1, 1 << 40, lo)

    def window_min(
        self,
        rows: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        start: np.ndarray,
        probes: range,
        k: int,
    ) -> np.ndarray:
        """Per pair (child ``rows``, last rate ``b``), the fewest exact final counts at window
        offsets ``start + probes``: ``sum_{t, u} parent[x - t*b - u*a]``, in blocks of 4096
        pairs (bounded memory)."""
        out = np.zeros(len(b), dtype=np.int64)
        for lo in range(0, len(b), 4096):
            part = slice(lo, lo + 4096)
            base = (self.par[rows[part]] * self.span)[:, None]
            x = start[part][:, None] + np.array(probes)[None, :]
            val = np.zeros(x.shape, dtype=np.int64)
            for t in range(k):
                shifted = x - (t * b[part])[:, None]
                if not (shifted >= 0).any():  # every count left of the RF is 0
                    break
                for u in range(k):
                    pos = shifted - (u * a[rows[part]])[:, None]
                    pos[(pos < 0) | (pos >= self.span)] = self.span - 1
                    val += self.counts_flat.take(base + pos)
            out[part] = val.min(axis=1)
        return out


def _pair_bounds(
    profs: Sequence[np.ndarray],
    rates: Sequence[np.ndarray],
    q: _Query,
    kk: tuple[int, ...] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_child_bounds` when one rate follows the child: every (child, last rate) pair.

    The children of several parents at once: row ``i`` of the result is the child adding rate
    ``rates[j][r]`` to parent profile ``profs[j]`` (rows ordered by ``j``, then ``r``). With one
    rate ``b`` left the final profile ``sum_t R(x - t * b)`` of child ``R`` is known for each
    ``b``, so each pair gets exact upper bounds on its window minimum (:func:`_pair_stages`).
    The tail is at least the child's own mass left of the window, which grows with ``b``, so
    only ``b`` up to a limit per child can reach the ranking. A child's bound is the best
    pair's, ``(-m_hi, lmin)`` with ``lmin`` the shortest RF among the pairs reaching ``m_hi``;
    pairs that cannot beat the ranking's k-th key ``kk`` are dropped first. Returns
    ``(feasible, m_hi, lmin)`` per row.
    """
    assert q.target is not None
    c, target = q.kernel - 1, q.target
    a = np.concatenate(rates).astype(np.int64, copy=False)
    m = len(a)
    feasible = np.zeros(m, dtype=bool)
    m_out = np.full(m, -1, dtype=np.int64)
    l_out = np.zeros(m, dtype=np.int64)
    need = q.count if kk is None else max(q.count, -kk[0])
    limit = (q.kernel ** (q.size * q.groups) - target * need) // 2
    if not m or limit < 0:
        return feasible, m_out, l_out
    parents = _Parents(profs, rates)
    n1 = parents.lens[parents.par] + c * a  # the children's lengths
    s_max = parents.last_start(a, n1, limit, q.kernel)
    b_hi = n1 if q.max_rate is None else np.minimum(n1, q.max_rate)  # criterion: b <= RF
    b_hi = np.minimum(b_hi, (2 * s_max + 1 + target - n1) // c)
    b_lo = np.maximum(a, -(-(target - n1) // c))  # the final RF reaches the target
    per_row = np.maximum(b_hi - b_lo + 1, 0)
    n_pairs = int(per_row.sum())
    if not n_pairs:
        return feasible, m_out, l_out
    rows = np.repeat(np.arange(m), per_row)
    b = np.arange(n_pairs) + np.repeat(b_lo - (np.cumsum(per_row) - per_row), per_row)
    rows, length, bound = _pair_stages(parents, rows, a, b, n1[rows] + c * b, q, kk)
    if not len(rows):
        return feasible, m_out, l_out
    best = np.full(m, -1, dtype=np.int64)
    np.maximum.at(best, rows, bound)
    # rows ascend and, within a row, so do b and the length: the first pair reaching a row's
    # best has its shortest length
    top = np.flatnonzero(bound == best[rows])
    r_top = rows[top]
    first = top[np.r_[True, r_top[1:] != r_top[:-1]]]
    l_out[rows[first]] = length[first]
    m_out[:] = best
    return best >= q.count, m_out, l_out


def _pair_stages(
    parents: _Parents,
    rows: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    length: np.ndarray,
    q: _Query,
    kk: tuple[int, ...] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact upper bounds on each pair's window minimum, cheapest and strongest first, each for
    the pairs the ones before left in the running: the count at the window's first offset, the
    mass left for the window (``(K**n - 2 * tail) // target``, the exact tail), the counts at
    its next :data:`PROBES` offsets, and once the ranking is full the window minimum itself.
    Returns the pairs left (child rows, lengths, bounds)."""
    assert q.target is not None
    k, target = q.kernel, q.target
    mass = k ** (q.size * q.groups)
    need = q.count if kk is None else max(q.count, -kk[0])
    start = (length - target) // 2
    bound = np.full(len(b), mass, dtype=np.int64)
    # (the final profile is symmetric and so is the window, up to one offset: the first
    # ``half`` offsets hold its minimum)
    half = min(target, (target + 1) // 2 + 1)
    stages = ("first", "mass", "next") + (("rest",) if kk is not None else ())
    for stage in stages:
        keep = bound >= need
        if kk is not None:
            keep &= (bound > need) | (length < kk[1])
        rows, b, length, start, bound = (v[keep] for v in (rows, b, length, start, bound))
        if not len(b):
            break
        if stage == "mass":  # the tail left of the window: sum_t child mass left of s - t*b
            tail = np.zeros(len(b), dtype=np.int64)
            base = parents.par[rows] * parents.span
            for t in range(k):
                at = start - t * b
                if (at > 0).any():  # (no mass left of offset 0: skip the terms that are all 0)
                    tail += parents.left_mass(base, a[rows], at, k)
            np.minimum(bound, (mass - 2 * tail) // target, out=bound)
            continue
        probes = {"first": range(1), "next": range(1, min(PROBES, half))}.get(
            stage, range(PROBES, half)
        )
        if len(probes):
            np.minimum(bound, parents.window_min(rows, a, b, start, probes, k), out=bound)
    return rows, length, bound


class _Search:
    """The exact branch-and-bound search behind :func:`atrous.design` and :func:`atrous.pareto`.

    Walks sorted groups of rates depth first (fact 2 of ``docs/design.md``: a schedule is a
    multiset), keeps the ``q.top`` best keys in :attr:`hits` (smaller is better) and prunes a
    partial schedule when :meth:`bound` (an optimistic key for every completion) cannot beat the
    ``top``-th key found so far. Each bound is a function of the partial schedule alone, so it
    is tested alone against exhaustive enumeration (``tests/test_design.py``).

    Args:
        q: the query.
        deadline: give up with :class:`TooLargeError` when ``time.process_time()`` (the CPU
            time of the process, which other programs on the same cores do not inflate)
            passes it.
        progress: called now and then with the fraction of the search space done (0..1).
    """

    def __init__(
        self,
        q: _Query,
        *,
        deadline: float | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.q = q
        self.c = q.kernel - 1
        self.layers = q.size * q.groups
        self.mass = q.kernel**self.layers
        self.dtype = _dtype(q.kernel, self.layers)
        self.need_profile = q.mode in ("uniform", "width") or q.count > 1
        self.hits: list[_Hit] = []
        self._kk: tuple[int, ...] | None = None  # the top-th key once ``top`` were found
        self.nodes = 0
        self.seq = 0
        self.deadline = deadline
        self._limit = None if deadline is None else max(0.0, deadline - time.process_time())
        self.progress = progress
        self._next_report = time.monotonic() + PROGRESS_EVERY
        # the uniform mode bounds all children of a node at once (int64 counts, one group)
        self.vector_ok = (
            q.mode == "uniform"
            and q.groups == 1
            and not q.strict
            and q.target is not None
            and self.dtype is np.int64
        )

    # -- ranking ---------------------------------------------------------------------------
    def kth(self) -> tuple[int, ...] | None:
        """The ``top``-th key found so far, or None while fewer were found."""
        return self._kk

    def key(self, length: int, m1: int, w: int | None) -> tuple[int, ...]:
        """The ranking key of a finished schedule (smaller is better): the bound's key with the
        length known exactly."""
        assert w is not None or self.q.mode != "width"  # width mode always measures a width
        return self._mode_key(length, length, m1, 0 if w is None else w)

    def leaf(
        self,
        group: Ints,
        total: int,
        prof: np.ndarray | None,
        m1: int | None = None,
        w: int | None = None,
    ) -> None:
        """Rank a finished group (its window minimum ``m1`` or width ``w`` when known)."""
        q = self.q
        length = 1 + self.c * total
        if q.target is not None and q.mode != "width" and length < q.target:
            return
        if w is not None:  # width mode, measured by the caller
            m1 = 1
        elif m1 is not None:
            if m1 < q.count:
                return
        elif prof is None:
            m1 = 1
        elif q.mode == "width":
            m1, w = 1, _width_of(prof, q.count)
            if w <= 0:
                return
        else:
            m1 = _window_min(prof, q.target)
            if m1 < q.count:
                return
        key = self.key(length, m1, w)
        kk = self.kth()
        if kk is not None and key >= kk:
            return
        self.seq += 1
        bisect.insort(self.hits, _Hit(key, self.seq, group))
        del self.hits[q.top :]
        if len(self.hits) == q.top:
            self._kk = self.hits[-1].key

    # -- bounds ----------------------------------------------------------------------------
    def bound(
        self, total: int, last: int, left: int, prof: np.ndarray | None
    ) -> tuple[int, ...] | None:
        """An optimistic key for every completion of a partial group, or None when none exists.

        The group so far sums to ``total`` with largest rate ``last`` and profile ``prof``
        (None when the mode needs no counts); ``left`` more rates follow.
        """
        q, c, g = self.q, self.c, self.q.groups
        target = q.target
        hi = _greedy_sum(total, last, left, q)
        if hi is None:
            return None
        lmax = 1 + c * hi
        lmin = 1 + c * _min_sum(total, last, left, q)
        if target is not None and q.mode != "width":
            if lmax < target:
                return None
            if lmin < target:  # reachable sums form an interval (docs/design.md)
                lmin = 1 + c * (total + g * _ceil_div(target - 1 - c * total, c * g))
        if prof is None:  # without counts every leaf has m1 = 1
            return self._mode_key(lmax, lmin, 1, lmax)
        low = last + (1 if q.strict else 0)  # every further rate is >= low
        more = left * g  # layers still to add
        if q.mode == "width":
            w_hi = self._width_ceiling(prof, low, more, lmin, lmax)
            return None if w_hi <= 0 else self._mode_key(lmax, lmin, 1, w_hi)
        if target is None:
            return self._mode_key(lmax, lmin, 1 << 62, lmax)
        smax = (lmax - target) // 2
        smin = (lmin - target) // 2
        per_s, s_end = _window_ceiling(prof, low, more, q.kernel, target, smin, smax, self.mass)
        ok = np.flatnonzero(per_s >= q.count)
        if not len(ok):
            return None
        m_hi = int(per_s.max())
        if q.mode == "uniform":  # a completion with min m_hi has its s where that fits
            need = target + 2 * (smin + int(np.flatnonzero(per_s >= m_hi)[0]))
            lmin = max(lmin, 1 + c * (total + g * _ceil_div(need - 1 - c * total, c * g)))
        elif q.mode == "close":  # the window may start no earlier than the first good s
            need = target + 2 * (smin + int(ok[0]))
            if need > lmin:
                lmin = 1 + c * (total + g * _ceil_div(need - 1 - c * total, c * g))
                if lmin > lmax:
                    return None
        elif q.mode == "rf" and smin + int(ok[-1]) <= s_end:
            lmax = min(lmax, target + 2 * (smin + int(ok[-1])) + 1)
        return self._mode_key(lmax, lmin, m_hi, lmax)

    def _width_ceiling(self, prof: np.ndarray, low: int, more: int, lmin: int, lmax: int) -> int:
        """Width mode: an upper bound on the widest window of ``>= count`` paths."""
        q, c = self.q, self.c
        half = (lmin + 1) // 2  # offsets < half lie in the left half of every final RF
        xs = min(half, len(prof) + c * more * low + 1)
        ceil_ = _count_ceiling(prof, low, more, q.kernel, xs)
        bad = np.flatnonzero(ceil_ < q.count)
        e = int(bad[-1]) + 1 if len(bad) else 0
        if e == xs and xs < half:  # the ceiling is flat from here: bad up to the middle
            e = half
        return min(lmax - 2 * e, (self.mass - 2 * _tail_floor(prof, e)) // q.count)

    def _mode_key(self, lmax: int, lmin: int, m_hi: int, w_hi: int) -> tuple[int, ...]:
        mode = self.q.mode
        if mode == "rf":
            return (-lmax, -m_hi)
        if mode == "close":
            return (lmin, -m_hi)
        if mode == "uniform":
            return (-m_hi, lmin)
        return (-w_hi, lmin)

    def could_rank(self, mins: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Rows whose minimum count (exact or an upper bound) and length could enter the
        ranking as it stands."""
        q, kk = self.q, self.kth()
        keep = mins >= q.count
        if kk is None:
            return keep
        if q.mode == "uniform":
            return keep & ((mins > -kk[0]) | ((mins == -kk[0]) & (lengths < kk[1])))
        if q.mode == "close":
            return keep & ((lengths < kk[0]) | ((lengths == kk[0]) & (mins > -kk[1])))
        return keep & ((lengths > -kk[0]) | ((lengths == -kk[0]) & (mins > -kk[1])))

    # -- the last layer, all choices at once -------------------------------------------------
    def last_layer(self, group: Ints, total: int, prof: np.ndarray, choices: range) -> None:
        """All choices of the last rate at once: window minima of every final profile."""
        self.nodes += 1 + len(choices) // 16  # vectorised rows are cheap
        rates = np.fromiter(choices, dtype=np.int64, count=len(choices))
        if len(rates) == 0:
            return
        if self.q.mode == "width":
            self.last_layer_width(group, total, prof, rates)
            return
        q, k, c, target = self.q, self.q.kernel, self.c, self.q.target
        assert target is not None
        n0 = len(prof)
        lengths = n0 + c * rates
        ok = lengths >= target
        rates, lengths = rates[ok], lengths[ok]
        # exact tail mass left of each window: the final profile is sum_t prof(p - t*a)
        starts = (lengths - target) // 2
        cum = np.concatenate([np.zeros(1, dtype=prof.dtype), np.cumsum(prof)])
        tail = np.zeros(len(rates), dtype=prof.dtype)
        for t in range(k):
            tail += cum[np.minimum(np.maximum(starts - t * rates, 0), n0)]
        m_hi = (self.mass - 2 * tail) // target
        keep = m_hi >= q.count
        kk = self.kth()
        if kk is not None:
            if q.mode == "uniform":
                keep &= m_hi >= -kk[0]
            elif q.mode == "close":
                keep &= lengths <= kk[0]
            else:
                keep &= lengths >= -kk[0]
        rates, lengths, starts = rates[keep], lengths[keep], starts[keep]
        if not len(rates):
            return
        # exact counts at a few offsets of each window bound its minimum from above: cheap
        # rows that cannot enter the ranking go before the full profiles are built
        probe = starts[:, None] + np.arange(min(target, 8))[None, :]
        sample = np.zeros(probe.shape, dtype=prof.dtype)
        for t in range(k):
            pos = probe - t * rates[:, None]
            inside = (pos >= 0) & (pos < n0)
            sample += np.where(inside, prof[np.minimum(np.maximum(pos, 0), n0 - 1)], 0)
        keep = self.could_rank(sample.min(axis=1), lengths)
        rates, lengths, starts = rates[keep], lengths[keep], starts[keep]
        if not len(rates):
            return
        mat = _shifted_sums(prof, rates, k, int(lengths.max()))
        rows = np.arange(len(rates))[:, None]
        mins = mat[rows, starts[:, None] + np.arange(target)[None, :]].min(axis=1)
        keep = self.could_rank(mins, lengths)
        for a, m in zip(rates[keep].tolist(), mins[keep].tolist()):
            self.leaf((*group, a), total + a, None, int(m))

    def last_layer_width(
        self, group: Ints, total: int, prof: np.ndarray, rates: np.ndarray
    ) -> None:
        """Width mode, all last rates at once: the widest window with every count >= count."""
        lengths = len(prof) + self.c * rates
        kk = self.kth()
        if kk is not None:  # (-width, length): no row can beat the k-th with width > length
            keep = np.minimum(lengths, self.mass // self.q.count) >= -kk[0]
            rates, lengths = rates[keep], lengths[keep]
            if not len(rates):
                return
        width = int(lengths.max())
        mat = _shifted_sums(prof, rates, self.q.kernel, width)
        halves = (lengths + 1) // 2
        bad = (mat[:, : (width + 1) // 2] < self.q.count) & (
            np.arange((width + 1) // 2)[None, :] < halves[:, None]
        )
        # e = 1 + the last bad offset of the left half (0 when none)
        rev = bad[:, ::-1]
        e = np.where(rev.any(axis=1), bad.shape[1] - rev.argmax(axis=1), 0)
        widths = np.maximum(lengths - 2 * e, 0)
        for a, w, length in zip(rates.tolist(), widths.tolist(), lengths.tolist()):
            if w <= 0:
                continue
            kk = self.kth()
            if kk is not None and (-w, length) >= kk:
                continue
            self.leaf((*group, a), total + a, None, None, w)

    # -- the walk ----------------------------------------------------------------------------
    def run(self) -> list[_Hit]:
        """Top ``q.top`` sorted groups by the mode's key (smaller is better), exact."""
        q = self.q
        # every gridding-free schedule contains a rate 1 (the smallest must be <= RF_0 = 1)
        start: np.ndarray | None = None
        if self.need_profile:
            start = np.ones(1, dtype=self.dtype)
            for _ in range(q.groups):
                start = _add_layer(start, 1, q.kernel)
        if q.max_rate is None or q.max_rate >= 1:
            self.dfs((1,), q.groups, 1, start, 0.0, 1.0)
        return self.hits

    def _tick(self, done: float) -> None:
        """Count a node; enforce the budgets; report progress now and then."""
        self.nodes += 1
        q = self.q
        if self.nodes > q.max_nodes:
            raise TooLargeError(
                f"the search visited more than {q.max_nodes} partial schedules without "
                f"finishing; narrow it ({self._knobs()}) or raise max_nodes (--max-nodes)"
            )
        if self.nodes & 63:
            return
        now = time.monotonic()
        if self.deadline is not None and time.process_time() > self.deadline:
            raise TooLargeError(
                f"the search did not finish within its time limit ({self._limit or 0:.3g} s of "
                f"CPU time); narrow it ({self._knobs()}) or raise time_limit (--time-limit)"
            )
        if self.progress is not None and now >= self._next_report:
            self._next_report = now + PROGRESS_EVERY
            self.progress(done)

    def _knobs(self) -> str:
        """The options that narrow this search, in words."""
        if self.q.mode == "width":  # the Pareto table
            return "a smaller max_rate, fewer layers, fewer or lower count levels"
        return "a smaller max_rate, fewer layers, a lower min_count, a smaller top"

    def _child_range(self, group: Ints, total: int, last: int, left: int) -> tuple[int, int]:
        """The useful rates for the next layer: ``lo..hi`` (empty when ``lo > hi``)."""
        q, c = self.q, self.c
        lo = last + 1 if q.strict else last
        hi = 1 + c * total
        if q.max_rate is not None:
            # strict: leave room for the ``left - 1`` strictly rising rates after this one
            hi = min(hi, q.max_rate - (left - 1 if q.strict else 0))
        if q.target is not None and q.mode != "width":
            # the final sum after choosing ``a`` grows with ``a`` (greedy completion, fact 2),
            # so the useful children form a range found by bisection, never by stepping
            lo = self._first_reaching(q.target, total, left, lo, hi)
        return lo, hi

    def _child_ranges(self, heads: list[tuple[Ints, int]], left: int) -> list[tuple[int, int]]:
        """:meth:`_child_range` of every node in ``heads`` (its group and sum) at once, for the
        vectorised uniform search (one group, rates not strictly rising, a target): the
        bisection for the first child reaching the target runs on all nodes together."""
        q, c = self.q, self.c
        assert q.target is not None and q.groups == 1 and not q.strict
        last = np.array([g[-1] for g, _ in heads], dtype=np.int64)
        total = np.array([t for _, t in heads], dtype=np.int64)
        hi = 1 + c * total
        if q.max_rate is not None:
            hi = np.minimum(hi, q.max_rate)
        lo, top = last.copy(), hi.copy()
        while True:  # smallest a in [lo, top + 1] whose greedy completion reaches the target
            open_ = lo <= top
            if not open_.any():
                break
            mid = (lo + top) // 2
            reach = total + mid  # every further rate at its ceiling (never below the last)
            for _ in range(left - 1):
                step = 1 + c * reach
                reach = reach + (step if q.max_rate is None else np.minimum(step, q.max_rate))
            ok = 1 + c * reach >= q.target
            top = np.where(open_ & ok, mid - 1, top)
            lo = np.where(open_ & ~ok, mid + 1, lo)
        return list(zip(lo.tolist(), hi.tolist()))

    def _best_after(self, a: int, total: int, left: int) -> int:
        """The longest RF reachable after choosing ``a`` next (-1: none)."""
        s = _greedy_sum(total + self.q.groups * a, a, left - 1, self.q)
        return -1 if s is None else 1 + self.c * s

    def _first_reaching(self, length: int, total: int, left: int, a_lo: int, a_hi: int) -> int:
        """Smallest a in [a_lo, a_hi + 1] whose best completion reaches ``length``."""
        while a_lo <= a_hi:
            mid = (a_lo + a_hi) // 2
            if self._best_after(mid, total, left) >= length:
                a_hi = mid - 1
            else:
                a_lo = mid + 1
        return a_lo

    def dfs(
        self,
        group: Ints,
        total: int,
        last: int,
        prof: np.ndarray | None,
        done: float,
        share: float,
        bounded: bool = False,
        known: Known | None = None,
    ) -> None:
        """Visit a partial group (``done``/``share``: its place in the space, for progress;
        ``bounded``: its parent bounded it; ``known``: its children and their bounds)."""
        q = self.q
        self._tick(done)
        left = q.size - len(group)
        if left == 0:
            self.leaf(group, total, prof)
            return
        if not bounded:  # (a parent that bounded all its children at once says so)
            b = self.bound(total, last, left, prof)
            kk = self.kth()
            if b is None or (kk is not None and b >= kk):
                return
        lo, hi = self._child_range(group, total, last, left) if known is None else known[0]
        if lo > hi:
            return
        choices = range(hi, lo - 1, -1) if q.mode in ("rf", "width") else range(lo, hi + 1)
        if (
            left == 1
            and prof is not None
            and q.groups == 1
            and (q.target is not None or q.mode == "width")
        ):
            self.last_layer(group, total, prof, choices)
        elif self.vector_ok and left >= 2 and prof is not None:
            pre, deeper = (None, None) if known is None else known[1:]
            self._bounded_children(group, total, prof, lo, hi, left, done, share, pre, deeper)
        else:
            self._children(group, total, prof, choices, lo, hi, left, done, share)

    def _bounded_children(
        self,
        group: Ints,
        total: int,
        prof: np.ndarray,
        lo: int,
        hi: int,
        left: int,
        done: float,
        share: float,
        pre: Bounds | None = None,
        deeper: dict[int, tuple[np.ndarray, Any]] | None = None,
    ) -> None:
        """Uniform mode: bound every child at once (the bounds stay valid as ranks improve).

        ``pre``, ``deeper``: the children's bounds, and per child its profile and what is known
        of its children, computed by an ancestor (:data:`Known`)."""
        rates = np.arange(lo, hi + 1, dtype=np.int64)
        kk = self.kth()
        if pre is not None:
            feasible, m_hi, lmin = pre
        elif left == 2:  # one rate follows each child: exact counts of every pair
            feasible, m_hi, lmin = _pair_bounds([prof], [rates], self.q, kk)
        else:
            feasible, m_hi, lmin = _child_bounds([prof], [total], [rates], left - 1, self.q, kk)
        self.nodes += len(rates) // 16
        part = share / len(rates)
        if kk is not None:  # the children that could rank now (the ranking only tightens)
            feasible &= (m_hi > -kk[0]) | ((m_hi == -kk[0]) & (lmin < kk[1]))
        found = np.flatnonzero(feasible).tolist()
        ready = [deeper.get(int(rates[i])) for i in found] if deeper is not None else [None]
        if all(r is not None for r in ready):  # (the ancestor's ranking was looser)
            profs = [r[0] for r in ready if r is not None]
            grand: list[Known | None] = [r[1] for r in ready if r is not None]
        else:
            profs = [_add_layer(prof, int(rates[i]), self.q.kernel) for i in found]
            grand = [None] * len(found)
            if left >= 3 and found:  # the grandchildren of all children at once
                heads = [((*group, int(rates[i])), total + int(rates[i])) for i in found]
                grand = self._kids_bounds(heads, profs, left - 1)
        for i, child, known in zip(found, profs, grand):
            a, key = int(rates[i]), (-int(m_hi[i]), int(lmin[i]))
            kk = self.kth()
            if kk is not None and key >= kk:
                continue
            if left >= 3 and not self._any_could_rank(known):
                self.nodes += 1
                continue
            self.dfs((*group, a), total + a, a, child, done + i * part, part, True, known)

    def _any_could_rank(self, known: Known | None) -> bool:
        """Whether any child in ``known`` (None: no children) could enter the ranking now."""
        if known is None:
            return False
        return bool(self._could_rank_now(known[1]).any())

    def _kids_bounds(
        self, heads: list[tuple[Ints, int]], profs: list[np.ndarray], left: int
    ) -> list[Known | None]:
        """What is known of the children of every node in ``heads`` (its group and sum;
        profiles ``profs``; ``left >= 2`` rates to add after it): their bounds in one call, and
        with ``left == 3`` also those of their own children that could rank now (one more call);
        None for a node without children."""
        if not heads:
            return []
        ranges = self._child_ranges(heads, left)
        kids = [np.arange(lo, hi + 1, dtype=np.int64) for lo, hi in ranges]
        if left == 2:  # one rate follows each child
            bounds = _pair_bounds(profs, kids, self.q, self.kth())
        else:
            totals = [t for _, t in heads]
            bounds = _child_bounds(profs, totals, kids, left - 1, self.q, self.kth())
        feasible, m_hi, lmin = bounds
        parts: list[Bounds] = []
        start = 0
        for r in kids:
            parts.append(
                (feasible[start : start + len(r)], m_hi[start:][: len(r)], lmin[start:][: len(r)])
            )
            start += len(r)
        deeper: list[dict[int, tuple[np.ndarray, Any]] | None] = [None] * len(heads)
        if left == 3:  # the children's children, one rate after each: all pairs in one call
            picked: list[tuple[int, int, Ints, int, np.ndarray]] = []
            could = np.split(self._could_rank_now(bounds), np.cumsum([len(r) for r in kids])[:-1])
            for j, ((g, t), ok, r) in enumerate(zip(heads, could, kids)):
                if not ok.any():
                    continue
                sel = r[ok]
                rows = _shifted_sums(
                    profs[j], sel, self.q.kernel, len(profs[j]) + self.c * int(sel[-1])
                )
                for a, row in zip(sel.tolist(), rows):
                    prof = row[: len(profs[j]) + self.c * a].astype(profs[j].dtype, copy=False)
                    picked.append((j, a, (*g, a), t + a, prof))
            known = self._kids_bounds([(p[2], p[3]) for p in picked], [p[4] for p in picked], 2)
            for (j, a, _, _, prof), kn in zip(picked, known):
                if deeper[j] is None:
                    deeper[j] = {}
                deeper[j][a] = (prof, kn)  # type: ignore[index]
        return [
            (span, part, more) if len(r) else None
            for span, part, r, more in zip(ranges, parts, kids, deeper)
        ]

    def _could_rank_now(self, bounds: Bounds) -> np.ndarray:
        """The children whose bounds could enter the ranking as it stands."""
        feasible, m_hi, lmin = bounds
        kk = self.kth()
        if kk is None:
            return feasible
        return feasible & ((m_hi > -kk[0]) | ((m_hi == -kk[0]) & (lmin < kk[1])))

    def _children(
        self,
        group: Ints,
        total: int,
        prof: np.ndarray | None,
        choices: range,
        lo: int,
        hi: int,
        left: int,
        done: float,
        share: float,
    ) -> None:
        """Visit the children one by one, stopping where the ranking says none can enter."""
        q, c, g = self.q, self.c, self.q.groups
        seen_kk: tuple[int, ...] | None = None
        cut = lo
        part = share / max(1, hi - lo + 1)  # (len() of a range past 2**63 overflows)
        for i, a in enumerate(choices):
            kk = self.kth()
            if kk is not None and q.mode == "rf":
                if kk != seen_kk:  # children below ``cut`` cannot reach the k-th RF
                    seen_kk, cut = kk, self._first_reaching(-kk[0], total, left, lo, hi)
                if a < cut:
                    break
            elif (
                kk is not None
                and q.mode == "close"
                and 1 + c * _min_sum(total + g * a, a, left - 1, q) > kk[0]
            ):
                break  # every completion is longer than the k-th result
            child = prof
            for _ in range(g if prof is not None else 0):
                assert child is not None
                child = _add_layer(child, a, q.kernel)
            self.dfs((*group, a), total + g * a, a, child, done + i * part, part)


def _search(
    q: _Query,
    *,
    deadline: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[_Hit]:
    """Top ``q.top`` sorted groups by the mode's key (smaller is better), exact."""
    return _Search(q, deadline=deadline, progress=progress).run()
