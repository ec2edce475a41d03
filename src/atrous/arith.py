"""Exact convolution arithmetic: output sizes, padding, inverses and worked formulas.

Every function takes an ``int`` (one axis, or the same value on every axis) or a per-axis tuple
(1-D, 2-D or 3-D) and returns the same form. The rules are PyTorch's, and where PyTorch raises
for a configuration these functions raise :class:`~atrous.errors.AtrousError` instead.

    >>> conv_output_size(64, kernel=3, dilation=2)
    60
    >>> conv_output_size((64, 48), kernel=3, stride=2, padding="same")
    (32, 24)
    >>> conv_input_size_range(60, kernel=3, dilation=2)
    (64, 64)
    >>> print(explain("conv", (64, 64), kernel=3, dilation=2))
    H_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60
    W_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = 60
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, get_args

from ._types import IntOrTuple, Ints, Pairs, as_bool, as_int, as_ints, infer_ndim, unwrap
from .errors import AtrousError

__all__ = [
    "ExplainOp",
    "PaddingArg",
    "PoolMode",
    "axis_names",
    "conv_input_size_range",
    "conv_output_size",
    "conv_transpose_input_size_range",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "explain",
    "normalize_padding",
    "output_padding_for",
    "pool_input_size_range",
    "pool_output_size",
    "same_padding",
]

PaddingArg: TypeAlias = (
    int | Sequence[int] | Sequence[Sequence[int]] | Literal["valid", "same"]
)
"""Padding: an int, a per-axis tuple, per-axis ``(left, right)`` pairs, ``"valid"``, ``"same"``."""

PoolMode: TypeAlias = Literal["max", "avg"]
"""Pooling flavour; it matters for two PyTorch rules (avg has no dilation; AvgPool3d's input)."""

ExplainOp: TypeAlias = Literal["conv", "transposed", "pool"]
"""The operation :func:`explain` works out."""


# --------------------------------------------------------------------------- helpers


def _scalar_call(*values: Any) -> bool:
    return infer_ndim(*values) is None


def _is_pairs(padding: Any) -> bool:
    return (
        isinstance(padding, Sequence)
        and not isinstance(padding, (str, bytes))
        and len(padding) > 0
        and all(isinstance(p, Sequence) and not isinstance(p, (str, bytes)) for p in padding)
    )


def _padding_shape(padding: Any) -> Any:
    """What ``padding`` says about the number of axes, in the form ``infer_ndim`` reads."""
    if isinstance(padding, str):
        return None
    if _is_pairs(padding):
        return tuple(0 for _ in padding)
    return padding


def _check_choice(value: Any, allowed: Any, name: str) -> None:
    choices = get_args(allowed)
    if not isinstance(value, str) or value not in choices:
        raise AtrousError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def axis_names(ndim: int) -> tuple[str, ...]:
    """The conventional axis letters: ``L`` for 1-D, ``H, W`` for 2-D, ``D, H, W`` for 3-D.

    >>> axis_names(2)
    ('H', 'W')
    """
    names = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
    if ndim not in names:
        raise AtrousError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    return names[ndim]


def _where(axis: int, ndim: int, scalar: bool) -> str:
    return "" if scalar else f" (axis {axis_names(ndim)[axis]})"


def _symmetric(padding: Any, ndim: int, what: str) -> Ints:
    """Padding for ops PyTorch pads symmetrically (pooling, transposed conv)."""
    if isinstance(padding, str) or _is_pairs(padding):
        raise AtrousError(
            f"{what} padding must be an int or a per-axis tuple of ints (PyTorch pads it "
            f"symmetrically), got {padding!r}"
        )
    return as_ints(padding, ndim, "padding", 0)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


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
    return unwrap(tuple(di * (ki - 1) + 1 for ki, di in zip(k, d)), _scalar_call(kernel, dilation))


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
            out = _ceil_div(n[axis], s[axis])
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
    if _is_pairs(padding):
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


def _conv_args(
    size: Any, kernel: Any, stride: Any, padding: Any, dilation: Any, size_name: str = "size"
) -> tuple[int, bool, Ints, Ints, Ints, Pairs, Ints]:
    """Validate conv arguments: (ndim, scalar, n, k, s, pads, d)."""
    pad_shape = _padding_shape(padding)
    base_ndim = infer_ndim(size, kernel, stride, dilation)
    scalar = base_ndim is None and infer_ndim(pad_shape) is None
    if base_ndim is not None and _is_pairs(padding):
        ndim = base_ndim  # normalize_padding counts the pairs, with a clearer message
    else:
        ndim = infer_ndim(size, kernel, stride, dilation, pad_shape, default=1) or 1
    n = as_ints(size, ndim, size_name, 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1)
    d = as_ints(dilation, ndim, "dilation", 1)
    pads = normalize_padding(padding, ndim, k, s, d, n)
    return ndim, scalar, n, k, s, pads, d


def _conv_axis(n: int, k: int, s: int, pad: tuple[int, int], d: int, where: str) -> int:
    keff = d * (k - 1) + 1
    padded = n + pad[0] + pad[1]
    if padded < keff:
        raise AtrousError(
            f"output size would be {(padded - keff) // s + 1} (< 1){where}: input {n} + padding "
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
    ndim, scalar, n, k, s, pads, d = _conv_args(size, kernel, stride, padding, dilation)
    out = tuple(
        _conv_axis(n[a], k[a], s[a], pads[a], d[a], _where(a, ndim, scalar)) for a in range(ndim)
    )
    return unwrap(out, scalar)


def _pool_args(
    size: Any,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    mode: Any,
    size_name: str = "size",
) -> tuple[int, bool, Ints, Ints, Ints, Ints, Ints]:
    """Validate pooling arguments: (ndim, scalar, n, k, s, p, d)."""
    _check_choice(mode, PoolMode, "pool mode")
    pad_shape = _padding_shape(padding)
    ndim = infer_ndim(size, kernel, stride, pad_shape, dilation, default=1) or 1
    scalar = _scalar_call(size, kernel, stride, pad_shape, dilation)
    n = as_ints(size, ndim, size_name, 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1) if stride is not None else k
    p = _symmetric(padding, ndim, "pooling")
    d = as_ints(dilation, ndim, "dilation", 1)
    if mode == "avg" and any(v != 1 for v in d):
        raise AtrousError(f"average pooling has no dilation: dilation must be 1, got {dilation!r}")
    for axis in range(ndim):
        if p[axis] > k[axis] // 2:
            raise AtrousError(
                f"pooling padding must be at most half the kernel{_where(axis, ndim, scalar)}: "
                f"padding {p[axis]} > {k[axis]}//2 = {k[axis] // 2}"
            )
    return ndim, scalar, n, k, s, p, d


def _pool_axis(
    n: int, k: int, s: int, p: int, d: int, ceil_mode: bool, avg3d: bool, where: str
) -> tuple[int, bool]:
    """PyTorch's ``pooling_output_shape``: (output, whether the last-window rule dropped one)."""
    if avg3d and n < k:
        raise AtrousError(
            f"AvgPool3d needs an input at least as large as the kernel{where}: input {n} < "
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
            f"pooling output size would be {o} (< 1){where}: input {n} + padding 2*{p} = "
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
    ndim, scalar, n, k, s, p, d = _pool_args(size, kernel, stride, padding, dilation, mode)
    avg3d = mode == "avg" and ndim == 3
    out = tuple(
        _pool_axis(n[a], k[a], s[a], p[a], d[a], ceil_mode, avg3d, _where(a, ndim, scalar))[0]
        for a in range(ndim)
    )
    return unwrap(out, scalar)


def _transpose_args(
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
    pad_shape = _padding_shape(padding)
    ndim = infer_ndim(size, kernel, stride, pad_shape, dilation, output_padding, default=1) or 1
    scalar = _scalar_call(size, kernel, stride, pad_shape, dilation, output_padding)
    n = as_ints(size, ndim, size_name, 1)
    k = as_ints(kernel, ndim, "kernel", 1)
    s = as_ints(stride, ndim, "stride", 1)
    p = _symmetric(padding, ndim, "transposed-conv")
    d = as_ints(dilation, ndim, "dilation", 1)
    op = None
    if output_padding is not None or not any_op:
        op = as_ints(output_padding, ndim, "output_padding", 0)
        for axis in range(ndim):
            if op[axis] >= max(s[axis], d[axis]):
                raise AtrousError(
                    f"output_padding must be smaller than the stride or the dilation"
                    f"{_where(axis, ndim, scalar)}: output_padding {op[axis]} >= "
                    f"max(stride {s[axis]}, dilation {d[axis]})"
                )
    return ndim, scalar, n, k, s, p, d, op


def _transpose_base(n: int, k: int, s: int, p: int, d: int) -> int:
    """Transposed-conv output without output_padding."""
    return (n - 1) * s - 2 * p + d * (k - 1) + 1


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
    ndim, scalar, n, k, s, p, d, op = _transpose_args(
        size, kernel, stride, padding, dilation, output_padding
    )
    assert op is not None  # output_padding is never None here
    out = []
    for a in range(ndim):
        o = _transpose_base(n[a], k[a], s[a], p[a], d[a]) + op[a]
        if o < 1:
            raise AtrousError(
                f"transposed-conv output size would be {o} (< 1){_where(a, ndim, scalar)}: "
                f"({n[a]}-1)*{s[a]} - 2*{p[a]} + {d[a]}*({k[a]}-1) + {op[a]} + 1 = {o}; "
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
    pad_shape = _padding_shape(padding)
    ndim = infer_ndim(size, target, kernel, stride, pad_shape, dilation, default=1) or 1
    scalar = _scalar_call(size, target, kernel, stride, pad_shape, dilation)
    t = as_ints(target, ndim, "target", 1)
    _, _, n, k, s, p, d, _ = _transpose_args(
        as_ints(size, ndim, "size", 1), kernel, stride, padding, dilation, None, any_op=True
    )
    out = []
    for a in range(ndim):
        base = _transpose_base(n[a], k[a], s[a], p[a], d[a])
        limit = max(s[a], d[a])
        op = t[a] - base
        where = _where(a, ndim, scalar)
        if op < 0:
            raise AtrousError(
                f"target {t[a]} is too small{where}: without output_padding the layer already "
                f"gives ({n[a]}-1)*{s[a]} - 2*{p[a]} + {d[a]}*({k[a]}-1) + 1 = {base}, and "
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
    ndim, scalar, o, k, s, _, d = _conv_args(output, kernel, stride, pad, dilation, "output")
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
                f"no input size gives conv output {o[a]}{_where(a, ndim, scalar)}: the smallest "
                f"input, 1, already gives {(1 + c) // s[a] + 1} (padding {sum(pads[a])} "
                f"outweighs the effective kernel {keff})"
            )
        out.append((lo, hi))
    return out[0] if scalar else tuple(out)


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
    ndim, scalar, o, k, s, p, d = _pool_args(
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
                f"no input size gives pooling output {o[a]}{_where(a, ndim, scalar)}: the "
                f"smallest valid input, {first}, already gives {(first + c) // s[a] + 1}"
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
    ndim, scalar, o, k, s, p, d, op = _transpose_args(
        output, kernel, stride, padding, dilation, output_padding, "output", any_op=True
    )
    out = []
    for a in range(ndim):
        base1 = _transpose_base(1, k[a], s[a], p[a], d[a])  # output of input 1, op 0
        extra_lo, extra_hi = (op[a], op[a]) if op is not None else (0, max(s[a], d[a]) - 1)
        # (n-1)*s + base1 + extra = o  for some extra in [extra_lo, extra_hi]
        lo = max(_ceil_div(o[a] - base1 - extra_hi, s[a]), 0) + 1
        hi = (o[a] - base1 - extra_lo) // s[a] + 1
        where = _where(a, ndim, scalar)
        if lo > hi:
            if hi < 1:
                why = f"the smallest input, 1, already gives {base1 + extra_lo}"
            else:
                got_lo = _transpose_base(hi, k[a], s[a], p[a], d[a]) + extra_hi
                got_hi = _transpose_base(hi + 1, k[a], s[a], p[a], d[a]) + extra_lo
                opname = f"output_padding {op[a]}" if op is not None else "any output_padding"
                why = (
                    f"with {opname}, input {hi} gives at most {got_lo} and input {hi + 1} "
                    f"at least {got_hi} (stride {s[a]})"
                )
                need = o[a] - _transpose_base(hi, k[a], s[a], p[a], d[a])
                if op is not None and 0 <= need < max(s[a], d[a]):
                    why += f"; output_padding {need} would reach it from input {hi}"
            raise AtrousError(f"no input size gives transposed-conv output {o[a]}{where}: {why}")
        out.append((lo, hi))
    return out[0] if scalar else tuple(out)


# --------------------------------------------------------------------------- worked formulas


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
    _check_choice(op, ExplainOp, "op")
    ceil_mode = as_bool(ceil_mode, "ceil_mode")
    _check_explain_options(op, ceil_mode, mode, output_padding)
    if op == "conv":
        lines = _explain_conv(size, kernel, stride, padding, dilation)
    elif op == "transposed":
        lines = _explain_transposed(size, kernel, stride, padding, dilation, output_padding)
    else:
        lines = _explain_pool(size, kernel, stride, padding, dilation, ceil_mode, mode)
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
    size: IntOrTuple, kernel: IntOrTuple, stride: IntOrTuple | None, padding: PaddingArg,
    dilation: IntOrTuple,
) -> list[str]:
    """:func:`explain`'s lines for a convolution."""
    st = 1 if stride is None else stride
    ndim, _, n, k, s, pads, d = _conv_args(size, kernel, st, padding, dilation)
    names = axis_names(ndim)
    lines = []
    for a in range(ndim):
        o = _conv_axis(n[a], k[a], s[a], pads[a], d[a], _where(a, ndim, False))
        lines.append(
            f"{names[a]}_out = floor(({n[a]} + {_pad_term(pads[a])} - {d[a]}*({k[a]}-1) - 1)"
            f"/{s[a]}) + 1 = {o}"
        )
    return lines


def _explain_transposed(
    size: IntOrTuple, kernel: IntOrTuple, stride: IntOrTuple | None, padding: PaddingArg,
    dilation: IntOrTuple, output_padding: IntOrTuple,
) -> list[str]:
    """:func:`explain`'s lines for a transposed convolution."""
    st = 1 if stride is None else stride
    ndim, _, n, k, s, p, d, opad = _transpose_args(
        size, kernel, st, padding, dilation, output_padding
    )
    assert opad is not None  # output_padding is never None here
    outs = conv_transpose_output_size(n, k, s, p, d, opad)
    names = axis_names(ndim)
    lines = []
    for a in range(ndim):
        lines.append(
            f"{names[a]}_out = ({n[a]}-1)*{s[a]} - 2*{p[a]} + {d[a]}*({k[a]}-1) + {opad[a]}"
            f" + 1 = {outs[a]}"
        )
    return lines


def _explain_pool(
    size: IntOrTuple, kernel: IntOrTuple, stride: IntOrTuple | None, padding: PaddingArg,
    dilation: IntOrTuple, ceil_mode: bool, mode: PoolMode,
) -> list[str]:
    """:func:`explain`'s lines for a pool, with PyTorch's last-window rule where it applies."""
    ndim, _, n, k, s, p, d = _pool_args(size, kernel, stride, padding, dilation, mode)
    names = axis_names(ndim)
    rounding = "ceil" if ceil_mode else "floor"
    lines = []
    for a in range(ndim):
        o, dropped = _pool_axis(
            n[a], k[a], s[a], p[a], d[a], ceil_mode, mode == "avg" and ndim == 3,
            _where(a, ndim, False),
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


# --------------------------------------------------------------------------- public wrappers


def is_padding_pairs(padding: Any) -> bool:
    """True when ``padding`` is per-axis ``(left, right)`` pairs.

    >>> is_padding_pairs(((0, 1), (1, 1))), is_padding_pairs((1, 2)), is_padding_pairs("same")
    (True, False, False)
    """
    return _is_pairs(padding)


def padding_axes(padding: Any) -> int | None:
    """The number of axes ``padding`` states, or None when it applies to every axis.

    >>> padding_axes(1), padding_axes((1, 2)), padding_axes(((0, 1),)), padding_axes("same")
    (None, 2, 1, None)
    """
    return infer_ndim(_padding_shape(padding))
