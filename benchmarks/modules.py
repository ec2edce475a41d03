"""Modules: atrous' DeepLabV3-ResNet50 vs the same network in plain torch layers, and the three
dilated-convolution implementations side by side on ASPP-like shapes.

Run: ``python benchmarks/modules.py`` (``--quick`` for a smoke run, ``--size 513`` for the
paper's crop, ``--device cuda`` on a GPU).

Part 1 builds atrous' ``deeplabv3_resnet50()`` and the plain-torch transcription of torchvision's
DeepLabV3 in ``tests/data/torchvision_reference.py``, loads the same weights into both (strict),
checks the outputs are identical and times the forward (eval, ``no_grad``), interleaving the two
models round by round; the figure is the ratio of medians (target <= 1.05). On one CPU thread
(the default) the clock is the thread's CPU time, so other processes sharing the cores do not
distort the ratio; ``--wall`` switches to wall time.

Part 2 times ``atrous.nn.functional.dilated_conv2d`` with ``impl="native"`` (``F.conv2d``),
``"zero_kernel"`` (dense conv with a zero-filled ``2r+1`` kernel) and ``"space_to_batch"``
(TensorFlow's ``atrous_conv2d``: ``r x r`` phases, dense 3x3 conv on each) for a 3x3 conv with
``padding = dilation = r`` (an ASPP branch), rates 6, 12, 18, 24, float32, in contiguous and
channels_last memory formats, and prints each time relative to native.

Part 3 (``--part auto``) times ``impl="auto"`` against ``impl="native"`` on a tiny (1x4x8x8) and
a normal (1x32x64x64) 3x3 convolution with dilation 2, as ``DilatedConv2d`` modules and as
``dilated_conv2d`` calls, in interleaved rounds (with torch's own ``F.conv2d`` and ``nn.Conv2d``
for scale), and prints auto/native (target <= 1.05: on a CPU
``auto`` runs the native kernel, so the gap is its dispatch) with ``os.getloadavg()``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F

from atrous.nn import DilatedConv2d, deeplabv3_resnet50
from atrous.nn.functional import dilated_conv2d

ROOT = Path(__file__).resolve().parents[1]


def _reference() -> ModuleType:
    path = ROOT / "tests" / "data" / "torchvision_reference.py"
    spec = importlib.util.spec_from_file_location("torchvision_reference", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


CLOCK: Callable[[], float] = time.perf_counter


def interleaved(
    fns: dict[str, Callable[[], Any]], rounds: int, device: torch.device
) -> dict[str, list[float]]:
    """Run every function once per round (order alternating), after one warm-up call each.

    Times come from ``CLOCK``: the calling thread's CPU time on a 1-thread CPU run (robust to
    other processes sharing the cores), wall time otherwise.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            _sync(device)
            t = CLOCK()
            fns[name]()
            _sync(device)
            times[name].append(CLOCK() - t)
    return times


def bench_deeplab(size: int, rounds: int, device: torch.device) -> None:
    tv = _reference()
    torch.manual_seed(0)
    ref = tv.deeplabv3_resnet(50, 21, aux=False).to(device).eval()
    ours = deeplabv3_resnet50(num_classes=21).to(device).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, 3, size, size, device=device)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small --size: rates larger than the feature map
        same = torch.equal(ours(x)["out"], ref(x)["out"])
        times = interleaved(
            {"plain torch": lambda: ref(x), "atrous": lambda: ours(x)}, rounds, device
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    print(f"DeepLabV3-ResNet50, 1x3x{size}x{size}, eval, no_grad, {rounds} interleaved rounds")
    print(f"  outputs identical: {same}")
    for name, t in med.items():
        print(f"  {name:12s} median {t * 1e3:9.1f} ms   (min {min(times[name]) * 1e3:.1f} ms)")
    print(
        f"  ratio atrous / plain torch = {med['atrous'] / med['plain torch']:.3f} (medians), "
        f"{low['atrous'] / low['plain torch']:.3f} (minima); target <= 1.05"
    )


def bench_impls(
    channels: int, spatial: int, rates: list[int], rounds: int, device: torch.device
) -> None:
    print(
        f"\ndilated_conv2d, 3x3, padding = dilation = rate, 1x{channels}x{spatial}x{spatial} -> "
        f"{channels} channels, float32, best of {rounds} interleaved rounds"
    )
    names = ("zero_kernel", "space_to_batch")
    print(f"  {'layout':14s} {'rate':>4s} {'native ms':>10s} {names[0]:>18s} {names[1]:>18s}")
    g = torch.Generator().manual_seed(0)
    for layout in ("contiguous", "channels_last"):
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        x = torch.randn(1, channels, spatial, spatial, generator=g).to(device, memory_format=fmt)
        for r in rates:
            w = torch.randn(channels, channels, 3, 3, generator=g).to(device, memory_format=fmt)
            w = w / (3 * channels**0.5)
            fns = {
                impl: (
                    lambda impl=impl, x=x, w=w, r=r: dilated_conv2d(x, w, None, 1, r, r, impl=impl)
                )
                for impl in ("native", "zero_kernel", "space_to_batch")
            }
            with torch.no_grad():
                ref = fns["native"]()
                for impl in ("zero_kernel", "space_to_batch"):
                    err = (fns[impl]() - ref).abs().max().item()
                    if err > 1e-3:
                        raise SystemExit(f"{impl} disagrees with native at rate {r}: {err}")
                times = interleaved(fns, rounds, device)
            med = {k: min(v) for k, v in times.items()}
            base = med["native"]
            cells = "".join(
                f" {med[i] * 1e3:9.1f} ({med[i] / base:5.1f}x)"
                for i in ("zero_kernel", "space_to_batch")
            )
            print(f"  {layout:14s} {r:4d} {base * 1e3:10.2f}{cells}")


def _repeat(calls: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], None]:
    def run() -> None:
        for _ in range(calls):
            fn(*args, **kwargs)

    return run


def bench_auto(rounds: int, calls: int, device: torch.device) -> None:
    """``impl="auto"`` against ``impl="native"``: the per-call cost of the choice, once probed.

    On a CPU ``auto`` runs the native kernel, so the gap is its dispatch: the lookup of the
    verdict by the input's dtype, device and layout (both forms call the functional, the modules
    with their ``impl``, the functional calls with ``impl=`` as a keyword on both sides); the tiny
    convolution shows it at its largest.
    """
    print(
        f"\nimpl='auto' / impl='native', 3x3, dilation 2, 'same', float32, {calls} calls per "
        f"timing, {rounds} interleaved rounds (median; min)"
    )
    g = torch.Generator().manual_seed(0)
    for label, c, n in (("tiny", 4, 8), ("normal", 32, 64)):
        x = torch.randn(1, c, n, n, generator=g).to(device)
        native = DilatedConv2d(c, c, 3, dilation=2).to(device)
        auto = DilatedConv2d(c, c, 3, dilation=2, impl="auto").to(device)
        auto.load_state_dict(native.state_dict())
        w, b = native.weight, native.bias
        torch_conv = torch.nn.Conv2d(c, c, 3, padding=2, dilation=2).to(device)
        torch_conv.load_state_dict(native.state_dict())
        fns = {
            "module native": _repeat(calls, native, x),
            "module auto": _repeat(calls, auto, x),
            "functional native": _repeat(
                calls, dilated_conv2d, x, w, b, 1, "same", 2, impl="native"
            ),
            "functional auto": _repeat(
                calls, dilated_conv2d, x, w, b, 1, "same", 2, impl="auto"
            ),
            "F.conv2d": _repeat(calls, F.conv2d, x, w, b, 1, 2, 2),  # what both call in the end
            "nn.Conv2d": _repeat(calls, torch_conv, x),
        }
        with torch.no_grad():
            if not torch.equal(auto(x), native(x)):
                raise SystemExit("impl='auto' differs from native")
            times = interleaved(fns, rounds, device)
        med = {k: statistics.median(v) / calls for k, v in times.items()}
        low = {k: min(v) / calls for k, v in times.items()}
        for form in ("module", "functional"):
            nat, aut = f"{form} native", f"{form} auto"
            print(
                f"  {label:6s} 1x{c}x{n}x{n} {form:10s}: native {med[nat] * 1e6:8.1f} us, "
                f"auto {med[aut] * 1e6:8.1f} us, auto/native {med[aut] / med[nat]:.3f} "
                f"(min {low[aut] / low[nat]:.3f}); target <= 1.05"
            )
        print(f"  {label:6s} 1x{c}x{n}x{n} torch alone (padding 2): F.conv2d "
              f"{med['F.conv2d'] * 1e6:.1f} us, nn.Conv2d {med['nn.Conv2d'] * 1e6:.1f} us")
    print(f"  os.getloadavg() = {tuple(round(v, 2) for v in os.getloadavg())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=257, help="DeepLab input side (default 257)")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--channels", type=int, default=64, help="conv channels (default 64)")
    parser.add_argument("--spatial", type=int, default=65, help="conv map side (default 65)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--part", choices=("all", "deeplab", "impls", "auto"), default="all", help="what to run"
    )
    parser.add_argument("--wall", action="store_true", help="wall clock even on 1 CPU thread")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.quick:
        args.size, args.rounds, args.channels, args.spatial = 129, 3, 16, 33
    global CLOCK
    cpu_clock = device.type == "cpu" and torch.get_num_threads() == 1 and not args.wall
    CLOCK = time.thread_time if cpu_clock else time.perf_counter
    clock = "thread CPU time" if cpu_clock else "wall time"
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, {clock}")
    if args.part in ("all", "deeplab"):
        bench_deeplab(args.size, args.rounds, device)
    if args.part in ("all", "impls"):
        rounds = max(3, args.rounds // 2)
        bench_impls(args.channels, args.spatial, [6, 12, 18, 24], rounds, device)
    if args.part in ("all", "auto"):
        bench_auto(max(5, args.rounds), 20 if args.quick else 200, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
