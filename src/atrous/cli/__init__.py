"""The ``atrous`` command line: a thin layer over the public Python API.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and a ``run(args)``
function it registers as the parser's default ``func``. Bad input prints one line on stderr and
exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import AtrousError

__all__ = ["main"]

COMMANDS = ("demo", "shape", "analyze", "model", "design", "draw", "report", "tile")

EPILOG = """examples:
  atrous demo                                  analyse the seeds' schedules, write an HTML report
  atrous shape 64 -k 3 -d 2                    output size with the worked formula
  atrous analyze "3x3 d1, 3x3 d2, 3x3 d5"      receptive field, coverage map, HDC verdicts
  atrous analyze --rates 2,2,2 --compare "--rates 1,2,3"
  atrous model mypkg.models:build --input 1x3x512x512
  atrous design --kernel 3 --target-rf 129     gridding-free dilation schedules
  atrous draw dilated --input 7 -k 3 -d 2 -o dilated.gif
  atrous report "3x3 d2, 3x3 d2" -o report.html
  atrous tile "3x3 s2 p1, 3x3 d4 p4" --input 1024x1024 --tile 128   exact halo for tiling

'atrous COMMAND --help' explains each command."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (one sub-parser per command)."""
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
        importlib.import_module(f".{name}", __name__).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``atrous`` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        status: int = args.func(args)
    except AtrousError as exc:
        first = str(exc).splitlines()
        message = "\n".join(first) if type(exc).__name__ == "SpecError" else " ".join(first)
        print(f"atrous {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("atrous: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # an output path that cannot be written (a file where a folder should be, no permission)
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        print(f"atrous {args.command}: error: cannot write{where}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
