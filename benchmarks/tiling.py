"""Whole-image forward vs atrous.tiled_forward on a dilated ResNet backbone at output stride 8.

The tile is the one the plan recommends (``TilePlan.recommend``) for a memory bound of
``--memory-fraction`` (default 1/5) of the plan's estimate of the whole-image pass, less the
stitched output. Each measurement runs in its own fresh process; model, weights and input are
the same in all of them. Memory is the growth of the resident set during the pass (the kernel's
high-water mark ``VmHWM``, reset just before the pass, minus the RSS then: the interpreter,
torch, the weights and the input are common to both), less the file-backed pages the pass maps
(``RssFile``: library code first touched, 3 to 14 MiB depending on the machine), with glibc
told to map every large block so that RSS follows the live tensors, not the allocator's history.

Prints the plan (halo, overlap factor) next to a fixed 50% tile overlap, wall and CPU time and
memory growth of both passes with their ratios against the targets (memory at least 4x lower;
time within 1.2x of whole-image time x overlap factor), and the plan's estimate of one tile's
forward pass against its measured peak.

    python benchmarks/tiling.py                      # ResNet-18 geometry, 4096x4096, 21 classes
    python benchmarks/tiling.py --classes 0          # the backbone's 128-channel features
    python benchmarks/tiling.py --size 2048 --tile 96 --estimate-only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

MIB = 2**20


def _model(args: argparse.Namespace) -> Any:
    import torch
    from torch import nn

    from atrous.nn import resnet18, resnet50

    torch.manual_seed(0)
    build = resnet18 if args.depth == 18 else resnet50
    backbone = build(output_stride=8, num_classes=None, width=args.width).eval()
    if not args.classes:
        return backbone
    channels = (8 if args.depth == 18 else 32) * args.width
    # a dense-prediction head (per-pixel logits), as a segmentation network ends
    return nn.Sequential(backbone, nn.Conv2d(channels, args.classes, 1)).eval()


def _status(key: str) -> int:
    """``VmRSS`` (now), ``VmHWM`` (peak) or ``RssFile`` (file-backed pages) of this process in
    bytes (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


def _rss() -> int:
    return _status("VmRSS")


def _peak() -> int:
    """The resident set's high-water mark (``ru_maxrss`` would carry the parent's across
    ``exec``)."""
    return _status("VmHWM")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the high-water mark is now the resident set


def _child(args: argparse.Namespace) -> None:
    import torch

    import atrous

    torch.set_num_threads(args.threads)
    model = _model(args)
    x = torch.randn(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    tile = _tile(args.tile)
    plan = atrous.tile_plan(model, tuple(x.shape), tile)  # all: same imports, same RSS
    record: dict[str, Any] = {"mode": args.mode}
    if args.mode == "window":  # one tile's forward on the largest window, as the plan has it
        t = max(plan.tiles, key=lambda t: len(range(*t.input[0])) * len(range(*t.input[1])))
        window = x[(..., *[slice(a, b) for a, b in t.input])]
        with torch.inference_mode():
            model(x[..., :64, :64])  # oneDNN's start-up, not part of a tile's cost
    _reset_peak()
    peak0, rss0, file0 = _peak(), _rss(), _status("RssFile")
    t0, c0 = time.perf_counter(), time.process_time()
    if args.mode == "whole":
        with torch.inference_mode():
            y = model(x)
    elif args.mode == "tiled":
        y = atrous.tiled_forward(model, x, tile, plan=plan)
    else:
        with torch.inference_mode():
            y = model(window)
    record["seconds"] = time.perf_counter() - t0
    record["cpu_seconds"] = time.process_time() - c0
    peak = _peak()
    # code pages of torch's libraries first touched in the pass are file-backed and stay
    # mapped: left out (3 to 10 MiB, depending on the machine, not the pass's data)
    record["file_mib"] = (_status("RssFile") - file0) / MIB
    record["growth_mib"] = (peak - rss0) / MIB - record["file_mib"]
    record["new_peak"] = peak > peak0
    record["peak_mib"] = peak / MIB
    record["checksum"] = float(y.double().sum())
    print(json.dumps(record))


def _tile(text: str) -> tuple[int, ...]:
    from atrous.units import parse_size

    return parse_size(text, "--tile")


def _run(args: argparse.Namespace, mode: str, tile: tuple[int, ...]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--mode", mode, "--size", str(args.size), "--depth",
           str(args.depth), "--width", str(args.width), "--classes", str(args.classes),
           "--tile", "x".join(map(str, tile)), "--threads", str(args.threads)]
    # glibc keeps freed large blocks in its heap once its mmap threshold has grown, so RSS
    # would show the allocator's history, not the live tensors: map every large block
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    record: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return record


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--depth", type=int, choices=(18, 50), default=18)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--classes", type=int, default=21,
                   help="a 1x1 head to this many classes (0: the backbone's features)")
    p.add_argument("--tile", default="0",
                   help="output tile (feature units, 64 or 64x48); 0: the plan's recommendation")
    p.add_argument("--memory-fraction", type=float, default=0.2,
                   help="recommend for this fraction of the whole pass's estimate")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--estimate-only", action="store_true",
                   help="only check the plan's estimate of one tile's forward pass")
    p.add_argument("--mode", choices=("whole", "tiled", "window"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        _child(args)
        return
    import atrous

    model = _model(args)
    shape = (1, 3, args.size, args.size)
    probe = atrous.tile_plan(model, shape, args.size, check_sizes=False)
    assert probe.whole_bytes is not None and probe.output_bytes is not None
    budget = int(args.memory_fraction * probe.whole_bytes) - probe.output_bytes
    given = args.tile != "0"
    tile = _tile(args.tile) if given else probe.recommend(budget)
    if len(tile) == 1:
        tile = tile * 2
    plan = atrous.tile_plan(model, shape, tile)
    assert plan.peak_bytes is not None
    ov = plan.overlap_factor
    (hb, ha), _ = plan.halo
    head = f", {args.classes}-class 1x1 head" if args.classes else " (backbone features)"
    print(f"dilated ResNet-{args.depth} (width {args.width}, output stride 8{head}) on "
          f"{args.size}x{args.size}; load average {os.getloadavg()[0]:.2f}, "
          f"{args.threads} thread(s)")
    how = "given" if given else (
        f"recommended by plan.recommend({budget / MIB:.0f} MiB) = {args.memory_fraction:g} x "
        f"the whole pass's estimate {probe.whole_bytes / MIB:.0f} MiB less the output "
        f"{probe.output_bytes / MIB:.0f} MiB")
    px = "x".join(str(8 * t) for t in tile)
    print(f"tile {'x'.join(map(str, tile))} output units = {px} px ({how}); "
          f"{len(plan.tiles)} tiles, largest window {'x'.join(map(str, plan.max_window))} px")
    fixed = 2.0**2
    w50 = 8 * min(tile) * 2  # windows of twice the tile, moved by one tile: 50% overlap
    print(f"exact halo {hb} before / {ha} after (px); overlap factor {ov:.3f}; a fixed 50% "
          f"overlap (windows of {w50} px every {w50 // 2}) costs {fixed:.2f} ({fixed / ov:.2f}x) "
          f"with a halo of {w50 // 4} px per side: "
          + ("too small, wrong near tile edges" if w50 // 4 < max(hb, ha)
             else "large enough, but wasteful"))
    window = _run(args, "window", tile)
    est = plan.peak_bytes / MIB
    print(f"one tile's forward ({'x'.join(map(str, plan.max_window))} window): measured peak "
          f"growth {window['growth_mib']:.1f} MiB, plan estimate {est:.1f} MiB "
          f"(measured / estimate {window['growth_mib'] / est:.2f}; the estimate must be >= the "
          "measurement" + ("" if window["new_peak"] else "; no new peak, a bound only") + ")")
    if args.estimate_only:
        return
    w, t = _run(args, "whole", tile), _run(args, "tiled", tile)
    print(f"whole: {w['seconds']:.2f} s wall, {w['cpu_seconds']:.2f} s CPU, peak RSS growth "
          f"{w['growth_mib']:.0f} MiB (peak RSS {w['peak_mib']:.0f} MiB)")
    print(f"tiled: {t['seconds']:.2f} s wall, {t['cpu_seconds']:.2f} s CPU, peak RSS growth "
          f"{t['growth_mib']:.0f} MiB (peak RSS {t['peak_mib']:.0f} MiB; the output is "
          f"{plan.output_bytes / MIB:.0f} MiB of it)")  # type: ignore[operator]
    mem = w["growth_mib"] / max(t["growth_mib"], 1e-9)
    print(f"peak memory whole / tiled: {mem:.2f}x growth (target >= 4: "
          f"{'met' if mem >= 4 else 'NOT met'}), {w['peak_mib'] / t['peak_mib']:.2f}x peak RSS")
    for kind in ("seconds", "cpu_seconds"):
        r = t[kind] / (w[kind] * ov)
        print(f"time ({'wall' if kind == 'seconds' else 'CPU'}) tiled / whole "
              f"{t[kind] / w[kind]:.2f}; tiled / (whole x overlap {ov:.2f}) = {r:.2f} "
              f"(target <= 1.2: {'met' if r <= 1.2 else 'NOT met'})")
    print(f"same output: |sum difference| = {abs(w['checksum'] - t['checksum']):.3g} "
          f"(sum {w['checksum']:.6g})")


if __name__ == "__main__":
    main()
