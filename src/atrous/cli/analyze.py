"""`atrous analyze`: receptive field, coverage map, gridding and HDC verdicts of a spec or rates.

A thin layer over :func:`atrous.analyze` (the Report) and :mod:`atrous.render.text` (the
terminal rendering); ``--png`` uses :func:`atrous.render.figures.coverage_figure`.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from typing import Any

from ..errors import AtrousError
from ..units import add_unit_arguments, add_units
from ._common import add_command, check_output_path, parse_ints, parse_size, print_json

__all__ = ["add_parser", "build_target", "run"]

DESCRIPTION = """\
Analyse a network written in the layer-spec language (or a list of dilation
rates): a per-layer table (geometry, output size, receptive field, effective
stride, centre, gridding so far), the verdicts in words (receptive field,
exact gridding, the HDC rule of Wang et al. (WACV 2018) and where it disagrees
with the exact answer, the nearest gridding-free rates) and the coverage map
of one output unit as a coloured heatmap, with
the number of paths from each input pixel in the cells when it fits
(· marks a hole: a pixel inside the receptive field that is never read).

Spec language: layers separated by commas, e.g. "3x3 d2" (conv, dilation 2,
size-keeping padding by default), "3x3 s2 p1", "maxpool 3x3 s2 p1",
"tconv 4x4 s2 p1", "up2 bilinear", "resize 65x65 bilinear", "gpool", blocks
"res(3x3, 3x3)" and
"par(1x1 | 3x3 d6 | 3x3 d12 | gpool)"; "3 d2" is 1-D, "3x3x3" 3-D.
See help(atrous.spec) for the whole grammar."""

EPILOG = """\
examples:
  atrous analyze "3x3 d2, 3x3 d2, 3x3 d2"          [2,2,2]: the classic gridding
  atrous analyze --rates 1,2,5 --kernel 3          HDC schedule: gridding-free
  atrous analyze --rates 2,3                       the stated HDC rule passes, it grids
  atrous analyze --rates 2,2,2 --compare 1,2,3     side by side
  atrous analyze "3 d1, 3 d2, 3 d9"                a 1-D spec: RF 25, holes at ±4, ±5
  atrous analyze "7x7 s2 p3, maxpool 3x3 s2 p1, res(3x3, 3x3)" --input 224x224
  atrous analyze "par(1x1 | 3x3 d6 | 3x3 d12 | gpool)" --input 65x65
  atrous analyze --rates 1,2,5 --png coverage.png  matplotlib heatmap with counts
  atrous analyze --rates 1,2,5 --json              the Report as JSON"""

_RATES = re.compile(r"^\s*(?:--rates[\s=]+)?\[?\s*\d+(?:\s*,\s*\d+)*\s*\]?\s*$")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``atrous analyze``."""
    p = add_command(
        sub, "analyze", "receptive field, coverage map, gridding and HDC verdicts",
        DESCRIPTION, EPILOG, run,
    )
    p.add_argument("spec", nargs="?", default=argparse.SUPPRESS, metavar="SPEC",
                   help='the network, e.g. "3x3 d1, 3x3 d2, 3x3 d5"')
    p.add_argument("--rates", default=argparse.SUPPRESS, metavar="R,R,...",
                   help="dilation rates of a stack of stride-1 convs instead of SPEC")
    p.add_argument("--kernel", "-k", type=int, default=None, metavar="K",
                   help="kernel size for --rates (default 3)")
    p.add_argument("--ndim", type=int, default=None, choices=(1, 2, 3),
                   help="spatial axes for --rates (default 2)")
    p.add_argument("--input", default=argparse.SUPPRESS, metavar="SIZE",
                   help="input size, e.g. 64x64: output sizes, border effects, global pooling")
    p.add_argument("--compare", default=argparse.SUPPRESS, metavar="SPEC_OR_RATES",
                   help="a second spec, or rates like 1,2,3 (same --kernel/--ndim), shown "
                   "side by side")
    p.add_argument("--png", default=argparse.SUPPRESS, metavar="FILE",
                   help="write the coverage heatmap (matplotlib, counts in the cells) to FILE "
                   "(.png, .svg or .pdf)")
    p.add_argument("--json", action="store_true", help="print the Report as JSON")
    add_unit_arguments(p)  # --sample-rate / --spacing (atrous.units)


def build_target(
    spec: str | None, rates: str | None, kernel: int = 3, ndim: int = 2
) -> Any:
    """The analysis target of the command line: a spec string, or a stack of ``rates``.

    >>> build_target(None, "1,2,5").name
    'rates 1,2,5 (kernel 3)'
    >>> build_target("3x3 d2", None)
    '3x3 d2'
    """
    from ..graph import stack

    if spec is not None and rates is not None:
        raise AtrousError("give a SPEC or --rates, not both")
    if rates is not None:
        values = parse_ints(rates.replace("[", "").replace("]", ""), "rates")
        name = f"rates {','.join(map(str, values))} (kernel {kernel})"
        return stack(list(values), kernel=kernel, ndim=ndim, name=name)
    if spec is None or not spec.strip():
        raise AtrousError("analyze needs a SPEC (e.g. \"3x3 d1, 3x3 d2\") or --rates 1,2,5")
    return spec


def _compare_target(text: str, kernel: int, ndim: int) -> Any:
    if _RATES.match(text):
        return build_target(None, re.sub(r"^\s*--rates[\s=]+", "", text), kernel, ndim)
    return build_target(text, None)


def _console() -> Any:
    """A terminal console, or (output piped) a 100-column one without colour that records."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(emoji=False)
    return Console(width=100, color_system=None, force_terminal=False, soft_wrap=False, emoji=False,
                   file=io.StringIO())


def _flush(console: Any) -> None:
    """Write a recording console's text without trailing spaces."""
    if isinstance(console.file, io.StringIO):
        text = console.file.getvalue()
        sys.stdout.write("".join(line.rstrip() + "\n" for line in text.splitlines()))


def _check_size(target: Any, size: tuple[int, ...] | None, flag: str = "--input") -> None:
    """Refuse an input size whose number of axes is not the network's (a 2-D spec with
    1x3x64x64 would otherwise be read as N x C x H x W without a word)."""
    from ..graph import as_graph

    if size is None:
        return
    ndim = as_graph(target).ndim
    if len(size) != ndim:
        example = "x".join(["64"] * ndim)
        raise AtrousError(
            f"{flag} {'x'.join(map(str, size))} has {len(size)} values, the network has {ndim} "
            f"spatial axes: give the spatial size only (e.g. {example})"
        )


def run(args: argparse.Namespace) -> int:
    """Run ``atrous analyze``."""
    from ..report import analyze

    spec, rates = getattr(args, "spec", None), getattr(args, "rates", None)
    size_text, compare = getattr(args, "input", None), getattr(args, "compare", None)
    png = getattr(args, "png", None)
    uses_rates = rates is not None or (compare is not None and bool(_RATES.match(compare)))
    if not uses_rates and (args.kernel is not None or args.ndim is not None):
        raise AtrousError(
            "--kernel and --ndim apply to --rates only; a SPEC says them itself "
            '(e.g. "5x5 d2", "1d: 3 d2")'
        )
    kernel = 3 if args.kernel is None else args.kernel
    ndim = 2 if args.ndim is None else args.ndim
    if png:
        check_output_path(png, figure=True)
    target = build_target(spec, rates, kernel, ndim)
    size = parse_size(size_text, "input size") if size_text else None
    _check_size(target, size)
    reports = [analyze(target, input_size=size)]
    if compare is not None:
        other = _compare_target(compare, kernel, ndim)
        _check_size(other, size)
        reports.append(analyze(other, input_size=size))
    if png:
        _write_png(reports, png)
    if args.json:
        if len(reports) == 1:
            print_json(add_units(reports[0].to_dict(), args, reports[0].rf))  # --sample-rate
        else:
            # every compared network's lengths in its report; the first's also at the top
            print_json(add_units({"schema_version": reports[0].schema_version,
                                  "reports": [add_units(r.to_dict(), args, r.rf)
                                              for r in reports]},
                                 args, reports[0].rf))
        return 0
    from ..render.text import render_compare, render_report
    from ..units import Units, units_lines

    units = Units.from_args(args)
    lengths = [units_lines(r.rf, units) for r in reports]  # refused before any output
    console = _console()
    if len(reports) == 1:
        render_report(reports[0], console)
    else:
        render_compare(reports, console)
    for r, lines in zip(reports, lengths):  # compared networks' lengths each named
        for line in lines:
            console.print(line if len(reports) == 1 else f"{r.target}: {line}", markup=False)
    if png:
        console.print(f"wrote {png}")
    _flush(console)
    return 0


def _write_png(reports: list[Any], path: str) -> None:
    from ..render import figures

    missing = [r for r in reports if r.coverage is None]
    if missing:
        reason = missing[0].outputs[0].coverage_error or "no coverage map"
        raise AtrousError(f"--png: no coverage map to draw for {missing[0].target!r}: {reason}")
    if len(reports) == 1:
        fig = figures.coverage_figure(reports[0].coverage, title=reports[0].target)
    else:
        fig = figures.compare_figure({r.target: r.coverage for r in reports})
    figures.save_figure(fig, path)
