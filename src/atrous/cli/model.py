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
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AtrousError
from ..units import add_unit_arguments
from ._common import add_command, check_output_path, parse_size

if TYPE_CHECKING:
    from ..summary import ModelSummary

__all__ = ["add_parser", "is_model_target", "load_model", "parse_input_shapes", "parse_target",
           "run"]

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


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "model", "analyse a PyTorch model (per-layer receptive fields, verdicts)",
        DESCRIPTION, EPILOG, run,
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


COLUMNS = ("kernel", "param%", "trainable")
"""``--columns``: the optional columns of :func:`atrous.render.text.model_table` (repeated here
so that ``atrous --help`` need not import the renderer; a test keeps them equal)."""


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
    model = None
    if onnx_file:  # an ONNX file: read, not run
        if args.erf:
            raise AtrousError("--erf runs the model: it needs a PyTorch model, not an ONNX file")
        from ..graph import to_graph

        graph = to_graph(args.target, shape)
    else:
        model = load_model(args.target)
        from ..fx import to_graph as fx_to_graph

        graph = fx_to_graph(model, shape)
    from ..summary import summarize

    summary = summarize(graph, shapes, gridding={"auto": None, "on": True, "off": False}[
        args.gridding], model=model, erf_samples=args.erf)
    if args.sample_rate or args.spacing:  # the "units" member (atrous.units)
        from ..units import Units, units_dict

        summary.units = units_dict(summary.report.rf, Units.from_args(args))
    if args.json == "-":
        sys.stdout.write(summary.to_json() + "\n")
    else:
        from ..render.text import render_model

        render_model(summary, table=not args.no_table, depth=args.depth, columns=columns)
        for line in (summary.units or {}).get("text", []):
            print(line)
        if summary.erf is not None:
            which = ""
            if len(summary.outputs) > 1:
                which = (f" of output {summary.erf.output!r} (the first; atrous.erf(..., "
                         "output=LABEL) measures another)")
            print(f"effective RF{which}: 95% of the gradient mass in "
                  f"{summary.erf.fraction95:.0%} of the theoretical box ({args.erf} samples)")
        if args.json:
            from ..render.figures import write_atomic

            write_atomic(args.json, summary.to_json() + "\n")
    if args.png:
        _write_pngs(summary, args.png)
    return 0


def _check_writable(path: str, flag: str) -> None:
    """Raise a one-line AtrousError (naming ``flag``) unless ``path`` can be written: a regular
    file or a new one in a folder a temporary file can be made in (see
    :func:`~atrous.cli._common.check_output_path`)."""
    try:
        check_output_path(path)
    except AtrousError as exc:
        raise AtrousError(f"{flag}: {exc}") from None


def _write_pngs(summary: ModelSummary, path: str) -> None:
    from ..render.figures import coverage_figure, save_figure

    target = Path(path)
    out = summary.report.outputs[0]
    erf_result = summary.erf
    written = False
    if not out.deferred and out.coverage is not None:  # never build a whole-input map here
        save_figure(coverage_figure(out.coverage), target)
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
        why = out.to_dict(counts=False)["coverage_error"] or "no coverage map"
        raise AtrousError(f"no coverage map to draw ({why}); add --erf N for the effective "
                          "receptive field figure")
