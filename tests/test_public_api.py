"""The public surface: pinned names, lazy loading, and a light ``import atrous``."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import atrous
import atrous.nn

# Pinned on purpose: removing or renaming a public name must be a visible, deliberate change.
TOP_LEVEL = sorted(atrous._EXPORTS)
NN = sorted(atrous.nn._EXPORTS)


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
