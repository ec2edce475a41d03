"""analyze() pauses Python's cyclic garbage collector while it runs and restores its state."""

from __future__ import annotations

import gc

import pytest

import atrous
import atrous.report as report_module
from atrous.errors import AtrousError


def test_analyze_restores_the_collector_state() -> None:
    assert gc.isenabled()
    seen: list[bool] = []
    real = report_module.as_graph

    def spy(target, input_size):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(target, input_size)

    report_module.as_graph = spy
    try:
        atrous.analyze("3x3 d1, 3x3 d2", input_size=(16, 16))
        assert seen == [False] and gc.isenabled()
        with pytest.raises(AtrousError):
            atrous.analyze("3x3 d1, nonsense", input_size=(16, 16))
        assert gc.isenabled()  # restored after an error too
        gc.disable()
        try:
            atrous.analyze("3x3 d1", input_size=(16, 16))
            assert not gc.isenabled()  # a disabled collector stays disabled
        finally:
            gc.enable()
    finally:
        report_module.as_graph = real
