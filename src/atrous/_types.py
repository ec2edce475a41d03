"""Shared type aliases and the argument normalisers every module uses."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, TypeAlias

from .errors import AtrousError

__all__ = ["IntOrTuple", "Ints", "Pairs", "as_int", "as_ints", "infer_ndim", "unwrap"]

Ints: TypeAlias = tuple[int, ...]
"""A per-axis tuple of ints (1-D, 2-D or 3-D)."""
Pairs: TypeAlias = tuple[tuple[int, int], ...]
"""Per-axis ``(left, right)`` pairs."""
IntOrTuple: TypeAlias = int | Sequence[int]
"""An int (the same on every axis) or a per-axis sequence of ints."""

MAX_NDIM = 3


def as_int(value: Any, name: str, minimum: int | None = None) -> int:
    """Return ``value`` as an int, rejecting bools, floats and anything below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise AtrousError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise AtrousError(f"{name} must be >= {minimum}, got {value}")
    return value


def infer_ndim(*values: Any, default: int | None = None) -> int | None:
    """The number of axes implied by the tuple-valued arguments, or ``default`` if all are ints.

    Tuples of different lengths are an error.
    """
    ndim: int | None = None
    first: Any = None
    for v in values:
        if isinstance(v, (str, bytes)) or v is None or isinstance(v, numbers.Integral):
            continue
        if isinstance(v, Sequence):
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
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != ndim:
            raise AtrousError(f"{name} must have {ndim} entries (one per axis), got {value!r}")
        return tuple(as_int(v, name, minimum) for v in value)
    return (as_int(value, name, minimum),) * ndim


def unwrap(values: Ints, scalar: bool) -> Any:
    """Return ``values[0]`` when the caller passed scalars, else the tuple."""
    return values[0] if scalar else tuple(values)
