"""Streaming: ``atrous.stream(model).push(chunk)`` against re-running the model on a window.

The reference is the simplest exact thing a user would write for a causal model without
strides: keep the last ``receptive_field - 1 + chunk`` input samples and run the whole model on
them at every push, keeping the last ``chunk`` outputs (zeros before the signal are what the
causal padding reads offline, so the first, shorter windows are exact too). Its cost grows with
the receptive field; a stream's should not (each push runs every layer on its new samples and
the few past ones its taps read: the "fast WaveNet" buffering of Paine et al., 2016).

Models (``atrous.nn.CausalDilatedStack``, residual, ReLU, kernel 2): dilations 1..32 (receptive
field 64, 16 channels), 1..512 (1024, 16 channels), and WaveNet's configuration (van den Oord et
al., 2016: three stacks of dilations 1..512, gated activations, receptive field 3070, 32
channels). Chunks of 1, 16 and 256 samples. Both sides run in the same process on one torch
thread, interleaved round by round (the order alternating), each round pushing the same
signal (the stream is built once per model, outside the clock; each round starts a new
signal with ``reset()``); the clock is the thread's CPU time. Before timing, both sides'
concatenated outputs are compared with the offline output ``model(x)`` (``torch.allclose``,
atol 1e-5). Prints us per push for both, stream / reference (below 1: the stream is faster) and
``os.getloadavg()``.

    python benchmarks/streaming.py            # 5 rounds
    python benchmarks/streaming.py --quick    # one round, short signals (a smoke run)
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

import atrous
from atrous.nn import CausalDilatedStack

CLOCK = time.thread_time


def _models() -> list[tuple[str, int, nn.Module]]:
    torch.manual_seed(0)
    powers = tuple(2**i for i in range(10))
    return [
        ("stack 1..32", 16, CausalDilatedStack(16, dilations=(1, 2, 4, 8, 16, 32)).eval()),
        ("stack 1..512", 16, CausalDilatedStack(16, dilations=powers).eval()),
        ("WaveNet 3x(1..512), gated", 32,
         CausalDilatedStack(32, dilations=powers * 3, gated=True).eval()),
    ]


def _streamed(s: atrous.Stream, x: torch.Tensor, chunk: int) -> torch.Tensor:
    s.reset()  # a new signal (its first push runs the model once on a few zeros)
    return torch.cat([s.push(x[..., i:i + chunk]) for i in range(0, x.shape[-1], chunk)], -1)


def _windowed(model: nn.Module, rf: int, x: torch.Tensor, chunk: int) -> torch.Tensor:
    keep = rf - 1 + chunk
    window = x[..., :0]
    outs = []
    for i in range(0, x.shape[-1], chunk):
        window = torch.cat([window, x[..., i:i + chunk]], -1)[..., -keep:]
        outs.append(model(window)[..., -min(chunk, window.shape[-1]):])
    return torch.cat(outs, -1)


def _time(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = CLOCK()
            fns[name]()
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
    for label, channels, model in _models():
        start = time.process_time()
        streamer = atrous.stream(model, channels=channels)  # traced and planned once
        built = time.process_time() - start
        rf = streamer.receptive_field
        print(f"{label}: atrous.stream(model, channels={channels}) built in {built:.2f} s CPU"
              " (the first in this process pays its one-time imports)")
        for chunk in (1, 16, 256):
            pushes = (8 if args.quick else 64) if chunk == 1 else (4 if args.quick else 32)
            g = torch.Generator().manual_seed(chunk)
            x = torch.randn(1, channels, chunk * pushes, generator=g)
            with torch.no_grad():
                offline = model(x)
                for name, got in (("stream", _streamed(streamer, x, chunk)),
                                  ("window", _windowed(model, rf, x, chunk))):
                    if got.shape != offline.shape or not torch.allclose(got, offline, atol=1e-5):
                        print(f"  {label}, chunk {chunk}: the {name} output differs from "
                              "model(x)", file=sys.stderr)
                        failed = True
                times = _time({
                    "stream": functools.partial(_streamed, streamer, x, chunk),
                    "window": functools.partial(_windowed, model, rf, x, chunk),
                }, rounds)
            med = {k: statistics.median(v) / pushes * 1e6 for k, v in times.items()}
            print(f"{label:28s} {rf:5d} {chunk:5d} {pushes:6d} {med['stream']:9.0f} us "
                  f"{med['window']:9.0f} us {med['stream'] / med['window']:12.2f}x")
    print(f"os.getloadavg() = {tuple(round(v, 2) for v in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
