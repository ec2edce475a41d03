"""`atrous design`: gridding-free dilation schedules, repairs, and the Pareto frontier."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..errors import AtrousError
from ..render.design import coverage_strip
from ._common import add_command, check_output_path, parse_ints, parse_size, print_json

__all__ = ["Progress", "add_parser", "coverage_strip", "run"]

DESCRIPTION = """\
Search gridding-free dilation schedules for a stack of stride-1 convs, exactly.

Coverage of such a stack does not depend on the order of its layers, and with the rates sorted
ascending it has no holes exactly when every rate is at most the receptive field of the layers
before it. The search walks sorted multisets with that criterion and exact bounds (an upper
bound on every count near the window edge, whatever the remaining layers are, and the mass left
for the window), so the largest-RF and fewest-layers questions over 8 layers with rates up to
64 (about 10^14 ordered schedules) take milliseconds. The most-uniform search is exact too but
grows with the layers and --top (docs/performance.md has measured times). A most-uniform search
or --pareto table whose space holds more than 250 gridding-free rate multisets per node of
--max-nodes (100 million by default) is refused at once, naming --layers, --max-rate and
--max-nodes; a long search shows its progress on stderr and stops after --time-limit seconds of
CPU time with a hint what to narrow.

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


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "design", "search gridding-free dilation schedules; repair; Pareto frontier",
        DESCRIPTION, EPILOG, run,
    )
    _search_options(p)
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


def _search_options(p: argparse.ArgumentParser) -> None:
    """The options of the schedule search (also --layers and --max-rate for the others)."""
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
    p.add_argument("--top", type=int, default=10, help="how many results to show")
    p.add_argument(
        "--max-nodes",
        type=int,
        default=None,
        help="search budget: partial schedules visited before giving up (default: 400000); "
        "a most-uniform or --pareto space of more than 250 multisets per node is refused at once",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up a search after this many seconds of CPU time, or after about a second "
        "when it is projected to need more (default: 10)",
    )


def _sawtooth(value: str | None) -> bool | int:
    if value is None:
        return False
    if value == "any":
        return True
    try:
        return int(value)
    except ValueError:
        raise AtrousError(f"--sawtooth takes a repeat count like 2, got {value!r}") from None


def _budget(args: argparse.Namespace) -> int:
    from .._design import DEFAULT_MAX_NODES

    return DEFAULT_MAX_NODES if args.max_nodes is None else args.max_nodes


def _refuse(args: argparse.Namespace, mode: str, names: Sequence[str]) -> None:
    """One-line error for options that ``mode`` would silently ignore."""
    given = [
        n for n in names if getattr(args, n.lstrip("-").replace("-", "_")) not in (None, False)
    ]
    if given:
        raise AtrousError(f"{mode} does not use {', '.join(given)}; drop it")


def _keep_freed_memory() -> None:
    """Ask glibc's allocator to keep the memory numpy frees (this process only).

    The search allocates and frees many megabyte-sized numpy temporaries; by default glibc hands
    each back to the kernel (``munmap``, heap trim) and faults it in again on the next, which
    cost about 0.2-0.3 s of system time in the 8-layer most-uniform search (10-15% of the
    command). A short-lived command can keep it: ``mallopt`` raises the mmap and trim
    thresholds (the peak memory does not change). Nothing happens where libc is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (glibc's own: musl's mallopt is a stub)
        mallopt = libc.mallopt
    except (ImportError, OSError, AttributeError):  # no ctypes, no glibc
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # glibc's <malloc.h>
    mallopt(m_mmap_threshold, 32 << 20)  # (glibc's largest allowed value)
    mallopt(m_trim_threshold, 512 << 20)
    mallopt(m_top_pad, 64 << 20)


def _limits(args: argparse.Namespace) -> dict[str, Any]:
    """The search budgets and the progress reporter, from the options."""
    from .._design import DEFAULT_TIME_LIMIT

    _keep_freed_memory()
    limit = DEFAULT_TIME_LIMIT if args.time_limit is None else args.time_limit
    return {"max_nodes": _budget(args), "time_limit": limit, "progress": Progress()}


class Progress:
    """Progress of a long search on stderr, terminal or not.

    On a terminal one line is rewritten in place every second; elsewhere (a pipe, a log) each
    report is a line of its own, one every five seconds. Nothing is written for searches
    shorter than that.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.start = time.monotonic()
        self.last = self.start
        self.shown = False

    def __call__(self, done: float) -> None:
        if self.stream is None:  # stderr closed (``2>&-``): nowhere to report
            return
        now = time.monotonic()
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if now - self.last < (1.0 if tty else 5.0):
            return
        self.last = now
        spent = now - self.start
        text = f"atrous design: searching, {done:.0%} of the space done after {spent:.0f} s"
        self.stream.write(("\r" + text) if tty else text + "\n")
        self.stream.flush()
        self.shown = tty

    def close(self) -> None:
        """End the rewritten line on a terminal."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _run_design(args: argparse.Namespace) -> int:
    from .._design import design
    from ..render.design import console, design_table

    feature: Any = None
    if args.feature_size is not None:
        size = parse_size(args.feature_size, "feature size")
        feature = size[0] if len(size) == 1 else size
    limits = _limits(args)
    try:
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
            **limits,
        )
    finally:
        limits["progress"].close()
    if args.json:
        print_json(found.to_json())
    else:
        design_table(found, console())
    return 0


def _run_repair(args: argparse.Namespace) -> int:
    from .._design import is_gridding_free, repair
    from ..render.design import console, repair_text

    rates = parse_ints(args.repair, "--repair rates")
    found = repair(list(rates), args.kernel, max_rate=args.max_rate, top=min(args.top, 5))
    if args.json:
        print_json(found.to_json())
    else:
        repair_text(found, console(), not is_gridding_free(rates, args.kernel))
    return 0


def _run_pareto(args: argparse.Namespace) -> int:
    from .._design import pareto
    from ..render.design import console, pareto_table

    if args.png:  # refuse a path that cannot be written before the search, not after it
        check_output_path(args.png, figure=True)
    levels = parse_ints("1,2,3,4" if args.counts is None else args.counts, "--counts")
    limits = _limits(args)
    try:
        frontier = pareto(
            kernel=args.kernel,
            max_rate=16 if args.max_rate is None else args.max_rate,
            max_layers=6 if args.layers is None else args.layers,
            counts=levels,
            ndim=args.ndim,
            **limits,
        )
    finally:
        limits["progress"].close()
    if args.png:
        from ..render.figures import save_figure
        from ..render.pareto import pareto_figure

        save_figure(pareto_figure(frontier), args.png)  # an unwritable path: AtrousError
    if args.json:
        print_json(frontier.to_json())
        return 0
    out = console()
    pareto_table(frontier, out)
    if args.png:
        out.print(f"figure written to {args.png}", markup=False)
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
        _refuse(args, "--repair", ("--layers", *SEARCH_ONLY, "--max-nodes", "--time-limit"))
    elif args.pareto:
        _refuse(args, "--pareto", SEARCH_ONLY)
    if args.repair is not None:
        return _run_repair(args)
    if args.pareto:
        return _run_pareto(args)
    return _run_design(args)
