"""The output coverage map stepped in int64 limbs (atrous._limb_maps) against the general
engine (``coverage()``, itself checked against brute-force path counting in test_coverage) and
against a direct path count: the same counts, dtype, box and every summary field."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pytest

import atrous
from atrous import Conv, GlobalPool, Pool, Upsample, chain, parallel, residual
from atrous._coverage import DEFAULT_MAX_CELLS, coverage
from atrous._limb_maps import LIMB_BITS, LimbCoverage, carry, output_coverage, to_counts
from atrous.rf import receptive_fields


def _c(k: int, **kw: Any) -> Conv:
    return Conv(k, ndim=2, **kw)


def _se(c: int) -> Any:  # x * gate(global mean of x): a merge with a broadcast input
    return parallel([[], [GlobalPool(), _c(1)]], merge="mul")


GRAPHS = {
    # 24 residual 7x7 blocks: 8**48 paths, counts far past int64 (Python ints)
    "deep residual": lambda: chain([residual([_c(7, padding=3)]) for _ in range(24)]),
    # a strided stem, inverted-residual-like blocks with gates, global pool: a global output
    "mobile-like": lambda: chain(
        _c(3, stride=2, padding=1),
        *[residual([_c(1), _c(3, padding=1), _se(8), _c(1)]) for _ in range(3)],
        _c(3, stride=2, padding=1),
        *[residual([_c(5, padding=2), _c(1)]) for _ in range(3)],
        GlobalPool(), _c(1)),
    # concat branches of dilated convs, a pool and an upsampling (counts within int64)
    "aspp-like": lambda: chain(
        _c(3, stride=2, padding=1), parallel(
            [[_c(1)], [_c(3, dilation=2, padding=2)], [_c(3, dilation=3, padding=3)]],
            merge="concat"),
        Pool("max", 3, stride=2, padding=1, ndim=2), Upsample(2, ndim=2), _c(3, padding=1)),
    # many stacked residuals with a global pool: the general engine holds the map in Python
    # ints (its sums pass 2**62) although some counts may fit int64
    "residual + global": lambda: chain(
        _c(3, stride=2, padding=1),
        *[residual([_c(3, padding=1), _c(3, padding=1)]) for _ in range(8)],
        GlobalPool()),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_limb_map_equals_the_general_engine(name: str) -> None:
    g = GRAPHS[name]()
    size = (40, 40)
    rfs = receptive_fields(g, size)
    for out in g.outputs:
        ref = coverage(g, input_size=size, node=out)
        got = output_coverage(g, size, out, DEFAULT_MAX_CELLS, rfs)
        assert isinstance(got, LimbCoverage)
        # the summary (box, holes, min, max, total, dtype) comes from the limbs
        assert got.to_dict(counts=False) == ref.to_dict(counts=False)
        assert got.hole_offsets() == ref.hole_offsets()
        assert (got.hole_mask() == ref.hole_mask()).all()
        assert repr(got) == repr(ref)
        # the counts, built on first read
        assert got.counts.dtype == ref.counts.dtype and got.counts.shape == ref.counts.shape
        assert (got.counts == ref.counts).all()
        assert json.dumps(got.to_dict()) == json.dumps(ref.to_dict())
        back = pickle.loads(pickle.dumps(got))
        assert (back.counts == ref.counts).all() and back.max_count == ref.max_count


def test_limb_maps_cover_both_dtypes_and_big_counts() -> None:
    """The cases above include maps past int64 and maps the general engine holds in int64."""
    size = (40, 40)
    deep = coverage(GRAPHS["deep residual"](), input_size=size)
    assert deep.exact_dtype == "object" and deep.max_count > 2**63
    aspp = coverage(GRAPHS["aspp-like"](), input_size=size)
    assert aspp.exact_dtype == "int64"


def test_deep_residual_counts_match_a_direct_path_count() -> None:
    # 1-D: per residual block (identity + 7 taps) the counts are the coefficients of
    # (1 + x^-3 + ... + x^3 + 1): computed here with Python ints, unclipped at this size
    g = chain([residual([Conv(7, padding=3, ndim=1)]) for _ in range(24)])
    poly = [1]
    block = [1, 1, 1, 2, 1, 1, 1]  # x^-3 .. x^3, the centre tap plus the identity
    for _ in range(24):
        new = [0] * (len(poly) + 6)
        for i, a in enumerate(poly):
            for j, b in enumerate(block):
                new[i + j] += a * b
        poly = new
    n = len(poly)  # 145: the box of the centre unit of a 145-pixel input
    got = output_coverage(g, (n,), g.output, DEFAULT_MAX_CELLS, receptive_fields(g, (n,)))
    assert got.counts.tolist() == poly
    assert got.max_count == max(poly) > 2**63 and got.total_paths == 8**24


def test_carry_and_counts_are_exact() -> None:
    limbs = np.array([[[2**62 - 1, 5]], [[2**62, 0]], [[7, 2**40]]], dtype=np.int64)
    want = [[int(limbs[0, 0, i]) + (int(limbs[1, 0, i]) << LIMB_BITS)
             + (int(limbs[2, 0, i]) << (2 * LIMB_BITS)) for i in range(2)]]
    done = carry(limbs)
    assert (done >= 0).all() and (done < 2**LIMB_BITS).all()
    assert to_counts(done, True).tolist() == want
    assert to_counts(carry(np.array([[[3, 0]]], dtype=np.int64)), False).dtype == np.int64


def test_analyze_reports_use_the_limb_map() -> None:
    g = GRAPHS["mobile-like"]()
    rep = atrous.analyze(g, input_size=(40, 40), gridding=False)
    ref = coverage(g, input_size=(40, 40))
    assert isinstance(rep.coverage, LimbCoverage)
    assert rep.to_dict()["coverage"] == json.loads(json.dumps(ref.to_dict()))


def test_extremes_of_limbs_are_exact() -> None:
    """Largest and smallest counts against Python ints, with counts that tie or differ only
    in their lowest limb (where a float estimate cannot tell them apart)."""
    from atrous._limb_maps import _extreme

    rng = np.random.default_rng(7)
    for n_limbs in (1, 2, 5):
        limbs = rng.integers(0, 2**LIMB_BITS, size=(n_limbs, 9, 7), dtype=np.int64)
        limbs[:, 0, 0] = limbs[:, 4, 3]  # a tie
        limbs[:, 2, 5] = limbs[:, 4, 3]
        limbs[0, 2, 5] ^= 1  # differs in the last bit only
        limbs[:, 8, 6] = 0  # a hole
        values = to_counts(limbs, True)
        assert _extreme(limbs, max) == max(values.ravel().tolist())
        assert _extreme(limbs, min) == min(values.ravel().tolist()) == 0
        limbs[:, 8, 6] = limbs[:, 1, 1]
        limbs[0, 8, 6] = max(int(limbs[0, 1, 1]) - 1, 0)
        values = to_counts(limbs, True)
        assert _extreme(limbs, min) == min(values.ravel().tolist())
        assert _extreme(limbs, max) == max(values.ravel().tolist())


def test_a_limb_coverage_can_be_replaced_like_a_coverage() -> None:
    import dataclasses

    g = GRAPHS["deep residual"]()
    got = output_coverage(g, (40, 40), g.output, DEFAULT_MAX_CELLS, receptive_fields(g, (40, 40)))
    ref = coverage(g, input_size=(40, 40))
    moved = dataclasses.replace(got, node="elsewhere")
    assert moved.node == "elsewhere" and moved.offset == ref.offset
    assert moved.to_dict(counts=False) == {**ref.to_dict(counts=False), "node": "elsewhere"}
    assert (moved.counts == ref.counts).all() and moved.counts.dtype == ref.counts.dtype


def test_torch_model_output_map_equals_the_general_engine() -> None:
    """A traced MobileNet-like torch model (strided stem, inverted residuals with SE gates,
    global pool, classifier): analyze's map of its global output is coverage()'s."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
            self.fc = nn.Conv2d(c, c, 1)
            self.pw = nn.Conv2d(c, c, 1)

        def forward(self, x: Any) -> Any:
            y = torch.relu(self.dw(x))
            y = y * torch.sigmoid(self.fc(y.mean((2, 3), keepdim=True)))
            return x + self.pw(y)

    model = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), *[Block(8) for _ in range(6)],
                          nn.Conv2d(8, 8, 5, 2, 2), *[Block(8) for _ in range(6)],
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)).eval()
    rep = atrous.analyze(model, input_size=(1, 3, 48, 48), gridding=False)
    got = rep.coverage
    ref = coverage(rep.graph, input_size=(48, 48))
    assert isinstance(got, LimbCoverage) and got.exact_dtype == ref.exact_dtype == "object"
    assert got.to_dict(counts=False) == ref.to_dict(counts=False)
    assert (got.counts == ref.counts).all() and got.max_count > 2**63
