"""`atrous analyze`: golden output, agreement with the Python API, bad input, --help, --png.

Golden files live in ``tests/golden/analyze_<case>.txt``; regenerate them with
``ATROUS_REGEN_GOLDEN=1 python -m pytest tests/test_cli_analyze.py`` and review the diff.
"""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

import pytest
from _golden import check_golden, golden_names

import atrous
from atrous.cli import main
from atrous.cli.analyze import EPILOG

CASES = {
    "seeds_222": "--rates 2,2,2",
    "hdc_125_input": "--rates 1,2,5 --input 32x32",
    "rule_passes_but_grids_23": "--rates 2,3",
    "rule_fails_but_free_521": "--rates 5,2,1 --ndim 1",
    "compare_222_123": "--rates 2,2,2 --compare 1,2,3",
    "compare_spec_rates_flag": '"3x3 d2, 3x3 d2" --compare "--rates 1,2"',
    "spec_1d": '"3 d1, 3 d2, 3 d9"',
    "spec_3d": '"3x3x3 d1, 3x3x3 d2"',
    "resnet_stem": '"7x7 s2 p3, maxpool 3x3 s2 p1, res(3x3, 3x3)" --input 64x64',
    "aspp": '"par(1x1 | 3x3 d6 | 3x3 d12 | gpool)" --input 33x33',
    "partial_opaque": '"3x3 d2, opaque:roll, 3x3"',
    "decoder_1d": '"3 s2, 3 s2, tconv 4 s2 p1, up2 linear"',
    "large_map_in_blocks": "--rates 1,2,5,9,1,2,5,9,17",
    "json_1d": '"3 d2, 3 d2" --json',
}


def run_cli(capsys: pytest.CaptureFixture[str], argv: str) -> tuple[int, str, str]:
    try:
        status = main(["analyze", *shlex.split(argv)])
    except SystemExit as exc:  # argparse's own errors (one line, status 2)
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_output(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, CASES[case])
    assert (status, err) == (0, "")
    check_golden(f"analyze_{case}.txt", out)


def test_no_stale_golden_files() -> None:
    assert golden_names("analyze") == {f"analyze_{case}.txt" for case in CASES}


def test_json_agrees_with_the_python_api(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, '"3x3 d1, 3x3 d2, 3x3 d5" --input 64x64 --json')
    assert status == 0
    assert json.loads(out) == json.loads(
        atrous.analyze("3x3 d1, 3x3 d2, 3x3 d5", input_size=(64, 64)).to_json()
    )
    status, out, _ = run_cli(capsys, "--rates 1,2,9 --kernel 3 --ndim 1 --json")
    data = json.loads(out)
    ref = atrous.analyze(atrous.stack([1, 2, 9], kernel=3, ndim=1))
    assert data["coverage"]["counts"] == ref.coverage.counts.tolist()
    assert data["hdc"] == ref.hdc.to_dict()


def test_compare_json_has_both_reports(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "--rates 2,2,2 --compare 1,2,3 --json")
    data = json.loads(out)
    assert status == 0 and [r["rf"]["size"] for r in data["reports"]] == [[13, 13]] * 2
    assert [r["coverage"]["gridded"] for r in data["reports"]] == [True, False]


def test_compare_of_global_outputs_agrees_with_each_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a global output of a large input: its whole-input map is deferred and the verdict is the
    # last local map's; the side-by-side view must show that map, not build the whole-input one
    # (which reads every pixel and so looked gridding-free next to a report saying it grids)
    gridded = "3x3 s2 p1, 3x3 d2 p2, gpool"
    _, out, _ = run_cli(capsys, f'"{gridded}" --input 512x512 --compare "3x3 s2 p1, 3x3 p1, gpool"')
    reports = [atrous.analyze(t, input_size=(512, 512))
               for t in (gridded, "3x3 s2 p1, 3x3 p1, gpool")]
    assert all(r.outputs[0].deferred for r in reports)
    exact = next(line for line in out.splitlines() if "exact verdict" in line)
    assert "✗ grids" in exact and "✓ gridding-free" in exact
    assert "centre unit (the last local map)" in out
    from rich.console import Console

    from atrous.render.text import render_compare

    render_compare(reports, Console(file=io.StringIO(), width=200))
    assert all(r.outputs[0].deferred for r in reports)  # rendering built nothing
    holes = next(line for line in out.splitlines() if "holes in the RF box" in line)
    assert str(reports[0].outputs[0].local.holes) in holes


def test_text_shows_the_verdicts_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "--rates 2,3")
    assert "HDC rule as stated: passes" in out
    assert "Exact answer:" in out and "grids" in out
    assert "Rule vs exact" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ('"3x3" --rates 1,2', "not both"),
        ("", "needs a SPEC"),
        ('"3x3 q2"', "unknown option 'q2'"),
        ("--rates 1,x", "comma-separated integers"),
        ('"3x3" --input 64', "--input 64 has 1 values, the network has 2 spatial axes"),
        ('"3x3" --input 1x3x64x64', "give the spatial size only (e.g. 64x64)"),
        ('"3x3" --compare "1d: 3 d2" --input 64x64', "has 2 values, the network has 1"),
        ("--rates 0,1", "rate #0 must be >= 1"),
        ("--rates 1,,2", "an empty entry"),
        ('"3x3" --kernel 5', "apply to --rates only"),
        ('"3x3" --ndim 1', "apply to --rates only"),
        ("--rates 1,2 --kernel x", "invalid int value: 'x'"),  # argparse's errors: one line too
        ("--rates 1,2,5 --png coverage.gif", "figure format must be"),
        ("--rates 1,2,5 --png .", "it is a folder"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    argv: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(capsys, argv)
    assert status == 2 and out == ""
    assert err.startswith("atrous analyze: error:") and message in err
    if "q2" not in message:
        assert len(err.strip().splitlines()) == 1


def test_spec_error_shows_the_caret(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run_cli(capsys, '"3x3 d2, 3x3 q2"')
    lines = err.rstrip("\n").splitlines()
    assert lines[-2] == "  3x3 d2, 3x3 q2" and lines[-1] == "  " + " " * 12 + "^"


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--compare" in out and "--png" in out


def test_every_help_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    examples = [line.strip().split("  ")[0] for line in EPILOG.splitlines()[1:]]
    assert len(examples) >= 8
    for example in examples:
        argv = shlex.split(example)
        assert argv[:2] == ["atrous", "analyze"]
        argv = [str(tmp_path / a) if a.endswith(".png") else a for a in argv[1:]]
        status, out, err = (main(argv), *capsys.readouterr())
        assert (status, err) == (0, ""), example
        assert out


def test_png_writes_a_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("atrous.render.figures")
    path = tmp_path / "cov.png"
    status, out, _ = run_cli(capsys, f"--rates 1,2,5 --png {path}")
    assert status == 0 and f"wrote {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, err = run_cli(capsys, f'"3x3, gpool" --png {tmp_path / "x.png"}')
    assert status == 2 and "no coverage map" in err


def test_docs_console_example_is_what_the_tool_prints(capsys: pytest.CaptureFixture[str]) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "gridding.md").read_text()
    block = doc.split("$ atrous analyze --rates 2,2,2\n", 1)[1].split("\n```", 1)[0]
    status, out, _ = run_cli(capsys, "--rates 2,2,2")
    assert status == 0
    assert [line.rstrip() for line in out.splitlines()] == block.splitlines()
