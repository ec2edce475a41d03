"""Argument parsing helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
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
    parts = str(text).replace(" ", "").split(",")
    if len(parts) > 1 and not all(parts):
        raise AtrousError(
            f"{what} must be comma-separated integers like 1,2,5, got {text!r} (an empty entry)"
        )
    try:
        values = tuple(int(p) for p in parts if p)
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


FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def check_output_path(path: str, *, figure: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written.

    >>> check_output_path("coverage.gif", figure=True)
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: figure format must be .png, .svg, .pdf or .jpg, got 'coverage.gif'
    """
    out = Path(path)
    if not str(path):
        raise AtrousError("the output path is empty")
    if out.is_dir():
        raise AtrousError(f"cannot write {str(path)!r}: it is a folder; give a file name")
    if figure and out.suffix.lower() not in FIGURE_SUFFIXES:
        raise AtrousError(
            f"figure format must be .png, .svg, .pdf or .jpg, got {out.name!r}"
        )
    parent = out.parent if str(out.parent) else Path(".")
    while not parent.exists():  # the folders are created; the nearest existing one must do
        parent = parent.parent
    if not parent.is_dir():
        raise AtrousError(f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise AtrousError(f"cannot write {str(path)!r}: the folder {str(parent)!r} is not writable")
