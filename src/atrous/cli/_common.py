"""Argument parsing helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .._types import Ints
from ..errors import AtrousError

__all__ = ["HelpFormatter", "parse_ints", "parse_size", "print_json"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples in ``epilog`` as written and shows defaults."""


def parse_size(text: str, what: str = "size") -> Ints:
    """``"64"`` -> ``(64,)``, ``"64x48"`` -> ``(64, 48)``; each entry an int >= 1."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise AtrousError(f"{what} must look like 64 or 64x48, got {text!r}") from None
    if any(v < 1 for v in values):
        raise AtrousError(f"every {what} entry must be >= 1, got {text!r}")
    return values


def parse_ints(text: str, what: str = "values") -> Ints:
    """``"1,2,5"`` -> ``(1, 2, 5)``."""
    try:
        values = tuple(int(p) for p in str(text).replace(" ", "").split(",") if p)
    except ValueError:
        raise AtrousError(
            f"{what} must be comma-separated integers like 1,2,5, got {text!r}"
        ) from None
    if not values:
        raise AtrousError(f"{what} must not be empty")
    return values


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout."""
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
