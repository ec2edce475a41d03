"""Coverage maps: ``atrous.coverage`` against the strongest simple references, side by side.

Run: ``python benchmarks/coverage.py`` (add ``--quick`` to skip the slow 20-layer naive run).

2-D: the tutorial's per-pixel loop (``dilated_conv_all_map``, the way gridding is usually
taught) as written, on an int64 map sized to the receptive field (the tutorial uses int32 and a
fixed 31x31 map; int32 overflows on the 20-layer case, see the "max count" column); the best
numpy prototype we could write: the outer product of two 1-D profiles, each built either by
sparse shift-adds (``k`` slice additions per layer) or by one ``np.convolve`` with the dilated
kernel per layer, whichever is faster on the case (the faster one is named); and a packed big-int
prototype (the whole profile in one Python int, 64 bits per entry, ``k - 1`` shifted adds per
layer, then ``np.frombuffer`` and the outer product), the fastest simple thing we found,
though not numpy. atrous: ``coverage(stack(rates))`` in full, graph building included, as a user
calls it repeatedly ("warm": atrous keeps its computed profiles) and with every atrous cache
cleared before each run ("cold"). 1-D: the sparse shift-add (``K`` slice additions per layer,
about ten lines), the strongest simple thing a user would write. Every timing is the fastest of
repeated runs on every side; results are compared cell by cell; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

import atrous
from atrous import Conv, chain, residual, stack


def dilated_conv_one_pixel(center: tuple[int, int], feature_map: np.ndarray, k: int = 3,
                           r: int = 1, v: int = 1) -> None:
    left_top = (center[0] - ((k - 1) // 2) * r, center[1] - ((k - 1) // 2) * r)
    for i in range(k):
        for j in range(k):
            feature_map[left_top[1] + i * r][left_top[0] + j * r] += v


def dilated_conv_all_map(dilated_map: np.ndarray, k: int = 3, r: int = 1) -> np.ndarray:
    new_map = np.zeros_like(dilated_map)
    for i in range(dilated_map.shape[0]):
        for j in range(dilated_map.shape[1]):
            if dilated_map[i][j] > 0:
                dilated_conv_one_pixel((j, i), new_map, k=k, r=r, v=dilated_map[i][j])
    return new_map


def naive(rates: list[int], k: int = 3) -> np.ndarray:
    size = 2 * sum(r * (k - 1) // 2 for r in rates) + 1
    m = np.zeros((size, size), dtype=np.int64)
    m[size // 2][size // 2] = 1
    for r in rates[::-1]:
        m = dilated_conv_all_map(m, k=k, r=r)
    return m


def shift_add(rates: list[int], k: int = 3) -> np.ndarray:
    """1-D path counts by sparse shift-add: each layer adds ``k`` shifted copies."""
    arr = np.ones(1, dtype=np.int64)
    for r in rates:
        out = np.zeros(len(arr) + (k - 1) * r, dtype=np.int64)
        for t in range(k):
            out[t * r : t * r + len(arr)] += arr
        arr = out
    return arr


def prototype_2d(rates: list[int], k: int = 3) -> np.ndarray:
    """2-D path counts of square kernels: the outer product of the 1-D shift-add counts."""
    p = shift_add(rates, k)
    return np.outer(p, p)


def prototype_2d_convolve(rates: list[int], k: int = 3) -> np.ndarray:
    """The same with one ``np.convolve`` per layer (the dilated kernel: ``k`` ones ``r`` apart)."""
    p = np.ones(1, dtype=np.int64)
    for r in rates:
        kernel = np.zeros((k - 1) * r + 1, dtype=np.int64)
        kernel[::r] = 1
        p = np.convolve(p, kernel)
    return np.outer(p, p)


def prototype_2d_packed(rates: list[int], k: int = 3) -> np.ndarray:
    """The 1-D profile packed in one Python int, 64 bits per entry (no entry carries while the
    counts fit int64): each layer is ``k - 1`` shifted adds; then the outer product."""
    packed = 1
    for r in rates:
        acc = packed
        for j in range(1, k):
            acc += packed << (64 * r * j)
        packed = acc
    n = 1 + (k - 1) * sum(rates)
    p = np.frombuffer(packed.to_bytes(8 * n, "little"), dtype="<i8")
    return np.outer(p, p)


def clear_atrous_caches() -> None:
    """Forget every profile, plan and layer atrous keeps between calls (a "cold" call)."""
    from atrous import _axis_maps, _coverage, graph

    _coverage._profile.cache_clear()
    _coverage._stack_plan.cache_clear()
    _axis_maps._pattern_power.cache_clear()
    graph._STACK_CONVS.clear()


def atrous_cold(rates: list[int], kernel: int = 3, ndim: int = 2) -> Any:
    clear_atrous_caches()
    return atrous.coverage(stack(rates, kernel=kernel, ndim=ndim))


def best(fn: Callable[[], Any], budget_s: float = 0.5, max_runs: int = 2000) -> float:
    """The fastest of repeated runs (at least one, until ``budget_s`` is spent)."""
    times: list[float] = []
    start = time.perf_counter()
    while not times or (time.perf_counter() - start < budget_s and len(times) < max_runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def faults(fn: Callable[[], Any], runs: int = 20) -> float:
    """Minor page faults per call (memory the process had to get back from the OS), or NaN where
    ``resource`` is missing: a fresh array of ``n`` entries costs up to ``n / 512`` of them."""
    try:
        import resource
    except ImportError:  # not on Windows
        return float("nan")
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(runs):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / runs


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip the 20-layer naive run")
    args = ap.parse_args(argv)

    print(f"load average (1, 5, 15 min) at the start: {os.getloadavg()}")
    cases = {
        "[1,2,5]": [1, 2, 5],
        "[1,2,5,9]*2 (8 layers)": [1, 2, 5, 9] * 2,
        "sawtooth [1,2,3,5]*5 (20 layers)": [1, 2, 3, 5] * 5,
    }
    print("2-D, 3x3 kernels. 'loop': the tutorial's per-pixel loop; 'numpy': the best numpy "
          "prototype (s: shift-add, c: np.convolve); 'packed': the packed big-int prototype; "
          "'atrous': coverage(stack(rates)), graph building included, warm and cold; "
          "'chain()': coverage of the same layers built with chain() beforehand (the general "
          "engine's stride-1 chain path)")
    print(f"{'schedule':34} {'map':>9} {'max count':>10} {'loop':>9} {'numpy':>10} "
          f"{'packed':>8} {'atrous':>8} {'cold':>8} {'chain()':>8} {'loop/atrous':>12} "
          f"{'loop/cold':>10} {'atrous/numpy':>13} {'cold/numpy':>11} {'atrous/packed':>14}")
    key_rows: dict[str, float] = {}
    for label, rates in cases.items():
        fast = atrous.coverage(stack(rates))
        t_warm = best(lambda rates=rates: atrous.coverage(stack(rates)))
        t_cold = best(lambda rates=rates: atrous_cold(rates))
        built = chain([Conv(3, dilation=r, padding="same", ndim=2) for r in rates])
        t_chain = best(lambda built=built: atrous.coverage(built))
        if args.quick and len(rates) > 10:
            t_naive = float("nan")
            same = "loop skipped"
        else:
            runs = 5 if len(rates) <= 10 else 1
            t_naive = float("inf")
            for _ in range(runs):  # the fastest of 5 runs (one for the slow 20-layer case)
                t0 = time.perf_counter()
                ref = naive(rates)
                t_naive = min(t_naive, time.perf_counter() - t0)
            same = "equal" if np.array_equal(ref, fast.counts) else "DIFFERENT"
        protos = {"s": prototype_2d, "c": prototype_2d_convolve}
        t_protos = {n: best(lambda f=f, rates=rates: f(rates)) for n, f in protos.items()}
        which = min(t_protos, key=t_protos.__getitem__)
        t_proto = t_protos[which]
        t_packed = best(lambda rates=rates: prototype_2d_packed(rates))
        for n, f in [*protos.items(), ("packed", prototype_2d_packed)]:
            if not np.array_equal(f(rates), fast.counts):
                same += f", prototype {n} DIFFERENT"
        if not np.array_equal(atrous.coverage(built).counts, fast.counts):
            same += ", chain() DIFFERENT"
        size = "x".join(map(str, fast.rf_size))
        print(f"{label:34} {size:>9} {fast.max_count:>10.3g} {fmt(t_naive):>9} "
              f"{fmt(t_proto):>8} {which} {fmt(t_packed):>8} {fmt(t_warm):>8} {fmt(t_cold):>8} "
              f"{fmt(t_chain):>8} {t_naive / t_warm:>11.0f}x {t_naive / t_cold:>9.0f}x "
              f"{t_warm / t_proto:>12.2f}x {t_cold / t_proto:>10.2f}x "
              f"{t_warm / t_packed:>13.2f}x  ({same})")
        if fast.max_count > np.iinfo(np.int32).max:
            print(f"{'':34} max count > int32: the tutorial's int32 map would overflow silently")
        if len(rates) == 8:
            key_rows = {"loop": t_naive / t_warm, "loop_cold": t_naive / t_cold,
                        "numpy": t_warm / t_proto, "numpy_cold": t_cold / t_proto,
                        "packed": t_warm / t_packed}
    print(f"issue-15 target, [1,2,5,9]*2 with stack(): loop/atrous >= 1000x (2000x with margin): "
          f"{key_rows['loop']:.0f}x warm, {key_rows['loop_cold']:.0f}x cold; atrous/numpy <= "
          f"1.5x: {key_rows['numpy']:.2f}x warm, {key_rows['numpy_cold']:.2f}x cold "
          f"(packed big-int prototype: {key_rows['packed']:.2f}x warm)")

    print()
    rates40 = [1, 2, 5, 9] * 10
    g40 = stack(rates40)
    cov = atrous.coverage(g40)
    t40 = best(lambda: atrous.coverage(g40), budget_s=1.0)
    t40b = best(lambda: atrous.coverage(stack(rates40)), budget_s=1.0)
    print(f"40-layer 2-D map [1,2,5,9]*10: {'x'.join(map(str, cov.rf_size))} cells, counts up to "
          f"{cov.max_count:.3g} ({cov.exact_dtype}, exact): {fmt(t40)} "
          f"({fmt(t40b)} with building the graph)")

    rows = best(lambda: atrous.layer_gridding(g40), budget_s=1.0)
    print(f"layer_gridding of the same 40 layers (40 maps' statistics): {fmt(rows)}")

    dag = chain(Conv(3, stride=2, padding=1, ndim=2),
                [residual([Conv(3, dilation=d, padding=d, ndim=2),
                           Conv(3, dilation=d, padding=d, ndim=2)]) for d in (1, 2, 5, 9) * 2])
    cd = atrous.coverage(dag)
    tdag = best(lambda: atrous.coverage(dag), budget_s=1.0)
    print(f"DAG: stride-2 stem + 8 residual blocks (16 dilated convs): "
          f"{'x'.join(map(str, cd.rf_size))} map, {fmt(tdag)}")

    print()
    print("1-D stacks with large dilations: sparse shift-add (k slice additions per layer) vs "
          "atrous (graph built once, warm; and cold: stack() included, caches cleared; fastest "
          "of repeated runs on both sides); 'faults': minor page faults per call, shift-add / "
          "cold atrous")
    big = {
        "WaveNet [1..512]*3, k=2": ([2**i for i in range(10)] * 3, 2),
        "[1, 3, 9, ..., 3^9], k=3": ([3**i for i in range(10)], 3),
        "[1, 100, 10000, 100000], k=3": ([1, 100, 10_000, 100_000], 3),
    }
    for label, (rates, k) in big.items():
        g1 = stack(rates, kernel=k, ndim=1)
        got = atrous.coverage(g1)

        ref = shift_add(rates, k)
        t_ref = best(lambda rates=rates, k=k: shift_add(rates, k))
        t_fast = best(lambda g1=g1: atrous.coverage(g1))
        t_cold = best(lambda rates=rates, k=k: atrous_cold(rates, k, 1))
        f_ref = faults(lambda rates=rates, k=k: shift_add(rates, k))
        f_cold = faults(lambda rates=rates, k=k: atrous_cold(rates, k, 1))
        same = "equal" if np.array_equal(ref, got.counts) else "DIFFERENT"
        print(f"  {label:32} RF {got.rf_size[0]:>7}: shift-add {fmt(t_ref):>9}, atrous "
              f"{fmt(t_fast):>9} (cold, stack() included: {fmt(t_cold):>9}), ratio "
              f"{t_ref / t_fast:>6.2f}x (cold {t_ref / t_cold:>5.2f}x), faults "
              f"{f_ref:.0f} / {f_cold:.0f}  ({same})")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
