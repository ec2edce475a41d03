"""Run ``atrous demo`` once per test session, exactly as the README says (no arguments, in a
fresh folder), and share its output between the demo and browser tests (not a test module)."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class DemoRun:
    cwd: Path
    directory: Path
    status: int
    stdout: str
    seconds: float


@lru_cache(maxsize=1)
def demo_run() -> DemoRun:
    from atrous.cli import main

    cwd = Path(tempfile.mkdtemp(prefix="atrous-demo-test-"))
    atexit.register(shutil.rmtree, cwd, ignore_errors=True)
    old = Path.cwd()
    buf = io.StringIO()
    start = time.perf_counter()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(buf):
            status = main(["demo"])
    finally:
        os.chdir(old)
    return DemoRun(cwd, cwd / "atrous-demo", status, buf.getvalue(),
                   time.perf_counter() - start)
