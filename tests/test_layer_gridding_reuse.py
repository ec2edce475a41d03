"""layer_gridding shares work between nodes (sizes, layer descriptions, a pointwise node's or a
merge's map from maps already made): every row must equal the general engine's own map of
that node, computed alone by ``coverage(..., node=...)``."""

from __future__ import annotations

import pytest

import atrous
from atrous import AtrousError
from atrous._axis_maps import Budget
from atrous._coverage import (
    DEFAULT_MAX_BYTES,
    _compute,
    _compute_map,
    coverage,
    layer_gridding,
)
from atrous.arith import conv_output_size, pool_output_size
from atrous.layers import Conv, Pool

SPECS = [
    # residual adds, a concat, strides, padding clipped at the border, pointwise nodes
    "3x3 s2 p1, relu, res(3x3 d2, relu, 3x3 d3), par(3x3 | 5x5 p2), maxpool 3x3 s2 p1, "
    "res(3x3, relu, 3x3 d2)",
    # a broadcast merge (squeeze-excite style: a global pool branch multiplies the trunk)
    "3x3 s2, mul(relu | gpool), 3x3 d2, res(3x3 | 1x1 s1)",
    # squeeze-and-expand (1x1 convs: their map is their input's)
    "7x7 s2, maxpool 3x3 s2, 1x1, relu, par(1x1, relu | 3x3 p1, relu), 1x1, relu, "
    "par(1x1 | 3x3 p1), 1x1 s2, 3x3 d2",
    # fan-out reused twice, nested residuals, an upsample (no shortcut for the merge after it)
    "3x3, res(3x3, res(3x3 d2, relu), 3x3 d5), up2, res(3x3)",
]


def _row(r: object) -> tuple[object, ...]:
    return (r.rf_size, r.holes, r.gridded, r.fraction, r.uniformity,  # type: ignore[attr-defined]
            r.available)  # type: ignore[attr-defined]


def _alone(g: atrous.Graph, node: str, size: tuple[int, ...], **kw: int) -> tuple[object, ...]:
    try:
        c = coverage(g, input_size=size, node=node, **kw)
    except AtrousError:
        return (None, None, None, None, None, False)
    return (c.rf_size, c.holes, c.gridded, c.fraction, c.uniformity, True)


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("size", [(23, 29), (8, 8)])
def test_rows_equal_each_node_alone(spec: str, size: tuple[int, int]) -> None:
    g = atrous.as_graph(spec)
    rows = layer_gridding(g, input_size=size)
    assert [r.node for r in rows] == [n.name for n in g.layer_nodes()]
    for r in rows:
        assert _row(r) == _alone(g, r.node, size), r.node


def _unshared(g: atrous.Graph, node: str, size: tuple[int, ...], cells: int) -> tuple[object, ...]:
    """The row as the engine makes it for one node with nothing shared (its statistics come
    from the per-axis factors, so a chain's row needs no n-D map within the budget)."""
    try:
        raw = _compute(g, node, size, None, Budget(cells, DEFAULT_MAX_BYTES))
    except AtrousError:
        return (None, None, None, None, None, False)
    sizes, cells_, cov, lo, hi = raw.stats()
    return (sizes, cells_ - cov, cells_ - cov > 0, cov / cells_ if cells_ else 0.0,
            lo / hi if hi else 0.0, True)


@pytest.mark.parametrize("cells", [60, 200, 500])
def test_rows_equal_unshared_under_a_small_budget(cells: int) -> None:
    # maps over max_cells are refused row by row exactly as the unshared engine refuses them
    g = atrous.as_graph(SPECS[0])
    rows = layer_gridding(g, input_size=(23, 29), max_cells=cells)
    for r in rows:
        assert _row(r) == _unshared(g, r.node, (23, 29), cells), r.node
    if cells == 60:
        assert any(not r.available for r in rows) and any(r.available for r in rows)


@pytest.mark.parametrize("spec", [SPECS[0], SPECS[2]])
def test_shortcuts_are_taken(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the pointwise nodes, 1x1 convs and merges reuse maps: fewer general maps than rows
    import atrous._coverage as cov

    calls: list[str] = []

    def spy(order, descs, sizes, target, u, budget):  # type: ignore[no-untyped-def]
        calls.append(target)
        return _compute_map(order, descs, sizes, target, u, budget)

    monkeypatch.setattr(cov, "_compute_map", spy)
    g = atrous.as_graph(spec)
    rows = layer_gridding(g, input_size=(23, 29))
    merges = [n.name for n in g.layer_nodes() if isinstance(n.layer, atrous.layers.Merge)]
    assert merges and not set(merges) & set(calls)
    pointwise = [n.name for n in g.layer_nodes() if isinstance(n.layer, atrous.layers.Pointwise)
                 or (isinstance(n.layer, Conv) and n.layer.kernel == (1, 1)
                 and n.layer.stride == (1, 1))]
    assert pointwise and not set(pointwise) & set(calls)
    assert len(calls) < len(rows)


def test_layer_output_sizes_are_remembered_exactly() -> None:
    conv = Conv(3, stride=2, padding=((0, 1), (0, 1)), dilation=2, ndim=2)
    pool = Pool("max", 3, stride=2, padding=1, ndim=2, ceil_mode=True)
    for size in [(9, 9), (10, 7), (9, 9)]:
        assert conv.output_size(size) == conv_output_size(size, 3, 2, ((0, 1), (0, 1)), 2)
        assert pool.output_size(size) == pool_output_size(size, 3, 2, 1, 1, True, "max")
    for _ in range(2):  # a refused size is refused every time, with the arithmetic's message
        with pytest.raises(AtrousError, match="smaller than the effective kernel"):
            conv.output_size((3, 9))
    with pytest.raises(AtrousError, match="size"):
        conv.output_size((0, 9))


@pytest.mark.parametrize("spec", SPECS)
def test_report_rows_equal_layer_gridding(spec: str) -> None:
    # analyze() shares its receptive fields with the per-layer gridding: the same rows
    rep = atrous.analyze(spec, input_size=(23, 29), gridding=True)
    assert rep.layer_gridding == layer_gridding(spec, input_size=(23, 29))
    assert [r.to_dict() for r in rep.layer_gridding] == [
        r.to_dict() for r in layer_gridding(atrous.as_graph(spec), input_size=(23, 29))
    ]


@pytest.mark.parametrize("gridding", [False, True])
@pytest.mark.parametrize("spec", [*SPECS, ", ".join(["res(3x3, relu, 3x3 d2)"] * 12),
                                  "res(3x3, 3x3), relu", "3x3, gpool, relu"])
def test_report_coverage_equals_coverage_alone(spec: str, gridding: bool) -> None:
    # analyze() maps its output sharing its receptive fields (deep: Python-int counts, where
    # the work estimate reads the receptive field) and, with the per-layer gridding, the map
    # that made the output's row: the same map (and dtype) as coverage() alone
    rep = atrous.analyze(spec, input_size=(23, 29), gridding=gridding)
    alone = coverage(spec, input_size=(23, 29))
    got = rep.coverage
    assert got is not None
    assert (got.offset, got.rf_size, got.counts.dtype) == (
        alone.offset, alone.rf_size, alone.counts.dtype)
    assert (got.counts == alone.counts).all()
