"""Ops that common architectures write by hand, read exactly (or honestly), against autograd.

Every model is small; each test traces it, checks the graph is complete (or partial naming the
op), and compares the receptive-field box of one output unit with the support of the input
gradient of that unit (float64, positive weights, max pools swapped for average pools).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from collections.abc import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from models_for_tests import ECA, ConvNeXtBlock, SpaceToDepth, StochasticDepth, positive_

from atrous import receptive_field
from atrous.fx import to_graph

Box = tuple[tuple[int, int], ...]


def hull(model: nn.Module, shape: tuple[int, ...], unit: tuple[int, ...]) -> Box:
    """Per-axis (lo, hi) of the input pixels with a non-zero gradient for one output unit."""
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    model(x)[(0, slice(None), *unit)].sum().backward()
    assert x.grad is not None
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    return tuple((int(nz[:, a].min()), int(nz[:, a].max())) for a in range(nz.shape[1]))


def check_exact(build: Callable[[], nn.Module], shape: tuple[int, ...]) -> None:
    """The graph is complete and the centre unit's box is the autograd support's hull."""
    model = build()
    g = to_graph(model, shape)
    assert not g.partial, g.diagnostics
    rf = receptive_field(g, input_size=shape)
    ref = positive_(build())
    out = tuple(ref(torch.ones(shape, dtype=torch.float64)).shape[2:])
    unit = tuple(s // 2 for s in out)
    assert rf.box(unit) == hull(ref, shape, unit)


class Branches(nn.Module):
    """A 1x1 branch written into in place by a 5x5 branch (issue 14: in-place ops dropped)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.a = nn.Conv2d(2, 2, 1)
        self.b = nn.Conv2d(2, 2, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        if self.how == "add_":
            y.add_(self.b(x))
        elif self.how == "mul_":
            y.mul_(self.b(x))
        elif self.how == "copy_":
            y.copy_(self.b(x))  # y is b(x) alone: a's values are overwritten
        elif self.how == "setitem_all":
            y[..., :] = self.b(x)
        elif self.how == "setitem_channel":
            y[:, :1] = self.b(x)[:, :1]  # channel 0 from b, channel 1 from a
        return y


@pytest.mark.parametrize("how", ["add_", "mul_", "copy_", "setitem_all", "setitem_channel"])
def test_in_place_writes_are_modelled(how: str) -> None:
    check_exact(lambda: Branches(how), (1, 2, 16, 16))
    rf = receptive_field(Branches(how), (1, 2, 16, 16))
    assert rf.size == (5, 5)  # the old front end dropped the write: (1, 1) or (5, 5) wrongly


def test_in_place_write_into_part_of_the_map_is_partial_naming_it() -> None:
    class Part(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.a(x)
            y[..., 2:5] = self.b(x)[..., 2:5]
            return y

    g = to_graph(Part(), (1, 1, 8, 8))
    assert g.partial and any("setitem" in d and "part of the map" in d for d in g.diagnostics)


def test_eca_attention_does_not_crash_and_is_global() -> None:
    """timm's ECA: Conv1d over the pooled channels (issue 14: IndexError in the converter)."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), ECA(8))
    g = to_graph(model, (1, 3, 16, 16))
    assert not g.partial, g.diagnostics
    assert receptive_field(g, input_size=(1, 3, 16, 16)).is_global


def test_a_failing_converter_becomes_an_opaque_node_naming_the_module() -> None:
    from atrous.fx import register_module

    class Odd(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    def broken(m: nn.Module, call: object) -> None:
        raise IndexError("tuple index out of range")

    register_module(Odd, broken)  # type: ignore[arg-type]
    g = to_graph(nn.Sequential(nn.Conv2d(1, 1, 3), Odd()), (1, 1, 8, 8))
    assert g.partial and g["1"].layer.kind == "opaque"
    assert any("1 (Odd)" in d and "IndexError" in d for d in g.diagnostics)


CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "stochastic_depth": (lambda: nn.Sequential(nn.Conv2d(2, 2, 3, padding=1),
                                               StochasticDepth(0.2)), (1, 2, 12, 12)),
    "convnext_block": (lambda: nn.Sequential(nn.Conv2d(2, 8, 2, 2), ConvNeXtBlock(8)),
                       (1, 2, 32, 32)),
    "space_to_depth": (lambda: nn.Sequential(SpaceToDepth(2), nn.Conv2d(8, 4, 3, padding=1)),
                       (1, 2, 16, 16)),
    "pixel_shuffle": (lambda: nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.PixelShuffle(2),
                                            nn.Conv2d(2, 8, 3, padding=1),
                                            nn.PixelUnshuffle(2)), (1, 2, 12, 12)),
    "strided_slice": (lambda: _Fn(lambda x: x[..., ::2, 1::2], 2), (1, 2, 15, 15)),
    "chunk_channels": (lambda: _Fn(lambda x: x.chunk(2, 1)[0] * x.chunk(2, 1)[1], 4),
                       (1, 4, 12, 12)),
    "split_channels": (lambda: _Fn(lambda x: x.split([1, 3], dim=1)[1].split(1, 1)[2], 4),
                       (1, 4, 12, 12)),
    "stack_sum": (lambda: _Sk(), (1, 2, 16, 16)),
    "channel_shuffle": (lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1),
                                              nn.ChannelShuffle(2),
                                              _Fn(lambda x: F.channel_shuffle(x, 2))),
                        (1, 2, 12, 12)),
    "roll_channels": (lambda: _Fn(lambda x: torch.roll(x, 1, dims=1), 3), (1, 3, 8, 8)),
}
for _mode in ("constant", "reflect", "replicate", "circular"):
    CASES[f"pad_{_mode}"] = (
        (lambda m: lambda: nn.Sequential(
            _Fn(lambda x: F.pad(x, (1, 2, 2, 1), mode=m)), nn.Conv2d(2, 2, 3)))(_mode),
        (1, 2, 14, 14))


class _Fn(nn.Module):
    """A module around a function, after a 3x3 conv (so the field is not trivial)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], channels: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1) if channels else nn.Identity()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.conv(x))


class _Sk(nn.Module):
    """SKNet's branch fusion: ``torch.stack([a(x), b(x)], 1).sum(1)``."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 2, 3, padding=1)
        self.b = nn.Conv2d(2, 2, 3, padding=2, dilation=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.a(x), self.b(x)], 1).sum(1)


@pytest.mark.parametrize("case", sorted(CASES))
def test_common_ops_are_exact(case: str) -> None:
    build, shape = CASES[case]
    check_exact(build, shape)


@pytest.mark.parametrize("op", ["roll", "unfold"])
def test_pixel_moving_ops_are_opaque_and_say_the_numbers_are_no_bound(op: str) -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            if op == "roll":
                return torch.roll(y, 3, dims=-1)
            cols = F.unfold(y, 3, padding=1)  # a 3x3 conv written with im2col
            return (cols.sum(1, keepdim=True)).view(1, 1, 16, 16)

    g = to_graph(M(), (1, 1, 16, 16))
    assert g.partial
    text = " ".join(g.diagnostics)
    assert "moves pixels" in text and "neither a lower nor an upper bound" in text


def test_flatten_and_attention_is_global() -> None:
    class Attn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.qkv = nn.Linear(4, 12)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            n, c, h, w = y.shape
            t = y.flatten(2).transpose(1, 2)  # (n, hw, c)
            q, k, v = self.qkv(t).chunk(3, -1)
            a = (q @ k.transpose(1, 2)).softmax(-1) @ v
            return a.transpose(1, 2).reshape(n, c, h, w)

    g = to_graph(Attn(), (1, 2, 8, 8))
    assert not g.partial, g.diagnostics
    assert receptive_field(g, input_size=(1, 2, 8, 8)).is_global



@pytest.mark.parametrize("gate", ["se", "eca"])
def test_local_receptive_field_cuts_the_global_gate(gate: str) -> None:
    """The local field (gate cut) against autograd with no gradient through the gate."""
    from models_for_tests import se_net

    from atrous.graph import local_graph

    def build() -> nn.Module:
        if gate == "se":
            return se_net()
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), ECA(4),
                             nn.Conv2d(4, 4, 3, padding=2, dilation=2))

    shape = (1, 3, 24, 24)
    g = to_graph(build(), shape)
    assert receptive_field(g, input_size=shape).is_global
    local = local_graph(g, shape)
    assert not local.partial and any("cut for the local" in n for n in local.notes)
    rf = receptive_field(local, input_size=shape)
    ref = positive_(build())
    for m in ref.modules():
        if hasattr(m, "detach") and isinstance(m.detach, bool):
            m.detach = True
    assert not rf.is_global and rf.size == (7, 7)
    assert rf.box((12, 12)) == hull(ref, shape, (12, 12))


def test_a_norm_subclass_with_its_own_forward_is_a_leaf_with_a_note() -> None:
    """timm's BatchNormAct2d: F.batch_norm + activation in forward; read as a BatchNorm2d (the
    analysis does not depend on how a norm is written, issue 15), saying so."""

    class BatchNormAct2d(nn.BatchNorm2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             False, 0.1, self.eps)
            return F.relu(y)

    build = lambda: nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), BatchNormAct2d(2),  # noqa: E731
                                  nn.Conv2d(2, 2, 3, padding=1))
    g = to_graph(build(), (1, 2, 12, 12))
    assert [n.meta["target"] for n in g.layer_nodes()] == ["Conv2d", "BatchNormAct2d", "Conv2d"]
    assert len(g.notes) == 1 and "BatchNorm2d subclass with its own forward" in g.notes[0]
    check_exact(build, (1, 2, 12, 12))
