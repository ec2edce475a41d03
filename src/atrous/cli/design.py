"""`atrous design`: gridding-free dilation schedules, repairs, and the Pareto frontier."""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import AtrousError
from ._common import parse_ints, parse_size, print_json
from .draw import Formatter

__all__ = ["add_parser", "coverage_strip", "run"]

DESCRIPTION = """\
Search gridding-free dilation schedules for a stack of stride-1 convs, exactly.

Coverage of such a stack does not depend on the order of its layers, and with the rates sorted
ascending it has no holes exactly when every rate is at most the receptive field of the layers
before it. The search walks sorted multisets with that criterion and exact bounds (an upper
bound on every count near the window edge, whatever the remaining layers are, and the mass left
for the window), so the largest-RF and fewest-layers questions over 8 layers with rates up to
64 (about 10^14 ordered schedules) take milliseconds, and --min-count 2 for RF 257 or 501 about
a second. The most-uniform search is exact too but grows with the layers and --top: about 0.5 s
at 6 layers, 0.8 s (--top 1) or 6 s (--top 10) at 7 layers, 6 s at 8 layers with --top 1
(rates <= 64, RF 129); --max-nodes bounds its work.

Objectives: --layers alone: largest RF; --target-rf alone: fewest layers reaching it;
both: most uniform coverage (largest minimum path count over the centred target window).
--repair fixes a gridded schedule with the fewest changed rates; --pareto tabulates the
widest evenly covered window against layers and path count."""

EPILOG = """\
examples:
  atrous design --kernel 3 --target-rf 129              fewest layers for RF 129
  atrous design --kernel 3 --layers 4                   largest RF with 4 layers (81 = 3^4)
  atrous design --target-rf 129 --layers 6 --max-rate 64   most uniform 6-layer schedules
  atrous design --target-rf 129 --min-count 4           each pixel of the window used >= 4 times
  atrous design --layers 6 --sawtooth 2                 HDC sawtooth: one group repeated twice
  atrous design --layers 3 --channels 256 --feature-size 64   with parameter and MAC counts
  atrous design --repair 2,2,2                          nearest gridding-free schedules
  atrous design --pareto --kernel 3 --max-rate 16 --png pareto.png
  atrous design --target-rf 129 --json"""

BLOCKS = "▁▂▃▄▅▆▇█"
SCHEMA_VERSION = 1
"""Version of the ``--json`` documents (an object with ``schema_version`` and ``kind``)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "design",
        help="search gridding-free dilation schedules; repair; Pareto frontier",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=Formatter,
    )
    p.add_argument("-k", "--kernel", type=int, default=3, help="kernel size K of every layer")
    p.add_argument(
        "-n",
        "--layers",
        type=int,
        default=None,
        help="number of layers (with --pareto: the most layers tabulated)",
    )
    p.add_argument(
        "-t", "--target-rf", type=int, default=None, help="receptive field per axis to reach"
    )
    p.add_argument("-r", "--max-rate", type=int, default=None, help="largest dilation rate")
    p.add_argument(
        "-c",
        "--min-count",
        type=int,
        default=None,
        help="every pixel of the target window must have at least this many paths (N-D count)",
    )
    p.add_argument(
        "--objective",
        choices=("rf", "layers", "uniform"),
        default=None,
        help="override the objective chosen from --layers/--target-rf",
    )
    p.add_argument(
        "--first-rate-one",
        action="store_true",
        help="HDC's 'start at rate 1' (always met: every gridding-free schedule contains a 1)",
    )
    p.add_argument(
        "--sawtooth",
        nargs="?",
        const="any",
        default=None,
        metavar="REPEATS",
        help="HDC sawtooth: one rising group repeated REPEATS times (any repeat "
        "count when given alone)",
    )
    p.add_argument(
        "--ndim",
        type=int,
        choices=(1, 2, 3),
        default=2,
        help="spatial axes the counts and costs refer to",
    )
    p.add_argument(
        "--channels", type=int, default=None, help="channel width for parameter and MAC counts"
    )
    p.add_argument(
        "--feature-size",
        default=None,
        metavar="HxW",
        help="feature-map size: MACs per map, and the default --max-rate",
    )
    p.add_argument("--top", type=int, default=10, help="how many results to show (default: 10)")
    p.add_argument(
        "--max-nodes",
        type=int,
        default=None,
        help="search budget: partial schedules visited before giving up (default: 400000)",
    )
    p.add_argument(
        "--repair", metavar="RATES", default=None, help="repair this gridded schedule, e.g. 2,2,2"
    )
    p.add_argument(
        "--pareto", action="store_true", help="the frontier of window width vs layers vs path count"
    )
    p.add_argument(
        "--counts", default=None, help="per-axis path-count levels for --pareto (default: 1,2,3,4)"
    )
    p.add_argument(
        "--png",
        metavar="FILE",
        default=None,
        help="with --pareto: save the figure (.png/.svg/.pdf)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def coverage_strip(profile: Sequence[int], width: int = 24) -> str:
    """A one-line picture of a 1-D count profile: the fewest paths in each of ``width`` bins.

    Block height is the bin's minimum count relative to the profile's maximum; a space is a
    hole (count 0).

    >>> coverage_strip([1, 1, 2, 1, 2, 1, 1], width=7)
    '▄▄█▄█▄▄'
    """
    values = list(profile)
    if not values:
        return ""
    top = max(values)
    bins = min(width, len(values))
    out = []
    for b in range(bins):
        lo = b * len(values) // bins
        hi = max(lo + 1, (b + 1) * len(values) // bins)
        v = min(values[lo:hi])
        if v <= 0:
            out.append(" ")
        else:
            out.append(BLOCKS[max(0, math.ceil(v / top * len(BLOCKS)) - 1)])
    return "".join(out)


def _sawtooth(value: str | None) -> bool | int:
    if value is None:
        return False
    if value == "any":
        return True
    try:
        return int(value)
    except ValueError:
        raise AtrousError(f"--sawtooth takes a repeat count like 2, got {value!r}") from None


def _console() -> Any:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _rates(rates: Sequence[int]) -> str:
    return ",".join(str(r) for r in rates)


def _rates_short(rates: Sequence[int]) -> str:
    """Rates for a table cell: a run of 4 or more equal rates is written ``RxN``.

    >>> _rates_short([1, 3, 9, 27, 64, 64, 64, 64]), _rates_short([1, 1, 1, 2])
    ('1,3,9,27,64x4', '1,1,1,2')
    """
    parts: list[str] = []
    for rate, run in itertools.groupby(rates):
        n = len(list(run))
        parts += [f"{rate}x{n}"] if n >= 4 else [str(rate)] * n
    return ",".join(parts)


def _wrap_commas(text: str, width: int) -> str:
    """Break a comma-separated list into lines of at most ``width`` characters, after commas.

    >>> _wrap_commas("1,2,7,21,63,188,565", 10).splitlines()
    ['1,2,7,21,', '63,188,', '565']
    """
    lines, line = [], ""
    for part in text.split(","):
        piece = part if not line else "," + part
        if line and len(line) + len(piece) + 1 > width:  # +1 keeps room for the comma
            lines.append(line + ",")
            line = part
        else:
            line += piece
    return "\n".join([*lines, line])


def _count(n: int) -> str:
    """A path count for a table cell: exact below a million, else 3 significant digits.

    >>> _count(999_999), _count(19_064_293_904_970)
    ('999999', '1.91e13')
    """
    return str(n) if n < 10**6 else f"{n:.3g}".replace("e+", "e")


def _rates_cell(rates: Sequence[int], lines: int = 3) -> str:
    """The rates for a table cell: whole rates, at most ``lines`` lines of 24 characters.

    Longer lists keep their first and last rates around an ellipsis (``--json`` has them all),
    and rates of a million or more are written with 3 significant digits.

    >>> print(_rates_cell([3**i for i in range(40)]))
    1,3,9,27,81,243,729,
    2187,6561,19683,59049,
    177147,531441,…,4.05e18
    """
    text = _wrap_commas(_rates_short(rates), 24)
    if text.count("\n") < lines and max(rates) < 10**6:
        return text
    parts = [_count(r) for r in rates]
    head: list[str] = []
    for part in parts[:-1]:
        trial = _wrap_commas(",".join([*head, part, "…", parts[-1]]), 24)
        if trial.count("\n") >= lines:
            break
        head.append(part)
    return _wrap_commas(",".join([*head, "…", parts[-1]]), 24)


def _budget(args: argparse.Namespace) -> int:
    from ..design import DEFAULT_MAX_NODES

    return DEFAULT_MAX_NODES if args.max_nodes is None else args.max_nodes


def _refuse(args: argparse.Namespace, mode: str, names: Sequence[str]) -> None:
    """One-line error for options that ``mode`` would silently ignore."""
    given = [
        n for n in names if getattr(args, n.lstrip("-").replace("-", "_")) not in (None, False)
    ]
    if given:
        raise AtrousError(f"{mode} does not use {', '.join(given)}; drop it")


def _run_design(args: argparse.Namespace) -> int:
    from ..design import _feature_cap, design

    feature: Any = None
    if args.feature_size is not None:
        size = parse_size(args.feature_size, "feature size")
        feature = size[0] if len(size) == 1 else size
    found = design(
        kernel=args.kernel,
        layers=args.layers,
        target_rf=args.target_rf,
        max_rate=args.max_rate,
        objective=args.objective,
        min_count=1 if args.min_count is None else args.min_count,
        first_rate_one=args.first_rate_one,
        sawtooth=_sawtooth(args.sawtooth),
        ndim=args.ndim,
        channels=args.channels,
        feature_size=feature,
        top=args.top,
        max_nodes=_budget(args),
    )
    if args.json:
        print_json(
            {
                "schema_version": SCHEMA_VERSION,
                "kind": "design",
                "candidates": [c.to_dict() for c in found],
            }
        )
        return 0
    from rich import box
    from rich.table import Table

    first = found[0]
    nd = first.ndim
    if args.objective:
        goal = args.objective
    elif args.target_rf is None:
        goal = "rf"
    else:
        goal = "layers" if args.layers is None else "uniform"
    what = {
        "rf": f"largest RF with {args.layers} layers",
        "layers": f"fewest layers reaching RF {args.target_rf}",
        "uniform": f"most uniform {args.layers}-layer coverage of RF {args.target_rf}",
    }[goal]
    cap = "" if args.max_rate is None else f", rates <= {args.max_rate}"
    if args.max_rate is None and feature is not None:
        sizes = (feature,) * nd if isinstance(feature, int) else feature
        cap = f", rates <= {_feature_cap(sizes, first.kernel)} (from --feature-size)"
    saw = _sawtooth(args.sawtooth)
    if saw is True:
        cap += ", sawtooth: one rising group repeated"
    elif saw and saw > 1:
        cap += f", sawtooth: one rising group repeated {saw} times"
    if args.min_count is not None and args.min_count > 1:
        cap += f", every window pixel used >= {args.min_count} times"
    title = f"gridding-free schedules, kernel {first.kernel}, {nd}-D: {what}{cap}"
    console = _console()
    console.print(title, markup=False, soft_wrap=True)  # a table title would be cropped
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right")
    cells = [_rates_cell(c.rates) for c in found]
    # wide enough that a rate is never split across lines (the cell folds at the width)
    longest = max(len(line) for cell in cells for line in cell.splitlines())
    table.add_column("rates", overflow="fold", min_width=longest)
    table.add_column("layers", justify="right")
    table.add_column("RF", justify="right")
    win = first.window
    box_label = f"({'x'.join([_count(win)] * nd)})"
    width = min(13, len(box_label))
    table.add_column(f"paths min/max {box_label}", justify="right", min_width=width)
    table.add_column("HDC rule")
    if first.params is not None:
        table.add_column("params", justify="right")
        table.add_column("MACs", justify="right")
    # the picture's width in characters: narrower on narrow terminals, so nothing is cropped
    strip = 24 if console.width >= 100 else 16 if first.params is None else 8
    label = "1-D paths across the RF" if strip >= 24 else "1-D paths" if strip >= 16 else "profile"
    table.add_column(label, no_wrap=True)
    for i, c in enumerate(found, 1):
        counts = "-"
        if c.min_count is not None and c.max_count is not None:
            counts = f"{_count(c.min_count)}/{_count(c.max_count)}"
        hdc = "-" if c.hdc is None else ("passes" if c.hdc.rule_passes else "fails")
        row = [str(i), cells[i - 1], str(c.layers), _count(c.rf), counts, hdc]
        if first.params is not None:
            row += [_human(c.params), _human(c.macs)]
        row.append("" if c.profile is None else coverage_strip(c.profile, strip))
        table.add_row(*row)
    console.print(table)
    for line in (
        "All are gridding-free (exact: sorted rising, each rate <= RF of the rates before it).",
        "Layer order does not change coverage; 'HDC rule' (M_2 <= K, sawtooth, gcd 1) judges "
        "the order shown.",
    ):
        console.print(line, markup=False, soft_wrap=True)
    return 0


def _run_repair(args: argparse.Namespace) -> int:
    from ..design import is_gridding_free, repair

    rates = parse_ints(args.repair, "--repair rates")
    found = repair(list(rates), args.kernel, max_rate=args.max_rate, top=min(args.top, 5))
    if args.json:
        print_json(
            {
                "schema_version": SCHEMA_VERSION,
                "kind": "repair",
                "repairs": [r.to_dict() for r in found],
            }
        )
        return 0
    console = _console()
    rf0 = found[0].rf_before
    state = "gridding-free" if is_gridding_free(rates, args.kernel) else "gridded"
    console.print(
        f"repair of [{_rates(rates)}], kernel {args.kernel}: RF {rf0}, {state}", markup=False
    )
    if not found[0].changes:
        console.print(
            "  nothing to change: every offset of the receptive field is reached", markup=False
        )
        return 0
    for i, r in enumerate(found, 1):
        n = len(r.changes)
        console.print(
            f"{i}. [{_rates(r.rates)}]  RF {r.rf}  ({n} change{'s' * (n != 1)})", markup=False
        )
        for ch in r.changes:
            old = "new layer" if ch.old is None else f"{ch.old} -> {ch.new}"
            console.print(
                f"     layer {ch.index + 1}: {old}: {ch.reason}", markup=False, soft_wrap=True
            )
    return 0


def _run_pareto(args: argparse.Namespace) -> int:
    from ..design import pareto

    levels = parse_ints("1,2,3,4" if args.counts is None else args.counts, "--counts")
    frontier = pareto(
        kernel=args.kernel,
        max_rate=16 if args.max_rate is None else args.max_rate,
        max_layers=6 if args.layers is None else args.layers,
        counts=levels,
        ndim=args.ndim,
        max_nodes=_budget(args),
    )
    if args.png:
        from ..render.figures import save_figure
        from ..render.pareto import pareto_figure

        save_figure(pareto_figure(frontier), args.png)  # an unwritable path: AtrousError
    if args.json:
        print_json({"schema_version": SCHEMA_VERSION, "kind": "pareto", **frontier.to_dict()})
        return 0
    from rich import box
    from rich.table import Table

    nd = frontier.ndim
    console = _console()
    console.print(
        f"widest centred window per axis with >= C paths per pixel (kernel "
        f"{frontier.kernel}, rates <= {frontier.max_rate}); * = Pareto-optimal",
        markup=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("layers", justify="right")
    for level in frontier.counts:
        label = (
            "RF (C=1)"
            if level == 1
            else f"C={level}" + (f" ({level**nd} in {nd}-D)" if nd > 1 else "")
        )
        table.add_column(label)
    for n in sorted({p.layers for p in frontier.points}):
        row = [str(n)]
        for level in frontier.counts:
            p = next(q for q in frontier.points if q.layers == n and q.count == level)
            if p.rates is None or p.width == 0:
                row.append("-")
            else:
                # ", " lets a narrow terminal wrap between rates, never inside one
                rates = _rates_short(p.rates).replace(",", ", ")
                row.append(f"{p.width}{'*' if p.optimal else ' '} [{rates}]")
        table.add_row(*row)
    console.print(table)
    if args.png:
        console.print(f"figure written to {args.png}", markup=False)
    return 0


SEARCH_ONLY = (
    "--target-rf",
    "--min-count",
    "--objective",
    "--first-rate-one",
    "--sawtooth",
    "--channels",
    "--feature-size",
)


def run(args: argparse.Namespace) -> int:
    if args.repair is not None and args.pareto:
        raise AtrousError("--repair and --pareto cannot be combined")
    if args.png and not args.pareto:
        raise AtrousError("--png needs --pareto")
    if args.counts is not None and not args.pareto:
        raise AtrousError("--counts needs --pareto (the count levels of the frontier)")
    if args.repair is not None:
        _refuse(args, "--repair", ("--layers", *SEARCH_ONLY, "--max-nodes"))
    elif args.pareto:
        _refuse(args, "--pareto", SEARCH_ONLY)
    if args.repair is not None:
        return _run_repair(args)
    if args.pareto:
        return _run_pareto(args)
    return _run_design(args)
