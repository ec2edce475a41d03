"""`atrous demo`: the main job on a built-in example, no arguments needed.

Analyses four classic dilation schedules ([2,2,2] vs [1,2,3] vs [1,2,5] vs [1,2,9]) and a small
dilated network with ASPP, prints a terminal summary, and writes an HTML report plus the figures
into ``./atrous-demo/`` (or ``-o DIR``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..arith import conv_output_size
from ..errors import AtrousError
from ._common import add_command

if TYPE_CHECKING:  # type-only: the command module loads the analyses when it runs
    from ..render.html import Intro
    from ..report import Report

__all__ = ["SCHEDULES", "DemoResult", "add_parser", "demo_network", "run", "run_demo"]

SCHEDULES: tuple[tuple[int, ...], ...] = ((2, 2, 2), (1, 2, 3), (1, 2, 5), (1, 2, 9))
"""The classic gridding comparison of the HDC paper (Wang et al., "Understanding Convolution
for Semantic Segmentation", WACV 2018) and the tutorials that teach it: stacks of 3x3 convs
with these dilation rates."""

DESCRIPTION = """\
Run atrous on a built-in example: the classic dilation schedules [2,2,2], [1,2,3], [1,2,5] and
[1,2,9] (3x3 kernels), and a small dilated network with an ASPP head. Prints the verdicts
(receptive field, exact gridding, the HDC rule as commonly stated) and writes a
self-contained HTML report with coverage maps, per-layer gridding, effective receptive fields
and a conv-arithmetic animation."""

EPILOG = """\
examples:
  atrous demo                     write ./atrous-demo/report.html and the figures
  atrous demo -o /tmp/demo        somewhere else
  atrous demo --no-model          only the schedules (no torch needed, faster)"""


@dataclass
class DemoResult:
    """What the demo produced: the output folder, the report page and every file written."""

    directory: Path
    report: Path
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    summary: list[dict[str, Any]] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    model_report: Report | None = None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "demo", "run atrous on a built-in example, write an HTML report",
        DESCRIPTION, EPILOG, run,
    )
    p.add_argument("-o", "--output", default="atrous-demo", metavar="DIR",
                   help="folder for report.html and the figures")
    p.add_argument("--no-model", action="store_true",
                   help="skip the torch network and the effective receptive fields")


def worked_example() -> list[str]:
    """The textbook worked example (64x64, 3x3, dilation 2, padding 0 -> 60x60) with its formula."""
    h = conv_output_size(64, kernel=3, dilation=2)
    return [
        "Worked example: 64x64 input, 3x3 kernel, dilation 2, padding 0, stride 1",
        f"H_out = floor((64 + 2*0 - 2*(3-1) - 1)/1) + 1 = {h}, output: {h}x{h}",
    ]


def demo_network() -> Any:
    """A small dilated network with an ASPP head (torch): stride-2 stem, two dilation-2 convs
    (which grid), ASPP with rates 2, 4, 6 and image pooling, a 1x1 classifier."""
    import torch.nn as nn

    from ..nn import ASPP

    def gn(channels: int) -> nn.Module:
        return nn.GroupNorm(4, channels)

    net = nn.Sequential()
    net.add_module("stem", nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), gn(16), nn.ReLU()))
    net.add_module("body", nn.Sequential(
        nn.Conv2d(16, 16, 3, padding=2, dilation=2), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=2, dilation=2), nn.ReLU()))
    net.add_module("aspp", ASPP(16, 16, rates=(2, 4, 6), norm=gn, dropout=0.0))
    net.add_module("classifier", nn.Conv2d(16, 5, 1))
    return net.eval()


def _stack_module(rates: tuple[int, ...]) -> Any:
    import torch.nn as nn

    return nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=r, dilation=r, bias=False) for r in rates])


_Reports: TypeAlias = "list[tuple[tuple[int, ...], Report]]"  # (rates, Report) of each schedule
_Figures = dict[tuple[int, ...], list[Any]]  # the figure items of each schedule


class _Saver:
    """Renders each figure once: the same PNG goes to a file and into the page."""

    def __init__(self, out: Path, files: list[Path]) -> None:
        self.out = out
        self.files = files

    def __call__(self, fig: Any, name: str, caption: str, alt: str) -> Any:
        from ..render import figures as F
        from ..render.html import figure_item

        png = F.figure_png(fig, dpi=90)
        self.files.append(F.save_figure(png, self.out / name))
        return figure_item(png, caption, alt=alt)


def run_demo(
    directory: str | Path = "atrous-demo",
    *,
    model: bool = True,
    echo: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo: analyse, draw, and write ``report.html`` plus figures into ``directory``.

    Args:
        directory: output folder (created if needed; an empty string is refused, ``"."`` is
            the current folder); files are written atomically.
        model: also analyse the ASPP network and measure effective receptive fields (torch).
        echo: where progress lines go (default: nowhere).

    Returns:
        A :class:`DemoResult` listing what was written.
    """
    from ..render import figures as F
    from ..render.html import write_html

    if not str(directory).strip():
        raise AtrousError(
            "-o/--output must name a folder, got an empty string (use -o . for the current one)"
        )
    say = echo or (lambda _line: None)
    start = time.perf_counter()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    save = _Saver(out, files)
    reports, summary, figs = _schedules(save)  # 1. the four classic schedules
    say(f"analysed {len(SCHEDULES)} schedules")
    intro_figures = _intro_figures(save, reports)
    say("drew the coverage maps and the dilated-conv animation")
    model_report = None  # 2. the torch part: effective RFs of two schedules, the ASPP network
    model_figs: list[Any] = []
    if model:
        model_report, model_figs = _model_part(save, figs)
        say("analysed the ASPP network and measured effective receptive fields")
    html = _page(reports, figs, model_report, model_figs, intro_figures)  # 3. the HTML report
    report = write_html(out / "report.html", html)
    files.append(report)
    data = {"schedules": summary,
            "model": None if model_report is None else model_report.to_dict(counts=False)}
    files.append(F.write_atomic(out / "summary.json", json.dumps(data, indent=2, default=str)))
    return DemoResult(out, report, files, time.perf_counter() - start, summary,
                      [rep for _, rep in reports], model_report)


def _schedules(save: _Saver) -> tuple[_Reports, list[dict[str, Any]], _Figures]:
    """Analyse :data:`SCHEDULES`: their reports, summary rows and coverage/gridding figures."""
    from .. import analyze, hdc_check
    from ..graph import stack
    from ..render import figures as F
    from ..render.html import CAPTIONS

    reports, summary = [], []
    figs: _Figures = {}
    for rates in SCHEDULES:
        rep = analyze(stack(list(rates), kernel=3))
        hdc = rep.hdc if rep.hdc is not None else hdc_check(list(rates), 3)
        cov = rep.coverage
        reports.append((rates, rep))
        summary.append({
            "rates": list(rates), "rf": "x".join(map(str, cov.rf_size)), "holes": cov.holes,
            "fraction": cov.fraction, "uniformity": cov.uniformity,
            "rule_passes": hdc.rule_passes, "gridding_free": hdc.gridding_free,
            "agrees": hdc.agrees,
        })
        name = "-".join(map(str, rates))
        figs[rates] = [
            save(F.coverage_figure(cov), f"coverage_{name}.png", CAPTIONS["coverage"],
                 f"coverage map of rates {list(rates)}"),
            save(F.gridding_strip(rep.layer_gridding), f"gridding_{name}.png",
                 CAPTIONS["gridding"], f"per-layer gridding of rates {list(rates)}"),
        ]
    return reports, summary, figs


def _intro_figures(save: _Saver, reports: _Reports) -> list[Any]:
    """The comparison of the schedules and one step of a dilated conv (plus its animation)."""
    from ..render import figures as F
    from ..render.draw import animate

    compare = save(
        F.compare_figure({f"rates {list(r)}": rep for r, rep in reports},  # their coverage
                         title="Coverage of one output unit: paths per input pixel"),
        "compare.png", "The four schedules side by side on one colour scale; hatched zeros "
                       "are holes.", "coverage comparison of the four schedules")
    save.files.append(animate(save.out / "dilated_conv.gif", "dilated", 7, kernel=3, dilation=2))
    drawing = save(
        _drawing_figure(), "dilated_conv.png",
        "A dilated convolution (kernel 3, dilation 2) on a 7x7 input, step 5 of 9: the taps "
        "(dark blue) and the holes between them (hatched); dilated_conv.gif animates every "
        "step.", "dilated convolution, one step")
    return [compare, drawing]


def _model_part(save: _Saver, figs: _Figures) -> tuple[Report, list[Any]]:
    """Effective RFs of two schedules (added to ``figs``) and the ASPP network's report."""
    from .. import analyze
    from .._erf import erf
    from ..render import figures as F
    from ..render.html import CAPTIONS

    for rates in ((2, 2, 2), (1, 2, 5)):
        res = erf(_stack_module(rates), (1, 1, 33, 33), samples=6, reinit=True,
                  progress=False)
        figs[rates].append(save(
            F.erf_figure(res, title=f"effective RF of rates {list(rates)} (random "
                                    "weights)"),
            f"erf_{'-'.join(map(str, rates))}.png", CAPTIONS["erf"],
            f"effective receptive field of rates {list(rates)}"))
    net = demo_network()
    shape = (1, 3, 64, 64)
    model_report = analyze(net, shape)
    model_figs: list[Any] = []
    if model_report.coverage is not None:
        model_figs.append(save(F.coverage_figure(model_report.coverage),
                               "coverage_aspp_net.png", CAPTIONS["coverage"],
                               "coverage map of the ASPP network"))
    if model_report.layer_gridding:
        model_figs.append(save(F.gridding_strip(model_report.layer_gridding),
                               "gridding_aspp_net.png", CAPTIONS["gridding"],
                               "per-layer gridding of the ASPP network"))
    model_figs.append(save(F.erf_figure(erf(net, shape, samples=4, progress=False)),
                           "erf_aspp_net.png", CAPTIONS["erf"],
                           "effective receptive field of the ASPP network"))
    return model_report, model_figs


def _page(
    reports: _Reports,
    figs: _Figures,
    model_report: Report | None,
    model_figs: list[Any],
    intro_figures: list[Any],
) -> str:
    """The HTML of the report page."""
    from ..render.html import page_html, section_from_report

    sections = []
    for rates, rep in reports:
        sections.append(section_from_report(
            rep, title=f"rates {list(rates)}", figures=False, extra_figures=figs[rates],
            description="A stack of three 3x3 convolutions, stride 1, 'same' padding, "
                        f"dilation rates {list(rates)}.",
        ))
    if model_report is not None:
        sections.append(section_from_report(
            model_report, title="A small dilated network with ASPP", figures=False,
            extra_figures=model_figs,
            description="Stride-2 stem, two 3x3 convs with dilation 2, an ASPP head (rates 2, "
                        "4, 6 and image pooling), a 1x1 classifier; input 1x3x64x64. The "
                        "dilated body grids, the ASPP head fills the holes.",
        ))
    intro: Intro = {
        "paragraphs": [
            ": ".join(worked_example()) + ".",
            "Three 3x3 convolutions with rates [2, 2, 2] and [1, 2, 3] reach the same 13x13 "
            "receptive field, but [2, 2, 2] reads only 49 of its 169 pixels: the gridding effect "
            "the HDC paper (Wang et al., WACV 2018) describes. [1, 2, 5] covers its 17x17 box; "
            "[1, 2, 9] leaves holes. The counts below are exact path counts, computed, not "
            "hand-drawn.",
        ],
        "figures": intro_figures,
    }
    return page_html(sections, title="atrous demo: dilated convolution, gridding and HDC",
                     subtitle="Four classic dilation schedules and a small ASPP network, "
                              "analysed exactly.",
                     intro=intro)


def _drawing_figure() -> Any:
    from ..render.draw import draw

    return draw("dilated", 7, kernel=3, dilation=2, step=4).figure


def run(args: argparse.Namespace) -> int:
    if not str(args.output).strip():
        raise AtrousError(
            "-o/--output must name a folder, got an empty string (use -o . for the current one)"
        )
    from rich.console import Console
    from rich.text import Text

    from ..render.text import render_compare, verdicts_table

    console = Console(highlight=False)
    for line in worked_example():
        console.print(line)
    result = run_demo(args.output, model=not args.no_model,
                      echo=lambda line: console.print(f"[dim]... {line}[/]"))
    with console.capture() as cap:
        console.print()
        render_compare(result.reports, console)
        if result.model_report is not None:
            console.print()
            console.print(Text("A small dilated network with ASPP (input 1x3x64x64)",
                               style="bold"))
            console.print(verdicts_table(result.model_report))
        console.print()
    # no trailing blanks (rich pads panels and tables to the console's width)
    console.file.write("\n".join(line.rstrip() for line in cap.get().split("\n")))
    console.print(f"wrote {len(result.files)} files in {result.seconds:.1f} s")
    console.print(f"open {result.report.resolve()}", soft_wrap=True)
    return 0
