"""Recorded calls -> :class:`atrous.builder.GraphBuilder`, for the fx trace and hook recorder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._axis_maps import prod as _prod
from ..builder import GraphBuilder
from ..graph import Graph
from ..layers import Dense, Layer, Pointwise, Upsample
from .convert import _macs, _target_name
from .functions import _MIXING, _RESHAPE, _out_layout
from .plumbing import _flatten_outputs
from .registry import OpCall, TensorInfo


class _Builder:
    """Feeds recorded calls to a :class:`~atrous.builder.GraphBuilder` (shared by fx and the hook
    recorder), tracking tensors whose spatial axes a reshape folded away."""

    def __init__(self, ndim: int, input_size: Sequence[int], name: str, method: str) -> None:
        self.b = GraphBuilder(ndim, input_size, name=name, method=method)
        self.ndim = ndim
        self.folded: set[str] = set()
        self.layouts: dict[str, tuple[tuple[int, ...], ...]] = {}  # node -> moved image axes

    def info(self, node: str, shape: Any) -> TensorInfo:
        """The TensorInfo of a live tensor held by ``node``."""
        return TensorInfo(tuple(int(v) for v in shape), True, self.layouts.get(node))

    def output_info(self, call_name: str, inputs: Sequence[TensorInfo], shape: Any,
                    args: tuple[Any, ...], kwargs: dict[str, Any]) -> TensorInfo:
        """The output TensorInfo, with where its image axes are."""
        out = tuple(int(v) for v in shape)
        x = inputs[0] if inputs else None
        return TensorInfo(out, True, _out_layout(call_name, x, out, args, kwargs, self.ndim))

    def emit(self, call: OpCall, srcs: list[str], layer: Layer | None, reason: str = "",
             params: int = 0, base: str = "", label: str | None = None,
             notes: Sequence[str] = ()) -> str:
        folded_src = len(srcs) == 1 and srcs[0] in self.folded
        layer, reason, folds = _unfold(call, folded_src, layer, reason)
        is_module = label is not None or (
            hasattr(call.target, "forward") and hasattr(call.target, "training"))
        op = label or _target_name(call)
        meta: dict[str, Any] = {
            "target": op,
            "shape": tuple(call.output.shape),
            "params": int(params),
            "macs": _macs(layer, call) if layer is not None else 0,
        }
        if is_module and call.path:
            meta["module"] = call.path
        name = self.b.add(layer, srcs, call.out_spatial, base or call.path, op=op, reason=reason,
                          notes=notes, meta=meta)
        if folds:
            self.folded.add(name)
        if call.output.layout is not None:
            self.layouts[name] = call.output.layout
        return name

    def finish(self) -> Graph:
        return self.b.finish()


def _unfold(call: OpCall, folded_src: bool, layer: Layer | None,
            reason: str) -> tuple[Layer | None, str, bool]:
    """Track tensors whose spatial axes a reshape folded away; refuse to unfold them.

    ``y.flatten(2)`` is ``Dense`` (global) because what usually follows (a ``Linear``) mixes
    every position. Reshaped back to a map without such mixing, each value is still one
    pixel's: broadcasting it as a global value would be wrong. Returns the layer, the reason and
    whether the output is folded too.
    """
    reshape = call.name in _RESHAPE or call.name in ("flatten", "Flatten", "Unflatten")
    if reshape and isinstance(layer, Dense):
        return layer, reason, True
    if folded_src and reshape and isinstance(layer, Upsample) and _prod(
            call.inputs[0].shape) == _prod(call.output.shape):
        return None, ("it unfolds a tensor whose spatial axes an earlier reshape folded "
                      "away; which pixel each value came from is not tracked"), False
    if folded_src and isinstance(layer, Pointwise) and call.name not in _MIXING:
        return layer, reason, True
    return layer, reason, False


def _set_outputs(b: _Builder, outputs: Any, lookup: Callable[[Any], Any]) -> None:
    flat: list[tuple[str, str]] = []
    for label, o in _flatten_outputs(outputs):
        ref = lookup(o)
        if isinstance(ref, list):
            flat.extend((f"{label}.{i}" if label else str(i), r) for i, r in enumerate(ref))
        elif ref is not None:
            flat.append((label, ref))
    b.b.set_outputs(flat)


