"""Effective receptive field: the closed-form uniform-kernel case and consistency with the RF."""

from __future__ import annotations

import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from atrous import AtrousError
from atrous._erf import erf


def uniform_stack(n: int, k: int, ndim: int) -> nn.Module:
    conv = {1: nn.Conv1d, 2: nn.Conv2d}[ndim]
    layers = [conv(1, 1, k, padding=k // 2, bias=False) for _ in range(n)]
    for layer in layers:
        nn.init.constant_(layer.weight, 1.0 / k**ndim)
    return nn.Sequential(*layers).double()


@settings(max_examples=15)
@given(n=st.integers(1, 5), k=st.sampled_from([1, 3, 5, 7]))
def test_uniform_kernels_variance_closed_form_1d(n: int, k: int) -> None:
    length = n * (k - 1) + 9
    res = erf(uniform_stack(n, k, 1), (1, 1, length), samples=1, progress=False)
    assert res.variance()[0] == pytest.approx(n * (k**2 - 1) / 12, abs=1e-9)
    # the ERF's support is exactly the theoretical box
    (lo, hi), = res.rf.box(res.unit)
    nz = np.flatnonzero(res.map)
    assert (nz.min(), nz.max()) == (lo, hi)


def test_uniform_kernels_variance_closed_form_2d() -> None:
    n, k = 3, 3
    res = erf(uniform_stack(n, k, 2), (1, 1, 21, 21), samples=2, progress=False)
    assert res.variance() == pytest.approx((n * (k**2 - 1) / 12,) * 2, abs=1e-9)
    assert res.map.shape == (21, 21)
    assert res.center == (10.0, 10.0)


def test_erf_support_inside_rf_and_fraction() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=2, dilation=2), nn.ReLU(),
                        nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Conv2d(4, 1, 3, padding=1))
    before = [p.detach().clone() for p in net.parameters()]
    res = erf(net, (1, 2, 33, 33), samples=3, reinit=True, seed=1, progress=False)
    for p, q in zip(before, net.parameters()):
        assert torch.equal(p, q)  # reinit works on a copy
    boxes = res.rf.box(res.unit)
    inside = np.zeros_like(res.map, dtype=bool)
    inside[boxes[0][0]:boxes[0][1] + 1, boxes[1][0]:boxes[1][1] + 1] = True
    assert res.map[~inside].sum() == 0
    assert res.map[inside].sum() > 0
    assert 0 < res.fraction95 <= 1
    data = json.loads(json.dumps(res.to_dict()))
    assert data["samples"] == 3 and data["reinit"] is True
    assert np.array(data["map"]).shape == (33, 33)


def test_fraction95_is_smaller_for_deep_uniform_stack() -> None:
    # the mass concentrates (central limit): 95% sits in a small share of a deep stack's box
    shallow = erf(uniform_stack(1, 5, 1), (1, 1, 101), samples=1, progress=False)
    deep = erf(uniform_stack(20, 5, 1), (1, 1, 101), samples=1, progress=False)
    assert shallow.fraction95 == pytest.approx(1.0)
    assert deep.fraction95 < 0.5


def test_erf_dict_output_and_errors() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv1d(1, 1, 3)
            self.b = nn.Conv1d(1, 1, 5)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"a": self.a(x), "b": self.b(x)}

    res = erf(Two(), (1, 1, 31), samples=1, output="b", progress=False)
    assert res.output == "b" and res.rf.size == (5,)
    with pytest.raises(AtrousError, match="output must be one of"):
        erf(Two(), (1, 1, 31), samples=1, output="c", progress=False)
    with pytest.raises(AtrousError, match="samples must be"):
        erf(Two(), (1, 1, 31), samples=0)


def test_erf_figure_draws_box() -> None:
    res = erf(uniform_stack(2, 3, 2), (1, 1, 15, 15), samples=1, progress=False)
    fig = res.figure()
    assert "5x5" in fig.axes[0].get_title()


def test_erf_leaves_the_model_and_the_global_rng_alone() -> None:
    """No .grad on the model's parameters (the gradient is w.r.t. the input only), the global
    RNG untouched by reinit (a forked RNG), the weights untouched, the flags restored; and it
    works under torch.no_grad()."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.Conv2d(2, 1, 3, padding=2, dilation=2)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    rng = torch.random.get_rng_state()
    expected_next = torch.rand(3)
    torch.random.set_rng_state(rng)
    with torch.no_grad():
        res = erf(model, (1, 1, 17, 17), samples=2, reinit=True, progress=False)
    assert torch.equal(torch.rand(3), expected_next)  # the global stream goes on as before
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m.training for m in model.modules())
    assert res.map.sum() > 0
    plain = erf(model, (1, 1, 17, 17), samples=2, progress=False)
    assert all(p.grad is None for p in model.parameters())
    again = erf(model, (1, 1, 17, 17), samples=2, progress=False)
    np.testing.assert_array_equal(plain.map, again.map)  # same seed, same inputs


def test_erf_argument_errors() -> None:
    net = uniform_stack(1, 3, 1)
    with pytest.raises(AtrousError, match="seed must be an integer, got 'x'"):
        erf(net, (1, 1, 15), samples=1, seed="x", progress=False)  # type: ignore[arg-type]
    with pytest.raises(AtrousError, match="this model has a single output"):
        erf(net, (1, 1, 15), samples=1, output="nope", progress=False)


def test_erf_centre_unit_is_the_reports_coverage_unit() -> None:
    """Issue 16 item 6: one report, one centre unit ((n - 1) // 2, as coverage uses)."""
    from atrous import coverage
    from atrous.fx import to_graph

    net = nn.Conv1d(1, 1, 3, padding=1)
    shape = (1, 1, 4096)
    res = erf(net, shape, samples=1, progress=False)
    cov = coverage(to_graph(net, shape), input_size=shape)
    assert res.unit == tuple(cov.unit) == (2047,)
    res2 = erf(nn.Conv2d(1, 1, 3, padding=1), (1, 1, 8, 9), samples=1, progress=False)
    assert res2.unit == (3, 4)


def test_erf_refuses_a_huge_input_before_allocating() -> None:
    from atrous.errors import TooLargeError

    with pytest.raises(TooLargeError, match="max_elements"):
        erf(nn.Conv2d(1, 1, 3), (1, 1, 100000, 100000), samples=1, progress=False)
    with pytest.raises(AtrousError, match="max_elements must be"):
        erf(nn.Conv2d(1, 1, 3), (1, 1, 8, 8), samples=1, progress=False, max_elements=0)
