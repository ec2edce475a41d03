"""Progress bars (rich) for work that can take more than a second; silent when not a terminal.

    >>> list(track(range(3), description="counting"))   # not a TTY under doctest: no output
    [0, 1, 2]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["enabled", "track"]

T = TypeVar("T")


def enabled() -> bool:
    """True when stderr is an interactive terminal (progress is shown there only)."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def track(
    items: Iterable[T],
    *,
    total: int | None = None,
    description: str = "working",
    min_items: int = 2,
) -> Iterator[T]:
    """Yield ``items``, showing a rich progress bar on stderr when it is a terminal.

    Args:
        items: the work items.
        total: number of items (default ``len(items)`` when it has one).
        description: label shown left of the bar.
        min_items: below this many items no bar is shown.
    """
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not enabled() or (total is not None and total < min_items):
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
