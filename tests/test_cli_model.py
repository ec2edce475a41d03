"""`atrous model`: loading targets, the table and verdicts (golden files), JSON, PNG, errors.

Regenerate the golden files with ``ATROUS_REGEN_GOLDEN=1 pytest tests/test_cli_model.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from atrous.cli import main

HERE = Path(__file__).parent
MODELS = str(HERE / "models_for_tests.py")
GOLDEN = HERE / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ATROUS_REGEN_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with ATROUS_REGEN_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("target,shape,golden", [
    ("se_net", "1x3x32x32", "model_se_net.txt"),
    ("WaveNet", "1x1x2048", "model_wavenet.txt"),
    ("WithUnknownOp", "1x3x16x16", "model_unknown_op.txt"),
])
def test_table_and_verdicts_golden(target: str, shape: str, golden: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:{target}", "--input", shape]) == 0
    check_golden(golden, capsys.readouterr().out)


def test_wavenet_verdict_rf_1024(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:WaveNet", "--input", "1x1x2048", "--no-table"]) == 0
    out = capsys.readouterr().out
    assert "Receptive field: 1024, effective stride 1, unit 0 centred at -1023/2" in out


def test_json_to_stdout_and_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from models_for_tests import DictOutput

    assert main(["model", f"{MODELS}:DictOutput", "--input", "1x3x64x64", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    model = data["model"]
    assert {o["label"] for o in model["outputs"]} == {"out", "aux"}
    assert model["method"] == "fx" and model["partial"] is False
    assert data["status"] == "complete" and data["schema_version"] == 1
    assert model["params"] == sum(p.numel() for p in DictOutput().parameters())
    aux = next(o for o in data["outputs"] if o["name"] == "output.aux")
    assert aux["rf"]["size"] == [3, 3] and aux["rf"]["stride"] == [2, 2]
    out = next(o for o in data["outputs"] if o["name"] == "output.out")
    assert out["coverage"]["holes"] > 0  # the dilated conv after stride 4 grids
    out_file = tmp_path / "m.json"
    assert main(["model", f"{MODELS}:se_net", "--input", "1x3x32x32", "--json",
                 str(out_file)]) == 0
    data = json.loads(out_file.read_text())
    assert data["rf"]["is_global"] is True
    assert data["model"]["outputs"][0]["made_global_by"] == "2.mean (mean)"
    rows = {r["name"]: r for r in data["rows"]}
    conv = rows["0"]
    assert (conv["module"], conv["target"], conv["shape"]) == ("0", "Conv2d", [1, 4, 32, 32])
    assert conv["macs"] == 4 * 32 * 32 * 3 * 3 * 3  # C_out * H * W * C_in * k * k


def test_png_coverage_and_erf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "vgg.png"
    assert main(["model", f"{MODELS}:vgg_like", "--input", "1x3x64x64", "--png", str(png),
                 "--erf", "1", "--no-table"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "vgg-erf.png").read_bytes()[:4] == b"\x89PNG"
    assert "effective RF: 95% of the gradient mass" in capsys.readouterr().out


def test_importable_module_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "torch.nn:Identity", "--input", "1x3x8x8", "--no-table"]) == 0
    assert "Receptive field: 1x1, effective stride 1x1" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["nope.nothing:build"], "cannot import 'nope.nothing'"),
    ([f"{MODELS}:missing"], "has no attribute 'missing'"),
    ([f"{MODELS}"], "TARGET must look like"),
    (["no/such/file.py:build"], "no such file"),
    ([f"{MODELS}:C"], "is neither a callable nor an nn.Module"),
    ([f"{MODELS}:swap_max_pools"], "building the model with swap_max_pools() failed"),
    ([f"{MODELS}:MODELS"], "is neither a callable"),
])
def test_errors_are_one_line(argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", *argv, "--input", "1x3x16x16"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_trace_failure_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:vgg_like", "--input", "1x1x16x16"]) == 2
    err = capsys.readouterr().err
    assert "cannot trace Sequential" in err and err.count("\n") == 1


def test_bad_input_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:vgg_like", "--input", "16x16"]) == 2
    assert "--input must be" in capsys.readouterr().err


def test_help_teaches() -> None:
    with pytest.raises(SystemExit):
        main(["model", "--help"])
