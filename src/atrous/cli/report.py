"""`atrous report`: one self-contained HTML report for a spec, a rate schedule or a model."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import AtrousError
from ..units import Units, add_unit_arguments, print_units
from ._common import add_command, check_output_path, parse_ints, parse_size

if TYPE_CHECKING:  # type-only: the command module loads the analyses when it runs
    from .._erf import ERFResult
    from ..report import Report

__all__ = ["add_parser", "is_model_target", "load_model", "run"]

DESCRIPTION = """\
Write one self-contained HTML file (figures embedded, no network needed to open it): the
verdicts first (receptive field, exact gridding, the HDC rule as stated), the coverage map and
per-layer gridding figures, the effective receptive field for models, the HDC explanation,
diagnostics, and a sortable per-layer table.

TARGET is a layer spec ("3x3 d1, 3x3 d2"), or a model as package.module:callable or
path/to/file.py:callable (optionally with literal arguments: "net.py:build(output_stride=16)";
needs --input NxCxHxW); or give --rates."""

EPILOG = """\
examples:
  atrous report "3x3 d2, 3x3 d2, 3x3 d2" -o gridded.html
  atrous report --rates 1,2,5 --kernel 3 -o hdc.html
  atrous report mypkg.models:build --input 1x3x256x256 -o model.html
  atrous report examples/aspp_head.py:build --input 1x64x65x65 --erf-samples 0 -o aspp.html"""

def is_model_target(text: str) -> bool:
    """True when ``text`` names a model (``module:callable`` or ``file.py:callable``, arguments
    allowed), not a layer spec: ``pw:relu`` and ``opaque:roll`` are specs.

    >>> is_model_target("mypkg.models:build"), is_model_target("3x3 d2, 3x3 d2")
    (True, False)
    >>> is_model_target("pw:relu")
    False
    """
    from .model import is_model_target as model_target

    return model_target(text)


def load_model(target: str) -> Any:
    """Build the model named by ``package.module:callable`` or ``path/file.py:callable``.

    The same loader as ``atrous model`` (:func:`atrous.cli.model.load_model`): the callable is
    called with no arguments; failures raise :class:`AtrousError` in one line.
    """
    from .model import load_model as load

    return load(target)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "report", "write a self-contained HTML report (spec, rates or model)",
        DESCRIPTION, EPILOG, run,
    )
    p.add_argument("target", nargs="?", default=None,
                   help="layer spec, or package.module:callable / file.py:callable")
    p.add_argument("--rates", default=None, metavar="R,R,...",
                   help="dilation rates of a stride-1 stack instead of TARGET")
    p.add_argument("--kernel", "-k", type=int, default=3, help="kernel size for --rates")
    p.add_argument("--ndim", type=int, choices=[1, 2, 3], default=2,
                   help="spatial axes for --rates")
    p.add_argument("--input", default=None, metavar="SHAPE",
                   help="input size: spatial (64x64) for specs, full (1x3x64x64) for models")
    p.add_argument("--erf-samples", type=int, default=8, metavar="N",
                   help="random inputs for a model's effective receptive field (0: skip)")
    p.add_argument("--title", default=None, help="page title (default: from TARGET)")
    p.add_argument("-o", "--output", default="report.html", metavar="FILE",
                   help="HTML file to write")
    add_unit_arguments(p)  # --sample-rate / --spacing (atrous.units)


def build_report(args: argparse.Namespace) -> tuple[Report, ERFResult | None, str]:
    """(report, erf result or None, title) for the parsed arguments."""
    from ..report import analyze

    if args.input and "," in str(args.input):
        raise AtrousError(f"atrous report takes one input shape, --input got several "
                          f"({args.input!r}); atrous model analyses a model of several inputs")
    size = parse_size(args.input, "input size") if args.input else None
    if args.rates is not None:
        if args.target is not None:
            raise AtrousError("give TARGET or --rates, not both")
        from ..graph import stack

        rates = parse_ints(args.rates, "rates")
        graph = stack(list(rates), kernel=args.kernel, ndim=args.ndim)
        title = f"rates {list(rates)}, kernel {args.kernel}"
        return analyze(graph, size), None, title
    if args.target is None:
        raise AtrousError("give a TARGET (spec or module:callable) or --rates")
    from ..onnx._load import is_onnx_target

    if is_onnx_target(args.target):  # an ONNX file: --input optional when its shape is static
        return analyze(args.target, size), None, args.target
    if is_model_target(args.target):
        if size is None or len(size) < 3:
            raise AtrousError(
                "a model needs --input with the full shape N,C,H,W, e.g. --input 1x3x64x64"
            )
        model = load_model(args.target)
        report = analyze(model, size)
        erf = None
        if args.erf_samples < 0:
            raise AtrousError(f"--erf-samples must be >= 0, got {args.erf_samples}")
        if args.erf_samples and len(size) in (3, 4):
            from .._erf import erf as erf_fn

            erf = erf_fn(model, size, samples=args.erf_samples)
        return report, erf, args.target
    return analyze(args.target, size), None, args.target


def run(args: argparse.Namespace) -> int:
    from ..render.html import add_unit_verdicts, page_html, section_from_report, write_html
    from ..render.progress import track

    check_output_path(args.output)  # before any work
    # named stages under one progress bar (on a terminal only; large maps take seconds)
    state: dict[str, Any] = {}

    def analyse() -> None:
        state["report"], state["erf"], state["title"] = build_report(args)
        for output in state["report"].outputs:  # a global output's deferred whole-input map:
            output.coverage  # noqa: B018 - built here, the page draws it (renderers build none)

    def draw() -> None:
        state["section"] = section_from_report(state["report"], erf=state["erf"])
        add_unit_verdicts(state["section"], Units.from_args(args),  # --sample-rate, --spacing
                          state["report"].rf)

    def render() -> None:
        section = state["section"]
        state["html"] = page_html(
            [section], title=args.title or f"atrous report: {state['title'] or section.title}"
        )

    def write() -> None:
        state["out"] = write_html(args.output, state["html"])

    stages = [("analysing", analyse), ("drawing figures", draw), ("rendering HTML", render),
              ("writing", write)]
    for stage in track([f for _, f in stages], description="atrous report",
                       labels=[name for name, _ in stages]):
        stage()
    status = getattr(state["report"], "status", "complete")
    html = state["html"]
    trimmed = any(s.data_notes for s in [state["section"]])
    note = "; embedded data trimmed, full data: atrous analyze --json" if trimmed else ""
    print(f"wrote {state['out']} ({len(html) // 1024} KiB, analysis {status}{note})")
    print_units(args, state["report"].rf)  # --sample-rate / --spacing (atrous.units)
    return 0
