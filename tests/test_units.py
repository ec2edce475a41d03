"""Physical units: seconds and millimetres next to pixels."""

from __future__ import annotations

import pytest

from atrous import AtrousError, receptive_field
from atrous.units import Units, format_duration, parse_sample_rate, parse_spacing, units_lines


def test_wavenet_rf_in_milliseconds() -> None:
    """Rates 1..512 repeated 3 times, k=2: RF = 1 + 3 * 1023 = 3070 samples; at 16 kHz that is
    3070 / 16000 s = 191.875 ms."""
    spec = ", ".join(f"2 d{2**i}" for i in range(10))
    rf = receptive_field(", ".join([spec] * 3))
    assert rf.size == (1 + 3 * 1023,)
    lines = units_lines(rf, Units(sample_rate="16k"))
    assert lines[0] == "receptive field 3070 samples = 191.9 ms at 16 kHz"
    assert Units(sample_rate=16000).value(3070) == pytest.approx(3070 / 16000)


def test_spacing_per_axis() -> None:
    rf = receptive_field("3x3 d2, 3x3 d4")
    lines = units_lines(rf, Units(spacing="0.5x2"), halo=[(6, 6), (6, 6)])
    assert lines[0] == "receptive field 13x13 pixels = 6.5 mm x 26 mm at 0.5x2 mm spacing"
    assert lines[-1] == "halo 3 mm before / 3 mm after; 12 mm before / 12 mm after"


@pytest.mark.parametrize(("text", "hz"), [("16000", 16000.0), ("16k", 16000.0),
                                          ("44.1 kHz", 44100.0), (8000, 8000.0)])
def test_parse_sample_rate(text: object, hz: float) -> None:
    assert parse_sample_rate(text) == hz


@pytest.mark.parametrize("bad", ["fast", "-3", "0", True])
def test_bad_units_are_errors(bad: object) -> None:
    with pytest.raises(AtrousError):
        parse_sample_rate(bad)
    with pytest.raises(AtrousError):
        parse_spacing(bad if not isinstance(bad, bool) else "x")


def test_spacing_must_match_axes() -> None:
    with pytest.raises(AtrousError, match="1 or 2 entries"):
        parse_spacing("1x1x1", ndim=2)
    with pytest.raises(AtrousError, match="not both"):
        Units(sample_rate=1, spacing=1)


def test_format_duration() -> None:
    assert format_duration(0.191875) == "191.9 ms"
    assert format_duration(0) == "0 s"


def test_cli_analyze_and_model_state_units(capsys: pytest.CaptureFixture[str]) -> None:
    from atrous.cli import main

    assert main(["analyze", "--rates", "1,2,4,8", "-k", "2", "--ndim", "1",
                 "--sample-rate", "16k"]) == 0
    assert "receptive field 16 samples = 1 ms at 16 kHz" in capsys.readouterr().out
    assert main(["analyze", "3x3 d2", "--sample-rate", "16k"]) == 2
    assert "1-D signals" in capsys.readouterr().err
    assert main(["model", "torch.nn:Identity", "--input", "1x1x8x8", "--spacing", "0.5",
                 "--no-table"]) == 0
    assert "receptive field 1x1 pixels = 0.5 mm x 0.5 mm" in capsys.readouterr().out
