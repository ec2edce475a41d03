"""Start-up of the ``atrous`` process: what a spec analysis loads and does (issue 15's CLI targets).

``tests/test_cli_ux.py`` pins that the arithmetic commands load neither numpy nor torch; here
``atrous analyze --rates 1,2,5`` (the README's first example) must not load torch, matplotlib,
jinja2, onnx, dask, or shutil (argparse's way to the terminal width), ``--json`` not even rich,
the text not rich's emoji table; the CLI must tell numpy's OpenBLAS to start no thread pool
(its spinning threads cost about 0.05 s of CPU time a process) unless the command may run a
model; and a process of a short spec command runs without the cycle collector and ends without
the interpreter's teardown when nothing needs it, while ``main(argv)`` called from Python
changes neither. The CPU time itself is printed by ``benchmarks/cli_startup.py`` (a timing
would make this test flaky on a shared machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_analyze_rates_loads_no_torch_matplotlib_jinja2_onnx_dask_or_shutil() -> None:
    code = textwrap.dedent("""
        import contextlib, io, json, os, sys
        os.environ.pop("OPENBLAS_NUM_THREADS", None)
        from atrous.cli import main
        heavy = ("numpy", "rich", "torch", "matplotlib", "jinja2", "onnx", "dask", "shutil",
                 "rich._emoji_codes")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            json_rc = main(["analyze", "--rates", "1,2,5", "--json"])
        after_json = sorted(m for m in heavy if m in sys.modules)
        json_rf = json.loads(out.getvalue())["rf"]["size"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            text_rc = main(["analyze", "--rates", "1,2,5"])
        after_text = sorted(m for m in heavy if m in sys.modules)
        print("RESULT", json_rc, json_rf, after_json, text_rc, after_text,
              "17x17, effective stride 1x1" in out.getvalue(),
              os.environ.get("OPENBLAS_NUM_THREADS"), file=sys.stderr)
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    line = next((s for s in res.stderr.splitlines() if s.startswith("RESULT")), res.stderr)
    # the JSON report is the analysis without the terminal renderer; the text adds rich only;
    # numpy's OpenBLAS was told to start no thread pool (atrous does no BLAS work); argparse's
    # help formatter was given the terminal width, so it did not import shutil for it; the
    # console replaces no :emoji: codes, so rich's table of them stays unloaded
    assert line == ("RESULT 0 [17, 17] ['numpy'] 0 ['numpy', 'rich'] True None"), res.stderr


def test_the_atrous_process_sets_openblas_to_one_thread_a_caller_of_main_keeps_its_own() -> None:
    # as the ``atrous`` process (main() reads sys.argv): one OpenBLAS thread unless the user
    # set a value; an atexit handler makes the process exit normally, so it can print the value
    code = textwrap.dedent("""
        import atexit, os, sys
        preset = sys.argv[1]
        if preset == "-":
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = preset
        atexit.register(lambda: print("RESULT", os.environ.get("OPENBLAS_NUM_THREADS"),
                                      file=sys.stderr))
        sys.argv = ["atrous", "analyze", "--rates", "1,2,5", "--json"]
        from atrous.cli import main
        main()
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    for preset, expected in (("-", "1"), ("4", "4")):
        res = subprocess.run([sys.executable, "-c", code, preset], capture_output=True,
                             text=True, env=env, timeout=120)
        line = next((s for s in res.stderr.splitlines() if s.startswith("RESULT")), res.stderr)
        assert line == f"RESULT {expected}", res.stderr


_PROBE = textwrap.dedent("""
    import atexit, contextlib, gc, io, json, sys
    how = sys.argv[1]
    from atrous.cli import main
    runs = []
    gc.callbacks.append(lambda phase, info: runs.append(info["generation"])
                        if phase == "start" else None)
    out = io.StringIO()

    def report():
        print("RESULT", rc, json.loads(out.getvalue())["rf"]["size"], len(runs) > 0,
              gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)

    if how == "entry+atexit":  # something registered an exit handler: it still runs
        atexit.register(report)
    rc = None
    with contextlib.redirect_stdout(out):
        if how.startswith("entry"):  # as the atrous script calls it: main(), words in sys.argv
            sys.argv[1:] = ["analyze", "--rates", "1,2,5", "--json"]
            rc = main()
        else:  # as a test or a Python caller calls it
            rc = main(["analyze", "--rates", "1,2,5", "--json"])
    print("RETURNED", file=sys.stderr)
    if how == "call":
        report()
    sys.exit(rc)
""")


def _probe(how: str) -> tuple[int, list[str]]:
    env = dict(os.environ, PYTHONPATH=SRC)
    res = subprocess.run([sys.executable, "-c", _PROBE, how], capture_output=True, text=True,
                         env=env, timeout=120)
    return res.returncode, res.stderr.splitlines()


def test_the_atrous_process_runs_analyze_without_the_cycle_collector() -> None:
    # main() as the process's entry, an exit handler registered: no collection while numpy,
    # rich and atrous load (loading them runs dozens otherwise, as the test below shows); every
    # object frozen at the end, so the interpreter's collections at exit skip them; the
    # collector on again; main returned and the handler ran: the interpreter exited as usual
    assert _probe("entry+atexit") == (0, ["RETURNED", "RESULT 0 [17, 17] False True True"])


def test_the_atrous_process_ends_without_teardown_when_nothing_needs_it() -> None:
    # no exit handler, no other thread: main() flushed the output and ended the process there
    # (it never returned), skipping the interpreter's teardown; the exit status is the command's
    # and the output complete
    assert _probe("entry") == (0, [])
    env = dict(os.environ, PYTHONPATH=SRC)
    res = subprocess.run([sys.executable, "-m", "atrous", "analyze", "--rates", "1,2,5", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert (res.returncode, json.loads(res.stdout)["rf"]["size"], res.stderr) == (0, [17, 17], "")
    res = subprocess.run([sys.executable, "-m", "atrous", "analyze", "--rates", "1,0"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("atrous analyze: error:"), res.stderr


def test_an_atrous_process_without_stdout_exits_as_before() -> None:
    # stdout closed (``atrous shape ... >&-``): Python gives the process no sys.stdout; the
    # command's output goes nowhere and the status is still 0, without a traceback
    env = dict(os.environ, PYTHONPATH=SRC)
    res = subprocess.run([sys.executable, "-m", "atrous", "shape", "64", "-k", "3", "-d", "2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                         timeout=120, preexec_fn=lambda: os.close(1))
    assert (res.returncode, res.stderr) == (0, "")


def test_a_profiled_atrous_process_still_prints_its_profile() -> None:
    env = dict(os.environ, PYTHONPATH=SRC)
    res = subprocess.run([sys.executable, "-m", "cProfile", "-s", "tottime", "-m", "atrous",
                          "shape", "64", "-k", "3", "-d", "2"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0 and "function calls" in res.stdout, res.stdout[-400:]


def test_main_called_with_arguments_leaves_the_collector_alone() -> None:
    # tests and Python callers pass argv: main returns, their process keeps collecting and
    # nothing is frozen
    assert _probe("call") == (0, ["RETURNED", "RESULT 0 [17, 17] True True False"])


def test_commands_that_may_run_a_model_keep_the_collector_and_openblas() -> None:
    from atrous.cli import COMMANDS, SHORT_LIVED, _runs_model

    # a model's code (torch.fx tracing, the user's modules) makes cyclic garbage, and may do
    # BLAS work; a design search or an animation may run long: those keep Python's defaults
    assert {None, "shape", "analyze", "tile"} == SHORT_LIVED
    assert SHORT_LIVED - {None} <= set(COMMANDS)
    for command in ("model", "report", "bench", "demo"):
        assert _runs_model(command, [command, "3x3 d2"])
    assert _runs_model("tile", ["tile", "mypkg.models:build", "--input", "1x3x64x64"])
    assert not _runs_model("tile", ["tile", "3x3 d2", "--input", "64x64", "--tile", "32"])
    for quiet in ("shape", "analyze", "design", "draw", None):
        assert not _runs_model(quiet, ["--rates", "1,2,5"])


def test_a_model_command_keeps_the_users_openblas_setting() -> None:
    code = textwrap.dedent("""
        import contextlib, io, os, sys
        os.environ.pop("OPENBLAS_NUM_THREADS", None)
        from atrous.cli import main
        with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):
            main(["tile", "no_such_module_xyz:build", "--input", "1x3x64x64"])
        print("RESULT", os.environ.get("OPENBLAS_NUM_THREADS"), file=sys.stderr)
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    line = next((s for s in res.stderr.splitlines() if s.startswith("RESULT")), res.stderr)
    assert line == "RESULT None", res.stderr


@pytest.mark.parametrize("columns", [None, "60", "200", "0", "-3", "abc"])
def test_the_help_width_is_shutils(columns: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from atrous.cli import _columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _columns() == shutil.get_terminal_size().columns
