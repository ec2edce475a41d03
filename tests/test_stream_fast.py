"""The push's runtime paths (a pointwise call with constants, keywords, a nested argument or a
method; a chunk/split tuple; a history kept without a copy) against the offline model, bit for
bit: float64 with integer weights, so every sum is exact whatever order it runs in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_tiling_models import integer_weights

from atrous import AtrousError
from atrous._stream import stream
from atrous.nn import CausalDilatedStack


class Paths(nn.Module):
    """Each pointwise call kind the push resolves once: a module, a function with a constant
    and keywords, a method with arguments, a merge through a nested list (``torch.cat``), a
    chunk tuple gating itself, and a residual read both now and by a dilated conv later."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv1d(2, 4, 2, dilation=2)
        self.b = nn.Conv1d(4, 2, 3)
        self.scale = nn.Parameter(torch.tensor([[[2.0], [-1.0]]]))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.a(F.pad(x, (2, 0))))
        gate, value = h.chunk(2, 1)
        y = F.leaky_relu(value, negative_slope=0.5) * torch.relu(gate)
        y = torch.cat([y, x.clamp(min=-1.0)], dim=1)
        z = self.b(F.pad(y, (2, 0)))
        out: torch.Tensor = z * self.scale + x
        return out


MODELS: dict[str, Callable[[], nn.Module]] = {
    "paths": Paths,
    "conv-relu": lambda: nn.Sequential(nn.Conv1d(2, 2, 1), nn.ReLU())}


def _offline(name: str, length: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = integer_weights(MODELS[name]().eval())
    x = torch.randint(-2, 3, (2, 2, length)).double()
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() > 0
    return model, x, ref


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_pushes_equal_the_offline_output_bit_for_bit(name: str, chunk: int) -> None:
    model, x, ref = _offline(name, 1003 if chunk == 1000 else 30)
    s = stream(model)
    got = torch.cat([s.push(x[..., i:i + chunk]) for i in range(0, x.shape[-1], chunk)], -1)
    assert torch.equal(got, ref)


def test_ragged_pushes_and_a_refused_one_in_between() -> None:
    """Chunks of 0 to 9 samples, a refused chunk (another batch size) in between: the output
    is the offline one and the buffers held are those of the pushes before."""
    model, x, ref = _offline("paths", 40)
    s = stream(model)
    outs, at = [], 0
    for n in [0, 3, 1, 0, 9, 2, 5, 4, 1, 7, 8]:
        outs.append(s.push(x[..., at:at + n]))
        at += n
        if n == 9:
            held = s.held_frames
            with pytest.raises(AtrousError, match="N x C"):
                s.push(x[:1, :, at:at + 2])
            assert s.held_frames == held
    assert at == 40 and torch.equal(torch.cat(outs, -1), ref)


def test_an_output_changed_in_place_changes_no_later_push() -> None:
    """The push returns a new tensor it may also keep as the output's history: a caller
    writing into it changes nothing the stream computes later."""
    model, x, ref = _offline("paths", 24)
    s = stream(model)
    outs = []
    for i in range(0, 24, 4):
        y = s.push(x[..., i:i + 4])
        outs.append(y.clone())
        y.fill_(1e6)
    assert torch.equal(torch.cat(outs, -1), ref)


def test_a_tuple_indexed_by_a_slice_is_refused_naming_the_node() -> None:
    """``torch.split(y, 1, dim=1)[::-1]`` passed stream() and then failed in push with a raw
    TypeError (the slice was read as one of the time axis)."""

    class Reversed(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            parts = torch.split(x, 1, dim=1)[::-1]
            return torch.cat(parts, 1)

    with pytest.raises(AtrousError, match=r"node 'getitem' .*indexing the tuple 'split'"):
        stream(Reversed())

    class Elements(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, b = torch.split(x, 1, dim=1)
            return torch.cat([b, a], 1)

    x = torch.randn(1, 2, 9)
    s = stream(Elements())
    assert torch.equal(torch.cat([s.push(x[..., :4]), s.push(x[..., 4:])], -1),
                       Elements()(x))



def test_a_refilled_input_buffer_changes_no_later_push() -> None:
    """A caller that reads a signal into one buffer and pushes it again and again (the usual
    audio loop): the first push of a signal kept the chunk itself as the input's history, so
    refilling it changed what the next push read (a dilated stack reads its input's past)."""
    torch.manual_seed(0)
    model = integer_weights(CausalDilatedStack(2, kernel_size=2, dilations=[1, 2, 4]).eval())
    x = torch.randint(-2, 3, (2, 2, 24)).double()
    with torch.no_grad():
        ref = model.double()(x)
    for first in (True, False):  # the first signal, and one after reset()
        s = stream(model)
        if not first:
            s.push(x)
            s.reset()
        buf = torch.empty_like(x[..., :4])
        outs = []
        for i in range(0, 24, 4):
            buf.copy_(x[..., i:i + 4])
            outs.append(s.push(buf).clone())
        assert torch.equal(torch.cat(outs, -1), ref)
