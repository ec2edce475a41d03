"""Attack suite, hostile names: escapes, newlines, ``$...$``, ``<script>``, bidi marks, 10k chars.

Names reach the outputs two ways: op names in a spec (``pw:"..."``, ``opaque:"..."``) and node
names of a hand-built :class:`~atrous.graph.Graph`. Through ``atrous analyze`` (text and
``--json``) and the HTML report they must come out inert: no raw control character or bidi
override in the terminal text, valid JSON holding the exact name, no live markup in HTML; and
the run must finish. The list is fixed, so the run is deterministic (no hypothesis here).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from rich.console import Console

import atrous
from atrous.cli import main
from atrous.errors import printable
from atrous.graph import Graph
from atrous.layers import Conv, Opaque, Pointwise
from atrous.render.text import render_report

NAMES = {
    "ansi": "a\x1b[31mRED\x1b[0m",
    "osc": "\x1b]0;owned\x07title",
    "clear": "\x1b[2J\x1b[H",
    "newline": "two\nlines\r\n",
    "tab_nul": "t\tab\x00nul",
    "mathtext": "$x^2$ and $\\frac{a}{b}$",
    "html": "<script>alert(1)</script>&amp;",
    "rtl": "abc\u202edcba\u2066x\u2069",
    "zero_width": "a\u200bb\ufeffc",
    "quote": 'q"uo\\te\'',
    "long": "n" * 10_000,
    "emoji": "😀 🧪",
    "markup": "[/][bold red]x[/]",
}

BAD_CATEGORIES = {"Cc", "Cf"}  # control characters; format characters (bidi, zero-width)


def unsafe(text: str) -> list[str]:
    """Characters a terminal would act on rather than show (line breaks of the layout aside)."""
    return sorted({
        repr(ch) for ch in text
        if unicodedata.category(ch) in BAD_CATEGORIES and ch != "\n"
    })


def strings(data: object) -> list[str]:
    """Every string (keys too) in a JSON value."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in (*strings(k), *strings(v))]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return []


def spec_with(name: str) -> str:
    quoted = json.dumps(name)
    return f'3x3, pw:{quoted}, 3x3 d2, opaque:{quoted}'


def analyze_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("label", sorted(NAMES))
def test_spec_op_names_in_the_terminal_and_json(
    label: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = NAMES[label]
    status, out, err = analyze_cli(["analyze", spec_with(name), "--input", "16x16"], capsys)
    assert status == 0, err
    assert unsafe(out + err) == []
    status, out, err = analyze_cli(
        ["analyze", spec_with(name), "--input", "16x16", "--json"], capsys
    )
    assert status == 0, err
    data = json.loads(out)
    assert atrous.to_spec(atrous.parse(data["spec"])) == atrous.to_spec(spec_with(name))


def hostile_graph(name: str) -> Graph:
    g = Graph(2)
    g.add(Conv(3, padding=1, ndim=2), name=name)
    g.add(Pointwise(name), name=name + "/pw")
    g.add(Opaque(name), name=name + "/op")
    g.add(Conv(3, padding=2, dilation=2, ndim=2), name=name + "/c")
    return g


@pytest.mark.parametrize("label", sorted(NAMES))
def test_node_names_through_the_report_text_and_json(label: str) -> None:
    name = NAMES[label]
    report = atrous.analyze(hostile_graph(name), input_size=(16, 16))
    text = str(report)
    assert unsafe(text) == []
    assert "\n" not in name or printable(name) in text  # a newline in a name is shown as \n
    data = json.loads(json.dumps(report.to_dict()))
    assert name in strings(data)  # the exact node name, through JSON and back


@pytest.mark.parametrize("label", sorted(NAMES))
def test_node_names_through_the_terminal_report(label: str) -> None:
    """The rich report of ``atrous analyze`` (table, verdicts, notes): names escaped, shown
    verbatim otherwise (never read as rich markup), no line of the layout forged by a name."""
    name = NAMES[label]
    report = atrous.analyze(hostile_graph(name), input_size=(16, 16))
    console = Console(width=100_000, color_system=None, force_terminal=False, record=True)
    with console.capture() as cap:
        render_report(report, console)
    text = cap.get()
    assert unsafe(text) == []
    table_rows = [line for line in text.splitlines() if line.startswith("│")]
    assert len(table_rows) == len(report.rows)
    assert f"│ {printable(name)}/pw " in text  # the exact name (escaped), markup included


@pytest.mark.parametrize("label", ["html", "ansi", "mathtext", "rtl", "newline"])
def test_names_in_the_html_report_are_inert(label: str, tmp_path: Path) -> None:
    name = NAMES[label]
    out = tmp_path / "r.html"
    assert main(["report", spec_with(name), "--input", "16x16", "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "\x1b" not in html


@pytest.mark.filterwarnings("error::UserWarning")  # matplotlib: "Glyph 27 missing" when drawn raw
def test_module_names_in_the_html_page_show_control_and_format_characters_escaped() -> None:
    import torch

    from atrous.render.html import report_html

    model = torch.nn.Sequential()
    model.add_module("a\u202eb\x1b[31m", torch.nn.Conv2d(1, 1, 3))
    model.add_module("z\u200bw", torch.nn.Conv2d(1, 1, 3, dilation=2))
    html = report_html(atrous.analyze(model, input_size=(1, 1, 32, 32)))
    assert unsafe(html) == []
    assert "a\\u202eb\\x1b[31m" in html and "z\\u200bw" in html  # shown, not dropped
