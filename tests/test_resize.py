"""Resizing to a fixed size at any ratio (``F.interpolate(size=...)``), against PyTorch itself.

The reference for which input pixels an output reads is the support of PyTorch's own Jacobian;
receptive fields are checked against autograd impulse responses of traced models, and coverage
against path counts obtained by multiplying the layers' 0/1 Jacobian supports.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import atrous
from atrous import AtrousError, Resize, coverage, receptive_field
from atrous._coverage import CoverageUnavailable
from atrous.fx import to_graph
from atrous.layers import AdaptivePool, Slice, Upsample
from atrous.spec import SpecError, parse, to_spec

MODES = [
    ("nearest", False), ("nearest-exact", False), ("linear", False), ("linear", True),
    ("bicubic", False), ("bicubic", True),
]
# The reference runs the interpolating modes in float64: where the exact source lands on a pixel,
# float32 misses it by about one ulp of the coordinate (1.5e-5 at 188) and leaves that much
# weight on a neighbour, as large as a genuine bicubic outer-tap weight (~0.75 * t**2). In
# float64 that noise is below 1e-12 and genuine weights here are above 1e-7. Nearest modes run
# in float32, whose index arithmetic Resize reproduces.
NOISE = 1e-9


def _interp(x: torch.Tensor, m: int, mode: str, align: bool) -> torch.Tensor:
    """1-D resize of ``(1, 1, n)`` to ``m`` outputs (bicubic runs as 2-D with height 1)."""
    kw = {} if mode.startswith("nearest") else {"align_corners": align}
    if mode == "bicubic":
        return F.interpolate(x.unsqueeze(2), size=(1, m), mode=mode, **kw)[0, 0, 0]
    return F.interpolate(x, size=m, mode=mode, **kw)[0, 0]


def torch_reads(n: int, m: int, mode: str, align: bool) -> list[list[int]]:
    """For every output, the inputs with a nonzero weight in PyTorch's Jacobian."""
    dtype = torch.float32 if mode.startswith("nearest") else torch.float64
    x = torch.zeros(1, 1, n, dtype=dtype)
    jac = torch.autograd.functional.jacobian(lambda t: _interp(t, m, mode, align), x)
    jac = jac.reshape(m, n)
    return [torch.nonzero(row.abs() > NOISE).flatten().tolist() for row in jac]


@pytest.mark.parametrize(("mode", "align"), MODES)
def test_reads_match_pytorch_on_a_grid_of_sizes(mode: str, align: bool) -> None:
    for n in range(1, 11):
        for m in [*range(1, 24), 37, 50]:
            layer = Resize(m, mode, align, ndim=1)
            want = torch_reads(n, m, mode, align)
            assert [layer.reads(0, n, o) for o in range(m)] == want, (n, m)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 300), m=st.integers(2, 700), case=st.sampled_from(MODES))
def test_reads_match_pytorch_at_large_ratios(n: int, m: int, case: tuple[str, bool]) -> None:
    mode, align = case
    layer = Resize(m, mode, align, ndim=1)
    assert [layer.reads(0, n, o) for o in range(m)] == torch_reads(n, m, mode, align)


def test_nearest_follows_pytorchs_float32_index() -> None:
    # floor(37 * 6/74) is exactly 3, but float32 6/74 rounds down and PyTorch reads pixel 2
    layer = Resize(74, "nearest", ndim=1)
    assert layer.reads(0, 6, 37) == torch_reads(6, 74, "nearest", False)[37] == [2]


# -- receptive fields of traced models, against autograd --------------------------------------
class _ResizeNet(nn.Module):
    def __init__(self, m: int, mode: str, align: bool, d: int) -> None:
        super().__init__()
        self.m, self.mode, self.align = m, mode, align
        self.pre = nn.Conv1d(1, 1, 3, stride=2, dilation=d)
        self.post = nn.Conv1d(1, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kw = {} if self.mode.startswith("nearest") else {"align_corners": self.align}
        y = self.pre(x)
        if self.mode == "bicubic":
            y = F.interpolate(y.unsqueeze(2), size=(1, self.m), mode="bicubic", **kw)[:, :, 0]
        else:
            y = F.interpolate(y, size=self.m, mode=self.mode, **kw)
        return self.post(y)


def _positive(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    return model


def _hull(model: nn.Module, n: int, unit: int) -> tuple[int, int] | None:
    dtype = next(model.parameters()).dtype
    x = torch.zeros(1, 1, n, dtype=dtype, requires_grad=True)
    model(x)[0, 0, unit].backward()
    assert x.grad is not None
    nz = (x.grad[0, 0].abs() > NOISE).nonzero()[:, 0]
    return (int(nz.min()), int(nz.max())) if len(nz) else None


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(40, 120), m=st.integers(20, 200), d=st.integers(1, 3),
    case=st.sampled_from([c for c in MODES if c[0] != "bicubic"]),
)
def test_rf_of_a_traced_model_matches_autograd(n: int, m: int, d: int,
                                               case: tuple[str, bool]) -> None:
    mode, align = case
    if m == (n - 2 * d - 1) // 2 + 1:
        m += 1  # a resize to the same size is no resize
    # nearest runs in float32, whose index arithmetic Resize reproduces; the others in float64
    dtype = torch.float32 if mode.startswith("nearest") else torch.float64
    model = _positive(_ResizeNet(m, mode, align, d)).to(dtype)
    g = to_graph(model, (1, 1, n))
    assert any(isinstance(node.layer, (Resize, Upsample, Slice)) for node in g.layer_nodes())
    assert not g.partial, g.diagnostics
    rf = receptive_field(g, input_size=(1, 1, n))
    assert not rf.partial, rf.diagnostics
    checked = 0
    for unit in range(1, m - 1):
        hull, box = _hull(model, n, unit), rf.box(unit)[0]
        # the model describes interior units: the box and the true hull clear of the border
        if hull is None or not (min(hull[0], box[0]) > 0 and max(hull[1], box[1]) < n - 1):
            continue
        assert box == hull, (unit, box, hull)
        checked += 1
    assert checked > m // 3


# -- coverage against path counting through the layers' Jacobian supports --------------------
def _support(fn: object, n: int, dtype: torch.dtype = torch.float64) -> np.ndarray:
    jac = torch.autograd.functional.jacobian(fn, torch.zeros(n, dtype=dtype))
    return (jac.abs() > NOISE).numpy().astype(np.int64)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(9, 60), m=st.integers(5, 90), rate=st.integers(1, 3),
       case=st.sampled_from(MODES))
def test_coverage_matches_path_counting(n: int, m: int, rate: int,
                                        case: tuple[str, bool]) -> None:
    mode, align = case
    ones = torch.ones(1, 1, 3, dtype=torch.float64)
    n1 = n - 2 * rate
    chain = [
        _support(lambda t: F.conv1d(t[None, None], ones, dilation=rate)[0, 0], n),
        _support(lambda t: _interp(t[None, None], m, mode, align), n1,
                 torch.float32 if mode.startswith("nearest") else torch.float64),
        _support(lambda t: F.conv1d(t[None, None], ones, padding=1)[0, 0], m),
    ]
    paths = chain[2] @ chain[1] @ chain[0]  # outputs x inputs
    spec = f"1d: 3 d{rate} valid, resize {m} {mode}{' align' if align else ''}, 3 p1"
    for unit in (0, m // 3, m - 1):
        cov = coverage(spec, input_size=n, unit=unit)
        full = np.zeros(n, dtype=np.int64)
        lo = cov.offset[0]
        full[lo : lo + cov.counts.shape[0]] = cov.counts
        assert full.tolist() == paths[unit].tolist(), unit


# -- the front ends ---------------------------------------------------------------------------
def test_fx_turns_each_interpolation_into_the_right_layer() -> None:
    def layer_of(fn: object, size: int) -> object:
        class M(nn.Module):
            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return fn(x)  # type: ignore[operator]

        (node,) = to_graph(M(), (1, 1, size, size)).layer_nodes()
        return node.layer

    bil = layer_of(lambda x: F.interpolate(x, size=(30, 50), mode="bilinear"), 13)
    assert bil == Resize((30, 50), "bilinear")
    assert layer_of(lambda x: F.interpolate(x, size=(26, 39), mode="bilinear"), 13) == Upsample(
        (2, 3), "bilinear", ndim=2
    )
    assert isinstance(layer_of(lambda x: F.interpolate(x, size=(5, 5), mode="area"), 13),
                      AdaptivePool)
    # area upsampling by a non-integer ratio averages 1 or 2 pixels: adaptive pooling, not nearest
    assert isinstance(layer_of(lambda x: F.interpolate(x, size=(20, 20), mode="area"), 13),
                      AdaptivePool)
    assert layer_of(lambda x: F.interpolate(x, size=(20, 20), mode="nearest-exact"), 13) == Resize(
        20, "nearest-exact", ndim=2
    )
    assert isinstance(layer_of(lambda x: F.interpolate(x, size=(4, 4), mode="nearest"), 12),
                      Slice)


def test_deeplabv3_is_analysed_completely() -> None:
    from atrous.nn import deeplabv3_resnet50

    model = deeplabv3_resnet50(num_classes=3, output_stride=8).eval()
    report = atrous.analyze(model, input_size=(1, 3, 65, 65))
    assert report.status == "complete", report.diagnostics
    g = to_graph(model, (1, 3, 65, 65))
    resizes = [n for n in g.layer_nodes() if isinstance(n.layer, Resize)]
    assert [n.layer.size for n in resizes] == [(65, 65)]  # the final 9x9 -> 65x65 upsampling


def test_size_dependence_is_reported_not_guessed() -> None:
    rf = receptive_field("1d: 3 s2, resize 20 linear")
    assert rf.partial and "resize" in " ".join(rf.diagnostics)
    with pytest.raises(CoverageUnavailable, match="pass input_size"):
        coverage("1d: 3 s2, resize 20 linear")
    exact = receptive_field("1d: 3 s2, resize 20 linear", input_size=31)
    assert not exact.partial


def test_spec_round_trip_and_errors() -> None:
    for text in ("resize 65x65", "resize 513x513 bilinear align", "1d: resize 9 nearest-exact"):
        assert to_spec(parse(text)) == text
    for text, message in [
        ("resize", "needs an output size"),
        ("resize 0x4", "must be >= 1"),
        ("resize 5x5 cubic", "unexpected 'cubic'"),
        ("resize 5x5 nearest align", "align needs an interpolating mode"),
    ]:
        with pytest.raises(SpecError, match=message):
            parse(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (((5, 5), "area"), "resize mode must be one of"),
        ((0,), "size must be >= 1"),
        (((5, 5), "nearest", True), "align_corners only applies"),
    ],
)
def test_bad_arguments(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(AtrousError, match=message):
        Resize(*args, ndim=2)  # type: ignore[arg-type]
