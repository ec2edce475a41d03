"""Every module of :mod:`atrous.nn` survives a plain ``torch.fx.symbolic_trace`` (what FX graph
mode quantisation and other torch tools run), and the traced graph computes what the module
computes; atrous' functionals appear in it as single calls."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.fx
from torch import nn

import atrous.nn as an

MODULES: list[tuple[str, Callable[[], nn.Module], tuple[int, ...], str | None]] = [
    ("DilatedConv1d", lambda: an.DilatedConv1d(4, 3, 3, dilation=2), (1, 4, 20), "dilated_conv1d"),
    ("DilatedConv2d phase", lambda: an.DilatedConv2d(4, 3, 3, dilation=2, impl="phase"),
     (1, 4, 11, 11), "dilated_conv2d"),
    ("DilatedConv3d", lambda: an.DilatedConv3d(2, 2, 3, dilation=2), (1, 2, 6, 7, 8),
     "dilated_conv3d"),
    ("ASPP", lambda: an.ASPP(4, 4, rates=(2, 3)), (1, 4, 13, 13), None),  # nn.Conv2d leaves
    ("ASPP phase", lambda: an.ASPP(4, 4, rates=(2, 3), impl="phase"), (1, 4, 13, 13),
     "dilated_conv2d"),
    ("ASPP space_to_batch", lambda: an.ASPP(4, 4, rates=(2, 3), impl="space_to_batch"),
     (1, 4, 13, 13), "dilated_conv2d"),
    ("ASPP auto", lambda: an.ASPP(4, 4, rates=(2, 3), impl="auto"), (1, 4, 13, 13),
     "dilated_conv2d"),
    ("ASPP separable", lambda: an.ASPP(4, 4, rates=(2, 3), separable=True), (1, 4, 13, 13),
     None),
    ("HDCBlock", lambda: an.HDCBlock(4, rates=(1, 2, 5)), (1, 4, 17, 17), "dilated_conv2d"),
    ("CausalDilatedConv1d", lambda: an.CausalDilatedConv1d(4, 4, 3, dilation=2), (1, 4, 20),
     "causal_dilated_conv1d"),
    ("CausalDilatedStack", lambda: an.CausalDilatedStack(4, dilations=(1, 2, 4)), (1, 4, 20),
     "causal_dilated_conv1d"),
    ("CausalDilatedStack gated", lambda: an.CausalDilatedStack(4, 3, gated=True), (1, 4, 20),
     "causal_dilated_conv1d"),
]


@pytest.mark.parametrize(("name", "build", "shape", "leaf"), MODULES,
                         ids=[m[0] for m in MODULES])
def test_symbolic_trace_computes_what_the_module_computes(
    name: str, build: Callable[[], nn.Module], shape: tuple[int, ...], leaf: str | None
) -> None:
    torch.manual_seed(0)
    module = build().eval()
    traced = torch.fx.symbolic_trace(module)
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), module(x))
    called = {getattr(n.target, "__name__", "") for n in traced.graph.nodes
              if n.op == "call_function"}
    assert leaf is None or leaf in called, called  # one call, not the traced-through body
