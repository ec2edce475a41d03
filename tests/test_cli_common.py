"""The argument syntax `atrous shape` and `atrous draw` share (cli/_common): one padding and
per-axis parser, checked against torch's own output sizes and for one wording of each refusal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from atrous.cli import main

torch = pytest.importorskip("torch")


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return re.sub(r"^atrous \w+: error: ", "", err)


@pytest.mark.parametrize("text", ["-1", "1:2:3", "a", "0:x", ""])
def test_shape_and_draw_refuse_a_padding_in_the_same_words(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shape = _error(["shape", "64", "-k", "3", "-p", text], capsys)
    draw = _error(["draw", "conv", "--input", "7", "-k", "3", "-p", text,
                   "-o", str(tmp_path / "d.png")], capsys)
    assert shape == draw
    assert "padding" in shape


def test_shape_reads_a_bare_entry_among_pairs_as_both_sides(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["shape", "64x48", "-k", "3", "-p", "0:1,2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    x = torch.nn.functional.pad(torch.zeros(1, 1, 64, 48), (2, 2, 0, 1))  # (W: 2,2; H: 0,1)
    want = torch.nn.functional.conv2d(x, torch.zeros(1, 1, 3, 3)).shape[2:]
    assert got["padding"] == [[0, 1], [2, 2]]
    assert tuple(got["output"]) == tuple(want)


def test_draw_takes_a_zero_output_padding_on_one_axis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --output-padding 0,1 was refused before ("must look like 64 or 64x48": read as a size)
    conv = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=(0, 1))
    want = conv(torch.zeros(1, 1, 4, 4)).shape[2:]
    assert main(["draw", "transposed", "--input", "4", "-k", "3", "-s", "2",
                 "--output-padding", "0,1", "-o", str(tmp_path / "t.png")]) == 0
    steps = re.search(r"step 1/(\d+)", capsys.readouterr().out)
    assert steps is not None and int(steps.group(1)) == want[0] * want[1]
