"""Start-up of ``atrous analyze``: what a spec analysis loads (issue 15's CLI targets).

``tests/test_cli_ux.py`` pins that the arithmetic commands load neither numpy nor torch; here
``atrous analyze --rates 1,2,5`` (the README's first example) must not load torch, matplotlib,
jinja2, onnx or dask (a spec needs none of them), and ``--json`` not even rich. One child
interpreter runs both, so the modules are those of a fresh process; it also checks that the
CLI told numpy's OpenBLAS to start no thread pool (its spinning threads cost about 0.1 s of CPU
time a process on two cores). The CPU time itself is
printed by ``benchmarks/cli_startup.py`` (a timing would make this test flaky on a shared
machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_analyze_rates_loads_no_torch_matplotlib_jinja2_onnx_or_dask() -> None:
    code = textwrap.dedent("""
        import contextlib, io, json, os, sys
        os.environ.pop("OPENBLAS_NUM_THREADS", None)
        from atrous.cli import main
        heavy = ("numpy", "rich", "torch", "matplotlib", "jinja2", "onnx", "dask")
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
    # numpy's OpenBLAS was told to start no thread pool (atrous does no BLAS work)
    assert line == ("RESULT 0 [17, 17] ['numpy'] 0 ['numpy', 'rich'] True 1"), res.stderr
