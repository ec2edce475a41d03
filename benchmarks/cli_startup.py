"""Benchmark: the CPU time of whole ``atrous`` processes (issue 15: ``atrous --help`` and
``atrous shape ...`` under 0.1 s, ``atrous analyze --rates 1,2,5`` under 0.2 s), next to the
floors they cannot go under (the interpreter alone, and the imports each command needs).

Each figure is the fastest and the median user + system CPU time of ``--runs`` child processes
(``resource.getrusage(RUSAGE_CHILDREN)``), output discarded. ``--compare OTHER_SRC`` times a
second source tree (e.g. ``/work/main/src``, "before") in the same run, its processes
interleaved with this tree's one by one, so that a change of load hits both sides alike, and
prints after/before ratios. Bytecode caching is left on in the
children (as an installed package has its ``.pyc`` files; with ``PYTHONDONTWRITEBYTECODE`` every
run would compile the sources again), and one untimed run fills the cache first. The last lines
say which heavy packages each command imported.

The last lines split one ``atrous analyze --rates 1,2,5`` process into its parts (imports, the
command itself) and say how much of importing atrous is creating its dataclasses.

    python benchmarks/cli_startup.py [--compare /path/to/other/src]
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

COMMANDS = {
    "atrous --help": ["-m", "atrous", "--help"],
    "atrous shape 64 -k 3 -d 2": ["-m", "atrous", "shape", "64", "-k", "3", "-d", "2"],
    "atrous analyze --rates 1,2,5": ["-m", "atrous", "analyze", "--rates", "1,2,5"],
    "atrous analyze --rates 1,2,5 --json": ["-m", "atrous", "analyze", "--rates", "1,2,5",
                                            "--json"],
    "atrous model atrous.nn:resnet50 (224)": ["-m", "atrous", "model", "atrous.nn:resnet50",
                                              "--input", "1x3x224x224"],
}
SLOW = {"atrous model atrous.nn:resnet50 (224)"}
"""Timed over at most 3 processes (seconds each)."""
FLOORS = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import numpy'": ["-c", "import numpy"],
    "  the same, OPENBLAS_NUM_THREADS=1": [
        "-c", "import os; os.environ['OPENBLAS_NUM_THREADS'] = '1'; import numpy"],
    "  the same, OMP_NUM_THREADS=1": [
        "-c", "import os; os.environ['OMP_NUM_THREADS'] = '1'; import numpy"],
    "python -c 'import rich.console, rich.table'": ["-c", "import rich.console, rich.table"],
}
HEAVY = ("numpy", "rich", "torch", "matplotlib", "jinja2", "onnx", "dask")


def _env(src: str | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=(src or SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _child(args: list[str], env: dict[str, str]) -> None:
    res = subprocess.run([sys.executable, *args], capture_output=True, env=env)
    if res.returncode:
        raise SystemExit(f"python {' '.join(args)} exited with {res.returncode}:\n"
                         f"{res.stderr.decode(errors='replace')[-2000:]}")


def _one(args: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    _child(args, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def process_cpu(args: list[str], runs: int, srcs: list[str] | None = None,
                ) -> list[tuple[float, float]]:
    """(fastest, median) user + system CPU seconds of ``runs`` child interpreters, one pair per
    source tree of ``srcs`` (default: :data:`SRC`), their runs interleaved."""
    envs = [_env(src) for src in (srcs or [SRC])]
    for env in envs:  # fills the bytecode caches
        _child(args, env)
    times: list[list[float]] = [[] for _ in envs]
    for _ in range(runs):
        for env, seen in zip(envs, times):
            seen.append(_one(args, env))
    out = []
    for seen in times:
        seen.sort()
        out.append((seen[0], seen[len(seen) // 2]))
    return out


def heavy_imports(argv: list[str], src: str | None = None) -> list[str]:
    """The packages of :data:`HEAVY` that ``atrous ARGV`` imports."""
    code = ("import sys, io, contextlib\nfrom atrous.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.suppress(SystemExit):\n"
            f"    main({argv!r})\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=_env(src)).stdout
    return [str(m) for m in ast.literal_eval(out.strip().splitlines()[-1])]  # the child printed it


PHASES = """
import contextlib, dataclasses, gc, io, os, sys, time
gc.disable()  # as the atrous process does
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
clock = time.process_time
made, spent = [0], [0.0]
_process_class = dataclasses._process_class

def timed(*args, **kwargs):  # the time spent creating dataclasses (generating their methods)
    start = clock()
    try:
        return _process_class(*args, **kwargs)
    finally:
        made[0] += 1
        spent[0] += clock() - start

dataclasses._process_class = timed
t = [clock()]
import numpy
t.append(clock())
import rich.console, rich.table, rich.text, rich.box
t.append(clock())
import argparse, fractions, json
t.append(clock())
made[0], spent[0] = 0, 0.0  # count atrous' own
import atrous.cli.analyze, atrous.report, atrous.render.text, atrous.summary, atrous.spec
t.append(clock())
from atrous.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["analyze", "--rates", "1,2,5"])
t.append(clock())
import atrous
from rich.console import Console
from atrous.render.text import render_report
report = atrous.analyze(atrous.stack([1, 2, 5]))  # again, warm: the analysis alone
t.append(clock())
render_report(report, Console(width=100, color_system=None, file=io.StringIO()))
t.append(clock())
print(repr(([b - a for a, b in zip(t, t[1:])], made[0], spent[0])))
"""
"""A child that times, in process CPU time, the parts of ``atrous analyze --rates 1,2,5``."""


def phases(runs: int, src: str | None = None) -> None:
    """Print the fastest of ``runs`` children of :data:`PHASES` per part (milliseconds)."""
    rows = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PHASES], capture_output=True, text=True,
                             env=_env(src), check=True).stdout
        parts, made, spent = ast.literal_eval(out.strip().splitlines()[-1])
        rows.append([*parts, spent])
    best = [1000 * min(col) for col in zip(*rows)]
    names = ["import numpy", "import rich", "import argparse, fractions, json",
             "import the atrous modules", "the command (parse, analyse, render)"]
    print(f"  parts of `atrous analyze --rates 1,2,5` in one process (CPU ms, fastest of {runs}, "
          f"collector off, atrous from {src or SRC}):")
    print("    " + ", ".join(f"{n} {v:.1f}" for n, v in zip(names, best)))
    print(f"    once more, warm: the analysis {best[5]:.1f}, rendering its report with rich "
          f"{best[6]:.1f}")
    print(f"    atrous' {made} dataclasses (creating them, their generated methods compiled): "
          f"{best[-1]:.1f}")


def main(argv: list[str] | None = None) -> int:
    global SRC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed processes per line")
    parser.add_argument("--src", default=SRC,
                        help="the atrous source tree to time (default: this checkout's src)")
    parser.add_argument("--compare", default=None, metavar="OTHER_SRC",
                        help="also time this source tree ('before'), interleaved")
    args = parser.parse_args(argv)
    SRC = args.src
    srcs = [args.compare, SRC] if args.compare else [SRC]
    print(f"CPU time of whole processes (fastest / median of {args.runs}; of 3 for `atrous "
          f"model`), Python {sys.version.split()[0]}, load {os.getloadavg()}")
    if args.compare:
        print(f"  before: atrous from {args.compare}\n  after:  atrous from {SRC}\n"
              "  (processes interleaved before/after; ratio = after / before, fastest and "
              "median)")
    else:
        print(f"  atrous from {SRC}")
    targets = {"atrous --help": 0.1, "atrous shape 64 -k 3 -d 2": 0.1,
               "atrous analyze --rates 1,2,5": 0.2}
    for name, cmd in {**FLOORS, **COMMANDS}.items():
        runs = min(args.runs, 3) if name in SLOW else args.runs
        target = f" (target < {targets[name]} s)" if name in targets else ""
        if name in FLOORS:
            (fast, med), = process_cpu(cmd, runs)
            print(f"  {name:46} {fast:6.3f} s / {med:6.3f} s")
            continue
        results = process_cpu(cmd, runs, srcs)
        if not args.compare:
            (fast, med), = results
            print(f"  {name:46} {fast:6.3f} s / {med:6.3f} s{target}")
            continue
        (bf, bm), (af, am) = results
        print(f"  {name:46} before {bf:6.3f} / {bm:6.3f} s, after {af:6.3f} / {am:6.3f} s, "
              f"ratio {af / bf:.2f} / {am / bm:.2f}{target}")
    for src in srcs:
        label = ("before" if src == args.compare else "after") if args.compare else ""
        for name, cmd in COMMANDS.items():
            found = ", ".join(heavy_imports(cmd[2:], src)) or "none of them"
            print(f"  {label:6} {name:46} imports {found}")
    for src in srcs:
        phases(args.runs, src)
    print(f"load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
