"""The public surface: pinned names, lazy loading, and a light ``import atrous``."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import atrous
import atrous.nn

# Pinned on purpose, as literal lists: adding, removing or renaming a public name must be a
# visible, deliberate change of this file.
TOP_LEVEL = [
    "AdaptivePool", "AtrousError", "Candidate", "Conv", "ConvTranspose", "Coverage",
    "CoverageUnavailable", "Dense", "ERFResult", "Finding", "GlobalPool", "Graph", "GraphBuilder",
    "HDCResult", "LayerGridding", "Merge", "Node", "Opaque", "Pad", "ParetoFrontier", "Pointwise",
    "Pool", "ReceptiveField", "Repair", "Report", "Resize", "Slice", "SpecError", "Stream",
    "TilePlan", "TooLargeError", "Upsample", "analyze", "as_graph", "chain",
    "conv_input_size_range", "conv_output_size", "conv_transpose_input_size_range",
    "conv_transpose_output_size", "coverage", "design", "effective_kernel_size", "erf", "explain",
    "hdc_check", "layer_gridding", "local_graph", "output_padding_for", "parallel", "pareto",
    "parse", "pool_input_size_range", "pool_output_size", "receptive_field", "receptive_fields",
    "register_function", "register_module", "repair", "residual", "same_padding", "stack",
    "stream", "tile_plan", "tiled_forward", "to_graph", "to_spec",
]
NN = [
    "ASPP", "BasicBlock", "Bottleneck", "CausalDilatedConv1d", "CausalDilatedStack",
    "ChannelShuffle", "DeepLabHead", "DeepLabV3", "DeepLabV3Plus", "DilatedConv1d",
    "DilatedConv2d", "DilatedConv3d", "FCNHead", "FlattenedConv", "GriddingWarning",
    "GroupedConv2d", "HDCBlock", "IntermediateLayerGetter", "PooledBatchNorm2d", "ResNet",
    "SeparableConv2d", "SpatialSeparableConv2d", "deeplabv3_resnet101", "deeplabv3_resnet50",
    "deeplabv3plus_resnet101", "deeplabv3plus_resnet50", "resnet101", "resnet18", "resnet34",
    "resnet50", "sawtooth",
]


def test_the_public_names_are_the_pinned_ones() -> None:
    assert sorted(atrous._EXPORTS) == TOP_LEVEL
    assert sorted(atrous.__all__) == sorted([*TOP_LEVEL, "__version__"])
    assert sorted(atrous.nn._EXPORTS) == NN


def test_functions_named_like_their_module_stay_callable() -> None:
    importlib.import_module("atrous._coverage")  # importing the module must not hide the function

    assert callable(atrous.coverage) and atrous.coverage.__name__ == "coverage"
    assert atrous.coverage("3 d2").rf_size == (5,)
    assert callable(atrous.design) and callable(atrous.erf)


def test_import_atrous_does_not_import_torch_or_matplotlib() -> None:
    code = (
        "import sys, atrous\n"
        "atrous.conv_output_size(64, 3, dilation=2)\n"
        "atrous.stack([1, 2, 5])\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_every_top_level_name_resolves(name: str) -> None:
    value = getattr(atrous, name)
    module = importlib.import_module(f"atrous.{atrous._EXPORTS[name]}")
    assert getattr(module, name) is value
    assert name in module.__all__


@pytest.mark.parametrize("name", NN)
def test_every_nn_name_resolves(name: str) -> None:
    value = getattr(atrous.nn, name)
    module = importlib.import_module(f"atrous.nn.{atrous.nn._EXPORTS[name]}")
    assert getattr(module, name) is value
    assert name in module.__all__


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        atrous.no_such_name  # noqa: B018
    assert "conv_output_size" in dir(atrous)


def test_errors_are_value_errors() -> None:
    assert issubclass(atrous.AtrousError, ValueError)
    assert issubclass(atrous.SpecError, atrous.AtrousError)
    assert issubclass(atrous.TooLargeError, atrous.AtrousError)
