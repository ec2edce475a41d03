"""Lazy package exports: names that load from their submodule on first access (private).

A package keeps a ``{public name: submodule}`` table and delegates its module-level
``__getattr__`` / ``__dir__`` here, so that importing the package stays cheap (no torch, no
numpy until a name that needs them is used).

>>> import atrous.nn
>>> lazy_getattr("atrous.nn", {"DilatedConv2d": "conv"}, "DilatedConv2d").__name__
'DilatedConv2d'
>>> lazy_getattr("atrous.nn", {}, "nothing")
Traceback (most recent call last):
AttributeError: module 'atrous.nn' has no attribute 'nothing'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["lazy_dir", "lazy_getattr"]


def lazy_getattr(package: str, exports: Mapping[str, str], name: str) -> Any:
    """``package.name`` imported from the submodule ``exports`` names, then kept in the package's
    namespace (the next access does not come here)."""
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", package), name)
    sys.modules[package].__dict__[name] = value
    return value


def lazy_dir(package: str, exports: Mapping[str, str]) -> list[str]:
    """The package's names, loaded or not."""
    return sorted(set(sys.modules[package].__dict__) | set(exports))
