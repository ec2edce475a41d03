"""Streaming: ``atrous.stream(model).push(chunk)`` against re-running the model on a window.

The reference is the simplest exact thing a user would write for a causal model without
strides: keep the last ``receptive_field - 1 + chunk`` input samples and run the whole model on
them at every push, keeping the last ``chunk`` outputs. Its cost grows with the receptive field;
a stream's should not (each push runs every layer on its new samples and the few past ones its
taps read: the "fast WaveNet" buffering of Paine et al., 2016). Both sides are timed in the
steady state: every round starts a signal and feeds it its first ``receptive_field`` samples
before the clock starts (at the start of a signal the window is shorter, the reference cheaper).

Models (``atrous.nn.CausalDilatedStack``, residual, ReLU, kernel 2): dilations 1..32 (receptive
field 64, 16 channels), 1..512 (1024, 16 channels), and WaveNet's configuration (van den Oord et
al., 2016: three stacks of dilations 1..512, gated activations, receptive field 3070) with 32
and with 128 channels (vocoders use 64-512). Chunks of 1, 16 and 256 samples. Both sides run in
the same process on one torch thread, interleaved round by round (the order alternating), on the
same signal (the stream is built once per model, outside the clock); the clock is the thread's
CPU time. Before timing, both sides' outputs are compared with the offline output ``model(x)``
past the first ``receptive_field`` samples (``torch.allclose``, atol 1e-5). Prints us per push
for both, stream / reference (below 1: the stream is faster) and ``os.getloadavg()``.

    python benchmarks/streaming.py            # 5 rounds
    python benchmarks/streaming.py --quick    # one round, short signals (a smoke run)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn

import atrous
from atrous.nn import CausalDilatedStack

CLOCK = time.thread_time


def _models() -> list[tuple[str, int, nn.Module, int]]:
    """(label, channels, model, pushes per timing at chunk 1; half as many at larger chunks)."""
    torch.manual_seed(0)
    powers = tuple(2**i for i in range(10))
    return [
        ("stack 1..32", 16, CausalDilatedStack(16, dilations=(1, 2, 4, 8, 16, 32)).eval(), 64),
        ("stack 1..512", 16, CausalDilatedStack(16, dilations=powers).eval(), 64),
        ("WaveNet 3x(1..512), gated", 32,
         CausalDilatedStack(32, dilations=powers * 3, gated=True).eval(), 64),
        ("WaveNet, 128 channels", 128,
         CausalDilatedStack(128, dilations=powers * 3, gated=True).eval(), 8),
    ]


class _Stream:
    """The stream's side: a signal whose first ``rf`` samples were pushed before the clock."""

    def __init__(self, s: atrous.Stream, prefix: torch.Tensor, x: torch.Tensor, chunk: int):
        self.s, self.prefix, self.x, self.chunk = s, prefix, x, chunk

    def prepare(self) -> None:
        self.s.reset()
        self.s.push(self.prefix)

    def run(self) -> torch.Tensor:
        x, c = self.x, self.chunk
        return torch.cat([self.s.push(x[..., i:i + c]) for i in range(0, x.shape[-1], c)], -1)


class _Window:
    """The reference: the last ``rf - 1 + chunk`` samples, the whole model run on them."""

    def __init__(self, model: nn.Module, rf: int, prefix: torch.Tensor, x: torch.Tensor,
                 chunk: int):
        self.model, self.prefix, self.x, self.chunk = model, prefix, x, chunk
        self.keep = rf - 1 + chunk
        self.window = prefix

    def prepare(self) -> None:
        self.window = self.prefix[..., self.prefix.shape[-1] - (self.keep - self.chunk):]

    def run(self) -> torch.Tensor:
        x, c, outs = self.x, self.chunk, []
        for i in range(0, x.shape[-1], c):
            self.window = torch.cat([self.window, x[..., i:i + c]], -1)[..., -self.keep:]
            outs.append(self.model(self.window)[..., -c:])
        return torch.cat(outs, -1)


def _time(sides: dict[str, _Stream | _Window], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            sides[name].prepare()  # outside the clock: a signal already rf samples long
            start = CLOCK()
            sides[name].run()
            times[name].append(CLOCK() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per case")
    parser.add_argument("--quick", action="store_true", help="one round, short signals")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else max(1, args.rounds)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, thread CPU time, {rounds} round(s), median")
    print(f"{'model':28s} {'rf':>5s} {'chunk':>5s} {'pushes':>6s} {'stream':>12s} "
          f"{'window':>12s} {'stream/window':>13s}")
    failed = False
    for label, channels, model, many in _models():
        start = time.process_time()
        streamer = atrous.stream(model, channels=channels)  # traced and planned once
        built = time.process_time() - start
        rf = streamer.receptive_field
        print(f"{label}: atrous.stream(model, channels={channels}) built in {built:.2f} s CPU"
              " (the first in this process pays its one-time imports)")
        for chunk in (1, 16, 256):
            pushes = max(2, (many // 8 if args.quick else many) // (1 if chunk == 1 else 2))
            g = torch.Generator().manual_seed(chunk)
            prefix = torch.randn(1, channels, rf, generator=g)
            x = torch.randn(1, channels, chunk * pushes, generator=g)
            sides: dict[str, _Stream | _Window] = {
                "stream": _Stream(streamer, prefix, x, chunk),
                "window": _Window(model, rf, prefix, x, chunk),
            }
            with torch.no_grad():
                offline = model(torch.cat([prefix, x], -1))[..., rf:]
                for name, side in sides.items():
                    side.prepare()
                    got = side.run()
                    if got.shape != offline.shape or not torch.allclose(got, offline, atol=1e-5):
                        print(f"  {label}, chunk {chunk}: the {name} output differs from "
                              "model(x)", file=sys.stderr)
                        failed = True
                times = _time(sides, rounds)
            med = {k: statistics.median(v) / pushes * 1e6 for k, v in times.items()}
            print(f"{label:28s} {rf:5d} {chunk:5d} {pushes:6d} {med['stream']:9.0f} us "
                  f"{med['window']:9.0f} us {med['stream'] / med['window']:12.2f}x")
    print(f"os.getloadavg() = {tuple(round(v, 2) for v in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
