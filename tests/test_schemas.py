"""The shipped JSON schemas validate the real ``--json`` output of all four commands."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import jsonschema
import pytest

import atrous
from atrous import schemas
from atrous.cli import main
from atrous.findings import CODES, SEVERITIES

MODELS = str(Path(__file__).parent / "models_for_tests.py")


def run_json(capsys: pytest.CaptureFixture[str], argv: str, status: int = 0) -> dict:
    """The JSON document ``atrous ARGV`` prints (exit ``status``, nothing on stderr)."""
    assert main(shlex.split(argv)) == status, argv
    out, err = capsys.readouterr()
    assert err == "", err
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


def test_the_schemas_are_valid_and_shipped() -> None:
    for name in schemas.SCHEMAS:
        doc = schemas.load(name)
        jsonschema.Draft202012Validator.check_schema(doc)
        assert doc["$id"].endswith(f"/{name}.schema.json")
    finding = schemas.load("analyze")["$defs"]["finding"]["properties"]
    assert finding["code"]["enum"] == sorted(CODES)  # every code the core can emit, no other
    assert finding["severity"]["enum"] == list(SEVERITIES)
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"schemas/*.json"' in pyproject
    with pytest.raises(atrous.AtrousError, match="no schema named 'nope'"):
        schemas.load("nope")


@pytest.mark.parametrize("argv", [
    "analyze --rates 2,3 --json",
    'analyze "3x3 d2, opaque:roll, 3x3" --json',
    'analyze "par(1x1 | 3x3 d6 | 3x3 d12 | gpool)" --input 33x33 --json',
    'analyze "tconv 1 s2 p1, 1 s2" --input 64 --json',
    'analyze "1d: res(2 p1:0 d1, 2 p2:0 d2)" --json',
    "analyze --rates 2,2,2 --compare 1,2,3 --json",
])
def test_analyze_json_follows_its_schema(argv: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, argv)
    schemas.validate("analyze", doc)
    assert isinstance(doc, dict) and doc["schema_version"] == atrous.Report.schema_version == 2


def test_a_broken_document_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "analyze --rates 2,3 --json")
    assert isinstance(doc, dict)
    doc["findings"][0]["severity"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        schemas.validate("analyze", doc)
    del doc["findings"]
    with pytest.raises(jsonschema.ValidationError):
        schemas.validate("analyze", doc)


@pytest.mark.parametrize("argv", [
    "shape 64 -k 3 -d 2 --json",
    "shape 64x48 -k 3 -s 2 --padding same --json",
    "shape 64x48 -k 3 --padding 0:1,1:1 --json",
    "shape 7x9 -k 3 -s 2 -p 1 --transposed --target 14x17 --json",
    "shape 6 -k 3 -s 2 -p 1 --pool avg --ceil-mode --json",
    "shape --inverse 32 -k 3 -s 2 -p 1 --json",
    "shape --inverse 32 -k 3 -s 2 --padding same --json",
    "shape --inverse 63 -k 4 -s 2 -p 1 --transposed --output-padding any --json",
])
def test_shape_json_follows_its_schema(argv: str, capsys: pytest.CaptureFixture[str]) -> None:
    schemas.validate("shape", run_json(capsys, argv))


def test_model_json_follows_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    models = (("se_net", "1x3x32x32"), ("WaveNet", "1x1x256"), ("DictOutput", "1x3x32x32"))
    for target, shape in models:
        doc = run_json(capsys, f"model {MODELS}:{target} --input {shape} --json -")
        schemas.validate("model", doc)


@pytest.mark.parametrize("argv", [
    "design --layers 3 --top 2 --json",
    "design --target-rf 29 --json",
    "design --repair 2,2,2 --json",
    "design --pareto --layers 3 --json",
])
def test_design_json_follows_its_schema(argv: str, capsys: pytest.CaptureFixture[str]) -> None:
    schemas.validate("design", run_json(capsys, argv))
