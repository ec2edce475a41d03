"""Text rendering of design results (:func:`atrous.design`, :func:`atrous.repair`,
:func:`atrous.pareto`) with rich tables; used by ``atrous design``.

Each function takes a result and a rich console and only displays it.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .text import fmt_si

if TYPE_CHECKING:  # type-only: rich loads when a table is printed
    from rich.console import Console
    from rich.table import Table

    from .._design import Designs, ParetoFrontier, Repairs

__all__ = ["console", "coverage_strip", "design_table", "pareto_table", "repair_text"]

BLOCKS = "▁▂▃▄▅▆▇█"


def _print_stripped(out: Console, table: Table) -> None:
    """Print a rich table without the blanks rich pads every line to the console width with."""
    with out.capture() as cap:
        out.print(table)
    out.file.write("".join(line.rstrip() + "\n" for line in cap.get().splitlines()))


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


def console() -> Console:
    """A rich console on stdout (no highlighting, no soft wrap)."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=False)


def _rates(rates: Sequence[int]) -> str:
    return ",".join(str(r) for r in rates)


REPEAT_NOTE = "R*N in the rates means rate R in N layers in a row (1*4 = 1,1,1,1)."


def _rates_short(rates: Sequence[int]) -> str:
    """Rates for a table cell: a run of 4 or more equal rates is written ``R*N`` (repeated).

    ``x`` would read as a size here (``3x3``), so the repeat is written as Python writes
    ``[1] * 4``; a note under the table says so.

    >>> _rates_short([1, 3, 9, 27, 64, 64, 64, 64]), _rates_short([1, 1, 1, 2])
    ('1,3,9,27,64*4', '1,1,1,2')
    """
    parts: list[str] = []
    for rate, run in itertools.groupby(rates):
        n = len(list(run))
        parts += [f"{rate}*{n}"] if n >= 4 else [str(rate)] * n
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


def design_table(found: Designs, out: Console) -> None:
    """The ranked candidates as a table under the question's title, then two notes."""
    from rich import box
    from rich.table import Table

    first = found[0]
    nd = first.ndim
    out.print(found.describe(), markup=False, soft_wrap=True)  # a title would be cropped
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right")
    cells = [_rates_cell(c.rates) for c in found]
    # wide enough that a rate is never split across lines (the cell folds at the width)
    longest = max(len(line) for cell in cells for line in cell.splitlines())
    table.add_column("rates", overflow="fold", min_width=longest)
    table.add_column("layers", justify="right")
    table.add_column("RF", justify="right")
    box_label = f"({'x'.join([_count(first.window)] * nd)})"
    table.add_column(
        f"paths min/max {box_label}", justify="right", min_width=min(13, len(box_label))
    )
    table.add_column("HDC rule")
    if first.params is not None:
        table.add_column("params", justify="right")
        table.add_column("MACs", justify="right")
    # the picture's width in characters: narrower on narrow terminals, so nothing is cropped
    strip = 24 if out.width >= 100 else 16 if first.params is None else 8
    label = "1-D paths across the RF" if strip >= 24 else "1-D paths" if strip >= 16 else "profile"
    table.add_column(label, no_wrap=True)
    for i, c in enumerate(found, 1):
        counts = "-"
        if c.min_count is not None and c.max_count is not None:
            counts = f"{_count(c.min_count)}/{_count(c.max_count)}"
        hdc = "-" if c.hdc is None else ("passes" if c.hdc.rule_passes else "fails")
        row = [str(i), cells[i - 1], str(c.layers), _count(c.rf), counts, hdc]
        if first.params is not None:
            row += [fmt_si(c.params), fmt_si(c.macs)]
        row.append("" if c.profile is None else coverage_strip(c.profile, strip))
        table.add_row(*row)
    _print_stripped(out, table)
    notes = [
        "All are gridding-free (exact: sorted rising, each rate <= RF of the rates before it).",
        "Layer order does not change coverage; 'HDC rule' (M_2 <= K, sawtooth, gcd 1) judges "
        "the order shown.",
    ]
    if first.profile is not None:
        notes.append(
            f"'{label}': paths to each input offset along one axis of the RF, left to right "
            "(bar height = fewest paths in the bin, relative to the most; a blank would be a hole)."
        )
    if any("*" in cell for cell in cells):
        notes.append(REPEAT_NOTE)
    for line in notes:
        out.print(line, markup=False, soft_wrap=True)


def repair_text(found: Repairs, out: Console, gridded: bool) -> None:
    """The repairs, each change on its own line with its reason."""
    first = found[0]
    state = "gridded" if gridded else "gridding-free"
    out.print(
        f"repair of [{_rates(first.original)}], kernel {first.kernel}: RF {first.rf_before}, "
        f"{state}",
        markup=False,
    )
    if not first.changes:
        out.print(
            "  nothing to change: every offset of the receptive field is reached", markup=False
        )
        return
    for i, r in enumerate(found, 1):
        n = len(r.changes)
        out.print(
            f"{i}. [{_rates(r.rates)}]  RF {r.rf}  ({n} change{'s' * (n != 1)})", markup=False
        )
        for ch in r.changes:
            old = "new layer" if ch.old is None else f"{ch.old} -> {ch.new}"
            out.print(
                f"     layer {ch.index + 1}: {old}: {ch.reason}", markup=False, soft_wrap=True
            )


def pareto_table(frontier: ParetoFrontier, out: Console) -> None:
    """Widest window per layer count (rows) and count level (columns); * marks the frontier."""
    from rich import box
    from rich.table import Table

    nd = frontier.ndim
    out.print(
        f"widest centred window per axis with >= C paths per pixel (kernel "
        f"{frontier.kernel}, rates <= {frontier.max_rate}); * = Pareto-optimal",
        markup=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("layers", justify="right")
    for level in frontier.counts:
        extra = f" ({level**nd} in {nd}-D)" if nd > 1 else ""
        table.add_column("RF (C=1)" if level == 1 else f"C={level}{extra}")
    for n in sorted({p.layers for p in frontier.points}):
        row = [str(n)]
        for level in frontier.counts:
            p = next(q for q in frontier.points if q.layers == n and q.count == level)
            if p.rates is None or p.width == 0:
                row.append("-")
            else:
                # in full ("*" marks the frontier); ", " lets a narrow terminal wrap between rates
                rates = ", ".join(str(r) for r in p.rates)
                row.append(f"{p.width}{'*' if p.optimal else ' '} [{rates}]")
        table.add_row(*row)
    _print_stripped(out, table)
