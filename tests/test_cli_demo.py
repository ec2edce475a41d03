"""`atrous demo`: run as the README says; its numbers checked against the seeds' brute force."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from typing import Any

import numpy as np
from render_demo import demo_run
from test_render_figures import seed_map

from atrous.cli.demo import SCHEDULES


def test_demo_runs_with_no_arguments_and_ends_with_the_path() -> None:
    run = demo_run()
    assert run.status == 0, run.stdout
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    # the worked example (64x64, 3x3, dilation 2) is still printed
    assert any("= 60" in ln and "H_out" in ln for ln in lines)
    report = run.directory / "report.html"
    assert lines[-1] == f"open {report.resolve()}"
    assert all(ln == ln.rstrip() for ln in run.stdout.splitlines())  # no trailing blanks
    assert report.is_file()
    # the budget is 30 s on 2 cores; a loose guard against pathological slowness here
    assert run.seconds < 120, run.seconds


def test_demo_writes_the_figures_and_no_temporary_files() -> None:
    run = demo_run()
    names = sorted(p.name for p in run.directory.iterdir())
    for rates in SCHEDULES:
        assert f"coverage_{'-'.join(map(str, rates))}.png" in names
    for name in ("compare.png", "dilated_conv.gif", "dilated_conv.png", "erf_aspp_net.png",
                 "summary.json", "report.html"):
        assert name in names
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")]
    for name in names:
        if name.endswith(".png"):
            assert (run.directory / name).read_bytes()[:4] == b"\x89PNG"


def test_demo_summary_matches_the_seeds_brute_force() -> None:
    data = json.loads((demo_run().directory / "summary.json").read_text())
    by_rates = {tuple(row["rates"]): row for row in data["schedules"]}
    assert set(by_rates) == set(SCHEDULES)
    for rates, row in by_rates.items():
        m = seed_map(list(rates))
        assert row["rf"] == f"{m.shape[0]}x{m.shape[1]}"
        assert row["holes"] == int((m == 0).sum())
        assert row["gridding_free"] == bool((m != 0).all())
        assert row["fraction"] == np.count_nonzero(m) / m.size
    # the seeds' verdicts: [1,2,3] and [1,2,5] are gridding-free, [2,2,2] and [1,2,9] grid
    assert [by_rates[r]["gridding_free"] for r in SCHEDULES] == [False, True, True, False]
    assert data["model"]["status"] in ("complete", "partial")


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and "target" in (a.get("class") or ""):
            self.sections.append(a.get("id") or "")
        if tag == "img":
            assert (a.get("src") or "").startswith("data:image/png;base64,")
            self.images += 1


def test_demo_report_has_every_target() -> None:
    html = (demo_run().directory / "report.html").read_text()
    parser = _Sections()
    parser.feed(html)
    assert len(parser.sections) == len(SCHEDULES) + 1  # the schedules and the ASPP network
    assert parser.images >= 2 * len(SCHEDULES) + 3
    assert not re.search(r"""(src|href)=["']?https?:""", html)


def test_demo_help_teaches() -> None:
    helptext = subprocess.run([sys.executable, "-m", "atrous", "demo", "--help"],
                              capture_output=True, text=True)
    assert helptext.returncode == 0
    assert "examples:" in helptext.stdout and "--no-model" in helptext.stdout


def test_demo_refuses_an_empty_output_folder(tmp_path: Any, monkeypatch: Any,
                                             capsys: Any) -> None:
    from atrous.cli import main

    monkeypatch.chdir(tmp_path)
    for empty in ("", "  "):
        assert main(["demo", "-o", empty, "--no-model"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "empty" in err[0] and "-o ." in err[0]
    assert list(tmp_path.iterdir()) == []  # nothing was written
