"""Benchmark: analyze() of ResNet-50 geometry at 224, 1024 and 4096 (cost independent of the size),
and the CPU time of the `atrous analyze --rates 1,2,5` process against its import floor.

The graph is traced once per size (the torch front end's cost is not measured here); the figure
is the fastest of 3 runs of ``atrous.analyze(graph, input_size, gridding=False)`` (process CPU
time). Target (issue 15): 4096x4096 within 1.3x of 224x224, complete, not partial.

    python benchmarks/analyze_sizes.py
"""

from __future__ import annotations

import subprocess
import sys
import time

import atrous


def analyze_ms(graph: object, shape: tuple[int, ...]) -> tuple[float, str]:
    best, status = float("inf"), ""
    for _ in range(3):
        t = time.process_time()
        rep = atrous.analyze(graph, input_size=shape, gridding=False)
        best = min(best, time.process_time() - t)
        status = rep.status
    return best * 1000, status


def process_cpu(argv: list[str], runs: int = 5) -> float:
    """Fastest user+system CPU seconds of a child process running ``argv``."""
    import resource

    best = float("inf")
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return best


def main() -> None:
    from atrous.nn import resnet50

    model = resnet50(num_classes=1000).eval()
    times = {}
    for n in (224, 1024, 4096):
        shape = (1, 3, n, n)
        graph = atrous.to_graph(model, shape)
        ms, status = analyze_ms(graph, shape)
        times[n] = ms
        print(f"analyze ResNet-50 geometry at {n}x{n}: {ms:7.1f} ms CPU ({len(graph)} nodes, "
              f"{status})")
    print(f"ratio 4096/224: {times[4096] / times[224]:.2f} (target <= 1.3)")
    py = sys.executable
    cli = process_cpu([py, "-m", "atrous", "analyze", "--rates", "1,2,5"])
    floor = process_cpu([py, "-c", "import numpy, rich.console, rich.table"])
    bare = process_cpu([py, "-c", "pass"])
    print(f"`atrous analyze --rates 1,2,5` process: {cli:.3f} s CPU (target < 0.2); "
          f"python alone {bare:.3f} s, python + numpy + rich imports {floor:.3f} s")


if __name__ == "__main__":
    main()
