"""`atrous model TARGET --input 1x3x512x512`: analyse a real PyTorch model, layer by layer.

TARGET is ``package.module:callable`` or ``path/to/file.py:callable``, optionally with literal
arguments: ``file.py:build(output_stride=16)`` (read with :func:`ast.literal_eval`, never
evaluated as code); it must return an ``nn.Module`` (an ``nn.Module`` instance is used as it is).
TARGET may also be an ONNX file (``model.onnx``), read by :mod:`atrous.onnx`.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import AtrousError, printable
from ..units import add_unit_arguments
from ._common import HelpFormatter, check_output_path, parse_size

__all__ = ["add_parser", "group_notes", "is_model_target", "load_model", "memory_estimate",
           "model_summary", "parse_input_shapes", "parse_target", "print_summary", "run"]

GRIDDING_AUTO_NODES = 120
"""``--gridding auto``: on up to this many nodes (:data:`atrous.report.GRIDDING_AUTO_NODES`,
repeated here so that ``atrous --help`` need not import the analysis; a test keeps them equal)."""

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
  atrous model torch.nn:Identity --input 1x3x8x8          (any importable callable)
  atrous model "examples/dilated_resnet.py:build(output_stride=16)" --input 1x3x513x513
  atrous model mypkg.models:build --input 1x3x224x224 --depth 2 --columns kernel,param%
  atrous model exported.onnx --input 1x3x513x513         (an ONNX file from any framework)
  atrous model mypkg.models:fusion --input 1x3x224x224,1x1x224x224     (two input tensors)

Memory (MB = 10^6 bytes) follows torchinfo's definitions: parameters and buffers as stored,
the input tensors, and forward/backward = twice the outputs of the layers that have parameters
(an activation and its gradient)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "model", help="analyse a PyTorch model (per-layer receptive fields, verdicts)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter,
    )
    p.add_argument("target", metavar="TARGET",
                   help="package.module:callable or path/to/file.py:callable, called to build "
                        "the model; literal arguments allowed: 'file.py:build(output_stride=16)'; "
                        "or an ONNX file model.onnx")
    p.add_argument("--input", "-i", metavar="NxCxHxW",
                   help="full input shape, e.g. 1x3x512x512 (1 to 3 spatial axes); several "
                        "input tensors comma-separated: 1x3x224x224,1x1x224x224; required "
                        "except for an ONNX file whose input shape is static")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="group rows by the first N parts of the module path, nested and "
                        "indented as torchinfo's depth (default: every layer, flat)")
    p.add_argument("--columns", default="", metavar="COL,...",
                   help="extra table columns: kernel (weight shape), param%% (share of all "
                        "parameters), trainable")
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
_TARGET = re.compile(r"^(?P<where>[^\s(),]+?):(?P<attr>[A-Za-z_][\w.]*)(?:\((?P<args>.*)\))?$",
                     re.DOTALL)
_SPEC_PREFIXES = {"pw", "dense", "opaque"}


def parse_target(target: str) -> tuple[str, str, tuple[Any, ...], dict[str, Any]]:
    """Split ``where:callable(args)`` into ``(where, callable, args, kwargs)``.

    The arguments must be Python literals (numbers, strings, tuples, lists, dicts, True/False/
    None): they are read with :func:`ast.literal_eval`, never evaluated as code.

    >>> parse_target("examples/dilated_resnet.py:build(output_stride=16)")
    ('examples/dilated_resnet.py', 'build', (), {'output_stride': 16})
    >>> parse_target("torch.nn:Conv2d(3, 8, kernel_size=3, dilation=(2, 2))")
    ('torch.nn', 'Conv2d', (3, 8), {'kernel_size': 3, 'dilation': (2, 2)})
    >>> parse_target("m.py:build(__import__('os'))")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: TARGET arguments must be literals (numbers, strings, ...
    """
    m = _TARGET.match(target.strip())
    if m is None:
        raise AtrousError(
            "TARGET must look like package.module:callable or file.py:callable (optionally "
            f"with literal arguments: file.py:build(output_stride=16)), got {target!r}")
    where, attr, text = m.group("where"), m.group("attr"), m.group("args")
    if text is None or not text.strip():
        return where, attr, (), {}
    literal = ("TARGET arguments must be literals (numbers, strings, tuples, lists, dicts, "
               f"True/False/None), got {text!r}")
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except (SyntaxError, ValueError):
        raise AtrousError(f"cannot read the arguments of TARGET {target!r}: {text!r}") from None
    if not isinstance(call, ast.Call):  # pragma: no cover  (f(...) always parses as a call)
        raise AtrousError(literal)
    try:
        args = tuple(ast.literal_eval(a) for a in call.args)
        kwargs = {}
        for kw in call.keywords:
            if kw.arg is None:
                raise ValueError("**")
            kwargs[kw.arg] = ast.literal_eval(kw.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise AtrousError(literal) from None
    return where, attr, args, kwargs


def is_model_target(text: str) -> bool:
    """True when ``text`` names a model (``module:callable`` or ``file.py:callable``, with or
    without arguments) rather than a layer spec (``pw:relu``, ``opaque:roll``, ``3x3 d2``).

    >>> is_model_target("mypkg.models:build"), is_model_target("3x3 d2, 3x3 d2")
    (True, False)
    >>> is_model_target("pw:relu"), is_model_target("net.py:build(output_stride=8)")
    (False, True)
    """
    m = _TARGET.match(text.strip())
    if m is None:
        return False
    where = m.group("where")
    return where.lower() not in _SPEC_PREFIXES and not re.fullmatch(r"\d+d", where.lower())


def load_model(target: str) -> Any:
    """Import ``package.module:callable`` or ``path/file.py:callable`` and build the model.

    ``file.py:build(output_stride=16)`` passes literal arguments (:func:`parse_target`). A file
    that does not exist is refused before torch is imported.

    Raises:
        AtrousError: (one line) when the import, the call or the result is wrong.

    >>> load_model("torch.nn:Identity")
    Identity()
    >>> load_model("torch.nn:Conv1d(1, 2, 3, dilation=4)")
    Conv1d(1, 2, kernel_size=(3,), stride=(1,), dilation=(4,))
    """
    where, attr, args, kwargs = parse_target(target)
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    path = Path(where)
    if is_file and not path.is_file():
        raise AtrousError(f"no such file: {where}")
    import torch

    try:
        if is_file:
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
    called = f"{attr}({_call_text(args, kwargs)})"
    if isinstance(obj, torch.nn.Module):
        if args or kwargs:
            raise AtrousError(f"{attr!r} is an nn.Module instance; it takes no arguments")
    else:
        if not callable(obj):
            raise AtrousError(f"{target!r} is neither a callable nor an nn.Module")
        try:
            obj = obj(*args, **kwargs)
        except Exception as exc:
            raise AtrousError(
                f"building the model with {called} failed: {type(exc).__name__}: {_line(exc)}"
            ) from None
    if not isinstance(obj, torch.nn.Module):
        raise AtrousError(f"{called} returned {type(obj).__name__}, not a torch.nn.Module")
    return obj


def _call_text(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


# -- the analysis as data ---------------------------------------------------------------------


def _xs(values: Any) -> str:
    return "x".join(str(v) for v in values)


def model_summary(graph: Any, input_size: tuple[int, ...] | None,
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
        "input": list(input_size or ()),
        "method": getattr(graph, "method", "fx"),
        "partial": bool(getattr(graph, "partial", False)),
        "params": sum(int(r.get("params", 0)) for r in data["rows"]),
        "macs": sum(int(r.get("macs", 0)) for r in data["rows"]),
        "gridding": gridding,
        "outputs": outputs,
        "verdicts": [v.to_dict() for v in rep.verdicts()],
    }
    return data


_HOW = {"fx": "traced by torch.fx", "hooks": "traced by forward hooks", "onnx": "read from ONNX"}


def parse_input_shapes(text: str) -> list[tuple[int, ...]]:
    """``--input``: one full shape, or several comma-separated (one per input tensor).

    >>> parse_input_shapes("1x3x224x224,1x1x224x224")
    [(1, 3, 224, 224), (1, 1, 224, 224)]
    """
    form = "NxCxL, NxCxHxW or NxCxDxHxW (e.g. 1x3x512x512; several inputs: 1x3x64x64,1x1x64x64)"
    shapes = []
    for part in str(text).split(","):
        try:
            shape = parse_size(part.strip(), "--input")
        except AtrousError as exc:
            why = str(exc) if ">= 1" in str(exc) else f"--input must look like {form}"
            raise AtrousError(f"{why}, got {text!r}" if ">= 1" not in why else why) from None
        if len(shape) not in (3, 4, 5):
            raise AtrousError(f"--input must be {form}, got {text!r}")
        shapes.append(shape)
    if len({len(s) for s in shapes}) > 1:
        raise AtrousError(f"every --input shape needs the same number of axes, got {text!r}")
    return shapes


_MB = 10**6


def memory_estimate(model: Any, summary: dict[str, Any],
                    inputs: list[tuple[int, ...]]) -> dict[str, Any]:
    """Parameter counts and memory in bytes, by torchinfo's definitions.

    - ``params`` / ``trainable`` / ``frozen``: distinct parameters (shared ones once), split by
      ``requires_grad``; ``param_bytes``: their ``numel * element_size`` (torchinfo's "Params
      size"); ``buffer_bytes``: the buffers (batch-norm statistics), which torchinfo leaves out.
    - ``input_bytes``: the input tensors at the model's floating dtype (torchinfo's "Input size").
    - ``forward_backward_bytes``: twice the output of every layer that has parameters (an
      activation and its gradient), torchinfo's "Forward/backward pass size".
    - ``total_bytes``: input + forward/backward + parameters, torchinfo's "Estimated Total Size".
    """
    import math

    params = list(model.parameters())  # distinct tensors: a shared parameter counts once
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    floats = [p for p in params if p.is_floating_point()]
    itemsize = floats[0].element_size() if floats else 4
    input_bytes = sum(math.prod(s) for s in inputs) * itemsize
    act = 0
    for r in summary["rows"]:
        shape = r.get("shape")
        if r.get("params") and shape:
            act += math.prod(int(v) for v in shape) * itemsize
    return {
        "params": total, "trainable": trainable, "frozen": total - trainable,
        "param_bytes": param_bytes, "buffer_bytes": buffer_bytes, "input_bytes": input_bytes,
        "forward_backward_bytes": 2 * act,
        "total_bytes": input_bytes + 2 * act + param_bytes,
    }


def _mb(n: int) -> str:
    return f"{n / _MB:.2f} MB"


def _group_rows(rows: list[dict[str, Any]], depth: int) -> list[dict[str, Any]]:
    """Rows grouped by the first ``depth`` parts of their module path, with a header row for
    each enclosing module (torchinfo's nested view). A group shows its last row's output and
    receptive field and the sum of its parameters and MACs; ``level`` is the nesting depth."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, ...]] = set()
    index: dict[tuple[str, ...], dict[str, Any]] = {}

    def totals(prefix: tuple[str, ...]) -> tuple[int, int]:
        p = m = 0
        for r in rows:
            parts = tuple(str(r.get("module", r["name"])).split("."))
            if parts[:len(prefix)] == prefix:
                p += int(r.get("params") or 0)
                m += int(r.get("macs") or 0)
        return p, m

    last: tuple[str, ...] | None = None
    for r in rows:
        parts = tuple(str(r.get("module", r["name"])).split("."))
        key = parts[:depth]
        for k in range(1, len(key)):
            head = key[:k]
            if head not in seen:
                seen.add(head)
                p, m = totals(head)
                out.append({"name": ".".join(head), "module": ".".join(head), "op": "",
                            "target": "", "geometry": "", "header": True, "level": k - 1,
                            "params": p, "macs": m, "rf_global": False, "rf_size": [],
                            "rf_stride": [], "rf_start": []})
        if key == last and key in index:
            g = index[key]
            for f in ("shape", "output_size", "rf_size", "rf_stride", "rf_start", "rf_global",
                      "holes"):
                if f in r:
                    g[f] = r[f]
            g["params"] = int(g.get("params") or 0) + int(r.get("params") or 0)
            g["macs"] = int(g.get("macs") or 0) + int(r.get("macs") or 0)
            g["_count"] += 1
            continue
        g = dict(r)
        g["module"] = ".".join(key)
        g["level"] = len(key) - 1
        g["_count"] = 1
        g["_first"] = r
        index[key] = g
        seen.add(key)
        out.append(g)
        last = key
    for g in out:
        if g.get("_count", 1) > 1:  # a group of several layers: no single op or geometry
            g["target"] = g["op"] = f"{g['_count']} layers"
            g["geometry"] = ""
    return out


def _kernel_shape(model: Any, path: str) -> str:
    try:
        weight = model.get_submodule(path).weight
    except (AttributeError, ValueError):
        return ""
    return "x".join(str(v) for v in getattr(weight, "shape", ()))


def print_summary(summary: dict[str, Any], table: bool = True, file: Any = None, *,
                  depth: int | None = None, columns: tuple[str, ...] = (),
                  model: Any = None) -> None:
    """Print the per-layer table (rich) and the verdicts of :func:`model_summary`'s data.

    Args:
        depth: group rows by the first ``depth`` parts of the module path (nested, indented).
        columns: extra columns: ``"kernel"`` (weight shape; needs ``model``), ``"param%"``,
            ``"trainable"`` (needs ``model``).
        model: the ``nn.Module`` (for the kernel and trainable columns).

    Module names are shown with control characters escaped (:func:`atrous.errors.printable`).
    """
    from rich.console import Console
    from rich.table import Table

    from ..render.text import fmt_compact, rf_cells

    out = file or sys.stdout
    tty = bool(getattr(out, "isatty", lambda: False)())
    console = Console(file=out, width=None if tty else 160, color_system="auto" if tty else None,
                      highlight=False, soft_wrap=False, markup=False, emoji=False)
    m = summary["model"]
    inputs = m.get("inputs") or [m["input"]]
    console.print(
        f"{printable(str(m['name']))}: input {', '.join(_xs(s) for s in inputs)}, "
        f"{len(summary['rows'])} nodes, "
        f"{fmt_compact(m['params'])} parameters, {fmt_compact(m['macs'])} MACs "
        f"({_HOW.get(m['method'], m['method'])})")
    if table:
        rows = summary["rows"] if depth is None else _group_rows(summary["rows"], depth)
        total_params = max(int(m["params"]), 1)
        t = Table(box=None, pad_edge=False, header_style="bold")
        cols = [("module", "left"), ("op", "left"), ("geometry", "left"), ("output", "right"),
                ("RF", "right"), ("stride", "right"), ("start", "right"), ("holes", "right")]
        if "kernel" in columns:
            cols.append(("kernel", "right"))
        cols += [("params", "right")]
        if "param%" in columns:
            cols.append(("param%", "right"))
        if "trainable" in columns:
            cols.append(("trainable", "right"))
        cols.append(("MACs", "right"))
        for col, justify in cols:
            t.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in rows:
            holes = r.get("holes")
            name = printable(str(r.get("module", r["name"])))
            if depth is not None:
                name = "  " * int(r.get("level", 0)) + name
            path = str(r.get("module", r["name"]))
            params = int(r.get("params") or 0)
            header = bool(r.get("header"))
            cells = {
                "module": name, "op": printable(str(r.get("target", r["op"]))),
                "geometry": printable(str(r["geometry"])),
                "output": "" if header else _xs(r.get("shape", r.get("output_size") or ())),
                "holes": "" if holes is None or header else str(holes),
                "kernel": _kernel_shape(model, path) if model is not None and not header
                and r.get("_count", 1) == 1 else "",
                "params": fmt_compact(params) if params else "",
                "param%": f"{100 * params / total_params:.1f}%" if params else "",
                "trainable": fmt_compact(_trainable(model, path)) if model is not None and params
                and not header else "",
                "MACs": fmt_compact(r["macs"]) if r.get("macs") else "",
            }
            rf = ("", "", "") if header else rf_cells(r, coord=str)
            cells["RF"], cells["stride"], cells["start"] = rf
            t.add_row(*(cells[c] for c, _ in cols))
        with console.capture() as cap:
            console.print(t)
        # no trailing blanks (rich pads every cell to its column's width)
        console.file.write("\n".join(line.rstrip() for line in cap.get().splitlines()) + "\n")
    mem = m.get("memory")
    if mem:
        console.print(
            f"Parameters: {mem['params']:,} ({mem['trainable']:,} trainable, "
            f"{mem['frozen']:,} frozen)", soft_wrap=True)
        console.print(
            f"Memory: parameters {_mb(mem['param_bytes'])}, buffers {_mb(mem['buffer_bytes'])}, "
            f"input {_mb(mem['input_bytes'])}, forward/backward "
            f"{_mb(mem['forward_backward_bytes'])}; total {_mb(mem['total_bytes'])} "
            "(torchinfo's estimate: parameters + input + forward/backward)", soft_wrap=True)
    labels = {o["name"]: o for o in m["outputs"]}
    for v in m["verdicts"]:
        line = f"{v['label']}: {v['value']}"
        for name, o in labels.items():
            if name in v["label"] and o["label"]:
                line = line.replace(name, f"{name} ({o['label']!r})", 1)
        console.print(printable(line), soft_wrap=True)
    for o in m["outputs"]:
        if o["made_global_by"]:
            where = f" of {o['name']}" if len(m["outputs"]) > 1 else ""
            console.print(printable(f"Global{where}: made global by {o['made_global_by']}"),
                          soft_wrap=True)
    for d in summary["diagnostics"]:
        console.print(printable(f"! {d}"), soft_wrap=True)
    for n in group_notes(summary.get("notes", [])):
        console.print(printable(f"· {n}"), soft_wrap=True)


def group_notes(notes: list[str], keep: int = 3) -> list[str]:
    """Notes with more than ``keep`` repeats of one kind (the same text at other nodes, numbers
    aside) folded into one line naming the other nodes (``--json`` keeps every note).

    >>> group_notes([f"add_{i}: centres differ ({i}, 0)" for i in range(5)])  # doctest: +ELLIPSIS
    ['add_0: centres differ (0, 0) [the same, ... at 4 more nodes: add_1, add_2, add_3, add_4]']
    """
    import re

    groups: dict[str, list[tuple[str, str]]] = {}
    for note in notes:
        m = re.match(r"^(\S+): (.*)$", note, re.DOTALL)
        name, body = (m.group(1), m.group(2)) if m else ("", note)
        key = re.sub(r"-?\d+(?:/\d+)?(?:\.\d+)?", "#", body) if m else note
        groups.setdefault(key, []).append((name, note))
    out: list[str] = []
    for items in groups.values():
        if len(items) <= keep:
            out.extend(note for _, note in items)
            continue
        names = [name for name, _ in items[1:]]
        shown = ", ".join(names) if len(names) <= 6 else ", ".join(names[:5]) + f", ... {names[-1]}"
        out.append(f"{items[0][1]} [the same, with other numbers, at {len(names)} more nodes: "
                   f"{shown}]")
    return out


def _trainable(model: Any, path: str) -> int:
    try:
        mod = model.get_submodule(path)
    except (AttributeError, ValueError):
        return 0
    return sum(p.numel() for p in mod.parameters() if p.requires_grad)


COLUMNS = ("kernel", "param%", "trainable")


def run(args: argparse.Namespace) -> int:
    from ..onnx._load import is_onnx_target

    onnx_file = is_onnx_target(args.target)
    if args.input is None and not onnx_file:
        raise AtrousError("atrous model needs --input NxCxHxW (e.g. 1x3x512x512) for a PyTorch "
                          "model")
    shapes = parse_input_shapes(args.input) if args.input is not None else []
    if args.erf < 0:
        raise AtrousError(f"--erf must be >= 0, got {args.erf}")
    if args.erf and len(shapes) > 1:
        raise AtrousError("--erf measures a model with one input tensor; this --input gives "
                          f"{len(shapes)}")
    if args.depth is not None and args.depth < 1:
        raise AtrousError(f"--depth must be >= 1, got {args.depth}")
    columns = tuple(c for c in args.columns.replace(" ", "").split(",") if c)
    for c in columns:
        if c not in COLUMNS:
            raise AtrousError(f"--columns: unknown column {c!r} (choose from {', '.join(COLUMNS)})")
    # refuse an unwritable output before the (possibly long) analysis, not after it
    if args.json and args.json != "-":
        _check_writable(args.json, "--json")
    if args.png:
        _check_writable(args.png, "--png")
    shape: Any = None if not shapes else shapes[0] if len(shapes) == 1 else shapes
    if onnx_file:  # an ONNX file: read, not run
        if args.erf:
            raise AtrousError("--erf runs the model: it needs a PyTorch model, not an ONNX file")
        model = None
        from ..graph import to_graph

        graph = to_graph(args.target, shape)
        if not shapes:  # the file's static input shape
            shapes = [tuple(graph.input_shape)]
    else:
        model = load_model(args.target)
        from ..fx import to_graph as fx_to_graph

        graph = fx_to_graph(model, shape)
    gridding = {"auto": None, "on": True, "off": False}[args.gridding]
    spatial = {s[2:] for s in shapes}
    summary = model_summary(graph, shapes[0] if len(spatial) == 1 else None, gridding)
    if len(shapes) > 1:
        summary["model"]["input"] = list(shapes[0])
        summary["model"]["inputs"] = [list(s) for s in shapes]
    if model is not None:
        summary["model"]["memory"] = memory_estimate(model, summary, shapes)
    erf_result = None
    if args.erf:
        from .._erf import erf

        erf_result = erf(model, shape, samples=args.erf)
        summary["model"]["erf"] = {k: v for k, v in erf_result.to_dict().items()
                                   if k not in ("map", "rf")}
    if args.sample_rate or args.spacing:  # the "units" member (atrous.units)
        from ..rf import receptive_field
        from ..units import add_units

        add_units(summary, args, receptive_field(graph, shape, output=graph.outputs[0]))
    if args.json == "-":
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_summary(summary, table=not args.no_table, depth=args.depth, columns=columns,
                      model=model)
        for line in summary.get("units", {}).get("text", []):
            print(line)
        if erf_result is not None:
            which = ""
            if len(summary["outputs"]) > 1:
                which = (f" of output {erf_result.output!r} (the first; atrous.erf(..., "
                         "output=LABEL) measures another)")
            print(f"effective RF{which}: 95% of the gradient mass in "
                  f"{erf_result.fraction95:.0%} of the theoretical box ({args.erf} samples)")
        if args.json:
            from ..render.figures import write_atomic

            write_atomic(args.json, json.dumps(summary, indent=2) + "\n")
    if args.png:
        _write_pngs(graph, shapes[0], summary, erf_result, args.png)
    return 0


def _check_writable(path: str, flag: str) -> None:
    """Raise a one-line AtrousError (naming ``flag``) unless ``path`` can be written: a regular
    file or a new one in a folder a temporary file can be made in (see
    :func:`~atrous.cli._common.check_output_path`)."""
    try:
        check_output_path(path)
    except AtrousError as exc:
        raise AtrousError(f"{flag}: {exc}") from None


def _write_pngs(graph: Any, shape: tuple[int, ...], summary: dict[str, Any], erf_result: Any,
                path: str) -> None:
    from ..render.figures import coverage_figure, save_figure

    target = Path(path)
    out = summary["outputs"][0]
    written = False
    if out["coverage"] is not None:
        from .._coverage import coverage
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
