"""The ONNX front end: an ``.onnx`` file (from any framework) -> :class:`~atrous.graph.Graph`.

Every analysis that takes an ``nn.Module`` takes an ONNX model too: a path to an ``.onnx`` file
(``str`` or :class:`pathlib.Path`) or an ``onnx.ModelProto``. No framework runs: the graph is
read, shapes come from ONNX shape inference for the input shape being analysed, constant inputs
(initializers, ``Constant`` nodes and the shape arithmetic exporters emit) are folded, and each
operator becomes an analytic layer. An operator without an exact model becomes an
:class:`~atrous.layers.Opaque` node and the graph is ``partial``, with a diagnostic naming the
ONNX node (its name and op type), never an identity.

Needs the ``onnx`` package (``pip install atrous[onnx]``); ``import atrous`` does not import it.

    >>> import onnx
    >>> from onnx import TensorProto, helper
    >>> import numpy as np
    >>> w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.ones(108))
    >>> conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", dilations=[2, 2],
    ...                         pads=[2, 2, 2, 2])
    >>> g = helper.make_graph(
    ...     [conv], "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    >>> graph = to_graph(helper.make_model(g))
    >>> graph["conv1"].layer
    Conv(kernel=(3, 3), stride=(1, 1), padding=((2, 2), (2, 2)), dilation=(2, 2), groups=1)
    >>> graph.method, graph.input_shape, graph.partial
    ('onnx', (1, 3, 32, 32), False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..graph import Graph
from ._load import INSTALL_HINT, import_onnx, is_onnx_target, load_model

__all__ = ["INSTALL_HINT", "is_onnx_target", "to_graph"]


def to_graph(model: Any, input_size: Sequence[int] | None = None) -> Graph:
    """Read an ONNX model into a Graph of analytic layers.

    Args:
        model: a path to an ``.onnx`` file (``str`` or ``pathlib.Path``) or an
            ``onnx.ModelProto``.
        input_size: the full input shape ``(N, C, *spatial)`` (or only the spatial sizes when
            N and C are static in the model). Optional when the model's input shape is static;
            required when it has symbolic dimensions.

    Returns:
        A :class:`~atrous.graph.Graph` with ``method == "onnx"``, ``input_shape``, node names
        from the ONNX graph (the module path where the exporter recorded it) and ``meta`` with
        ``module``, ``target`` (the ONNX op type), ``onnx_node``, ``shape``, ``params``, ``macs``.

    Raises:
        AtrousError: a missing, unreadable or truncated file, missing external data, a graph
            with a cycle or an undefined input, an opset the installed onnx does not know, a
            symbolic input shape without ``input_size``, or onnx not installed.
    """
    onnx = import_onnx()
    proto, name, stripped = load_model(model)
    from ._convert import convert

    return convert(onnx, proto, name, input_size, stripped)
