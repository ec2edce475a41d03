"""Pooling: PyTorch's rules, checked in one place, output sizes and inverses.

:func:`pool_params` is the one check of a pooling's own values (mode, kernel, stride, padding,
dilation) with one message per rule; :class:`atrous.layers.Pool`, the spec grammar (which builds
that layer), :func:`atrous.arith.pool_output_size` and the drawings all go through it, so the same
bad pooling is refused with the same words whichever way it came in. Private: import the public
functions from :mod:`atrous.arith`.
"""

from __future__ import annotations

from typing import Any

from ._arith_base import PoolMode, at_axis, check_choice, padding_shape, scalar_call, symmetric
from ._types import IntOrTuple, Ints, as_bool, as_ints, infer_ndim, unwrap
from .errors import AtrousError

__all__ = ["pool_args", "pool_axis", "pool_input_size_range", "pool_output_size", "pool_params"]

def pool_params(
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    mode: Any,
    ndim: int,
    scalar: bool,
) -> tuple[Ints, Ints, Ints, Ints]:
    """Check a pooling's own values against PyTorch's rules: ``(kernel, stride, padding,
    dilation)`` per axis, the stride defaulting to the kernel.

    The rules, each with one message: ``mode`` is ``"max"`` or ``"avg"``; kernel, stride and
    dilation are ints >= 1; padding is symmetric (an int or one per axis, >= 0) and at most half
    the kernel; average pooling has no dilation. ``scalar`` (every value an int, none per-axis)
    leaves the axis name out of the messages, as the output-size functions do.

    >>> pool_params(3, None, 1, 1, "max", 2, False)
    ((3, 3), (3, 3), (1, 1), (1, 1))
    >>> pool_params((3, 3), 1, (1, 2), 1, "avg", 2, False)
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: pooling padding must be at most half the kernel (axis W):
    padding 2 > 3//2 = 1
    """
    check_choice(mode, PoolMode, "pool mode")
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1) if stride is not None else k
    p = symmetric(padding, ndim, "pooling")
    d = as_ints(dilation, ndim, "dilation", 1)
    if mode == "avg" and any(v != 1 for v in d):
        shown = d[0] if len(set(d)) == 1 else d  # "got 2" also when a caller passed (2, 2)
        raise AtrousError(f"average pooling has no dilation: dilation must be 1, got {shown}")
    for axis in range(ndim):
        if p[axis] > k[axis] // 2:
            raise AtrousError(
                f"pooling padding must be at most half the kernel{at_axis(axis, ndim, scalar)}: "
                f"padding {p[axis]} > {k[axis]}//2 = {k[axis] // 2}"
            )
    return k, s, p, d


def pool_args(
    size: Any,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    mode: Any,
    size_name: str = "size",
) -> tuple[int, bool, Ints, Ints, Ints, Ints, Ints]:
    """Validate a pooling with its input (or output) size: (ndim, scalar, n, k, s, p, d)."""
    check_choice(mode, PoolMode, "pool mode")  # before the sizes are read, as it always was
    pad_shape = padding_shape(padding)
    ndim = infer_ndim(size, kernel, stride, pad_shape, dilation, default=1) or 1
    scalar = scalar_call(size, kernel, stride, pad_shape, dilation)
    n = as_ints(size, ndim, size_name, 1)
    k, s, p, d = pool_params(kernel, stride, padding, dilation, mode, ndim, scalar)
    return ndim, scalar, n, k, s, p, d


def pool_axis(
    n: int, k: int, s: int, p: int, d: int, ceil_mode: bool, avg3d: bool, at: str
) -> tuple[int, bool]:
    """PyTorch's ``pooling_output_shape``: (output, whether the last-window rule dropped one)."""
    if avg3d and n < k:
        raise AtrousError(
            f"AvgPool3d needs an input at least as large as the kernel{at}: input {n} < "
            f"kernel {k} (PyTorch checks this before padding)"
        )
    keff = d * (k - 1) + 1
    numerator = n + 2 * p - keff + ((s - 1) if ceil_mode else 0)
    o = numerator // s + 1
    dropped = False
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
        dropped = True
    if o < 1:
        raise AtrousError(
            f"pooling output size would be {o} (< 1){at}: input {n} + padding 2*{p} = "
            f"{n + 2 * p} is smaller than the effective kernel {keff} = {d}*({k}-1)+1"
        )
    return o, dropped


def pool_output_size(
    size: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    mode: PoolMode = "max",
) -> Any:
    """Output size of max/avg pooling, PyTorch's rules exactly.

    ``out = floor((size + 2p - d*(k-1) - 1)/s) + 1`` (``ceil`` with ``ceil_mode``); ``stride``
    defaults to ``kernel``; ``padding`` must be at most half the kernel; with ``ceil_mode`` the
    last window must start inside the input or the left padding, else PyTorch drops it.

    Args:
        size: input size per axis.
        kernel: window size per axis.
        stride: stride per axis; ``None`` means the kernel size.
        padding: symmetric padding per axis, at most ``kernel // 2``.
        dilation: dilation per axis (max pooling only).
        ceil_mode: round the output up, PyTorch's ``ceil_mode``.
        mode: ``"max"`` or ``"avg"``. Average pooling has no dilation, and PyTorch's AvgPool3d
            also requires the unpadded input to be at least the kernel size.

    Returns:
        The output size, in the form of the arguments.

    Raises:
        AtrousError: where PyTorch raises (bad values, padding over half the kernel, output < 1).

    >>> pool_output_size(112, 3, 2, 1)
    56
    >>> pool_output_size(5, 2, ceil_mode=True)
    3
    >>> pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True)   # last-window rule
    3

    The mode matters: ``F.avg_pool3d`` refuses an input smaller than the kernel on any axis
    (padding not counted), ``F.max_pool3d`` takes it:

    >>> pool_output_size((7, 4, 7), (2, 5, 1), (4, 2, 3), (1, 0, 0), ceil_mode=True)
    (2, 1, 3)
    >>> pool_output_size((7, 4, 7), (2, 5, 1), (4, 2, 3), (1, 0, 0), ceil_mode=True, mode="avg")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: AvgPool3d needs an input at least as large as the kernel (axis H):
    input 4 < kernel 5 (PyTorch checks this before padding)

    ``F.lp_pool*d`` is ``avg`` pooling with padding 0.
    """
    ceil_mode = as_bool(ceil_mode, "ceil_mode")
    ndim, scalar, n, k, s, p, d = pool_args(size, kernel, stride, padding, dilation, mode)
    avg3d = mode == "avg" and ndim == 3
    out = tuple(
        pool_axis(n[a], k[a], s[a], p[a], d[a], ceil_mode, avg3d, at_axis(a, ndim, scalar))[0]
        for a in range(ndim)
    )
    return unwrap(out, scalar)


def pool_input_size_range(
    output: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    mode: PoolMode = "max",
) -> Any:
    """The input sizes ``(min, max)`` for which pooling gives ``output``.

    PyTorch's pooling output (last-window rule included) is
    ``floor((n + c)/s) + 1`` with ``c = 2p - d*(k-1) - 1`` without ``ceil_mode`` and
    ``c = min(2p - d*(k-1) - 1 + s - 1, p - 1)`` with it, so ``n`` runs from
    ``(out-1)*s - c`` to ``out*s - 1 - c``.

    Args:
        output: the requested output size per axis.
        kernel, stride, padding, dilation, ceil_mode, mode: the pooling, as in
            :func:`pool_output_size`.

    Returns:
        ``(min, max)`` for a scalar call, else a tuple of such pairs, one per axis.

    Raises:
        AtrousError: no input size gives that output, or the pooling itself is invalid.

    >>> pool_input_size_range(56, 3, 2, 1)
    (111, 112)
    >>> pool_input_size_range(3, 2, ceil_mode=True)
    (5, 6)
    """
    ceil_mode = as_bool(ceil_mode, "ceil_mode")
    ndim, scalar, o, k, s, p, d = pool_args(
        output, kernel, stride, padding, dilation, mode, "output"
    )
    out = []
    for a in range(ndim):
        keff = d[a] * (k[a] - 1) + 1
        c = 2 * p[a] - keff
        if ceil_mode:
            c = min(c + s[a] - 1, p[a] - 1)
        lo = max((o[a] - 1) * s[a] - c, 1)
        if mode == "avg" and ndim == 3:
            lo = max(lo, k[a])
        hi = o[a] * s[a] - 1 - c
        if lo > hi:
            first = max(1, k[a] if mode == "avg" and ndim == 3 else 1, -c)
            raise AtrousError(
                f"no input size gives pooling output {o[a]}{at_axis(a, ndim, scalar)}: the "
                f"smallest valid input, {first}, already gives {(first + c) // s[a] + 1}"
            )
        out.append((lo, hi))
    return out[0] if scalar else tuple(out)
