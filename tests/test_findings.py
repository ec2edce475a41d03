"""Findings as data: codes, order, JSON = text, empty fields, repairs, grouping, big counts."""

from __future__ import annotations

import io
import json
import re
import shlex

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import atrous
from atrous.cli import main
from atrous.findings import CODES, Finding, group
from atrous.report import analyze


def run_cli(capsys: pytest.CaptureFixture[str], argv: str) -> tuple[int, str, str]:
    status = main(["analyze", *shlex.split(argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_finding_record_is_typed_and_checked() -> None:
    f = Finding("gridding", "warning", "grids", "conv0", {"holes": 3}, "Gridding")
    assert Finding.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    with pytest.raises(atrous.AtrousError, match="severity must be one of ok, note"):
        Finding("gridding", "fatal", "x")  # type: ignore[arg-type]
    with pytest.raises(atrous.AtrousError, match="unknown finding code 'nope'"):
        Finding("nope", "note", "x")
    with pytest.raises(AttributeError):
        f.code = "other"  # type: ignore[misc]
    assert group("misaligned-merge", "note", [], "x", "") is None


@pytest.mark.parametrize("argv", [
    "--rates 2,3", "--rates 2,2,2", '"3x3 d2, opaque:roll, 3x3"', '"1d: res(2 p1:0 d1, 2 p2:0 d2)"',
    '"par(1x1 | 3x3 d6 | 3x3 d12 | gpool)" --input 33x33', '"tconv 1 s2 p1, 1 s2" --input 64',
    '"1d: add(3 s2 p1 | 1 s3)"',
])
def test_json_lists_every_verdict_of_the_text_in_order(
    argv: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, text, _ = run_cli(capsys, argv)
    assert status == 0
    status, out, _ = run_cli(capsys, argv + " --json")
    findings = json.loads(out)["findings"]
    assert findings and all(set(f) >= {"code", "severity", "node", "message"} for f in findings)
    assert all(f["code"] in CODES for f in findings)
    # every finding's sentence is in the text, in the same order (the text wraps long lines)
    flat = re.sub(r"\s+", " ", text)
    at = 0
    for f in findings:
        words = re.sub(r"\s+", " ", f["message"])
        head = f"{f['label']}: " if f["label"] else ("! " if f["severity"] in ("warning", "error")
                                                      else "· ")
        pos = flat.find(words, at)
        assert pos >= 0, (f["code"], words)
        assert flat[:pos].rstrip().endswith(head.strip()), (f["code"], head)
        at = pos + len(words)
    # and the text has no verdict line that the JSON lacks
    marks = [line for line in text.splitlines() if re.match(r"^[✓✗·!] [A-Za-z]", line)]
    assert len(marks) == len(findings)


def test_rates_2_3_has_seven_and_more_verdicts_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "--rates 2,3 --json")
    codes = [f["code"] for f in json.loads(out)["findings"]]
    assert codes == ["receptive-field", "gridding", "hdc-rule", "hdc-exact", "hdc-vs-exact",
                     "repair", "gridding-start", "analysis"]


def test_empty_receptive_field_is_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    # the reference: autograd of the real layers says no input pixel reaches the centre unit
    x = torch.zeros(1, 1, 64, requires_grad=True)
    y = F.conv1d(F.conv_transpose1d(x, torch.ones(1, 1, 1), stride=2, padding=1),
                 torch.ones(1, 1, 1), stride=2)
    y[0, 0, (y.shape[-1] - 1) // 2].backward()
    assert x.grad is not None and not x.grad.any()
    rep = analyze("tconv 1 s2 p1, 1 s2", input_size=(64,))
    codes = [f.code for f in rep.findings]
    assert "empty-rf" in codes and "gridding" not in codes
    empty = next(f for f in rep.findings if f.code == "empty-rf")
    assert empty.severity == "error" and "reads no input pixel" in empty.message
    _, text, _ = run_cli(capsys, '"tconv 1 s2 p1, 1 s2" --input 64')
    assert "gridding-free" not in text and "reads no input pixel" in text
    assert "✗ empty" in text


def test_gridded_verdict_suggests_the_repair() -> None:
    rep = analyze("3x3 d2, 3x3 d2, 3x3 d2")
    fix = next(f for f in rep.findings if f.code == "repair")
    best = atrous.repair([2, 2, 2])[0]
    assert fix.data["rates"] == list(best.rates)
    assert atrous.coverage(atrous.stack(list(best.rates))).gridded is False
    assert f"{list(best.rates)}" in fix.message and "atrous design --repair 2,2,2" in fix.message
    assert not any(f.code == "repair" for f in analyze("3x3 d1, 3x3 d2, 3x3 d5").findings)


def test_repeated_merge_notes_are_one_grouped_finding() -> None:
    # 12 causal residual blocks: each merge's paths have different centres
    spec = "1d: " + ", ".join(["res(2 p1:0 d1)"] * 12)
    rep = analyze(spec)
    grouped = [f for f in rep.findings if f.code == "misaligned-merge"]
    assert len(grouped) == 1 and grouped[0].data["count"] == 12
    assert grouped[0].message.startswith("12 merge(s) of paths whose centres differ")
    assert "and 8 more" in grouped[0].message
    rfs = atrous.receptive_fields(rep.graph)
    for name in grouped[0].data["nodes"]:  # the numbers are the inputs' centres
        centres = sorted({rfs[i].start[0] for i in rep.graph[name].inputs})
        assert len(centres) == 2


def test_global_op_is_named() -> None:
    rep = analyze("3x3, par(3x3 d2 | gpool)", input_size=(16, 16))
    glob = next(f for f in rep.findings if f.code == "global-op")
    assert rep.graph[glob.node].layer.kind == "global_pool"


def test_big_counts_do_not_crash_the_heatmap() -> None:
    # 1-D stack of 205 width-33 convs: the centre count exceeds 1.8e308 (float overflow)
    from atrous.render.text import heatmap_text

    rep = analyze("1d: " + ", ".join(["33"] * 205), gridding=False)
    cov = rep.coverage
    assert cov.max_count > 10**308 and cov.counts.dtype == object
    assert cov.max_count == cov.counts[len(cov.counts) // 2]  # the reference: the exact map
    text = heatmap_text(cov, annotate=True)
    assert re.search(r"\b[1-9]e3[0-9][0-9]\b", text)  # big counts written as mantissa-exponent
    assert heatmap_text(cov)  # shades
    grid = next(f for f in rep.findings if f.code == "gridding")
    assert re.search(r"1 to [1-9](\.[0-9]+)?e3[0-9][0-9] paths per pixel", grid.message)


def test_wide_tables_keep_their_border_and_never_break_words() -> None:
    from rich.console import Console

    from atrous.render.text import render_report

    rep = analyze("par(1x1 | 3x3 d6 | 3x3 d12 | gpool)", input_size=(65, 65))
    console = Console(width=100, color_system=None, file=io.StringIO())
    render_report(rep, console)
    lines = console.file.getvalue().splitlines()
    table = [line for line in lines if line and line[0] in "┏┃┡│└"]
    assert all(len(line) <= 100 and line.rstrip()[-1] in "┓┃┩│┘" for line in table)
    assert any("grid" in line for line in table)
    # a name breaks only after a '.' or '_', never inside a word
    assert all("branc" not in line or "branch" in line for line in table)
    first = [line.split("│")[2].strip() for line in table if line.startswith("│ 1 ")]
    assert first and first[0].endswith(".")


def test_text_has_no_trailing_spaces_and_no_colour_legend_when_piped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run_cli(capsys, "--rates 2,3")
    assert all(line == line.rstrip() for line in out.splitlines())
    assert "yellow" not in out and "paths per input pixel in the cells" in out


def test_centres_are_coordinates_not_fractions(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, '"1d: 2, 2, 2" --input 16')
    assert "/" not in out.split("· Receptive field")[0]  # the table's centre column
    assert "centred on input pixel 1.5" in out  # unit 0 of three width-2 convs reads 0..3
    rf = atrous.receptive_field("1d: 2, 2, 2", input_size=(16,))
    lo, hi = rf.box(0)[0]
    assert float(rf.start[0]) == (lo + hi) / 2


def test_counts_formatters_are_exact_for_big_ints() -> None:
    from atrous.render.text import fmt_count, fmt_si

    assert fmt_count(np.int64(1234)) == "1e3" and fmt_count(7 * 10**400) == "7e400"
    assert fmt_si(25_557_032) == "25.6M" and fmt_si(2 * 10**500) == "2e500"


def test_compare_never_calls_an_empty_field_gridding_free(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run_cli(capsys, '"tconv 1 s2 p1, 1 s2" --compare "1d: 3" --input 64')
    assert out.count("✗ empty") == 2 and out.count("gridding-free") == 2  # panel + table


def test_html_from_a_report_dict_shows_the_findings() -> None:
    from atrous.render.html import section_from_dict

    rep = analyze("3x3 d2, 3x3 d3")
    section = section_from_dict(json.loads(rep.to_json(counts=False)))
    labelled = [f for f in rep.findings if f.label]
    assert [v["label"] for v in section.verdicts] == [f.label for f in labelled]
    assert [v["value"] for v in section.verdicts] == [f.message for f in labelled]


def test_docs_page_lists_every_code_and_shows_real_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "findings.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z-]+)` \|", doc, flags=re.M)
    assert rows == list(CODES)
    block = doc.split("['findings']]\"\n", 1)[1].split("\n```", 1)[0]
    _, out, _ = run_cli(capsys, "--rates 2,3 --json")
    shown = [f"{f['code']} {f['severity']}" for f in json.loads(out)["findings"]]
    assert block.splitlines() == shown


def test_one_layer_table_for_spec_and_model_graphs() -> None:
    from models_for_tests import se_net
    from rich.console import Console

    from atrous.render.text import layer_table

    rep = analyze(se_net(), input_size=(1, 3, 32, 32))
    console = Console(width=120, color_system=None, file=io.StringIO())
    console.print(layer_table(rep, width=120))
    text = console.file.getvalue()
    header = next(line for line in text.splitlines() if "module" in line)
    for column in ("module", "op", "geometry", "out", "RF", "stride", "centre", "params", "MACs"):
        assert column in header
    # the per-axis global rule: a global row says "global", its stride and centre "-"
    assert any("global" in line and "│      - │" in line for line in text.splitlines())
    params = sum(p.numel() for p in se_net().parameters())
    assert sum(int(r.meta.get("params", 0)) for r in rep.rows) == params
