"""Per-call layer gridding: the work that :func:`atrous.layer_gridding` shares between nodes.

One call maps every node's centre unit. :class:`_Shared` holds what those maps have in common,
computed once (the topological order, every node's size and receptive field, each node's layer
description and the maps made so far); :func:`_reuse` and :func:`_reuse_merge` make a pointwise
node's or a merge's map from maps already made when that is exact.

The engine (:mod:`atrous._coverage`) imports this module and consults a :class:`_Shared` while it
maps each node; :func:`atrous._coverage._layer_gridding` and :func:`atrous._coverage._coverage_with`
drive it. The raw map record and the small map steps both read live in :mod:`atrous._coverage_raw`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, cast

from ._axis_maps import Array, Budget, outer, prod, trim
from ._coverage_raw import _accumulate, _axis_geom, _empty, _one_to_one, _Raw
from ._types import Ints
from .errors import AtrousError, CoverageUnavailable
from .geometry import Identity, Reads, Taps
from .graph import Graph
from .layers import Merge, Opaque
from .rf import node_sizes, receptive_fields


def _strict_sizes(g: Graph, size: Ints, names: set[str] | None = None) -> dict[str, Ints]:
    """``node_sizes(g, size, strict=True, names=names)``: with the input's size known and the
    strict checks (a node that refuses its input raises), no node's size is left None."""
    return cast("dict[str, Ints]", node_sizes(g, size, strict=True, names=names))


class _Shared:
    """What every node's map of one :func:`layer_gridding` call shares, computed once: the
    topological order, the opaque nodes, every node's size and receptive field (each None
    until needed; a graph-wide pass that fails leaves the per-node work to say why)."""

    def __init__(self, g: Graph) -> None:
        self.order = g.topological()
        self.opaque = [nd.name for nd in self.order if isinstance(nd.layer, Opaque)]
        self.sizes: dict[str, Ints] | None = None
        self.size_key: Ints | None = None
        self.size_failed = False
        self.rfs: dict[str, Any] | None = None
        self.rf_key: Any = None
        self.rf_failed = False
        self.descs: dict[tuple[str, Ints | None], list[Reads | None] | CoverageUnavailable] = {}
        self.raws: dict[str, _Raw] = {}  # the maps computed so far, by node
        self.widths: dict[str, int] = {}  # node -> cells of its widest step (-1: unknown)
        self.plain: set[str] = set()  # the raws made as _compute alone makes them
        self.budget_key: tuple[int, int | None] | None = None
        self.input_key: Any = None
        self.closed: dict[str, set[str]] = {}  # node -> its ancestors and itself
        self.terms: dict[str, tuple[float, ...]] = {}  # node -> its _check_work log2 terms

    def upstream(self, g: Graph, name: str) -> set[str]:
        """``g.ancestors(name) | {name}``, from the inputs' own sets (a fresh set each call)."""
        closed = self.closed
        if name not in closed:
            for nd in self.order:  # fill in topological order, up to the node
                if nd.name not in closed:
                    got = {nd.name}
                    for i in nd.inputs:
                        got |= closed[i]
                    closed[nd.name] = got
                if nd.name == name:
                    break
        return set(closed[name])

    def log_terms(self, nd: Any, geoms: list[Reads | None]) -> tuple[float, ...]:
        """The terms ``_check_work`` adds for one node, in its order."""
        got = self.terms.get(nd.name)
        if got is None:
            out = [math.log2(len(nd.inputs))] if isinstance(nd.layer, Merge) else []
            out += [math.log2(max(geom.fan_in, 1)) for geom in geoms if geom is not None]
            got = self.terms[nd.name] = tuple(out)
        return got

    def describe(self, nd: Any, ndim: int, n_in: Ints | None) -> list[Reads | None]:
        """``_axis_geom`` of every axis of a node, once per node (a refusal is raised again)."""
        key = (nd.name, n_in)
        hit = self.descs.get(key)
        if hit is None:
            try:
                hit = [_axis_geom(nd.name, nd.layer, axis, None if n_in is None else n_in[axis])
                       for axis in range(ndim)]
            except CoverageUnavailable as exc:
                hit = exc
            self.descs[key] = hit
        if isinstance(hit, CoverageUnavailable):
            raise hit
        return hit

    def small_walks(self, g: Graph, order: list[Any], sizes: dict[str, Ints],
                    budget: Budget) -> bool:
        """True when no backward walk over the nodes ``order`` at these sizes can make an
        array over the budget: every layer is pointwise or taps (conv, pooling), and the widest
        array one of their steps makes is within ``max_cells`` (and ``max_bytes`` at 8 bytes a
        cell)."""
        limit = budget.max_cells if budget.max_bytes is None else min(
            budget.max_cells, budget.max_bytes // 8)
        for nd in order:
            cells = self.widths.get(nd.name)
            if cells is None:
                cells = self.widths[nd.name] = _step_cells(g, nd, sizes)
            if cells < 0 or cells > limit:
                return False
        return True

    def node_sizes(self, g: Graph, size: Ints) -> dict[str, Ints] | None:
        """Every node's size at ``size`` (strict), or None when some node refuses it."""
        if self.size_key != size and not self.size_failed:
            try:
                self.sizes = _strict_sizes(g, size)
                self.size_key = size
            except AtrousError:
                self.size_failed = True
        return self.sizes if self.size_key == size else None

    def receptive_field(self, g: Graph, spatial: Ints | None, target: str) -> Any:
        """The receptive field of ``target`` as ``receptive_field(g, spatial, output=target)``
        gives it, from one pass over the graph (None: that pass failed)."""
        if self.rfs is None and not self.rf_failed:
            try:
                self.rfs = receptive_fields(g, spatial)
                self.rf_key = spatial
            except AtrousError:
                self.rf_failed = True
        if self.rfs is None or self.rf_key != spatial:
            return None
        return self.rfs[target]


def _reuse(g: Graph, target: str, order: list[Any], descs: dict[str, list[Reads | None]],
           sizes: dict[str, Ints] | None, u: Ints, shared: _Shared,
           budget: Budget) -> _Raw | None:
    """A map from the maps already computed, when that is exact: a pointwise node (identity or
    a 1x1 conv on every axis, same size as its one input) maps its centre unit as its input's
    centre unit does; a merge's centre unit maps as the sum of its inputs' (centre units: a merge's
    inputs have its size or are broadcast), when no walk could have gone over the budget."""
    nd = g[target]
    if isinstance(nd.layer, Merge):
        return _reuse_merge(g, nd, order, sizes, u, shared, budget)
    if (sizes is None or len(nd.inputs) != 1
            or any(d is not None and not _one_to_one(d) for d in descs[target])):
        return None
    src = shared.raws.get(nd.inputs[0])
    if src is None or src.unit != u or sizes[target] != sizes[nd.inputs[0]]:
        return None
    if nd.inputs[0] in shared.plain:  # the walk from this node is the input's, step by step
        shared.plain.add(target)
    return replace(src, node=target)


def _reuse_merge(g: Graph, nd: Any, order: list[Any], sizes: dict[str, Ints] | None, u: Ints,
                 shared: _Shared, budget: Budget) -> _Raw | None:
    if (sizes is None or sizes is not shared.sizes
            or not shared.small_walks(g, order, sizes, budget)):
        return None
    out = sizes[nd.name]
    parts = []
    for src in nd.inputs:
        raw = shared.raws.get(src)
        unit = tuple(0 if n == 1 and m > 1 else v for v, n, m in zip(u, sizes[src], out))
        if raw is None or raw.unit != unit:
            return None
        parts.append(raw)
    acc: tuple[Array, Ints] | None = None
    for raw in parts:
        if raw.factors is not None:
            dense: tuple[Array, Ints] = (outer(raw.factors, budget),
                                         tuple(o for _, o in raw.factors))
        else:
            assert raw.dense is not None
            dense = raw.dense
        if dense[0].size:
            acc = _accumulate(acc, dense[0], dense[1], budget)
    if acc is None:
        return _empty(g.ndim, nd.name, u)
    return _Raw(None, trim(*acc), nd.name, u)


def _step_cells(g: Graph, nd: Any, sizes: dict[str, Ints]) -> int:
    """The most cells an array of one node's backward step can have (the input's and a
    merge's maps are clipped to their size; -1 for a step not bounded here)."""
    if not nd.inputs or isinstance(nd.layer, Merge):
        return prod(sizes[nd.name])
    src, out = sizes[nd.inputs[0]], sizes[nd.name]
    widths = []
    for axis in range(g.ndim):
        geom = nd.layer.axis_geometry(axis, src[axis])
        if isinstance(geom, Identity):
            widths.append(max(src[axis], out[axis]))
        elif type(geom) is Taps:
            widths.append(max(src[axis], out[axis] * geom.stride
                              + (geom.kernel - 1) * geom.dilation))
        else:
            return -1
    return prod(widths)
