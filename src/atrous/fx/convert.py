"""One call -> its layer (or why it has none) and exact notes: padding modes, norm statistics."""

from __future__ import annotations

from typing import Any

from ..errors import AtrousError
from ..layers import Conv, ConvTranspose, Layer
from .functions import _as_list, _prod
from .registry import OpCall, Unsupported, _function_converter, _module_converter


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
    notes = _stat_notes(call, module)
    mode = _padding_mode(call, module)
    if mode is not None:
        notes.append(f"{mode!r} padding: {_PAD_MODE_EFFECT.get(mode, _PAD_MODE_OTHER)}; "
                     + _PAD_MODE_EXACT)
        call = _zero_padding_call(call)
    conv: Any = None
    try:
        if module is not None:
            conv = _module_converter(module)
            if conv is None:
                return None, f"no converter registered for module {type(module).__name__}", notes
            layer = conv(module, call)
        else:
            conv = _function_converter(call.target)
            if conv is None:
                return None, f"no converter registered for {call.name!r}", notes
            layer = conv(call)
    except Unsupported as exc:
        return None, str(exc), notes
    except AtrousError as exc:
        return None, str(exc), notes
    if not isinstance(layer, Layer):
        who = getattr(conv, "__qualname__", None) or repr(conv)
        what = f"module {type(module).__name__}" if module is not None else repr(call.name)
        raise AtrousError(
            f"the converter {who} registered for {what} returned {type(layer).__name__} "
            f"({layer!r:.40}) at {call.path or call.name}, not an atrous layer (Conv, Pool, "
            "Pointwise, ...)")
    return layer, "", notes


_PAD_MODE_EFFECT = {
    "reflect": "border units also read the mirror images of pixels near the edge",
    "replicate": "border units read the edge pixel again in place of the padding",
    "circular": "border units also read pixels at the opposite edge (wrap-around)",
}
_PAD_MODE_OTHER = "border units read input pixels in place of the padding"
_PAD_MODE_EXACT = ("the boxes shown (clipped at the border, as with zero padding) are exact for "
                   "units whose box lies inside the input; size, stride and centre are unchanged")


def _padding_mode(call: OpCall, module: Any) -> str | None:
    """The non-zero padding mode of a conv or pad (None for zero/constant padding)."""
    if module is not None:
        import torch.nn as nn

        pads = nn.modules.padding
        for cls, mode in ((getattr(pads, "_ReflectionPadNd", None), "reflect"),
                          (getattr(pads, "_ReplicationPadNd", None), "replicate"),
                          (getattr(pads, "_CircularPadNd", None), "circular")):
            if cls is not None and isinstance(module, cls):
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


def _padding_mode_index(fn: Any) -> int | None:
    import inspect

    if isinstance(fn, str) or not callable(fn):
        return None
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params.index("padding_mode") if "padding_mode" in params else None


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


def _stat_notes(call: OpCall, module: Any) -> list[str]:
    """Notes for norms whose statistics (computed from the input, also in eval mode) span
    spatial axes: modelled as pointwise, as is conventional, and said so."""
    nd = call.ndim
    if not call.inputs or call.inputs[0].collapsed(nd):
        return []
    x = call.inputs[0]
    rank = len(x.shape)
    if rank < 2 + nd:
        return []
    spatial = list(range(rank - nd, rank))
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
            axes, what = spatial[max(0, nd - n):], "statistics over its normalized_shape"
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
            axes, what = spatial[max(0, nd - n):], "statistics over its normalized_shape"
        elif name == "normalize":
            dims = call.arg(2, "dim", 1)
            dims = {int(d) % rank for d in _as_list(dims)}
            axes = [a for a in spatial if a in dims]
            what = "the vector norm along the normalised dimension"
    axes = [a for a in axes if x.shape[a] > 1]
    if not axes:
        return []
    names = "x".join(_AXES[nd][a - (rank - nd)] for a in axes)
    return [f"normalises with {what} (computed from the input, in eval mode too), coupling "
            f"every unit to every pixel along {names} through those statistics; modelled as "
            "pointwise, as is conventional"]


