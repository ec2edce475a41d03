"""Exact convolution arithmetic: output sizes, padding, inverses and worked formulas.

Every function takes an ``int`` (one axis, or the same value on every axis) or a per-axis tuple
(1-D, 2-D or 3-D) and returns the same form. The rules are PyTorch's, and where PyTorch raises
for a configuration these functions raise :class:`~atrous.errors.AtrousError` instead.

    >>> conv_output_size(64, kernel=3, dilation=2)
    60
    >>> conv_output_size((64, 48), kernel=3, stride=2, padding="same")
    (32, 24)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, Union

from ._types import IntOrTuple, Ints, Pairs, as_int, as_ints, infer_ndim, unwrap
from .errors import AtrousError

__all__ = [
    "PaddingArg",
    "conv_output_size",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "normalize_padding",
    "pool_output_size",
    "same_padding",
]

PaddingArg: TypeAlias = Union[
    int, Sequence[int], Sequence[Sequence[int]], Literal["valid", "same"]
]
"""Padding: an int, a per-axis tuple, per-axis ``(left, right)`` pairs, ``"valid"`` or ``"same"``."""


def _scalar_call(*values: Any) -> bool:
    return infer_ndim(*values) is None


def _is_pairs(padding: Any) -> bool:
    return (
        isinstance(padding, Sequence)
        and not isinstance(padding, (str, bytes))
        and len(padding) > 0
        and all(isinstance(p, Sequence) and not isinstance(p, (str, bytes)) for p in padding)
    )


def effective_kernel_size(kernel: IntOrTuple, dilation: IntOrTuple = 1) -> Any:
    """The extent a dilated kernel spans: ``d*(k-1)+1`` per axis.

    >>> effective_kernel_size(3, 2)
    5
    >>> effective_kernel_size((3, 5), (6, 1))
    (13, 5)
    """
    ndim = infer_ndim(kernel, dilation, default=1)
    assert ndim is not None
    k = as_ints(kernel, ndim, "kernel", 1)
    d = as_ints(dilation, ndim, "dilation", 1)
    return unwrap(tuple(di * (ki - 1) + 1 for ki, di in zip(k, d)), _scalar_call(kernel, dilation))


def same_padding(
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    size: IntOrTuple | None = None,
) -> Any:
    """Per-axis ``(left, right)`` padding that makes ``output = ceil(size / stride)``.

    Symmetric where the total is even, otherwise TensorFlow's split (the extra pixel on the right).
    With stride 1 the total is ``d*(k-1)`` and needs no input size; with stride > 1 it depends on
    the input size, which must then be given. Correct for even kernels, unlike the common
    ``(k-1)//2*d``.

    >>> same_padding(3, dilation=2)
    (2, 2)
    >>> same_padding(4)
    (1, 2)
    >>> same_padding((3, 3), stride=2, size=(64, 63))
    ((0, 1), (1, 1))
    """
    ndim = infer_ndim(kernel, stride, dilation, size, default=1)
    assert ndim is not None
    scalar = _scalar_call(kernel, stride, dilation, size)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1)
    d = as_ints(dilation, ndim, "dilation", 1)
    n = as_ints(size, ndim, "size", 1) if size is not None else None
    pairs = []
    for axis in range(ndim):
        keff = d[axis] * (k[axis] - 1) + 1
        if s[axis] == 1:
            total = keff - 1
        else:
            if n is None:
                raise AtrousError(
                    f"'same' padding with stride {s[axis]} > 1 depends on the input size: "
                    "pass size="
                )
            out = -(-n[axis] // s[axis])
            total = max((out - 1) * s[axis] + keff - n[axis], 0)
        pairs.append((total // 2, total - total // 2))
    return pairs[0] if scalar else tuple(pairs)


def normalize_padding(
    padding: PaddingArg,
    ndim: int,
    kernel: Ints | None = None,
    stride: Ints | None = None,
    dilation: Ints | None = None,
    size: Ints | None = None,
) -> Pairs:
    """Turn any accepted padding form into per-axis ``(left, right)`` pairs of ints >= 0.

    ``"same"`` needs ``kernel`` (and ``size`` when a stride is > 1).

    >>> normalize_padding(1, 2)
    ((1, 1), (1, 1))
    >>> normalize_padding(((0, 1), (2, 2)), 2)
    ((0, 1), (2, 2))
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if padding == "same":
            if kernel is None:
                raise AtrousError("'same' padding needs the kernel size")
            pairs = same_padding(
                kernel, stride or (1,) * ndim, dilation or (1,) * ndim, size
            )
            return tuple(tuple(p) for p in pairs)  # type: ignore[misc]
        raise AtrousError(f"padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    if _is_pairs(padding):
        assert isinstance(padding, Sequence)
        if len(padding) != ndim:
            raise AtrousError(
                f"padding must have {ndim} (left, right) pairs (one per axis), got {padding!r}"
            )
        out = []
        for pair in padding:
            assert isinstance(pair, Sequence)
            if len(pair) != 2:
                raise AtrousError(f"each padding pair must be (left, right), got {pair!r}")
            out.append((as_int(pair[0], "padding", 0), as_int(pair[1], "padding", 0)))
        return tuple(out)
    p = as_ints(padding, ndim, "padding", 0)
    return tuple((v, v) for v in p)


def conv_output_size(
    size: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
) -> Any:
    """Output size of a (dilated) convolution, PyTorch's rule.

    ``out = floor((size + left + right - d*(k-1) - 1) / s) + 1``; with symmetric padding ``p``
    that is the familiar ``floor((size + 2p - d(k-1) - 1)/s) + 1``.

    >>> conv_output_size(64, 3, dilation=2)          # the seeds' example
    60
    >>> conv_output_size(64, 3, padding=2, dilation=2)   # padding = dilation keeps the size
    64
    >>> conv_output_size((7, 9, 11), 3, stride=(1, 2, 3), padding=((0, 1), (1, 1), (2, 0)))
    (6, 5, 4)
    """
    pad_ndim = len(padding) if _is_pairs(padding) else None  # type: ignore[arg-type]
    ndim = infer_ndim(size, kernel, stride, dilation, default=pad_ndim or 1)
    if not _is_pairs(padding):
        ndim = infer_ndim(size, kernel, stride, dilation, padding, default=1)
    assert ndim is not None
    scalar = _scalar_call(size, kernel, stride, dilation) and (
        isinstance(padding, str) or _scalar_call(padding) and not _is_pairs(padding)
    )
    n = as_ints(size, ndim, "size", 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1)
    d = as_ints(dilation, ndim, "dilation", 1)
    pads = normalize_padding(padding, ndim, k, s, d, n)
    out = []
    for axis in range(ndim):
        keff = d[axis] * (k[axis] - 1) + 1
        padded = n[axis] + pads[axis][0] + pads[axis][1]
        if padded < keff:
            raise AtrousError(
                f"output size would be {(padded - keff) // s[axis] + 1} (< 1): input {n[axis]} "
                f"+ padding {pads[axis][0] + pads[axis][1]} is smaller than the effective kernel "
                f"{keff} = {d[axis]}*({k[axis]}-1)+1 (axis {axis})"
            )
        out.append((padded - keff) // s[axis] + 1)
    return unwrap(tuple(out), scalar)


def pool_output_size(
    size: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
) -> Any:
    """Output size of max/avg pooling, PyTorch's rules exactly.

    ``stride`` defaults to ``kernel``; ``padding`` must be at most half the kernel; with
    ``ceil_mode`` the output rounds up, except that the last window must start inside the input
    or the left padding.

    >>> pool_output_size(112, 3, 2, 1)
    56
    >>> pool_output_size(5, 2, ceil_mode=True)
    3
    >>> pool_output_size(6, 3, stride=2, padding=1, ceil_mode=True)
    4
    """
    ndim = infer_ndim(size, kernel, stride, padding, dilation, default=1)
    assert ndim is not None
    scalar = _scalar_call(size, kernel, stride, padding, dilation)
    n = as_ints(size, ndim, "size", 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1) if stride is not None else k
    p = as_ints(padding, ndim, "padding", 0)
    d = as_ints(dilation, ndim, "dilation", 1)
    out = []
    for axis in range(ndim):
        if p[axis] > k[axis] // 2:
            raise AtrousError(
                f"pooling padding must be at most half the kernel: padding {p[axis]} > "
                f"{k[axis]}//2 = {k[axis] // 2} (axis {axis})"
            )
        keff = d[axis] * (k[axis] - 1) + 1
        numerator = n[axis] + 2 * p[axis] - keff + ((s[axis] - 1) if ceil_mode else 0)
        o = math.floor(numerator / s[axis]) + 1
        if ceil_mode and (o - 1) * s[axis] >= n[axis] + p[axis]:
            o -= 1
        if o < 1:
            raise AtrousError(
                f"pooling output size would be {o} (< 1): input {n[axis]} + padding "
                f"2*{p[axis]} is smaller than the effective kernel {keff} (axis {axis})"
            )
        out.append(o)
    return unwrap(tuple(out), scalar)


def conv_transpose_output_size(
    size: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    output_padding: IntOrTuple = 0,
) -> Any:
    """Output size of a transposed convolution, PyTorch's rule.

    ``out = (size-1)*s - 2p + d*(k-1) + output_padding + 1``, with ``output_padding`` smaller than
    the stride or the dilation.

    >>> conv_transpose_output_size(32, 4, stride=2, padding=1)
    64
    >>> conv_transpose_output_size(7, 3, stride=2, padding=1, output_padding=1)
    14
    """
    ndim = infer_ndim(size, kernel, stride, padding, dilation, output_padding, default=1)
    assert ndim is not None
    scalar = _scalar_call(size, kernel, stride, padding, dilation, output_padding)
    n = as_ints(size, ndim, "size", 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1)
    p = as_ints(padding, ndim, "padding", 0)
    d = as_ints(dilation, ndim, "dilation", 1)
    op = as_ints(output_padding, ndim, "output_padding", 0)
    out = []
    for axis in range(ndim):
        if op[axis] >= max(s[axis], d[axis]):
            raise AtrousError(
                f"output_padding must be smaller than the stride or the dilation: "
                f"output_padding {op[axis]} >= max(stride {s[axis]}, dilation {d[axis]}) "
                f"(axis {axis})"
            )
        o = (n[axis] - 1) * s[axis] - 2 * p[axis] + d[axis] * (k[axis] - 1) + op[axis] + 1
        if o < 1:
            raise AtrousError(
                f"transposed-conv output size would be {o} (< 1): padding 2*{p[axis]} removes "
                f"more than the {o + 2 * p[axis]} pixels the layer produces (axis {axis})"
            )
        out.append(o)
    return unwrap(tuple(out), scalar)
