"""The ``atrous`` command line: a thin layer over the public Python API.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and a ``run(args)``
function it registers as the parser's default ``func``. Bad input prints one line on stderr and
exits with status 2; no traceback.

Start-up is kept small: ``atrous --help`` imports no command module (the one-line summaries are
in :data:`SUMMARIES`), and ``atrous COMMAND ...`` imports only that command's module, so the
arithmetic commands never load numpy or torch. A process that runs one short command of
:data:`SHORT_LIVED` (the ``atrous`` script, ``python -m atrous``) also turns off the cycle
collector, which would otherwise walk the objects of numpy, rich and atrous while they load and
again at exit, and skips the interpreter's teardown when nothing needs it (see :func:`main`);
one that runs no model (:func:`_runs_model`) tells numpy's OpenBLAS to start no thread pool.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from functools import partial
from typing import Any, NoReturn

from ..errors import AtrousError, printable

__all__ = ["main"]

COMMANDS = ("demo", "shape", "analyze", "model", "design", "draw", "report", "tile", "bench")

SUMMARIES = {
    "demo": "run atrous on a built-in example, write an HTML report",
    "shape": "output size with the worked formula (conv, transposed, pooling; inverse)",
    "analyze": "receptive field, coverage map, gridding and HDC verdicts",
    "model": "analyse a PyTorch model (per-layer receptive fields, verdicts)",
    "design": "search gridding-free dilation schedules; repair; Pareto frontier",
    "draw": "draw conv/dilated/transposed/pool arithmetic (PNG, GIF, SVG)",
    "report": "write a self-contained HTML report (spec, rates or model)",
    "tile": "exact halo and tiles for tiled inference",
    "bench": "time dilated convolutions per implementation (the dilation tax)",
}
"""Each command's line in ``atrous --help`` (a test checks them against the commands' own)."""

SHORT_LIVED = frozenset({None, "shape", "analyze", "tile"})
"""Commands (None: ``--help``, ``--version``, no command) whose process does bounded work and,
unless :func:`_runs_model` says otherwise, runs no model code: it may start and end without the
cycle collector (see :func:`main`)."""

EPILOG = """examples:
  atrous demo                                  analyse four classic schedules, write an HTML report
  atrous shape 64 -k 3 -d 2                    output size with the worked formula
  atrous analyze "3x3 d1, 3x3 d2, 3x3 d5"      receptive field, coverage map, HDC verdicts
  atrous analyze --rates 2,2,2 --compare "--rates 1,2,3"
  atrous model mypkg.models:build --input 1x3x512x512
  atrous design --kernel 3 --target-rf 129     gridding-free dilation schedules
  atrous draw dilated --input 7 -k 3 -d 2 -o dilated.gif
  atrous report "3x3 d2, 3x3 d2" -o report.html
  atrous tile "3x3 s2 p1, 3x3 d4 p4" --input 1024x1024 --tile 128   exact halo for tiling
  atrous bench --dilations 1,2,4                time native vs space-to-batch dilated convs

'atrous COMMAND --help' explains each command."""


def _columns() -> int:
    """``shutil.get_terminal_size().columns`` (``COLUMNS``, else the terminal's, else 80),
    without importing shutil: argparse's help formatter would, and with it zlib, bz2 and lzma,
    at every command's start-up."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is one ``--help`` away), with
    control characters of the user's words escaped (``\x1b``), never echoed to the terminal.

    A value that starts with a minus and a digit (``--input -5x64``) is a value, not an option,
    so the command's own check says what is wrong with it. Its help formatter is given the
    terminal's width (argparse's own reading of it imports shutil).
    """

    def __init__(self, **kwargs: Any) -> None:
        formatter = kwargs.get("formatter_class", argparse.HelpFormatter)
        kwargs["formatter_class"] = partial(formatter, width=_columns() - 2)
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {printable(message)} (see '{self.prog} --help')\n")

    def _parse_optional(self, arg_string: str) -> Any:
        if len(arg_string) > 1 and arg_string[0] == "-" and arg_string[1].isdigit():
            return None
        return super()._parse_optional(arg_string)


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named by the first word of ``argv`` that is not an option, if it is one."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _runs_model(command: str | None, words: Sequence[str]) -> bool:
    """Whether ``atrous COMMAND WORDS`` may import torch and run a model's code (the user's, or
    atrous' own modules in ``demo`` and ``bench``): ``model``, ``report``, ``bench``, ``demo``,
    and ``tile`` of a ``pkg.module:callable`` target.

    >>> _runs_model("analyze", ["analyze", "--rates", "1,2,5"])
    False
    >>> _runs_model("tile", ["tile", "mypkg.models:build", "--input", "1x3x512x512"])
    True
    """
    if command in ("model", "report", "bench", "demo"):
        return True
    return command == "tile" and any(":" in word for word in words)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: one sub-parser per command.

    Args:
        only: build only this command's real sub-parser (importing only its module); the others
            are placeholders carrying their one-line summary. None: every command.
    """
    from .. import __version__

    parser = _Parser(
        prog="atrous",
        description="atrous: the dilated-convolution toolkit for PyTorch.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"atrous {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f".{name}", __name__).add_parser(sub)
        elif not only:  # ``atrous --help`` lists them; ``atrous shape ...`` never reads them
            sub.add_parser(name, help=SUMMARIES[name], add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``atrous`` script; returns the exit status.

    Called without ``argv`` (the ``atrous`` script, ``python -m atrous``), the process runs this
    one command and exits; for the commands of :data:`SHORT_LIVED` that run no model
    (:func:`_runs_model`) it then turns the cycle collector off (the modules it loads are never
    garbage, and the little cyclic garbage of a spec analysis goes with the process) and freezes
    every object, and ends the process without the interpreter's teardown when nothing is left
    for it to do (:func:`_exit_now`). ``main(argv)`` (tests, callers in Python) returns, leaving
    the collector as it is.
    """
    words = sys.argv[1:]
    command = _command_in(words)
    if argv is None and command in SHORT_LIVED and not _runs_model(command, words):
        enabled = gc.isenabled()
        gc.disable()
        try:
            status = _main(words, own_process=True)
        finally:
            gc.freeze()  # the interpreter's collections at exit skip what this run created
            if enabled:
                gc.enable()
        _exit_now(status)
        return status
    return _main(sys.argv[1:] if argv is None else argv, own_process=argv is None)


def _exit_now(status: int) -> None:
    """End the process now with ``status``, skipping the interpreter's teardown (freeing the
    objects of every module one by one), when it has nothing else to do: no ``atexit`` handler
    registered (coverage tools, matplotlib's pyplot register some), no profiler or tracer
    watching (``python -m cProfile`` prints after ``main``), no other thread running, stdout and
    stderr flushed without error. Otherwise it returns and the interpreter exits as usual.
    """
    registered = getattr(atexit, "_ncallbacks", None)  # CPython's count of atexit handlers
    threads = sys.modules.get("threading")
    if (registered is None or registered() or sys.getprofile() is not None
            or sys.gettrace() is not None
            or (threads is not None and threads.active_count() > 1)):
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: no such stream (its descriptor was closed)
                stream.flush()
    except (OSError, ValueError):  # a closed pipe or stream: the usual exit reports it
        return
    os._exit(status)


def _main(argv: Sequence[str], own_process: bool = False) -> int:
    """Run one command; ``own_process``: this process is the ``atrous`` command (it may
    replace a closed stdout, process-wide)."""
    words = list(argv)
    for word in words:  # an argument that is not UTF-8 arrives with surrogate escapes
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            shown = word.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            print(f"atrous: error: argument '{shown}' is not valid UTF-8", file=sys.stderr)
            return 2
    if own_process and sys.stdout is None:  # started with stdout closed (``>&-``): the
        # output goes nowhere, as ``atrous shape``'s always did, in every command
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the process's stdout from now on)
    command = _command_in(words)
    if own_process and not _runs_model(command, words) and "numpy" not in sys.modules:
        # atrous does no BLAS work; numpy's OpenBLAS would start a thread per core that spins
        # waiting for some (~0.05 s of CPU time a process here). Commands that may run a
        # model's code keep the user's setting (a torch built on OpenBLAS reads it too), and
        # so does a Python program calling ``main(argv)`` (its environment is its own).
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    only = command
    if command is None and (not words or words[0] in ("-h", "--help", "--version")):
        only = ""  # ``atrous --help`` needs no command module; ``atrous shape ...`` only shape's
    parser = build_parser(only=only)
    args = parser.parse_args(words)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        status: int = args.func(args)
    except AtrousError as exc:
        first = [printable(line) for line in str(exc).splitlines()]
        message = "\n".join(first) if type(exc).__name__ == "SpecError" else " ".join(first)
        print(f"atrous {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("atrous: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OverflowError as exc:  # a size past what int64 arithmetic can hold
        print(f"atrous {args.command}: error: a number is too large to compute with: {exc}",
              file=sys.stderr)
        return 2
    except OSError as exc:
        # an output path that cannot be written (a file where a folder should be, no permission)
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        print(f"atrous {args.command}: error: cannot write{where}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
