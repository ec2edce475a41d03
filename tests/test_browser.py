"""The HTML reports in a real browser (Debian's Chromium through Playwright's sync API).

Opens the demo report: no console errors, verdicts and table visible, sorting by a header
works, figures decode and are not blank; a screenshot goes to ``test-artifacts/``. Then a report
for a model whose module names are script injections: nothing may execute.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from render_demo import demo_run

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI is set but {CHROMIUM} is missing: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is in the dev extra: pip install -e \".[test,dev]\" (CI installs it)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking"],
        )
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page with every console message, page error, dialog and request recorded."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")
        return self.page


DISTINCT_COLOURS = """imgs => imgs.map(img => {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);
    return seen.size;
})"""
"""The number of distinct colours sampled from each image (a blank figure has one or two)."""


def _column(page: Any, table: Any, index: int) -> list[str]:
    return table.locator("tbody tr").evaluate_all(
        f"rows => rows.map(r => r.cells[{index}].getAttribute('data-sort'))"
    )


def test_demo_report_in_chromium(browser: Any) -> None:
    run = demo_run()
    assert run.status == 0
    w = Watched(browser)
    page = w.open(run.directory / "report.html")
    assert not w.errors
    assert [m for m in w.console if m[0] in ("error", "warning")] == []
    assert all(u.startswith(("file:", "data:")) for u in w.requests), w.requests

    # verdicts first, visible, with the gridding findings
    first = page.locator("section.target").first
    assert first.locator(".verdict").first.is_visible()
    assert "grids" in first.locator(".verdicts").inner_text()
    tables = page.locator("table.layers")
    assert tables.count() == 5
    table = tables.first
    assert table.is_visible()

    # clicking a header sorts the table (numbers numerically), clicking again reverses
    headers = table.locator("thead th")
    names = [h.strip() for h in headers.all_inner_texts()]
    col = names.index("holes")
    before = _column(page, table, col)
    headers.nth(col).click()
    asc = _column(page, table, col)
    assert asc == sorted(before, key=float)
    assert headers.nth(col).get_attribute("aria-sort") == "ascending"
    headers.nth(col).click()
    assert _column(page, table, col) == sorted(before, key=float, reverse=True)
    # text columns sort as text
    name_col = names.index("layer")
    headers.nth(name_col).click()
    labels = _column(page, table, name_col)
    assert labels == sorted(labels)

    # every figure decoded, and is not a blank image
    images = page.locator("img")
    assert images.count() >= 10
    sizes = images.evaluate_all("imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert all(done and width > 0 for done, width in sizes)
    distinct = images.evaluate_all(DISTINCT_COLOURS)
    assert len(distinct) == images.count()
    blank = [(i, n) for i, n in enumerate(distinct) if n <= 10]
    assert not blank, f"figures drawn blank (index, colours): {blank}"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "demo-report.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    assert not w.errors and not w.dialogs
    page.close()


def test_hostile_module_names_do_not_execute(browser: Any, tmp_path: Path) -> None:
    from atrous.cli import main

    model = tmp_path / "hostile.py"
    model.write_text(textwrap.dedent("""
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
    out = tmp_path / "hostile.html"
    assert main(["report", f"{model}:build", "--input", "1x3x16x16", "--erf-samples", "1",
                 "-o", str(out)]) == 0
    w = Watched(browser)
    page = w.open(out)
    page.wait_for_timeout(200)
    assert w.dialogs == []  # no alert() ran
    assert not w.errors
    assert page.locator("img[src='x']").count() == 0
    # the names are shown as text, in the table and the diagnostics
    body = page.locator("body").inner_text()
    assert "<script>alert(1)</script>" in body
    assert "<img src=x onerror=alert(2)>" in body
    assert page.evaluate("document.scripts.length") == 2  # the template's JSON and sorter
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hostile-report.png"))
    page.close()


def test_jupyter_fragments_sort_their_own_tables(browser: Any, tmp_path: Path) -> None:
    """Two ``_repr_html_`` fragments on one page (two notebook cells): each table sorts once per
    click, and the scripts leave no global behind."""
    import atrous

    reps = [atrous.analyze("3x3 d2, 3x3 d2, 3x3 d2"), atrous.analyze("3x3 d1, 3x3 d2, 3x3 d5")]
    head = "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
    empty, page_file = tmp_path / "empty.html", tmp_path / "notebook.html"
    empty.write_text(head + "</body></html>")
    page_file.write_text(head + "".join(f"<div class='cell'>{r._repr_html_()}</div>"
                                        for r in reps) + "</body></html>")
    w = Watched(browser)
    baseline = set(w.open(empty).evaluate("Object.keys(window)"))
    page = w.open(page_file)
    assert not w.errors
    assert set(page.evaluate("Object.keys(window)")) - baseline == set()
    tables = page.locator("table.layers")
    assert tables.count() == 2
    for t in range(2):
        table = tables.nth(t)
        headers = table.locator("thead th")
        names = [h.strip() for h in headers.all_inner_texts()]
        col = names.index("holes")
        before = _column(page, table, col)
        headers.nth(col).click()  # bound twice, it would sort and reverse in one click
        assert _column(page, table, col) == sorted(before, key=float)
        assert headers.nth(col).get_attribute("aria-sort") == "ascending"
        headers.nth(col).click()
        assert _column(page, table, col) == sorted(before, key=float, reverse=True)
    assert not w.errors and not w.dialogs
    page.close()


FITS = """() => [...document.querySelectorAll('.table-wrap')].map(w => ({
    wrap: w.scrollWidth - w.clientWidth, page: document.documentElement.scrollWidth - innerWidth,
    hidden: [...w.querySelectorAll('th.extra')].filter(h => h.offsetParent !== null).length}))"""
"""Per layer table: how far it overflows its box and the page, and how many extra columns show."""


def _check_fits(browser: Any, html: Path, shot: str) -> None:
    w = Watched(browser)
    page = w.open(html)
    assert not w.errors
    fits = page.evaluate(FITS)
    assert fits and all(f == {"wrap": 0, "page": 0, "hidden": 0} for f in fits), fits
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("table.layers").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / shot))
    # the toggle shows the extra columns (the table may then scroll inside its box)
    page.locator("input.show-extra").first.check()
    assert page.locator("th.extra").first.is_visible()
    page.close()


def test_wavenet_report_table_fits_1280px(browser: Any, tmp_path: Path) -> None:
    from atrous.cli import main

    out = tmp_path / "wavenet.html"
    models = str(Path(__file__).parent / "models_for_tests.py")
    assert main(["report", f"{models}:WaveNet", "--input", "1x1x2048", "--erf-samples", "0",
                 "-o", str(out)]) == 0
    _check_fits(browser, out, "wavenet-table.png")


@pytest.mark.slow
def test_deeplabv3_report_table_fits_1280px(browser: Any, tmp_path: Path) -> None:
    from atrous.cli import main

    out = tmp_path / "deeplab.html"
    assert main(["report", "atrous.nn:deeplabv3_resnet50(num_classes=21)", "--input",
                 "1x3x129x129", "--erf-samples", "0", "-o", str(out)]) == 0
    _check_fits(browser, out, "deeplabv3-table.png")
