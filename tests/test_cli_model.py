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


@pytest.mark.parametrize("target,shape,golden,extra", [
    ("se_net", "1x3x32x32", "model_se_net.txt", []),
    ("WaveNet", "1x1x2048", "model_wavenet.txt", []),
    ("WithUnknownOp", "1x3x16x16", "model_unknown_op.txt", []),
    # torchinfo's nested view: headers per enclosing module, groups summed, the extra columns
    ("ResNetLike(blocks=(2, 1, 1, 1))", "1x3x32x32", "model_resnet_depth2_columns.txt",
     ["--depth", "2", "--columns", "kernel,param%,trainable", "--gridding", "off"]),
])
def test_table_and_verdicts_golden(target: str, shape: str, golden: str, extra: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:{target}", "--input", shape, *extra]) == 0
    check_golden(golden, capsys.readouterr().out)


def test_wavenet_verdict_rf_1024(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:WaveNet", "--input", "1x1x2048", "--no-table"]) == 0
    out = capsys.readouterr().out
    assert ("Receptive field: 1024, effective stride 1, the first unit centred on input pixel "
            "-511.5") in out


def test_json_to_stdout_and_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from models_for_tests import DictOutput

    assert main(["model", f"{MODELS}:DictOutput", "--input", "1x3x64x64", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    model = data["model"]
    assert {o["label"] for o in model["outputs"]} == {"out", "aux"}
    assert model["method"] == "fx" and model["partial"] is False
    assert data["status"] == "complete" and data["schema_version"] == 2
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


def test_fake_tensor_failure_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """torch logs a traceback per failed fake kernel (~150 lines); the CLI prints one line."""
    import logging

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    log = logging.getLogger("torch._subclasses.fake_tensor")
    log.addHandler(handler)
    try:
        assert main(["model", f"{MODELS}:bad_pool", "--input", "1x3x16x16", "--no-table"]) == 2
    finally:
        log.removeHandler(handler)
    err = capsys.readouterr().err
    assert "cannot trace Gated" in err and err.count("\n") == 1
    assert records == []


def test_input_form_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:vgg_like", "--input", "abc"]) == 2
    err = capsys.readouterr().err
    assert "--input must look like NxCxL, NxCxHxW or NxCxDxHxW" in err and "'abc'" in err


@pytest.mark.parametrize("flag", ["--json", "--png"])
def test_unwritable_output_is_refused_before_the_work(flag: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # the target would fail to build: the path is checked first, so that is what is reported
    for bad in ("/proc/out.file", "/dev/null", str(tmp_path / "a-file" / "out.file")):
        (tmp_path / "a-file").write_text("")
        assert main(["model", f"{MODELS}:swap_max_pools", "--input", "1x3x16x16", flag,
                     bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"atrous model: error: {flag}: cannot write"), err
        assert err.count("\n") == 1
    (tmp_path / "a-file").unlink()
    assert main(["model", f"{MODELS}:vgg_like", "--input", "1x3x16x16", flag,
                 str(tmp_path)]) == 2
    assert "it is a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # the check leaves nothing behind


def test_3d_model_png_with_erf_skips_the_erf_figure(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "d3.png"
    assert main(["model", f"{MODELS}:dilated_3d", "--input", "1x1x10x10x10", "--png", str(png),
                 "--erf", "1", "--no-table"]) == 0
    out, err = capsys.readouterr()
    assert png.read_bytes()[:4] == b"\x89PNG"  # the coverage map
    assert not (tmp_path / "d3-erf.png").exists()
    assert "no ERF figure: only 1-D and 2-D ERF maps can be drawn" in err
    assert "effective RF: 95% of the gradient mass" in out


def test_erf_of_a_dict_model_names_its_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:DictOutput", "--input", "1x3x32x32", "--erf", "1",
                 "--no-table"]) == 0
    assert "effective RF of output 'out' (the first;" in capsys.readouterr().out


def test_field_global_along_one_axis_is_shown_per_axis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{MODELS}:strip_gate", "--input", "1x3x16x16"]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("mul   ")
               and line.split()[1] == "mul")  # module, op, geometry, output, RF, stride, start
    assert row[3:7] == ["1x4x16x16", "3xglobal", "1x-", "0,-"], row
    assert main(["model", f"{MODELS}:strip_gate", "--input", "1x3x16x16", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rf"]["global_axes"] == [False, True] and data["status"] == "complete"
