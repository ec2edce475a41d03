"""PyTorch modules for dilated convolution, with functional twins in :mod:`atrous.nn.functional`.

Names load lazily from their submodules on first access.
"""

from __future__ import annotations

from typing import Any

from .._lazy import lazy_dir, lazy_getattr

# public name -> submodule of atrous.nn that defines it
_EXPORTS: dict[str, str] = {
    # convolution family (conv.py)
    "DilatedConv1d": "conv",
    "DilatedConv2d": "conv",
    "DilatedConv3d": "conv",
    "SeparableConv2d": "conv",
    "SpatialSeparableConv2d": "conv",
    "FlattenedConv": "conv",
    "GroupedConv2d": "conv",
    "ChannelShuffle": "conv",
    # HDC blocks (hdc.py)
    "HDCBlock": "hdc",
    "GriddingWarning": "hdc",
    "sawtooth": "hdc",
    # causal 1-D stacks (temporal.py)
    "CausalDilatedConv1d": "temporal",
    "CausalDilatedStack": "temporal",
    # ASPP (aspp.py)
    "ASPP": "aspp",
    "PooledBatchNorm2d": "aspp",
    # dilated ResNets (resnet.py)
    "ResNet": "resnet",
    "BasicBlock": "resnet",
    "Bottleneck": "resnet",
    "resnet18": "resnet",
    "resnet34": "resnet",
    "resnet50": "resnet",
    "resnet101": "resnet",
    # DeepLab (deeplab.py)
    "DeepLabV3": "deeplab",
    "DeepLabV3Plus": "deeplab",
    "deeplabv3_resnet50": "deeplab",
    "deeplabv3_resnet101": "deeplab",
    "deeplabv3plus_resnet50": "deeplab",
    "deeplabv3plus_resnet101": "deeplab",
    "DeepLabHead": "deeplab",
    "FCNHead": "deeplab",
    "IntermediateLayerGetter": "deeplab",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return lazy_getattr(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return lazy_dir(__name__, _EXPORTS)
