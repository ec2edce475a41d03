"""The JSON of ``atrous tile`` and the ``units`` record of analyze / model follow the shipped
schemas, and the physical lengths in them are the pixel figures times the unit."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_schemas import run_json

from atrous import schemas
from atrous.cli import main


@pytest.mark.parametrize("argv", [
    'tile "3x3 s2 p1, 3x3 d2 p2, tconv 2x2 s2" --input 50x37 --tile 16 --json',
    'tile "3x3 d2, 3x3 d4" --input 64x64 --tile 16 --spacing 0.5x0.25 --json',
    "tile torch.nn:Identity --input 1x1x64x64 --tile 16 --max-memory 8200KiB --json",
])
def test_tile_json_follows_its_schema(argv: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, argv)
    schemas.validate("tile", doc)
    assert doc["schema_version"] == 2 and doc["ok"]


def test_refused_tile_json_follows_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, 'tile "3x3, gpool" --input 32x32 --tile 8 --json', status=1)
    schemas.validate("tile", doc)
    assert not doc["ok"] and doc["tiles"] == [] and doc["findings"][0]["code"] == "global-op"


def test_tile_units_are_pixels_times_spacing(capsys: pytest.CaptureFixture[str]) -> None:
    """3x3 d2, 3x3 d4: RF 13, halo 6 per side; 0.5 mm and 0.25 mm per pixel."""
    units = run_json(capsys, 'tile "3x3 d2, 3x3 d4" --input 64x64 --tile 16 --spacing '
                             "0.5x0.25 --json")["units"]
    assert units["unit"] == "mm" and units["spacing"] == [0.5, 0.25]
    assert units["receptive_field"] == [13 * 0.5, 13 * 0.25]
    assert units["halo"] == [[3.0, 3.0], [1.5, 1.5]]
    assert units["text"][-1] == "halo 3 mm before / 3 mm after; 1.5 mm before / 1.5 mm after"


def test_analyze_json_carries_units(capsys: pytest.CaptureFixture[str]) -> None:
    """WaveNet rates 1..512 x3, k=2: 3070 samples = 0.191875 s at 16 kHz."""
    rates = ",".join(str(2**i) for i in range(10))
    doc = run_json(capsys, f"analyze --rates {','.join([rates] * 3)} -k 2 --ndim 1 "
                           "--sample-rate 16k --json")
    schemas.validate("analyze", doc)
    units = doc["units"]
    assert units["unit"] == "s" and units["sample_rate"] == 16000.0
    assert units["receptive_field"] == [3070 / 16000] and doc["rf"]["size"] == [3070]
    assert units["effective_stride"] == [1 / 16000]
    assert units["text"][0] == "receptive field 3070 samples = 191.9 ms at 16 kHz"
    compare = run_json(capsys, "analyze --rates 1,2 -k 2 --ndim 1 --compare 1,1 "
                               "--sample-rate 8000 --json")
    schemas.validate("analyze", compare)
    assert compare["units"]["receptive_field"] == [4 / 8000]
    assert "units" not in run_json(capsys, "analyze --rates 1,2 --json")


def test_model_json_carries_units(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    doc = run_json(capsys, "model torch.nn:Identity --input 1x1x8x6 --spacing 0.5x2 --json -")
    schemas.validate("model", doc)
    assert doc["units"]["receptive_field"] == [0.5, 2.0] and doc["rf"]["size"] == [1, 1]


def test_report_section_states_units() -> None:
    """The HTML report's section: the physical RF and stride among the verdicts, the record
    in the embedded JSON (what ``atrous report --sample-rate`` adds; the CLI run is slow)."""
    import argparse

    from atrous import analyze
    from atrous.render.html import add_unit_verdicts, page_html, section_from_report
    from atrous.units import Units

    report = analyze("1d: 3 d2, 3 d4")
    section = section_from_report(report, figures=False)
    units = Units.from_args(argparse.Namespace(sample_rate="8k", spacing=None))
    add_unit_verdicts(section, units, report.rf)
    html = page_html([section], title="units")
    assert "Receptive field (8 kHz)" in html and "1.625 ms" in html  # 13 samples
    assert section.data["units"]["receptive_field"] == [13 / 8000] and '"units"' in html


@pytest.mark.slow
def test_report_html_states_units(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "1d: 3 d2, 3 d4", "--sample-rate", "8k", "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "Receptive field (8 kHz)" in html and "1.625 ms" in html  # 13 samples
    assert '"units"' in html  # the embedded JSON carries the record too
    capsys.readouterr()
