"""Shared type aliases and the argument normalisers every module uses."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, TypeAlias

from .errors import AtrousError

__all__ = [
    "IntOrTuple", "Ints", "Pairs", "as_bool", "as_choice", "as_int", "as_ints", "as_key", "as_size",
    "infer_ndim", "unwrap",
]

Ints: TypeAlias = tuple[int, ...]
"""A per-axis tuple of ints (1-D, 2-D or 3-D)."""
Pairs: TypeAlias = tuple[tuple[int, int], ...]
"""Per-axis ``(left, right)`` pairs."""
IntOrTuple: TypeAlias = int | Sequence[int]
"""An int (the same on every axis) or a per-axis sequence of ints."""

MAX_NDIM = 3


MAX_INT = 2**63
"""Integers must lie in ``[-2**63, 2**63)``: PyTorch's sizes are 64-bit."""


def _describe(value: Any) -> str:
    """A short repr for messages (long or huge values are cut)."""
    if isinstance(value, int) and not -MAX_INT <= value < MAX_INT:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def as_int(value: Any, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as an int, rejecting bools, floats and anything below ``minimum``.

    >>> as_int(3, "kernel")
    3
    >>> as_int(2.0, "stride")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: stride must be an integer, got 2.0 (float)
    """
    if type(value) is int:
        number: int = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise AtrousError(
            f"{name} must be an integer, got {_describe(value)} ({type(value).__name__})"
        )
    else:
        number = int(value)
    if not -MAX_INT <= number < MAX_INT:
        raise AtrousError(
            f"{name} must be below 2**63 in size (PyTorch's sizes are 64-bit), got "
            f"{_describe(number)}"
        )
    if minimum is not None and number < minimum:
        raise AtrousError(f"{name} must be >= {minimum}, got {number}")
    return number


def _is_sequence(value: Any) -> bool:
    """A list, tuple or other sequence, or a 1-D array (not a string)."""
    if isinstance(value, (tuple, list)):
        return True
    if isinstance(value, (str, bytes)):
        return False
    return isinstance(value, Sequence) or (
        getattr(value, "ndim", None) == 1 and hasattr(value, "tolist")
    )


def as_size(value: Any, name: str, minimum: int = 1) -> Ints:
    """An int or a sequence of ints (a list, tuple or 1-D array) as a tuple of ints.

    >>> as_size(64, "input_size"), as_size([64, 48], "input_size")
    ((64,), (64, 48))
    >>> as_size(5.0, "input_size")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: input_size must be an int or a tuple of ints like (64, 64),
    got 5.0 (float)
    """
    if type(value) is int or (isinstance(value, numbers.Integral) and not isinstance(value, bool)):
        return (as_int(value, name, minimum),)
    if not _is_sequence(value):
        raise AtrousError(
            f"{name} must be an int or a tuple of ints like (64, 64), got "
            f"{_describe(value)} ({type(value).__name__})"
        )
    items = value.tolist() if hasattr(value, "tolist") and not isinstance(value, list) else value
    if len(items) == 0:
        raise AtrousError(f"{name} must not be empty")
    return tuple(as_int(v, name, minimum) for v in items)


def as_key(value: Any, name: str, allow_none: bool = True) -> str | None:
    """A node name (or other string key): a ``str``, or ``None`` where ``allow_none``.

    >>> as_key("conv0", "node")
    'conv0'
    >>> as_key([], "node")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: node must be a node name (a string), got [] (list)
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise AtrousError(
            f"{name} must be a node name (a string), got {_describe(value)} "
            f"({type(value).__name__})"
        )
    return value


def as_choice(value: Any, choices: Sequence[str], name: str) -> str:
    """One of ``choices`` (strings), or an error listing them; never compares arrays.

    >>> as_choice("uniform", ("uniform", "rf"), "objective")
    'uniform'
    """
    if not isinstance(value, str) or value not in choices:
        raise AtrousError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {_describe(value)}"
        )
    return value


def as_bool(value: Any, name: str) -> bool:
    """``value`` if it is True or False; anything else (an int, an array) is an error.

    >>> as_bool(True, "ceil_mode")
    True
    >>> as_bool(1, "ceil_mode")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: ceil_mode must be True or False, got 1
    """
    if not isinstance(value, bool):
        raise AtrousError(f"{name} must be True or False, got {_describe(value)}")
    return value


def infer_ndim(*values: Any, default: int | None = None) -> int | None:
    """The number of axes implied by the tuple-valued arguments, or ``default`` if all are ints.

    Tuples of different lengths are an error.
    """
    if default is not None:
        default = as_int(default, "ndim")
    ndim: int | None = None
    first: Any = None
    for v in values:
        t = type(v)
        if t is int or v is None or isinstance(v, (str, bytes, numbers.Integral)):
            continue
        if t is tuple or t is list or isinstance(v, Sequence):
            n = len(v)
            if n < 1 or n > MAX_NDIM:
                raise AtrousError(f"per-axis values must have 1 to {MAX_NDIM} entries, got {v!r}")
            if ndim is not None and n != ndim:
                raise AtrousError(
                    f"per-axis values disagree on the number of axes: {tuple(first)!r} has "
                    f"{ndim}, {tuple(v)!r} has {n}"
                )
            ndim, first = n, v
    return default if ndim is None else ndim


def as_ints(value: Any, ndim: int, name: str, minimum: int | None = None) -> Ints:
    """Broadcast an int or check a per-axis sequence; return a tuple of ``ndim`` ints."""
    if type(value) is int and -MAX_INT <= value < MAX_INT:
        if minimum is not None and value < minimum:
            raise AtrousError(f"{name} must be >= {minimum}, got {value}")
        return (value,) * ndim
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != ndim:
            raise AtrousError(f"{name} must have {ndim} entries (one per axis), got {value!r}")
        return tuple(as_int(v, name, minimum) for v in value)
    return (as_int(value, name, minimum),) * ndim


def unwrap(values: Ints, scalar: bool) -> Any:
    """Return ``values[0]`` when the caller passed scalars, else the tuple."""
    return values[0] if scalar else tuple(values)
