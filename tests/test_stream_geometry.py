"""atrous.stream reads the one geometry (the torch front end's layers): the calls it reads
through those records stream exactly as the offline model computes them, and what it refuses
it refuses for the reason the front end's own graph of the model gives."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from test_tiling_models import integer_weights

from atrous import AtrousError, to_graph
from atrous._stream import stream


class Fn(nn.Module):
    """One function of the input, as a module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class StridedDilatedPadded(nn.Module):
    """Strided, dilated and padded: a dilated conv padded on the left and cropped at the start,
    channel slices gating each other, a zero-pad module before a stride-2 conv, a dilated
    residual at the half rate, and a strided slice of the time axis."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(2, 4, 3, dilation=2)
        self.pad = nn.ConstantPad1d((3, 0), 0.0)
        self.down = nn.Conv1d(2, 3, 4, stride=2)
        self.c2 = nn.Conv1d(3, 3, 3, dilation=3, padding="valid")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c1(F.pad(x, (6, 0)))[..., 1:])
        y = torch.relu(x[:, :2]) * x[:, 2:]
        y = self.down(self.pad(y))
        y = y + self.c2(F.pad(y, (6, 0)))
        return y[..., 1::2]


MODELS = {
    "strided-dilated-padded": StridedDilatedPadded,
    # a stride larger than the kernel: a unit's next read lies past what was pushed
    "1x1-stride-2": lambda: nn.Sequential(nn.Conv1d(2, 2, 1, stride=2)),
    "channel-slice": lambda: Fn(lambda x: x[:, :1, 2:] + x[..., 1:, :-2]),
}


@pytest.mark.parametrize(
    ("name", "chunk"),
    [("strided-dilated-padded", 1), ("strided-dilated-padded", 7),
     ("strided-dilated-padded", 1000), ("1x1-stride-2", 1), ("1x1-stride-2", 7),
     ("channel-slice", 7)],
)
def test_stream_equals_offline_exactly(name: str, chunk: int) -> None:
    """float64, integer weights: the concatenated pushes equal the real model's offline output
    bit for bit, for a length that is no multiple of the strides."""
    torch.manual_seed(0)
    model = integer_weights(MODELS[name]().eval())
    x = torch.randint(-2, 3, (2, 2, 1003 if chunk == 1000 else 23)).double()
    with torch.no_grad():
        ref = model(x)
    s = stream(model)
    got = torch.cat([s.push(x[..., i:i + chunk]) for i in range(0, x.shape[-1], chunk)], -1)
    assert ref.abs().max() > 0
    assert torch.equal(got, ref)


@pytest.mark.slow
def test_box_agrees_with_the_front_end() -> None:
    """The box stream composes (receptive_fields of its graph of converted layers) is the one
    atrous.receptive_field gives the model traced by atrous.to_graph (checked by channels=)."""
    s = stream(StridedDilatedPadded().eval(), channels=2)
    assert s.stride == 4 and s.lag == s.box[1] > 0


@pytest.mark.parametrize(
    ("model", "node", "record"),
    [
        (nn.Sequential(nn.ConvTranspose1d(1, 1, 2, stride=2)), "0", "Scatter"),
        (nn.Sequential(nn.Upsample(scale_factor=2)), "0", "Sample"),
        (nn.Sequential(nn.AdaptiveAvgPool1d(1)), "0", "Whole"),
        (nn.Sequential(nn.AdaptiveAvgPool1d(5)), "0", "Windows"),
        (Fn(lambda x: x.mean(-1, keepdim=True)), "mean", "Whole"),
    ],
)
def test_refused_by_their_geometry_record(model: nn.Module, node: str, record: str) -> None:
    """The refusal names the node and the record that rules it out: the record the front end's
    own graph of the model (atrous.to_graph) gives that node."""
    g = to_graph(model, (1, 1, 64))
    assert type(g[node].layer.axis_geometry(0, 64)).__name__ == record
    with pytest.raises(AtrousError, match=rf"no streaming rule.*\({record}\)") as info:
        stream(model.eval())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (Fn(lambda x: torch.cat([x, x], -1)), "concatenation along a spatial axis"),
        (Fn(lambda x: x[..., -3:]), "depend on the input length"),
        (Fn(lambda x: x[..., 2:10]), "depend on the input length"),
        (Fn(lambda x: F.pad(x, (-1, 0))), "negative padding"),
        (nn.Sequential(nn.Conv1d(1, 1, 3, padding=2, padding_mode="circular")),
         "'circular' padding"),
        (nn.Sequential(nn.GroupNorm(1, 2)), "normalises with"),
    ],
)
def test_refused_for_the_front_ends_reason(model: nn.Module, match: str) -> None:
    """Calls the converters cannot model exactly (or model only up to a note) are refused with
    the converter's reason."""
    with pytest.raises(AtrousError, match=match) as info:
        stream(model.eval())
    assert "\n" not in str(info.value) and "node '" in str(info.value)
