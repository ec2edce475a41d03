"""`atrous demo`: the main job on a built-in example (interim: the seeds' worked example)."""

from __future__ import annotations

import argparse

from ..arith import conv_output_size


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run atrous on a built-in example")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    h = conv_output_size(64, kernel=3, dilation=2)
    w = conv_output_size(64, kernel=3, dilation=2)
    print("The seeds' worked example: 64x64 input, 3x3 kernel, dilation 2, padding 0, stride 1")
    print(f"H_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = {h}")
    print(f"W_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = {w}")
    print(f"output: {h}x{w}")
    return 0
