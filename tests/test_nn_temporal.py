"""Causal dilated convolutions and stacks: causality and receptive field by autograd, and
equivalence with plain torch layers."""

from __future__ import annotations

import pytest
import torch
import torch.fx
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from atrous.errors import AtrousError
from atrous.nn import functional as AF
from atrous.nn.temporal import CausalDilatedConv1d, CausalDilatedStack

DT = torch.float64


def test_causal_conv_equals_left_pad_then_conv1d() -> None:
    m = CausalDilatedConv1d(3, 5, 3, dilation=4).double()
    ref = nn.Sequential(
        nn.ConstantPad1d((4 * (3 - 1), 0), 0.0), nn.Conv1d(3, 5, 3, dilation=4)
    ).double()
    ref[1].load_state_dict(m.state_dict(), strict=True)
    x = torch.randn(2, 3, 30, dtype=DT)
    torch.testing.assert_close(m(x), ref(x))
    torch.testing.assert_close(m(x), AF.causal_dilated_conv1d(x, m.weight, m.bias, 4))
    assert m.receptive_field == 4 * (3 - 1) + 1
    assert repr(m) == (
        "CausalDilatedConv1d(3, 5, kernel_size=(3,), dilation=(4,), causal padding=(8, 0))"
    )


def reference_stack(block: CausalDilatedStack, x: torch.Tensor) -> torch.Tensor:
    """The same network written with nn.Conv1d, F.pad and torch activations."""
    k = block.kernel_size
    for i, d in enumerate(block.dilations):
        conv = block.convs[i]
        z = F.conv1d(F.pad(x, [d * (k - 1), 0]), conv.weight, conv.bias, dilation=d)
        if block.gated:
            c = z.shape[1] // 2
            h = torch.tanh(z[:, :c]) * torch.sigmoid(z[:, c:])
            proj = block.projections[i]
            h = F.conv1d(h, proj.weight, proj.bias)
        else:
            h = torch.relu(z)
        x = x + h if block.residual else h
    return x


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("residual", [False, True])
def test_stack_equals_plain_torch(gated: bool, residual: bool) -> None:
    block = CausalDilatedStack(
        4, num_layers=4, kernel_size=3, gated=gated, residual=residual
    ).double()
    x = torch.randn(2, 4, 40, dtype=DT)
    torch.testing.assert_close(block(x), reference_stack(block, x))
    gm = torch.fx.symbolic_trace(block)
    torch.testing.assert_close(gm(x), block(x))


def jacobian(block: nn.Module, channels: int, length: int) -> torch.Tensor:
    """J[t_out, t_in] = sum over channels of |d out[:, t_out] / d x[:, t_in]|."""
    x = torch.randn(1, channels, length, dtype=DT)
    jac = torch.autograd.functional.jacobian(block, x)  # (1, C, L, 1, C, L)
    return jac.abs().sum(dim=(0, 1, 3, 4))


@settings(max_examples=25)
@given(
    dilations=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    k=st.integers(2, 4),
    gated=st.booleans(),
    residual=st.booleans(),
)
def test_causality_by_autograd(dilations: list[int], k: int, gated: bool, residual: bool) -> None:
    block = CausalDilatedStack(
        2, kernel_size=k, dilations=dilations, gated=gated, residual=residual
    ).double()
    length = block.receptive_field + 6
    jac = jacobian(block, 2, length)
    future = torch.triu(jac, diagonal=1)  # entries with t_in > t_out
    assert torch.count_nonzero(future) == 0


@pytest.mark.parametrize("dilations, k", [([1, 2, 4, 8], 2), ([1, 3, 9], 3), ([2, 2, 5], 2)])
@pytest.mark.parametrize("residual", [False, True])
def test_receptive_field_by_autograd(dilations: list[int], k: int, residual: bool) -> None:
    block = CausalDilatedStack(
        1, kernel_size=k, dilations=dilations, residual=residual, activation=None
    ).double()
    for conv in block.convs:
        nn.init.uniform_(conv.weight, 0.5, 1.0)  # positive weights: no cancellation
    rf = 1 + (k - 1) * sum(dilations)
    assert block.receptive_field == rf
    length = rf + 10
    x = torch.zeros(1, 1, length, dtype=DT, requires_grad=True)
    block(x)[0, 0, -1].backward()
    assert x.grad is not None
    support = torch.nonzero(x.grad[0, 0]).flatten()
    assert support.min().item() == length - rf  # the oldest input it sees
    assert support.max().item() == length - 1  # no look-ahead


def test_default_schedule_is_powers_of_two_and_functional_twin() -> None:
    block = CausalDilatedStack(3, num_layers=6, gated=True)
    assert block.dilations == tuple(2**i for i in range(6))
    assert block.receptive_field == 1 + (2 - 1) * (2**6 - 1)
    x = torch.randn(2, 3, 20)
    twin = AF.causal_dilated_stack(
        x,
        [c.weight for c in block.convs],
        block.dilations,
        [c.bias for c in block.convs],
        gated=True,
        residual=True,
        proj_weights=[p.weight for p in block.projections],
        proj_biases=[p.bias for p in block.projections],
    )
    torch.testing.assert_close(block(x), twin)
    assert "gated=True" in repr(block) and "receptive_field=64" in repr(block)


def test_gradients_flow() -> None:
    block = CausalDilatedStack(2, num_layers=3, gated=True)
    x = torch.randn(2, 2, 16, requires_grad=True)
    block(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: CausalDilatedConv1d(2, 2, 2, dilation=0), "dilation must be >= 1, got 0"),
        (lambda: CausalDilatedConv1d(2, 2, 0), "kernel_size must be >= 1, got 0"),
        (lambda: CausalDilatedStack(2, dilations=[]), "dilations must be a non-empty"),
        (lambda: CausalDilatedStack(2, dilations=[1, 0]), "dilation #1 must be >= 1, got 0"),
        (lambda: CausalDilatedStack(2, num_layers=3, dilations=[1, 2]), "disagrees"),
        (lambda: CausalDilatedStack(2, num_layers=0), "num_layers must be >= 1, got 0"),
        (lambda: CausalDilatedStack(0), "channels must be >= 1, got 0"),
        (lambda: CausalDilatedStack(2)(torch.randn(1, 3, 8)), "input channels"),
    ],
)
def test_bad_arguments(build, message: str) -> None:
    with pytest.raises(AtrousError, match=message):
        build()


@pytest.mark.parametrize("gated", [False, True])
def test_analysis_of_the_traced_stack_agrees(gated: bool) -> None:
    import atrous
    from atrous.fx import to_graph

    block = CausalDilatedStack(2, num_layers=4, kernel_size=3, gated=gated)
    graph = to_graph(block, (1, 2, 100))
    assert not graph.partial
    assert atrous.receptive_field(graph).size == (block.receptive_field,)
    assert not atrous.coverage(graph).gridded  # rates 2^i with k >= 2 leave no gaps
