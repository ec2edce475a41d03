"""atrous.stream on the canonical TCN (Bai, Kolter & Koltun, "An Empirical Evaluation of Generic
Convolutional and Recurrent Networks for Sequence Modeling", 2018; github.com/locuslab/TCN):
convolutions padded by ``(k-1)*d`` on both sides whose right-hand tail a ``Chomp1d`` slices off.
The reference is the real model's offline forward pass."""

from __future__ import annotations

import warnings
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from test_tiling_models import integer_weights

from atrous import AtrousError, receptive_field
from atrous._stream import Stream, stream


# -- the TCN as locuslab/TCN (tcn.py) writes it ------------------------------------------------
class Chomp1d(nn.Module):
    def __init__(self, chomp_size: int) -> None:
        super().__init__()
        self.chomp_size = chomp_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    def __init__(self, n_inputs: int, n_outputs: int, kernel_size: int, stride: int,
                 dilation: int, padding: int, dropout: float = 0.2, chomp: int | None = None,
                 ) -> None:
        super().__init__()
        chomp = padding if chomp is None else chomp  # the TCN chomps exactly the padding
        self.conv1 = nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride,
                               padding=padding, dilation=dilation)
        self.chomp1 = Chomp1d(chomp)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride,
                               padding=padding, dilation=dilation)
        self.chomp2 = Chomp1d(chomp)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.net = nn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1,
                                 self.conv2, self.chomp2, self.relu2, self.dropout2)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TemporalConvNet(nn.Module):
    def __init__(self, num_inputs: int, num_channels: list[int], kernel_size: int = 2,
                 dropout: float = 0.2, chomp: int | None = None) -> None:
        super().__init__()
        layers = []
        for i, out in enumerate(num_channels):
            d = 2**i
            cin = num_inputs if i == 0 else num_channels[i - 1]
            layers += [TemporalBlock(cin, out, kernel_size, stride=1, dilation=d,
                                     padding=(kernel_size - 1) * d, dropout=dropout,
                                     chomp=chomp)]
        self.network = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


# (input channels, block channels): a 1x1 downsample on every residual, or on none
SHAPES = {"downsample": (2, [3, 4, 5]), "identity": (3, [3, 3, 3])}
LENGTH = {1: 40, 7: 61, 1000: 2003}  # chunk size -> signal length


def _run(s: Stream, x: torch.Tensor, chunk: int) -> torch.Tensor:
    return torch.cat([s.push(x[..., i:i + chunk]) for i in range(0, x.shape[-1], chunk)], -1)


def _tcn(shape: str, k: int, **kw: int) -> TemporalConvNet:
    torch.manual_seed(0)
    cin, channels = SHAPES[shape]
    return TemporalConvNet(cin, channels, kernel_size=k, **kw).eval()


@pytest.mark.parametrize(("shape", "k"), [("downsample", 2), ("identity", 3)])
def test_tcn_streams_exactly(shape: str, k: int) -> None:
    """Three TemporalBlocks (dilations 1, 2, 4), float64 with integer weights: every sum is
    exact, so for chunk sizes 1, 7 and 1000 the concatenated pushes equal model(x) bit for
    bit."""
    model = integer_weights(_tcn(shape, k))
    s = stream(model)
    for chunk, length in sorted(LENGTH.items()):
        x = torch.randint(-2, 3, (2, SHAPES[shape][0], length)).double()
        with torch.no_grad():
            ref = model(x)
        assert ref.abs().max() > 0 and ref.shape[-1] == length
        s.reset()
        assert torch.equal(_run(s, x, chunk), ref)


@pytest.mark.slow
@pytest.mark.parametrize(("shape", "k"), [("downsample", 3), ("identity", 2)])
def test_tcn_streams_exactly_other_kernels(shape: str, k: int) -> None:
    test_tcn_streams_exactly(shape, k)


def test_tcn_with_weight_norm_as_the_tcn_writes_it() -> None:
    """locuslab/TCN wraps both convolutions in torch.nn.utils.weight_norm (a forward pre-hook,
    deprecated by torch in favour of the parametrization): stream runs the normalised weight."""
    torch.manual_seed(0)
    model = TemporalConvNet(2, [3, 4], kernel_size=3).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's deprecation of weight_norm
        for block in model.network:
            block.conv1 = nn.utils.weight_norm(block.conv1)
            block.conv2 = nn.utils.weight_norm(block.conv2)
            block.net[0], block.net[4] = block.conv1, block.conv2
    model.eval()
    x = torch.randn(1, 2, 45, dtype=torch.float64)
    with torch.no_grad():
        ref = model(x)
    assert (_run(stream(model), x, 7) - ref).abs().max().item() <= 1e-12


@pytest.mark.slow
def test_tcn_with_the_weight_norm_parametrization() -> None:
    """torch.nn.utils.parametrizations.weight_norm: the convolutions stay nn.Conv1d leaves for
    torch.fx (slow: every read of the weight recomputes it)."""
    from torch.nn.utils.parametrizations import weight_norm

    torch.manual_seed(0)
    model = TemporalConvNet(2, [3, 4, 4], kernel_size=3).double()
    for block in model.network:
        weight_norm(block.conv1)
        weight_norm(block.conv2)
    model.eval()
    x = torch.randn(1, 2, 75, dtype=torch.float64)
    with torch.no_grad():
        ref = model(x)
    for chunk in (1, 7, 1000):
        assert (_run(stream(model), x, chunk) - ref).abs().max().item() <= 1e-12


@pytest.mark.parametrize("k", [2, 3])
def test_tcn_receptive_field_and_buffers(k: int) -> None:
    """The receptive field stream composes is atrous.receptive_field's (stream(channels=...)
    cross-checks the box) and the autograd impulse response's support: 1 + 2*(k-1)*(1+2+4)
    samples, all in the past. The buffers are (k-1)*d per convolution's input (the 1x1
    downsample shares the block input's), RF - 1 in all, and what a push actually holds."""
    model = _tcn("downsample", k).double()
    rf = 1 + 2 * (k - 1) * (1 + 2 + 4)
    s = stream(model, channels=2)
    assert s.receptive_field == rf == receptive_field(model, (1, 2, 128)).size[0]
    assert (s.box, s.lag, s.stride) == ((-(rf - 1), 0), 0, 1)
    assert s.buffer_frames == rf - 1
    assert sorted(s.buffers.values()) == sorted(2 * [(k - 1) * d for d in (1, 2, 4)])
    # impulse response: with positive weights and input every ReLU passes, so the gradient of
    # output t is non-zero exactly on the inputs t reads
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.abs() + 0.1)
    x = torch.ones(1, 2, 64, dtype=torch.float64, requires_grad=True)
    t = 50
    model(x)[0, :, t].sum().backward()
    assert x.grad is not None
    support = x.grad[0].abs().sum(0).nonzero().flatten()
    assert (support.min().item(), support.max().item()) == (t - (rf - 1), t)
    assert support.numel() == rf
    most = 0
    for _ in range(2 * rf):  # sample by sample, the buffers fill up to buffer_frames
        s.push(torch.ones(1, 2, 1, dtype=torch.float64))
        most = max(most, sum(s.held_frames.values()))
    assert most == s.buffer_frames


def test_a_chomp_smaller_than_the_padding_is_refused() -> None:
    """Chomp1d(padding - 1) keeps one unit that reads the right padding: not causal, naming
    the convolution and the slice (traced inside the Chomp1d) that keeps the unit; the
    offline model's output t does depend on sample t + 1 (autograd)."""
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(conv1=nn.Conv1d(2, 3, 3, padding=2), chomp1=Chomp1d(1),
                                      relu1=nn.ReLU())).double().eval()
    with pytest.raises(AtrousError, match=r"not causal: node 'conv1' reads padding .* node "
                       r"'getitem' \(in chomp1, Chomp1d\) reads") as info:
        stream(model)
    assert "\n" not in str(info.value)
    # offline, the last output sample changes when the signal goes on: it read the future
    with torch.no_grad():
        x = torch.ones(1, 2, 21, dtype=torch.float64)
        assert model(x[..., :20]).shape[-1] == 21
        assert not torch.equal(model(x[..., :20]), model(x)[..., :21])


class Fn(nn.Module):
    def __init__(self, *layers: nn.Module, chomp: int = 0) -> None:
        super().__init__()
        self.body = nn.Sequential(*layers)
        self.chomp = chomp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y[:, :, :-self.chomp].contiguous() if self.chomp else y


@pytest.mark.parametrize(
    ("model", "match"),
    [
        # symmetric padding, no chomp: the output keeps the units that read the future
        (Fn(nn.Conv1d(1, 1, 3, padding=2, dilation=1)),
         r"node 'body_0' reads padding .* that the output keeps"),
        # a stride-2 layer padded 3 on both sides, chomped by 1: for an even length its
        # last kept unit reads padding after the end
        (Fn(nn.Conv1d(1, 1, 4, stride=2, padding=3), chomp=1),
         r"node 'body_0' reads padding .* node 'getitem' reads"),
        # the padded tail is read by a later layer that keeps it
        (Fn(nn.Conv1d(1, 1, 2, padding=1), nn.Conv1d(1, 1, 2)),
         r"node 'body_0' reads padding .* node 'body_1' reads"),
    ],
)
def test_consumed_right_padding_is_refused(model: nn.Module, match: str) -> None:
    with pytest.raises(AtrousError, match="not causal: " + match) as info:
        stream(model.eval())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("chunk", [1, 7])
def test_a_strided_layer_whose_padded_unit_is_chomped_streams(chunk: int) -> None:
    """A stride-2 convolution padded 2 on both sides, whose last unit reads the right padding,
    then a k=2 convolution padded 1 on both sides and Chomp1d(2): the units that read right
    padding (directly or through the strided layer) are exactly the two the slice drops, so
    the model is causal and streams exactly (one output every 2 samples)."""
    model = integer_weights(Fn(nn.Conv1d(2, 3, 3, stride=2, padding=2), nn.ReLU(),
                               nn.Conv1d(3, 2, 2, padding=1), chomp=2).eval())
    s = stream(model)
    assert (s.stride, s.lag) == (2, 0)
    for n in (23, 24):
        x = torch.randint(-2, 3, (1, 2, n)).double()
        with torch.no_grad():
            ref = model(x)
        s.reset()
        assert ref.shape[-1] == -(-n // 2) and torch.equal(_run(s, x, chunk), ref)


def test_a_tail_read_only_by_units_a_later_slice_drops_streams_with_a_lag() -> None:
    """Padding 1 on both sides, then a valid k=2 convolution, then Chomp1d(1): the last unit
    of the second convolution reads the right padding, and the slice drops exactly that unit.
    Output t reads samples t-1 .. t+1: causal with a lag of 1, streamed exactly."""
    model = integer_weights(Fn(nn.Conv1d(2, 2, 2, padding=1), nn.Conv1d(2, 2, 2),
                               chomp=1).eval())
    s = stream(model, channels=2)
    assert (s.box, s.lag) == ((-1, 1), 1)
    x = torch.randint(-2, 3, (1, 2, 30)).double()
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() > 0 and ref.shape[-1] == 29
    assert torch.equal(_run(s, x, 7), ref)


def test_the_docs_tcn_example_runs() -> None:
    """The Chomp1d example of docs/tiling.md runs as shown (its asserts compare the pushes with
    the layer's offline output)."""
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "tiling.md"
    fence = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
    (block,) = [b for b in fence.findall(page.read_text(encoding="utf-8")) if "Chomp1d" in b]
    exec(compile(block, str(page), "exec"), {"__name__": "docs_tiling"})


@pytest.mark.parametrize(
    "model",
    [Fn(nn.Conv1d(1, 1, 1, padding=2), chomp=2), Fn(nn.ConstantPad1d((2, 0), 0.0))],
    ids=["chomped-1x1", "delay"],
)
def test_a_pure_delay_streams(model: nn.Module) -> None:
    """Output t reads sample t - 2 only (lag -2): the first push's probe of the output shape
    runs the model on one sample (it asked torch for -1 samples and failed)."""
    model = integer_weights(model.eval())
    s = stream(model)
    assert (s.box, s.lag) == ((-2, -2), -2)
    x = torch.randint(-2, 3, (1, 1, 20)).double()
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() > 0
    for chunk in (1, 7):
        s.reset()
        assert torch.equal(_run(s, x, chunk), ref)


@pytest.mark.parametrize(
    ("model", "lag"),
    [
        (Fn(nn.Conv1d(2, 2, 3, padding=2), chomp=3), 1),  # a Chomp1d one longer
        (Fn(nn.Conv1d(2, 2, 3, dilation=2), chomp=2), 6),  # valid, then 2 more dropped
        (Fn(nn.Conv1d(2, 2, 3, stride=2, padding=2), chomp=2), 2),  # stride 2: one unit less
    ],
    ids=["chomp-longer", "valid-chomped", "strided-chomped"],
)
def test_a_slice_dropping_more_than_the_padding_streams_with_a_lag(
        model: nn.Module, lag: int) -> None:
    """The output ends early (the slice drops units a prefix completes): pushes emit output t
    only once the offline output of the pushed length has it, which is `lag`, sample by
    sample, and the concatenated pushes equal model(x)."""
    model = integer_weights(model.eval())
    s = stream(model)
    assert s.lag == lag
    x = torch.randint(-2, 3, (1, 2, 31)).double()
    with torch.no_grad():
        ref = model(x)
        assert ref.abs().max() > 0
        got = []
        for n in range(1, 32):  # output t appears with sample t * stride + lag, not before
            got.append(s.push(x[..., n - 1:n]))
            emitted = sum(g.shape[-1] for g in got)
            assert emitted == (max(0, (n - 1 - lag) // s.stride + 1) if n > lag else 0)
            if n > 7:  # as long as the offline output of the pushed samples
                assert emitted == model(x[..., :n]).shape[-1]
    assert torch.equal(torch.cat(got, -1), ref)


# -- stream accepts exactly the models whose offline output never changes as the signal goes on
class _Slice(nn.Module):
    def __init__(self, start: int | None, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, self.start:self.stop].contiguous()


class _Pad(nn.Module):
    def __init__(self, left: int, right: int) -> None:
        super().__init__()
        self.left, self.right = left, right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x, (self.left, self.right))


def _random_stack(seed: int) -> nn.Module:
    """1 to 4 of: a convolution (kernel 1-3, dilation 1-2, stride 1 or 2, padding 0-3 on
    both sides; often followed by a chomp of its padding, one less or one more, as a TCN
    writes it), a slice x[:, :, a:-c], a zero padding (0-3 left, 0-2 right)."""
    import random

    rng = random.Random(seed)
    layers: list[nn.Module] = []
    for _ in range(rng.randint(1, 4)):
        pick = rng.random()
        if pick < 0.5:
            pad = rng.randint(0, 3)
            layers.append(nn.Conv1d(1, 1, rng.randint(1, 3), stride=rng.choice([1, 1, 2]),
                                    dilation=rng.randint(1, 2), padding=pad))
            chomp = pad + rng.choice([-1, 0, 0, 1])
            if chomp > 0 and rng.random() < 0.6:
                layers.append(_Slice(None, -chomp))
        elif pick < 0.75:
            layers.append(_Slice(rng.choice([None, None, 1]), -rng.randint(1, 3)))
        else:
            layers.append(_Pad(rng.randint(0, 3), rng.randint(0, 2)))
    torch.manual_seed(seed)
    return nn.Sequential(*layers).double().eval()


def _prefix_consistent(model: nn.Module, x: torch.Tensor) -> bool:
    """Brute force on the real model: every prefix's output is the start of the whole
    signal's output (no output sample changes when later samples arrive)."""
    whole = model(x)
    for n in range(1, x.shape[-1]):
        try:
            y = model(x[..., :n])
        except RuntimeError:  # too short for a valid convolution
            continue
        if y.shape[-1] > whole.shape[-1] or not torch.allclose(
                y, whole[..., :y.shape[-1]], rtol=0, atol=1e-12):
            return False
    return True


def _check_stacks(seeds: range) -> tuple[int, int]:
    """stream accepts a stack exactly when the brute force finds it prefix-consistent (else it
    refuses it as not causal), and an accepted stack streams exactly; (accepted, refused)."""
    x = torch.randn(1, 1, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    seen = [0, 0]
    for seed in seeds:
        model = _random_stack(seed)
        with torch.no_grad():
            try:
                ref = model(x)
            except RuntimeError:
                continue
            causal = _prefix_consistent(model, x)
            try:
                s = stream(model)
            except AtrousError as exc:
                assert not causal and "not causal" in str(exc), (seed, model, exc)
                seen[1] += 1
                continue
            assert causal, (seed, model)
            for chunk in (1, 7):
                s.reset()
                got = _run(s, x, chunk)
                assert got.shape == ref.shape, (seed, model)
                assert torch.allclose(got, ref, rtol=0, atol=1e-12), (seed, model)
            seen[0] += 1
    return seen[0], seen[1]


def test_random_stacks_accepted_iff_prefix_consistent() -> None:
    accepted, refused = _check_stacks(range(12))
    assert accepted >= 4 and refused >= 4  # both sides exercised


@pytest.mark.slow
def test_more_random_stacks_accepted_iff_prefix_consistent() -> None:
    accepted, refused = _check_stacks(range(12, 200))
    assert accepted >= 60 and refused >= 60
