"""The exact branch-and-bound search behind :mod:`atrous._design` (private).

The search walks sorted groups of rates (a schedule is a multiset: fact 1 of
``docs/design.md``), prunes with the criterion (fact 2) and with bounds that each hold for
every completion of a partial schedule. Every bound is a plain function of
:mod:`atrous._design_bounds` (re-exported here) or a method of :class:`_Search` that reads only
its arguments and the query, so each is tested alone against exhaustive enumeration on small
spaces (``tests/test_design_search.py``).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._design_bounds import (  # noqa: F401 (all re-exported: the bounds' old home)
    PROBES,
    SPACE_RATE_CAP,
    Mode,
    _add_layer,
    _ceil_div,
    _check_taps,
    _child_bounds,
    _child_lengths,
    _children_matrix,
    _count_ceiling,
    _dtype,
    _greedy_sum,
    _last_starts,
    _min_sum,
    _most_sum,
    _pair_bounds,
    _pair_stages,
    _Parents,
    _Query,
    _shifted_sums,
    _sliding_min,
    _sliding_min_rows,
    _space,
    _start_bounds,
    _tail_floor,
    _tap_weights,
    _width_bounds,
    _width_of,
    _window,
    _window_ceiling,
    _window_min,
)
from ._types import Ints, as_int
from .errors import AtrousError, TooLargeError
from .rules import _rates

PROGRESS_EVERY = 0.5
"""Seconds between two progress reports of a long search."""
PROJECT_AFTER = 1.0
"""CPU seconds after which a most-uniform search with a time limit projects its total time from
the fraction of its space done, and gives up at once when the projection exceeds the limit."""
MAX_LAYERS = 64
"""Most layers a search considers."""
SCHEMA_VERSION = 1
"""Version of the JSON records (``to_json()``: an object with ``schema_version`` and ``kind``)."""
SPACE_PER_NODE = 250
"""The most-uniform and Pareto searches are refused up front when their space holds more than
this many gridding-free rate multisets per node of the ``max_nodes`` budget (100 million at the
default budget of 400,000; :func:`_space`)."""


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


def _refuse_space(space: float, max_nodes: int, what: str, knobs: str) -> None:
    """:class:`TooLargeError` up front when ``space`` multisets exceed the budget's share."""
    allowed = SPACE_PER_NODE * max_nodes
    if space > allowed:
        raise TooLargeError(
            f"{what} spans {space:.3g} or more gridding-free rate multisets, more than "
            f"the budget allows ({SPACE_PER_NODE} per node of max_nodes={max_nodes}: "
            f"{allowed:.3g}); narrow it ({knobs}) or raise max_nodes (--max-nodes)"
        )


@dataclass(order=True)
class _Hit:
    key: tuple[int, ...]
    seq: int
    rates: Ints = field(compare=False)  # the group, sorted


Bounds = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(feasible, m_hi, lmin)`` per child: the uniform mode's optimistic key is ``(-m_hi, lmin)``."""
Known = tuple[
    tuple[int, int], Bounds, "dict[int, tuple[np.ndarray, Any]] | None", "tuple[int, int] | None"
]
"""A node's child rates ``lo..hi``, their :data:`Bounds`, (or None) per child rate that could
rank then, the child's profile and its own ``Known``, and the best optimistic key of its
feasible children (None: none is feasible): computed by an ancestor."""


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
        limit: float | None = None,
    ) -> None:
        _check_taps(q.kernel)
        self.q = q
        self.c = q.kernel - 1
        self.layers = q.size * q.groups
        self.mass: int = q.kernel**self.layers
        self.dtype = _dtype(q.kernel, self.layers)
        self.need_profile = q.mode in ("uniform", "width") or q.count > 1
        self.hits: list[_Hit] = []
        self._kk: tuple[int, ...] | None = None  # the top-th key once ``top`` were found
        self.nodes = 0
        self.seq = 0
        self.deadline = deadline
        self._started = time.process_time()
        self._limit = None if deadline is None else max(0.0, deadline - self._started)
        self._stated = limit if limit is not None else self._limit  # the limit the user gave
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
        # so does the width mode (the Pareto table)
        self.width_vector_ok = (
            q.mode == "width" and q.groups == 1 and not q.strict and self.dtype is np.int64
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
        keep: np.ndarray = mins >= q.count
        if kk is None:
            return keep
        better: np.ndarray
        if q.mode == "uniform":
            better = (mins > -kk[0]) | ((mins == -kk[0]) & (lengths < kk[1]))
        elif q.mode == "close":
            better = (lengths < kk[0]) | ((lengths == kk[0]) & (mins > -kk[1]))
        else:
            better = (lengths > -kk[0]) | ((lengths == -kk[0]) & (mins > -kk[1]))
        out: np.ndarray = keep & better
        return out

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
        if self.deadline is not None:
            cpu = time.process_time()
            if cpu > self.deadline:
                raise TooLargeError(
                    f"the search did not finish within its time limit ({self._stated or 0:.3g} s "
                    f"of CPU time); narrow it ({self._knobs()}) or raise time_limit "
                    "(--time-limit)"
                )
            self._project(cpu - self._started, done)
        if self.progress is not None and now >= self._next_report:
            self._next_report = now + PROGRESS_EVERY
            self.progress(done)

    def _project(self, spent: float, done: float) -> None:
        """Give up early when the time for the whole space, projected from the fraction
        ``done`` after ``spent`` CPU seconds (at least :data:`PROJECT_AFTER`), exceeds the time
        limit: a search that cannot finish stops within about a second, not at its limit."""
        limit = self._limit
        # (only the most-uniform walk, in rising order, does its space at a steady pace; the
        # other modes front-load their work, and their projections overshoot several times)
        if limit is None or self.q.mode != "uniform" or spent < PROJECT_AFTER:
            return
        if done * limit >= spent:
            return
        if done > 0:
            need = f"would need about {spent / done:.3g} s of CPU time ({done:.1%} of its space "
        else:
            need = "would need far more CPU time (no measurable part of its space "
        raise TooLargeError(
            f"the search {need}done after {spent:.2g} s), more than its time limit "
            f"({self._stated or limit:.3g} s); narrow it ({self._knobs()}) or raise time_limit "
            "(--time-limit)"
        )

    def _knobs(self) -> str:
        """The options that narrow this search, in words."""
        if self.q.mode == "width":  # the Pareto table
            return ("a smaller max_rate (--max-rate), fewer layers (--layers), fewer or lower "
                    "count levels")
        return ("a smaller max_rate (--max-rate), fewer layers (--layers), a lower min_count "
                "(--min-count), a smaller top (--top)")

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
        elif self.width_vector_ok and left >= 2 and prof is not None:
            self._width_children(group, total, prof, choices, left, done, share)
        elif self.vector_ok and left >= 2 and prof is not None:
            pre, deeper = (None, None) if known is None else known[1:3]
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

    def _width_children(
        self,
        group: Ints,
        total: int,
        prof: np.ndarray,
        choices: range,
        left: int,
        done: float,
        share: float,
    ) -> None:
        """Width mode: bound every child at once (:func:`_width_bounds`), then visit the
        children whose bound could still enter the ranking, in the walk's order."""
        rates = np.fromiter(choices, dtype=np.int64, count=len(choices))
        w_hi, lmin = _width_bounds(prof, total, rates, left - 1, self.q)
        self.nodes += len(rates) // 16
        part = share / len(rates)
        for i in np.flatnonzero(w_hi > 0).tolist():
            kk = self.kth()
            if kk is not None and (-int(w_hi[i]), int(lmin[i])) >= kk:
                continue
            a = int(rates[i])
            child = _add_layer(prof, a, self.q.kernel)
            self.dfs((*group, a), total + a, a, child, done + i * part, part, True)

    def _any_could_rank(self, known: Known | None) -> bool:
        """Whether any child in ``known`` (None: no children) could enter the ranking now."""
        if known is None or known[3] is None:
            return False
        kk = self.kth()
        return kk is None or known[3] < kk

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
        best = _best_keys(bounds, [len(r) for r in kids])
        deeper: list[dict[int, tuple[np.ndarray, Any]] | None] = [None] * len(heads)
        if left == 3:  # the children's children, one rate after each: all pairs in one call
            picked: list[tuple[int, int, Ints, int, np.ndarray]] = []
            could = np.split(self._could_rank_now(bounds), np.cumsum([len(r) for r in kids])[:-1])
            chosen = [(j, r[ok]) for j, (ok, r) in enumerate(zip(could, kids)) if ok.any()]
            if chosen:  # every picked child's profile, one matrix for all
                width = max(len(profs[j]) + self.c * int(sel[-1]) for j, sel in chosen)
                mat = _children_matrix(
                    [profs[j] for j, _ in chosen], [sel for _, sel in chosen], self.q.kernel, width
                )
                rows = iter(mat)
                for j, sel in chosen:
                    (g, t), n0, dtype = heads[j], len(profs[j]), profs[j].dtype
                    for a, row in zip(sel.tolist(), rows):
                        prof = row[: n0 + self.c * a].astype(dtype, copy=False)
                        picked.append((j, a, (*g, a), t + a, prof))
            known = self._kids_bounds([(p[2], p[3]) for p in picked], [p[4] for p in picked], 2)
            for (j, a, _, _, prof), kn in zip(picked, known):
                if deeper[j] is None:
                    deeper[j] = {}
                deeper[j][a] = (prof, kn)  # type: ignore[index]
        return [
            (span, part, more, top) if len(r) else None
            for span, part, r, more, top in zip(ranges, parts, kids, deeper, best)
        ]

    def _could_rank_now(self, bounds: Bounds) -> np.ndarray:
        """The children whose bounds could enter the ranking as it stands."""
        feasible, m_hi, lmin = bounds
        kk = self.kth()
        if kk is None:
            return feasible
        out: np.ndarray = feasible & ((m_hi > -kk[0]) | ((m_hi == -kk[0]) & (lmin < kk[1])))
        return out

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


def _best_keys(bounds: Bounds, sizes: list[int]) -> list[tuple[int, int] | None]:
    """Per run of ``sizes`` consecutive rows of ``bounds``: the smallest optimistic key
    ``(-m_hi, lmin)`` of its feasible rows (None when it has none), for all runs at once.

    >>> b = (np.array([True, True, False, True]), np.array([3, 5, 9, 2]), np.array([7, 9, 1, 4]))
    >>> _best_keys(b, [3, 0, 1])
    [(-5, 9), None, (-2, 4)]
    """
    feasible, m_hi, lmin = bounds
    sizes_a = np.array(sizes, dtype=np.int64)
    out: list[tuple[int, int] | None] = [None] * len(sizes)
    full = np.flatnonzero(sizes_a > 0)
    if not len(full) or not feasible.any():
        return out
    starts = (np.cumsum(sizes_a) - sizes_a)[full]
    m_key = np.where(feasible, m_hi, np.iinfo(np.int64).min)
    best_m = np.maximum.reduceat(m_key, starts)
    per_row = np.repeat(np.arange(len(full)), sizes_a[full])
    at_best = feasible & (m_hi == best_m[per_row])
    best_l = np.minimum.reduceat(np.where(at_best, lmin, np.iinfo(np.int64).max), starts)
    for j, m, length, ok in zip(full.tolist(), best_m.tolist(), best_l.tolist(),
                                np.logical_or.reduceat(feasible, starts).tolist()):
        if ok:
            out[j] = (-m, length)
    return out


def _search(
    q: _Query,
    *,
    deadline: float | None = None,
    progress: Callable[[float], None] | None = None,
    limit: float | None = None,
) -> list[_Hit]:
    """Top ``q.top`` sorted groups by the mode's key (smaller is better), exact; ``limit`` is
    the time limit as the caller stated it (for messages; ``deadline`` enforces it)."""
    return _Search(q, deadline=deadline, progress=progress, limit=limit).run()
