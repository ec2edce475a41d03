"""One call -> its layer (or why it has none) and exact notes: padding modes, norm statistics."""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

from .._axis_maps import prod as _prod
from ..errors import AtrousError
from ..layers import Conv, ConvTranspose, Layer, Pointwise
from .functions import _BINARY, _PERMUTES, _UNARY, _VIEWS, _as_list
from .modules import _ACTIVATION_MODULES
from .plumbing import _first_line
from .registry import (
    OpCall,
    TensorInfo,
    Unsupported,
    _function_converter,
    _module_converter,
    _norm_subclass,
)


def _target_name(call: OpCall) -> str:
    t = call.target
    if isinstance(t, str):
        return t
    if hasattr(t, "forward") and hasattr(t, "training"):
        return type(t).__name__
    return call.name


def _macs(layer: Layer, call: OpCall) -> int:
    if not call.inputs:
        return 0
    x = call.inputs[0].shape
    y = call.output.shape
    if isinstance(layer, Conv) and len(x) >= 2:
        return _prod(y) * (x[1] // layer.groups) * _prod(layer.kernel)
    if isinstance(layer, ConvTranspose) and len(y) >= 2:
        return _prod(x) * (y[1] // layer.groups) * _prod(layer.kernel)
    if call.name in ("linear", "Linear") and x:
        return _prod(y) * x[-1]
    return 0


def _convert(call: OpCall, module: Any = None) -> tuple[Layer | None, str, list[str]]:
    """The call's layer (None and a reason when it cannot be modelled) and its exact notes."""
    base = _norm_subclass(module) if module is not None else ""
    if base:
        notes = [f"a {base} subclass with its own forward, read as a {base} (pointwise, its "
                 "forward not traced): exact when that forward adds only pointwise ops "
                 "(an activation, dropout), as timm's BatchNormAct2d does"]
    else:
        notes = _stat_notes(call, module)
    mode = _padding_mode(call, module)
    if mode is not None:
        notes.append(f"{mode!r} padding: {_PAD_MODE_EFFECT.get(mode, _PAD_MODE_OTHER)}; "
                     + _PAD_MODE_EXACT)
        call = _zero_padding_call(call)
    live = [x for x in call.inputs if x.live]
    moved = _layout_problem(call, live)
    if moved:
        return None, moved, notes
    layer, reason = _apply(call, module)
    if layer is None and len(live) == 1 and live[0].collapsed(call.ndim) and (
            live[0].layout is None and call.output.collapsed(call.ndim)):
        # no spatial extent in, none out (ECA's Conv1d over pooled channels): whatever the op
        # does along other axes, it moves no pixel
        return Pointwise(call.name), "", notes
    return layer, reason, notes


def _apply(call: OpCall, module: Any) -> tuple[Layer | None, str]:
    """Run the registered converter: its layer, or None and why."""
    conv: Any = None
    try:
        if module is not None:
            conv = _module_converter(module)
            if conv is None:
                return None, f"no converter registered for module {type(module).__name__}"
            layer = conv(module, call)
        else:
            conv = _function_converter(call.target)
            if conv is None:
                return None, f"no converter registered for {call.name!r}"
            layer = conv(call)
    except Unsupported as exc:
        return None, str(exc)
    except AtrousError as exc:
        return None, str(exc)
    except Exception as exc:  # a converter that fails never aborts the analysis
        who = f"module {type(module).__name__}" if module is not None else repr(call.name)
        return None, f"the converter for {who} failed ({_first_line(exc)})"
    if not isinstance(layer, Layer):
        who = getattr(conv, "__qualname__", None) or repr(conv)
        what = f"module {type(module).__name__}" if module is not None else repr(call.name)
        raise AtrousError(
            f"the converter {who} registered for {what} returned {type(layer).__name__} "
            f"({layer!r:.40}) at {call.path or call.name}, not an atrous layer (Conv, Pool, "
            "Pointwise, ...)")
    return layer, ""


_LAYOUT_SAFE = frozenset([
    *_UNARY, *_BINARY, *_PERMUTES, *_VIEWS, *_ACTIVATION_MODULES, "linear", "Linear",
    "layer_norm", "LayerNorm", "rms_norm", "RMSNorm", "Dropout", "Identity", "copy",
    "stochastic_depth", "drop_path", "StochasticDepth", "DropPath",
])
"""Calls that are exact on a tensor whose image axes were moved (NHWC): they act per position."""


def _layout_problem(call: OpCall, live: list[TensorInfo]) -> str:
    """Why the call cannot be modelled on tensors with moved image axes ('' when it can)."""
    layouts = {x.layout for x in live}
    if layouts == {None}:
        return ""
    if len(layouts) > 1:
        return "its inputs hold the image axes in different places (e.g. NCHW and NHWC)"
    if call.name not in _LAYOUT_SAFE:
        return (f"{call.name} of a tensor whose image axes were moved (permute/view) is not "
                "followed")
    return ""


_PAD_MODE_EFFECT = {
    "reflect": "border units also read the mirror images of pixels near the edge",
    "replicate": "border units read the edge pixel again in place of the padding",
    "circular": "border units also read pixels at the opposite edge (wrap-around)",
}
_PAD_MODE_OTHER = "border units read input pixels in place of the padding"
_PAD_MODE_EXACT = ("the boxes shown (clipped at the border, as with zero padding) are exact for "
                   "units whose box lies inside the input; size, stride and centre are unchanged")


@cache
def _pad_classes() -> tuple[tuple[type, str], ...]:
    """torch's padding module classes with a non-zero mode (those this torch has)."""
    import torch.nn as nn

    pads = nn.modules.padding
    found = ((getattr(pads, "_ReflectionPadNd", None), "reflect"),
             (getattr(pads, "_ReplicationPadNd", None), "replicate"),
             (getattr(pads, "_CircularPadNd", None), "circular"))
    return tuple((cls, mode) for cls, mode in found if cls is not None)


def _padding_mode(call: OpCall, module: Any) -> str | None:
    """The non-zero padding mode of a conv or pad (None for zero/constant padding)."""
    if module is not None:
        for cls, mode in _pad_classes():
            if isinstance(module, cls):
                return mode
        mode = getattr(module, "padding_mode", "zeros")
        return mode if isinstance(mode, str) and mode != "zeros" else None
    if call.name == "pad":
        mode = call.arg(2, "mode", "constant")
        return mode if isinstance(mode, str) and mode != "constant" else None
    index = _padding_mode_index(call.target)
    if index is None:
        return None
    mode = call.arg(index, "padding_mode", "zeros")
    return mode if isinstance(mode, str) and mode != "zeros" else None


_PADDING_MODE_INDEX: dict[Any, int | None] = {}


def _padding_mode_index(fn: Any) -> int | None:
    """Position of a function's ``padding_mode`` parameter (looked up once per function)."""
    import inspect

    if isinstance(fn, str) or not callable(fn):
        return None
    try:
        return _PADDING_MODE_INDEX[fn]
    except (KeyError, TypeError):
        pass
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    index = params.index("padding_mode") if "padding_mode" in params else None
    with contextlib.suppress(TypeError):  # an unhashable callable is looked up every time
        _PADDING_MODE_INDEX[fn] = index
    return index


def _zero_padding_call(call: OpCall) -> OpCall:
    """The same call with zero padding (the geometry a converter models)."""
    index = _padding_mode_index(call.target)
    if index is None:
        return call
    args, kwargs = list(call.args), dict(call.kwargs)
    if "padding_mode" in kwargs:
        kwargs["padding_mode"] = "zeros"
    elif index < len(args):
        args[index] = "zeros"
    return OpCall(call.target, call.name, call.path, tuple(args), kwargs, call.inputs,
                  call.output, call.ndim)


_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


_STAT_FUNCTIONS = frozenset(
    ("group_norm", "instance_norm", "batch_norm", "layer_norm", "rms_norm", "normalize"))
"""The functions :func:`_stat_notes` reads (every other function call has no note)."""


@cache
def _norm_classes() -> tuple[type, ...]:
    """The torch norm classes whose statistics :func:`_stat_notes` reads."""
    import torch.nn as nn

    return (nn.GroupNorm, nn.modules.instancenorm._InstanceNorm,
            nn.modules.batchnorm._BatchNorm, nn.LayerNorm)


def _stat_notes(call: OpCall, module: Any) -> list[str]:
    """Notes for norms whose statistics (computed from the input, also in eval mode) span
    spatial axes: modelled as pointwise, as is conventional, and said so."""
    nd = call.ndim
    if module is None and call.name not in _STAT_FUNCTIONS:
        return []  # not a norm: no statistics (skip the shape work below)
    if (module is not None and type(module).__name__ != "RMSNorm"
            and not isinstance(module, _norm_classes())):
        return []
    if not call.inputs or call.inputs[0].collapsed(nd):
        return []
    x = call.inputs[0]
    rank = len(x.shape)
    if rank < 2 + nd and x.layout is None:
        return []
    spatial = x.image_axes(nd)
    axes: list[int] = []
    what = ""
    if module is not None:
        import torch.nn as nn

        kind = type(module).__name__
        if isinstance(module, nn.GroupNorm):
            axes, what = spatial, "the mean and variance of each group over the whole map"
        elif isinstance(module, nn.modules.instancenorm._InstanceNorm):
            if not module.track_running_stats:
                axes, what = spatial, "each channel's mean and variance over the whole map"
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            if not module.track_running_stats:
                axes, what = spatial, "batch statistics (no running statistics are tracked)"
        elif isinstance(module, nn.LayerNorm) or kind == "RMSNorm":
            shape = getattr(module, "normalized_shape", ())
            n = len(shape) if isinstance(shape, (tuple, list)) else 1
            axes = [a for a in spatial if a >= rank - n]
            what = "statistics over its normalized_shape"
    else:
        name = call.name
        if name == "group_norm":
            axes, what = spatial, "the mean and variance of each group over the whole map"
        elif name == "instance_norm" and call.arg(5, "use_input_stats", True):
            axes, what = spatial, "each channel's mean and variance over the whole map"
        elif name == "batch_norm" and (call.arg(5, "training", False)
                                       or call.arg(1, "running_mean") is None):
            axes, what = spatial, "batch statistics"
        elif name in ("layer_norm", "rms_norm"):
            shape = call.arg(1, "normalized_shape", ())
            n = len(shape) if isinstance(shape, (tuple, list)) else 1
            axes = [a for a in spatial if a >= rank - n]
            what = "statistics over its normalized_shape"
        elif name == "normalize":
            dims = call.arg(2, "dim", 1)
            dims = {int(d) % rank for d in _as_list(dims)}
            axes = [a for a in spatial if a in dims]
            what = "the vector norm along the normalised dimension"
    axes = [a for a in axes if x.shape[a] > 1]
    if not axes:
        return []
    layout = x.layout or tuple((rank - nd + j,) for j in range(nd))
    axis_name = {a: _AXES[nd][j] for j, comps in enumerate(layout) for a in comps}
    names = "x".join(dict.fromkeys(axis_name[a] for a in axes))
    return [f"normalises with {what} (computed from the input, in eval mode too), coupling "
            f"every unit to every pixel along {names} through those statistics; modelled as "
            "pointwise, as is conventional"]


