"""`atrous design` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from ..errors import AtrousError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("design", help="(not available yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise AtrousError("'atrous design' is not available yet")
