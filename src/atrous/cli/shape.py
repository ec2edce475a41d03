"""`atrous shape`: output sizes with the worked formula, output_padding, inverse questions.

A thin layer over :mod:`atrous.arith`: :func:`~atrous.arith.conv_output_size`,
:func:`~atrous.arith.conv_transpose_output_size`, :func:`~atrous.arith.pool_output_size`,
:func:`~atrous.arith.output_padding_for`, the ``*_input_size_range`` functions and
:func:`~atrous.arith.explain`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import arith
from .._types import Ints, as_ints, infer_ndim
from ..errors import AtrousError
from ._common import HelpFormatter, parse_size, print_json

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
  atrous shape 64 -k 3 -d 2                                60: the seeds' example
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


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``atrous shape``."""
    p = sub.add_parser(
        "shape",
        help="output size with the worked formula (conv, transposed, pooling; inverse)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
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
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- parsing


def _one_or_all(values: Ints) -> int | Ints:
    return values[0] if len(values) == 1 else values


def _nonneg(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise AtrousError(f"{what} must be an integer, got {text!r}") from None
    if value < 0:
        raise AtrousError(f"{what} must be >= 0, got {value}")
    return value


def parse_padding(text: str) -> Any:
    """``"same"``, ``"valid"``, ``"1"``, ``"1,2"``/``"1x2"`` or pairs ``"0:1,1:1"``.

    A single ``l:r`` pair is returned as a one-element tuple of pairs; the caller broadcasts it.

    >>> parse_padding("1,2"), parse_padding("0:1,2:2"), parse_padding("same")
    ((1, 2), ((0, 1), (2, 2)), 'same')
    """
    t = str(text).strip().lower()
    if t in ("same", "valid"):
        return t
    if not t:
        raise AtrousError("padding must not be empty")
    if ":" in t:
        pairs = []
        for part in t.split(","):
            bits = part.split(":")
            if len(bits) != 2:
                raise AtrousError(
                    f"padding pairs must look like left:right (e.g. 0:1,1:1), got {text!r}"
                )
            pairs.append((_nonneg(bits[0], "padding"), _nonneg(bits[1], "padding")))
        return tuple(pairs)
    parts = t.replace("x", ",").split(",")
    values = tuple(_nonneg(part, "padding") for part in parts)
    return _one_or_all(values)


def _per_axis(text: str, what: str) -> int | Ints:
    return _one_or_all(parse_size(text, what))


def _per_axis_nonneg(text: str, what: str) -> int | Ints:
    parts = str(text).lower().replace("x", ",").split(",")
    return _one_or_all(tuple(_nonneg(p, what) for p in parts))


# --------------------------------------------------------------------------- the command


def _fmt(values: Any) -> str:
    return "x".join(str(v) for v in values) if isinstance(values, tuple) else str(values)


def _lst(values: Any) -> list[Any]:
    return [list(v) if isinstance(v, tuple) else v for v in values]


def run(args: argparse.Namespace) -> int:
    """Run ``atrous shape``; returns the exit status."""
    if "kernel" not in args:
        raise AtrousError("--kernel is required, e.g. -k 3 or -k 3x5")
    inverse = getattr(args, "inverse", None)
    target = getattr(args, "target", None)
    pool_text = getattr(args, "pool", None)
    op_text = getattr(args, "output_padding", None)
    size_text = getattr(args, "size", None)
    if (size_text is None) == (inverse is None):
        raise AtrousError("give either SIZE (output size) or --inverse N (input sizes), not "
                          + ("both" if size_text is not None else "neither"))
    if pool_text is not None and args.transposed:
        raise AtrousError("--pool and --transposed exclude each other")
    if args.ceil_mode and pool_text is None:
        raise AtrousError("--ceil-mode applies to pooling only: add --pool max or --pool avg")
    if not args.transposed and (op_text is not None or target is not None):
        flag = "--output-padding" if op_text is not None else "--target"
        raise AtrousError(f"{flag} applies to transposed convolution only: add --transposed")
    if target is not None and (op_text is not None or inverse is not None):
        other = "--output-padding" if op_text is not None else "--inverse"
        raise AtrousError(f"--target and {other} exclude each other")
    if pool_text is not None and pool_text not in ("max", "avg"):
        raise AtrousError(f"--pool must be 'max' or 'avg', got {pool_text!r}")

    op: arith.ExplainOp = "pool" if pool_text is not None else (
        "transposed" if args.transposed else "conv"
    )
    mode: arith.PoolMode = "avg" if pool_text == "avg" else "max"
    size = _per_axis(size_text, "size") if size_text is not None else None
    wanted = _per_axis(inverse, "--inverse output") if inverse is not None else None
    tgt = _per_axis(target, "--target output") if target is not None else None
    kernel = _per_axis(args.kernel, "kernel")
    stride_text = getattr(args, "stride", None)
    stride = _per_axis(stride_text, "stride") if stride_text is not None else None
    dilation = _per_axis(args.dilation, "dilation")
    opad: Any = 0
    if op_text is not None and op_text.strip().lower() == "any":
        if inverse is None:
            raise AtrousError("--output-padding any applies to --inverse only")
        opad = None
    elif op_text is not None:
        opad = _per_axis_nonneg(op_text, "output_padding")
    padding = parse_padding(args.padding)
    nd = infer_ndim(size, wanted, tgt, kernel, stride, dilation, opad)
    if nd is None:
        nd = infer_ndim(arith._padding_shape(padding), default=1) or 1
    elif arith._is_pairs(padding) and len(padding) == 1:
        padding = padding * nd  # one left:right pair applies to every axis
    conv_stride = 1 if stride is None else stride

    record: dict[str, Any] = {"op": op}
    if op == "pool":
        record["mode"] = mode
        record["ceil_mode"] = args.ceil_mode

    if wanted is not None:  # ------------------------------------------------ inverse
        if op == "conv":
            ranges = arith.conv_input_size_range(wanted, kernel, conv_stride, padding, dilation)
        elif op == "transposed":
            ranges = arith.conv_transpose_input_size_range(
                wanted, kernel, conv_stride, padding, dilation, opad
            )
        else:
            ranges = arith.pool_input_size_range(
                wanted, kernel, stride, padding, dilation, args.ceil_mode, mode
            )
        per_axis = ranges if isinstance(ranges[0], tuple) else (ranges,)
        lows = tuple(lo for lo, _ in per_axis)
        highs = tuple(hi for _, hi in per_axis)
        n_lo, n_hi = as_ints(lows, nd, "size"), as_ints(highs, nd, "size")
        op_lo = op_hi = opad
        if op == "transposed" and opad is None:  # show the output_padding each size needs
            op_lo = arith.output_padding_for(n_lo, wanted, kernel, conv_stride, padding, dilation)
            op_hi = arith.output_padding_for(n_hi, wanted, kernel, conv_stride, padding, dilation)
        low_lines = _explain(op, n_lo, kernel, stride, padding, dilation, op_lo, args, mode)
        high_lines = _explain(op, n_hi, kernel, stride, padding, dilation, op_hi, args, mode)
        names = arith.axis_names(nd)
        lines = []
        for a in range(nd):
            lo, hi = per_axis[a]
            lines.append(f"{names[a]}_in = {lo}" if lo == hi else f"{names[a]}_in = {lo}..{hi}")
            lines.append(f"  {low_lines[a]}")
            if hi != lo:
                lines.append(f"  {high_lines[a]}")
        record.update(_geometry(op, nd, n_lo, kernel, stride, padding, dilation, opad))
        record["output"] = list(as_ints(wanted, nd, "output"))
        record["input_range"] = [list(r) for r in per_axis]
        if isinstance(padding, str):  # 'same' resolves differently for each input size
            record["padding"] = padding
        record["formula"] = lines
        headline = " x ".join(f"{lo}..{hi}" if lo != hi else str(lo) for lo, hi in per_axis)
        if all(lo == hi for lo, hi in per_axis):
            headline = "x".join(str(lo) for lo, _ in per_axis)
        record.pop("input", None)
        return _emit(args, record, headline, lines)

    assert size is not None  # checked above: SIZE xor --inverse
    if tgt is not None:  # --------------------------------------------------- solve op
        opad = arith.output_padding_for(size, tgt, kernel, conv_stride, padding, dilation)
    if op == "conv":
        out = arith.conv_output_size(size, kernel, conv_stride, padding, dilation)
    elif op == "transposed":
        out = arith.conv_transpose_output_size(size, kernel, conv_stride, padding, dilation, opad)
    else:
        out = arith.pool_output_size(size, kernel, stride, padding, dilation, args.ceil_mode, mode)
    lines = _explain(op, size, kernel, stride, padding, dilation, opad, args, mode)
    n = as_ints(size, nd, "size")
    record.update(_geometry(op, nd, n, kernel, stride, padding, dilation, opad))
    record["output"] = list(as_ints(out, nd, "output"))
    record["formula"] = lines
    headline = _fmt(out)
    if tgt is not None:
        headline = f"output_padding {_fmt(opad)}"
        record["target"] = list(as_ints(tgt, nd, "target"))
    return _emit(args, record, headline, lines)


def _explain(
    op: arith.ExplainOp, size: Any, kernel: Any, stride: Any, padding: Any, dilation: Any,
    opad: Any, args: argparse.Namespace, mode: arith.PoolMode,
) -> list[str]:
    if op == "pool":
        text = arith.explain(op, size, kernel, stride, padding, dilation,
                             ceil_mode=args.ceil_mode, mode=mode)
    elif op == "transposed":
        text = arith.explain(op, size, kernel, stride, padding, dilation, output_padding=opad)
    else:
        text = arith.explain(op, size, kernel, stride, padding, dilation)
    return text.splitlines()


def _geometry(
    op: str, nd: int, n: Ints, kernel: Any, stride: Any, padding: Any, dilation: Any, opad: Any
) -> dict[str, Any]:
    """The layer, every value normalised to per-axis lists (JSON output)."""
    k = as_ints(kernel, nd, "kernel")
    s = as_ints(stride, nd, "stride") if stride is not None else (k if op == "pool" else (1,) * nd)
    d = as_ints(dilation, nd, "dilation")
    record: dict[str, Any] = {"input": list(n), "kernel": list(k), "stride": list(s)}
    if op == "conv":
        record["padding"] = _lst(arith.normalize_padding(padding, nd, k, s, d, n))
    else:
        record["padding"] = list(as_ints(padding, nd, "padding"))
    record["dilation"] = list(d)
    if op == "transposed":
        record["output_padding"] = (
            "any" if opad is None else list(as_ints(opad, nd, "output_padding"))
        )
    return record


def _emit(args: argparse.Namespace, record: dict[str, Any], headline: str, lines: list[str]) -> int:
    if args.json:
        print_json(record)
    else:
        print(headline)
        for line in lines:
            print(line)
    return 0
