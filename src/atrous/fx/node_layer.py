"""One traced call -> its analytic layer, for a caller that walks its own ``torch.fx`` graph.

:func:`node_layer` runs the registered converter (the one :func:`atrous.fx.to_graph` uses) on one
``call_module`` / ``call_function`` / ``call_method`` node, with the tensors described as the
caller knows them. :mod:`atrous._stream_graph` (for :func:`atrous.stream`) reads the geometry of
the calls it streams this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..layers import Layer
from .convert import _convert
from .modules import _install_module_converters
from .registry import OpCall, TensorInfo, _fn_name

__all__ = ["node_layer"]


def node_layer(node: Any, module: Any, arg: Callable[[Any], Any], output: TensorInfo,
               ndim: int) -> tuple[Layer | None, str, list[str]]:
    """The layer the torch front end's converters give one call of a traced graph.

    Args:
        node: a ``torch.fx.Node`` calling a module, a function or a tensor method.
        module: the called module for a ``call_module`` node, else None.
        arg: what a converter sees for each ``torch.fx.Node`` argument: a :class:`TensorInfo`
            (``live=True`` for a tensor that depends on the model input) or a plain value.
        output: the call's output tensor.
        ndim: the model's number of spatial axes.

    Returns:
        ``(layer, reason, notes)``: the layer (None when the call has no model, ``reason``
        saying why), and the notes of a call the layer models only up to a stated effect
        (a non-zero padding mode, normalisation statistics).

    >>> import torch.fx as fx
    >>> import torch.nn as nn
    >>> gm = fx.symbolic_trace(nn.Sequential(nn.Conv1d(1, 1, 3, stride=2, padding=(2,))))
    >>> node = [n for n in gm.graph.nodes if n.op == "call_module"][0]
    >>> x = TensorInfo((1, 1, 50))
    >>> layer, _, _ = node_layer(node, gm.get_submodule(node.target), lambda n: x,
    ...                          TensorInfo((1, 1, 26)), 1)
    >>> layer.axis_geometry(0)
    Taps(stride=2, offset=2, dilation=1, kernel=3)
    """
    import torch.fx as fx

    _install_module_converters()
    inputs: list[TensorInfo] = []

    def see(n: Any) -> Any:
        value = arg(n)
        if isinstance(value, TensorInfo) and value.live:
            inputs.append(value)
        return value

    args, kwargs = fx.node.map_arg((tuple(node.args), dict(node.kwargs)), see)
    if module is not None:
        target, name, path = module, type(module).__name__, str(node.target)
    else:
        target, name = node.target, _fn_name(node.target)
        path = name
    call = OpCall(target, name, path, tuple(args), dict(kwargs), tuple(inputs), output, ndim)
    return _convert(call, module)
