"""Progress bars (rich) for work that can take more than a second; silent when not a terminal.

    >>> list(track(range(3), description="counting"))   # not a TTY under doctest: no output
    [0, 1, 2]

Bars nest: a :func:`track` inside another one's loop (figures drawn while a report is written,
the effective RF sampled while a model is analysed) shows its label and count in the outer
bar's description instead of opening a second live display.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = ["enabled", "track"]

T = TypeVar("T")

_LIVE: list[tuple[Any, Any, str]] = []
"""The bars now shown: ``(Progress, task id, description)``, outermost first."""


def enabled() -> bool:
    """True when stderr is an interactive terminal (progress is shown there only)."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def _console() -> Any:
    from rich.console import Console

    # enabled() already checked the stream; force_terminal keeps rich from second-guessing a
    # terminal it cannot size (and lets tests that pretend to be one see the bar)
    return Console(stderr=True, force_terminal=True)


def track(
    items: Iterable[T],
    *,
    total: int | None = None,
    description: str = "working",
    min_items: int = 2,
    labels: Sequence[str] | None = None,
) -> Iterator[T]:
    """Yield ``items``, showing a rich progress bar on stderr when it is a terminal.

    Args:
        items: the work items.
        total: number of items (default ``len(items)`` when it has one).
        description: label shown left of the bar.
        min_items: below this many items no bar is shown (unless one is already shown: then
            the labels still appear in it).
        labels: one label per item, shown after ``description`` while that item is worked on
            (named stages: "analysing", "drawing figures", ...).
    """
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not enabled():
        yield from items
        return
    if _LIVE:  # nested: report in the outer bar's description
        bar, task, outer = _LIVE[-1]
        try:
            for i, item in enumerate(items):
                label = labels[i] if labels is not None and i < len(labels) else None
                count = f" {i + 1}/{total}" if total else f" {i + 1}"
                bar.update(task, description=f"{outer} · "
                           + (label if label else f"{description}{count}"), refresh=True)
                yield item
        finally:
            bar.update(task, description=outer)
        return
    if total is not None and total < min_items:
        yield from items
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_console(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for i, item in enumerate(items):
            label = labels[i] if labels is not None and i < len(labels) else None
            now = f"{description}: {label}" if label else description
            bar.update(task, description=now, refresh=label is not None)
            _LIVE.append((bar, task, now))
            try:
                yield item
            finally:
                _LIVE.pop()
            bar.advance(task)
