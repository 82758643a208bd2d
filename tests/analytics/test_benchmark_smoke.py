"""The analytics benchmark runs (a smoke run; no timing is asserted)."""

from __future__ import annotations

import pytest

from benchmarks.analytics import main


def test_the_analytics_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "emitter,latency", "--repetitions", "1"]) == 0
    table = capsys.readouterr().out
    assert "emitter to SQLite" in table and "emit() call, p99" in table
