"""Bounded work of the design search: neighbouring spaces answer or are refused in seconds.

Runs ``atrous.design(target_rf=T, layers=N, max_rate=R)`` (most uniform, default top 10 and
budgets) for N in 7-10, R in 16/32/64, T in 65/129/257, and ``atrous.pareto(max_rate=R,
max_layers=N)`` for R in 16/32/64, N in 6-8, and prints per call the CPU seconds until the
answer or the refusal and which it was: "ok", "refused up front" (the size rule, before any
search), "refused, projected" (the most-uniform search's projection of its time after one
second exceeded the time limit), "time limit", "node budget", or "none" (no gridding-free
schedule reaches T).

Run: ``python benchmarks/design_bounded.py`` (two to three minutes on one loaded core).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import atrous
from atrous.errors import AtrousError, TooLargeError


def outcome(call: Callable[[], Any]) -> tuple[str, float]:
    t0 = time.process_time()
    try:
        call()
        what = "ok"
    except TooLargeError as exc:
        text = str(exc)
        what = (
            "refused, projected" if "would need" in text
            else "time limit" if "time limit (" in text
            else "node budget" if "visited more" in text
            else "refused up front"
        )
    except AtrousError as exc:
        what = "none" if "no gridding-free schedule" in str(exc) else f"refused: {exc}"
    return what, time.process_time() - t0


def main() -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"os.getloadavg(): {tuple(round(v, 2) for v in os.getloadavg())}")
    for n in (7, 8, 9, 10):
        for r in (16, 32, 64):
            for t in (65, 129, 257):
                what, cpu = outcome(
                    lambda n=n, r=r, t=t: atrous.design(target_rf=t, layers=n, max_rate=r)
                )
                print(f"design layers={n:<2} max_rate={r:<2} target_rf={t:<3} {cpu:6.2f} s  {what}")
    for r in (16, 32, 64):
        for n in (6, 7, 8):
            what, cpu = outcome(lambda r=r, n=n: atrous.pareto(max_rate=r, max_layers=n))
            print(f"pareto max_rate={r:<2} max_layers={n}            {cpu:6.2f} s  {what}")
    print(f"os.getloadavg() after: {tuple(round(v, 2) for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
