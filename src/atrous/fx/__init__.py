"""``nn.Module`` -> :class:`~atrous.graph.Graph`: the PyTorch front end.

:func:`to_graph` traces a model with :mod:`torch.fx` symbolic tracing, so functional ops and tensor
methods (``F.conv2d``, ``F.interpolate``, ``F.pad``, ``torch.cat``, ``+``, ``*``,
``x.mean((2, 3), keepdim=True)``, slicing, ``view``/``transpose`` channel shuffles) are seen, not
only modules. Shapes come from running the traced graph once on the ``meta`` device (no data, no
compute: a 4096x4096 input costs what a 224x224 one does). One registry maps torch modules and
functions to analytic layers;
:func:`register_module` and :func:`register_function` extend it, and a registered module class is
a leaf of the trace. A model that ``torch.fx`` cannot trace (data-dependent control flow) is
recorded instead by running it once with forward hooks and a torch-function recorder; the result
is then marked ``partial``, with a diagnostic saying why. An operation without a converter becomes
an :class:`~atrous.layers.Opaque` node with a diagnostic naming its module path, never an identity.

The package: :mod:`~atrous.fx.registry` (what converters see, the registry),
:mod:`~atrous.fx.functions` and :mod:`~atrous.fx.modules` (the converters),
:mod:`~atrous.fx.layout` (image axes through permutes and views), :mod:`~atrous.fx.convert`
(one call to a layer and its notes), :mod:`~atrous.fx.emit` (calls to
:class:`atrous.builder.GraphBuilder`), :mod:`~atrous.fx.tracing` (torch.fx and shapes) and
:mod:`~atrous.fx.hooks` (the fallback).

Node metadata (read by :mod:`atrous.report`): ``module`` (module path or op name), ``target``
(class or function name), ``shape`` (output tensor shape), ``params`` and ``macs``.

    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=2, dilation=2), nn.ReLU(), nn.MaxPool2d(2))
    >>> g = to_graph(net, (1, 3, 64, 64))
    >>> [(n.name, n.layer.kind) for n in g.layer_nodes()]
    [('0', 'conv'), ('1', 'pointwise'), ('2', 'pool')]
    >>> g["2"].meta["shape"], g.partial
    ((1, 8, 32, 32), False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import AtrousError
from ..graph import Graph
from .hooks import _fallback
from .modules import _install_module_converters
from .plumbing import _check_input_sizes, _Eval, _first_line, _QuietTorch
from .registry import (
    OpCall,
    TensorInfo,
    Unsupported,
    _module_converter,
    register_function,
    register_module,
)
from .tracing import _trace_fx

__all__ = [
    "ModelGraph",
    "OpCall",
    "TensorInfo",
    "Unsupported",
    "register_function",
    "register_module",
    "to_graph",
]

ModelGraph = Graph
"""The graph a model produces: a plain :class:`~atrous.graph.Graph` (the name is kept for
compatibility; ``partial``, ``diagnostics``, ``notes``, ``method``, ``input_shape`` and
``output_labels`` live on every Graph)."""

# -- public entry ------------------------------------------------------------------------------
def to_graph(model: Any,
             input_size: Sequence[int] | Sequence[Sequence[int]] | None) -> ModelGraph:
    """Trace ``model`` into a Graph of analytic layers.

    Args:
        model: a ``torch.nn.Module``.
        input_size: the full input shape ``(N, C, *spatial)`` with 1 to 3 spatial axes; for a
            model taking several tensors, a list of shapes, one per positional argument. The
            first sets the spatial grid; other image inputs (a mask, a depth map) must share its
            spatial size and are the same graph input (their pixels line up with the first's);
            inputs with fewer axes (a class vector) are side inputs that move no pixel.

    Returns:
        A :class:`ModelGraph` (a Graph with ``diagnostics``, ``partial`` and ``method``).

    Raises:
        AtrousError: when ``input_size`` is malformed, or the model can neither be traced nor
            run on an input of that shape.

    >>> import torch.nn as nn
    >>> g = to_graph(nn.Conv1d(1, 1, 2, dilation=4), (1, 1, 100))
    >>> g[g.output].layer
    Conv(kernel=(2,), stride=(1,), padding=((0, 0),), dilation=(4,), groups=1)
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise AtrousError(f"to_graph needs a torch.nn.Module, got {type(model).__name__}")
    shapes = _check_input_sizes(input_size)
    _check_arity(model, len(shapes))
    _install_module_converters()
    name = type(model).__name__
    if _module_converter(model) is not None:
        model = _wrap(model)  # a bare leaf module (e.g. one Conv2d): analyse it as a leaf
    with _Eval(model), _QuietTorch():
        try:
            g = _trace_fx(model, shapes, name)
        except AtrousError:
            raise
        except Exception as exc:
            why = _first_line(exc)
            g = _fallback(model, shapes, name, why)
        g.input_shape = shapes[0]
        if len(shapes) > 1:
            g.notes.insert(0, "inputs " + ", ".join(str(s) for s in shapes) + ": image inputs "
                           "share the first's pixel grid (one graph input); receptive fields "
                           "count their pixels together")
    return g


def _check_arity(model: Any, count: int) -> None:
    """Refuse more input shapes than ``model.forward`` takes positional tensors (the extra ones
    would be analysed and counted, yet a real call with them fails)."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):  # a builtin or C forward: nothing to read
        return
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return
    takes = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if count > len(takes):
        raise AtrousError(
            f"{type(model).__name__}.forward({', '.join(takes)}) takes {len(takes)} input "
            f"tensor{'s' if len(takes) != 1 else ''}; got {count} input shapes")


def _wrap(module: Any) -> Any:
    import torch.nn as nn

    class Root(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.add_module(type(module).__name__.lower(), module)

        def forward(self, x: Any) -> Any:
            return getattr(self, type(module).__name__.lower())(x)

    return Root()


