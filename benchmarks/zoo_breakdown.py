"""Benchmark: where ``atrous.analyze`` spends its time on a model of the CNN zoo.

For each model of ``benchmarks/zoo_vs_torchinfo.py`` asked for (default: the mobile networks
that are not yet faster than torchinfo), the fastest CPU time (``time.process_time``, one torch
thread, after a warm-up) of ``--repeat`` calls of:

- ``analyze``: ``atrous.analyze(model, input_size=(1, 3, 224, 224))``, the whole report;
- ``as_graph``: the torch front end alone (torch.fx trace, meta shapes, conversion);
- ``rf``: the receptive fields of every node (``atrous.rf.receptive_fields``);
- ``outputs``: the outputs' coverage maps as ``analyze`` builds them (a global output's map is
  the whole input, in exact integers: stepped in int64 limbs, its Python-int counts built on
  first read, which this column does not include);
- ``to_spec``: writing the graph in the spec language (what a read of ``Report.spec`` costs;
  ``-`` when the graph is not series-parallel);
- ``torchinfo``: ``torchinfo.summary(model, input_size=..., verbose=0)`` when installed.

    python benchmarks/zoo_breakdown.py
    python benchmarks/zoo_breakdown.py --only mobilenet_v3_small,shufflenet_v2_x1_0 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo_vs_torchinfo import ZOO

import atrous
from atrous.errors import AtrousError

DEFAULT = ("mobilenet_v3_small,mobilenet_v3_large,mnasnet1_0,efficientnet_b0,efficientnet_b2,"
           "densenet121,shufflenet_v2_x1_0,regnet_y_400mf")


def best(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest CPU time of ``repeat`` calls after one warm-up, in ms."""
    fn()
    fastest = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        fastest = min(fastest, time.process_time() - t)
    return fastest * 1000


def row(name: str, model: Any, shape: tuple[int, ...], repeat: int, torchinfo: Any) -> str:
    """One model's line: the whole analysis and its parts, in ms."""
    from atrous import report as rep
    from atrous.rf import receptive_fields
    from atrous.spec import to_spec

    graph = atrous.as_graph(model, shape)
    spatial = shape[2:]
    rfs = receptive_fields(graph, spatial)
    t_all = best(lambda: atrous.analyze(model, input_size=shape), repeat)
    t_graph = best(lambda: atrous.as_graph(model, shape), repeat)
    t_rf = best(lambda: receptive_fields(graph, spatial), repeat)
    strict = graph.shapes(spatial)  # as analyze hands them to the outputs' maps
    t_out = best(lambda: [rep._output(graph, o, rfs[o], spatial, {}, rfs, None, strict)
                          for o in graph.outputs], repeat)
    try:
        spec = f"{best(lambda: to_spec(graph), repeat):6.1f}ms"
    except AtrousError:
        spec = "-"
    info = "-"
    if torchinfo is not None:
        t_info = best(lambda: torchinfo.summary(model, input_size=shape, verbose=0), repeat)
        info = f"{t_info:8.1f}ms"
    return (f"{name:34} {len(graph):5} {t_all:6.1f}ms {t_graph:7.1f}ms {t_rf:4.1f}ms "
            f"{t_out:6.1f}ms {spec:>8} {info:>10}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=DEFAULT, help="comma-separated model names")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torchinfo: Any = None
    with contextlib.suppress(ImportError):
        import torchinfo
    shape = (1, 3, 224, 224)
    print(f"atrous.analyze broken down at 1x3x224x224, torch {torch.__version__}, 1 thread, "
          f"fastest CPU time of {args.repeat} after a warm-up; load {os.getloadavg()}")
    print(f"{'model':34} {'nodes':>5} {'analyze':>8} {'as_graph':>9} {'rf':>6} "
          f"{'outputs':>8} {'to_spec':>8} {'torchinfo':>10}")
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        print(row(name, ZOO[name]().eval(), shape, args.repeat, torchinfo), flush=True)
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
