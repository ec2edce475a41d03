"""Design search: atrous.design against exhaustive enumeration, side by side.

The reference enumerates every ordered schedule of the space (``max_rate ** layers`` of them),
decides gridding by building the 1-D sumset of tap offsets as a bitmask (no criterion), and
ranks by RF. atrous.design answers the same question with the sorted-multiset search; both
top-10 lists are compared, then the ratio of wall times is printed. Finally the 8-layer /
max-rate-64 queries (64**8 ~ 2.8e14 ordered schedules) are timed with atrous alone.

Run: ``python benchmarks/design.py`` (about a minute on one core).
"""

from __future__ import annotations

import itertools
import time

import atrous

# Most uniform 8-layer cover of RF 129 with rates <= 64, top 10 (rates, 2-D min count):
# computed once by the search as it was before the vectorised child bounds, with an unlimited
# budget (max_nodes=10**9, 63 s on one core).
UNIFORM_8_TOP10 = [
    ((1, 1, 1, 1, 2, 5, 15, 45), 2209),
    ((1, 1, 1, 2, 2, 5, 15, 45), 2116),
    ((1, 1, 1, 1, 1, 5, 15, 43), 2025),
    ((1, 1, 1, 1, 1, 5, 15, 44), 2025),
    ((1, 1, 1, 1, 1, 5, 15, 45), 2025),
    ((1, 3, 3, 3, 3, 3, 15, 45), 2025),
    ((1, 1, 1, 1, 3, 5, 15, 45), 1936),
    ((1, 1, 2, 3, 3, 5, 16, 46), 1936),
    ((1, 1, 2, 3, 3, 5, 16, 47), 1936),
    ((1, 1, 3, 3, 3, 5, 16, 46), 1936),
]


def sumset_free(rates: tuple[int, ...], kernel: int) -> bool:
    reach = 1
    for r in rates:
        acc = 0
        for j in range(kernel):
            acc |= reach << (j * r)
        reach = acc
    return reach & (reach + 1) == 0


def exhaustive_top(kernel: int, layers: int, max_rate: int, top: int = 10) -> list[tuple]:
    best: dict[tuple[int, ...], int] = {}
    for rates in itertools.product(range(1, max_rate + 1), repeat=layers):
        if sumset_free(rates, kernel):
            best[tuple(sorted(rates))] = 1 + (kernel - 1) * sum(rates)
    ranked = sorted(best, key=lambda r: (-best[r], tuple(-x for x in r)))
    return ranked[:top]


def timed(fn, repeat: int = 3):  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, min(times)


def main() -> None:
    atrous.design(kernel=3, layers=2, top=1)  # warm the imports
    print("largest RF, top 10: exhaustive enumeration of ordered schedules vs atrous.design")
    print(f"{'space':<28}{'schedules':>12}{'exhaustive s':>14}{'atrous s':>11}{'ratio':>9}  same")
    for kernel, layers, max_rate in [(3, 4, 12), (3, 5, 12), (3, 6, 8), (2, 6, 10)]:
        ref, t_ref = timed(lambda k=kernel, n=layers, r=max_rate: exhaustive_top(k, n, r), 1)
        got, t_at = timed(
            lambda k=kernel, n=layers, r=max_rate: atrous.design(
                kernel=k, layers=n, max_rate=r, ndim=1
            )
        )
        same = [tuple(sorted(c.rates)) for c in got] == ref
        label = f"K={kernel} N={layers} rates<={max_rate}"
        print(
            f"{label:<28}{max_rate**layers:>12,}{t_ref:>14.3f}{t_at:>11.4f}"
            f"{t_ref / t_at:>8.0f}x  {same}"
        )

    print("\n8 layers, rates <= 64 (64**8 = 2.8e14 ordered schedules), atrous only:")
    queries = [
        ("largest RF, 8 layers", dict(kernel=3, layers=8, max_rate=64)),
        ("fewest layers, RF >= 591", dict(kernel=3, target_rf=591, max_rate=64)),
        ("fewest layers, RF >= 129", dict(kernel=3, target_rf=129, max_rate=64)),
        ("largest RF, sawtooth groups", dict(kernel=3, layers=8, max_rate=64, sawtooth=True)),
        ("RF >= 129, min 2-D count 4", dict(kernel=3, target_rf=129, max_rate=64, min_count=4)),
        ("RF >= 257, min 2-D count 2", dict(kernel=3, target_rf=257, max_rate=64, min_count=2)),
        ("RF >= 501, min 2-D count 2", dict(kernel=3, target_rf=501, max_rate=64, min_count=2)),
        ("most uniform, 6 layers, RF 129", dict(kernel=3, layers=6, target_rf=129, max_rate=64)),
        (
            "most uniform, 7 layers, RF 129, top 1",
            dict(kernel=3, layers=7, target_rf=129, max_rate=64, top=1),
        ),
        ("most uniform, 7 layers, RF 129", dict(kernel=3, layers=7, target_rf=129, max_rate=64)),
        (
            "most uniform, 8 layers, RF 129, top 1",
            dict(kernel=3, layers=8, target_rf=129, max_rate=64, top=1),
        ),
        ("most uniform, 8 layers, RF 129", dict(kernel=3, layers=8, target_rf=129, max_rate=64)),
    ]
    for label, kw in queries:
        try:
            got, t = timed(lambda kw=kw: atrous.design(**kw), 1)
        except atrous.errors.TooLargeError:
            print(f"  {label:<40}  exceeds the default node budget")
            continue
        c = got[0]
        print(f"  {label:<40}{t:>8.3f} s   best {list(c.rates)} RF {c.rf} min count {c.min_count}")
        if kw.get("layers") == 8 and kw.get("target_rf") == 129 and "top" not in kw:
            same = [(c.rates, c.min_count) for c in got] == UNIFORM_8_TOP10
            print(f"  {'':<40}  top 10 identical to the unlimited-budget reference: {same}")
    for label, kw in [
        ("pareto, rates <= 64, 6 layers", dict(kernel=3, max_rate=64)),
        ("pareto, rates <= 64, 8 layers", dict(kernel=3, max_rate=64, max_layers=8)),
    ]:
        f, t = timed(lambda kw=kw: atrous.pareto(**kw), 1)
        print(f"  {label:<40}{t:>8.3f} s   {len(f.points)} points")


if __name__ == "__main__":
    main()
