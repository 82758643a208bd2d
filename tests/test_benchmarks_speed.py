"""The thread-policy and first-clause benchmarks: their table logic, and smoke runs proving
the scripts work (no timing is asserted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.common import Stats
from benchmarks.threads import Cell, table
from benchmarks.tts_chunking import LENGTHS, sentence
from tests.test_benchmarks import run_benchmark


def cell(rate: float, threads: dict[int, float] | None = None) -> Cell:
    return Cell(Stats(rate, rate, 1), threads or {})


def test_threads_table_judges_idle_against_the_best_and_load_against_today() -> None:
    results = {
        "idle": {"bare 1": cell(30.0), "bare 2": cell(47.0), "automatic": cell(46.0, {2: 1.0})},
        "voice": {
            "bare 1": cell(30.0),
            "bare 2": cell(17.0),
            "automatic": cell(28.0, {1: 0.8, 2: 0.2}),
        },
    }
    rows = table(results, [1, 2]).splitlines()
    assert rows[0].startswith("| condition | bare, 1 thread")
    idle, voice = rows[2].split(" | "), rows[3].split(" | ")
    assert idle[4:8] == ["2: 100%", "0.979", "1.533", "vs best >= 0.95: met |"]
    assert voice[4:8] == ["1: 80%, 2: 20%", "0.933", "0.933", "vs today >= 0.97: missed |"]


def test_sentences_of_each_length() -> None:
    for words in LENGTHS:
        text = sentence(words)
        assert len(text.split()) == words and text[0].isupper() and text.endswith(".")


@pytest.mark.real_model
def test_threads_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    model_dir("qwen2.5-coder:0.5b-iq4nl")
    model_dir("piper:en_US-joe-medium")
    out = tmp_path / "threads.json"
    arguments = ("--only", "idle", "--repetitions", "1", "--max-tokens", "4")
    arguments += ("--model", "qwen2.5-coder:0.5b-iq4nl")
    stdout = run_benchmark("threads", out, *arguments, timeout=600)
    assert "| condition | bare, 1 thread" in stdout
    result = json.loads(out.read_text())
    assert result["model"] == "qwen2.5-coder:0.5b-iq4nl"
    cells = result["results"]["idle"]
    assert set(cells) == {*(f"bare {n}" for n in result["counts"]), "automatic"}
    assert cells["automatic"]["tokens_per_second"]["median"] > 0
    assert sum(cells["automatic"]["threads"].values()) == pytest.approx(1.0)


@pytest.mark.real_model
def test_tts_chunking_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    model_dir("piper:en_US-joe-medium")
    out = tmp_path / "tts.json"
    stdout = run_benchmark(
        "tts_chunking", out, "--only", "length", "--repetitions", "1", timeout=600
    )
    assert "| words | given to Piper as | first audio (ms) |" in stdout
    rows = json.loads(out.read_text())["length"]["rows"]
    assert [row[0] for row in rows] == [*(str(n) for n in LENGTHS), "20", "40"]
