"""`atrous tile`: the plan as text and JSON, refusals, one-line errors."""

from __future__ import annotations

import json

import pytest

from atrous.cli import main
from atrous.tiling import tile_plan


def test_tile_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tile", "3x3 s2 p1, 3x3 d2 p2, 3x3 d4 p4", "--input", "1000x700",
                 "--tile", "128", "--spacing", "0.5"]) == 0
    out = capsys.readouterr().out
    plan = tile_plan("3x3 s2 p1, 3x3 d2 p2, 3x3 d4 p4", (1000, 700), 128)
    (b, a), _ = plan.halo
    assert f"halo (input pixels, per axis): {b} before / {a} after" in out
    assert f"overlap factor {plan.overlap_factor:.3f}" in out
    assert "receptive field 27x27 pixels = 13.5 mm x 13.5 mm at 0.5x0.5 mm spacing" in out


def test_tile_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tile", "3 d1, 3 d2, 3 d4", "--input", "100", "--tile", "32", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["halo"] == [[7, 7]] and record["ok"] and len(record["tiles"]) == 4


def test_tile_refusal_names_the_layer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tile", "3x3, gpool", "--input", "64x64", "--tile", "16"]) == 1
    assert "'global_pool0' sees the whole map" in capsys.readouterr().out


def test_tile_recommends_under_max_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tile", "torch.nn:Identity", "--input", "1x1x64x64", "--tile", "16",
                 "--max-memory", "8200KiB"]) == 0
    assert "recommended tile under 8.008 MiB" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["3x3 s2 p1, 3x3 s2 p1, up 4x4", "--input", "64x64", "--tile", "2"],
         "not a multiple of the alignment 4"),
        (["3x3", "--input", "64x-4", "--tile", "8"], "--input entries must be >= 1"),
        (["3x3", "--input", "64x64", "--tile", "0"], "--tile entries must be >= 1"),
        (["3x3", "--input", "64x64", "--tile", "8", "--max-memory", "lots"], "--max-memory"),
        (["3x3", "--input", "64x64", "--tile", "8", "--sample-rate", "16k"], "1-D signals"),
    ],
)
def test_tile_bad_input_one_line(argv: list[str], match: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tile", *argv]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
