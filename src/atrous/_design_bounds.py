"""The exact bounds and counts behind the design search of :mod:`atrous._design_search` (private).

Pure functions of a partial schedule's tap profile (numpy arrays in, arrays or ints out) and of
the search's :class:`_Query`: the size of a search space (:func:`_space`), tap profiles, and the
bounds that each hold for every completion of a partial schedule (fact 2 of
``docs/design.md``). Each is tested alone against exhaustive enumeration on small spaces
(``tests/test_design_search.py``); :class:`atrous._design_search._Search` prunes with them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .geometry import Taps

SPACE_RATE_CAP = 256
"""Rates counted by :func:`_space` (larger ones only add to a space already counted)."""


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


# -- profiles ---------------------------------------------------------------------------------
def _dtype(kernel: int, layers: int) -> Any:
    return np.int64 if kernel**layers < 2**62 else object


@functools.lru_cache(maxsize=4096)
def _tap_offsets(rate: int, kernel: int) -> tuple[int, ...]:
    """The input offsets one output of a stride-1 layer of ``rate`` reads, from its first read.

    Read from the one geometry, the record :class:`atrous.geometry.Taps` (``stride=1``), once
    per ``(rate, kernel)``, so a change of that rule reaches the search's profiles
    (:func:`_add_layer`). The vectorised bounds shift whole arrays by ``t * rate`` for tap
    ``t``; :func:`_check_taps` checks once per search that the records still say so.

    >>> _tap_offsets(2, 3), _tap_offsets(5, 2)
    ((0, 2, 4), (0, 5))
    """
    reads = Taps(stride=1, offset=0, dilation=rate, kernel=kernel).reads(0)
    return tuple(i - reads[0] for i in reads)


def _check_taps(kernel: int) -> None:
    """The vectorised bounds read tap ``t`` of a rate-``r`` layer at offset ``t * r`` (whole
    arrays of rates at once, where a per-rate record lookup would slow the inner loop): fail
    loudly, not silently wrong, if :func:`_tap_offsets` (the geometry) ever says otherwise."""
    for rate in (1, 2, 3, 7):
        if _tap_offsets(rate, kernel) != tuple(t * rate for t in range(kernel)):
            raise RuntimeError(
                f"atrous.geometry.Taps reads {_tap_offsets(rate, kernel)} for rate {rate}, "
                f"kernel {kernel}; the design search's vectorised bounds assume t * rate"
            )


def _add_layer(profile: np.ndarray, rate: int, kernel: int) -> np.ndarray:
    """The profile after one more stride-1 layer of ``rate``: a shifted copy per tap offset
    (:func:`_tap_offsets`, from the geometry's records).

    >>> _add_layer(np.array([1, 1, 1]), 2, 3).tolist()
    [1, 1, 2, 1, 2, 1, 1]
    """
    offsets = _tap_offsets(rate, kernel)
    n = len(profile)
    out = np.zeros(n + offsets[-1], dtype=profile.dtype)
    for o in offsets:
        out[o : o + n] += profile
    return out


def _window(length: int, width: int) -> tuple[int, int]:
    """Start and stop of the centred ``width`` window of a ``length`` profile."""
    s = (length - width) // 2
    return s, s + width


def _half_window(target: int) -> int:
    """Offsets from a centred window's start that hold its minimum: the final profile is
    symmetric and the window centred on it (to one offset), so the rest mirrors these.

    >>> _half_window(129), _half_window(8), _half_window(1)
    (66, 5, 1)
    """
    return min(target, (target + 1) // 2 + 1)


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
    out: np.ndarray = base.copy()
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
    out: np.ndarray = a.copy()
    span = 1
    while span * 2 <= w:
        out[: n - span] = np.minimum(out[: n - span], out[span:])
        span *= 2
    rest = w - span
    if rest > 0:
        res: np.ndarray = out.copy()
        res[: n - rest] = np.minimum(out[: n - rest], out[rest:])
        return res
    return out


def _width_bounds(
    prof: np.ndarray, total: int, rates: np.ndarray, left: int, q: _Query
) -> tuple[np.ndarray, np.ndarray]:
    """The width mode's bound of every child at once (one group, rates not strictly rising).

    Row ``i`` is the child adding rate ``rates[i]`` to a partial group of profile ``prof``
    summing to ``total``; ``left >= 1`` more rates follow it. Row by row this is the search's
    per-node bound (:func:`_greedy_sum`, :func:`_min_sum`, the count ceiling of
    :func:`_count_ceiling` up to the middle of the shortest final RF, and the mass left by
    :func:`_tail_floor`), as whole-array operations. Returns ``(w_hi, lmin)``: an upper bound
    on the widest window of ``>= q.count`` paths (``<= 0``: none) and the shortest final RF,
    the optimistic key ``(-w_hi, lmin)``.

    >>> q = _Query(3, 1, 3, 9, None, 2, "width", 1, False, 10)
    >>> w, lmin = _width_bounds(np.array([1, 1, 1]), 1, np.array([1, 2, 3]), 1, q)
    >>> w.tolist(), lmin.tolist()   # the real best widths are 11, 9 and 9
    ([12, 11, 10], [7, 11, 15])
    """
    k, c, cap = q.kernel, q.kernel - 1, q.max_rate
    a = rates.astype(np.int64, copy=False)
    tot = total + a
    hi = tot.copy()
    for _ in range(left):  # greedy completion: every further rate at its ceiling
        step = 1 + c * hi
        hi = hi + (step if cap is None else np.minimum(step, cap))
    lmax = 1 + c * hi
    lmin = 1 + c * (tot + left * a)
    n1 = len(prof) + c * a
    half = (lmin + 1) // 2  # offsets < half lie in the left half of every final RF
    xs = np.minimum(half, n1 + c * left * a + 1)
    width = int(xs.max())
    child = _shifted_sums(prof.astype(np.int64, copy=False), a, k, width)
    # count ceiling: child + sum_w N(w) * (its running peak shifted by w * a), as in
    # :func:`_count_ceiling` (the peak padded with ``width`` zero columns in front)
    m = len(a)
    peak = np.zeros((m, 2 * width), dtype=np.int64)
    np.maximum.accumulate(child, axis=1, out=peak[:, width:])
    flat = peak.ravel()
    cols = np.arange(width)[None, :]
    row_start = (np.arange(m) * (2 * width) + width)[:, None] + cols
    ceil_ = child.copy()
    weights = _tap_weights(left, k)
    for w in range(1, len(weights)):
        if w * int(a.min()) >= width:
            break
        ceil_ += weights[w] * flat.take(row_start - np.minimum(w * a, width)[:, None])
    bad = (ceil_ < q.count) & (cols < xs[:, None])
    last_bad = width - np.argmax(bad[:, ::-1], axis=1)
    e = np.where(bad.any(axis=1), last_bad, 0)
    e = np.where((e == xs) & (xs < half), half, e)  # the ceiling is flat past xs: bad to half
    # the mass left of e: the child's own counts (each >= 1), then 1 per offset past its end
    cum = np.zeros((m, width + 1), dtype=np.int64)
    np.cumsum(np.maximum(child, 1), axis=1, out=cum[:, 1:])
    inside = np.minimum(e, n1)
    tail = cum[np.arange(m), inside] + np.maximum(e - n1, 0)
    w_hi: np.ndarray = np.minimum(lmax - 2 * e, (k ** (q.size * q.groups) - 2 * tail) // q.count)
    return w_hi, lmin


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
    out: np.ndarray = a.copy()
    span = 1
    while span * 2 <= w:
        out[:, : n - span] = np.minimum(out[:, : n - span], out[:, span:])
        span *= 2
    rest = w - span
    if rest > 0:
        res: np.ndarray = out.copy()
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
    if len(profs) < 4:  # (a few parents: one read per parent is cheaper)
        return np.concatenate(
            [
                _shifted_sums(p.astype(np.int64, copy=False), r, kernel, width)
                for p, r in zip(profs, rates)
            ]
        )
    # all parents at once: parent j padded with ``width`` zero columns on both sides, row j of
    # one matrix; view[j, o] = padded[j, o : o + width] (a read-only strided view)
    lens = [len(p) for p in profs]
    span = 2 * width + max(lens)
    padded = np.zeros((len(profs), span), dtype=np.int64)
    for j, p in enumerate(profs):
        padded[j, width : width + len(p)] = p
    step = padded.strides[1]
    view = np.ndarray(
        (len(profs), span - width + 1, width), padded.dtype, padded, 0,
        (padded.strides[0], step, step),
    )
    a = np.concatenate(rates).astype(np.int64, copy=False)
    par = np.repeat(np.arange(len(profs)), [len(r) for r in rates])
    out: np.ndarray = view[par, np.full(len(a), width)].copy()  # tap 0: no shift
    for t in range(1, kernel):
        out += view[par, np.maximum(width - t * a, 0)]
    return out


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
    ceiling's minimum over the window's first :func:`_half_window` offsets (the final profile
    is symmetric, so they hold the window's minimum; columns up to ``s + half``); else the ceiling
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
    win = _sliding_min_rows(ceil_, _half_window(target)) if sliding else ceil_
    # each count >= 1; past the child's end (``n1``) its zero counts count 1 each
    ext = np.maximum(base, 1)
    cum = np.cumsum(ext, axis=1) - ext  # cum[:, s] = mass of offsets < s
    room = (k ** (q.size * q.groups) - 2 * cum) // target
    inside = (cols >= smin[:, None]) & (cols <= s_end[:, None])
    extra = (cols == s_end[:, None] + 1) & (s_end < smax)[:, None]
    return np.where(inside, np.minimum(win, room), np.where(extra, room, -(1 << 62)))


def _first_offset_bounds(
    base: np.ndarray,
    a: np.ndarray,
    left: int,
    q: _Query,
    smin: np.ndarray,
    s_end: np.ndarray,
    smax: np.ndarray,
) -> np.ndarray:
    """Per row, the best of :func:`_start_bounds` without ``sliding`` over the row's starts:
    the count ceiling at the window's first offset and the mass left for the window, read only
    at each row's own starts ``smin..s_end`` (and ``s_end + 1`` when ``s_end < smax``), not at
    every column (a few starts per row against ``s_end.max()`` columns).

    >>> q = _Query(3, 1, 4, 9, 9, 1, "uniform", 1, False, 10)
    >>> base = _children_matrix([np.array([1, 1, 1])], [np.array([1, 2])], 3, 12)
    >>> a, smin, s_end = np.array([1, 2]), np.array([0, 1]), np.array([2, 3])
    >>> _first_offset_bounds(base, a, 2, q, smin, s_end, s_end + 1).tolist()
    [8, 7]
    >>> _start_bounds(base, 3 + 2 * a, a, 2, q, smin, s_end, s_end + 1, False).max(axis=1).tolist()
    [8, 7]
    """
    assert q.target is not None
    k, target = q.kernel, q.target
    m, width = base.shape
    counts = s_end - smin + 1 + (s_end < smax)  # (the shared start past s_end: its mass bound)
    first = np.cumsum(counts) - counts
    row = np.repeat(np.arange(m), counts)
    s = np.arange(int(counts.sum())) - np.repeat(first - smin, counts)  # each row's starts
    # the running peak padded with ``width`` zero columns in front: shifted reads need no mask
    peak = np.zeros((m, 2 * width), dtype=np.int64)
    np.maximum.accumulate(base, axis=1, out=peak[:, width:])
    at = row * (2 * width) + width + np.minimum(s, width - 1)
    inside = s <= s_end[row]
    ceil_ = np.where(inside, base.ravel().take(row * width + np.minimum(s, width - 1)), 0)
    weights = _tap_weights(left, k)
    a_row = a[row]
    for w in range(1, len(weights)):
        ceil_ += weights[w] * peak.ravel().take(at - np.minimum(w * a_row, width))
    # the mass of offsets < s (each count >= 1; zero counts past the child's end count 1)
    cum = np.zeros((m, width + 1), dtype=np.int64)
    np.cumsum(np.maximum(base, 1), axis=1, out=cum[:, 1:])
    mass_left = cum.ravel().take(row * (width + 1) + np.minimum(s, width)) + np.maximum(
        s - width, 0
    )
    room = (k ** (q.size * q.groups) - 2 * mass_left) // target
    value = np.where(inside, np.minimum(ceil_, room), room)
    out: np.ndarray = np.maximum.reduceat(value, first)
    return out


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
    lo: np.ndarray = smin.copy()
    hi: np.ndarray = smax.copy()
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
    span = _half_window(target)
    width = int(max(int((s_end + span).max()), int(s_end.max()) + 2)) + 1
    # the children left, parent by parent (rows are ordered by parent)
    cuts = np.cumsum([len(r) for r in rates])[:-1]
    kept = [(p, r[k_]) for p, r, k_ in zip(profs, rates, np.split(keep, cuts)) if k_.any()]
    base = _children_matrix([p for p, _ in kept], [r for _, r in kept], q.kernel, width)
    if kk is not None:
        # a cheap first pass: the ceiling at a window's first offset bounds its minimum too,
        # and needs only the columns up to the last start (a few, against ~2 * target)
        m_n = _first_offset_bounds(base, a, left, q, smin, s_end, smax)
        ok = (m_n > -kk[0]) | ((m_n == -kk[0]) & (lmin < kk[1]))
        rows = (idx, a, tot, lmin, smin, smax, s_end, n1, base)
        idx, a, tot, lmin, smin, smax, s_end, n1, base = (v[ok] for v in rows)
        if not len(idx):
            return feasible, m_out, l_out
    width = int(max(int((s_end + span).max()), int(s_end.max()) + 2)) + 1
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
        offsets ``start + probes``: ``sum_{t, u} parent[x - t*b - u*a]``, in blocks of about
        2**18 reads (bounded memory)."""
        out = np.zeros(len(b), dtype=np.int64)
        offsets = np.array(probes)[None, :]
        block = max(4096, (1 << 18) // max(1, len(probes)))
        last = self.span - 1
        for lo in range(0, len(b), block):
            part = slice(lo, lo + block)
            r = rows[part]
            base = (self.par[r] * self.span)[:, None]
            x = start[part][:, None] + offsets
            a_r, b_r = a[r][:, None], b[part][:, None]
            val = np.zeros(x.shape, dtype=np.int64)
            for t in range(k):
                shifted = x - t * b_r
                if not (shifted >= 0).any():  # every count left of the RF is 0
                    break
                for u in range(k):
                    # offsets outside the parent read a zero: its row's last column, or (at -1)
                    # the one before the row (the previous row's last; the very last for row 0)
                    pos = np.clip(shifted - u * a_r, -1, last)
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
    half = _half_window(target)
    stages = ("first", "mass", "next") + (("rest",) if kk is not None else ())
    for stage in stages:
        keep = bound >= need
        if kk is not None:
            keep &= (bound > need) | (length < kk[1])
        if not keep.all():  # (the first stage keeps every pair: skip the copies)
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
