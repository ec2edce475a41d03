"""Convolution and transposed-convolution sizes, padding and inverses (PyTorch's rules).

Private: import these from :mod:`atrous.arith`, which documents the forms every function takes.
"""

from __future__ import annotations

from typing import Any

from ._arith_base import (
    PaddingArg,
    at_axis,
    ceil_div,
    is_padding_pairs,
    padding_shape,
    scalar_call,
    symmetric,
)
from ._types import IntOrTuple, Ints, Pairs, as_int, as_ints, infer_ndim, unwrap
from .errors import AtrousError

__all__ = [
    "check_output_padding",
    "conv_args",
    "conv_axis",
    "conv_input_size_range",
    "conv_output_size",
    "conv_transpose_input_size_range",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "normalize_padding",
    "output_padding_for",
    "same_padding",
    "transpose_args",
    "transpose_base",
    "transpose_formula",
]

# --------------------------------------------------------------------------- kernel and padding


def effective_kernel_size(kernel: IntOrTuple, dilation: IntOrTuple = 1) -> Any:
    """The extent a dilated kernel spans: ``d*(k-1)+1`` per axis.

    Args:
        kernel: kernel size, an int or a per-axis tuple (each >= 1).
        dilation: dilation rate, an int or a per-axis tuple (each >= 1).

    Returns:
        The effective kernel size, in the form of the arguments.

    >>> effective_kernel_size(3, 2)
    5
    >>> effective_kernel_size((3, 5), (6, 1))
    (13, 5)
    """
    ndim = infer_ndim(kernel, dilation, default=1) or 1
    k = as_ints(kernel, ndim, "kernel", 1)
    d = as_ints(dilation, ndim, "dilation", 1)
    return unwrap(tuple(di * (ki - 1) + 1 for ki, di in zip(k, d)), scalar_call(kernel, dilation))


def same_padding(
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    size: IntOrTuple | None = None,
) -> Any:
    """Per-axis ``(left, right)`` padding that makes ``output = ceil(size / stride)``.

    The total is ``max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0)``; with stride 1 that is
    ``d*(k-1)`` whatever the size, so ``size`` is needed only when a stride is > 1. The total is
    split symmetrically where it is even, otherwise TensorFlow's and PyTorch's way: the extra
    pixel on the right. Correct for even kernels, unlike the common ``(k-1)//2*d``.

    Args:
        kernel: kernel size per axis.
        stride: stride per axis.
        dilation: dilation per axis.
        size: input size per axis (required when a stride is > 1).

    Returns:
        ``(left, right)`` for a scalar call, else a tuple of pairs, one per axis.

    >>> same_padding(3, dilation=2)
    (2, 2)
    >>> same_padding(4)
    (1, 2)
    >>> same_padding((3, 3), stride=2, size=(64, 63))
    ((0, 1), (1, 1))
    """
    ndim = infer_ndim(kernel, stride, dilation, size, default=1) or 1
    scalar = scalar_call(kernel, stride, dilation, size)
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
            out = ceil_div(n[axis], s[axis])
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
    >>> normalize_padding("same", 1, kernel=(4,))
    ((1, 2),)
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * ndim
        if isinstance(padding, str) and padding == "same":
            if kernel is None:
                raise AtrousError("'same' padding needs the kernel size")
            pairs = same_padding(
                tuple(kernel), stride or (1,) * ndim, dilation or (1,) * ndim, size
            )
            return tuple((int(left), int(right)) for left, right in pairs)
        raise AtrousError(
            f"padding must be an int, a tuple, (left, right) pairs, 'valid' or 'same', "
            f"got {padding!r}"
        )
    if is_padding_pairs(padding):
        if len(padding) != ndim:  # type: ignore[arg-type]
            raise AtrousError(
                f"padding must have {ndim} (left, right) pairs (one per axis), got {padding!r}"
            )
        out = []
        for pair in padding:  # type: ignore[union-attr]
            if len(pair) != 2:  # type: ignore[arg-type]
                raise AtrousError(f"each padding pair must be (left, right), got {pair!r}")
            out.append((as_int(pair[0], "padding", 0), as_int(pair[1], "padding", 0)))  # type: ignore[index]
        return tuple(out)
    p = as_ints(padding, ndim, "padding", 0)
    return tuple((v, v) for v in p)


# --------------------------------------------------------------------------- forward sizes


def conv_args(
    size: Any, kernel: Any, stride: Any, padding: Any, dilation: Any, size_name: str = "size"
) -> tuple[int, bool, Ints, Ints, Ints, Pairs, Ints]:
    """Validate conv arguments: (ndim, scalar, n, k, s, pads, d)."""
    pad_shape = padding_shape(padding)
    base_ndim = infer_ndim(size, kernel, stride, dilation)
    scalar = base_ndim is None and infer_ndim(pad_shape) is None
    if base_ndim is not None and is_padding_pairs(padding):
        ndim = base_ndim  # normalize_padding counts the pairs, with a clearer message
    else:
        ndim = infer_ndim(size, kernel, stride, dilation, pad_shape, default=1) or 1
    n = as_ints(size, ndim, size_name, 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1)
    d = as_ints(dilation, ndim, "dilation", 1)
    pads = normalize_padding(padding, ndim, k, s, d, n)
    return ndim, scalar, n, k, s, pads, d


def conv_axis(n: int, k: int, s: int, pad: tuple[int, int], d: int, at: str) -> int:
    keff = d * (k - 1) + 1
    padded = n + pad[0] + pad[1]
    if padded < keff:
        raise AtrousError(
            f"output size would be {(padded - keff) // s + 1} (< 1){at}: input {n} + padding "
            f"{pad[0] + pad[1]} = {padded} is smaller than the effective kernel "
            f"{keff} = {d}*({k}-1)+1"
        )
    return (padded - keff) // s + 1


def conv_output_size(
    size: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
) -> Any:
    """Output size of a (dilated) convolution, PyTorch's rule.

    ``out = floor((size + left + right - d*(k-1) - 1) / s) + 1``; with symmetric padding ``p``
    that is the familiar ``floor((size + 2p - d(k-1) - 1)/s) + 1``. ``padding="same"`` means
    ``out = ceil(size/s)`` (TensorFlow's meaning; PyTorch's for stride 1, where PyTorch itself
    refuses strides > 1).

    Args:
        size: input size per axis.
        kernel: kernel size per axis.
        stride: stride per axis.
        padding: an int, a per-axis tuple, per-axis ``(left, right)`` pairs, ``"valid"`` or
            ``"same"``.
        dilation: dilation per axis.

    Returns:
        The output size, in the form of the arguments.

    Raises:
        AtrousError: a value is not an int >= its minimum, or the padded input is smaller than
            the effective kernel (PyTorch raises there too).

    >>> conv_output_size(64, 3, dilation=2)          # 64x64, 3x3 at dilation 2, no padding
    60
    >>> conv_output_size(64, 3, padding=2, dilation=2)   # padding = dilation keeps the size
    64
    >>> conv_output_size((7, 9, 11), 3, stride=(1, 2, 3), padding=((0, 1), (1, 1), (2, 0)))
    (6, 5, 4)
    """
    ndim, scalar, n, k, s, pads, d = conv_args(size, kernel, stride, padding, dilation)
    out = tuple(
        conv_axis(n[a], k[a], s[a], pads[a], d[a], at_axis(a, ndim, scalar)) for a in range(ndim)
    )
    return unwrap(out, scalar)


def transpose_args(
    size: Any,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    output_padding: Any,
    size_name: str = "size",
    any_op: bool = False,
) -> tuple[int, bool, Ints, Ints, Ints, Ints, Ints, Ints | None]:
    """Validate transposed-conv arguments: (ndim, scalar, n, k, s, p, d, op).

    ``op`` is None only where ``any_op`` allows ``output_padding=None`` ("any legal value").
    """
    pad_shape = padding_shape(padding)
    ndim = infer_ndim(size, kernel, stride, pad_shape, dilation, output_padding, default=1) or 1
    scalar = scalar_call(size, kernel, stride, pad_shape, dilation, output_padding)
    n = as_ints(size, ndim, size_name, 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1)
    p = symmetric(padding, ndim, "transposed-conv")
    d = as_ints(dilation, ndim, "dilation", 1)
    op = None
    if output_padding is not None or not any_op:
        op = check_output_padding(as_ints(output_padding, ndim, "output_padding", 0), s, d,
                                  scalar)
    return ndim, scalar, n, k, s, p, d, op


def check_output_padding(op: Ints, s: Ints, d: Ints, scalar: bool) -> Ints:
    """PyTorch's rule for a transposed convolution: ``output_padding`` smaller than the stride
    or the dilation on every axis (the one check, for :mod:`atrous.arith` and
    :class:`atrous.ConvTranspose`); returns ``op``. ``scalar`` leaves the axis name out.

    >>> check_output_padding((1, 2), (2, 2), (1, 1), False)
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: output_padding must be smaller than the stride or the dilation
    (axis W): output_padding 2 >= max(stride 2, dilation 1)
    """
    ndim = len(op)
    for axis in range(ndim):
        if op[axis] >= max(s[axis], d[axis]):
            raise AtrousError(
                f"output_padding must be smaller than the stride or the dilation"
                f"{at_axis(axis, ndim, scalar)}: output_padding {op[axis]} >= "
                f"max(stride {s[axis]}, dilation {d[axis]})"
            )
    return op


def transpose_base(n: int, k: int, s: int, p: int, d: int) -> int:
    """Transposed-conv output without output_padding."""
    return (n - 1) * s - 2 * p + d * (k - 1) + 1


def transpose_formula(n: int, k: int, s: int, p: int, d: int, op: int | None = None) -> str:
    """:func:`transpose_base` (plus ``op``, the output_padding, where given) written out, the
    text that :func:`atrous.arith.explain` and the error messages show.

    >>> transpose_formula(32, 4, 2, 1, 1, 0)
    '(32-1)*2 - 2*1 + 1*(4-1) + 0 + 1'
    """
    extra = "" if op is None else f" + {op}"
    return f"({n}-1)*{s} - 2*{p} + {d}*({k}-1){extra} + 1"


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

    Args:
        size: input size per axis.
        kernel: kernel size per axis.
        stride: stride per axis.
        padding: symmetric padding per axis (PyTorch's ``padding`` of ``ConvTranspose``).
        dilation: dilation per axis.
        output_padding: extra size on one side per axis, ``< max(stride, dilation)``.

    Returns:
        The output size, in the form of the arguments.

    Raises:
        AtrousError: where PyTorch raises (bad values, output_padding too large, output < 1).

    >>> conv_transpose_output_size(32, 4, stride=2, padding=1)
    64
    >>> conv_transpose_output_size(7, 3, stride=2, padding=1, output_padding=1)
    14
    """
    ndim, scalar, n, k, s, p, d, op = transpose_args(
        size, kernel, stride, padding, dilation, output_padding
    )
    assert op is not None  # output_padding is never None here
    out = []
    for a in range(ndim):
        o = transpose_base(n[a], k[a], s[a], p[a], d[a]) + op[a]
        if o < 1:
            raise AtrousError(
                f"transposed-conv output size would be {o} (< 1){at_axis(a, ndim, scalar)}: "
                f"{transpose_formula(n[a], k[a], s[a], p[a], d[a], op[a])} = {o}; "
                f"padding {p[a]} is too large"
            )
        out.append(o)
    return unwrap(tuple(out), scalar)


def output_padding_for(
    size: IntOrTuple,
    target: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> Any:
    """The ``output_padding`` that makes a transposed convolution reach ``target``.

    The output without it is ``base = (size-1)*s - 2p + d*(k-1) + 1``; the answer is
    ``target - base``, which PyTorch accepts when it is ``>= 0`` and ``< max(stride, dilation)``.

    Args:
        size: input size per axis.
        target: the requested output size per axis.
        kernel, stride, padding, dilation: the transposed convolution, as in
            :func:`conv_transpose_output_size`.

    Returns:
        The output_padding, in the form of the arguments.

    Raises:
        AtrousError: no output_padding reaches the target: it is below ``base`` (too small) or
            would need ``output_padding >= max(stride, dilation)`` (too large).

    >>> output_padding_for(7, 14, kernel=3, stride=2, padding=1)
    1
    >>> output_padding_for((32, 31), (64, 62), kernel=4, stride=2, padding=1)
    (0, 0)
    >>> output_padding_for(7, 15, kernel=3, stride=2, padding=1)
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: target 15 is too large: it needs output_padding 2, but
    output_padding must be smaller than max(stride 2, dilation 1) = 2; reachable outputs are 13..14
    """
    pad_shape = padding_shape(padding)
    ndim = infer_ndim(size, target, kernel, stride, pad_shape, dilation, default=1) or 1
    scalar = scalar_call(size, target, kernel, stride, pad_shape, dilation)
    t = as_ints(target, ndim, "target", 1)
    _, _, n, k, s, p, d, _ = transpose_args(
        as_ints(size, ndim, "size", 1), kernel, stride, padding, dilation, None, any_op=True
    )
    out = []
    for a in range(ndim):
        base = transpose_base(n[a], k[a], s[a], p[a], d[a])
        limit = max(s[a], d[a])
        op = t[a] - base
        where = at_axis(a, ndim, scalar)
        if op < 0:
            raise AtrousError(
                f"target {t[a]} is too small{where}: without output_padding the layer already "
                f"gives {transpose_formula(n[a], k[a], s[a], p[a], d[a])} = {base}, and "
                f"output_padding only adds"
            )
        if op >= limit:
            reach = (
                f"reachable outputs are {max(base, 1)}..{base + limit - 1}"
                if base + limit - 1 >= 1
                else "no legal output_padding makes the output >= 1"
            )
            raise AtrousError(
                f"target {t[a]} is too large{where}: it needs output_padding {op}, but "
                f"output_padding must be smaller than max(stride {s[a]}, dilation {d[a]}) = "
                f"{limit}; {reach}"
            )
        out.append(op)
    return unwrap(tuple(out), scalar)


# --------------------------------------------------------------------------- inverse questions


def conv_input_size_range(
    output: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
) -> Any:
    """The input sizes ``(min, max)`` for which a convolution gives ``output``.

    From ``out = floor((n + l + r - d*(k-1) - 1)/s) + 1``:
    ``n`` runs from ``(out-1)*s + d*(k-1) + 1 - (l+r)`` to that plus ``s-1`` (and ``n >= 1``).
    With ``padding="same"`` (``out = ceil(n/s)``) it runs from ``(out-1)*s + 1`` to ``out*s``.

    Args:
        output: the requested output size per axis.
        kernel, stride, padding, dilation: the convolution, as in :func:`conv_output_size`.

    Returns:
        ``(min, max)`` for a scalar call, else a tuple of such pairs, one per axis.

    Raises:
        AtrousError: no input size gives that output (the padding alone makes every output
            larger), or a value is invalid.

    >>> conv_input_size_range(60, 3, dilation=2)
    (64, 64)
    >>> conv_input_size_range((64, 48), 3, stride=2, padding=1)
    ((127, 128), (95, 96))
    >>> conv_input_size_range(32, 3, stride=2, padding="same")
    (63, 64)
    """
    # the padding may say how many axes there are, unless it is a string
    pad = 0 if isinstance(padding, str) else padding
    ndim, scalar, o, k, s, _, d = conv_args(output, kernel, stride, pad, dilation, "output")
    out = []
    if isinstance(padding, str) and padding == "same":
        for a in range(ndim):
            out.append(((o[a] - 1) * s[a] + 1, o[a] * s[a]))
        return out[0] if scalar else tuple(out)
    pads = normalize_padding(padding, ndim, k, s, d)
    for a in range(ndim):
        keff = d[a] * (k[a] - 1) + 1
        c = pads[a][0] + pads[a][1] - keff  # out = floor((n + c)/s) + 1
        lo = max((o[a] - 1) * s[a] - c, 1)
        hi = o[a] * s[a] - 1 - c
        if lo > hi:  # only when even input 1 gives more than o (so 1 + c >= 0)
            raise AtrousError(
                f"no input size gives conv output {o[a]}{at_axis(a, ndim, scalar)}: the smallest "
                f"input, 1, already gives {(1 + c) // s[a] + 1} (padding {sum(pads[a])} "
                f"outweighs the effective kernel {keff})"
            )
        out.append((lo, hi))
    return out[0] if scalar else tuple(out)


def conv_transpose_input_size_range(
    output: IntOrTuple,
    kernel: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    output_padding: IntOrTuple | None = 0,
) -> Any:
    """The input sizes ``(min, max)`` for which a transposed convolution gives ``output``.

    With a fixed ``output_padding`` at most one input size works, so the range is ``(n, n)``;
    with ``output_padding=None`` every legal output_padding (``0 <= op < max(s, d)``) is
    allowed and the range can hold several sizes (find the op with :func:`output_padding_for`).

    Args:
        output: the requested output size per axis.
        kernel, stride, padding, dilation: the transposed convolution.
        output_padding: fixed output_padding per axis, or ``None`` for "any legal value".

    Returns:
        ``(min, max)`` for a scalar call, else a tuple of such pairs, one per axis.

    Raises:
        AtrousError: no input size gives that output (the stride skips it), or a value is
            invalid.

    >>> conv_transpose_input_size_range(64, 4, stride=2, padding=1)
    (32, 32)
    >>> conv_transpose_input_size_range(63, 4, stride=2, padding=1, output_padding=None)
    (31, 31)
    >>> conv_transpose_input_size_range(8, 3, stride=1, dilation=3, output_padding=None)
    (1, 2)
    """
    ndim, scalar, o, k, s, p, d, op = transpose_args(
        output, kernel, stride, padding, dilation, output_padding, "output", any_op=True
    )
    out = []
    for a in range(ndim):
        base1 = transpose_base(1, k[a], s[a], p[a], d[a])  # output of input 1, op 0
        extra_lo, extra_hi = (op[a], op[a]) if op is not None else (0, max(s[a], d[a]) - 1)
        # (n-1)*s + base1 + extra = o  for some extra in [extra_lo, extra_hi]
        lo = max(ceil_div(o[a] - base1 - extra_hi, s[a]), 0) + 1
        hi = (o[a] - base1 - extra_lo) // s[a] + 1
        where = at_axis(a, ndim, scalar)
        if lo > hi:
            if hi < 1:
                why = f"the smallest input, 1, already gives {base1 + extra_lo}"
            else:
                got_lo = transpose_base(hi, k[a], s[a], p[a], d[a]) + extra_hi
                got_hi = transpose_base(hi + 1, k[a], s[a], p[a], d[a]) + extra_lo
                opname = f"output_padding {op[a]}" if op is not None else "any output_padding"
                why = (
                    f"with {opname}, input {hi} gives at most {got_lo} and input {hi + 1} "
                    f"at least {got_hi} (stride {s[a]})"
                )
                need = o[a] - transpose_base(hi, k[a], s[a], p[a], d[a])
                if op is not None and 0 <= need < max(s[a], d[a]):
                    why += f"; output_padding {need} would reach it from input {hi}"
            raise AtrousError(f"no input size gives transposed-conv output {o[a]}{where}: {why}")
        out.append((lo, hi))
    return out[0] if scalar else tuple(out)
