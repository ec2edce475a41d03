"""Benchmark: what analysing a model costs, next to one forward pass of it (issue 15 targets).

Both sides run in one process, one torch thread, CPU time (``time.process_time``, so a loaded
machine inflates both sides alike), best of ``--repeat`` runs:

- the front end: ``atrous.fx.to_graph`` (torch.fx trace, meta-device shapes, conversion);
- the report side: ``atrous.analyze`` on the traced graph (receptive fields, coverage, verdicts);
- (a) one ``no_grad`` forward pass of the same model, float32.

Models are torchvision's geometry, transcribed in ``tests/data/torchvision_reference.py``
(torchvision is not a dependency): ResNet-50 at 1x3x224x224 (target: analyze <= 0.5x forward),
DeepLabV3-ResNet-101 at 1x3x513x513 (target <= 0.05x), ResNet-50 at 1024 and 4096 (target: the
analysis within 1.3x of 224's), and 40 conv+BN layers with ``nn.BatchNorm2d`` vs a subclass that
calls ``F.batch_norm`` (timm's ``BatchNormAct2d`` style; target: no costlier).

    python benchmarks/analyze_model.py             # everything (a few minutes on a busy machine)
    python benchmarks/analyze_model.py --quick     # ResNet-50 at 224 and the batch-norm pair
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def cpu_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best CPU time of ``repeat`` calls (seconds) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def resnet50() -> nn.Module:
    from data.torchvision_reference import Bottleneck, ResNet

    return ResNet(Bottleneck, [3, 4, 6, 3]).eval()


def deeplabv3_r101() -> nn.Module:
    from data.torchvision_reference import deeplabv3_resnet

    return deeplabv3_resnet(101).eval()


class FunctionalBN(nn.BatchNorm2d):
    """A batch norm written as timm's BatchNormAct2d is: ``F.batch_norm`` in its forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(F.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                   self.bias, False, 0.1, self.eps))


def conv_bn_stack(norm: type[nn.Module], layers: int = 40) -> nn.Module:
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [nn.Conv2d(16, 16, 3, padding=1, bias=False), norm(16)]
    return nn.Sequential(*mods).eval()


def measure(name: str, model: nn.Module, shape: tuple[int, ...], repeat: int,
            forward: bool = True) -> dict[str, float]:
    """Print and return the front-end, report and forward times of one model at one size."""
    import atrous
    from atrous.fx import to_graph

    to_graph(model, shape)  # first call: torch's one-time set-up
    t_front, graph = cpu_time(lambda: to_graph(model, shape), repeat)
    try:
        t_report, rep = cpu_time(lambda: atrous.analyze(graph, shape), repeat)
        status = rep.status
    except atrous.AtrousError as exc:  # the report side refuses (e.g. a map over its budget)
        t_report, status = float("nan"), f"refused: {str(exc)[:60]}"
    out = {"front": t_front, "report": t_report, "nodes": float(len(graph))}
    line = (f"{name} {'x'.join(map(str, shape))}: {len(graph)} nodes; front end "
            f"{t_front * 1e3:.0f} ms ({t_front / len(graph) * 1e3:.2f} ms/node), report side "
            f"{t_report * 1e3:.0f} ms, analyze {status}")
    if forward:
        x = torch.randn(shape)
        with torch.no_grad():
            t_fwd, _ = cpu_time(lambda: model(x), max(1, repeat // 2))
        out["forward"] = t_fwd
        total = t_front + t_report
        line += (f"; forward {t_fwd * 1e3:.0f} ms; analyze/forward {total / t_fwd:.2f} "
                 f"(front end alone {t_front / t_fwd:.2f})")
    print(line, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread, CPU time, best of {args.repeat}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{' '.join(f'{v:.1f}' for v in __import__('os').getloadavg())}")
    r50 = resnet50()
    base = measure("ResNet-50", r50, (1, 3, 224, 224), args.repeat)
    bn = measure("40x conv+nn.BatchNorm2d", conv_bn_stack(nn.BatchNorm2d), (1, 16, 64, 64),
                 args.repeat, forward=False)
    fbn = measure("40x conv+F.batch_norm", conv_bn_stack(FunctionalBN), (1, 16, 64, 64),
                  args.repeat, forward=False)
    print(f"functional F.batch_norm / nn.BatchNorm2d front end: {fbn['front'] / bn['front']:.2f}")
    if args.quick:
        return
    for size in (1024, 4096):
        big = measure("ResNet-50", r50, (1, 3, size, size), args.repeat, forward=False)
        print(f"  front end at {size} / at 224: {big['front'] / base['front']:.2f}; report side "
              f"{big['report'] / base['report']:.2f}")
    measure("DeepLabV3-ResNet-101", deeplabv3_r101(), (1, 3, 513, 513), args.repeat)


if __name__ == "__main__":
    main()
