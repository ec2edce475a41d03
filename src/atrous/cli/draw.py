"""`atrous draw`: conv-arithmetic pictures (PNG of one step, animated GIF, SVG)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import AtrousError
from ._common import (
    add_command,
    check_output_path,
    parse_padding,
    parse_size,
    per_axis,
    per_axis_nonneg,
)

__all__ = ["add_parser", "parse_padding", "run"]

DESCRIPTION = """\
Draw a convolution, dilated convolution, transposed convolution or pooling step by step, from
the tested arithmetic: the input grid with its padding, the kernel's taps (dark blue) with the
holes between them (hatched), and the output grid filling in. Numbers in the cells are example
input values, kernel weights (x2) and the computed outputs.

The file type picks the output: .gif animates every step, .png and .svg draw one (--step)."""

EPILOG = """\
examples:
  atrous draw dilated --input 7 -k 3 -d 2 -o dilated.gif
  atrous draw conv --input 5 -k 3 -s 2 -p 1 -o strided.png --step 3   (step 4/9)
  atrous draw conv --input 7x5 -k 3 --padding 0:1,1:1 -o asym.svg
  atrous draw conv --input 9 --ndim 1 -k 3 -d 3 -o conv1d.gif
  atrous draw transposed --input 3 -k 3 -s 2 -p 1 --output-padding 1 -o up.gif
  atrous draw pool --input 5 -k 2 --ceil-mode -o pool.gif

padding: N (all sides), N,M (per axis), L:R (left:right), L:R,L:R per axis, same, valid."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "draw", "draw conv/dilated/transposed/pool arithmetic (PNG, GIF, SVG)",
        DESCRIPTION, EPILOG, run,
    )
    p.add_argument("kind", choices=["conv", "dilated", "transposed", "pool"],
                   help="operation to draw")
    p.add_argument("--input", "-i", default="5", metavar="SIZE",
                   help="input size: 7 (square, or length with --ndim 1) or 7x5")
    p.add_argument("--ndim", type=int, choices=[1, 2], default=None,
                   help="1-D or 2-D (default: 2, or the number of axes in --input)")
    p.add_argument("--kernel", "-k", default="3", metavar="K", help="kernel size: 3 or 3x2")
    p.add_argument("--stride", "-s", default=None, metavar="S",
                   help="stride (default 1; the kernel for pool)")
    p.add_argument("--padding", "-p", default="0", metavar="P", help="padding, see below")
    p.add_argument("--dilation", "-d", default=None, metavar="D",
                   help="dilation (default 2 for dilated, else 1)")
    p.add_argument("--output-padding", default="0", metavar="N",
                   help="transposed conv: extra output on the right/bottom")
    p.add_argument("--ceil-mode", action="store_true", help="pool: round the output size up")
    p.add_argument("--mode", choices=["max", "avg"], default="max", help="pool: max or avg")
    p.add_argument("--step", type=int, default=0,
                   help="step drawn in a .png/.svg, counted from 0 like a Python index (-1 is "
                        "the last); the picture and the message number steps from 1, so "
                        "--step 3 draws 'step 4/N'")
    p.add_argument("--no-numbers", action="store_true", help="leave the cells empty")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the example numbers (an integer >= 0)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="output file: .gif (every step), .png or .svg (one step)")


def run(args: argparse.Namespace) -> int:
    from ..render.draw import animate, geometry

    if args.seed < 0:
        raise AtrousError(f"--seed must be >= 0, got {args.seed}")
    check_output_path(args.output)
    size = parse_size(args.input, "input size")
    ndim = args.ndim if args.ndim is not None else (len(size) if len(size) > 1 else 2)
    if len(size) > 1 and args.ndim is not None and len(size) != args.ndim:
        raise AtrousError(f"--input {args.input} has {len(size)} axes but --ndim is {args.ndim}")
    kwargs: dict[str, Any] = dict(
        input=size[0] if len(size) == 1 else size,
        kernel=per_axis(args.kernel, "kernel"),
        stride=None if args.stride is None else per_axis(args.stride, "stride"),
        padding=parse_padding(args.padding),
        dilation=None if args.dilation is None else per_axis(args.dilation, "dilation"),
        output_padding=per_axis_nonneg(args.output_padding, "output padding"),
        ceil_mode=args.ceil_mode,
        pool_mode=args.mode,
        ndim=ndim,
    )
    g = geometry(args.kind, **kwargs)
    out = animate(args.output, args.kind, **kwargs, step=args.step,
                  numbers=not args.no_numbers, seed=args.seed)
    step = args.step + g.steps if args.step < 0 else args.step
    # numbered from 1 as in the picture's title ("step 4/9" for --step 3)
    frames = (f"{g.steps} frames" if out.suffix.lower() == ".gif"
              else f"step {step + 1}/{g.steps}")
    print(g.describe())
    print(f"wrote {out} ({frames})")
    return 0
