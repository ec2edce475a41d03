"""`atrous shape`: output sizes with the worked formula, output_padding, inverse questions.

A thin layer: the flags are parsed here, :func:`atrous.shapes.shape_query` answers (a
:class:`~atrous.shapes.ShapeResult` built on :mod:`atrous.arith`), and the answer is printed as
the headline and the worked formula, or as JSON (``atrous/schemas/shape.schema.json``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import AtrousError
from ._common import add_command, parse_padding, per_axis, per_axis_nonneg, print_json

__all__ = ["add_parser", "parse_padding", "run"]

DESCRIPTION = """\
Output size of a convolution, transposed convolution or pooling layer, with
the worked formula, by PyTorch's rules (atrous raises where PyTorch would).

Per-axis values are written 64 or 64x48 (or 16x64x64); one value applies to
every axis. --padding takes an int (1), per-axis ints (1,2 or 1x2), per-axis
left:right pairs (0:1,1:1; a single pair applies to every axis), 'valid', or
'same' (output = ceil(size/stride), TensorFlow's meaning).

The other way round: --inverse N gives the input sizes whose output is N, and
--target N (with --transposed) solves the output_padding that reaches N."""

EPILOG = """\
examples:
  atrous shape 64 -k 3 -d 2                                60: dilation 2 shrinks by 4
  atrous shape 64x64 -k 3 -d 2 --padding 2                 padding = dilation keeps 64
  atrous shape 64x48 -k 3 -s 2 --padding same              ceil(size/stride): 32x24
  atrous shape 64 -k 4 --padding 1:2                       asymmetric left:right
  atrous shape 32 -k 4 -s 2 -p 1 --transposed              transposed conv: 64
  atrous shape 7 -k 3 -s 2 -p 1 --transposed --target 14   solve output_padding
  atrous shape 112 -k 3 -s 2 -p 1 --pool max               max pooling: 56
  atrous shape 5 -k 2 -p 1 --pool max --ceil-mode          last-window rule
  atrous shape --inverse 60 -k 3 -d 2                      inputs giving 60: 64
  atrous shape --inverse 32 -k 3 -s 2 -p 1 --json          machine-readable
  atrous shape --inverse 63 -k 4 -s 2 -p 1 --transposed --output-padding any"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``atrous shape``."""
    p = add_command(
        sub, "shape", "output size with the worked formula (conv, transposed, pooling; inverse)",
        DESCRIPTION, EPILOG, run,
    )
    p.add_argument("size", nargs="?", default=argparse.SUPPRESS, metavar="SIZE",
                   help="input size, e.g. 64 or 64x48")
    p.add_argument("-k", "--kernel", default=argparse.SUPPRESS, metavar="K",
                   help="kernel size (required), e.g. 3 or 3x5")
    p.add_argument("-s", "--stride", default=argparse.SUPPRESS, metavar="S",
                   help="stride (default: 1; pooling: the kernel)")
    p.add_argument("-d", "--dilation", default="1", metavar="D", help="dilation rate")
    p.add_argument("-p", "--padding", default="0", metavar="P",
                   help="padding: 1, 1,2, 0:1,1:1, valid or same")
    p.add_argument("--transposed", action="store_true",
                   help="a transposed convolution (ConvTranspose)")
    p.add_argument("--output-padding", default=argparse.SUPPRESS, metavar="N",
                   help="output_padding of the transposed convolution (default: 0); with "
                   "--inverse, 'any' allows every legal value")
    p.add_argument("--target", default=argparse.SUPPRESS, metavar="N",
                   help="with --transposed: solve the output_padding that gives output N")
    p.add_argument("--pool", default=argparse.SUPPRESS, metavar="MODE",
                   help="pooling instead of convolution: max or avg")
    p.add_argument("--ceil-mode", action="store_true", help="pooling with ceil_mode=True")
    p.add_argument("--inverse", default=argparse.SUPPRESS, metavar="N",
                   help="the input sizes (min..max) whose output is N; replaces SIZE")
    p.add_argument("--json", action="store_true", help="machine-readable output")


# --------------------------------------------------------------------------- parsing


# --------------------------------------------------------------------------- the command


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse flag combinations that ask no question (one line each)."""
    if "kernel" not in args:
        raise AtrousError("--kernel is required, e.g. -k 3 or -k 3x5")
    size, inverse = getattr(args, "size", None), getattr(args, "inverse", None)
    target, pool = getattr(args, "target", None), getattr(args, "pool", None)
    opad = getattr(args, "output_padding", None)
    if (size is None) == (inverse is None):
        raise AtrousError("give either SIZE (output size) or --inverse N (input sizes), not "
                          + ("both" if size is not None else "neither"))
    if pool is not None and args.transposed:
        raise AtrousError("--pool and --transposed exclude each other")
    if args.ceil_mode and pool is None:
        raise AtrousError("--ceil-mode applies to pooling only: add --pool max or --pool avg")
    if not args.transposed and (opad is not None or target is not None):
        flag = "--output-padding" if opad is not None else "--target"
        raise AtrousError(f"{flag} applies to transposed convolution only: add --transposed")
    if target is not None and (opad is not None or inverse is not None):
        other = "--output-padding" if opad is not None else "--inverse"
        raise AtrousError(f"--target and {other} exclude each other")
    if pool is not None and pool not in ("max", "avg"):
        raise AtrousError(f"--pool must be 'max' or 'avg', got {pool!r}")
    if opad is not None and opad.strip().lower() == "any" and inverse is None:
        raise AtrousError("--output-padding any applies to --inverse only")


def _query(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`atrous.shapes.shape_query` from the parsed flags."""
    size, inverse = getattr(args, "size", None), getattr(args, "inverse", None)
    target, pool = getattr(args, "target", None), getattr(args, "pool", None)
    stride, opad_text = getattr(args, "stride", None), getattr(args, "output_padding", None)
    opad: Any = 0
    if opad_text is not None and opad_text.strip().lower() == "any":
        opad = None
    elif opad_text is not None:
        opad = per_axis_nonneg(opad_text, "output_padding")
    return {
        "size": per_axis(size, "size") if size is not None else None,
        "inverse": per_axis(inverse, "--inverse output") if inverse is not None else None,
        "target": per_axis(target, "--target output") if target is not None else None,
        "kernel": per_axis(args.kernel, "kernel"),
        "stride": per_axis(stride, "stride") if stride is not None else None,
        "dilation": per_axis(args.dilation, "dilation"),
        "padding": parse_padding(args.padding),
        "op": "pool" if pool is not None else ("transposed" if args.transposed else "conv"),
        "mode": "avg" if pool == "avg" else "max",
        "ceil_mode": args.ceil_mode,
        "output_padding": opad,
    }


def run(args: argparse.Namespace) -> int:
    """Run ``atrous shape``: parse the flags, ask :func:`atrous.shapes.shape_query`, print."""
    from ..shapes import shape_query

    _check_flags(args)
    result = shape_query(**_query(args))
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.headline)
        for line in result.formula:
            print(line)
    return 0
