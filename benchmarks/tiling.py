"""Whole-image forward vs atrous.tiled_forward on a dilated ResNet backbone at output stride 8.

Each mode runs in its own process so that its peak resident memory (``ru_maxrss``) is its own;
the model's weights and the input are the same in both. Prints the plan (halo, overlap factor),
time and peak memory of both, their ratios, and the overlap factor a fixed 50% tile overlap
would cost (windows of W every W/2 pixels: 2**ndim per pixel) with its halo of W/4 per side,
next to the exact halo.

    python benchmarks/tiling.py                    # ResNet-18 geometry, 1024x1024, width 16
    python benchmarks/tiling.py --size 2048 --depth 50 --width 64 --tile 64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _model(depth: int, width: int):  # type: ignore[no-untyped-def]
    import torch

    from atrous.nn import resnet18, resnet50

    torch.manual_seed(0)
    build = resnet18 if depth == 18 else resnet50
    return build(output_stride=8, num_classes=None, width=width).eval()


def _child(args: argparse.Namespace) -> None:
    import torch

    import atrous

    torch.set_num_threads(args.threads)
    model = _model(args.depth, args.width)
    x = torch.randn(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    record: dict[str, object] = {"mode": args.mode}
    plan = atrous.tile_plan(model, tuple(x.shape), args.tile)  # both: same imports, same RSS
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.mode == "whole":
        t = time.perf_counter()
        with torch.no_grad():
            y = model(x)
        record["seconds"] = time.perf_counter() - t
    else:
        t = time.perf_counter()
        y = atrous.tiled_forward(model, x, args.tile, plan=plan)
        record["seconds"] = time.perf_counter() - t
        record["overlap"] = plan.overlap_factor
        record["halo"] = plan.halo
        record["tiles"] = len(plan.tiles)
        record["window"] = plan.max_window
    record["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record["base_mib"] = base / 1024
    record["checksum"] = float(y.double().sum())
    print(json.dumps(record))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--depth", type=int, choices=(18, 50), default=18)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--tile", type=int, default=32, help="output tile (feature units)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mode", choices=("whole", "tiled"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        _child(args)
        return
    runs = {}
    for mode in ("whole", "tiled"):
        cmd = [sys.executable, __file__, "--mode", mode, "--size", str(args.size), "--depth",
               str(args.depth), "--width", str(args.width), "--tile", str(args.tile),
               "--threads", str(args.threads)]
        # glibc keeps freed large blocks in its heap once its mmap threshold has grown, so RSS
        # would show the allocator's history, not the live tensors: map every large block
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        runs[mode] = json.loads(out.strip().splitlines()[-1])
    w, t = runs["whole"], runs["tiled"]
    ov = float(t["overlap"])
    (hb, ha), _ = t["halo"]
    window = t["window"][0]
    print(f"dilated ResNet-{args.depth} (width {args.width}, output stride 8) on "
          f"{args.size}x{args.size}, tile {args.tile} output units = {8 * args.tile} px, "
          f"{t['tiles']} tiles, largest window {window} px")
    print(f"exact halo {hb} before / {ha} after (px); overlap factor {ov:.3f}")
    print(f"whole: {w['seconds']:.2f} s, peak RSS {w['peak_mib']:.0f} MiB")
    print(f"tiled: {t['seconds']:.2f} s, peak RSS {t['peak_mib']:.0f} MiB")
    act_w = w["peak_mib"] - w["base_mib"]
    act_t = t["peak_mib"] - t["base_mib"]
    print(f"peak memory ratio whole/tiled: {w['peak_mib'] / t['peak_mib']:.2f}x (RSS), "
          f"{act_w / max(act_t, 1e-9):.2f}x (growth during the forward pass)")
    print(f"time ratio tiled/whole: {t['seconds'] / w['seconds']:.2f} "
          f"(overlap factor {ov:.2f}; tiled / (whole x overlap) = "
          f"{t['seconds'] / (w['seconds'] * ov):.2f})")
    print(f"same output: |sum difference| = {abs(w['checksum'] - t['checksum']):.3g}")
    fixed = 2.0**2
    w50 = 8 * args.tile * 2  # a window of twice the tile, moved by one tile: 50% overlap
    print(f"fixed 50% overlap (windows of {w50} px every {w50 // 2}): overlap factor {fixed:.2f} "
          f"({fixed / ov:.2f}x the exact plan), halo {w50 // 4} px per side vs the exact "
          f"{max(hb, ha)}: " + ("too small: wrong near tile edges" if w50 // 4 < max(hb, ha)
                                 else "large enough, but wasteful"))


if __name__ == "__main__":
    main()
