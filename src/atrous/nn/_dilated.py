"""The checked dilated convolution behind :mod:`atrous.nn.functional`, and its implementations.

Private: :func:`dilated_conv` validates a call (shapes, groups, padding, options) and runs it by
the chosen implementation (``native``, ``zero_kernel``, ``space_to_batch``, ``phase``, or
``auto``, timed once by :mod:`atrous.nn._impl`); the argument checks here are shared by every
functional. The public names (:func:`dilate_kernel`, ``Impl``, ``PaddingMode``) are documented
and imported as :mod:`atrous.nn.functional`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .._arith_base import at_axis, axis_names, check_choice
from .._arith_conv import conv_axis
from .._types import IntOrTuple, Ints, Pairs, as_int, as_ints
from ..arith import PaddingArg, normalize_padding
from ..errors import AtrousError
from . import _impl
from ._impl import (
    _CHECKED,
    _CHECKED_MAX,
    _CONV,
    _LAST,
    _VERDICTS_MAX,
    ConvArgs,
    _device_key,
    _pad,
    _space_to_batch_conv,
    is_tracing,
)

_is_compiling = torch.compiler.is_compiling  # True only while torch.compile/export trace

__all__ = [
    "Impl",
    "PaddingMode",
    "check_input",
    "check_pads",
    "check_weight",
    "conv_impl",
    "dilate_kernel",
    "dilated_conv",
    "meta_conv",
]

Impl = Literal["native", "zero_kernel", "space_to_batch", "phase", "auto"]
"""How :func:`atrous.nn.functional.dilated_conv2d` computes: ``F.conv2d``, zero-inserted kernel,
space-to-batch, one dense convolution per phase, or ``"auto"``: the fastest of ``native``,
``space_to_batch`` and ``phase`` for this device, dtype and shape, measured once and remembered."""
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
"""What fills the padding (PyTorch's ``padding_mode``)."""

def check_input(x: Tensor, ndim: int, name: str) -> bool:
    """Check ``x`` is ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; True if unbatched."""
    if not isinstance(x, Tensor):
        raise AtrousError(f"{name}: input must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == ndim + 2:
        return False
    if x.dim() == ndim + 1:
        return True
    axes = ", ".join(axis_names(ndim))
    raise AtrousError(
        f"{name}: input must have shape (N, C, {axes}) or (C, {axes}), "
        f"got {tuple(x.shape)}"
    )


def check_weight(
    x: Tensor, weight: Tensor, bias: Tensor | None, groups: int, ndim: int, name: str
) -> None:
    if not isinstance(weight, Tensor) or weight.dim() != ndim + 2:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise AtrousError(
            f"{name}: weight must have shape (C_out, C_in/groups, {', '.join(axis_names(ndim))}), "
            f"got {shape}"
        )
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise AtrousError(
            f"{name}: groups must divide the input and output channels, got groups={groups} "
            f"with {c_in} input and {c_out} output channels"
        )
    if weight.shape[1] * groups != c_in:
        raise AtrousError(
            f"{name}: weight expects {weight.shape[1]}*{groups} = {weight.shape[1] * groups} "
            f"input channels (weight.shape[1]*groups), got input with {c_in}"
        )
    if bias is not None and (not isinstance(bias, Tensor) or tuple(bias.shape) != (c_out,)):
        shape = tuple(bias.shape) if isinstance(bias, Tensor) else type(bias).__name__
        raise AtrousError(f"{name}: bias must have shape ({c_out},), got {shape}")


def check_pads(pads: Pairs, size: Sequence[int], mode: str, name: str) -> None:
    if mode == "zeros" or mode == "replicate":
        return
    for axis, ((lo, hi), n) in enumerate(zip(pads, size)):
        limit = n - 1 if mode == "reflect" else n
        if max(lo, hi) > limit:
            rule = "smaller than" if mode == "reflect" else "at most"
            raise AtrousError(
                f"{name}: padding_mode={mode!r} needs padding {rule} the input size, got "
                f"padding {(lo, hi)} for size {n} (axis {axis})"
            )


def dilate_kernel(weight: Tensor, dilation: IntOrTuple) -> Tensor:
    """Insert ``d - 1`` zeros between the taps of a kernel along every spatial axis.

    A dense convolution with the result equals the dilated convolution with ``weight``: the
    tutorials' first implementation ("卷积核填充 0"). Differentiable (built by padding and
    reshaping).

    Args:
        weight: ``(C_out, C_in/groups, *kernel)``.
        dilation: an int or one per spatial axis.

    Shape:
        - weight: ``(C_out, C_in/groups, k_1, ..., k_n)``
        - output: ``(C_out, C_in/groups, d_1(k_1-1)+1, ..., d_n(k_n-1)+1)``

    >>> dilate_kernel(torch.ones(1, 1, 3), 2)
    tensor([[[1., 0., 1., 0., 1.]]])
    """
    ndim = weight.dim() - 2
    if ndim < 1:
        raise AtrousError(f"weight must have at least 3 dimensions, got {tuple(weight.shape)}")
    d = as_ints(dilation, ndim, "dilation", 1)
    for axis, rate in enumerate(d):
        if rate == 1:
            continue
        dim = 2 + axis
        k = weight.shape[dim]
        w = weight.movedim(dim, -1).unsqueeze(-1)
        w = F.pad(w, [0, rate - 1]).flatten(-2)[..., : rate * (k - 1) + 1]
        weight = w.movedim(-1, dim)
    return weight


class _Checked:
    """One checked call signature of :func:`dilated_conv`: what its checks worked out, for the
    calls after the first with the same shapes and options (:data:`atrous.nn._impl._CHECKED`)."""

    __slots__ = ("args", "conv", "given", "same_padding", "unbatched", "verdicts")

    def __init__(self, given: tuple[object, ...], unbatched: bool, args: ConvArgs) -> None:
        self.given = given  # stride, padding, dilation, groups, impl, padding_mode as passed
        # (exact ints, strs and tuples of them)
        self.unbatched = unbatched
        self.args = args[3:]  # stride, pads, dilation, groups, mode
        pads, mode = args.pads, args.mode
        self.same_padding: Ints | None = None  # F.conv's own padding, where it can pad
        if mode == "zeros" and all(lo == hi for lo, hi in pads):
            self.same_padding = tuple(lo for lo, _ in pads)
        self.conv = _CONV[len(pads)]
        self.verdicts: dict[tuple[object, ...], str] = {}  # impl="auto", by dtype/device/layout


def _exact(value: object) -> bool:
    """Whether ``value`` is built of exact ints and strs only (tuples nesting them): arguments
    whose equality means the same checks (``2.0 == 2`` and ``True == 1``, but floats and bools are
    refused where ints are asked for; lists could change after they were checked; an object
    equal to ``"native"`` but no str is refused where a str is asked for)."""
    kind = type(value)
    if kind is int or kind is str:
        return True
    return kind is tuple and all(_exact(v) for v in value)  # type: ignore[attr-defined]


def _int_shapes(key: tuple[object, ...]) -> bool:
    """Whether the key's shapes (input, weight, bias) are of ints: while torch.jit.trace runs
    they are 0-dim tensors, which the table must neither keep alive nor hand to torch.compile."""
    return all(type(n) is int for shape in key[1:4] if shape is not None
               for n in shape)  # type: ignore[attr-defined]


def dilated_conv(
    ndim: int,
    /,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    impl: Impl = "native",
    padding_mode: PaddingMode = "zeros",
) -> Tensor:
    """``dilated_conv{ndim}d`` (the template of :mod:`atrous.nn.functional`'s three).

    A call whose shapes and options were checked before (plain tensors, arguments of exact
    ints, tuples and strings) reuses what the checks worked out: the checks cost more than a
    small convolution itself. Not while torch.compile traces: its graph would guard on the table
    (and compile again whenever the table changed), and it runs ``native`` for ``auto``.
    """
    key: tuple[object, ...] | None = None
    if type(x) is Tensor and isinstance(weight, Tensor) and (
        bias is None or isinstance(bias, Tensor)
    ) and not _is_compiling():  # torch.compile would guard on the table (and recompile)
        key = (ndim, x.shape, weight.shape, None if bias is None else bias.shape, stride,
               padding, dilation, groups, impl, padding_mode)
        try:
            entry = _CHECKED.get(key)
        except TypeError:  # an unhashable argument (a list): checked in full on every call
            entry = key = None
        if entry is not None and key is not None:
            given = entry.given
            if (given[0] is stride and given[1] is padding and given[2] is dilation
                    and given[3] is groups and given[4] is impl and given[5] is padding_mode
                    ) or _exact(key[4:]):
                return _run_checked(entry, x, weight, bias, impl)
    # checked in full (every rule, every message), run, and the signature remembered
    unbatched, args, _ = _check(ndim, x, weight, bias, stride, padding, dilation, groups, impl,
                                padding_mode)
    if key is not None and _exact(key[4:]) and _int_shapes(key):
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[key] = _Checked(key[4:], unbatched, args)
    how: str = impl
    if how == "auto":
        how = _impl.choose(args, conv_impl)
    y = conv_impl(how, args)
    return y.squeeze(0) if unbatched else y


def _run_checked(entry: _Checked, x: Tensor, weight: Tensor, bias: Tensor | None,
                 impl: str) -> Tensor:
    """A call of a checked signature: the direct native kernel, or ``auto``'s remembered verdict."""
    if entry.unbatched:
        x = x.unsqueeze(0)
    how = impl
    if how == "auto":  # the verdict for this input's dtype, device and layout, once probed
        key = (x.dtype, x.is_cpu or _device_key(x), x.is_contiguous() or x.stride())
        how = entry.verdicts.get(key, "auto")
        if how != "native" and (how == "auto" or is_tracing()):
            how = _impl.choose(ConvArgs(x, weight, bias, *entry.args), conv_impl)
            if _LAST[1]:  # a probe's verdict (or no dilation), not tracing's native
                if len(entry.verdicts) >= _VERDICTS_MAX:
                    entry.verdicts.clear()
                entry.verdicts[key] = how
        else:
            _LAST[0] = how
    padding = entry.same_padding
    if how == "native" and padding is not None:
        s, _, d, groups, _ = entry.args
        y: Tensor = entry.conv(x, weight, bias, s, padding, d, groups)
    else:
        y = conv_impl(how, ConvArgs(x, weight, bias, *entry.args))
    return y.squeeze(0) if entry.unbatched else y


def _check(
    ndim: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: IntOrTuple,
    padding: PaddingArg,
    dilation: IntOrTuple,
    groups: int,
    impl: Impl,
    padding_mode: PaddingMode,
) -> tuple[bool, ConvArgs, Ints]:
    """Every rule of a call: whether the input is unbatched, the checked arguments (the input
    batched) and the output's spatial size."""
    name = f"dilated_conv{ndim}d"
    check_choice(impl, Impl, "impl")
    check_choice(padding_mode, PaddingMode, "padding_mode")
    unbatched = check_input(x, ndim, name)
    if unbatched:
        x = x.unsqueeze(0)
    groups = as_int(groups, "groups", 1)
    check_weight(x, weight, bias, groups, ndim, name)
    kernel = tuple(int(k) for k in weight.shape[2:])
    s = as_ints(stride, ndim, "stride", 1)
    d = as_ints(dilation, ndim, "dilation", 1)
    size = tuple(int(v) for v in x.shape[2:])
    pads = normalize_padding(padding, ndim, kernel, s, d, size)
    out = []
    for axis in range(ndim):  # arith's rule and words: the output must be at least 1
        try:
            out.append(conv_axis(size[axis], kernel[axis], s[axis], pads[axis], d[axis],
                                 at_axis(axis, ndim, False)))
        except AtrousError as exc:
            raise AtrousError(f"{name}: {exc}") from None
    check_pads(pads, size, padding_mode, name)
    return unbatched, ConvArgs(x, weight, bias, s, pads, d, groups, padding_mode), tuple(out)


def meta_conv(
    ndim: int,
    /,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: PaddingArg = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    impl: Impl = "native",
    padding_mode: PaddingMode = "zeros",
) -> Tensor | None:
    """``dilated_conv{ndim}d``'s output on meta tensors from the size formula, every rule
    checked as a call checks it; None (run the call) unless the input, weight and bias are
    meta tensors of one floating dtype. For an analysis' shape run: torch's meta convolution
    is Python, and its first call in a process imports sympy (about 0.4 s).

    >>> meta_conv(2, torch.empty(1, 3, 9, 9, device="meta"),
    ...           torch.empty(4, 3, 3, 3, device="meta"), None, 2, "same", 2).shape
    torch.Size([1, 4, 5, 5])
    """
    tensors = (x, weight) if bias is None else (x, weight, bias)
    if not all(isinstance(t, Tensor) and t.is_meta for t in tensors):
        return None
    if not x.dtype.is_floating_point or any(t.dtype != x.dtype for t in tensors):
        return None
    unbatched, _, out = _check(ndim, x, weight, bias, stride, padding, dilation, groups, impl,
                               padding_mode)
    shape = (int(weight.shape[0]), *out)
    return x.new_empty(shape if unbatched else (int(x.shape[0]), *shape))


def conv_impl(impl: str, args: ConvArgs) -> Tensor:
    """One checked convolution by the named implementation (not ``"auto"``)."""
    x, weight, bias, s, pads, d, groups, mode = args
    ndim = len(s)
    conv = _CONV[ndim]
    if impl == "space_to_batch":
        return _space_to_batch_conv(x, weight, bias, s, pads, d, groups, mode)
    if impl == "phase":
        return _impl.phase_conv(_pad(x, pads, mode), weight, bias, s, d, groups, conv)
    if impl == "zero_kernel":
        weight, d = dilate_kernel(weight, d), (1,) * ndim
    if mode == "zeros" and all(lo == hi for lo, hi in pads):
        return conv(x, weight, bias, s, tuple(lo for lo, _ in pads), d, groups)
    return conv(_pad(x, pads, mode), weight, bias, s, 0, d, groups)
