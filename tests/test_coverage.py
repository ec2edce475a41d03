"""Coverage maps against brute-force path counting (and against torch autograd).

The reference here is deliberately naive and independent of ``atrous.coverage``: a dictionary of
``position -> number of paths``, pushed backwards through every node by enumerating, for each
output position, the input positions it reads (written straight from PyTorch's definitions, all
axes at once). For stride-1 stacks the seed's own ``dilated_conv_all_map`` loop is ported as is.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from _paths import poly
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import atrous
from atrous import (
    AdaptivePool,
    Conv,
    ConvTranspose,
    Dense,
    GlobalPool,
    Graph,
    Opaque,
    Pad,
    Pointwise,
    Pool,
    Slice,
    Upsample,
    chain,
    parallel,
    residual,
    stack,
)
from atrous._coverage import Coverage, CoverageUnavailable, coverage, layer_gridding
from atrous.errors import AtrousError, TooLargeError
from atrous.layers import Input, Merge

Pos = tuple[int, ...]


# -- the references -------------------------------------------------------------------------
def _axis_reads(layer: Any, o: int, a: int, n_in: int | None, n_out: int | None) -> list[int]:
    """Input positions (one axis) read by output ``o``; used only for the separable ops."""
    if isinstance(layer, Upsample):
        f = layer.scale[a]
        if layer.mode == "nearest":
            return [o // f]
        if layer.align_corners:
            src = Fraction(0) if n_out == 1 else Fraction(o * (n_in - 1), n_out - 1)
        else:
            src = Fraction(2 * o + 1, 2 * f) - Fraction(1, 2)
            if src < 0 and layer.mode != "bicubic" and n_in is not None:
                src = Fraction(0)
        i0 = math.floor(src)
        exact = src == i0
        taps = [i0] if exact else (
            [i0 - 1, i0, i0 + 1, i0 + 2] if layer.mode == "bicubic" else [i0, i0 + 1]
        )
        if n_in is not None:
            taps = [min(max(i, 0), n_in - 1) for i in taps]
        return sorted(set(taps))
    if isinstance(layer, AdaptivePool):
        t = layer.target[a]
        return list(range(math.floor(o * n_in / t), math.ceil((o + 1) * n_in / t)))
    raise AssertionError(layer)


def reads(layer: Any, o: Pos, n_in: Pos | None, n_out: Pos | None) -> list[Pos]:
    """Every input position output position ``o`` of ``layer`` reads (PyTorch's definitions)."""
    nd = len(o)
    if isinstance(layer, (Conv, Pool)):
        pads = [p[0] if isinstance(p, tuple) else p for p in layer.padding]
        return [
            tuple(o[a] * layer.stride[a] - pads[a] + j[a] * layer.dilation[a] for a in range(nd))
            for j in itertools.product(*(range(k) for k in layer.kernel))
        ]
    if isinstance(layer, ConvTranspose):
        out = []
        for j in itertools.product(*(range(k) for k in layer.kernel)):
            num = [o[a] + layer.padding[a] - j[a] * layer.dilation[a] for a in range(nd)]
            if all(v % s == 0 for v, s in zip(num, layer.stride)):
                out.append(tuple(v // s for v, s in zip(num, layer.stride)))
        return out
    if isinstance(layer, Pad):
        return [tuple(o[a] - layer.padding[a][0] for a in range(nd))]
    if isinstance(layer, Slice):
        return [tuple(layer.start[a] + o[a] * layer.step[a] for a in range(nd))]
    if isinstance(layer, Merge) and n_in is not None:
        return [tuple(0 if n == 1 else v for v, n in zip(o, n_in))]  # size-1 inputs broadcast
    if isinstance(layer, (Pointwise, Merge)):
        return [o]
    if isinstance(layer, (GlobalPool, Dense)) or (
        isinstance(layer, AdaptivePool) and layer.is_global
    ):
        assert n_in is not None
        return list(itertools.product(*(range(n) for n in n_in)))
    if isinstance(layer, (Upsample, AdaptivePool)):
        per_axis = [
            _axis_reads(layer, o[a], a, None if n_in is None else n_in[a],
                        None if n_out is None else n_out[a])
            for a in range(nd)
        ]
        return list(itertools.product(*per_axis))
    raise AssertionError(f"no reference for {layer!r}")


def brute(g: Graph, input_size: Pos | None = None, unit: Pos | None = None,
          node: str | None = None) -> dict[Pos, int]:
    """Count paths by pushing a dict of positions backwards through every node."""
    target = node or g.output
    sizes = g.shapes(input_size) if input_size is not None else None
    if unit is None:
        unit = (0,) * g.ndim if sizes is None else tuple((n - 1) // 2 for n in sizes[target])
    maps: dict[str, dict[Pos, int]] = defaultdict(lambda: defaultdict(int))
    maps[target][unit] = 1
    for nd in reversed(g.topological()):
        if nd.name not in maps or isinstance(nd.layer, Input):
            continue
        here = maps.pop(nd.name)
        for src in nd.inputs:
            n_in = None if sizes is None else sizes[src]
            n_out = None if sizes is None else sizes[nd.name]
            for pos, c in here.items():
                for p in reads(nd.layer, pos, n_in, n_out):
                    if n_in is None or all(0 <= v < n for v, n in zip(p, n_in)):
                        maps[src][p] += c
    return {p: c for p, c in maps.get("input", {}).items() if c}


def check_against(cov: Coverage, ref: dict[Pos, int]) -> None:
    """``cov.counts`` equals the reference, and its box is exactly the reference's bounding box."""
    assert ref, "the reference reaches no pixel"
    nd = len(next(iter(ref)))
    lo = tuple(min(p[a] for p in ref) for a in range(nd))
    hi = tuple(max(p[a] for p in ref) for a in range(nd))
    assert cov.offset == lo
    assert cov.rf_size == tuple(h - low + 1 for h, low in zip(hi, lo))
    expected = np.zeros(cov.rf_size, dtype=object)
    for p, c in ref.items():
        expected[tuple(v - low for v, low in zip(p, lo))] = c
    assert (cov.counts == expected).all()
    assert cov.holes == expected.size - len(ref)
    assert cov.gridded == (expected.size > len(ref))
    assert cov.fraction == len(ref) / expected.size
    assert cov.max_count == max(ref.values())
    assert cov.total_paths == sum(ref.values())


def dilated_conv_all_map(dilated_map: np.ndarray, k: int = 3, r: int = 1) -> np.ndarray:
    """Seed 001's loop, ported as written (object dtype so it cannot overflow)."""
    new_map = np.zeros_like(dilated_map)
    for i in range(dilated_map.shape[0]):
        for j in range(dilated_map.shape[1]):
            if dilated_map[i][j] > 0:
                left_top = (j - ((k - 1) // 2) * r, i - ((k - 1) // 2) * r)
                for a in range(k):
                    for b in range(k):
                        new_map[left_top[1] + a * r][left_top[0] + b * r] += dilated_map[i][j]
    return new_map


def seed_map(rates: list[int], k: int) -> np.ndarray:
    size = 2 * sum(r * (k - 1) // 2 for r in rates) + 1
    m = np.zeros((size, size), dtype=object)
    m[size // 2][size // 2] = 1
    for r in rates[::-1]:
        m = dilated_conv_all_map(m, k=k, r=r)
    return m


# -- the seed's case ------------------------------------------------------------------------
@pytest.mark.parametrize("rates", [[1, 2, 5], [1, 2, 9], [2, 2, 2], [1, 2, 3], [2, 4, 8]])
def test_seed_schedules_match_the_seed_loop(rates: list[int]) -> None:
    cov = coverage(stack(rates))
    assert (cov.counts == seed_map(rates, 3)).all()
    half = sum(rates)
    assert cov.offset == (-half, -half)
    assert cov.rf_size == (2 * half + 1, 2 * half + 1)


@hsettings(max_examples=25)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4),
       st.sampled_from([1, 3, 5, 7]))
def test_random_stacks_match_the_seed_loop(rates: list[int], k: int) -> None:
    assert (coverage(stack(rates, kernel=k)).counts == seed_map(rates, k)).all()


@hsettings(max_examples=40)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=5), st.integers(1, 7),
       st.integers(1, 3), st.randoms(use_true_random=False))
def test_stacks_any_kernel_any_ndim_match_brute_force(
    rates: list[int], k: int, ndim: int, rnd: Any
) -> None:
    if ndim == 3:
        rates, k = rates[:2], min(k, 4)
    g = stack(rates, kernel=k, ndim=ndim)
    check_against(coverage(g), brute(g))
    # the order of the layers does not matter (convolution of tap patterns commutes)
    shuffled = list(rates)
    rnd.shuffle(shuffled)
    assert (coverage(stack(shuffled, kernel=k, ndim=ndim)).counts == coverage(g).counts).all()


def test_coverage_is_the_product_over_axes_for_square_stacks() -> None:
    one = coverage(stack([1, 2, 5, 9], ndim=1)).counts
    two = coverage(stack([1, 2, 5, 9], ndim=2)).counts
    assert (two == np.multiply.outer(one, one)).all()


# -- random graphs --------------------------------------------------------------------------
def layer_strategy(ndim: int) -> st.SearchStrategy[Any]:
    per_axis = st.integers(1, 3)
    conv = st.builds(
        lambda k, s, d, p: Conv(k, stride=s, dilation=d, padding=p, ndim=ndim),
        st.integers(1, 5), st.integers(1, 2), st.integers(1, 3), st.integers(0, 3),
    )
    aniso = st.builds(
        lambda k, d: Conv(tuple(k[:ndim]), dilation=tuple(d[:ndim]), padding="same", ndim=ndim),
        st.lists(st.integers(1, 4), min_size=3, max_size=3),
        st.lists(per_axis, min_size=3, max_size=3),
    )
    pool = st.builds(
        lambda mode, k, s, d: Pool(mode, k, stride=s, dilation=d if mode == "max" else 1,
                                   ndim=ndim),
        st.sampled_from(["max", "avg"]), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
    )
    tconv = st.builds(
        lambda k, s, d, p: ConvTranspose(k, stride=s, dilation=d, padding=p, ndim=ndim),
        st.integers(1, 4), st.integers(1, 3), st.integers(1, 2), st.integers(0, 1),
    )
    up = st.builds(lambda f: Upsample(f, ndim=ndim), st.integers(1, 3))
    pad = st.builds(lambda a, b: Pad(((a, b),) * ndim), st.integers(0, 2), st.integers(0, 2))
    sl = st.builds(lambda a, s: Slice(a, None, s, ndim=ndim), st.integers(0, 2), st.integers(1, 2))
    pw = st.just(Pointwise("relu"))
    return st.one_of(conv, aniso, pool, tconv, up, pad, sl, pw)


@st.composite
def graphs(draw: Any, max_ndim: int = 3) -> Graph:
    ndim = draw(st.integers(1, max_ndim))
    layers = layer_strategy(ndim)
    limit = {1: 5, 2: 4, 3: 2}[ndim]

    def block() -> Any:
        kind = draw(st.sampled_from(["layers", "residual", "parallel"]))
        body = draw(st.lists(layers, min_size=1, max_size=2))
        if kind == "layers":
            return chain(body, ndim=ndim)
        if kind == "residual":
            return residual(body, ndim=ndim)
        other = draw(st.lists(layers, min_size=0, max_size=2))
        return parallel([body, other], merge=draw(st.sampled_from(["add", "concat", "mul"])),
                        ndim=ndim)

    return chain([block() for _ in range(draw(st.integers(1, limit)))], ndim=ndim)


@hsettings(max_examples=80)
@given(graphs())
def test_random_graphs_unbounded_input_match_brute_force(g: Graph) -> None:
    ref = brute(g)
    assume(ref)
    check_against(coverage(g), ref)


# many random graphs do not fit a small input (assume(False) below): allow the filtering
@hsettings(
    max_examples=40, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(graphs(max_ndim=2), st.integers(12, 24))
def test_random_graphs_finite_input_match_brute_force(g: Graph, n: int) -> None:
    size = (n,) * g.ndim
    try:
        g.shapes(size)
    except AtrousError:
        assume(False)
    ref = brute(g, size)
    assume(ref)
    check_against(coverage(g, input_size=size), ref)


@hsettings(max_examples=40)
@given(graphs(max_ndim=2), st.data())
def test_every_node_and_unit_match_brute_force(g: Graph, data: Any) -> None:
    node = data.draw(st.sampled_from([n.name for n in g.layer_nodes()]))
    unit = tuple(data.draw(st.integers(-3, 3)) for _ in range(g.ndim))
    ref = brute(g, None, unit, node)
    assume(ref)
    cov = coverage(g, node=node, unit=unit)
    assert cov.node == node and cov.unit == unit
    check_against(cov, ref)


@hsettings(max_examples=25)
@given(graphs(max_ndim=2))
def test_layer_gridding_statistics_match_each_node_map(g: Graph) -> None:
    for row in layer_gridding(g):
        cov = coverage(g, node=row.node)
        if cov.cells == 0:
            continue
        assert (row.rf_size, row.holes, row.gridded) == (cov.rf_size, cov.holes, cov.gridded)
        assert row.fraction == pytest.approx(cov.fraction)
        assert row.uniformity == pytest.approx(cov.uniformity)


@pytest.mark.parametrize("mode", ["linear", "bicubic"])
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("scale", [2, 3])
def test_interpolating_upsample_matches_brute_force(mode: str, align: bool, scale: int) -> None:
    g = chain(Conv(3, padding=1, ndim=1), Upsample(scale, mode, align_corners=align, ndim=1),
              Conv(3, dilation=2, padding=2, ndim=1))
    for unit in range(3 * scale * 2):
        check_against(coverage(g, input_size=6, unit=unit), brute(g, (6,), (unit,)))
    if not align:
        check_against(coverage(g, unit=7), brute(g, None, (7,)))


def test_adaptive_and_global_pooling_need_and_use_the_input_size() -> None:
    for layer in (GlobalPool("avg"), Dense("linear"), AdaptivePool("avg", 1, ndim=2),
                  AdaptivePool("max", (3, 2))):
        g = chain(Conv(3, stride=2, padding=1, ndim=2), layer)
        with pytest.raises(CoverageUnavailable, match=rf"node '{layer.kind}0'.*input_size"):
            coverage(g)
        check_against(coverage(g, input_size=(9, 7)), brute(g, (9, 7)))
    # global: every pixel of the input reaches the single output unit
    cov = coverage(chain(Conv(3, padding=1, ndim=2), GlobalPool()), input_size=(5, 4))
    assert cov.rf_size == (5, 4) and cov.offset == (0, 0) and not cov.gridded


# -- torch autograd: the semantics of "reads" are PyTorch's ---------------------------------
def _torch_counts(g: Graph, size: Pos) -> Any:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    nd = g.ndim
    x = torch.zeros((1, 1, *size), dtype=torch.float64, requires_grad=True)
    vals: dict[str, Any] = {"input": x}
    for node in g.layer_nodes():
        L = node.layer
        ins = [vals[i] for i in node.inputs]
        if isinstance(L, Merge):
            y = sum(ins[1:], ins[0])  # paths add up whatever the merge does
        elif isinstance(L, Conv):
            w = torch.ones((1, 1, *L.kernel), dtype=torch.float64)
            pad = [v for lo_hi in reversed(L.padding) for v in lo_hi]
            conv = getattr(F, f"conv{nd}d")
            y = conv(F.pad(ins[0], pad), w, stride=L.stride, dilation=L.dilation)
        elif isinstance(L, ConvTranspose):
            w = torch.ones((1, 1, *L.kernel), dtype=torch.float64)
            y = getattr(F, f"conv_transpose{nd}d")(ins[0], w, stride=L.stride, padding=L.padding,
                                                   dilation=L.dilation)
        elif isinstance(L, Pool):
            # a pooling window is a set of taps: summing over it (avg * window) counts them
            pad = [v for p in reversed(L.padding) for v in (p, p)]
            y = getattr(F, f"avg_pool{nd}d")(F.pad(ins[0], pad), L.kernel, L.stride) * math.prod(
                L.kernel) if all(d == 1 for d in L.dilation) else None
            assert y is not None
        elif isinstance(L, Upsample):
            y = F.interpolate(ins[0], scale_factor=L.scale, mode="nearest")
        elif isinstance(L, Pad):
            y = F.pad(ins[0], [v for lo_hi in reversed(L.padding) for v in lo_hi])
        elif isinstance(L, Slice):
            y = ins[0][(..., *(slice(a, b, c) for a, b, c in zip(L.start, L.stop, L.step)))]
        elif isinstance(L, GlobalPool):
            y = ins[0].sum(dim=tuple(range(2, 2 + nd)), keepdim=True)
        elif isinstance(L, Pointwise):
            y = ins[0]
        else:
            raise AssertionError(L)
        vals[node.name] = y
    out = vals[g.output]
    unit = tuple((n - 1) // 2 for n in out.shape[2:])
    out[(0, 0, *unit)].backward()
    return x.grad[0, 0].numpy()


TORCH_GRAPHS = {
    "dilated stack": lambda: stack([1, 2, 5], ndim=2),
    "strided chain": lambda: chain(Conv(3, stride=2, padding=1, ndim=2),
                                   Conv(3, dilation=2, padding=2, ndim=2),
                                   Pool("avg", 2, ndim=2), Conv((3, 1), dilation=(3, 1), ndim=2)),
    "residual + tconv": lambda: chain(
        Conv(3, stride=2, padding=1, ndim=2),
        residual([Conv(3, dilation=2, padding=2, ndim=2)]),
        ConvTranspose(4, stride=2, padding=1, ndim=2),
        Conv(3, dilation=3, padding=3, ndim=2)),
    "aspp": lambda: chain(Conv(3, stride=2, padding=1, ndim=2), parallel(
        [[Conv(1, ndim=2)], [Conv(3, dilation=2, padding=2, ndim=2)],
         [Conv(3, dilation=4, padding=4, ndim=2)]], merge="concat")),
    "upsample 1-D": lambda: chain(Conv(3, stride=3, ndim=1), Upsample(2, ndim=1),
                                  Conv(5, dilation=2, padding=4, ndim=1)),
    "upsample x3, pad, slice": lambda: chain(
        Conv(3, stride=2, ndim=2), Upsample(3, ndim=2), Pad(((2, 1), (0, 3))),
        Slice((1, 0), None, (2, 3)), Conv(3, dilation=2, padding=2, ndim=2)),
    "3-D": lambda: chain(Conv(3, dilation=(1, 2, 3), padding=(1, 2, 3), ndim=3),
                         Conv(2, stride=2, ndim=3)),
    "global": lambda: chain(Conv(3, stride=2, ndim=2), GlobalPool()),
}


@pytest.mark.parametrize("name", sorted(TORCH_GRAPHS))
def test_counts_equal_the_autograd_impulse_of_an_all_ones_network(name: str) -> None:
    g = TORCH_GRAPHS[name]()
    size = {1: (40,), 2: (37, 31), 3: (9, 10, 11)}[g.ndim]
    grad = _torch_counts(g, size)
    cov = coverage(g, input_size=size)
    expected = np.zeros(size, dtype=object)
    box = tuple(slice(o, o + n) for o, n in zip(cov.offset, cov.rf_size))
    expected[box] = cov.counts
    assert np.array_equal(grad.astype(np.int64).astype(object), expected)
    assert (np.round(grad) == grad).all()


@pytest.mark.parametrize("mode", ["linear", "bicubic"])
@pytest.mark.parametrize("align", [False, True])
def test_interpolation_taps_are_the_support_of_torch_interpolate(mode: str, align: bool) -> None:
    torch = pytest.importorskip("torch")
    n, f = 7, 3
    g = chain(Upsample(f, mode if mode == "bicubic" else "linear", align_corners=align, ndim=1))
    for unit in range(n * f):
        x = torch.zeros((1, 1, 1, n) if mode == "bicubic" else (1, 1, n), dtype=torch.float64,
                        requires_grad=True)
        tmode = "bicubic" if mode == "bicubic" else "linear"
        sf = (1, f) if mode == "bicubic" else f
        y = torch.nn.functional.interpolate(x, scale_factor=sf, mode=tmode, align_corners=align)
        y.flatten()[unit].backward()
        support = set(np.flatnonzero(x.grad.flatten().numpy()).tolist())
        cov = coverage(g, input_size=n, unit=unit)
        mine = {cov.offset[0] + i for i in np.flatnonzero(cov.counts)}
        assert mine == support, unit


# -- exactness, limits, honesty -------------------------------------------------------------
def _poly_counts(rates: list[int], k: int) -> list[int]:
    """Coefficients of prod_i (1 + x^r_i + ... + x^((k-1) r_i)) with Python ints."""
    return poly([(r, k) for r in rates])


def test_counts_switch_to_python_ints_beyond_int64() -> None:
    rates = [1, 2, 3] * 15  # 3**45 paths: far beyond int64
    cov = coverage(stack(rates, ndim=1))
    ref = _poly_counts(rates, 3)
    assert max(ref) > np.iinfo(np.int64).max
    assert cov.exact_dtype == "object"
    assert cov.counts.tolist() == ref
    assert cov.total_paths == 3 ** len(rates)
    # 2-D: the outer product of exact 1-D maps
    cov2 = coverage(stack(rates[:24], ndim=2))
    ref2 = _poly_counts(rates[:24], 3)
    assert max(ref2) ** 2 > np.iinfo(np.int64).max
    assert cov2.counts[len(ref2) // 2, len(ref2) // 2] == ref2[len(ref2) // 2] ** 2
    assert cov2.total_paths == 9 ** 24


def test_graph_path_switches_to_python_ints_beyond_int64() -> None:
    # 24 residual blocks of a 7-tap conv: 8**24 paths, so counts pass int64 on the DAG path
    g = chain([residual([Conv(7, padding=3, ndim=1)]) for _ in range(24)])
    cov = coverage(g)
    assert cov.total_paths == 8 ** 24
    assert cov.max_count > np.iinfo(np.int64).max
    check_against(cov, brute(g))
    assert json.loads(json.dumps(cov.to_dict()))["counts"] == cov.counts.tolist()


def test_too_large_maps_are_refused_with_their_size() -> None:
    g = stack([1000, 1000], ndim=3)
    with pytest.raises(TooLargeError, match=r"4001 x 4001 x 4001 = 64,048,012,001 cells"):
        coverage(g)
    with pytest.raises(TooLargeError, match="max_cells=100"):
        coverage(stack([1, 2, 5]), max_cells=100)
    dag = chain(residual([Conv(3, dilation=500, padding=500, ndim=3)]))
    with pytest.raises(TooLargeError, match="cells"):
        coverage(dag)
    assert coverage(stack([1, 2, 5]), max_cells=17 * 17).rf_size == (17, 17)
    # layer_gridding reports the refusal per row and keeps going
    rows = layer_gridding(chain(Conv(3, padding=1, ndim=3), dag))
    assert rows[0].available and not rows[-1].available and "cells" in rows[-1].diagnostic
    # a chain's rows come from 1-D maps: no 4001^3 map is built
    assert layer_gridding(g)[-1].rf_size == (4001, 4001, 4001)


def test_opaque_layers_are_reported_never_identity() -> None:
    g = chain(Conv(3, padding=1, ndim=2), Opaque("deform_conv", "offsets are data-dependent"),
              Conv(3, padding=1, ndim=2))
    with pytest.raises(CoverageUnavailable, match=r"'opaque0'.*deform_conv") as info:
        coverage(g)
    assert info.value.node == "opaque0"
    assert isinstance(info.value, AtrousError)
    rows = layer_gridding(g)
    assert [r.available for r in rows] == [True, False, False]
    assert "opaque0" in rows[2].diagnostic and rows[0].rf_size == (3, 3)


def test_layer_gridding_rows_agree_with_coverage_of_each_node() -> None:
    g = chain(stack([1, 2, 9]), residual([Conv(3, dilation=2, padding=2, ndim=2)]))
    rows = layer_gridding(g)
    assert [r.node for r in rows] == [n.name for n in g.layer_nodes()]
    for row in rows:
        cov = coverage(g, node=row.node)
        assert (row.rf_size, row.holes, row.gridded) == (cov.rf_size, cov.holes, cov.gridded)
        assert row.fraction == pytest.approx(cov.fraction)
        assert row.uniformity == pytest.approx(cov.uniformity)
        json.dumps(row.to_dict())
    # [1, 2, 9] starts to grid at the third layer: the first gridded row is conv2
    first = next(r.node for r in rows if r.gridded)
    assert first == "block0.conv2"


def test_to_dict_is_json_and_exact() -> None:
    cov = coverage(stack([2, 2, 2], ndim=2))
    d = json.loads(json.dumps(cov.to_dict()))
    assert d["counts"] == cov.counts.tolist()
    assert d["holes"] == cov.holes == 13 * 13 - 7 * 7
    assert d["gridded"] is True and d["uniformity"] == 0.0
    assert d["offset"] == [-6, -6] and d["rf_size"] == [13, 13]
    assert "counts" not in cov.to_dict(counts=False)


def test_uniformity_and_fraction_are_min_over_max_and_covered_over_box() -> None:
    cov = coverage(stack([1, 2, 5]))
    assert cov.uniformity == cov.counts.min() / cov.counts.max()
    assert cov.fraction == 1.0
    grid = coverage(stack([1, 2, 9]))
    assert grid.fraction == np.count_nonzero(grid.counts) / grid.counts.size
    assert grid.hole_offsets(limit=1) == [tuple(int(v) + o for v, o in zip(
        np.argwhere(grid.counts == 0)[0], grid.offset))]


def test_spec_strings_are_accepted_when_the_parser_exists() -> None:
    try:
        g = atrous.parse("3x3 d1, 3x3 d2, 3x3 d5")
    except (ImportError, AttributeError, ModuleNotFoundError):
        pytest.skip("atrous.spec not available yet")
    assert (coverage("3x3 d1, 3x3 d2, 3x3 d5").counts == coverage(g).counts).all()
    assert (coverage(g).counts == coverage(stack([1, 2, 5])).counts).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size": (8,)}, "axes"),
        ({"input_size": (8, 8), "unit": (8, 0)}, "outside 0..7"),
        ({"unit": (0, 0, 0)}, "entries"),
        ({"max_cells": 0}, "max_cells must be >= 1"),
        ({"node": "nope"}, "no node named 'nope'"),
    ],
)
def test_bad_arguments_raise_atrous_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(AtrousError, match=message):
        coverage(stack([1, 2]), **kwargs)


def test_a_unit_reading_no_pixel_is_an_empty_map() -> None:
    g = chain(ConvTranspose(1, stride=2, ndim=1))  # odd outputs read nothing (bias only)
    cov = coverage(g, unit=1)
    assert cov.rf_size == (0,) and cov.cells == 0 and not cov.gridded and cov.diagnostics
    assert coverage(g, unit=2).counts.tolist() == [1]


def test_docs_gridding_examples() -> None:
    """The outputs shown in docs/gridding.md are what the code produces."""
    import doctest
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "gridding.md"
    result = doctest.testfile(
        str(path), module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 20
    assert result.failed == 0


def test_torch_modules_are_traced_with_their_full_input_shape() -> None:
    nn = pytest.importorskip("torch.nn")
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=r, dilation=r) for r in (1, 2, 9)])
    cov = coverage(model, input_size=(1, 1, 64, 64))
    same = coverage(stack([1, 2, 9]), input_size=(64, 64))
    assert cov.input_size == (64, 64) and cov.rf_size == same.rf_size
    assert (cov.counts == same.counts).all()
    assert [r.holes for r in layer_gridding(model, input_size=(1, 1, 64, 64))] == [
        r.holes for r in layer_gridding(stack([1, 2, 9]), input_size=(64, 64))
    ]


def test_atrous_coverage_stays_the_function_after_the_submodule_is_imported() -> None:
    import subprocess
    import sys

    code = (
        "import atrous\n"
        "atrous.hdc_check([1, 2])  # imports the atrous.coverage submodule internally\n"
        "from atrous._coverage import Coverage\n"
        "print(atrous.coverage(atrous.stack([2, 2], ndim=1)).holes, Coverage.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["4", "Coverage"]
