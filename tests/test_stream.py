"""atrous.stream against the offline forward pass of the same model (the reference)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_tiling_models import integer_weights, wavenet

from atrous import AtrousError, receptive_field
from atrous._stream import stream
from atrous.nn import CausalDilatedStack

# chunk size -> signal length (short for chunk size 1: one push per sample)
CHUNKS = {1: 24, 7: 60, 1000: 2100}


def _run(model: nn.Module, x: torch.Tensor, chunk: int) -> torch.Tensor:
    s = stream(model)
    outs = [s.push(x[..., i:i + chunk]) for i in range(0, x.shape[-1], chunk)]
    return torch.cat(outs, -1)


@pytest.mark.parametrize("chunk", sorted(CHUNKS))
def test_stream_equals_offline_exactly(chunk: int) -> None:
    """float64 with integer weights and ReLU: every sum is exact, so streamed == offline bit
    for bit (a gated tanh/sigmoid is not exact: its vectorised kernels round differently)."""
    torch.manual_seed(0)
    model = integer_weights(CausalDilatedStack(2, kernel_size=2, dilations=[1, 2, 4, 8]).eval())
    x = torch.randint(-2, 3, (2, 2, CHUNKS[chunk])).double()
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() > 0
    assert torch.equal(_run(model, x, chunk), ref)


@pytest.mark.parametrize("chunk", [1, 7])
def test_stream_wavenet_float32(chunk: int) -> None:
    torch.manual_seed(0)
    model = wavenet(layers=4, channels=3).eval()
    x = torch.randn(1, 1, 40)
    with torch.no_grad():
        ref = model(x)
    assert (_run(model, x, chunk) - ref).abs().max().item() <= 1e-5


def test_buffers_small_stack() -> None:
    model = CausalDilatedStack(2, kernel_size=3, dilations=[1, 2, 4, 1, 2, 4]).eval()
    s = stream(model, channels=2)  # also cross-checks the box with atrous.receptive_field
    assert s.receptive_field == 1 + 2 * 14 and s.buffer_frames == 2 * 14
    assert sorted(s.buffers.values()) == sorted(2 * d for d in [1, 2, 4, 1, 2, 4])


@pytest.mark.slow
def test_buffers_are_the_per_layer_spans() -> None:
    """WaveNet rates 1..512 x3, k=2: (k-1)*d frames per layer, RF - 1 = 3069 in all."""
    rates = [2**i for i in range(10)] * 3
    model = CausalDilatedStack(2, kernel_size=2, dilations=rates).eval()
    s = stream(model, channels=2)  # also cross-checks the box with atrous.receptive_field
    assert s.receptive_field == 3070 == receptive_field(model, (1, 2, 4096)).size[0]
    assert sorted(s.buffers.values()) == sorted(rates)
    assert s.buffer_frames == 3069 and s.lag == 0


def test_valid_convolutions_stream_with_a_lag() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 2, 3, dilation=2), nn.ReLU(), nn.Conv1d(2, 1, 2)).eval()
    s = stream(model, channels=1)
    assert s.lag == 5 and s.receptive_field == 6
    x = torch.randn(1, 1, 30)
    with torch.no_grad():
        assert (_run(model, x, 7) - model(x)).abs().max().item() <= 1e-6


def test_held_frames_after_pushes() -> None:
    model = CausalDilatedStack(2, kernel_size=3, dilations=[1, 3]).eval()
    s = stream(model)
    s.push(torch.randn(1, 2, 50))
    assert sum(s.held_frames.values()) == s.buffer_frames == 2 * (1 + 3)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (nn.Conv1d(1, 1, 3, padding=1), "not causal"),
        (nn.Conv1d(1, 1, 3, stride=2, padding=1), "not causal"),
        (nn.Sequential(nn.Conv1d(1, 1, 3), nn.AdaptiveAvgPool1d(1)), "no streaming rule"),
    ],
)
def test_refusals_are_one_line(model: nn.Module, match: str) -> None:
    with pytest.raises(AtrousError, match=match) as info:
        stream(model.eval())
    assert "\n" not in str(info.value)


def test_push_needs_a_3d_tensor() -> None:
    s = stream(CausalDilatedStack(1, dilations=[1]).eval())
    with pytest.raises(AtrousError, match=r"\(N, C, T\)"):
        s.push(torch.zeros(5))


class StridedCausal(nn.Module):
    """Causal (left-padded) convolutions with strides 2 and 3 between dilated ones: one output
    every 6 input samples; a residual sum at the half rate."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(2, 3, 2)
        self.down = nn.Conv1d(3, 3, 4, stride=2)
        self.c2 = nn.Conv1d(3, 3, 3, dilation=2)
        self.down2 = nn.Conv1d(3, 2, 3, stride=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c1(F.pad(x, (1, 0))))
        y = torch.relu(self.down(F.pad(x, (3, 0))))
        y = y + self.c2(F.pad(y, (4, 0)))
        return self.down2(F.pad(y, (2, 0)))


@pytest.mark.parametrize("chunk", sorted(CHUNKS))
def test_strided_stream_equals_offline_exactly(chunk: int) -> None:
    """Strided causal layers emit one output every s inputs: the pushes, concatenated, equal
    the offline output bit for bit (float64, integer weights), for lengths that are not
    multiples of the stride."""
    torch.manual_seed(0)
    model = integer_weights(StridedCausal().eval())
    length = {1: 23, 7: 47, 1000: 2105}[chunk]  # not multiples of the stride 6
    x = torch.randint(-2, 3, (2, 2, length)).double()
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() > 0 and ref.shape[-1] == -(-length // 6)
    assert torch.equal(_run(model, x, chunk), ref)


def test_strided_buffers_are_exact() -> None:
    """The buffers are the most frames each node ever holds, pushing one sample at a time
    ((k-1)*d per convolution, strided or not); a valid stride-2 conv streams with a lag."""
    model = StridedCausal().eval()
    s = stream(model)
    assert s.stride == 6 and s.buffer_frames == 1 + 3 + 4 + 2
    most: dict[str, int] = {}
    for _ in range(24):  # past the first outputs, every phase of the strides twice
        s.push(torch.zeros(1, 2, 1))
        for name, held in s.held_frames.items():
            most[name] = max(most.get(name, 0), held)
    assert most == s.buffers
    valid = nn.Conv1d(1, 1, 3, stride=2).eval()
    x = torch.randn(1, 1, 20)
    s = stream(valid)
    assert (s.lag, s.stride) == (2, 2)
    got = torch.cat([s.push(x[..., i:i + 3]) for i in range(0, 20, 3)], -1)
    torch.testing.assert_close(got, valid(x).detach())


@pytest.mark.slow
def test_strided_box_agrees_with_receptive_field() -> None:
    """Unit 0 of the strided stack reads samples -16..0: the box atrous.receptive_field
    computes for the traced model (checked by stream(..., channels=...))."""
    s = stream(StridedCausal().eval(), channels=2)
    assert (s.box, s.receptive_field, s.lag) == ((-16, 0), 17, 0)
    assert receptive_field(StridedCausal().eval(), (1, 2, 96)).size == (17,)
