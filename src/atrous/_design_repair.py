"""Repair of a gridded dilation schedule: fewest changed rates, RF kept or grown (private;
the public names are :func:`atrous._design.repair` and its result classes).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._design_bounds import _most_sum
from ._design_search import (
    MAX_LAYERS,
    SCHEMA_VERSION,
    _kernel,
    _opt_int,
    is_gridding_free,
)
from ._types import Ints, as_int
from .errors import AtrousError
from .rules import _rates

__all__ = ["Change", "Repair", "Repairs", "repair"]


@dataclass(frozen=True)
class Change:
    """One changed (or added) layer of a :class:`Repair`.

    Attributes:
        index: layer position (input side first); added layers come after the original ones.
        old: the original rate, or None for an added layer.
        new: the proposed rate.
        reason: why, in words.
    """

    index: int
    old: int | None
    new: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"index": self.index, "old": self.old, "new": self.new, "reason": self.reason}


@dataclass(frozen=True)
class Repair:
    """A gridding-free schedule near a given one: fewest changed rates, RF kept or grown.

    Attributes:
        original: the rates given.
        rates: the repaired rates, in the original layer order (added layers last).
        kernel: kernel size.
        rf_before: RF per axis of the original.
        rf: RF per axis of the repair (``>= rf_before``).
        changes: the changed or added layers, each with its reason.
    """

    original: Ints
    rates: Ints
    kernel: int
    rf_before: int
    rf: int
    changes: tuple[Change, ...]

    @property
    def gridding_free(self) -> bool:
        """Always True for a proposed repair (the exact criterion)."""
        return is_gridding_free(self.rates, self.kernel)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "original": list(self.original),
            "rates": list(self.rates),
            "kernel": self.kernel,
            "rf_before": self.rf_before,
            "rf": self.rf,
            "gridding_free": self.gridding_free,
            "changes": [c.to_dict() for c in self.changes],
        }


class Repairs(list[Repair]):
    """The repairs :func:`repair` proposes (a list), best first."""

    def to_json(self) -> dict[str, Any]:
        """The JSON record (``atrous design --repair ... --json``): a JSON-able dict."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "repair",
            "repairs": [r.to_dict() for r in self],
        }


def _fill(kept: Ints, new: int, lo_sum: int, hi_sum: int, c: int, cap: int) -> list[Ints]:
    """All sorted multisets V of ``new`` rates with ``kept + V`` gridding-free and sum in range."""
    out: list[Ints] = []
    kept_suffix = [sum(kept[i:]) for i in range(len(kept) + 1)]

    def go(i: int, total: int, last: int, left: int, chosen: Ints) -> None:
        rest = kept_suffix[i]
        if total + rest + left * last > hi_sum:
            return
        vmax = min(cap, (1 + c * hi_sum) // (1 + c))
        if total + rest + left * vmax < lo_sum:
            return
        if i == len(kept) and left == 0:
            out.append(chosen)
            return
        # next element: a new value strictly below the next kept one, or the kept one
        if left:
            upper = min(cap, 1 + c * total)
            if i < len(kept):
                upper = min(upper, kept[i] - 1)
            for v in range(last, upper + 1):
                go(i, total + v, v, left - 1, (*chosen, v))
        if i < len(kept) and kept[i] <= 1 + c * total and kept[i] >= last:
            go(i + 1, total + kept[i], kept[i], left, chosen)

    go(0, 0, 1, new, ())
    return out


def _rf_sorted_before(rates: Sequence[int], index: int, c: int) -> int:
    """RF of the rates before ``rates[index]`` in rising order (equal rates in layer order).

    >>> [_rf_sorted_before([2, 2, 2], i, 2) for i in range(3)]
    [1, 5, 9]
    """
    order = sorted(range(len(rates)), key=lambda j: (rates[j], j))
    return 1 + c * sum(rates[j] for j in order[: order.index(index)])


def _explain(
    original: Ints,
    repaired: Ints,
    kernel: int,
    index: int,
    old: int | None,
    new: int,
    rf_before: int,
    most: int,
) -> str:
    c = kernel - 1

    def below(rates: Sequence[int], value: int, skip: int) -> str:
        smaller = sorted(r for j, r in enumerate(rates) if j != skip and r < value)
        rf = 1 + c * sum(smaller)
        return f"RF {rf} of the smaller rates {smaller}" if smaller else "RF_0 = 1"

    words = []
    # a rate leaves holes when it exceeds the RF of the rates sorted before it (equal rates in
    # layer order): of [2, 2, 2] only layer 1's 2 does; the others sit on RF 5 and RF 9
    if old is not None and old > _rf_sorted_before(original, index, c):
        words.append(f"{old} > {below(original, old, index)}: holes")
    fits = f"<= {below(repaired, new, index)}"
    # kept rates that left holes before and fit now thanks to this smaller value
    now_fit = []
    for j, v in enumerate(original):
        if j >= len(repaired) or repaired[j] != v or j == index or new >= v:
            continue
        if v > _rf_sorted_before(original, j, c):
            msg = f"now {v} fits ({v} <= {below(repaired, v, j)})"
            if msg not in now_fit:
                now_fit.append(msg)
    if old is None:
        words.append(
            f"added {new} ({fits}): {len(original)} layers reach at most RF {most} "
            f"without holes, below {rf_before}"
        )
    elif new < old:
        words.append(f"lowered to {new} ({fits})")
    elif now_fit:
        words.append(f"raised to {new} ({fits})")
    else:
        words.append(f"raised to {new} ({fits}) to keep the RF >= {rf_before}")
    words.extend(now_fit)
    return "; ".join(words)


def repair(
    rates: Sequence[int],
    kernel: int = 3,
    *,
    max_rate: int | None = None,
    top: int = 5,
    max_added: int = 4,
) -> Repairs:
    """The nearest gridding-free schedules to ``rates``: fewest changes, RF kept or grown.

    Layers stay in place; only the changed rates differ. Layers are added (last) only when the
    given number of layers cannot reach the RF without holes (their most is ``K**n``). Only
    the repairs with the fewest changes are returned, ranked by RF growth, then by the total
    change of the rates; of several layer orders of the same rates only the best is kept.

    Args:
        rates: the schedule to repair (input side first).
        kernel: kernel size ``K >= 2``.
        max_rate: largest rate a repair may use (default: no limit but the criterion).
        top: how many repairs to return.
        max_added: most layers a repair may add.

    Returns:
        Up to ``top`` :class:`Repair` objects; a single one with no changes when ``rates`` is
        already gridding-free.

    >>> r = repair([2, 2, 2])[0]
    >>> r.rates, r.rf_before, r.rf, [(c.old, c.new) for c in r.changes]
    ((1, 2, 3), 13, 13, [(2, 1), (2, 3)])
    >>> repair([1, 2, 9])[0].rates      # one change; the RF grows from 25 to 27
    (1, 3, 9)
    """
    orig = _rates(rates)
    k = _kernel(kernel)
    cap = _opt_int(max_rate, "max_rate", 1)
    top_n = as_int(top, "top", 1)
    extra_max = as_int(max_added, "max_added", 0)
    rf0 = 1 + (k - 1) * sum(orig)
    if is_gridding_free(orig, k):
        return Repairs([Repair(orig, orig, k, rf0, rf0, ())])
    found = _repair_hits(orig, k, cap, extra_max, top_n)
    if not found:
        raise AtrousError(_no_repair(orig, k, cap, extra_max, sum(orig)))
    return Repairs(_repairs_from(orig, k, cap, found, top_n))


def _repair_hits(
    orig: Ints, k: int, cap_in: int | None, extra_max: int, top_n: int
) -> list[tuple[tuple[int, ...], Ints, Ints]]:
    """``(rank key, repaired rates, changed positions)`` of the fewest-change repairs."""
    c, n, s0 = k - 1, len(orig), sum(orig)
    found: list[tuple[tuple[int, ...], Ints, Ints]] = []
    for added in range(0, extra_max + 1):
        best = _most_sum(k, n + added, cap_in)
        if best is None or best < s0:
            continue  # too few layers to reach the RF without holes
        cap = cap_in if cap_in is not None else 1 + c * (s0 + best)
        for k_changed in range(0 if added else 1, n + 1):
            growth = 0
            while True:
                hits = _repair_level(orig, k_changed, added, s0, s0 + growth, c, cap)
                if len(hits) >= top_n or s0 + growth >= best:
                    break
                growth = max(1, 2 * growth)
            for positions, new_rates in hits:
                fixed = list(orig) + [0] * added
                for pos, v in zip(positions, new_rates):
                    fixed[pos] = v
                repaired = tuple(fixed)
                delta = sum(abs(fixed[p] - orig[p]) for p in positions if p < n)
                rising = 0 if list(repaired) == sorted(repaired) else 1
                key = (added, k_changed, sum(repaired) - s0, delta, max(repaired), rising)
                found.append(((*key, *positions), repaired, positions))
            if found:
                return found
    return found


def _repairs_from(
    orig: Ints,
    k: int,
    cap: int | None,
    found: list[tuple[tuple[int, ...], Ints, Ints]],
    top_n: int,
) -> list[Repair]:
    """The best ``top_n`` distinct repairs, each change with its reason."""
    c, n = k - 1, len(orig)
    rf0 = 1 + c * sum(orig)
    same = _most_sum(k, n, cap)
    most = 1 + c * (same if same is not None else 0)  # largest gap-free RF with n layers
    found.sort(key=lambda item: (item[0], item[1]))
    out: list[Repair] = []
    seen: set[Ints] = set()
    for _key, repaired, positions in found:
        if tuple(sorted(repaired)) in seen:
            continue  # the same multiset in another layer order has the same coverage
        seen.add(tuple(sorted(repaired)))
        changes = []
        for p in positions:
            old = orig[p] if p < n else None
            why = _explain(orig, repaired, k, p, old, repaired[p], rf0, most)
            changes.append(Change(p, old, repaired[p], why))
        out.append(Repair(orig, repaired, k, rf0, 1 + c * sum(repaired), tuple(changes)))
        if len(out) >= top_n:
            break
    return out


def _no_repair(orig: Ints, k: int, cap: int | None, extra_max: int, s0: int) -> str:
    """Why no repair exists: how many layers the RF needs at the least, and what to do."""
    n, rf0 = len(orig), 1 + (k - 1) * s0
    capped = "" if cap is None else f" and rates <= {cap}"
    need = None
    for layers in range(n + extra_max + 1, MAX_LAYERS + 1):
        best = _most_sum(k, layers, cap)
        if best is not None and best >= s0:
            need = layers
            break
    head = f"cannot repair {list(orig)} (RF {rf0}) by adding at most {extra_max} layers: "
    if need is None:
        return head + (
            f"no gap-free stack of up to {MAX_LAYERS} layers with kernel {k}{capped} reaches "
            "that RF; allow larger rates"
        )
    return head + (
        f"a gap-free RF >= {rf0} with kernel {k}{capped} needs {need} layers; raise max_added, "
        f"or search directly: atrous design --kernel {k} --target-rf {rf0}"
    )


def _repair_level(
    orig: Ints, k_changed: int, added: int, lo: int, hi: int, c: int, cap: int
) -> list[tuple[tuple[int, ...], Ints]]:
    n = len(orig)
    hits: list[tuple[tuple[int, ...], Ints]] = []
    for positions in itertools.combinations(range(n), k_changed):
        kept = tuple(sorted(orig[i] for i in range(n) if i not in positions))
        olds = sorted(positions, key=lambda p: (orig[p], p))
        for values in _fill(kept, k_changed + added, lo, hi, c, cap):
            # which new values replace old ones (rank to rank) and which go to added layers:
            # the split with the least total change
            best: tuple[int, Ints, Ints] | None = None
            for pick in itertools.combinations(range(len(values)), k_changed):
                changed = [values[i] for i in pick]
                cost = sum(abs(v - orig[p]) for v, p in zip(changed, olds))
                if best is None or cost < best[0]:
                    extra = tuple(values[i] for i in range(len(values)) if i not in pick)
                    best = (cost, tuple(changed), extra)
            assert best is not None
            assign = dict(zip(olds, best[1]))
            pos = tuple(sorted(assign)) + tuple(range(n, n + added))
            new = tuple(assign[p] for p in sorted(assign)) + best[2]
            hits.append((pos, new))
    return hits
