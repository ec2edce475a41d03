"""Worked formulas: :func:`explain`, one line per axis in the textbook form.

Private: import :func:`explain` from :mod:`atrous.arith`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._arith_base import ExplainOp, PaddingArg, PoolMode, at_axis, axis_names, check_choice
from ._arith_conv import (
    conv_args,
    conv_axis,
    conv_transpose_output_size,
    transpose_args,
    transpose_formula,
)
from ._arith_pool import pool_args, pool_axis
from ._types import IntOrTuple, as_bool
from .errors import AtrousError

__all__ = ["explain"]



def _pad_term(pad: tuple[int, int]) -> str:
    left, right = pad
    return f"2*{left}" if left == right else f"({left} + {right})"


def explain(
    op: ExplainOp,
    size: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    *,
    output_padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    mode: PoolMode = "max",
) -> str:
    """The worked formula, one line per axis, in the textbook form (``floor(...) + 1``).

    Axes are named ``L`` (1-D), ``H, W`` (2-D) or ``D, H, W`` (3-D). Asymmetric padding shows as
    ``(left + right)``; ``"same"`` shows the padding it resolves to. Pooling in ``ceil_mode``
    shows ``ceil`` and, where it applies, PyTorch's rule that drops a last window starting
    past the input and its left padding.

    Args:
        op: ``"conv"``, ``"transposed"`` or ``"pool"``.
        size: input size per axis.
        kernel: kernel size per axis.
        stride: stride per axis; ``None`` means 1 (conv, transposed) or the kernel (pool).
        padding: as the matching ``*_output_size`` function accepts it.
        dilation: dilation per axis.
        output_padding: transposed convolution only.
        ceil_mode: pooling only.
        mode: pooling only, ``"max"`` or ``"avg"``.

    Returns:
        The formula text, lines joined by ``"\\n"``.

    Raises:
        AtrousError: the configuration is invalid (the same cases as the output-size functions)
            or an option does not apply to ``op``.

    >>> print(explain("conv", 64, 3, dilation=2))
    L_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60
    >>> print(explain("conv", (64, 48), 2, padding="same"))
    H_out = floor((64 + (0 + 1) - 1*(2-1) - 1)/1) + 1 = 64
    W_out = floor((48 + (0 + 1) - 1*(2-1) - 1)/1) + 1 = 48
    >>> print(explain("transposed", 32, 4, stride=2, padding=1))
    L_out = (32-1)*2 - 2*1 + 1*(4-1) + 0 + 1 = 64
    >>> print(explain("pool", 5, 2, stride=2, padding=1, ceil_mode=True))
    L_out = ceil((5 + 2*1 - 1*(2-1) - 1)/2) + 1 - 1 = 3  (PyTorch's last-window rule: window 4
    would start at (4-1)*2 = 6 >= 5 + 1, past the input and its left padding, so it is dropped)
    """
    check_choice(op, ExplainOp, "op")
    ceil_mode = as_bool(ceil_mode, "ceil_mode")
    _check_explain_options(op, ceil_mode, mode, output_padding)
    if op == "pool":
        lines = _explain_pool(size, kernel, stride, padding, dilation, ceil_mode, mode)
    else:
        st = 1 if stride is None else stride  # a convolution's stride defaults to 1
        if op == "conv":
            lines = _explain_conv(size, kernel, st, padding, dilation)
        else:
            lines = _explain_transposed(size, kernel, st, padding, dilation, output_padding)
    return "\n".join(lines)


def _check_explain_options(
    op: str, ceil_mode: bool, mode: PoolMode, output_padding: IntOrTuple
) -> None:
    """Refuse the options of :func:`explain` that do not apply to ``op``."""
    if op != "pool" and ceil_mode:
        raise AtrousError(f"ceil_mode applies to pooling only, got ceil_mode=True with op={op!r}")
    if op != "pool" and mode != "max":
        raise AtrousError(f"mode applies to pooling only, got mode={mode!r} with op={op!r}")
    op_values = (
        output_padding
        if isinstance(output_padding, Sequence) and not isinstance(output_padding, str)
        else [output_padding]
    )
    if op != "transposed" and any(v != 0 for v in op_values):
        raise AtrousError(
            f"output_padding applies to transposed convolution only, got "
            f"output_padding={output_padding!r} with op={op!r}"
        )


def _explain_conv(
    size: IntOrTuple, kernel: IntOrTuple, stride: IntOrTuple, padding: PaddingArg,
    dilation: IntOrTuple,
) -> list[str]:
    """:func:`explain`'s lines for a convolution."""
    ndim, _, n, k, s, pads, d = conv_args(size, kernel, stride, padding, dilation)
    names = axis_names(ndim)
    lines = []
    for a in range(ndim):
        o = conv_axis(n[a], k[a], s[a], pads[a], d[a], at_axis(a, ndim, False))
        lines.append(
            f"{names[a]}_out = floor(({n[a]} + {_pad_term(pads[a])} - {d[a]}*({k[a]}-1) - 1)"
            f"/{s[a]}) + 1 = {o}"
        )
    return lines


def _explain_transposed(
    size: IntOrTuple, kernel: IntOrTuple, stride: IntOrTuple, padding: PaddingArg,
    dilation: IntOrTuple, output_padding: IntOrTuple,
) -> list[str]:
    """:func:`explain`'s lines for a transposed convolution."""
    ndim, _, n, k, s, p, d, opad = transpose_args(
        size, kernel, stride, padding, dilation, output_padding
    )
    assert opad is not None  # output_padding is never None here
    outs = conv_transpose_output_size(n, k, s, p, d, opad)
    names = axis_names(ndim)
    lines = []
    for a in range(ndim):
        lines.append(
            f"{names[a]}_out = {transpose_formula(n[a], k[a], s[a], p[a], d[a], opad[a])} = "
            f"{outs[a]}"
        )
    return lines


def _explain_pool(
    size: IntOrTuple, kernel: IntOrTuple, stride: IntOrTuple | None, padding: PaddingArg,
    dilation: IntOrTuple, ceil_mode: bool, mode: PoolMode,
) -> list[str]:
    """:func:`explain`'s lines for a pool, with PyTorch's last-window rule where it applies."""
    ndim, _, n, k, s, p, d = pool_args(size, kernel, stride, padding, dilation, mode)
    names = axis_names(ndim)
    rounding = "ceil" if ceil_mode else "floor"
    lines = []
    for a in range(ndim):
        o, dropped = pool_axis(
            n[a], k[a], s[a], p[a], d[a], ceil_mode, mode == "avg" and ndim == 3,
            at_axis(a, ndim, False),
        )
        head = (
            f"{names[a]}_out = {rounding}(({n[a]} + 2*{p[a]} - {d[a]}*({k[a]}-1) - 1)"
            f"/{s[a]}) + 1"
        )
        if dropped:
            last = o + 1
            lines.append(
                f"{head} - 1 = {o}  (PyTorch's last-window rule: window {last} would start "
                f"at ({last}-1)*{s[a]} = {(last - 1) * s[a]} >= {n[a]} + {p[a]}, past the "
                f"input and its left padding, so it is dropped)"
            )
        else:
            lines.append(f"{head} = {o}")
    return lines
