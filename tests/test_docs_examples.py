"""The ``>>>`` examples of the README and of the docs pages no other test runs, run as doctests,
so what the pages show cannot drift from what atrous prints (arithmetic.md, gridding.md,
findings.md, geometry.md and the Chinese pages have tests of their own)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import atrous

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "models.md"]
FENCE = re.compile(r"^```(?:python|pycon)\n(.*?)^```", re.S | re.M)


def examples(page: Path) -> str:
    blocks = [b for b in FENCE.findall(page.read_text(encoding="utf-8")) if ">>>" in b]
    return "\n\n".join(blocks)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_pages_examples_print_what_they_show(page: Path) -> None:
    text = examples(page)
    assert text, f"{page.name} has no >>> examples"
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    test = doctest.DocTestParser().get_doctest(text, {"atrous": atrous}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=flags)
    report: list[str] = []
    runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
