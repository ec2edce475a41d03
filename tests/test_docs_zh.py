"""The Chinese README and the Chinese page on gridding show what the tool really prints.

Every ``>>>`` example runs as a doctest; every ``$ atrous ...`` line in a ``console`` block runs,
and where the page shows its output, the output must be exactly that (trailing blanks aside);
commands shown without output must at least parse. ``ATROUS_REGEN_DOCS=1 pytest
tests/test_docs_zh.py`` rewrites the shown outputs from the tool (then review the diff).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
from pathlib import Path

import pytest

from atrous.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.zh-CN.md", ROOT / "docs" / "zh-CN" / "gridding.md"]
BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


def commands(text: str) -> list[tuple[str, list[str]]]:
    """(command line, shown output lines) for every ``$ atrous`` line of the console blocks."""
    out: list[tuple[str, list[str]]] = []
    for block in BLOCK.findall(text):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
    return out


def run(command: str) -> tuple[int, str]:
    argv = shlex.split(command)
    assert argv[0] == "atrous", command
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(argv[1:])
    return status, buf.getvalue()


def _strip(lines: list[str]) -> list[str]:
    return [ln.rstrip() for ln in lines]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_examples_run_as_doctests(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, page.name, str(page), 0)
    assert test.examples, f"{page} has no >>> examples"
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    report = io.StringIO()
    runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_console_commands_print_what_the_page_shows(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    cmds = commands(text)
    assert cmds, f"{page} shows no commands"
    regen = os.environ.get("ATROUS_REGEN_DOCS") == "1"
    for command, shown in cmds:
        argv = shlex.split(command)
        if not shown:  # documented without output: the options must exist
            args = build_parser(only=argv[1]).parse_args(argv[1:])
            assert args.command == argv[1]
            continue
        status, printed = run(command)
        assert status == 0, command
        actual = _strip(printed.rstrip("\n").splitlines())
        if regen and actual != _strip(shown):
            text = text.replace("\n".join(shown), "\n".join(actual), 1)
            continue
        assert actual == _strip(shown), f"{page.name}: {command}"
    if regen:
        page.write_text(text, encoding="utf-8")


def test_pages_link_each_other_and_exist() -> None:
    readme = PAGES[0].read_text(encoding="utf-8")
    assert "docs/zh-CN/gridding.md" in readme and "README.md" in readme
    assert "README.zh-CN.md" in (ROOT / "README.md").read_text(encoding="utf-8")
