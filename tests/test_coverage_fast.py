"""The fast paths of ``coverage``: a ``stack()`` graph mapped without building its nodes, and
short profiles packed in one Python int. Each is checked against the general engine on the same
layers built node by node (``chain``), and against the exact polynomial product (path counting
with Python ints)."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
from _paths import poly

from atrous import Conv, Graph, Pool, chain, coverage, stack
from atrous._coverage import _inplace_profile, _packed_profile, _profile, tap_profile
from atrous.errors import AtrousError, TooLargeError
from atrous.geometry import Taps


def by_hand(rates: list[int], k: int, ndim: int) -> Graph:
    """The same layers, built by the user: the general engine maps this graph."""
    return chain([Conv(k, dilation=r, padding="same", ndim=ndim) for r in rates])


CASES = [
    ([1, 2, 5, 9] * 2, 3, 2),  # the tutorial's schedule, twice
    ([1, 3], 2, 1),  # even kernel: TensorFlow's padding split
    ([2, 3], 4, 3),
    ([7], 1, 2),
    ([1, 2, 3] * 15, 3, 1),  # 3**45 paths: Python-int counts
    ([1, 2, 5, 9] * 8, 3, 2),  # 1-D fits int64, the 2-D map does not
]


@pytest.mark.parametrize(("rates", "k", "ndim"), CASES)
def test_a_stack_maps_as_the_general_engine_and_the_polynomial(
    rates: list[int], k: int, ndim: int
) -> None:
    g = stack(rates, kernel=k, ndim=ndim)
    fast = coverage(g)
    assert g._plain_stack() is not None  # mapped without building the nodes
    ref = coverage(by_hand(rates, k, ndim))
    assert fast.counts.dtype == ref.counts.dtype
    assert fast.counts.shape == ref.counts.shape and (fast.counts == ref.counts).all()
    assert (fast.offset, fast.node, fast.unit, fast.input_size, fast.diagnostics) == (
        ref.offset, ref.node, ref.unit, ref.input_size, ref.diagnostics)
    one = np.array(poly([(r, k) for r in rates]), dtype=object)
    expected = one
    for _ in range(ndim - 1):
        expected = np.multiply.outer(expected, one)
    assert fast.counts.tolist() == expected.tolist()
    assert fast.offset == (-sum(r * (k - 1) // 2 for r in rates),) * ndim
    assert fast.total_paths == k ** (len(rates) * ndim)
    if ndim == 1:  # the cached profile itself, shared by every call and read-only
        assert coverage(stack(rates, kernel=k, ndim=ndim)).counts is fast.counts
        with pytest.raises(ValueError, match="read-only"):
            fast.counts[0] += 1
    else:
        fast.counts[(0,) * ndim] += 1  # a fresh array each time: the cached profile untouched
    assert (coverage(stack(rates, kernel=k, ndim=ndim)).counts == ref.counts).all()


def test_a_stack_graph_is_the_graph_built_node_by_node() -> None:
    lazy = stack([1, 2, 5, 2], ndim=2, name="s")
    eager = Graph(2, name="s")
    for i, r in enumerate([1, 2, 5, 2]):
        eager.add(Conv(3, dilation=r, padding="same", ndim=2), name=f"conv{i}")
    assert repr(lazy) == repr(eager)
    assert list(lazy) == list(eager)  # names, layers, inputs, meta
    assert lazy._plain_stack() is None  # its nodes are built now
    assert lazy.outputs == eager.outputs and lazy.is_chain()
    assert lazy.shapes((32, 32)) == eager.shapes((32, 32))


def test_changes_after_stack_are_mapped() -> None:
    g = stack([1, 2], ndim=2)
    g.add(Conv(3, stride=2, padding=1, ndim=2))
    strided = chain(by_hand([1, 2], 3, 2), Conv(3, stride=2, padding=1, ndim=2))
    assert (coverage(g).counts == coverage(strided).counts).all()
    g = stack([1, 2, 5], ndim=1)
    g.set_outputs("conv1")
    cov = coverage(g)
    assert cov.node == "conv1" and cov.counts.tolist() == poly([(1, 3), (2, 3)])
    g = stack([1, 2], ndim=1)
    g.add(Pool("max", 2, stride=1, ndim=1))  # a stride-1 pool: the chain path, as taps
    assert coverage(g).counts.tolist() == poly([(1, 3), (2, 3), (1, 2)])


def test_copies_of_a_stack_graph_map_alike() -> None:
    g = stack([1, 2, 5])
    ref = coverage(by_hand([1, 2, 5], 3, 2)).counts
    for other in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g), copy.copy(g)):
        assert (coverage(other).counts == ref).all()
        assert len(other) == 3 and [n.name for n in other] == ["input", *map("conv{}".format,
                                                                              range(3))]
    assert g._plain_stack() is not None  # the copies built their own nodes, not g's


@pytest.mark.parametrize("limits", [{"max_cells": 100}, {"max_bytes": 30_000},
                                    {"max_cells": 68}])
def test_refusals_are_the_general_engines(limits: dict[str, int]) -> None:
    for rates in ([1, 2, 5, 9] * 2, [1, 2, 5, 9] * 8):
        with pytest.raises(TooLargeError) as fast:
            coverage(stack(rates), **limits)
        with pytest.raises(TooLargeError) as ref:
            coverage(by_hand(rates, 3, 2), **limits)
        assert str(fast.value) == str(ref.value)


def test_stack_validates_as_before() -> None:
    g = stack((np.int64(2), 3), ndim=1)
    assert [type(d) for n in g.layer_nodes() for d in n.layer.dilation] == [int, int]
    for bad, words in [
        (lambda: stack([np.int64(2), 0]), "rate #1 must be >= 1"),
        (lambda: stack([1, 2.0]), "rate #1 must be an integer"),
        (lambda: stack([1], ndim=4), "ndim must be 1, 2 or 3"),
        (lambda: stack([1], kernel=0), "kernel must be >= 1"),
        (lambda: stack([1], kernel=2**63), "kernel must be below 2**63"),
        (lambda: stack("12"), "rates must be a non-empty sequence"),
        (lambda: stack(()), "rates must be a non-empty sequence"),
        (lambda: stack(np.array([1, 2])), "rates must be a non-empty sequence"),
    ]:
        with pytest.raises(AtrousError, match=words.replace("*", r"\*")):
            bad()


@pytest.mark.parametrize("layers", [
    [],
    [(1, 1)],
    [(3, 1), (2, 5)],
    [(1, 3)] * 40,  # Python ints (3**40 paths)
    [(2, 2), (1, 7)] * 25,
    [(5, 16), (3, 16)] * 8,  # 16**16 = 2**64 paths, the widest packed kernel
    [(1, 17), (2, 3)],  # 17 taps: numpy's shifted adds
    [(3 ** (i % 7), 3) for i in range(12)],  # a long int64 profile: built in place
    [(3**i, 3) for i in range(10)],  # 59,049 entries: every layer tiles (d >= built part)
    [(1, 2), (1, 2), (3, 5), (700, 1), (700, 16), (2, 16)],  # overlapping and tiling layers
    [(1, 3), (1, 17), (1000, 3)],  # 17 taps: numpy's shifted adds
])
def test_profiles_are_the_polynomial_product(layers: list[tuple[int, int]]) -> None:
    key = tuple(sorted(layers))
    got = _profile.__wrapped__(key)
    assert got.tolist() == poly(layers)
    big = math.prod(k for _, k in layers) >= 2**62
    assert got.dtype == (object if big else np.int64) and not got.flags.writeable
    public = tap_profile([Taps(1, 0, d, k) for d, k in layers])
    assert public.tolist() == poly(layers) and public.flags.writeable


def test_threads_reading_one_stack_graph_see_all_its_nodes() -> None:
    import threading

    graphs = [stack([1, 2, 5, 9] * 2) for _ in range(100)]
    seen: list[tuple[int, str]] = []
    start = threading.Barrier(4)

    def read() -> None:
        start.wait()
        for g in graphs:
            seen.append((len(g), g[g.output].name))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [(8, "conv7")] * 400


@pytest.mark.parametrize("layers", [
    [(1, 3), (2, 3), (5, 3), (9, 3)] * 2,  # short: overlapping layers
    [(2**i, 2) for i in range(10)] * 3,  # WaveNet: tiles, then overlaps
    [(1, 16), (20, 16), (400, 2), (400, 2), (401, 1)],
])
def test_the_in_place_profile_is_the_packed_one(layers: list[tuple[int, int]]) -> None:
    key = tuple(sorted(layers))
    length = 1 + sum((k - 1) * d for d, k in key)
    paths = math.prod(k for _, k in key)
    got = _inplace_profile(key, length)
    assert got.dtype == np.int64 and not got.flags.writeable
    assert got.tolist() == _packed_profile(key, length, paths).tolist() == poly(layers)


@pytest.mark.parametrize(("rates", "k"), [
    ([1, 100, 10_000, 100_000], 3),  # 220,203 entries (int64)
    ([1] * 62, 2),  # 2**62 paths: a Python-int profile whose counts fit int64
    ([1, 2, 3] * 15, 3),  # Python ints
])
def test_a_1d_map_is_the_cached_profile_not_a_copy(rates: list[int], k: int) -> None:
    ref = coverage(by_hand(rates, k, 1)).counts
    first = coverage(stack(rates, kernel=k, ndim=1)).counts
    again = coverage(stack(rates, kernel=k, ndim=1)).counts
    assert first.dtype == ref.dtype and first.tolist() == ref.tolist() == poly([(r, k) for r in
                                                                                 rates])
    key = tuple(sorted((r, k) for r in rates))
    if first.dtype == _profile(key).dtype:  # shared, read-only: no copy per call
        assert first is again is _profile(key) and not first.flags.writeable
    else:  # the profile converted to int64: a fresh array each time
        assert first is not again and first.flags.writeable
    if k ** len(rates) < 2**62:  # int64 paths: the general engine's stride-1 chain shares it
        assert ref is _profile(key) and not ref.flags.writeable
