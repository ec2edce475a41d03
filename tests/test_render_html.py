"""The HTML report: self-contained, verdicts first, the Report's numbers, everything escaped."""

from __future__ import annotations

import base64
import hashlib
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import atrous
from atrous.cli import main
from atrous.render.html import page_html, report_html, section_from_dict

HOSTILE = "<script>alert(1)</script>"


class Page(HTMLParser):
    """Collects the parts of a page the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.scripts: list[tuple[dict[str, Any], str]] = []
        self.images: list[str] = []
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.meta: dict[str, str] = {}
        self._script: dict[str, Any] | None = None
        self._buf = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        cls = a.get("class") or ""
        for name in ("verdicts", "figures", "hdc", "layers", "diagnostics"):
            if name in cls.split():
                self.order.append(name)
        if tag == "script":
            self._script, self._buf = a, ""
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "meta" and a.get("http-equiv"):
            self.meta[str(a["http-equiv"])] = a.get("content") or ""
        elif tag == "th" and a.get("scope") == "col":
            self._in, self._buf = "th", ""
        elif tag == "tr":
            self._row: list[str] = []
        elif tag == "td" and a.get("data-sort") is not None:
            self._in, self._buf = "td", ""
        elif tag == "br" and self._in == "td":
            self._buf += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, self._buf))
            self._script = None
        elif tag == "th" and self._in == "th":
            self.headers.append(self._buf)
            self._in = None
        elif tag == "td" and self._in == "td":
            self._row.append(self._buf)
            self._in = None
        elif tag == "tr" and getattr(self, "_row", None):
            self.rows.append(self._row)
            self._row = []

    def handle_data(self, data: str) -> None:
        if self._script is not None or self._in:
            self._buf += data


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


def test_report_page_has_verdicts_first_and_the_reports_numbers() -> None:
    rep = atrous.analyze("3x3 d2, 3x3 d2, 3x3 d2")
    page = parse(report_html(rep))
    assert page.order[0] == "verdicts"
    assert page.order.index("figures") < page.order.index("layers")
    assert "hdc" in page.order
    # one table row per layer row, with the report's receptive fields
    assert len(page.rows) == len(rep.rows)
    col = page.headers.index("rf size")
    assert [r[col] for r in page.rows] == ["x".join(map(str, r.rf.size)) for r in rep.rows]
    assert [r[page.headers.index("holes")] for r in page.rows] == [
        str(r.gridding.holes) for r in rep.rows
    ]


def test_page_is_self_contained_and_only_its_own_script_may_run() -> None:
    html = report_html(atrous.analyze("3x3 d1, 3x3 d2, 3x3 d5"))
    page = parse(html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert page.images and all(s.startswith("data:image/png;base64,") for s in page.images)
    for src in page.images:
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    code = [body for attrs, body in page.scripts if "type" not in attrs]
    assert len(code) == 1
    digest = base64.b64encode(hashlib.sha256(code[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page.meta["Content-Security-Policy"]
    assert "default-src 'none'" in page.meta["Content-Security-Policy"]


def test_every_name_is_escaped() -> None:
    d = {
        "target": HOSTILE, "status": "partial", "diagnostics": [f"node {HOSTILE} is opaque"],
        "rows": [{"name": HOSTILE, "op": "<b>conv</b>", "rf_size": [3, 3]}],
        "verdicts": [{"label": HOSTILE, "value": "</script><script>alert(2)</script>"}],
    }
    html = page_html([section_from_dict(d)], title=HOSTILE)
    assert HOSTILE not in html and "<b>conv</b>" not in html and "alert(2)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    # exactly the two scripts of the template: the JSON data and the sorting code
    assert len(page.scripts) == 2
    data = next(body for attrs, body in page.scripts if attrs.get("type") == "application/json")
    assert "<" not in data  # the embedded JSON cannot close its script element


def test_fragment_for_jupyter() -> None:
    rep = atrous.analyze("3x3 d2, 3x3 d2")
    frag = rep._repr_html_()
    assert "<table" in frag and "<html" not in frag
    assert frag.startswith("<style>")
    page = parse(frag)
    # the sorting script (the same as the full page's), but no embedded JSON data
    (script,) = page.scripts
    assert script[0] == {} and script[1] == (
        Path(atrous.render.html.__file__).parent / "templates" / "sort.js").read_text()
    assert script[1].lstrip().startswith("(function") and "atrousSortable" in script[1]


def _data(html: str) -> dict[str, Any]:
    import json

    page = parse(html)
    (body,) = [b for a, b in page.scripts if a.get("type") == "application/json"]
    return dict(json.loads(body)["reports"][0])


def test_small_maps_are_embedded_once() -> None:
    rep = atrous.analyze("3x3 d1, 3x3 d2, 3x3 d5")
    html = report_html(rep)
    data = _data(html)
    assert data["coverage"]["counts"] == rep.coverage.counts.tolist()
    first = data["outputs"][0]["coverage"]
    assert "counts" not in first and first["counts_omitted"] == "same map as coverage.counts"
    assert "trimmed" not in data and "data-note" not in html


def test_large_maps_and_long_lists_are_not_embedded() -> None:
    from atrous.render.html import EMBED_MAX_CELLS, EMBED_MAX_LIST, embedded_data

    rates = [1, 3, 9, 27, 81, 100]
    rep = atrous.analyze(atrous.stack(rates))
    side = 2 * sum(rates) + 1
    cells = side * side
    assert rep.coverage.cells == cells > EMBED_MAX_CELLS
    html = report_html(rep)
    # the counts alone would take at least two characters (digit, comma) per cell
    assert len(html) < cells
    data = _data(html)
    assert "counts" not in data["coverage"] and "counts" not in data["outputs"][0]["coverage"]
    assert data["coverage"]["counts_omitted"] == f"{cells} cells > {EMBED_MAX_CELLS}"
    assert data["coverage"]["holes"] == rep.coverage.holes  # the summary numbers stay
    assert "atrous analyze" in data["trimmed"]["full_data"]
    note = re.search(r'class="hint data-note">([^<]*)<', html)
    assert note and f"{cells} cells" in note.group(1) and "atrous analyze" in note.group(1)
    # a schedule with a huge gap: thousands of missing offsets, cut with their total kept
    one = atrous.analyze(atrous.stack([1, 2, 3000], ndim=1)).to_dict()
    missing = one["hdc"]["missing"]
    assert len(missing) > EMBED_MAX_LIST
    trimmed, notes = embedded_data(one)
    assert trimmed["hdc"]["missing"] == missing[:EMBED_MAX_LIST]
    assert trimmed["hdc"]["missing_total"] == len(missing)
    assert trimmed["hdc"]["missing_truncated"] is True
    assert notes == [f"hdc.missing: first {EMBED_MAX_LIST} of {len(missing)} items"]


def test_cli_report_shows_progress_on_a_terminal_only(tmp_path: Path, capsys: Any,
                                                      monkeypatch: Any) -> None:
    from atrous.render import progress

    assert main(["report", "--rates", "1,2,5", "-o", str(tmp_path / "a.html")]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: quiet
    monkeypatch.setattr(progress, "enabled", lambda: True)
    assert main(["report", "--rates", "1,2,5", "-o", str(tmp_path / "b.html")]) == 0
    err = capsys.readouterr().err
    for stage in ("analysing", "drawing figures", "rendering HTML", "writing"):
        assert stage in err
    assert "coverage map" in err  # the nested figure bar reports inside the outer one
    assert (tmp_path / "b.html").read_bytes() == (tmp_path / "a.html").read_bytes()


def _model_file(tmp_path: Path) -> Path:
    path = tmp_path / "hostile_model.py"
    path.write_text(textwrap.dedent("""
        import torch.nn as nn

        class Mystery(nn.Module):
            def forward(self, x):
                return x.flip(-1)

        def build():
            m = nn.Sequential()
            m.add_module("<script>alert(1)</script>", nn.Conv2d(3, 4, 3, padding=2, dilation=2))
            m.add_module("<img src=x onerror=alert(2)>", Mystery())
            return m
    """))
    return path


def test_cli_report_for_spec_rates_and_model(tmp_path: Path, capsys: Any) -> None:
    spec = tmp_path / "spec.html"
    assert main(["report", "3x3 d2, 3x3 d2", "-o", str(spec)]) == 0
    assert "wrote" in capsys.readouterr().out
    rates = tmp_path / "rates.html"
    assert main(["report", "--rates", "1,2,9", "-o", str(rates)]) == 0
    assert "rates [1, 2, 9]" in rates.read_text()
    model = tmp_path / "model.html"
    target = f"{_model_file(tmp_path)}:build"
    assert main(["report", target, "--input", "1x3x16x16", "--erf-samples", "1",
                 "-o", str(model)]) == 0
    html = model.read_text()
    assert HOSTILE not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "partial" in html  # the unknown module made the analysis partial, and says so


@pytest.mark.parametrize("argv, message", [
    (["report", "-o", "x.html"], "give a TARGET"),
    (["report", "nosuch.module:build", "--input", "1x3x8x8"], "cannot import"),
    (["report", "pkg:build"], "needs --input"),
    (["report", "3x3 d2", "--rates", "1,2"], "not both"),
])
def test_cli_report_bad_input_is_one_line(argv: list[str], message: str, capsys: Any,
                                          tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_merge_inputs_are_listed_not_joined_with_x() -> None:
    """A residual's add lists its inputs (one per line), never ``res0.conv1xinput``."""
    rep = atrous.analyze("res(3x3, 3x3 d2)")
    html = report_html(rep)
    page = parse(html)
    col = page.headers.index("inputs")
    merges = [r[col] for r in page.rows if "\n" in r[col]]
    assert merges, page.rows
    for cell in merges:
        names = cell.split("\n")
        assert len(names) == 2 and all("x" not in n for n in names), cell
    assert "xinput" not in html
    # per-axis sizes keep their "x"
    assert page.rows[0][page.headers.index("rf size")] == "3x3"


def test_model_table_shows_module_paths_wrapping_at_dots_and_hides_extras() -> None:
    from models_for_tests import WaveNet

    rep = atrous.analyze(WaveNet(), (1, 1, 256))
    html = report_html(rep)
    page = parse(html)
    # the default columns, in order; the rest behind the "more columns" toggle
    shown = ["layer", "op", "geometry", "inputs", "output", "rf size", "rf stride", "rf start"]
    assert page.headers[:len(shown)] == shown
    assert 'class="show-extra"' in html and '<th scope="col" aria-sort="none" tabindex="0" ' \
        'class="extra">' in html
    mul = next(r for r in page.rows if r[0] == "mul")
    assert mul[page.headers.index("inputs")] == "tanh\nsigmoid"  # not tanhxsigmoid
    assert "filters.<wbr>0<wbr>" in html  # a long path may wrap after its dots
