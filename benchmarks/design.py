"""Design search: atrous.design against a multiset enumeration, side by side.

The reference is the strongest simple thing a user would write: since coverage does not depend
on the layer order, enumerate *multisets* of rates (``itertools.combinations_with_replacement``,
rates sorted), keep those that pass the exact criterion (each rate <= the RF of the smaller
ones), and rank them: by RF, or by the exact 1-D counts (sparse shift-add) over the centred
target window. Both top-10 lists are compared and both times printed with their ratio (the
fastest of repeated runs). Then the 8-layer / max-rate-64 queries (64**8 ~ 2.8e14 ordered
schedules, 7.9e7 gridding-free multisets) are timed with atrous alone.

First, the README's command ``atrous design --target-rf 129 --layers 8 --max-rate 64`` (most
uniform, default top 10) as a whole process (CPU time of the child from ``getrusage``), against
the multiset enumeration projected to its space: the enumeration's time per multiset, measured
on the whole 6-layer space with the same rates and target, times the 7.9e7 multisets of the
8-layer space (running it would take most of an hour).

Run: ``python benchmarks/design.py`` (a few minutes on one loaded core; ``--quick`` skips the
8-layer most-uniform searches; ``--cli-example`` runs only the first part).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

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


def criterion(rates: tuple[int, ...], kernel: int) -> bool:
    """Sorted rates are gridding-free iff each is <= the RF of the ones before it."""
    rf = 1
    for r in rates:
        if r > rf:
            return False
        rf += (kernel - 1) * r
    return True


def counts(rates: tuple[int, ...], kernel: int) -> np.ndarray:
    """Exact 1-D path counts by sparse shift-add."""
    arr = np.ones(1, dtype=np.int64)
    for r in rates:
        out = np.zeros(len(arr) + (kernel - 1) * r, dtype=np.int64)
        for t in range(kernel):
            out[t * r : t * r + len(arr)] += arr
        arr = out
    return arr


def multisets(kernel: int, layers: int, max_rate: int) -> list[tuple[int, ...]]:
    """Every gridding-free multiset of ``layers`` rates <= ``max_rate`` (rates sorted)."""
    rates = range(1, max_rate + 1)
    every = itertools.combinations_with_replacement(rates, layers)
    return [m for m in every if criterion(m, kernel)]


def reference_rf(kernel: int, layers: int, max_rate: int, top: int = 10) -> list[tuple[int, ...]]:
    """Largest RF, ties by the larger rates first (atrous's order)."""
    found = multisets(kernel, layers, max_rate)
    return sorted(found, key=lambda m: (-sum(m), tuple(-x for x in m)))[:top]


def reference_uniform(
    kernel: int, layers: int, max_rate: int, target: int, top: int = 10
) -> list[tuple[int, ...]]:
    """Largest minimum count over the centred target window, then the shorter RF, then rates."""
    ranked = []
    for m in multisets(kernel, layers, max_rate):
        length = 1 + (kernel - 1) * sum(m)
        if length < target:
            continue
        prof = counts(m, kernel)
        s = (length - target) // 2
        ranked.append((-int(prof[s : s + target].min()), length, m))
    ranked.sort()
    return [m for _, _, m in ranked[:top]]


def timed(fn, repeat: int = 3):  # type: ignore[no-untyped-def]
    """The result and the fastest CPU time (``time.process_time``: the other programs on a
    shared machine inflate wall time far more than CPU time) of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return out, min(times)


def cli_example() -> None:
    """``atrous design --target-rf 129 --layers 8 --max-rate 64`` (top 1 and the default 10) as
    whole processes, and the multiset enumeration projected to the same space."""
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"os.getloadavg(): {tuple(round(v, 2) for v in os.getloadavg())}")
    argv = [sys.executable, "-m", "atrous", "design", "--target-rf", "129", "--layers", "8",
            "--max-rate", "64", "--json"]
    cpu: dict[int, float] = {}
    for top in (1, 10):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        out = subprocess.run([*argv, "--top", str(top)], capture_output=True, text=True,
                             check=True).stdout
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[top] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        got = [(tuple(c["rates"]), c["min_count"]) for c in json.loads(out)["candidates"]]
        same = got == UNIFORM_8_TOP10[:top]
        print(f"atrous design --target-rf 129 --layers 8 --max-rate 64 --top {top}: "
              f"{cpu[top]:.2f} s CPU (whole process), {wall:.2f} s wall; "
              f"same as the unlimited-budget reference: {same}")
    # the reference's time per multiset, on the whole 6-layer space with the same rates/target
    t0 = time.process_time()
    reference_uniform(3, 6, 64, 129)
    per = (time.process_time() - t0) / len(multisets(3, 6, 64))
    n_sets = 79_433_065  # gridding-free multisets of 8 rates <= 64 (atrous._design_search._space)
    projected = per * n_sets
    print(f"multiset enumeration: {per * 1e6:.1f} us CPU per multiset (6 layers, rates <= 64, "
          f"RF 129); projected to the {n_sets:,} multisets of 8 layers: {projected:,.0f} s CPU")
    print(f"ratio, default top 10: {projected / cpu[10]:,.0f}x (reference / atrous); "
          f"target: under 2 s CPU: {'met' if cpu[10] < 2 else 'NOT met'}; "
          f"os.getloadavg() after: {tuple(round(v, 2) for v in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 8-layer most-uniform runs")
    ap.add_argument("--cli-example", action="store_true",
                    help="only the README's example (8 layers, RF 129, rates <= 64), top 1 and 10")
    args = ap.parse_args()
    cli_example()
    if args.cli_example:
        return
    print()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; uptime: {load}; "
          f"os.getloadavg(): {tuple(round(v, 2) for v in os.getloadavg())}")
    atrous.design(kernel=3, layers=2, top=1)  # warm the imports
    print("top 10, multiset enumeration (criterion + shift-add counts) vs atrous.design; "
          "fastest CPU time of 3 runs each")
    head = f"{'question':<44}{'multisets':>10}{'enumerate':>11}{'atrous':>10}{'ratio':>9}  same"
    print(head)
    for kernel, layers, max_rate, target in [
        (3, 5, 16, None), (3, 6, 16, None), (2, 8, 16, None), (3, 6, 24, None),
        (3, 5, 16, 41), (3, 6, 12, 41), (3, 6, 16, 61),
    ]:
        n_sets = len(multisets(kernel, layers, max_rate))
        if target is None:
            ref, t_ref = timed(lambda k=kernel, n=layers, r=max_rate: reference_rf(k, n, r))
            label = f"largest RF K={kernel} N={layers} rates<={max_rate}"
        else:
            ref, t_ref = timed(
                lambda k=kernel, n=layers, r=max_rate, t=target: reference_uniform(k, n, r, t)
            )
            label = f"most uniform K={kernel} N={layers} r<={max_rate} RF {target}"
        got, t_at = timed(
            lambda k=kernel, n=layers, r=max_rate, t=target: atrous.design(
                kernel=k, layers=n, target_rf=t, max_rate=r, ndim=1
            )
        )
        same = [tuple(sorted(c.rates)) for c in got] == ref
        print(f"{label:<44}{n_sets:>10,}{t_ref:>10.3f}s{t_at:>9.4f}s{t_ref / t_at:>8.1f}x  {same}")

    print("\n8 layers, rates <= 64 (64**8 = 2.8e14 ordered schedules), atrous only, CPU time:")
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
    if args.quick:
        queries = [q for q in queries if "8 layers, RF 129" not in q[0]]
    for label, kw in queries:
        try:
            got, t = timed(lambda kw=kw: atrous.design(**kw, time_limit=None), 1)
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
        ("pareto, rates <= 64, 7 layers", dict(kernel=3, max_rate=64, max_layers=7)),
        # (its space, 3.4e8 multisets over 32 points, is refused at the default budget)
        ("pareto, rates <= 64, 8 layers", dict(kernel=3, max_rate=64, max_layers=8,
                                               max_nodes=10**7)),
    ]:
        f, t = timed(lambda kw=kw: atrous.pareto(**kw, time_limit=None), 1)
        print(f"  {label:<40}{t:>8.3f} s   {len(f.points)} points")

    print("\nbounded work, default budgets (CPU time until the answer or the refusal):")
    for label, call in [
        ("most uniform, 9 layers, rates <= 32, RF 129",
         lambda: atrous.design(kernel=3, layers=9, target_rf=129, max_rate=32)),
        ("most uniform, 12 layers, RF 129",
         lambda: atrous.design(kernel=3, layers=12, target_rf=129)),
        ("pareto, rates <= 4096, 8 layers",
         lambda: atrous.pareto(kernel=3, max_rate=4096, max_layers=8)),
    ]:
        t0 = time.process_time()
        try:
            call()
            what = "answered"
        except atrous.errors.TooLargeError as exc:
            what = f"TooLargeError: {str(exc)[:70]}..."
        print(f"  {label:<44}{time.process_time() - t0:>7.2f} s CPU  {what}")


if __name__ == "__main__":
    main()
