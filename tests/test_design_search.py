"""The design search's bounds, each alone, against exhaustive enumeration of small spaces.

Every bound must hold for *every* completion of a partial schedule (a sorted group of rates,
gridding-free by the criterion), so each test enumerates all completions by brute force and
checks the bound against the real value of each one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import numpy as np
import pytest

import atrous
from atrous._design_bounds import _first_offset_bounds, _start_bounds
from atrous._design_search import (
    _add_layer,
    _child_bounds,
    _children_matrix,
    _greedy_sum,
    _last_starts,
    _min_sum,
    _most_sum,
    _pair_bounds,
    _Query,
    _Search,
    _shifted_sums,
    _space,
    _tail_floor,
    _width_bounds,
    _width_of,
    _window_ceiling,
    _window_min,
)
from atrous.errors import TooLargeError


def completions(
    prefix: tuple[int, ...], left: int, kernel: int, cap: int, strict: bool = False
) -> Iterator[tuple[int, ...]]:
    """Every sorted gridding-free completion of ``prefix`` by ``left`` rates ``<= cap``."""
    c = kernel - 1
    low = prefix[-1] + (1 if strict else 0)
    for extra in itertools.combinations_with_replacement(range(low, cap + 1), left):
        if strict and len(set(extra)) < len(extra):
            continue
        rates = prefix + extra
        rf = 1
        for r in rates:
            if r > rf:
                break
            rf += c * r
        else:
            yield rates


def profile(rates: tuple[int, ...], kernel: int) -> np.ndarray:
    """The 1-D counts by direct convolution of tap patterns (numpy, independent of the search)."""
    prof = np.ones(1, dtype=np.int64)
    for r in rates:
        taps = np.zeros((kernel - 1) * r + 1, dtype=np.int64)
        taps[::r] = 1
        prof = np.convolve(prof, taps)
    return prof


PREFIXES = [(1,), (1, 1), (1, 2), (1, 3), (1, 2, 4), (1, 1, 3)]


def query(mode: str, left_total: int, cap: int, target: int | None, count: int) -> _Query:
    return _Query(3, 1, left_total, cap, target, count, mode, 1, False, 10**9)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("left", [1, 2, 3])
def test_greedy_sum_is_the_largest_and_min_sum_the_smallest_completion(
    prefix: tuple[int, ...], left: int
) -> None:
    q = query("rf", len(prefix) + left, 12, None, 1)
    sums = [sum(r) for r in completions(prefix, left, 3, 12)]
    hi = _greedy_sum(sum(prefix), prefix[-1], left, q)
    if not sums:
        assert hi is None
        return
    assert hi == max(sums)
    assert _min_sum(sum(prefix), prefix[-1], left, q) == min(sums)


def test_most_sum_is_the_largest_gridding_free_sum() -> None:
    for layers, cap in [(2, 3), (3, 5), (4, 7), (4, 40)]:
        best = max(sum(r) for r in completions((1,), layers - 1, 3, cap))
        assert _most_sum(3, layers, cap) == best


@pytest.mark.parametrize("prefix", PREFIXES)
def test_tail_floor_is_below_every_completions_left_mass(prefix: tuple[int, ...]) -> None:
    prof = profile(prefix, 3)
    for stop in range(0, 14):
        floor = _tail_floor(prof, stop)
        for rates in completions(prefix, 2, 3, 10):
            final = profile(rates, 3)
            assert floor <= int(final[:stop].sum()), (prefix, rates, stop)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("target", [9, 15, 21])
def test_window_ceiling_bounds_the_window_minimum_at_its_start(
    prefix: tuple[int, ...], target: int
) -> None:
    left, cap = 2, 10
    finals = [r for r in completions(prefix, left, 3, cap) if 1 + 2 * sum(r) >= target]
    if not finals:
        return
    lengths = [1 + 2 * sum(r) for r in finals]
    lmin, lmax = min(lengths), max(lengths)
    smin, smax = (lmin - target) // 2, (lmax - target) // 2
    prof = profile(prefix, 3)
    mass = 3 ** (len(prefix) + left)
    per_s, s_end = _window_ceiling(prof, prefix[-1], left, 3, target, smin, smax, mass)
    for rates, length in zip(finals, lengths):
        s = (length - target) // 2
        real = int(profile(rates, 3)[s : s + target].min())
        bound = per_s[min(s, s_end + 1) - smin] if s > s_end else per_s[s - smin]
        assert real <= bound, (rates, s, real, bound)


def real_key(mode: str, rates: tuple[int, ...], target: int | None, count: int) -> tuple | None:
    """The ranking key of a finished schedule, or None when it does not qualify."""
    prof = profile(rates, 3)
    length = len(prof)
    if mode == "width":
        w = _width_of(prof, count)
        return None if w <= 0 else (-w, length)
    if target is not None and length < target:
        return None
    m1 = _window_min(prof, target)
    if m1 < count:
        return None
    return {"rf": (-length, -m1), "close": (length, -m1), "uniform": (-m1, length)}[mode]


@pytest.mark.parametrize(
    ("mode", "target", "count"),
    [("uniform", 21, 1), ("uniform", 15, 2), ("close", 21, 2), ("rf", 15, 2), ("width", None, 2)],
)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_search_bound_is_optimistic_for_every_completion(
    mode: str, target: int | None, count: int, prefix: tuple[int, ...]
) -> None:
    left, cap = 2, 10
    q = query(mode, len(prefix) + left, cap, target, count)
    search = _Search(q)
    prof = profile(prefix, 3)
    bound = search.bound(sum(prefix), prefix[-1], left, prof)
    keys = [k for r in completions(prefix, left, 3, cap) if (k := real_key(mode, r, target, count))]
    if bound is None:
        assert not keys, (prefix, keys)
        return
    for key in keys:
        assert bound <= key, (prefix, bound, key)


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("prefix", [(1,), (1, 1), (1, 2), (1, 1, 3)])
def test_width_bounds_of_all_children_are_the_per_node_bound(
    prefix: tuple[int, ...], count: int
) -> None:
    # every child of ``prefix`` (one more rate), then one or two rates: each row equals the
    # search's per-node bound of that child and is optimistic for each of its completions
    cap = 10
    for left in (1, 2):
        q = query("width", len(prefix) + 1 + left, cap, None, count)
        search = _Search(q)
        rates = np.arange(prefix[-1], min(cap, 1 + 2 * sum(prefix)) + 1)
        w_hi, lmin = _width_bounds(profile(prefix, 3), sum(prefix), rates, left, q)
        for a, w, lo in zip(rates.tolist(), w_hi.tolist(), lmin.tolist()):
            child = (*prefix, a)
            one = search.bound(sum(child), a, left, profile(child, 3))
            assert (one is None and w <= 0) or one == (-w, lo), (child, one, w, lo)
            finals = completions(child, left, 3, cap)
            keys = [k for r in finals if (k := real_key("width", r, None, count))]
            assert all((-w, lo) <= key for key in keys), (child, w, lo, keys)


@pytest.mark.parametrize("left", [1, 2, 3])
def test_first_offset_bounds_read_at_the_starts_equal_the_whole_row_pass(left: int) -> None:
    # the children of three parents, each row with its own span of window starts (some with
    # the shared start past s_end): the per-start reads give each row's best of the whole-row
    # pass of _start_bounds
    prefixes = [(1, 1, 2), (1, 2, 5), (1, 3)]
    kids = [np.arange(p[-1], 1 + 2 * sum(p) + 1) for p in prefixes]
    base = _children_matrix([profile(p, 3) for p in prefixes], kids, 3, 60)
    a = np.concatenate(kids)
    n1 = np.concatenate([len(profile(p, 3)) + 2 * r for p, r in zip(prefixes, kids)])
    rows = np.arange(len(a))
    smin = rows % 7
    s_end = smin + rows % 5
    smax = s_end + rows % 2
    q = _Query(3, 1, 8, 64, 41, 1, "uniform", 10, False, 10**9)
    whole = _start_bounds(base, n1, a, left, q, smin, s_end, smax, False).max(axis=1)
    got = _first_offset_bounds(base, a, left, q, smin, s_end, smax)
    assert got.tolist() == whole.tolist()


def test_children_matrix_of_many_parents_equals_one_more_layer_each() -> None:
    # five parents (the one-matrix read for all of them), one without children
    prefixes = [(1,), (1, 1), (1, 2), (1, 1, 3), (1, 2, 4)]
    kids = [np.arange(p[-1], 1 + 2 * sum(p) + 1) for p in prefixes]
    kids[2] = kids[2][:0]
    got = _children_matrix([profile(p, 3) for p in prefixes], kids, 3, 30)
    want = [profile((*p, a), 3) for p, r in zip(prefixes, kids) for a in r.tolist()]
    assert len(got) == len(want)
    for row, w in zip(got, want):
        assert row[: len(w)].tolist() == w[:30].tolist() and not row[len(w) :].any()


def test_shifted_sums_equal_one_more_layer() -> None:
    prof = profile((1, 2), 3)
    rates = np.array([1, 2, 5, 9])
    got = _shifted_sums(prof, rates, 3, 40)
    for row, a in zip(got, rates.tolist()):
        want = _add_layer(prof, a, 3)
        assert row[: len(want)].tolist() == want.tolist()
        assert not row[len(want) :].any()


def test_search_finds_what_brute_force_ranks_first() -> None:
    q = _Query(3, 1, 5, 12, 31, 1, "uniform", 3, False, 10**9)
    hits = _Search(q).run()
    ranked = sorted(
        (k, r) for r in completions((1,), 4, 3, 12) if (k := real_key("uniform", r, 31, 1))
    )
    assert [h.key for h in hits] == [k for k, _ in ranked[:3]]


def test_time_limit_and_progress() -> None:
    q = _Query(3, 1, 8, 64, 129, 1, "uniform", 10, False, 10**9)
    seen: list[float] = []
    search = _Search(q, deadline=time.process_time() + 0.3, progress=seen.append)
    search._next_report = 0.0  # report at the first chance
    with pytest.raises(TooLargeError, match=r"time limit \(0\.[23]\d* s of CPU time\).*time_limit"):
        search.run()
    assert seen and all(0.0 <= f <= 1.0 for f in seen) and seen == sorted(seen)


def test_a_search_projected_past_its_limit_gives_up_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 9 layers, rates <= 32, RF 129: about 25 s of CPU in all (its near-optimal schedules
    # tie by the thousand), so with a 2 s limit it must give up at the first projection
    # (here after 0.2 s), not run into the limit
    import atrous._design_search as search_module

    monkeypatch.setattr(search_module, "PROJECT_AFTER", 0.2)
    q = _Query(3, 1, 9, 32, 129, 1, "uniform", 10, False, 10**9)
    start = time.process_time()
    search = _Search(q, deadline=start + 2.0)
    with pytest.raises(TooLargeError, match=r"would need about .* s of CPU time.*time_limit"):
        search.run()
    assert time.process_time() - start < 1.5


def test_projection_leaves_a_search_within_its_limit_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 8 layers, rates <= 16, RF 129: a few tenths of a second; projected from 0.02 s on, it
    # stays within a 5 s limit and answers, the same as without a limit
    import atrous._design_search as search_module

    monkeypatch.setattr(search_module, "PROJECT_AFTER", 0.02)
    q = _Query(3, 1, 8, 16, 129, 1, "uniform", 10, False, 10**9)
    hits = _Search(q, deadline=time.process_time() + 5.0).run()
    assert [h.rates for h in hits] == [h.rates for h in _Search(q).run()]
    assert len(hits) == 10


@pytest.mark.parametrize(
    ("kernel", "size", "groups", "cap", "strict"),
    [
        (3, 4, 1, 12, False),
        (3, 4, 1, None, False),
        (2, 6, 1, 9, False),
        (4, 4, 1, 30, False),
        (3, 3, 2, 20, True),
        (3, 3, 2, None, True),
        (3, 3, 3, 10, False),
    ],
)
def test_space_counts_every_sorted_gridding_free_group(
    kernel: int, size: int, groups: int, cap: int | None, strict: bool
) -> None:
    c, top = kernel - 1, 40 if cap is None else cap  # (no rate of these can pass 40)
    want = 0
    for rest in itertools.combinations_with_replacement(range(1, top + 1), size - 1):
        rates = (1, *rest)
        if strict and len(set(rates)) < size:
            continue
        total, ok = 0, True
        for r in rates:  # each rate of a group counts ``groups`` times in the sums
            ok = ok and r <= 1 + c * total
            total += groups * r
        want += ok
    assert _space(kernel, size, groups, cap, strict, 1e12) == want


def test_space_stops_counting_past_the_limit() -> None:
    full = _space(3, 8, 1, 64, False, 1e12)
    assert 1e6 < _space(3, 8, 1, 64, False, 1e6) < full


@pytest.mark.parametrize("prefix", [(1, 1, 2), (1, 2, 3), (1, 1, 1, 3), (1, 2, 2, 5)])
@pytest.mark.parametrize(("target", "count"), [(21, 1), (31, 2), (45, 1)])
def test_pair_bounds_are_optimistic_for_every_pair(
    prefix: tuple[int, ...], target: int, count: int
) -> None:
    cap, layers = 12, len(prefix) + 2
    q = _Query(3, 1, layers, cap, target, count, "uniform", 1, False, 10**9)
    prof = profile(prefix, 3)
    c = prefix[-1]
    rates = np.arange(c, min(cap, 1 + 2 * sum(prefix)) + 1)
    feasible, m_hi, lmin = _pair_bounds([prof], [rates], q, None)
    for i, a in enumerate(rates.tolist()):
        keys = [
            k
            for r in completions((*prefix, a), 1, 3, cap)
            if (k := real_key("uniform", r, target, count))
        ]
        if not feasible[i]:
            assert not keys, (prefix, a, keys)
            continue
        bound = (-int(m_hi[i]), int(lmin[i]))
        assert all(bound <= key for key in keys), (prefix, a, bound, min(keys))


def brute_force_uniform(layers: int, cap: int, target: int, top: int) -> list[tuple[int, ...]]:
    """The ``top`` most uniform multisets by exhaustive enumeration, ties by the rates."""
    ranked = sorted(
        (k, r)
        for r in completions((1,), layers - 1, 3, cap)
        if (k := real_key("uniform", r, target, 1))
    )
    return [r for _, r in ranked[:top]]


@pytest.mark.parametrize(
    ("layers", "cap", "target"), [pytest.param(6, 24, 81, marks=pytest.mark.slow), (7, 12, 61)]
)
def test_default_top_ten_equals_brute_force(layers: int, cap: int, target: int) -> None:
    got = atrous.design(kernel=3, layers=layers, target_rf=target, max_rate=cap, ndim=1)
    assert [c.rates for c in got] == brute_force_uniform(layers, cap, target, 10)


def test_bounds_of_several_parents_equal_the_bounds_of_each() -> None:
    prefixes = [(1, 1, 2), (1, 2, 3), (1, 1), (1, 3, 4)]
    profs = [profile(p, 3) for p in prefixes]
    kids = [np.arange(p[-1], min(12, 1 + 2 * sum(p)) + 1) for p in prefixes]
    for left, kk in [(1, None), (2, None), (2, (-3, 40))]:
        q = _Query(3, 1, 3 + 1 + left, 12, 31, 1, "uniform", 1, False, 10**9)
        totals = [sum(p) for p in prefixes]
        together = _child_bounds(profs, totals, kids, left, q, kk)
        alone = [_child_bounds([p], [t], [r], left, q, kk) for p, t, r in zip(profs, totals, kids)]
        for got, want in zip(together, zip(*alone)):
            assert got.tolist() == np.concatenate(want).tolist()
        pairs = _pair_bounds(profs, kids, q, kk)
        alone = [_pair_bounds([p], [r], q, kk) for p, r in zip(profs, kids)]
        for got, want in zip(pairs, zip(*alone)):
            assert got.tolist() == np.concatenate(want).tolist()


@pytest.mark.parametrize(("cap", "target", "left"), [(12, 31, 2), (None, 61, 3), (64, 129, 1)])
def test_child_ranges_of_many_nodes_equal_each_nodes(
    cap: int | None, target: int, left: int
) -> None:
    search = _Search(_Query(3, 1, 4 + left, cap, target, 1, "uniform", 10, False, 10**9))
    heads = [(g, sum(g)) for g in [(1,), (1, 1), (1, 2, 5), (1, 3, 9), (1, 1, 1, 3), (1, 2, 2)]]
    want = [search._child_range(g, t, g[-1], left) for g, t in heads]
    assert search._child_ranges(heads, left) == want


def test_last_starts_are_the_last_within_the_mass_limit() -> None:
    prefixes = [(1, 1, 2), (1, 2, 3), (1, 1)]
    profs = [profile(p, 3) for p in prefixes]
    kids = [np.arange(p[-1], 1 + 2 * sum(p) + 1) for p in prefixes]
    idx = np.arange(sum(len(r) for r in kids))
    smin, smax = np.zeros(len(idx), dtype=np.int64), np.full(len(idx), 60, dtype=np.int64)
    for limit in (5, 40, 200):
        got = _last_starts(profs, kids, idx, smin, smax, limit, 3).tolist()
        want = []
        for p, r in zip(prefixes, kids):
            for a in r.tolist():
                child = np.concatenate([[0], np.cumsum(profile((*p, a), 3))])
                mass = [int(child[min(s, len(child) - 1)]) for s in range(61)]
                want.append(max(s for s in range(61) if mass[s] <= limit or s == 0))
        assert got == want


def test_the_search_reads_its_taps_from_the_geometry(monkeypatch: pytest.MonkeyPatch) -> None:
    # a (hypothetical) change of the geometry's Taps rule reaches the search's profiles, and
    # the vectorised bounds, which assume offsets t * rate, refuse to run instead of disagreeing
    from atrous import _design_bounds, geometry

    def doubled(self: geometry.Taps, o: int) -> range:
        return range(0, 2 * self.dilation * (self.kernel - 1) + 1, 2 * self.dilation)

    _design_bounds._tap_offsets.cache_clear()
    monkeypatch.setattr(geometry.Taps, "reads", doubled)
    try:
        assert _add_layer(np.array([1]), 1, 3).tolist() == [1, 0, 1, 0, 1]
        with pytest.raises(RuntimeError, match=r"assume t \* rate"):
            _Search(_Query(3, 1, 3, 9, None, 1, "rf", 1, False, 100))
    finally:
        monkeypatch.undo()
        _design_bounds._tap_offsets.cache_clear()
    assert _add_layer(np.array([1]), 1, 3).tolist() == [1, 1, 1]
