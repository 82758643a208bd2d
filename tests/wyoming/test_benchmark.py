"""The Wyoming benchmark runs (a smoke run: no timing is asserted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_benchmarks import run_benchmark


@pytest.mark.real_model
def test_wyoming_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    for model in ("whisper:tiny.en", "piper:en_US-joe-medium"):
        model_dir(model)
    out = tmp_path / "wyoming.json"
    # One dictated sentence: the dictation is streamed in real time, twice.
    arguments = (
        "--quick",
        "--repetitions",
        "1",
        "--dictation",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
    )
    stdout = run_benchmark("wyoming", out, *arguments, timeout=300)
    assert "| STT whisper.cpp over Wyoming |" in stdout
    result = json.loads(out.read_text())
    assert all(row["ratio"] > 0 for row in result["rows"])
    assert len(result["samples"]["dictation decoded on arrival"]) == 1
