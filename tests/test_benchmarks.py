"""The benchmark helpers, and smoke runs proving the scripts work (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from assistant.settings import Settings
from assistant.skills.evaluation import load_labelled
from assistant.voice.endofturn import TurnCompleteness
from assistant.voice.options import PipelineOptions
from assistant.voice.segmenter import SegmenterOutcome
from benchmarks.chat import SseTurn, parse_sse
from benchmarks.common import (
    Row,
    Stats,
    Target,
    base_parser,
    interleaved,
    markdown_table,
    parse_with_groups,
    percentile,
    selected_groups,
    speed_ratio,
)
from benchmarks.endofturn import PausedTurn, SpokenTurn, end_of_turn
from benchmarks.skills import UTTERANCES

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 90, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 0, 1.0),
        ([4.0, 1.0, 3.0, 2.0], 100, 4.0),
        ([float(i) for i in range(1, 11)], 90, 9.1),
        ([float(i) for i in range(1, 11)], 10, 1.9),
    ],
)
def test_percentile_interpolates_like_numpy(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_refuses_nonsense(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_the_tail_of_a_rate_is_its_low_end() -> None:
    times = Stats.of([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    rates = Stats.of([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], higher_is_better=True)
    assert (times.median, times.count) == (5.5, 10)
    assert times.p90 == pytest.approx(9.1)
    assert rates.median == 5.5
    assert rates.p90 == pytest.approx(1.9)


@pytest.mark.parametrize(
    ("runtime", "raw", "higher_is_better", "expected"),
    [
        (20.0, 20.0, True, 1.0),  # tokens/s: as fast
        (19.0, 20.0, True, 0.95),  # tokens/s: slower
        (0.11, 0.10, False, 0.10 / 0.11),  # seconds: slower
        (0.05, 0.10, False, 2.0),  # seconds: twice as fast
        (20.0, 0.0, True, None),
        (0.0, 1.0, False, None),
    ],
)
def test_speed_ratio_is_above_one_when_the_runtime_is_faster(
    runtime: float, raw: float, higher_is_better: bool, expected: float | None
) -> None:
    ratio = speed_ratio(runtime, raw, higher_is_better=higher_is_better)
    assert ratio == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("target", "ratio", "runtime", "met"),
    [
        (Target("ratio", at_least=True, bound=0.97), 0.98, 0.0, True),
        (Target("ratio", at_least=True, bound=0.97), 0.96, 0.0, False),
        (Target("ratio", at_least=True, bound=0.97), None, 0.0, None),
        (Target("runtime", at_least=False, bound=0.5), None, 0.2, True),
        (Target("runtime", at_least=False, bound=0.5), None, 0.5, False),
    ],
)
def test_targets_are_judged_not_asserted(
    target: Target, ratio: float | None, runtime: float, met: bool | None
) -> None:
    assert target.met(ratio, runtime) is met


def test_a_row_shows_medians_tails_ratio_and_verdict() -> None:
    row = Row(
        "LLM",
        "decode",
        "tokens/s",
        runtime=Stats(19.5, 19.0, 5),
        raw=Stats(20.0, 19.2, 5),
        higher_is_better=True,
        target=Target("ratio", at_least=True, bound=0.97),
    )
    assert row.cells() == [
        "LLM",
        "decode (tokens/s)",
        "20.00 (19.20)",
        "19.50 (19.00)",
        "0.975",
        ">= 0.97: met",
    ]
    assert row.as_dict()["target_met"] is True
    overhead = Row(
        "LLM",
        "overhead",
        "ms",
        runtime=Stats(0.1, 0.2, 5),
        target=Target("runtime", at_least=False, bound=0.5),
    )
    assert overhead.cells()[2:] == ["", "0.10 (0.20)", "", "< 0.5 ms: met"]


def test_markdown_table() -> None:
    assert markdown_table(("a", "b"), [("1", "x|y")]) == "| a | b |\n| --- | --- |\n| 1 | x\\|y |"
    with pytest.raises(ValueError):
        markdown_table(("a", "b"), [("1",)])


def test_interleaved_rotates_the_order_and_drops_the_warmup() -> None:
    calls: list[str] = []

    def run(name: str) -> Callable[[], str]:
        def call() -> str:
            calls.append(name)
            return f"{name}{len(calls)}"

        return call

    results = interleaved({"raw": run("raw"), "rt": run("rt")}, 3, warmup=1)
    assert calls == ["raw", "rt", "rt", "raw", "raw", "rt", "rt", "raw"]
    assert results == {"raw": ["raw4", "raw5", "raw8"], "rt": ["rt3", "rt6", "rt7"]}
    with pytest.raises(ValueError):
        interleaved({"raw": run("raw")}, 0)


@pytest.mark.parametrize(
    ("only", "expected"),
    [(None, ("llm", "stt", "vad")), ("vad,llm", ("llm", "vad")), (" stt ", ("stt",))],
)
def test_selected_groups(only: str | None, expected: tuple[str, ...]) -> None:
    assert selected_groups(only, ("llm", "stt", "vad")) == expected


@pytest.mark.parametrize("only", ["gpu", "", "llm,gpu"])
def test_selected_groups_refuses_unknown_names(only: str) -> None:
    with pytest.raises(ValueError):
        selected_groups(only, ("llm", "stt"))


def test_an_unknown_group_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    parser = base_parser("bench", ("llm", "stt"))
    args, groups = parse_with_groups(parser, ["--only", "stt"], ("llm", "stt"))
    assert groups == ("stt",) and args.only == "stt"
    with pytest.raises(SystemExit) as exit_info:
        parse_with_groups(parser, ["--only", "gpu"], ("llm", "stt"))
    assert exit_info.value.code == 2
    assert "unknown group(s) gpu" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option", [["--only", "turns"], ["--threads", "2"], ["--max-tokens", "8"], ["--turns", "2"]]
)
def test_the_voice_benchmark_refuses_options_it_would_ignore(option: list[str]) -> None:
    from benchmarks.voice import main

    with pytest.raises(SystemExit) as exit_info:
        main(option)
    assert exit_info.value.code == 2


def test_the_engines_command_offers_one_group_per_module() -> None:
    from benchmarks.engines.run import GROUPS

    assert tuple(GROUPS) == ("llm", "stt", "tts", "ocr", "detect", "vad", "wake")
    for group in GROUPS:
        assert (ROOT / "benchmarks" / "engines" / f"{group}.py").is_file()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.engines", "--help"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert done.stdout.startswith("usage: python -m benchmarks.engines")
    assert "llm,stt,tts,ocr,detect,vad,wake" in "".join(done.stdout.split())


def test_parse_sse_reads_the_chat_stream() -> None:
    lines = [
        "event: start",
        'data: {"conversation_id": "c1"}',
        "",
        "event: delta",
        'data: {"text": "Hi"}',
        "",
        "event: done",
        'data: {"usage": {"completion_tokens": 11}}',
    ]
    assert list(parse_sse(lines)) == [
        ("start", {"conversation_id": "c1"}),
        ("delta", {"text": "Hi"}),
        ("done", {"usage": {"completion_tokens": 11}}),
    ]


def test_sse_turn_counts_token_intervals_from_the_first_delta() -> None:
    done = {"usage": {"completion_tokens": 11}}
    turn = SseTurn(sent_at=0.0, first_delta_at=0.5, done_at=1.5, start={}, done=done, deltas=11)
    assert turn.tokens_per_second == pytest.approx(10.0)
    assert (turn.first_delta_ms, turn.wall_seconds) == (500.0, 1.5)


FRAME = 0.032


def frames(*runs: tuple[float, float]) -> list[float]:
    """VAD probabilities: (seconds, probability) runs of frames."""
    return [chance for seconds, chance in runs for _ in range(round(seconds / FRAME))]


# 0.5 s of silence, "Set a timer for", a 1 s pause, "twenty minutes", 2.5 s of silence.
PAUSED = frames((0.512, 0.0), (0.992, 0.9), (0.992, 0.0), (0.992, 0.9), (2.496, 0.0))
PAUSE_END, SPEECH_END = 0.512 + 0.992 * 2, 0.512 + 0.992 * 3


def paused_turn() -> SpokenTurn:
    samples = np.zeros(round(len(PAUSED) * FRAME * 16_000), np.float32)
    turn = PausedTurn("Set a timer for", "twenty minutes", "mid-clause")
    return SpokenTurn(turn, "test", None, 0.992, samples, PAUSE_END, SPEECH_END)


def heard(stt_seconds: float) -> Callable[[npt.NDArray[np.float32]], tuple[str, float]]:
    """A transcriber that heard the first part, or all of it, from the clip's length."""

    def transcribe(samples: npt.NDArray[np.float32]) -> tuple[str, float]:
        whole = samples.size / 16_000 > PAUSE_END
        return ("Set a timer for twenty minutes." if whole else "Set a timer for."), stt_seconds

    return transcribe


def test_a_fixed_tail_cuts_the_turn_at_its_pause() -> None:
    ending = end_of_turn(PAUSED, FRAME, paused_turn(), PipelineOptions(), None)
    assert ending.outcome is SegmenterOutcome.SPEECH_ENDED
    assert ending.position_seconds == pytest.approx(0.512 + 0.992 + 0.8, abs=FRAME)
    assert ending.judged == ()


def test_the_adaptive_end_waits_out_the_pause_and_ends_the_complete_turn_sooner() -> None:
    ending = end_of_turn(PAUSED, FRAME, paused_turn(), PipelineOptions(), heard(0.1))
    assert [(j.judgement, j.at_pause) for j in ending.judged] == [
        (TurnCompleteness.INCOMPLETE, True),
        (TurnCompleteness.COMPLETE, False),
    ]
    # Complete: 0.4 s after the last word (the transcript came 0.1 s after the 0.2 s).
    assert ending.position_seconds == pytest.approx(SPEECH_END + 0.4, abs=FRAME)


def test_a_transcript_later_than_the_fixed_tail_cannot_save_the_turn() -> None:
    # Taken 0.2 s into the pause, it would arrive 1.2 s later: the 0.8 s tail ends first.
    slow = end_of_turn(PAUSED, FRAME, paused_turn(), PipelineOptions(), heard(1.2))
    assert slow.position_seconds < PAUSE_END
    instant = end_of_turn(
        PAUSED, FRAME, paused_turn(), PipelineOptions(), heard(1.2), stt_time=False
    )
    assert instant.position_seconds > SPEECH_END


def store_root() -> Path:
    """The model store the real-model tests use (see tests/conftest.py)."""
    return Path(os.environ.get("ASSISTANT_TEST_MODELS") or Settings.load().models_dir)


def run_benchmark(module: str, out: Path, *arguments: str, timeout: float) -> str:
    """Run ``python -m benchmarks.<module>`` on the test model store; its stdout."""
    command = [
        sys.executable,
        "-m",
        f"benchmarks.{module}",
        *arguments,
        "--models-dir",
        str(store_root()),
        "--json",
        str(out),
    ]
    done = subprocess.run(
        command, cwd=ROOT, check=False, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.real_model
def test_engines_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    model_dir("silero-vad:v6")
    model_dir("openwakeword:hey-jarvis")
    out = tmp_path / "engines.json"
    arguments = ("--quick", "--only", "vad,wake", "--repetitions", "1")
    stdout = run_benchmark("engines", out, *arguments, timeout=120)
    assert stdout.splitlines()[2].startswith("| engine | metric | bare library | runtime |")
    result = json.loads(out.read_text())
    assert [row["engine"] for row in result["rows"]] == ["VAD Silero", "Wake openWakeWord"]
    assert all(row["ratio"] > 0 for row in result["rows"])
    assert result["machine"]["cores"] >= 1 and result["errors"] == {}


@pytest.mark.real_model
def test_chat_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    model_dir("qwen2.5-coder:0.5b-q4")
    out = tmp_path / "chat.json"
    arguments = ("--quick", "--only", "sse", "--repetitions", "1", "--max-tokens", "4")
    stdout = run_benchmark("chat", out, *arguments, timeout=180)
    assert "### (a) Decode speed through the API" in stdout
    result = json.loads(out.read_text())
    assert result["sse"]["sse"][0]["usage"]["completion_tokens"] == 4
    assert result["sse"]["row"]["ratio"] > 0


@pytest.mark.real_model
def test_voice_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    for model in ("qwen2.5-coder:0.5b-q4", "whisper:tiny.en", "piper:en_US-joe-medium"):
        model_dir(model)
    out = tmp_path / "voice.json"
    arguments = ("--repetitions", "1", "--questions", "1")
    stdout = run_benchmark("voice", out, *arguments, timeout=300)
    assert "| stage (ms) | pipeline p50 |" in stdout
    result = json.loads(out.read_text())["results"]
    # One turn went through the whole pipeline and through the bare engines.
    for stage in ("stt", "chat_first_sentence", "tts_first_chunk"):
        assert len(result["pipeline"][stage]) == 1 and result["pipeline"][stage][0] > 0
        assert len(result["bare"][stage]) == 1 and result["bare"][stage][0] > 0


@pytest.mark.real_model
def test_voice_endpointing_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    for model in ("whisper:tiny.en", "piper:en_US-joe-medium", "silero-vad:v6"):
        model_dir(model)
    out = tmp_path / "endpointing.json"
    # Two kinds of turn: each is spoken in two voices, at two pauses, over two noise floors.
    arguments = ("--endpointing", "--quick", "--turns", "2")
    stdout = run_benchmark("voice", out, *arguments, timeout=900)
    assert "| policy | cut off | at 0.45 s pause | at 1.2 s pause |" in stdout
    result = json.loads(out.read_text())["results"]
    policies = result["policies"]
    assert list(policies) == [
        "fixed 0.6 s",
        "fixed 0.8 s (today)",
        "adaptive",
        "adaptive, STT time 0",
    ]
    # One turn of each of two kinds, spoken at two pauses, in silence and over noise, per voice.
    assert len(result["turns_by_kind"]) == 2
    assert result["turns"] == len(result["turns_by_kind"]) * 2 * 2 * len(result["voices"])
    # A 1.2 s pause is longer than either fixed tail: every such turn is cut there.
    per_pause = result["turns_per_pause"]
    for policy in ("fixed 0.6 s", "fixed 0.8 s (today)"):
        assert policies[policy]["cut_off_by_pause"]["1.2"] == per_pause
    assert policies["fixed 0.6 s"]["cut_off"] >= policies["fixed 0.8 s (today)"]["cut_off"]
    # The adaptive policy transcribed and judged the audio so far of every turn.
    judged = sum(policies["adaptive"]["judgements"].values())
    assert judged >= result["turns"] and result["transcripts"]


@pytest.mark.real_model
def test_vision_benchmark_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    for model in ("yolov8-fall:fp16", "rapidocr:ppocrv4"):
        model_dir(model)
    out = tmp_path / "vision.json"
    arguments = ("--quick", "--only", "detect,ocr", "--repetitions", "1")
    stdout = run_benchmark("vision", out, *arguments, timeout=300)
    assert "| engine | metric | bare library | runtime |" in stdout
    result = json.loads(out.read_text())
    assert [row["metric"] for row in result["rows"]] == ["upload to boxes", "upload to text"]
    assert all(row["ratio"] > 0 for row in result["rows"])


def test_skills_benchmark_templates_run(tmp_path: Path) -> None:
    out = tmp_path / "skills.json"
    stdout = run_benchmark("skills", out, "--quick", "--only", "templates", timeout=120)
    assert "| skill | precision | recall | utterances | near-misses fired |" in stdout
    result = json.loads(out.read_text())["results"]["templates"]
    assert result["scores"]["all"]["near_miss_fired"] == []
    assert len(result["seconds"]) == 2 * len(load_labelled(UTTERANCES))


@pytest.mark.real_model
def test_skills_benchmark_voice_runs(tmp_path: Path, model_dir: Callable[[str], Path]) -> None:
    for model in ("qwen2.5-coder:0.5b-q4", "whisper:tiny.en", "piper:en_US-joe-medium"):
        model_dir(model)
    out = tmp_path / "skills.json"
    arguments = ("--only", "voice", "--repetitions", "1")
    stdout = run_benchmark("skills", out, *arguments, timeout=300)
    assert "| end of speech -> first audio (ms) | p50 | p95 | turns |" in stdout
    result = json.loads(out.read_text())["results"]["voice"]
    assert len(result["seconds"]["skill"]) == 1 and len(result["seconds"]["chat"]) == 1
    # The timer skill answered the spoken request (its answer names the length).
    assert "5 minutes" in result["first_sentence"]["skill"][0]


def test_translate_benchmark_runs(tmp_path: Path) -> None:
    """The parts that need no real model: the tiny CTranslate2 model, the cache, detection."""
    out = tmp_path / "translate.json"
    arguments = ("--quick", "--only", "ct2,cache,detect", "--repetitions", "1")
    stdout = run_benchmark("translate", out, *arguments, timeout=300)
    assert "| MT CTranslate2 (tiny) | sentences/s, batch of 8 (sent/s) |" in stdout
    result = json.loads(out.read_text())
    engines = [row["engine"] for row in result["rows"]]
    assert engines == [
        "MT CTranslate2 (tiny)",
        "MT CTranslate2 (tiny)",
        "MT cache hit (HTTP)",
        "Detect py3langid",
    ]
    assert all(row["ratio"] > 0 for row in result["rows"][:2])
    assert "py3langid 160/160" in stdout
