"""`atrous shape`: golden output, agreement with the Python API, bad input, --help examples.

Golden files live in ``tests/golden/shape_<case>.txt``; regenerate them with
``ATROUS_REGEN_GOLDEN=1 python -m pytest tests/test_cli_shape.py`` and review the diff.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _golden import GOLDEN, check_golden, golden_names

import atrous
from atrous.cli import main
from atrous.cli.shape import EPILOG

CASES = {
    "seed_64_k3_d2": "64 -k 3 -d 2",
    "seed_64x64_keep": "64x64 -k 3 -d 2 --padding 2",
    "same_stride2": "64x48 -k 3 -s 2 --padding same",
    "same_even_kernel": "64 -k 4 --padding same",
    "asymmetric_pairs": "64x48 -k 3 --padding 0:1,1:1",
    "one_pair_every_axis": "64x48 -k 3 --padding 0:1",
    "per_axis_padding": "16x64x64 -k 3 -d 1x2x2 --padding 1,2,2",
    "transposed": "32 -k 4 -s 2 -p 1 --transposed",
    "transposed_output_padding": "7x7 -k 3 -s 2 -p 1 --transposed --output-padding 1",
    "transposed_target": "7x9 -k 3 -s 2 -p 1 --transposed --target 14x17",
    "pool_max": "112x112 -k 3 -s 2 -p 1 --pool max",
    "pool_avg_ceil": "6 -k 3 -s 2 -p 1 --pool avg --ceil-mode",
    "pool_ceil_last_window": "5 -k 2 -p 1 --pool max --ceil-mode",
    "pool_dilated": "32 -k 3 -s 1 -d 4 --pool max",
    "inverse_seed": "--inverse 60 -k 3 -d 2",
    "inverse_range_2d": "--inverse 64x48 -k 3 -s 2 -p 1",
    "inverse_same": "--inverse 32 -k 3 -s 2 --padding same",
    "inverse_pool_ceil": "--inverse 3 -k 2 -p 1 --pool max --ceil-mode",
    "inverse_transposed_any": "--inverse 63 -k 4 -s 2 -p 1 --transposed --output-padding any",
    "json_forward": "64x48 -k 3 -s 2 --padding same --json",
    "json_inverse": "--inverse 32 -k 3 -s 2 -p 1 --json",
}


def run_cli(capsys: pytest.CaptureFixture[str], argv: str) -> tuple[int, str, str]:
    status = main(["shape", *shlex.split(argv)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_output(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, CASES[case])
    assert (status, err) == (0, "")
    check_golden(f"shape_{case}.txt", out)


def test_no_stale_golden_files() -> None:
    assert golden_names("shape") == {f"shape_{case}.txt" for case in CASES}


def test_seed_example_prints_60_and_the_formula(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "64 -k 3 -d 2")
    assert out.splitlines() == [
        str(atrous.conv_output_size(64, 3, dilation=2)),
        atrous.explain("conv", 64, 3, dilation=2),
    ]
    assert out.splitlines()[0] == "60"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("64x48 -k 3 -s 2 --padding same", atrous.conv_output_size((64, 48), 3, 2, "same")),
        ("64x48 -k 3x5 -p 1,2", atrous.conv_output_size((64, 48), (3, 5), 1, (1, 2))),
        ("64x48 -k 3 -p 0:1,2:0", atrous.conv_output_size((64, 48), 3, 1, ((0, 1), (2, 0)))),
        ("20 -k 3 -s 2 -p 1 -d 2 --transposed --output-padding 1",
         atrous.conv_transpose_output_size(20, 3, 2, 1, 2, 1)),
        ("13x13 -k 3 -s 2 --pool max --ceil-mode", atrous.pool_output_size((13, 13), 3, 2,
                                                                           ceil_mode=True)),
        ("9x9x9 -k 2 --pool avg", atrous.pool_output_size((9, 9, 9), 2, mode="avg")),
        ("9 -k 3 --pool max", atrous.pool_output_size(9, 3)),  # stride defaults to the kernel
    ],
)
def test_json_agrees_with_the_python_api(
    argv: str, expected: object, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_cli(capsys, argv + " --json")
    data = json.loads(out)
    want = list(expected) if isinstance(expected, tuple) else [expected]
    assert status == 0 and data["output"] == want
    assert len(data["formula"]) == len(want)
    assert all(line.endswith(f"= {o}") or f"= {o}  (" in line
               for line, o in zip(data["formula"], want))


def test_json_fields(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "7x9 -k 3 -s 2 -p 1 --transposed --target 14x17 --json")
    data = json.loads(out)
    op = atrous.output_padding_for((7, 9), (14, 17), 3, 2, 1)
    assert data["op"] == "transposed" and data["output_padding"] == list(op)
    assert data["target"] == data["output"] == [14, 17]
    assert data["input"] == [7, 9] and data["kernel"] == [3, 3] and data["stride"] == [2, 2]
    _, out, _ = run_cli(capsys, "--inverse 64x48 -k 3 -s 2 -p 1 --json")
    data = json.loads(out)
    assert data["input_range"] == [list(r) for r in atrous.conv_input_size_range(
        (64, 48), 3, 2, 1)]
    assert "input" not in data and data["output"] == [64, 48]


def test_target_prints_the_output_padding(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "7 -k 3 -s 2 -p 1 --transposed --target 14")
    assert out.splitlines()[0] == f"output_padding {atrous.output_padding_for(7, 14, 3, 2, 1)}"


BAD = [
    ("64", "--kernel is required"),
    ("-k 3", "give either SIZE"),
    ("64 -k 3 --inverse 60", "not both"),
    ("64 -k 0", "every kernel entry must be >= 1, got '0'"),
    ("64 -k 3.5", "kernel must look like 64 or 64x48, got '3.5'"),
    ("6a -k 3", "size must look like 64 or 64x48, got '6a'"),
    ("64 -k 3 -d 0", "every dilation entry must be >= 1"),
    ("64 -k 3 -s 0", "every stride entry must be >= 1"),
    ("64 -k 3 -p -1", "padding must be >= 0, got -1"),
    ("64 -k 3 -p x", "padding must be an integer"),
    ("64 -k 3 -p 1:2:3", "padding pairs must look like left:right"),
    ("64 -k 3 -p full", "padding must be an integer, got 'full'"),
    ("64x48 -k 3 -p 0:1,0:1,0:1", "padding must have 2 (left, right) pairs"),
    ("64x48 -k 3x3x3", "disagree on the number of axes"),
    ("3 -k 5", "output size would be -1 (< 1)"),
    ("64 -k 3 --pool min", "--pool must be 'max' or 'avg', got 'min'"),
    ("64 -k 3 --pool max --transposed", "--pool and --transposed exclude each other"),
    ("64 -k 3 --ceil-mode", "--ceil-mode applies to pooling only"),
    ("64 -k 3 --pool max -p 2", "pooling padding must be at most half the kernel"),
    ("64 -k 3 --pool max -p same", "pooling padding must be an int"),
    ("64 -k 3 --pool avg -d 2", "average pooling has no dilation"),
    ("64 -k 3 --output-padding 1", "--output-padding applies to transposed convolution only"),
    ("64 -k 3 --target 66", "--target applies to transposed convolution only"),
    ("7 -k 3 -s 2 --transposed --output-padding 2", "output_padding 2 >= max(stride 2"),
    ("7 -k 3 -s 2 -p 1 --transposed --target 15", "target 15 is too large"),
    ("7 -k 3 -s 2 -p 1 --transposed --target 12", "target 12 is too small"),
    ("7 -k 3 --transposed --target 9 --output-padding 0", "--target and --output-padding"),
    ("7 -k 3 --transposed --output-padding any", "--output-padding any applies to --inverse"),
    ("--inverse 1 -k 1 -p 2", "no input size gives conv output 1"),
    ("--inverse 63 -k 4 -s 2 -p 1 --transposed", "output_padding 1 would reach it"),
    ("--inverse 0 -k 3", "every --inverse output entry must be >= 1"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_input_one_line_exit_2(
    argv: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run_cli(capsys, argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("atrous shape: error: ")
    assert message in err


def test_help_teaches_and_every_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["shape", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--inverse" in text and "--padding" in text
    examples = [line.split("atrous shape ", 1)[1] for line in EPILOG.splitlines()
                if line.strip().startswith("atrous shape ")]
    assert len(examples) >= 8
    for example in examples:
        argv = shlex.split(example.split("   ")[0])  # drop the trailing comment
        assert main(["shape", *argv]) == 0, example
        capsys.readouterr()


def test_the_installed_script() -> None:
    exe = shutil.which("atrous")
    cmd = [exe] if exe else [sys.executable, "-m", "atrous"]
    done = subprocess.run([*cmd, "shape", "64", "-k", "3", "-d", "2"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0
    assert done.stdout == (GOLDEN / "shape_seed_64_k3_d2.txt").read_text(encoding="utf-8")
    bad = subprocess.run([*cmd, "shape", "3", "-k", "5"], capture_output=True, text=True,
                         check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_docs_console_examples_match_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """Every ``$ atrous shape ...`` block in docs/arithmetic.md shows the real output."""
    text = (Path(__file__).parents[1] / "docs" / "arithmetic.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```console\n\$ atrous shape (.*?)\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    for argv, shown in blocks:
        _, out, _ = run_cli(capsys, argv)
        assert out == shown, argv


def test_the_cli_prints_the_core_record(capsys: pytest.CaptureFixture[str]) -> None:
    """The command is parse -> atrous.shapes.shape_query -> print; the record is the core's."""
    from atrous.shapes import shape_query

    cases = [
        ("64x48 -k 3 -s 2 --padding same", shape_query((64, 48), kernel=3, stride=2,
                                                       padding="same")),
        ("--inverse 63 -k 4 -s 2 -p 1 --transposed --output-padding any",
         shape_query(inverse=63, kernel=4, stride=2, padding=1, op="transposed",
                     output_padding=None)),
        ("5 -k 2 -p 1 --pool max --ceil-mode", shape_query(5, kernel=2, padding=1, op="pool",
                                                           ceil_mode=True)),
    ]
    for argv, result in cases:
        _, out, _ = run_cli(capsys, argv + " --json")
        assert json.loads(out) == json.loads(result.to_json())
        _, out, _ = run_cli(capsys, argv)
        assert out.splitlines() == [result.headline, *result.formula]
    source = (Path(atrous.__file__).parent / "cli" / "shape.py").read_text(encoding="utf-8")
    assert "arith._" not in source and "from .. import arith" not in source
