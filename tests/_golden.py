"""Golden files: the one helper every CLI test uses (``tests/golden/<name>``).

Regenerate with ``ATROUS_REGEN_GOLDEN=1 python -m pytest tests/test_cli_<command>.py`` and review
the diff; never edit a golden file by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def regenerating() -> bool:
    """True when the run rewrites the golden files (``ATROUS_REGEN_GOLDEN=1``)."""
    return os.environ.get("ATROUS_REGEN_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    """Assert that ``text`` is the golden file ``name`` (rewrite it first when regenerating)."""
    path = GOLDEN / name
    if regenerating():
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path.name}: run with ATROUS_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs from the output"


def golden_names(prefix: str) -> set[str]:
    """The golden files of one command (for the no-stale-files check)."""
    return {p.name for p in GOLDEN.glob(f"{prefix}_*.txt")}
