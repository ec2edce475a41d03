"""The CLI's first-contact behaviour: help text, start-up cost, targets with arguments, routing,
hostile arguments, output-file safety and the per-layer model table's totals (torchinfo's
definitions, transcribed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from atrous.cli import COMMANDS, SUMMARIES, build_parser, main

HERE = Path(__file__).parent
UX = str(HERE / "models_ux.py")
SRC = str(HERE.parent / "src")


def run_cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "atrous", *argv], capture_output=True,
                          text=True, env=env, timeout=timeout)


# -- help --------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_each_default_once(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: None)" not in text and "(default: False)" not in text
    import re

    for m in re.finditer(r"\(default[^)]*\)", text):
        rest = text[m.end():m.end() + 40]
        assert not rest.lstrip().startswith("(default"), f"{command}: {text[m.start():][:80]}"


def test_top_level_summaries_are_the_commands_own() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert helps == SUMMARIES


def test_gridding_auto_limit_is_the_analysis_own() -> None:
    from atrous.cli.model import GRIDDING_AUTO_NODES as shown
    from atrous.report import GRIDDING_AUTO_NODES

    assert shown == GRIDDING_AUTO_NODES


# -- start-up: the arithmetic commands load neither numpy nor torch ------------------------------
@pytest.mark.parametrize("argv", [["--help"], ["shape", "64", "-k", "3", "-d", "2"],
                                  ["shape", "--inverse", "64x48", "-k", "3", "-s", "2"],
                                  ["shape", "--help"], ["--version"]])
def test_arithmetic_commands_import_neither_numpy_nor_torch(argv: list[str]) -> None:
    code = textwrap.dedent(f"""
        import sys
        from atrous.cli import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        heavy = sorted(m for m in ("numpy", "torch", "matplotlib", "rich", "jinja2")
                       if m in sys.modules)
        print("HEAVY", heavy, file=sys.stderr)
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60)
    assert "HEAVY []" in res.stderr, res.stderr


# -- bad values ---------------------------------------------------------------------------------
def test_negative_size_is_a_value_not_an_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{UX}:bn_net", "--input", "-5x64"]) == 2
    err = capsys.readouterr().err
    assert "expected one argument" not in err and "'-5x64'" in err and err.count("\n") == 1
    assert main(["shape", "-5", "-k", "3"]) == 2
    assert ">= 1" in capsys.readouterr().err


def test_non_utf8_argument_is_one_line() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "atrous", "report", "3x3 d2", "--title", b"\xff", "-o",
         os.devnull + "-unused.html"],
        capture_output=True, env=dict(os.environ, PYTHONPATH=SRC), timeout=60)
    assert res.returncode == 2
    assert res.stderr.decode().strip() == "atrous: error: argument '\\xff' is not valid UTF-8"


def test_huge_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "3 d2, 3 d4", "--input", "9" * 40, "-o",
                 str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at most 2**62" in err


def test_pw_relu_is_a_spec_not_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from atrous.cli.report import is_model_target

    assert not is_model_target("pw:relu") and not is_model_target("opaque:roll")
    assert is_model_target("net.py:build(output_stride=8)")
    out = tmp_path / "pw.html"
    assert main(["report", "pw:relu", "--input", "8x8", "-o", str(out)]) == 0
    assert out.exists()


# -- targets ------------------------------------------------------------------------------------
def test_missing_file_is_refused_before_torch_is_imported() -> None:
    code = ("import sys\nfrom atrous.cli import main\n"
            "rc = main(['model', 'nosuch.py:build', '--input', '1x3x8x8'])\n"
            "print('RC', rc, 'torch' in sys.modules, file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=SRC), timeout=60)
    assert "no such file: nosuch.py" in res.stderr and "RC 2 False" in res.stderr


def test_target_with_literal_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{UX}:bn_net(width=6)", "--input", "1x3x8x8", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["shape"] == [1, 6, 8, 8]
    assert main(["model", "torch.nn:Conv1d(1, 1, 3, dilation=4)", "--input", "1x1x64",
                 "--no-table"]) == 0
    assert "Receptive field: 9," in capsys.readouterr().out


@pytest.mark.parametrize("target", [
    f"{UX}:bn_net(__import__('os').system('echo pwned'))",
    f"{UX}:bn_net(width=open('/etc/passwd'))",
    f"{UX}:bn_net(**{{'width': 2}})",
])
def test_target_arguments_are_never_evaluated(target: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", target, "--input", "1x3x8x8"]) == 2
    captured = capsys.readouterr()
    assert "must be literals" in captured.err and "pwned" not in captured.out


# -- the model table ----------------------------------------------------------------------------
def test_memory_follows_torchinfo_definitions(capsys: pytest.CaptureFixture[str]) -> None:
    """bn_net(freeze_last=True) on 1x3x8x8, by torchinfo's ModelStatistics:

    - params: conv 3*4*9+4 = 112, bn 4+4 = 8, conv 4*2+2 = 10 -> 130, of which 10 frozen;
      "Params size" = 130 * 4 bytes = 520.
    - "Input size" = 1*3*8*8 floats = 768 bytes.
    - "Forward/backward pass size" = 2 x the outputs of the leaf layers with parameters
      (conv 1x4x8x8, bn 1x4x8x8, conv 1x2x8x8 = 640 floats) = 2 * 2560 = 5120 bytes.
    - "Estimated Total Size" = 768 + 5120 + 520 = 6408 bytes.
    Buffers (not in torchinfo's total): running mean and var 2 * 4 floats + one int64 = 40 bytes.
    """
    assert main(["model", f"{UX}:bn_net(freeze_last=True)", "--input", "1x3x8x8",
                 "--json", "-"]) == 0
    mem = json.loads(capsys.readouterr().out)["model"]["memory"]
    assert mem == {"params": 130, "trainable": 120, "frozen": 10, "param_bytes": 520,
                   "buffer_bytes": 40, "input_bytes": 768, "forward_backward_bytes": 5120,
                   "total_bytes": 6408}


def test_memory_of_a_wider_model_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    # width 512 on 1x3x64x64: params 3*512*9+512 + 2*512 + 512*2+2 = 16,386; forward/backward
    # 2 * 4 * (2 * 512*64*64 + 2*64*64) = 33,619,968 bytes -> 33.62 MB
    assert main(["model", f"{UX}:bn_net(width=512, freeze_last=True)", "--input",
                 "1x3x64x64", "--no-table"]) == 0
    out = capsys.readouterr().out
    assert "Parameters: 16,386 (15,360 trainable, 1,026 frozen)" in out
    assert "forward/backward 33.62 MB" in out


def test_depth_nests_rows_and_sums_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{UX}:Nested", "--input", "1x1x8x8", "--depth", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    s1 = next(x for x in lines if x.startswith("stage1"))
    s2 = next(x for x in lines if x.startswith("stage2"))
    # stage1: 1*2*9+2 + 2*2*9+2 = 58 params; stage2: 2*2*9+2 + 2+1 = 41; RF after stage2 = 9
    assert s1.split()[-2] == "58" and "5x5" in s1
    assert s2.split()[-2] == "41" and "9x9" in s2
    assert main(["model", f"{UX}:Nested", "--input", "1x1x8x8", "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "\n  stage1.0 " in out and "\n  stage2.1 " in out


def test_extra_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{UX}:bn_net(freeze_last=True)", "--input", "1x3x8x8",
                 "--columns", "kernel,param%,trainable"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1].split()
    assert header[-4:] == ["params", "param%", "trainable", "MACs"] and "kernel" in header
    row3 = next(x for x in out.splitlines() if x.startswith("3 "))
    assert "2x4x1x1" in row3 and "7.7%" in row3  # 10 of 130 parameters; frozen: 0 trainable
    assert main(["model", f"{UX}:bn_net", "--input", "1x3x8x8", "--columns", "flops"]) == 2
    assert "unknown column 'flops'" in capsys.readouterr().err


def test_control_characters_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{UX}:hostile_names", "--input", "1x1x8x8"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b[31m\\x1b]0;title\\x07" in out and "line\\nbreak" in out
    assert "[bold]markup[/]" in out and "$\\frac{a}{b}$" in out  # shown as written
    assert all(line == line.rstrip() for line in out.splitlines())  # no trailing blanks


def test_several_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{UX}:TwoInputs", "--input", "1x3x8x8,1x1x8x8", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["inputs"] == [[1, 3, 8, 8], [1, 1, 8, 8]]
    assert data["rf"]["size"] == [5, 5]  # the mask branch's 5x5 conv
    assert data["model"]["memory"]["input_bytes"] == (192 + 64) * 4


def test_several_inputs_need_the_same_axes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", f"{UX}:TwoInputs", "--input", "1x3x8x8,1x8"]) == 2
    assert "--input" in capsys.readouterr().err
    assert main(["model", f"{UX}:TwoInputs", "--input", "1x3x8x8,1x1x8x8", "--erf", "2"]) == 2
    assert "one input tensor" in capsys.readouterr().err


# -- output files -------------------------------------------------------------------------------
def test_write_atomic_refuses_special_files_and_writes_through_links(tmp_path: Path) -> None:
    from atrous.errors import AtrousError
    from atrous.render.figures import write_atomic

    with pytest.raises(AtrousError, match="character device"):
        write_atomic("/dev/null", b"x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AtrousError, match="a FIFO"):
        write_atomic(fifo, b"x")
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert write_atomic(link, "new") == link
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link.txt", "real.txt"]


@pytest.mark.parametrize("command", [["draw", "dilated", "--input", "7", "-k", "3", "-d", "2"],
                                     ["report", "3x3 d2, 3x3 d2"]])
@pytest.mark.parametrize("path", ["/proc/x.gif", "/dev/null"])
def test_draw_and_report_refuse_the_path_first(command: list[str], path: str) -> None:
    if command[0] == "report":
        path = path.replace(".gif", ".html")
    res = run_cli(*command, "-o", path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "cannot write" in res.stderr and "Traceback" not in res.stderr


def test_model_json_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.json"
    out.write_text("previous")
    import atrous.render.figures as figures

    real = figures.os.replace

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figures.os, "replace", full_disk)
    assert main(["model", f"{UX}:bn_net", "--input", "1x3x8x8", "--no-table", "--json",
                 str(out)]) == 2
    assert out.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["m.json"]
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.setattr(figures.os, "replace", real)
    assert main(["model", f"{UX}:bn_net", "--input", "1x3x8x8", "--no-table", "--json",
                 str(out)]) == 0
    assert json.loads(out.read_text())["model"]["params"] == 130


def test_repeated_notes_are_grouped(capsys: pytest.CaptureFixture[str]) -> None:
    """WaveNet's 18 misaligned merges: one line in the terminal, one finding naming all 18 in
    --json."""
    wavenet = str(HERE.parent / "examples" / "wavenet.py")
    assert main(["model", f"{wavenet}:build", "--input", "1x1x1024", "--no-table"]) == 0
    out = capsys.readouterr().out
    merges = [ln for ln in out.splitlines() if "merge(s) of paths whose centres differ" in ln]
    assert len(merges) == 1 and "18 merge(s)" in merges[0] and "and 14 more" in merges[0]
    assert main(["model", f"{wavenet}:build", "--input", "1x1x1024", "--json", "-"]) == 0
    found = json.loads(capsys.readouterr().out)["findings"]
    grouped = [f for f in found if f["code"] == "misaligned-merge"]
    assert len(grouped) == 1 and len(grouped[0]["data"]["nodes"]) == 18
