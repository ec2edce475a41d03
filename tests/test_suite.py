"""The suite a new user runs is deterministic and bounded, and CI runs what the README says."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE", "default") != "default",
                    reason="an opt-in hypothesis profile is loaded")
def test_hypothesis_is_derandomised_without_a_database() -> None:
    assert settings.default.derandomize is True
    assert settings.default.database is None
    assert settings.get_profile("wide").derandomize is False


def test_default_run_leaves_out_slow_tests_and_ci_runs_them() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"""addopts = ".*-m 'not slow'""", pyproject)
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pytest -m "slow or browser"' in ci


def test_ci_runs_the_readme_quick_start_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\n\n```bash\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    commands = block.group(1).strip().splitlines()
    assert commands == ['pip install -e ".[test]" && atrous demo', "pytest"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    start = ci.index("# --- the README's quick start, verbatim ---")
    assert ci[start + 1:start + 3] == commands


def test_license_is_spdx() -> None:
    assert '\nlicense = "MIT"\n' in (ROOT / "pyproject.toml").read_text()
