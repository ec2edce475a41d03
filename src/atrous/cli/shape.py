"""`atrous shape` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from ..errors import AtrousError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("shape", help="(not available yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise AtrousError("'atrous shape' is not available yet")
