"""Argument parsing helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._files import refuse_special
from .._types import Ints
from ..errors import AtrousError

if TYPE_CHECKING:
    from .._arith_base import PaddingArg

__all__ = [
    "HelpFormatter", "add_command", "check_output_path", "parse_ints", "parse_padding",
    "parse_size", "per_axis", "per_axis_nonneg", "print_json",
]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples in ``epilog`` as written and shows each default once.

    "(default: X)" is added only where the help text does not already name its default and the
    default says something (not None, False or an empty value).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        d = action.default
        if (d is None or d is False or d is argparse.SUPPRESS or (isinstance(d, str) and not d)
                or "default" in text.lower()):
            return action.help
        return super()._get_help_string(action)


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str,
    description: str, epilog: str, run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """Register ``atrous NAME``: its line in ``atrous --help``, its description and examples
    (shown as written, each default once: :class:`HelpFormatter`) and the function that runs
    it. Returns the command's parser, for its arguments.

    >>> parser = argparse.ArgumentParser(prog="atrous")
    >>> p = add_command(parser.add_subparsers(), "hello", "say hello", "Says hello.", "", len)
    >>> parser.parse_args(["hello"]).func is len
    True
    """
    p = sub.add_parser(name, help=summary, description=description, epilog=epilog,
                       formatter_class=HelpFormatter)
    p.set_defaults(func=run)
    return p


MAX_SIZE = 2**62
"""The largest size entry the CLI accepts (sizes past it overflow int64 arithmetic)."""


def parse_size(text: str, what: str = "size") -> Ints:
    """``"64"`` -> ``(64,)``, ``"64x48"`` -> ``(64, 48)``; each entry an int >= 1."""
    parts = str(text).lower().replace("×", "x").split("x")
    if len(str(text)) > 200:
        raise AtrousError(f"{what} is too long ({len(str(text))} characters), got "
                          f"{str(text)[:40]!r}...")
    try:
        values = tuple(int(p) for p in parts if p.strip().isascii())
        if len(values) != len(parts):
            raise ValueError(text)
    except ValueError:
        raise AtrousError(f"{what} must look like 64 or 64x48, got {text!r}") from None
    if any(v < 1 for v in values):
        raise AtrousError(f"every {what} entry must be >= 1, got {text!r}")
    if any(v > MAX_SIZE for v in values):
        raise AtrousError(f"every {what} entry must be at most 2**62, got {text!r}")
    return values


def per_axis(text: str, what: str) -> int | Ints:
    """A size for every axis or one per axis, each >= 1: ``"3"`` -> 3, ``"3x5"`` -> (3, 5)."""
    values = parse_size(text, what)
    return values[0] if len(values) == 1 else values


def _nonneg(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise AtrousError(f"{what} must be an integer, got {text!r}") from None
    if value < 0:
        raise AtrousError(f"{what} must be >= 0, got {value}")
    return value


def per_axis_nonneg(text: str, what: str) -> int | Ints:
    """As :func:`per_axis` for values that may be 0 (``"0,1"`` or ``"0x1"`` -> (0, 1))."""
    values = tuple(_nonneg(p, what) for p in str(text).lower().replace("x", ",").split(","))
    return values[0] if len(values) == 1 else values


def parse_padding(text: str) -> PaddingArg:
    """``"same"``, ``"valid"``, ``"1"``, ``"1,2"``/``"1x2"`` or per-axis pairs ``"0:1,1:1"``
    (a bare ``N`` among pairs is ``N:N``); every entry an int >= 0.

    A single ``l:r`` pair is returned as a one-element tuple of pairs; the caller broadcasts it.

    >>> parse_padding("1,2"), parse_padding("0:1,2"), parse_padding("same")
    ((1, 2), ((0, 1), (2, 2)), 'same')
    >>> parse_padding("1:2:3")
    Traceback (most recent call last):
    ...
    atrous.errors.AtrousError: padding pairs must look like left:right (e.g. 0:1,1:1), got '1:2:3'
    """
    t = str(text).strip().lower()
    if t == "same" or t == "valid":
        return "same" if t == "same" else "valid"
    if not t:
        raise AtrousError("padding must not be empty")
    if ":" not in t:
        return per_axis_nonneg(t, "padding")
    pairs = []
    for part in t.split(","):
        bits = part.split(":") if ":" in part else [part, part]
        if len(bits) != 2:
            raise AtrousError(
                f"padding pairs must look like left:right (e.g. 0:1,1:1), got {text!r}"
            )
        pairs.append((_nonneg(bits[0], "padding"), _nonneg(bits[1], "padding")))
    return tuple(pairs)


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
    import json  # here, not at the top: the arithmetic commands start without it

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
    import tempfile
    from pathlib import Path

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
    refuse_special(out)
    # tried for real (permission bits do not tell root that /proc is read-only): a temporary
    # file in the folder, as the atomic write will make, created and removed again
    try:
        fd, probe = tempfile.mkstemp(prefix=".atrous-probe.", dir=parent)
    except OSError as exc:
        raise AtrousError(
            f"cannot write {str(path)!r}: the folder {str(parent)!r} is not writable "
            f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)
