"""Speech to text: whisper.cpp (pywhispercpp) and faster-whisper alone against the engines."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import cast

from benchmarks.common import Row, Target, interleaved, progress
from benchmarks.engines.base import Plan, Section, load_runtime, stats, timed
from hal.audio import AudioChunk
from runtime.modelstore import ModelStore
from runtime.params import parse_params
from runtime.stt.audio_context import audio_context_positions
from runtime.stt.audio_context import default_threads as stt_default_threads
from runtime.stt.base import SpeechToText, TranscribeOptions
from runtime.stt.faster_whisper import FasterWhisperParams, FasterWhisperSpeechToText
from runtime.stt.whispercpp import WhisperCppParams, WhisperCppSpeechToText, find_model_file

WHISPERCPP_MODEL = "whisper:tiny.en"
FASTER_WHISPER_MODEL = "whisper:tiny.en-ct2"


def bench_whispercpp(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Real-time factor of whisper.cpp: pywhispercpp alone against the engine."""
    threads = plan.threads or stt_default_threads(os.cpu_count())
    loaded, model, params = load_runtime(store, WHISPERCPP_MODEL, {"threads": threads})
    engine = cast(WhisperCppSpeechToText, loaded)
    settings = parse_params(WhisperCppParams, params, WHISPERCPP_MODEL)
    path = find_model_file(model.path, settings.model_file)
    if path is None:
        raise RuntimeError(f"no ggml file in {model.path}")
    from pywhispercpp.model import Model

    raw = Model(
        str(path),
        context_params={"flash_attn": False},  # as the engine (see its comment)
        redirect_whispercpp_logs_to=None,
        n_threads=threads,
        print_progress=False,
        print_realtime=False,
        print_timestamps=False,
    )
    samples = clip.samples()
    positions = audio_context_positions(
        clip.seconds, margin=settings.audio_context_margin, minimum=settings.min_audio_context
    )
    strategy = importlib.import_module("_pywhispercpp").whisper_sampling_strategy

    def bare() -> tuple[float, str]:
        seconds, segments = timed(
            lambda: raw.transcribe(
                samples,
                language="en",
                detect_language=False,
                translate=False,
                initial_prompt="",
                audio_ctx=positions,
                temperature_inc=0.0,
                n_threads=threads,
                no_context=True,
                strategy=strategy.WHISPER_SAMPLING_GREEDY,
            )
        )
        return seconds, " ".join(s.text.strip() for s in segments if s.text.strip())

    return compare_stt(
        f"STT whisper.cpp ({threads} threads)",
        engine,
        bare,
        clip,
        plan,
        f"audio_ctx {positions} on both sides",
    )


def bench_faster_whisper(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Real-time factor of faster-whisper: WhisperModel alone against the engine."""
    threads = plan.threads or stt_default_threads(os.cpu_count())
    loaded, model, params = load_runtime(store, FASTER_WHISPER_MODEL, {"cpu_threads": threads})
    engine = cast(FasterWhisperSpeechToText, loaded)
    settings = parse_params(FasterWhisperParams, params, FASTER_WHISPER_MODEL)
    from faster_whisper import WhisperModel

    raw = WhisperModel(
        str(model.path),
        device="cpu",
        compute_type=settings.compute_type,
        cpu_threads=threads,
        local_files_only=True,
    )
    samples = clip.samples()

    def bare() -> tuple[float, str]:
        def run() -> str:
            segments, _info = raw.transcribe(
                samples, language=None, beam_size=1, initial_prompt=None, vad_filter=False
            )
            return " ".join(s.text.strip() for s in segments if s.text.strip())

        return timed(run)

    return compare_stt(
        f"STT faster-whisper ({threads} threads)",
        engine,
        bare,
        clip,
        plan,
        f"{settings.compute_type}, full 30 s window on both sides",
    )


def compare_stt(
    name: str,
    engine: SpeechToText,
    bare: Callable[[], tuple[float, str]],
    clip: AudioChunk,
    plan: Plan,
    how: str,
) -> Section:
    """``bare`` and the engine turn about on ``clip``; the engine is closed after."""

    def runtime() -> tuple[float, str]:
        seconds, transcript = timed(lambda: engine.transcribe(clip, TranscribeOptions()))
        return seconds, transcript.text

    progress(f"{name}: {plan.repetitions} rounds")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.repetitions)
    finally:
        engine.close()
    return stt_section(name, engine.model_id, clip, runs, how)


def stt_section(
    name: str,
    model_id: str,
    clip: AudioChunk,
    runs: Mapping[str, list[tuple[float, str]]],
    how: str,
) -> Section:
    """Rows and notes of a speech-to-text comparison."""
    raw_rtf = [seconds / clip.seconds for seconds, _ in runs["raw"]]
    runtime_rtf = [seconds / clip.seconds for seconds, _ in runs["runtime"]]
    raw_texts = {text for _, text in runs["raw"]}
    runtime_texts = {text for _, text in runs["runtime"]}
    same = raw_texts == runtime_texts and len(raw_texts) == 1
    section = Section()
    section.rows = [
        Row(
            name,
            f"real-time factor, {clip.seconds:.1f} s clip",
            "x",
            stats(runtime_rtf),
            stats(raw_rtf),
            target=Target("ratio", at_least=True, bound=0.97),
            digits=3,
        )
    ]
    section.notes = [
        f"{name}: {model_id}, {how}; transcripts identical: {'yes' if same else 'NO'}"
        f" ({sorted(runtime_texts)[0]!r})."
    ]
    section.details = {"model": model_id, "raw_rtf": raw_rtf, "runtime_rtf": runtime_rtf}
    return section
