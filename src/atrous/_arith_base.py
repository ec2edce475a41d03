"""What every part of :mod:`atrous.arith` shares: the argument types, padding forms, axis names.

Private: :mod:`atrous.arith` is the public face (conv and transposed sizes in
:mod:`atrous._arith_conv`, pooling in :mod:`atrous._arith_pool`, worked formulas in
:mod:`atrous._arith_explain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, get_args

from ._types import Ints, as_choice, as_ints, infer_ndim
from .errors import AtrousError

__all__ = [
    "ExplainOp",
    "PaddingArg",
    "PoolMode",
    "at_axis",
    "axis_names",
    "ceil_div",
    "check_choice",
    "is_padding_pairs",
    "padding_axes",
    "padding_shape",
    "scalar_call",
    "symmetric",
]

PaddingArg: TypeAlias = (
    int | Sequence[int] | Sequence[Sequence[int]] | Literal["valid", "same"]
)
"""Padding: an int, a per-axis tuple, per-axis ``(left, right)`` pairs, ``"valid"``, ``"same"``."""

PoolMode: TypeAlias = Literal["max", "avg"]
"""Pooling flavour; it matters for two PyTorch rules (avg has no dilation; AvgPool3d's input)."""

ExplainOp: TypeAlias = Literal["conv", "transposed", "pool"]
"""The operation :func:`atrous.arith.explain` works out."""


def scalar_call(*values: Any) -> bool:
    """True when no argument is per-axis: the answer is an int, not a tuple."""
    return infer_ndim(*values) is None


def is_padding_pairs(padding: Any) -> bool:
    """True when ``padding`` is per-axis ``(left, right)`` pairs.

    >>> is_padding_pairs(((0, 1), (1, 1))), is_padding_pairs((1, 2)), is_padding_pairs("same")
    (True, False, False)
    """
    return (
        isinstance(padding, Sequence)
        and not isinstance(padding, (str, bytes))
        and len(padding) > 0
        and all(isinstance(p, Sequence) and not isinstance(p, (str, bytes)) for p in padding)
    )


def padding_shape(padding: Any) -> Any:
    """What ``padding`` says about the number of axes, in the form ``infer_ndim`` reads."""
    if isinstance(padding, str):
        return None
    if is_padding_pairs(padding):
        return tuple(0 for _ in padding)
    return padding


def padding_axes(padding: Any) -> int | None:
    """The number of axes ``padding`` states, or None when it applies to every axis.

    >>> padding_axes(1), padding_axes((1, 2)), padding_axes(((0, 1),)), padding_axes("same")
    (None, 2, 1, None)
    """
    return infer_ndim(padding_shape(padding))


def check_choice(value: Any, allowed: Any, name: str) -> None:
    """Refuse ``value`` unless it is one of the strings of the ``Literal`` type ``allowed``.

    >>> check_choice("avg", PoolMode, "pool mode")
    >>> check_choice("min", PoolMode, "pool mode")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: pool mode must be one of 'max', 'avg', got 'min'
    """
    as_choice(value, get_args(allowed), name)  # never compares an array with the choices


def axis_names(ndim: int) -> tuple[str, ...]:
    """The conventional axis letters: ``L`` for 1-D, ``H, W`` for 2-D, ``D, H, W`` for 3-D.

    >>> axis_names(2)
    ('H', 'W')
    """
    names = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
    if ndim not in names:
        raise AtrousError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    return names[ndim]


def at_axis(axis: int, ndim: int, scalar: bool) -> str:
    """`` (axis H)`` for messages about one axis of a per-axis call; nothing for a scalar call.

    >>> at_axis(0, 2, False), at_axis(0, 2, True)
    (' (axis H)', '')
    """
    return "" if scalar else f" (axis {axis_names(ndim)[axis]})"


def symmetric(padding: Any, ndim: int, what: str) -> Ints:
    """Padding for ops PyTorch pads symmetrically (pooling, transposed conv)."""
    if isinstance(padding, str) or is_padding_pairs(padding):
        raise AtrousError(
            f"{what} padding must be an int or a per-axis tuple of ints (PyTorch pads it "
            f"symmetrically), got {padding!r}"
        )
    return as_ints(padding, ndim, "padding", 0)


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` in integers."""
    return -(-a // b)
