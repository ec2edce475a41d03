"""atrous: the dilated-convolution toolkit for PyTorch.

Exact conv arithmetic, receptive fields, coverage and gridding analysis, HDC verdicts,
gridding-free design, PyTorch modules and reports. ``import atrous`` is light: it imports neither
torch nor matplotlib; the names below load their modules on first use.

    >>> import atrous
    >>> atrous.conv_output_size(64, kernel=3, dilation=2)
    60
"""

from __future__ import annotations

from typing import Any

from ._lazy import lazy_dir, lazy_getattr

__version__ = "0.1.0"

# public name -> submodule that defines it (loaded lazily on first attribute access)
_EXPORTS: dict[str, str] = {
    # errors
    "AtrousError": "errors",
    "SpecError": "errors",
    "TooLargeError": "errors",
    # arithmetic
    "conv_output_size": "arith",
    "pool_output_size": "arith",
    "conv_transpose_output_size": "arith",
    "effective_kernel_size": "arith",
    "same_padding": "arith",
    "output_padding_for": "arith",
    "conv_input_size_range": "arith",
    "pool_input_size_range": "arith",
    "conv_transpose_input_size_range": "arith",
    "explain": "arith",
    # layers and graph
    "Conv": "layers",
    "ConvTranspose": "layers",
    "Pool": "layers",
    "GlobalPool": "layers",
    "AdaptivePool": "layers",
    "Upsample": "layers",
    "Resize": "layers",
    "Pad": "layers",
    "Slice": "layers",
    "Pointwise": "layers",
    "Dense": "layers",
    "Merge": "layers",
    "Opaque": "layers",
    "Graph": "graph",
    "Node": "graph",
    "chain": "graph",
    "parallel": "graph",
    "residual": "graph",
    "stack": "graph",
    "as_graph": "graph",
    # front ends: one to_graph for torch modules and ONNX models (ONNX front end)
    "to_graph": "graph",
    # spec language
    "parse": "spec",
    "to_spec": "spec",
    # analyses
    "receptive_field": "rf",
    "receptive_fields": "rf",
    "ReceptiveField": "rf",
    "coverage": "_coverage",
    "Coverage": "_coverage",
    "CoverageUnavailable": "_coverage",
    "layer_gridding": "_coverage",
    "LayerGridding": "_coverage",
    "hdc_check": "rules",
    "HDCResult": "rules",
    "analyze": "report",
    "Report": "report",
    # findings as data (the typed verdicts of analyze)
    "Finding": "findings",
    # torch front end
    "erf": "_erf",
    "ERFResult": "_erf",
    "register_module": "fx",
    "register_function": "fx",
    # front ends: the builder every front end uses, the local field of gated networks
    "GraphBuilder": "builder",
    "local_graph": "graph",
    # design
    "design": "_design",
    "repair": "_design",
    "pareto": "_design",
    "Candidate": "_design",
    "Repair": "_design",
    "ParetoFrontier": "_design",
    # tiled inference and streaming
    "tile_plan": "tiling",
    "tiled_forward": "tiling",
    "TilePlan": "tiling",
    "stream": "_stream",
    "Stream": "_stream",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:  # a lazily loaded name
    return lazy_getattr(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return lazy_dir(__name__, _EXPORTS)


