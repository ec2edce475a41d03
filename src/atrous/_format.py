"""Number and coordinate formatters shared by the analyses' sentences and every renderer.

Findings are sentences the core writes (:mod:`atrous.report`); the text, HTML and figure
renderers print the same numbers in tables. Both use these, so a size or a centre reads the same
everywhere, and the core does not import a renderer to word a finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

__all__ = ["fmt_compact", "fmt_coord", "fmt_count", "fmt_position", "fmt_si", "fmt_size"]


def fmt_count(v: int) -> str:
    """A count in at most 4 characters for a heatmap cell: ``999``, ``1e3``, ``3e400``.

    Exact for any Python int (no float conversion of the whole number).

    >>> fmt_count(999), fmt_count(1499), fmt_count(9600), fmt_count(3 ** 1000)
    ('999', '1e3', '1e4', '1e477')
    """
    v = int(v)
    if v < 1000:
        return str(v)
    digits = str(v)
    exp = len(digits) - 1
    mantissa = round(int(digits[:3]) / 100)  # the first digits carry the rounding
    if mantissa == 10:
        mantissa, exp = 1, exp + 1
    return f"{mantissa}e{exp}"


def fmt_si(n: int | float | None, digits: int = 3) -> str:
    """A size for a table: ``"-"`` for None, else 3 significant digits with k/M/G/T.

    The one number formatter of atrous' tables (parameters, MACs, search nodes).

    >>> fmt_si(None), fmt_si(999), fmt_si(1234), fmt_si(25_557_032), fmt_si(4.1e9)
    ('-', '999', '1.23k', '25.6M', '4.1G')
    >>> fmt_si(3 ** 1000)
    '1.32e477'
    """
    if n is None:
        return "-"
    if isinstance(n, int) and abs(n) >= 10**15:  # exact for any int (no float overflow)
        text = str(abs(n))
        lead = f"{text[0]}.{text[1:3]}".rstrip("0").rstrip(".")
        return f"{'-' if n < 0 else ''}{lead}e{len(text) - 1}"
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(n) >= size:
            return f"{n / size:.{digits}g}{unit}"
    return f"{n:.{digits}g}" if isinstance(n, float) else str(n)


def fmt_compact(n: int) -> str:
    """A count in one decimal with k/M/G, for cells whose exact count is shown elsewhere
    (a hover text, a sort key): ``170.5M``.

    >>> fmt_compact(999), fmt_compact(1234), fmt_compact(170_459_136)
    ('999', '1.2k', '170.5M')
    """
    for unit, div in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def fmt_coord(value: Any) -> str:
    """An input coordinate (a centre may be a half pixel): ``-511.5``, not ``-1023/2``.

    A fraction with a finite decimal is written as one; others (``1/3``) stay fractions.

    >>> fmt_coord(Fraction(-1023, 2)), fmt_coord(Fraction(4)), fmt_coord(Fraction(1, 3))
    ('-511.5', '4', '1/3')
    """
    f = Fraction(value)
    if f.denominator == 1:
        return str(f.numerator)
    d = f.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return f"{f.numerator}/{f.denominator}"
    text = f"{float(f):.6f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == f else f"{f.numerator}/{f.denominator}"


def fmt_position(values: Sequence[Any]) -> str:
    """A position (input pixel or unit index): ``4`` in 1-D, ``(4, -0.5)`` otherwise.

    Sizes are written ``13x13``; positions in parentheses, so the two never look alike.

    >>> fmt_position([Fraction(-1, 2)]), fmt_position((16, 16))
    ('-0.5', '(16, 16)')
    """
    parts = [fmt_coord(v) for v in values]
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def fmt_size(values: Sequence[Any]) -> str:
    """A size per axis: ``13x13``.

    >>> fmt_size((13, 13))
    '13x13'
    """
    return "x".join(str(v) for v in values)
