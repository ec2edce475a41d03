"""Benchmark: the CPU time of whole ``atrous`` processes (issue 15: ``atrous --help`` and
``atrous shape ...`` under 0.1 s, ``atrous analyze --rates 1,2,5`` under 0.2 s), next to the
floors they cannot go under (the interpreter alone, and the imports each command needs).

Each figure is the fastest and the median user + system CPU time of ``--runs`` child processes
(``resource.getrusage(RUSAGE_CHILDREN)``), output discarded. Bytecode caching is left on in the
children (as an installed package has its ``.pyc`` files; with ``PYTHONDONTWRITEBYTECODE`` every
run would compile the sources again), and one untimed run fills the cache first. The last lines
say which heavy packages each command imported.

    python benchmarks/cli_startup.py
"""

from __future__ import annotations

import argparse
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
    "python -c 'import rich.console, rich.table'": ["-c", "import rich.console, rich.table"],
}
HEAVY = ("numpy", "rich", "torch", "matplotlib", "jinja2", "onnx", "dask")


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def process_cpu(args: list[str], runs: int) -> tuple[float, float]:
    """(fastest, median) user + system CPU seconds of ``runs`` child interpreters."""
    env = _env()
    subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    times.sort()
    return times[0], times[len(times) // 2]


def heavy_imports(argv: list[str]) -> list[str]:
    """The packages of :data:`HEAVY` that ``atrous ARGV`` imports."""
    code = ("import sys, io, contextlib\nfrom atrous.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.suppress(SystemExit):\n"
            f"    main({argv!r})\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=_env()).stdout
    return eval(out.strip().splitlines()[-1])  # a list literal the child printed


def main(argv: list[str] | None = None) -> int:
    global SRC
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed processes per line")
    parser.add_argument("--src", default=SRC,
                        help="the atrous source tree to time (default: this checkout's src)")
    args = parser.parse_args(argv)
    SRC = args.src
    print(f"CPU time of whole processes (fastest / median of {args.runs}; of 3 for `atrous "
          f"model`), Python {sys.version.split()[0]}, atrous from {SRC}, load "
          f"{os.getloadavg()}")
    targets = {"atrous --help": 0.1, "atrous shape 64 -k 3 -d 2": 0.1,
               "atrous analyze --rates 1,2,5": 0.2}
    for name, cmd in {**FLOORS, **COMMANDS}.items():
        fast, med = process_cpu(cmd, min(args.runs, 3) if name in SLOW else args.runs)
        target = f" (target < {targets[name]} s)" if name in targets else ""
        print(f"  {name:44} {fast:6.3f} s / {med:6.3f} s{target}")
    for name, cmd in COMMANDS.items():
        print(f"  {name:44} imports {', '.join(heavy_imports(cmd[2:])) or 'none of them'}")
    print(f"load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
