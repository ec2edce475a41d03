"""`atrous design`: golden text output, JSON against the Python API, bad input.

Regenerate the golden files with ``ATROUS_REGEN_GOLDEN=1 pytest tests/test_cli_design.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import atrous
from atrous._design import pareto
from atrous.cli import main
from atrous.cli.design import coverage_strip

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("ATROUS_REGEN_GOLDEN") == "1"


def run_cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.setenv("COLUMNS", "110")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


CASES = {
    "design_target": ["design", "--kernel", "3", "--target-rf", "129", "--top", "5"],
    "design_layers_costs": [
        "design",
        "--layers",
        "3",
        "--channels",
        "256",
        "--feature-size",
        "64x64",
        "--top",
        "3",
    ],
    "design_uniform": [
        "design",
        "--target-rf",
        "41",
        "--layers",
        "5",
        "--max-rate",
        "12",
        "--ndim",
        "1",
        "--top",
        "4",
    ],
    "design_sawtooth": [
        "design",
        "--layers",
        "6",
        "--sawtooth",
        "2",
        "--max-rate",
        "16",
        "--top",
        "3",
    ],
    "design_repair": ["design", "--repair", "2,2,2", "--top", "2"],
    "design_repair_added": ["design", "--repair", "5,9,17", "--top", "1"],
    "design_pareto": [
        "design",
        "--pareto",
        "--kernel",
        "3",
        "--max-rate",
        "8",
        "--layers",
        "4",
        "--counts",
        "1,2,3",
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_text(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run_cli(CASES[name], capsys, monkeypatch)
    assert status == 0, err
    path = GOLDEN / f"{name}.txt"
    if REGEN:
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def test_json_matches_the_python_api(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = run_cli(
        ["design", "--target-rf", "129", "--max-rate", "64", "--json"], capsys, monkeypatch
    )
    assert status == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["kind"] == "design"
    data = doc["candidates"]
    api = atrous.design(kernel=3, target_rf=129, max_rate=64)
    assert [d["rates"] for d in data] == [list(c.rates) for c in api]
    assert all(d["gridding_free"] and d["rf"] >= 129 for d in data)


def test_repair_and_pareto_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = run_cli(["design", "--repair", "1,2,9", "--json"], capsys, monkeypatch)
    assert status == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["kind"] == "repair"
    data = doc["repairs"]
    assert data[0]["rates"] == list(atrous.repair([1, 2, 9])[0].rates)
    assert data[0]["changes"][0]["old"] == 2
    status, out, _ = run_cli(
        ["design", "--pareto", "--max-rate", "8", "--layers", "3", "--json"], capsys, monkeypatch
    )
    assert status == 0
    assert json.loads(out)["kind"] == "pareto"
    assert json.loads(out)["points"][0] == {
        "layers": 1,
        "count": 1,
        "width": 3,
        "rates": [1],
        "rf": 3,
        "optimal": True,
    }


def test_pareto_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    png = tmp_path / "p.png"
    status, out, _ = run_cli(
        ["design", "--pareto", "--max-rate", "8", "--layers", "3", "--png", str(png)],
        capsys,
        monkeypatch,
    )
    assert status == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "figure written" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["design"], "needs layers="),
        (["design", "--layers", "0"], "layers must be >= 1, got 0"),
        (["design", "--kernel", "1", "--layers", "2"], "kernel must be >= 2"),
        (["design", "--layers", "3", "--min-count", "2"], "needs target_rf"),
        (["design", "--repair", "2,x"], "comma-separated integers"),
        (["design", "--repair", "0,1"], "rate #0 must be >= 1"),
        (["design", "--layers", "3", "--sawtooth", "x"], "--sawtooth takes a repeat count"),
        (["design", "--layers", "3", "--png", "a.png"], "--png needs --pareto"),
        (
            [
                "design",
                "--target-rf",
                "129",
                "--layers",
                "7",
                "--max-rate",
                "64",
                "--max-nodes",
                "10",
            ],
            "rate multisets",  # refused up front
        ),
        (
            [
                "design",
                "--target-rf",
                "501",
                "--min-count",
                "2",
                "--max-rate",
                "64",
                "--max-nodes",
                "100",
            ],
            "partial schedules",  # (a fewest-layers search needs thousands of nodes)
        ),
        (["design", "--pareto", "--max-rate", "4096", "--layers", "8"], "raise max_nodes"),
        # options a mode would silently ignore are refused
        (["design", "--repair", "2,2,2", "--layers", "5"], "--repair does not use --layers"),
        (["design", "--pareto", "--target-rf", "50"], "--pareto does not use --target-rf"),
        (["design", "--counts", "1,2", "--layers", "3"], "--counts needs --pareto"),
        (["design", "--repair", "2,2,2", "--sawtooth", "2"], "--repair does not use --sawtooth"),
        (["design", "--kernel", "0", "--layers", "3"], "kernel must be >= 2"),
    ],
)
def test_bad_input_one_line_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, out, err = run_cli(argv, capsys, monkeypatch)
    assert status == 2
    assert err.count("\n") == 1 and message in err
    assert out == ""


def test_png_to_unwritable_path_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    target = blocker / "p.png"  # a path under a regular file can never be created
    argv = ["design", "--pareto", "--max-rate", "4", "--layers", "2", "--png", str(target)]
    status, out, err = run_cli(argv, capsys, monkeypatch)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and f"cannot write {str(target)!r}" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["design", "--layers", "8", "--max-rate", "64", "--top", "4"],
        ["design", "--target-rf", "100", "--max-rate", "2", "--top", "3"],
        ["design", "--target-rf", "129", "--channels", "64", "--feature-size", "10x10"],
    ],
)
def test_narrow_terminal_never_splits_or_hides_a_number(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    assert main(argv) == 0
    out = capsys.readouterr().out
    api = atrous.design(
        kernel=3,
        layers=int(argv[argv.index("--layers") + 1]) if "--layers" in argv else None,
        target_rf=int(argv[argv.index("--target-rf") + 1]) if "--target-rf" in argv else None,
        max_rate=int(argv[argv.index("--max-rate") + 1]) if "--max-rate" in argv else None,
        feature_size=(10, 10) if "--feature-size" in argv else None,
        top=int(argv[argv.index("--top") + 1]) if "--top" in argv else 10,
    )
    rows = [line.split() for line in out.splitlines() if line[:3].strip().isdigit()]
    assert len(rows) == len(api)
    for cells, cand in zip(rows, api):
        expanded = []  # undo the R*N run-length notation of the rates cell
        for part in cells[1].split(","):
            rate, _, times = part.partition("*")
            expanded += [int(rate)] * int(times or 1)
        assert tuple(expanded) == cand.rates
        assert cells[3] == str(cand.rf)
    assert "…" not in out and "rates <= " in out.splitlines()[0]


def test_narrow_pareto_table_wraps_between_rates(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["design", "--pareto", "--max-rate", "16", "--layers", "6"]) == 0
    out = capsys.readouterr().out
    frontier = pareto(kernel=3, max_rate=16, max_layers=6, counts=(1, 2, 3, 4))
    assert "…" not in out  # nothing cropped: cells wrap between rates instead
    tokens = out.replace(",", " ").replace("[", " ").replace("]", " ").split()
    for point in frontier.points:
        if point.rates is not None and point.width > 0:
            assert f"{point.width}{'*' if point.optimal else ''}" in tokens
            # each rate is printed whole (a split number would leave a fragment instead)
            assert all(str(r) in tokens or f"{r}x" in out for r in set(point.rates))


def test_coverage_strip_shows_holes_and_levels() -> None:
    assert coverage_strip([1, 0, 1]) == "█ █"
    prof = atrous.design(kernel=3, layers=2, top=1)[0].profile
    assert prof is not None and coverage_strip(prof) == "█" * len(prof)


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["design", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--repair 2,2,2" in out


# -- review fixes ---------------------------------------------------------------------------


def test_help_shows_no_none_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["design", "--help"])
    out = capsys.readouterr().out
    assert "(default: None)" not in out and "(default: False)" not in out
    assert "(default: 3)" in out  # real defaults are still shown


def test_sawtooth_title_names_the_constraint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = run_cli(
        ["design", "--layers", "6", "--max-rate", "4", "--sawtooth", "2"], capsys, monkeypatch
    )
    assert status == 0
    assert "repeated 2 times" in out.splitlines()[0]
    best = atrous.design(layers=6, max_rate=4, sawtooth=2, top=1)[0]
    assert best.rates == (1, 3, 4, 1, 3, 4)  # a binding cap used to report "no schedule"


def test_huge_answers_stay_readable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = run_cli(["design", "--layers", "40", "--top", "2"], capsys, monkeypatch)
    assert status == 0
    best = atrous.design(layers=40, top=1)[0]
    assert str(best.rf) not in out  # 3**40: abbreviated
    assert f"{best.rf:.3g}".replace("e+", "e") in out
    rows = [line for line in out.splitlines() if line.strip()]
    assert len(rows) <= 2 + 4 + 3 * 2 + 3  # title, header, rule, 2 rows of <= 3 lines, notes
    assert max(len(line) for line in rows) <= 110


def test_progress_goes_to_stderr_when_it_is_not_a_terminal() -> None:
    import io

    from atrous.cli.design import Progress

    stream = io.StringIO()  # not a terminal: each report is a line of its own
    progress = Progress(stream)
    progress.start -= 6.0  # as if the search had run for six seconds
    progress.last -= 6.0
    progress(0.25)
    progress(0.5)  # within five seconds of the last report (not a terminal): silent
    progress.close()
    assert stream.getvalue() == "atrous design: searching, 25% of the space done after 6 s\n"


def test_pareto_png_folder_is_refused_before_the_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    design_module = importlib.import_module("atrous._design")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the search ran before the path was checked")

    monkeypatch.setattr(design_module, "pareto", never)
    assert main(["design", "--pareto", "--png", str(tmp_path)]) == 2
    assert "it is a folder" in capsys.readouterr().err


def test_time_limit_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["design", "--target-rf", "129", "--layers", "8", "--max-rate", "64"]
    assert main([*argv, "--time-limit", "0.2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--time-limit" in err and "smaller max_rate" in err


def test_repair_explains_each_layer_by_its_own_rate() -> None:
    fixed = atrous.repair([2, 2, 2])[0]
    reasons = {c.index: c.reason for c in fixed.changes}
    assert reasons[0].startswith("2 > RF_0 = 1: holes")  # layer 1 sits on RF_0 = 1
    assert "holes" not in reasons[2]  # layer 3 sits on RF 9 of layers 1-2: it left no hole
    assert "to keep the RF >= 13" in reasons[2]
