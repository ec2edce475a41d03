"""One output-size question, answered as a record: what ``atrous shape`` prints.

:func:`shape_query` takes a layer (convolution, transposed convolution or pooling) and either an
input size (the output size), an output size to invert (the input sizes giving it) or, for a
transposed convolution, a target output (the ``output_padding`` reaching it); it returns a
:class:`ShapeResult` with the numbers per axis, the worked formula and the JSON record
(``atrous/schemas/shape.schema.json``). It imports neither numpy nor torch.

    >>> r = shape_query(64, kernel=3, dilation=2)
    >>> r.output, r.headline, r.formula[0]
    ((60,), '60', 'L_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60')
    >>> shape_query(inverse=32, kernel=3, stride=2, padding=1).input_range
    ((63, 64),)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import arith
from ._types import Ints, as_ints, infer_ndim
from .errors import AtrousError

__all__ = ["SHAPE_SCHEMA_VERSION", "ShapeResult", "shape_query"]

SHAPE_SCHEMA_VERSION = 1


def _lists(values: Any) -> Any:
    return [list(v) if isinstance(v, tuple) else v for v in values]


def _fmt(values: Any) -> str:
    return "x".join(str(v) for v in values) if isinstance(values, tuple) else str(values)


@dataclass(frozen=True)
class ShapeResult:
    """The answer of :func:`shape_query`, every value per axis.

    Attributes:
        op: ``"conv"``, ``"transposed"`` or ``"pool"``; mode, ceil_mode: pooling's (else None).
        input: the input size (None for an inverse question); output: the output size (the
            asked one for an inverse question); input_range: per axis ``(lo, hi)`` input sizes
            giving ``output`` (inverse questions only); target: the output asked with
            ``target`` (the solved ``output_padding`` reaches it).
        kernel, stride, dilation: per axis; padding: per-axis ``(left, right)`` pairs for a
            convolution (the string ``"same"``/``"valid"`` for an inverse one), per-axis ints
            otherwise; output_padding: a transposed convolution's (``"any"``: every legal value).
        formula: the worked formula, one line per axis (two for an inverse range).
        headline: the answer in one line (the first line ``atrous shape`` prints).
    """

    op: arith.ExplainOp
    kernel: Ints
    stride: Ints
    padding: Any
    dilation: Ints
    output: Ints
    formula: tuple[str, ...]
    headline: str
    input: Ints | None = None
    mode: arith.PoolMode | None = None
    ceil_mode: bool | None = None
    output_padding: Ints | str | None = None
    input_range: tuple[tuple[int, int], ...] | None = None
    target: Ints | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON record (keys in the order ``atrous shape --json`` prints them; version 1 is
        the first to carry ``schema_version``)."""
        out: dict[str, Any] = {"schema_version": SHAPE_SCHEMA_VERSION, "op": self.op}
        if self.op == "pool":
            out["mode"], out["ceil_mode"] = self.mode, self.ceil_mode
        if self.input is not None:
            out["input"] = list(self.input)
        out["kernel"], out["stride"] = list(self.kernel), list(self.stride)
        out["padding"] = self.padding if isinstance(self.padding, str) else _lists(self.padding)
        out["dilation"] = list(self.dilation)
        if self.op == "transposed":
            op = self.output_padding
            out["output_padding"] = op if isinstance(op, str) or op is None else list(op)
        out["output"] = list(self.output)
        if self.input_range is not None:
            out["input_range"] = [list(r) for r in self.input_range]
        out["formula"] = list(self.formula)
        if self.target is not None:
            out["target"] = list(self.target)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """The record as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)


def _explain(op: arith.ExplainOp, size: Any, q: dict[str, Any], opad: Any) -> list[str]:
    extra: dict[str, Any] = {}
    if op == "pool":
        extra = {"ceil_mode": q["ceil_mode"], "mode": q["mode"]}
    elif op == "transposed":
        extra = {"output_padding": opad}
    text = arith.explain(op, size, q["kernel"], q["stride"], q["padding"], q["dilation"], **extra)
    return text.splitlines()


def _geometry(op: str, nd: int, n: Ints, q: dict[str, Any]) -> dict[str, Any]:
    k = as_ints(q["kernel"], nd, "kernel")
    stride = q["stride"]
    s = as_ints(stride, nd, "stride") if stride is not None else (k if op == "pool" else (1,) * nd)
    d = as_ints(q["dilation"], nd, "dilation")
    if op == "conv":
        padding: Any = tuple(arith.normalize_padding(q["padding"], nd, k, s, d, n))
    else:
        padding = as_ints(q["padding"], nd, "padding")
    return {"kernel": k, "stride": s, "dilation": d, "padding": padding}


def shape_query(
    size: int | Ints | None = None,
    *,
    kernel: int | Ints,
    stride: int | Ints | None = None,
    padding: Any = 0,
    dilation: int | Ints = 1,
    op: arith.ExplainOp = "conv",
    output_padding: int | Ints | None = 0,
    mode: arith.PoolMode = "max",
    ceil_mode: bool = False,
    inverse: int | Ints | None = None,
    target: int | Ints | None = None,
) -> ShapeResult:
    """Answer one output-size question (the core of ``atrous shape``).

    Args:
        size: the input size (an int for every axis, or per axis); or None with ``inverse``.
        kernel, stride, padding, dilation: the layer (as :func:`atrous.conv_output_size`
            takes them; ``stride`` None: 1, or the kernel for pooling; a single ``(l, r)``
            pair in a one-element tuple applies to every axis).
        op: ``"conv"``, ``"transposed"`` or ``"pool"``.
        output_padding: a transposed convolution's; None with ``inverse``: any legal value.
        mode, ceil_mode: pooling's.
        inverse: an output size: answer the input sizes giving it instead.
        target: a transposed convolution's wanted output: solve its ``output_padding``.

    Raises:
        AtrousError: a question that is not well posed, or a layer PyTorch would refuse.

    >>> shape_query(7, kernel=3, stride=2, padding=1, op="transposed", target=14).headline
    'output_padding 1'
    """
    if (size is None) == (inverse is None):
        raise AtrousError("give either an input size or an inverse output size, not "
                          + ("both" if size is not None else "neither"))
    if target is not None and (op != "transposed" or inverse is not None):
        raise AtrousError("target applies to a transposed convolution's forward question only")
    nd = infer_ndim(size, inverse, target, kernel, stride, dilation, output_padding)
    if nd is None:
        nd = arith.padding_axes(padding) or 1
    elif arith.is_padding_pairs(padding) and len(padding) == 1:
        padding = tuple(padding) * nd  # one left:right pair applies to every axis
    q = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation,
         "mode": mode, "ceil_mode": ceil_mode}
    pool: dict[str, Any] = {"mode": mode, "ceil_mode": ceil_mode} if op == "pool" else {}
    if inverse is not None:
        return _inverse(op, nd, inverse, q, output_padding, pool)
    assert size is not None
    conv_stride = 1 if stride is None else stride
    opad: Any = output_padding
    if target is not None:
        opad = arith.output_padding_for(size, target, kernel, conv_stride, padding, dilation)
    if op == "conv":
        out = arith.conv_output_size(size, kernel, conv_stride, padding, dilation)
    elif op == "transposed":
        out = arith.conv_transpose_output_size(size, kernel, conv_stride, padding, dilation,
                                               opad)
    else:
        out = arith.pool_output_size(size, kernel, stride, padding, dilation, ceil_mode, mode)
    n = as_ints(size, nd, "size")
    geo = _geometry(op, nd, n, q)
    return ShapeResult(
        op=op, input=n, output=as_ints(out, nd, "output"),
        formula=tuple(_explain(op, size, q, opad)),
        headline=f"output_padding {_fmt(opad)}" if target is not None else _fmt(out),
        output_padding=as_ints(opad, nd, "output_padding") if op == "transposed" else None,
        target=None if target is None else as_ints(target, nd, "target"), **geo, **pool,
    )


def _inverse(
    op: arith.ExplainOp, nd: int, wanted: int | Ints, q: dict[str, Any], opad: Any,
    pool: dict[str, Any],
) -> ShapeResult:
    """The input sizes (per axis ``lo..hi``) whose output is ``wanted``, with both formulas."""
    kernel, stride, padding, dilation = q["kernel"], q["stride"], q["padding"], q["dilation"]
    conv_stride = 1 if stride is None else stride
    if op == "conv":
        ranges: Any = arith.conv_input_size_range(wanted, kernel, conv_stride, padding, dilation)
    elif op == "transposed":
        ranges = arith.conv_transpose_input_size_range(
            wanted, kernel, conv_stride, padding, dilation, opad)
    else:
        ranges = arith.pool_input_size_range(wanted, kernel, stride, padding, dilation,
                                             q["ceil_mode"], q["mode"])
    per_axis = tuple(ranges) if isinstance(ranges[0], tuple) else (ranges,)
    n_lo = as_ints(tuple(lo for lo, _ in per_axis), nd, "size")
    n_hi = as_ints(tuple(hi for _, hi in per_axis), nd, "size")
    op_lo = op_hi = opad
    if op == "transposed" and opad is None:  # show the output_padding each size needs
        op_lo = arith.output_padding_for(n_lo, wanted, kernel, conv_stride, padding, dilation)
        op_hi = arith.output_padding_for(n_hi, wanted, kernel, conv_stride, padding, dilation)
    low, high = _explain(op, n_lo, q, op_lo), _explain(op, n_hi, q, op_hi)
    names = arith.axis_names(nd)
    lines = []
    for a, (lo, hi) in enumerate(per_axis):
        lines.append(f"{names[a]}_in = {lo}" if lo == hi else f"{names[a]}_in = {lo}..{hi}")
        lines.append(f"  {low[a]}")
        if hi != lo:
            lines.append(f"  {high[a]}")
    geo = _geometry(op, nd, n_lo, q)
    if isinstance(padding, str):  # 'same' resolves differently for each input size
        geo["padding"] = padding
    if all(lo == hi for lo, hi in per_axis):
        headline = "x".join(str(lo) for lo, _ in per_axis)
    else:
        headline = " x ".join(f"{lo}..{hi}" if lo != hi else str(lo) for lo, hi in per_axis)
    return ShapeResult(
        op=op, output=as_ints(wanted, nd, "output"), input_range=per_axis,
        formula=tuple(lines), headline=headline,
        output_padding=("any" if opad is None else as_ints(opad, nd, "output_padding"))
        if op == "transposed" else None, **geo, **pool,
    )
