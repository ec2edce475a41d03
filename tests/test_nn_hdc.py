"""HDCBlock: plain-torch equivalence, gridding verdicts against autograd and coverage."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.fx
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from atrous._coverage import coverage
from atrous.errors import AtrousError
from atrous.graph import stack
from atrous.nn import functional as AF
from atrous.nn.hdc import GriddingWarning, HDCBlock, sawtooth

DT = torch.float64


def test_sawtooth() -> None:
    assert sawtooth() == (1, 2, 3)
    assert sawtooth(3, repeats=2) == (1, 2, 3, 1, 2, 3)
    assert sawtooth(4, start=2) == (2, 3, 4)
    assert HDCBlock(2, repeats=2, norm=None).rates == sawtooth(3, repeats=2)
    assert HDCBlock(2, rates=[1, 2, 5], repeats=2, norm=None).rates == (1, 2, 5) * 2


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("residual", [True, False])
def test_hdc_block_equals_plain_torch_layers(train: bool, residual: bool) -> None:
    torch.manual_seed(0)
    rates = (1, 2, 3)
    block = HDCBlock(4, rates, residual=residual).double()
    convs = [nn.Conv2d(4, 4, 3, padding=r, dilation=r, bias=False).double() for r in rates]
    norms = [nn.BatchNorm2d(4).double() for _ in rates]
    for i in range(3):
        convs[i].load_state_dict({"weight": block.convs[i].weight})
        norms[i].load_state_dict(block.norms[i].state_dict())
    block.train(train)
    for m in norms:
        m.train(train)

    def reference(x: torch.Tensor) -> torch.Tensor:
        h = x
        for i in range(3):
            h = norms[i](convs[i](h))
            if i < 2:
                h = torch.relu(h)
        return torch.relu(h + x if residual else h)

    x = torch.randn(2, 4, 10, 11, dtype=DT)
    torch.testing.assert_close(block(x), reference(x))


def test_functional_twin_and_fx() -> None:
    block = HDCBlock(3, [1, 2, 5], kernel_size=(3, 2), norm=None, on_gridding="ignore").double()
    x = torch.randn(1, 3, 12, 9, dtype=DT)
    twin = AF.dilated_stack(
        x,
        [c.weight for c in block.convs],
        [1, 2, 5],
        [c.bias for c in block.convs],
        None,
        torch.relu,
        True,
    )
    torch.testing.assert_close(block(x), twin)
    assert block(x).shape == x.shape  # even kernel width: asymmetric "same" keeps the size
    gm = torch.fx.symbolic_trace(block)
    torch.testing.assert_close(gm(x), block(x))


def test_gradients_flow() -> None:
    block = HDCBlock(2, [1, 2, 3])
    x = torch.randn(2, 2, 9, 9, requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def impulse_response(rates: tuple[int, ...], kernel: int) -> np.ndarray:
    """d out[centre] / d input for a linear all-ones stack (= the number of paths), by autograd."""
    block = HDCBlock(
        1,
        rates,
        kernel,
        residual=False,
        norm=None,
        activation=None,
        bias=False,
        on_gridding="ignore",
    ).double()
    for conv in block.convs:
        nn.init.ones_(conv.weight)
    rf = block.receptive_field[0]
    n = 2 * rf + 1
    x = torch.zeros(1, 1, n, n, dtype=DT, requires_grad=True)
    block(x)[0, 0, n // 2, n // 2].backward()
    assert x.grad is not None
    return x.grad[0, 0].numpy()


@settings(max_examples=40)
@given(rates=st.lists(st.integers(1, 4), min_size=1, max_size=4), kernel=st.sampled_from([2, 3]))
def test_gridding_verdict_and_rf_match_autograd_path_counts(rates: list[int], kernel: int) -> None:
    rates_t = tuple(rates)
    grad = impulse_response(rates_t, kernel)
    block = HDCBlock(1, rates_t, kernel, norm=None, on_gridding="ignore")
    ys, xs = np.nonzero(grad)
    box = grad[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert box.shape == block.receptive_field == ((kernel - 1) * sum(rates) + 1,) * 2
    assert block.gridding_free == bool((box > 0).all())
    counts = coverage(stack(list(rates_t), kernel=kernel, ndim=1)).counts
    np.testing.assert_array_equal(box, np.outer(counts, counts))


@pytest.mark.parametrize(
    "rates, grids",
    [
        ([2, 2, 2], True),  # the seed's gridding example
        ([1, 2, 3], False),  # the seed's sawtooth
        ([2, 4, 8], True),  # common factor 2
        ([2, 3], True),  # the stated rule passes, but it grids
        ([5, 2, 1], False),  # the stated rule fails (not a sawtooth), but nothing grids
    ],
)
def test_gridding_policy(rates: list[int], grids: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if grids:
            with pytest.warns(GriddingWarning, match=r"HDCBlock rates \[") as record:
                block = HDCBlock(2, rates)
            assert issubclass(record[0].category, UserWarning)
            assert record[0].filename == __file__  # points at the caller
            with pytest.raises(AtrousError, match="grid"):
                HDCBlock(2, rates, on_gridding="error")
            assert not HDCBlock(2, rates, on_gridding="ignore").gridding_free
            assert "gridding=True" in repr(block)
        else:
            block = HDCBlock(2, rates, on_gridding="error")  # neither warns nor raises
            assert block.gridding_free


def test_non_square_kernel_checks_each_axis() -> None:
    # width 1 never grids, height 3 with rates [2, 2] does
    with pytest.warns(GriddingWarning, match="kernel 3"):
        block = HDCBlock(2, [2, 2], kernel_size=(3, 1))
    assert [r.gridding_free for r in block.hdc] == [False, True]
    assert block.receptive_field == (2 * 4 + 1, 1)


def test_extra_repr() -> None:
    assert "rates=(1, 2, 3), kernel_size=3" in repr(HDCBlock(4, norm=None))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rates": []}, "rates must be a non-empty sequence"),
        ({"rates": "123"}, "rates must be a non-empty sequence"),
        ({"rates": [1, 0]}, "rate #1 must be >= 1, got 0"),
        ({"on_gridding": "maybe"}, "on_gridding must be one of"),
        ({"repeats": 0}, "repeats must be >= 1, got 0"),
        ({"kernel_size": 0}, "kernel_size must be >= 1"),
        ({"norm": 5}, "norm must be"),
        ({"norm": nn.BatchNorm2d(4)}, "got the module instance"),  # would be shared by layers
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(AtrousError, match=message):
        HDCBlock(4, **kwargs)
    with pytest.raises(AtrousError, match="channels must be >= 1"):
        HDCBlock(0)


@pytest.mark.parametrize("rates", [[1, 2, 3], [2, 2, 2], [2, 3], [1, 2, 5], [5, 2, 1]])
def test_analysis_of_the_traced_block_agrees(rates: list[int]) -> None:
    # atrous.fx reads the block's dilated_conv2d calls as Conv layers; the exact coverage of the
    # traced graph must give the block's own verdict and receptive field.
    import atrous
    from atrous.fx import to_graph

    block = HDCBlock(2, rates, residual=False, norm=None, on_gridding="ignore")
    graph = to_graph(block, (1, 2, 40, 40))
    assert not graph.partial
    cov = atrous.coverage(graph)
    assert cov.gridded == (not block.gridding_free)
    assert cov.rf_size == block.receptive_field
    assert atrous.receptive_field(graph).size == block.receptive_field
