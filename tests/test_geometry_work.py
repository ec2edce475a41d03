"""Bounded work: closed forms for huge kernels and windows, up-front refusals by memory, and the
cheap paths (layer construction, palindromic object maps) giving the same answers.

References: brute-force path counting (``test_coverage.brute``, written independently of the
geometry records), the general normalisation of :class:`~atrous.layers.Conv`, and plain
``np.multiply.outer``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_coverage import brute, check_against

import atrous
from atrous import TooLargeError, coverage, receptive_field
from atrous._axis_maps import Budget, outer
from atrous.geometry import Sample, Scatter, Taps, Whole, Windows
from atrous.graph import chain, residual, stack
from atrous.layers import AdaptivePool, Conv, ConvTranspose, Pool


def test_a_deep_object_map_is_refused_up_front_naming_the_knob() -> None:
    start = time.perf_counter()
    with pytest.raises(TooLargeError, match=r"max_bytes=.*pass a larger max_bytes"):
        coverage("(3x3)*1500")
    assert time.perf_counter() - start < 5  # refused from an estimate, before any work
    # the same graph in 1-D is small enough, and its counts are exact Python ints
    cov = coverage("1d: (3)*200")
    assert cov.exact_dtype == "object" and cov.total_paths == 3**200


def test_max_bytes_is_a_real_knob() -> None:
    g = stack([1, 2, 5, 9] * 10)
    with pytest.raises(TooLargeError, match="max_bytes=1,000"):
        coverage(g, max_bytes=1000)
    assert coverage(g).exact_dtype == "object"  # within the default


def test_huge_kernels_and_windows_are_closed_form() -> None:
    start = time.perf_counter()
    assert receptive_field("1d: 100000000").size == (100_000_000,)
    assert receptive_field("1d: 3, 100000000 s7 d3").size == (2 + 3 * (100_000_000 - 1) + 1,)
    n = 10**9
    rf = receptive_field("1d: apool 3", input_size=n)
    assert rf.size == (-(-n // 3),)  # PyTorch's windows: floor(o n / 3) .. ceil((o+1) n / 3)
    with pytest.raises(TooLargeError, match="max_cells"):
        coverage("1d: 100000000")
    with pytest.raises(TooLargeError, match="max_cells"):
        coverage("1d: apool 3", input_size=n)
    assert time.perf_counter() - start < 5


def test_wide_windows_and_kernels_match_brute_force() -> None:
    for g, size in [
        (chain(Conv(3, ndim=1), AdaptivePool("avg", 3, ndim=1)), (1000,)),
        (chain(Conv(40, 2, dilation=3, ndim=1), Conv(3, ndim=1)), (400,)),
        (chain(Conv(3, 2, padding=1, ndim=2), Pool("max", 30, 1, 15, ndim=2)), (50, 45)),
        (chain(Conv(2, ndim=1), ConvTranspose(33, 2, 3, 2, ndim=1)), (30,)),
        (chain(residual([Conv(21, padding=20, dilation=2, ndim=1)]), Conv(3, 2, ndim=1)),
         (120,)),
    ]:
        check_against(coverage(g, input_size=size), brute(g, size))
        if not isinstance(g[g.output].layer, AdaptivePool):
            check_against(coverage(g, unit=7), brute(g, None, (7,) * g.ndim))


def test_palindromic_object_maps_equal_the_plain_outer_product() -> None:
    rates = [1, 2, 5, 9] * 10
    two = coverage(stack(rates, ndim=2)).counts
    one = coverage(stack(rates, ndim=1)).counts.astype(object)
    assert two.dtype == object and (two == np.multiply.outer(one, one)).all()
    rect = coverage(chain(Conv(3, dilation=(1, 2), ndim=2), stack(rates, ndim=2))).counts
    a = coverage(chain(Conv(3, ndim=1), stack(rates, ndim=1))).counts.astype(object)
    b = coverage(chain(Conv(3, dilation=2, ndim=1), stack(rates, ndim=1))).counts.astype(object)
    assert (rect == np.multiply.outer(a, b)).all()
    big = 2**70
    odd = np.array([1, 3, 7, 3, 1], dtype=object) * big
    even = np.array([2, 5, 5, 2], dtype=object) * big
    skew = np.array([1, 2, 3], dtype=object) * big
    for factors in ([odd, even], [odd, skew], [even, odd, skew], [skew, skew], [odd, odd]):
        want = factors[0]
        for f in factors[1:]:
            want = np.multiply.outer(want, f)
        got = outer([(f, 0) for f in factors], Budget(10**9))
        assert got.shape == want.shape and (got == want).all()


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_the_conv_fast_path_equals_the_general_construction(ndim: int) -> None:
    for k in range(1, 6):
        for s in (1, 2, 3):
            for d in (1, 2, 3):
                for p in (0, 1, 2, "same", "valid"):
                    if p == "same" and s > 1:
                        with pytest.raises(atrous.AtrousError, match="size"):
                            Conv(k, s, p, d, ndim=ndim)
                        continue
                    fast = Conv(k, s, p, d, ndim=ndim)
                    general = Conv((k,) * ndim, (s,) * ndim, p, (d,) * ndim)
                    assert fast == general and repr(fast) == repr(general)
    for bad in (0, -1):
        with pytest.raises(atrous.AtrousError, match=">= "):
            Conv(3, padding=bad if bad < 0 else 1, dilation=bad if bad == 0 else 1, ndim=ndim)


def test_input_span_bounds_every_geometry() -> None:
    # the inputs n consecutive outputs read lie within input_span(n) consecutive inputs
    geoms = [Taps(2, 1, 3, 4), Scatter(3, 1, 2, 5), Windows(17, 5), Whole(9),
             Sample("cubic", atrous.rf.Ratio(7, 3), atrous.rf.Ratio(1, 2), None),
             Sample("nearest", atrous.rf.Ratio(2, 5), atrous.rf.Ratio(0), 12)]
    for geom in geoms:
        for first in range(0, 6):
            for n in range(1, 8):
                outputs = range(first, first + n)
                if isinstance(geom, Windows) and outputs[-1] >= geom.n_out:
                    continue  # not an output of the layer
                reads = [i for o in outputs
                         for i in geom.reads_within(o)]
                if reads:
                    assert max(reads) - min(reads) + 1 <= geom.input_span(n), (geom, first, n)


def test_the_geometry_page_examples_run() -> None:
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "geometry.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted >= 3 and result.failed == 0


def test_scatter_reads_in_closed_form_equal_the_enumeration() -> None:
    for s in range(1, 6):
        for d in range(1, 6):
            for k in (1, 2, 3, 7, 12):
                for p in (0, 1, 4):
                    geom = Scatter(s, p, d, k)
                    for o in range(-3, 25):
                        want = sorted((o + p - j * d) // s for j in range(k)
                                      if (o + p - j * d) % s == 0)
                        assert list(geom.reads(o)) == want, (s, d, k, p, o)


def test_every_record_is_periodic_as_it_says() -> None:
    geoms = [Taps(3, 2, 2, 4), Scatter(4, 1, 6, 5), Windows(17, 5), Whole(6),
             Sample("linear", atrous.rf.Ratio(5, 7), atrous.rf.Ratio(-1, 3), None),
             Sample("nearest", atrous.rf.Ratio(3, 2), atrous.rf.Ratio(1, 4), None,
                    "round_prefer_floor")]
    for geom in geoms:
        q, t = geom.period
        for o in range(0, 20):
            assert [i + t for i in geom.reads(o)] == list(geom.reads(o + q)), (geom, o)
