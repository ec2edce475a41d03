"""The fx shape run's formula for a conv or linear module whose weights stay where they are (the
run swaps a module's tensors to the meta device only when torch runs it): torch's meta result
from the real weights, None where the weights could not stand for meta ones, and the user's
parameters left in place."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from atrous.fx import meta_shapes, to_graph


def meta(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.empty(shape, device="meta", dtype=dtype)


@pytest.mark.parametrize(("mod", "shape"), [
    (nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=2), (2, 3, 17, 19)),
    (nn.Conv1d(4, 4, 5, groups=2, padding="same"), (1, 4, 9)),
    (nn.Linear(6, 3), (2, 5, 6)),
])
def test_real_weights_give_torch_meta_result(mod: nn.Module, shape: tuple[int, ...]) -> None:
    x = meta(*shape)
    got = meta_shapes.module_shortcut(mod, (x,), {})
    want = copy.deepcopy(mod).to("meta")(x)
    assert got is not None and got.is_meta
    assert (got.shape, got.stride(), got.dtype) == (want.shape, want.stride(), want.dtype)
    assert not mod.weight.is_meta  # the module itself is untouched


def test_weights_that_cannot_stand_for_meta_ones_go_to_torch() -> None:
    x = meta(1, 3, 8, 8)
    half = nn.Conv2d(3, 4, 3).to(torch.float16)  # another dtype: torch raises, not a shape
    assert meta_shapes.module_shortcut(half, (x,), {}) is None
    lazy = nn.LazyConv2d(4, 3)  # an uninitialized parameter
    assert meta_shapes.module_shortcut(lazy, (x,), {}) is None


def test_trace_leaves_the_models_parameters_real() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, stride=2), nn.Flatten(), nn.LazyLinear(10))
    model(torch.zeros(1, 3, 16, 16))  # the lazy layer gets its weight
    before = {k: (v.device.type, v.data_ptr()) for k, v in model.state_dict().items()}
    g = to_graph(model, (1, 3, 16, 16))
    assert g[g.output].meta["shape"] == (1, 10)
    after = {k: (v.device.type, v.data_ptr()) for k, v in model.state_dict().items()}
    assert after == before
