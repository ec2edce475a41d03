"""Shared test configuration.

Hypothesis runs derandomised by default: the examples are a fixed function of each test, no
example database is read or written, so ``pytest`` gives the same answer on every run and in every
checkout (a failure seen once is seen every time, and never stored in ``.hypothesis/``). The wide
random search is an opt-in: ``HYPOTHESIS_PROFILE=wide pytest`` draws fresh random examples (ten
times as many where a test does not set its own count) and keeps failures in the database.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow],
           "print_blob": True}
settings.register_profile("default", derandomize=True, database=None, **_COMMON)
settings.register_profile("wide", derandomize=False, max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Tests that take more than ~5 s of CPU on their own, marked slow here (their files belong to
# other parts of the project; the mark may move into them): the default ``pytest`` leaves them
# out, CI runs them with ``pytest -m slow``. Together they are about half the suite's CPU time.
SLOW = {
    "tests/test_arith_torch.py::test_pool_output_size_matches_torch",
    "tests/test_arith_torch.py::test_conv_output_size_matches_torch",
    "tests/test_arith_torch.py::test_conv_transpose_output_size_matches_torch",
}


def pytest_collection_modifyitems(config: object, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("[")[0] in SLOW:
            item.add_marker(pytest.mark.slow)
