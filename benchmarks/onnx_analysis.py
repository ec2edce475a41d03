"""Benchmark: analysing the ONNX export of a dilated ResNet-101 at 513x513.

Exports atrous.nn's ResNet-101 with output stride 8 (DeepLab's dilated backbone) with
``torch.onnx.export`` (TorchScript exporter) once, then times, side by side in one process:

- atrous on the ``.onnx`` file: ``atrous.onnx.to_graph`` (load, shape inference, constant folding,
  conversion) plus what ``atrous model`` computes (every node's receptive field, the output's
  coverage map, verdicts);
- (a) one onnxruntime inference of the same file at the same size (CPU, float32);
- (b) the torch front end on the same model: ``atrous.fx.to_graph`` plus the same analysis.

Targets: the ONNX analysis at least 10x cheaper than one inference, and no slower than the torch
front end.

    python benchmarks/onnx_analysis.py             # 513x513, output stride 8
    python benchmarks/onnx_analysis.py --size 257  # quicker
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=513)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import onnxruntime as ort

    from atrous.fx import to_graph as torch_graph
    from atrous.nn import resnet101
    from atrous.onnx import to_graph as onnx_graph
    from atrous.summary import summarize

    torch.manual_seed(0)
    shape = (1, 3, args.size, args.size)
    model = resnet101(8, num_classes=None).eval()
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "resnet101_os8.onnx")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(shape),), path, dynamo=False)
    print(f"dilated ResNet-101 (output stride 8), input {'x'.join(map(str, shape))}: exported "
          f"to {os.path.getsize(path) / 1e6:.0f} MB of ONNX in {time.perf_counter() - t0:.1f} s "
          f"(torch {torch.__version__}, onnxruntime {ort.__version__}, "
          f"{torch.get_num_threads()} threads)")

    def analyse_onnx() -> dict[str, Any]:
        return summarize(onnx_graph(path), [shape]).to_dict()

    t0 = time.perf_counter()
    analyse_onnx()
    cold = time.perf_counter() - t0
    t_onnx, summary = timed(analyse_onnx, args.repeat)
    rf = summary["rf"]
    print(f"atrous on the .onnx file: {len(summary['rows'])} nodes, RF {rf['size']}, stride "
          f"{rf['stride']}, partial={summary['model']['partial']}: {t_onnx * 1e3:.0f} ms "
          f"(first call: {cold * 1e3:.0f} ms)")

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    sess.run(None, {name: x})  # warm-up (allocations, kernel selection)
    t_ort, out = timed(lambda: sess.run(None, {name: x})[0].shape, 1)
    print(f"(a) one onnxruntime inference -> {tuple(out)}: {t_ort * 1e3:.0f} ms")

    def analyse_torch() -> dict[str, Any]:
        return summarize(torch_graph(model, shape), [shape]).to_dict()

    analyse_torch()  # torch's one-time fake-tensor set-up
    t_torch, summary_t = timed(analyse_torch, args.repeat)
    same = summary_t["rf"] == rf
    print(f"(b) torch front end on the same model: {t_torch * 1e3:.0f} ms "
          f"(same receptive field: {same})")
    print(f"ratio inference / ONNX analysis:         {t_ort / t_onnx:6.1f}x  (target >= 10x)")
    print(f"ratio torch front end / ONNX analysis:   {t_torch / t_onnx:6.1f}x  (target >= 1x)")


if __name__ == "__main__":
    main()
