"""HDC rules: the seeds' statement, the exact answer, and where they disagree."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import atrous
from atrous.errors import AtrousError
from atrous.rules import HDCResult, hdc_check, hdc_m, is_sawtooth, sumset_is_interval

rates_st = st.lists(st.integers(1, 12), min_size=1, max_size=6)


def reachable_offsets(rates: list[int], k: int) -> set[int]:
    """Brute force: every sum of one tap offset j*r (0 <= j < k) per layer."""
    return {sum(j * r for j, r in zip(js, rates))
            for js in itertools.product(range(k), repeat=len(rates))}


def exact_free(rates: list[int], k: int) -> bool:
    sums = reachable_offsets(rates, k)
    return sums == set(range(min(sums), max(sums) + 1))


def m_direct(rates: list[int]) -> tuple[int, ...]:
    """The recursion written straight from seed 001, with the middle term in its first form."""
    n = len(rates)
    m = {n: rates[-1]}
    for i in range(n - 1, 0, -1):
        r = rates[i - 1]
        m[i] = max(m[i + 1] - 2 * r, m[i + 1] - 2 * (m[i + 1] - r), r)
    return tuple(m[i] for i in range(1, n + 1))


# -- the seeds' cases -----------------------------------------------------------------------
def test_seed_worked_examples_of_m2() -> None:
    # r = [1, 2, 5]: M_2 = max[5 - 4, 4 - 5, 2] = 2 <= 3;  r = [1, 2, 9]: M_2 = max[9-4, 4-9, 2] = 5
    ok = hdc_check([1, 2, 5], kernel=3)
    assert ok.m2 == max(5 - 2 * 2, 2 * 2 - 5, 2) and ok.m2_le_k
    bad = hdc_check([1, 2, 9], kernel=3)
    assert bad.m2 == max(9 - 2 * 2, 2 * 2 - 9, 2) and not bad.m2_le_k


@pytest.mark.parametrize(
    ("rates", "free"),
    [([1, 2, 5], True), ([1, 2, 9], False), ([2, 2, 2], False), ([1, 2, 3], True),
     ([2, 4, 8], False), ([1, 2, 3, 1, 2, 3], True)],
)
def test_seed_cases_rule_and_exact_agree(rates: list[int], free: bool) -> None:
    res = hdc_check(rates)
    assert res.gridding_free is free
    assert res.rule_passes is free
    assert res.agrees
    assert res.gridding_free == exact_free(rates, 3)
    assert res.gridding_free == (not atrous.coverage(atrous.stack(rates, 3, 2)).gridded)


def test_gcd_case() -> None:
    res = hdc_check([2, 4, 8])
    assert res.gcd == 2 and not res.no_common_factor and not res.rule_passes


def test_two_three_passes_the_stated_rule_but_grids() -> None:
    res = hdc_check([2, 3], kernel=3)
    assert (max(3 - 4, 4 - 3, 2), 3) == res.M
    assert res.m2_le_k and res.sawtooth and res.no_common_factor and res.rule_passes
    assert not res.gridding_free and not res.agrees
    # offsets ±4 are not sums of {0, ±2} + {0, ±3}
    sums = {a + b for a in (-2, 0, 2) for b in (-3, 0, 3)}
    assert set(res.missing) == set(range(-5, 6)) - sums == {-4, 4}
    text = " ".join(res.explanations)
    assert "M_1 = 2" in text and "r_1 = 1" in text and "±4" in text


def test_five_two_one_fails_the_stated_rule_but_covers_everything() -> None:
    res = hdc_check([5, 2, 1])
    assert not res.rule_passes and not res.sawtooth and not res.first_rate_one
    assert res.gridding_free and not res.agrees
    text = " ".join(res.explanations)
    assert "order" in text and "[1, 2, 5]" in text
    assert hdc_check([1, 2, 5]).rule_passes  # same rates, rising: the rule passes


def test_to_dict_is_json() -> None:
    d = json.loads(json.dumps(hdc_check([2, 3]).to_dict()))
    assert d["M"] == [2, 3] and d["missing"] == [-4, 4] and d["agrees"] is False
    assert d["rule_passes"] is True and d["gridding_free"] is False


@pytest.mark.parametrize(
    ("rates", "saw"),
    [([1, 2, 3, 1, 2, 3], True), ([1, 2, 5], True), ([2, 3], True), ([2, 2, 2], False),
     ([5, 2, 1], False), ([1, 2, 3, 3], False), ([1, 2, 3, 1], False), ([4], True)],
)
def test_sawtooth_definition(rates: list[int], saw: bool) -> None:
    assert is_sawtooth(rates) is saw
    assert hdc_check(rates).sawtooth is saw


@pytest.mark.parametrize(
    "bad", [[], [0], [1, -2], "1,2", [1.5], None, [True]],
)
def test_bad_rates_are_rejected(bad: object) -> None:
    with pytest.raises(AtrousError, match="rate"):
        hdc_check(bad)  # type: ignore[arg-type]


def test_bad_kernel_is_rejected() -> None:
    with pytest.raises(AtrousError, match="kernel must be >= 1, got 0"):
        hdc_check([1, 2], kernel=0)


def test_single_layer() -> None:
    assert hdc_check([1]).gridding_free and hdc_check([1]).rule_passes
    assert hdc_check([1]).m2 is None
    two = hdc_check([2])
    assert not two.gridding_free and not two.rule_passes and two.missing == (-1.0, 1.0)


# -- properties -----------------------------------------------------------------------------
@hsettings(max_examples=100)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=5), st.integers(1, 5))
def test_gridding_free_is_the_sumset_being_an_interval(rates: list[int], k: int) -> None:
    res = hdc_check(rates, k)
    assert res.gridding_free == exact_free(rates, k) == sumset_is_interval(rates, k)
    span = (k - 1) * sum(rates)
    assert res.rf_size == span + 1
    assert len(res.missing) == span + 1 - len(reachable_offsets(rates, k))


@hsettings(max_examples=150)
@given(rates_st, st.integers(1, 7))
def test_rule_fields_follow_their_definitions(rates: list[int], k: int) -> None:
    res = hdc_check(rates, k)
    assert res.M == m_direct(rates) == hdc_m(rates)
    assert all(m >= r for m, r in zip(res.M, rates))
    assert res.m2 == (res.M[1] if len(rates) > 1 else None)
    assert res.m2_le_k == (len(rates) == 1 or res.M[1] <= k)
    assert res.gcd == math.gcd(*rates) and res.no_common_factor == (res.gcd == 1)
    assert res.first_rate_one == (rates[0] == 1) == (res.M[0] == 1 or rates[0] == 1)
    assert res.rule_passes == (res.m2_le_k and res.sawtooth and res.no_common_factor)
    assert res.agrees == (res.rule_passes == res.gridding_free)
    assert res.explanations and len(res.explanations) >= 1 + (not res.agrees)
    assert isinstance(res, HDCResult)


@hsettings(max_examples=60)
@given(rates_st, st.integers(2, 5), st.randoms(use_true_random=False))
def test_exact_answer_ignores_order_and_gcd_above_one_always_grids(
    rates: list[int], k: int, rnd: object
) -> None:
    shuffled = list(rates)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert hdc_check(shuffled, k).gridding_free == hdc_check(rates, k).gridding_free
    if math.gcd(*rates) > 1:
        assert not hdc_check(rates, k).gridding_free


@hsettings(max_examples=80)
@given(rates_st, st.integers(3, 7))
def test_m2_le_k_with_first_rate_one_never_grids_for_k_at_least_3(rates: list[int], k: int) -> None:
    """With r_1 = 1 (M_1 = 1) the seeds' bound is sufficient for K >= 3 (brute-force check)."""
    res = hdc_check(rates, k)
    if res.m2_le_k and res.first_rate_one:
        assert exact_free(rates, k)


def test_even_kernel_breaks_the_stated_rule() -> None:
    # K = 2: taps {0, r}; [1, 2, 5] passes the rule (M_2 = 2 <= 2) but offset 4 is unreachable
    res = hdc_check([1, 2, 5], kernel=2)
    assert res.rule_passes and res.first_rate_one and not res.gridding_free
    assert 4 not in reachable_offsets([1, 2, 5], 2)
    assert "even" in " ".join(res.explanations)


def test_fields_too_long_to_map_still_get_the_exact_verdict() -> None:
    from atrous._design import is_gridding_free

    for rates in ([1, 2, 10**11], [1, 2, 4, 10**11], [1] + [3**i for i in range(1, 24)]):
        res = hdc_check(rates)
        assert res.gridding_free == is_gridding_free(rates)
        assert res.rf_size == 1 + 2 * sum(rates)
        if not res.gridding_free:
            assert "too long to list" in res.explanations[0]


# -- plain sentences (issue 16: "fails ... M_2 <= K: True" was cryptic) -------------------------
@pytest.mark.parametrize(
    "rates", [[1, 2, 5], [1, 2, 9], [2, 2, 2], [2, 3], [5, 2, 1], [3], [2, 4, 8]]
)
def test_explanations_and_summary_are_plain_sentences(rates: list[int]) -> None:
    result = hdc_check(rates)
    texts = [result.summary, *result.explanations]
    for text in texts:
        assert "True" not in text and "False" not in text and "<=" not in text
        assert "seed" not in text.lower()
    verdict = "passes" if result.rule_passes else "fails"
    assert result.summary.startswith(f"{verdict}: ")
    assert result.explanations[0].startswith(f"The HDC rule {verdict}: ")
    if result.m2 is not None:
        word = "within" if result.m2_le_k else "larger than"
        assert f"M_2 = {result.m2} is {word} the kernel size K = 3" in result.summary
    factor = "no common factor" if result.gcd == 1 else f"share the factor {result.gcd}"
    assert (factor in result.summary) or len(rates) == 1


def test_the_rules_source_is_the_hdc_paper() -> None:
    import atrous.rules as rules

    doc = rules.__doc__ or ""
    assert "Wang et al." in doc and "WACV 2018" in doc
    assert "seed" not in doc.lower()
    for name in ("hdc_m", "hdc_check", "HDCResult"):
        assert "seed" not in (getattr(rules, name).__doc__ or "").lower()


def test_the_report_states_the_rule_in_words() -> None:
    from atrous import analyze

    lines = [v.value for v in analyze("3x3 d2, 3x3 d4", input_size=64).verdicts()]
    rule = next(t for t in lines if "M_2" in t)
    assert "True" not in rule and "False" not in rule and "<=" not in rule


# -- bounded work (issue 14) -------------------------------------------------------------------
def test_long_and_wide_schedules_are_checked_in_bounded_time() -> None:
    import time

    start = time.process_time()
    long = hdc_check([1] * 2000)  # took 6 s through the coverage engine
    assert long.gridding_free and long.rf_size == 4001
    wide = hdc_check(list(range(1, 300)))  # 9 s before
    assert wide.gridding_free
    huge = hdc_check([10**9, 1])  # a field of 2e9 pixels: the criterion, no map
    assert not huge.gridding_free and huge.missing == ()
    assert sumset_is_interval([10**12, 1]) is False
    assert time.process_time() - start < 3.0


@pytest.mark.parametrize("kernel", [2, 3, 4])
def test_holes_are_the_coverage_maps_zeros(kernel: int) -> None:
    """The bitmask's holes against the coverage engine, every schedule of 3 rates up to 6."""
    from atrous import coverage, stack

    for rates in itertools.product(range(1, 7), repeat=3):
        counts = coverage(stack(list(rates), kernel=kernel, ndim=1)).counts
        centre = (len(counts) - 1) / 2
        want = tuple(float(v) for v in (np.flatnonzero(counts == 0) - centre))
        assert hdc_check(list(rates), kernel).missing == want, rates
