"""The Hybrid Dilated Convolution (HDC) rules as the HDC paper states them, and the exact answer.

The HDC paper (Wang et al., "Understanding Convolution for Semantic Segmentation", WACV 2018)
makes three suggestions for a stack of ``n`` stride-1 dilated convs with kernel ``K`` and rates
``r_1..r_n``:

1. the "maximum distance between two nonzero values" ``M_n = r_n``,
   ``M_i = max[M_{i+1} - 2 r_i, 2 r_i - M_{i+1}, r_i]`` must satisfy ``M_2 <= K``
   (the goal is ``M_1 = 1``, which forces ``r_1 = 1``);
2. the rates form a sawtooth, like ``[1, 2, 3, 1, 2, 3]``;
3. the rates have no common factor greater than 1.

The rule is a heuristic. The exact answer comes from coverage: a stack of stride-1 convs is
gridding-free exactly when the 1-D sumset of the layers' tap offsets
``{0, r_i, ..., (K-1) r_i}`` is an interval (the 2-D map of square kernels is the outer product
of two 1-D maps, so 1-D decides it). :func:`hdc_check` reports both and says in words where they
disagree.

    >>> hdc_check([1, 2, 5]).M
    (1, 2, 5)
    >>> r = hdc_check([2, 3])
    >>> r.rule_passes, r.gridding_free
    (True, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._types import Ints, as_int
from .errors import AtrousError

__all__ = ["HDCResult", "hdc_check", "hdc_m", "is_sawtooth", "sumset_is_interval"]


def _rates(rates: Any) -> Ints:
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or not rates:
        raise AtrousError(f"rates must be a non-empty sequence of ints, got {rates!r}")
    return tuple(as_int(r, f"rate #{i}", 1) for i, r in enumerate(rates))


def hdc_m(rates: Sequence[int]) -> Ints:
    """The HDC paper's ``M_1..M_n``: ``M_n = r_n``, ``M_i = max[M_{i+1}-2r_i, 2r_i-M_{i+1}, r_i]``.

    >>> hdc_m([1, 2, 9])
    (3, 5, 9)
    """
    r = _rates(rates)
    m = [0] * len(r)
    m[-1] = r[-1]
    for i in range(len(r) - 2, -1, -1):
        m[i] = max(m[i + 1] - 2 * r[i], 2 * r[i] - m[i + 1], r[i])
    return tuple(m)


def is_sawtooth(rates: Sequence[int]) -> bool:
    """True when the rates split into strictly rising runs of at least two rates each.

    The runs are maximal: a new run starts wherever a rate is not larger than the one before.
    ``[1, 2, 3, 1, 2, 3]`` and ``[1, 2, 5]`` are sawtooth; ``[2, 2, 2]`` (flat), ``[5, 2, 1]``
    (falling) and ``[1, 2, 3, 3]`` (a run of one) are not. A single layer has no shape to
    judge and counts as sawtooth.

    >>> is_sawtooth([1, 2, 3, 1, 2, 3]), is_sawtooth([2, 2, 2]), is_sawtooth([5, 2, 1])
    (True, False, False)
    """
    r = _rates(rates)
    if len(r) == 1:
        return True
    run = 1
    for i in range(1, len(r)):
        prev, cur = r[i - 1], r[i]
        if cur > prev:
            run += 1
        else:
            if run < 2:
                return False
            run = 1
    return run >= 2


def sumset_is_interval(rates: Sequence[int], kernel: int = 3) -> bool:
    """True when every offset between the extremes is a sum of one tap per layer.

    This is the exact gridding-free condition for a stack of stride-1 convs.

    >>> sumset_is_interval([1, 2, 5]), sumset_is_interval([2, 3])
    (True, False)
    """
    r = _rates(rates)
    k = as_int(kernel, "kernel", 1)
    if 1 + (k - 1) * sum(r) > MAX_MAPPED:
        from ._design import is_gridding_free

        return is_gridding_free(r, k)
    reach = _reach(r, k)  # bitmask of reachable offsets
    return bool(reach & (reach + 1) == 0)


@dataclass(frozen=True)
class HDCResult:
    """The HDC rule as the HDC paper states it, and the exact answer.

    Attributes:
        rates: the dilation rates ``r_1..r_n`` (input side first).
        kernel: the kernel size ``K``.
        M: ``(M_1, ..., M_n)`` of the HDC paper's recursion.
        m2: ``M_2`` (None for a single layer).
        m2_le_k: ``M_2 <= K`` (True for a single layer: there is no ``M_2`` to bound).
        first_rate_one: ``r_1 == 1`` (equivalently ``M_1 == 1``, the paper's goal).
        gcd: greatest common divisor of the rates.
        no_common_factor: ``gcd == 1``.
        sawtooth: see :func:`is_sawtooth`.
        rule_passes: the stated rule: ``m2_le_k and sawtooth and no_common_factor``.
        gridding_free: the exact answer from coverage (1-D sumset of tap offsets is an interval).
        rf_size: receptive field per axis, ``(K-1) * sum(rates) + 1``.
        missing: 1-D offsets from the centre that no path reaches (empty when gridding-free).
        explanations: plain words on why the rule and the exact answer agree or differ.
    """

    rates: Ints
    kernel: int
    M: Ints
    m2: int | None
    m2_le_k: bool
    first_rate_one: bool
    gcd: int
    no_common_factor: bool
    sawtooth: bool
    rule_passes: bool
    gridding_free: bool
    rf_size: int
    missing: tuple[float, ...]
    explanations: tuple[str, ...]

    @property
    def summary(self) -> str:
        """The stated rule's verdict and its reasons, one plain sentence.

        >>> print(hdc_check([2, 4, 8]).summary)
        fails: M_2 = 4 is larger than the kernel size K = 3; the rates share the factor 2;
        they rise in a sawtooth
        """
        reasons = _rule_reasons(self.rates, self.kernel, self.m2, self.gcd, self.sawtooth)
        return f"{'passes' if self.rule_passes else 'fails'}: {reasons}"

    @property
    def agrees(self) -> bool:
        """True when the stated rule and the exact answer give the same verdict."""
        return self.rule_passes == self.gridding_free

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "rates": list(self.rates),
            "kernel": self.kernel,
            "M": list(self.M),
            "m2": self.m2,
            "m2_le_k": self.m2_le_k,
            "first_rate_one": self.first_rate_one,
            "gcd": self.gcd,
            "no_common_factor": self.no_common_factor,
            "sawtooth": self.sawtooth,
            "rule_passes": self.rule_passes,
            "gridding_free": self.gridding_free,
            "agrees": self.agrees,
            "rf_size": self.rf_size,
            "missing": [int(v) if float(v).is_integer() else v for v in self.missing],
            "explanations": list(self.explanations),
        }


def _fmt_offsets(missing: Sequence[float], limit: int = 8) -> str:
    def one(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else f"{v:g}"

    pos = sorted({abs(v) for v in missing})
    words = ", ".join(f"±{one(v)}" if v else "0" for v in pos[:limit])
    return words + (", ..." if len(pos) > limit else "")


MAX_MAPPED = 1 << 24
"""The longest 1-D receptive field whose holes :func:`hdc_check` lists (16.7 M offsets)."""


def _reach(rates: Sequence[int], kernel: int) -> int:
    """Bit ``j`` set where offset ``j`` (from the field's left end) is a sum of one tap per layer.

    Exact and fast: a big-integer bitmask, ``kernel`` shifted ORs per layer.
    """
    reach = 1
    for rate in rates:
        acc = 0
        for j in range(kernel):
            acc |= reach << (j * rate)
        reach = acc
    return reach


def _holes(rates: Sequence[int], kernel: int, rf: int) -> np.ndarray:
    """Offsets (from the left end of the ``rf``-pixel field) that no path reaches."""
    bits = np.unpackbits(
        np.frombuffer(_reach(rates, kernel).to_bytes((rf + 7) // 8, "little"), dtype=np.uint8),
        bitorder="little",
    )[:rf]
    return np.flatnonzero(bits == 0)


def _rule_reasons(r: Ints, k: int, m2: int | None, g: int, saw: bool) -> str:
    """The three conditions of the stated rule, as plain words."""
    if m2 is None:
        first = "a single layer has no M_2 to bound"
    elif m2 <= k:
        first = f"M_2 = {m2} is within the kernel size K = {k}"
    else:
        first = f"M_2 = {m2} is larger than the kernel size K = {k}"
    factor = "the rates have no common factor" if g == 1 else f"the rates share the factor {g}"
    if len(r) == 1:
        factor = "the only rate is 1" if g == 1 else f"the only rate, {g}, is above 1"
        shape = "a single rate counts as a sawtooth"
    elif saw:
        shape = "they rise in a sawtooth"
    else:
        shape = "they do not rise in a sawtooth (runs of at least two rising rates)"
    return f"{first}; {factor}; {shape}"


def _exact_words(free: bool, listed: bool, missing: Sequence[float], rf: int) -> str:
    if free:
        return f"every offset of the {rf}-pixel receptive field is reached"
    if not listed:
        return f"the {rf}-pixel receptive field has holes (too long to list them)"
    one = len(missing) == 1
    return (
        f"{'offset' if one else 'offsets'} {_fmt_offsets(missing)} of the {rf}-pixel receptive "
        f"field {'is' if one else 'are'} never reached ({len(missing)} "
        f"{'hole' if one else 'holes'} per axis)"
    )


def hdc_check(rates: Sequence[int], kernel: int = 3) -> HDCResult:
    """Check a dilation schedule against the HDC rule as stated, and against exact coverage.

    Args:
        rates: dilation rates of a stack of stride-1 convs, input side first.
        kernel: kernel size ``K`` of every layer (square kernels; the verdict holds per axis).

    Returns:
        An :class:`HDCResult`.

    The HDC paper's cases, the usual textbook ones, and the two where the stated rule is
    wrong:

    >>> [(r, hdc_check(r).rule_passes, hdc_check(r).gridding_free)
    ...  for r in ([1, 2, 5], [1, 2, 9], [2, 2, 2], [1, 2, 3], [2, 4, 8])]
    ... # doctest: +NORMALIZE_WHITESPACE
    [([1, 2, 5], True, True), ([1, 2, 9], False, False), ([2, 2, 2], False, False),
     ([1, 2, 3], True, True), ([2, 4, 8], False, False)]
    >>> hdc_check([5, 2, 1]).rule_passes, hdc_check([5, 2, 1]).gridding_free
    (False, True)
    """
    r = _rates(rates)
    k = as_int(kernel, "kernel", 1)
    m = hdc_m(r)
    m2 = m[1] if len(r) >= 2 else None
    m2_le_k = m2 is None or m2 <= k
    g = math.gcd(*r)
    saw = is_sawtooth(r)
    rule = m2_le_k and saw and g == 1
    rf = 1 + (k - 1) * sum(r)
    free, listed, missing = _exact_verdict(r, k, rf)
    why = [
        f"The HDC rule {'passes' if rule else 'fails'}: {_rule_reasons(r, k, m2, g, saw)}. "
        f"Exactly: {_exact_words(free, listed, missing, rf)}.",
        *_why_they_differ(r, k, m, m2_le_k, saw, rule, free),
    ]
    return HDCResult(
        rates=r, kernel=k, M=m, m2=m2, m2_le_k=m2_le_k, first_rate_one=r[0] == 1, gcd=g,
        no_common_factor=g == 1, sawtooth=saw, rule_passes=rule, gridding_free=free,
        rf_size=rf, missing=missing, explanations=tuple(why),
    )


def _exact_verdict(r: tuple[int, ...], k: int, rf: int) -> tuple[bool, bool, tuple[float, ...]]:
    """The exact verdict: ``(gridding free, holes listed, the holes' offsets from the centre)``."""
    if rf > MAX_MAPPED:
        # too long a field to map: the exact criterion still decides (sorted rising, every rate
        # at most the receptive field of the rates before it), only the holes go unlisted
        from ._design import is_gridding_free

        return is_gridding_free(r, k), False, ()
    holes = _holes(r, k, rf)
    centre = (rf - 1) / 2
    missing = tuple((holes - centre).astype(float).tolist())
    return not missing, True, missing


def _why_they_differ(
    r: tuple[int, ...],
    k: int,
    m: tuple[int, ...],
    m2_le_k: bool,
    saw: bool,
    rule: bool,
    free: bool,
) -> list[str]:
    """The sentences explaining where the stated rule and the exact verdict disagree."""
    why: list[str] = []
    if rule and not free:
        if r[0] != 1:
            why.append(
                f"The rule passes but the stack grids. Keeping M_2 within K bounds the largest "
                f"gap left by layers 2..n, a gap that a first layer of rate 1 and kernel K would "
                f"fill; but the first rate is {r[0]}, so M_1 = {m[0]}, not 1. The HDC paper's "
                "goal is M_1 = 1 (which forces r_1 = 1); the stated rule does not check it."
            )
        elif k % 2 == 0:
            taps = "0 and r" if k == 2 else f"0, r, ..., {k - 1}r"
            why.append(
                f"The rule passes but the stack grids: the HDC paper's recursion reasons about "
                f"taps placed symmetrically around the centre (-r, 0, +r for K = 3); with the "
                f"even kernel K = {k} a layer's taps are {taps}, and M_2 within K no longer "
                "guarantees that the gaps are filled."
            )
        else:
            why.append(
                "The rule passes but the stack grids: the M recursion tracks only the largest "
                "gap between neighbouring nonzero taps, not every gap."
            )
    if not rule and free:
        if k == 1:
            why.append("With kernel 1 every layer reads a single pixel, so dilation has no "
                       "effect and nothing can grid.")
        elif not saw or not m2_le_k:
            ordered = tuple(sorted(r))
            alt = hdc_check(ordered, k) if ordered != r else None
            why.append(
                "Coverage of a stack of stride-1 convs is the convolution of the layers' tap "
                "patterns, so it does not depend on the order of the layers; the sawtooth "
                "shape and the M recursion do."
                + (f" The same rates in rising order {list(ordered)} "
                   f"{'pass' if alt is not None and alt.rule_passes else 'still fail'} the "
                   "stated rule." if alt is not None else "")
            )
    if free and m[0] != 1 and k > 1 and len(r) > 1 and not rule:
        why.append(f"The first rate is {r[0]}, not 1, yet nothing grids: a later layer with "
                   "rate 1 fills the gaps just as well.")
    return why
