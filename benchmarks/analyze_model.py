"""Benchmark: full analysis of a dilated ResNet-101 at 513x513 vs a forward pass and vs autograd.

Runs side by side in one process:

- atrous: ``to_graph`` (torch.fx trace + fake-tensor shapes) and the per-layer analysis
  (receptive field of every node, output coverage) -- what ``atrous model`` does;
- (a) one CPU forward pass of the same model (float32, no grad);
- (b) measuring the output's receptive field by autograd: forward + backward of the centre unit
  (float32, positive weights) and the support of the input gradient.

Targets: the analysis cheaper than one forward pass, and at least 30x faster than autograd.

    python benchmarks/analyze_model.py            # 513x513, output stride 8
    python benchmarks/analyze_model.py --size 257 # quicker
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn


def dilated_resnet101() -> nn.Module:
    """ResNet-101 ([3, 4, 23, 3] bottlenecks, width 64) with output stride 8 (DeepLab)."""
    try:
        from atrous.nn import resnet101

        return resnet101(8, num_classes=None)
    except ImportError:  # pragma: no cover - atrous.nn not installed
        return _local_resnet101()


def _local_resnet101() -> nn.Module:
    class Bottleneck(nn.Module):
        def __init__(self, cin: int, w: int, stride: int, dil: int) -> None:
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(cin, w, 1, bias=False), nn.BatchNorm2d(w)
            self.c2 = nn.Conv2d(w, w, 3, stride, dil, dil, bias=False)
            self.b2 = nn.BatchNorm2d(w)
            self.c3, self.b3 = nn.Conv2d(w, 4 * w, 1, bias=False), nn.BatchNorm2d(4 * w)
            self.down = (nn.Sequential(nn.Conv2d(cin, 4 * w, 1, stride, bias=False),
                                       nn.BatchNorm2d(4 * w))
                         if stride != 1 or cin != 4 * w else nn.Identity())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.b1(self.c1(x)))
            y = torch.relu(self.b2(self.c2(y)))
            return torch.relu(self.b3(self.c3(y)) + self.down(x))

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                               nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for i, (n, w) in enumerate(zip((3, 4, 23, 3), (64, 128, 256, 512))):
        stride, dil = (1, 1) if i == 0 else (2, 1) if i == 1 else (1, 2 ** (i - 1))
        for j in range(n):
            layers.append(Bottleneck(cin, w, stride if j == 0 else 1, dil))
            cin = 4 * w
    return nn.Sequential(*layers)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=513)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    shape = (1, 3, args.size, args.size)
    model = dilated_resnet101().eval()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"dilated ResNet-101 (output stride 8): {n_params / 1e6:.1f}M parameters, input "
          f"{'x'.join(map(str, shape))}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")

    from atrous.cli.model import model_summary
    from atrous.fx import to_graph

    def analyse() -> dict[str, Any]:
        # trace + every node's receptive field + the output's exact coverage map + verdicts
        # (per-layer gridding, a coverage map per node, is off above 120 nodes: see the docs)
        return model_summary(to_graph(model, shape), shape)

    t0 = time.perf_counter()
    summary = analyse()
    cold = time.perf_counter() - t0
    t_atrous, summary = timed(analyse, args.repeat)
    rf = summary["rf"]
    print(f"atrous analysis: {len(summary['rows'])} nodes, RF {rf['size']}, stride "
          f"{rf['stride']}: {t_atrous * 1e3:.0f} ms (first call in the process, with torch's "
          f"one-time fake-tensor set-up: {cold * 1e3:.0f} ms)")

    def forward() -> torch.Size:
        with torch.no_grad():
            return model(torch.randn(shape)).shape

    t_fwd, out_shape = timed(forward, 1)
    print(f"(a) one forward pass -> {tuple(out_shape)}: {t_fwd * 1e3:.0f} ms")

    with torch.no_grad():
        for p in model.parameters():
            p.copy_((torch.rand_like(p) + 0.5) / max(1, p[0].numel()))

    def autograd_rf() -> tuple[int, int]:
        x = torch.ones(shape, requires_grad=True)
        y = model(x)
        h, w = y.shape[-2:]
        y[0, :, h // 2, w // 2].sum().backward()
        assert x.grad is not None
        nz = (x.grad[0].abs().sum(0) > 0).nonzero()
        return (int(nz[:, 0].max() - nz[:, 0].min() + 1), int(nz[:, 1].max() - nz[:, 1].min() + 1))

    t_grad, extent = timed(autograd_rf, 1)
    print(f"(b) RF by autograd (forward + backward, support {extent[0]}x{extent[1]} clipped to "
          f"the input): {t_grad * 1e3:.0f} ms")
    print(f"ratio forward / analysis:  {t_fwd / t_atrous:6.1f}x  (target > 1x)")
    print(f"ratio autograd / analysis: {t_grad / t_atrous:6.1f}x  (target >= 30x)")


if __name__ == "__main__":
    main()
