"""`atrous model TARGET --input 1x3x512x512`: analyse a real PyTorch model, layer by layer.

TARGET is ``package.module:callable`` or ``path/to/file.py:callable``; the callable is called with
no arguments and must return an ``nn.Module`` (an ``nn.Module`` instance is used as it is).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import AtrousError
from ..report import GRIDDING_AUTO_NODES
from ..units import add_unit_arguments, print_units  # ``--gridding auto``: on up to this many nodes
from ._common import HelpFormatter, parse_size

__all__ = ["add_parser", "load_model", "model_summary", "print_summary", "run"]

DESCRIPTION = """Analyse a real PyTorch model: trace it (torch.fx; forward hooks as a declared
fallback), then print every layer's geometry, output shape, receptive field (size, effective
stride, centre), parameters and MACs, and the verdicts: the output's receptive field, whether it is
global (global pooling, squeeze-excitation, ASPP image pooling), misaligned merges, gridding,
and anything atrous could not model (named by module path).

Shapes are computed on fake tensors: no real forward pass, so large inputs cost nothing."""

EPILOG = """examples:
  atrous model mypkg.models:build --input 1x3x512x512
  atrous model examples/dilated_resnet.py:build --input 1x3x513x513 --json report.json
  atrous model examples/wavenet.py:build --input 1x1x4096 --erf 8 --png wavenet.png
  atrous model torch.nn:Identity --input 1x3x8x8          (any importable callable)"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "model", help="analyse a PyTorch model (per-layer receptive fields, verdicts)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter,
    )
    p.add_argument("target", metavar="TARGET",
                   help="package.module:callable or path/to/file.py:callable (called with no "
                        "arguments to build the model)")
    p.add_argument("--input", "-i", required=True, metavar="NxCxHxW",
                   help="full input shape, e.g. 1x3x512x512 (1 to 3 spatial axes)")
    p.add_argument("--json", metavar="FILE", help="write the analysis as JSON ('-' for stdout)")
    p.add_argument("--png", metavar="FILE",
                   help="write the output's coverage map (and, with --erf, FILE-erf.png)")
    p.add_argument("--erf", type=int, default=0, metavar="N",
                   help="also measure the effective receptive field over N random inputs "
                        "(runs the model N times)")
    p.add_argument("--gridding", choices=("auto", "on", "off"), default="auto",
                   help=f"per-layer gridding column (auto: on up to {GRIDDING_AUTO_NODES} nodes)")
    p.add_argument("--no-table", action="store_true", help="print only the verdicts")
    add_unit_arguments(p)  # --sample-rate / --spacing (atrous.units)
    p.set_defaults(func=run)


# -- loading --------------------------------------------------------------------------------------
def load_model(target: str) -> Any:
    """Import ``package.module:callable`` or ``path/file.py:callable`` and build the model.

    Raises:
        AtrousError: (one line) when the import, the call or the result is wrong.

    >>> load_model("torch.nn:Identity")
    Identity()
    """
    import torch

    if ":" not in target:
        raise AtrousError(
            f"TARGET must look like package.module:callable or file.py:callable, got {target!r}")
    where, _, attr = target.rpartition(":")
    if not where or not attr:
        raise AtrousError(f"TARGET needs both a module and a callable, got {target!r}")
    try:
        if where.endswith(".py") or "/" in where or "\\" in where:
            path = Path(where)
            if not path.is_file():
                raise AtrousError(f"no such file: {where}")
            spec = importlib.util.spec_from_file_location(f"_atrous_target_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise AtrousError(f"cannot load {where} as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.resolve().parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.pop(0)
        else:
            module = importlib.import_module(where)
    except AtrousError:
        raise
    except Exception as exc:
        raise AtrousError(f"cannot import {where!r}: {type(exc).__name__}: {_line(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AtrousError(f"{where!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, torch.nn.Module):
        if not callable(obj):
            raise AtrousError(f"{target!r} is neither a callable nor an nn.Module")
        try:
            obj = obj()
        except Exception as exc:
            raise AtrousError(
                f"building the model with {attr}() failed: {type(exc).__name__}: {_line(exc)}"
            ) from None
    if not isinstance(obj, torch.nn.Module):
        raise AtrousError(f"{attr}() returned {type(obj).__name__}, not a torch.nn.Module")
    return obj


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


# -- the analysis as data ---------------------------------------------------------------------


def _xs(values: Any) -> str:
    return "x".join(str(v) for v in values)


def model_summary(graph: Any, input_size: tuple[int, ...],
                  gridding: bool | None = None) -> dict[str, Any]:
    """Everything ``atrous model`` shows, as JSON-able data.

    It is :func:`atrous.analyze`'s report (``Report.to_dict(counts=False)``: per-layer rows with
    module path, op, output shape, receptive field, gridding, params and MACs; outputs; verdicts;
    diagnostics) plus a ``"model"`` section: name, input shape, how it was traced, totals, the
    label of each output and the op that made a global receptive field global.

    Args:
        graph: a :class:`~atrous.fx.ModelGraph` from :func:`atrous.fx.to_graph`.
        input_size: the full input shape it was traced with.
        gridding: per-layer gridding; None: only for graphs of at most
            :data:`GRIDDING_AUTO_NODES` nodes.
    """
    from ..report import analyze

    if gridding is None:
        gridding = len(graph) <= GRIDDING_AUTO_NODES
    rep = analyze(graph, input_size=input_size, gridding=gridding)
    data = rep.to_dict(counts=False)
    rows = {r["name"]: r for r in data["rows"]}
    labels = getattr(graph, "output_labels", {})
    outputs = []
    for out in data["outputs"]:
        made_global = None
        if out["rf"]["is_global"]:
            around = graph.ancestors(out["name"]) | {out["name"]}
            for node in graph.layer_nodes():
                row = rows[node.name]
                if node.name in around and row["rf_global"] and not any(
                        rows[i]["rf_global"] for i in node.inputs if i in rows):
                    made_global = f"{row.get('module', node.name)} ({row.get('target', row['op'])})"
                    break
        outputs.append({"name": out["name"], "label": labels.get(out["name"]),
                        "made_global_by": made_global})
    data["model"] = {
        "name": graph.name,
        "input": list(input_size),
        "method": getattr(graph, "method", "fx"),
        "partial": bool(getattr(graph, "partial", False)),
        "params": sum(int(r.get("params", 0)) for r in data["rows"]),
        "macs": sum(int(r.get("macs", 0)) for r in data["rows"]),
        "gridding": gridding,
        "outputs": outputs,
        "verdicts": [v.to_dict() for v in rep.verdicts()],
    }
    return data


def _num(n: int) -> str:
    for unit, div in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


def _global_axes(row: dict[str, Any]) -> list[bool]:
    """Per axis: is the row's field global along it (a global axis has effective stride 0)?"""
    if not row["rf_global"]:
        return [False] * len(row["rf_size"])
    axes = [s in (0, "0") for s in row["rf_stride"]]
    return axes if any(axes) else [True] * len(axes)


def _rf_cells(row: dict[str, Any]) -> tuple[str, str, str]:
    """RF size, stride and start cells: ``-``/``global`` on the global axes only (a map pooled
    over one axis, as in strip pooling, is global along it and local along the other)."""
    glob = _global_axes(row)
    if all(glob):
        return "global", "-", "-"
    size = "x".join("global" if g else str(v) for g, v in zip(glob, row["rf_size"]))
    stride = "x".join("-" if g else str(v) for g, v in zip(glob, row["rf_stride"]))
    start = ",".join("-" if g else str(v) for g, v in zip(glob, row["rf_start"]))
    return size, stride, start


def print_summary(summary: dict[str, Any], table: bool = True, file: Any = None) -> None:
    """Print the per-layer table (rich) and the verdicts of :func:`model_summary`'s data."""
    from rich.console import Console
    from rich.table import Table

    out = file or sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    console = Console(file=out, width=None if tty else 160, color_system="auto" if tty else None,
                      highlight=False, soft_wrap=False)
    m = summary["model"]
    console.print(
        f"{m['name']}: input {_xs(m['input'])}, {len(summary['rows'])} nodes, "
        f"{_num(m['params'])} parameters, {_num(m['macs'])} MACs "
        f"(traced by {'torch.fx' if m['method'] == 'fx' else 'forward hooks'})")
    if table:
        t = Table(box=None, pad_edge=False, header_style="bold")
        for col, justify in (("module", "left"), ("op", "left"), ("geometry", "left"),
                             ("output", "right"), ("RF", "right"), ("stride", "right"),
                             ("start", "right"), ("holes", "right"), ("params", "right"),
                             ("MACs", "right")):
            t.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in summary["rows"]:
            holes = r.get("holes")
            t.add_row(
                str(r.get("module", r["name"])), str(r.get("target", r["op"])), r["geometry"],
                _xs(r.get("shape", r["output_size"] or ())), *_rf_cells(r),
                "" if holes is None else str(holes),
                _num(r["params"]) if r.get("params") else "",
                _num(r["macs"]) if r.get("macs") else "",
            )
        console.print(t)
    labels = {o["name"]: o for o in m["outputs"]}
    for v in m["verdicts"]:
        line = f"{v['label']}: {v['value']}"
        for name, o in labels.items():
            if name in v["label"] and o["label"]:
                line = line.replace(name, f"{name} ({o['label']!r})", 1)
        console.print(line, soft_wrap=True)
    for o in m["outputs"]:
        if o["made_global_by"]:
            where = f" of {o['name']}" if len(m["outputs"]) > 1 else ""
            console.print(f"Global{where}: made global by {o['made_global_by']}", soft_wrap=True)
    for d in summary["diagnostics"]:
        console.print(f"! {d}", soft_wrap=True)
    for n in summary.get("notes", []):
        console.print(f"· {n}", soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    from ..fx import to_graph
    from ..rf import receptive_field

    form = "NxCxL, NxCxHxW or NxCxDxHxW (e.g. 1x3x512x512)"
    try:
        shape = parse_size(args.input, "--input")
    except AtrousError:
        raise AtrousError(f"--input must look like {form}, got {args.input!r}") from None
    if len(shape) not in (3, 4, 5):
        raise AtrousError(f"--input must be {form}, got {args.input!r}")
    if args.erf < 0:
        raise AtrousError(f"--erf must be >= 0, got {args.erf}")
    # refuse an unwritable output before the (possibly long) analysis, not after it
    if args.json and args.json != "-":
        _check_writable(args.json, "--json")
    if args.png:
        _check_writable(args.png, "--png")
    model = load_model(args.target)
    graph = to_graph(model, shape)
    gridding = {"auto": None, "on": True, "off": False}[args.gridding]
    summary = model_summary(graph, shape, gridding)
    erf_result = None
    if args.erf:
        from ..erf import erf

        erf_result = erf(model, shape, samples=args.erf)
        summary["model"]["erf"] = {k: v for k, v in erf_result.to_dict().items()
                                   if k not in ("map", "rf")}
    if args.json == "-":
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_summary(summary, table=not args.no_table)
        if args.sample_rate or args.spacing:
            print_units(args, receptive_field(graph, shape, output=graph.outputs[0]))
        if erf_result is not None:
            which = ""
            if len(summary["outputs"]) > 1:
                which = (f" of output {erf_result.output!r} (the first; atrous.erf(..., "
                         "output=LABEL) measures another)")
            print(f"effective RF{which}: 95% of the gradient mass in "
                  f"{erf_result.fraction95:.0%} of the theoretical box ({args.erf} samples)")
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if args.png:
        _write_pngs(graph, shape, summary, erf_result, args.png)
    return 0


def _check_writable(path: str, flag: str) -> None:
    """Raise a one-line AtrousError unless ``path`` can be created or overwritten.

    It is tried for real (permission bits do not tell a root user that /proc is read-only): an
    existing file is opened for appending (its content and time stamps are untouched), a new one
    is created and removed again.
    """
    target = Path(path)
    if target.is_dir():
        raise AtrousError(f"{flag}: {path!r} is a directory, not a file")
    existed = target.exists()
    try:
        with open(target, "a" if existed else "x"):
            pass
    except OSError as exc:
        raise AtrousError(f"{flag}: cannot write {path!r}: {exc.strerror or exc}") from None
    if not existed:
        target.unlink(missing_ok=True)


def _write_pngs(graph: Any, shape: tuple[int, ...], summary: dict[str, Any], erf_result: Any,
                path: str) -> None:
    from ..render.figures import coverage_figure, save_figure

    target = Path(path)
    out = summary["outputs"][0]
    written = False
    if out["coverage"] is not None:
        from ..coverage import coverage
        from ..rf import spatial_input_size

        cov = coverage(graph, input_size=spatial_input_size(graph, shape), node=out["name"])
        save_figure(coverage_figure(cov), target)
        written = True
    if erf_result is not None and erf_result.map.ndim > 2:
        # the numbers are printed and in --json; a 3-D map has no figure
        print(f"no ERF figure: only 1-D and 2-D ERF maps can be drawn, this one is "
              f"{erf_result.map.ndim}-D", file=sys.stderr)
        if not written:
            raise AtrousError("--png: nothing to draw for a 3-D model (no coverage map, and "
                              "ERF maps can be drawn only in 1-D and 2-D)")
    elif erf_result is not None:
        erf_path = target.with_name(f"{target.stem}-erf{target.suffix or '.png'}") \
            if written else target
        save_figure(erf_result.figure(), erf_path)
        written = True
    if not written:
        why = out["coverage_error"] or "no coverage map"
        raise AtrousError(f"no coverage map to draw ({why}); add --erf N for the effective "
                          "receptive field figure")
