"""Voice activity: Silero's ONNX session alone against the engine, per window."""

from __future__ import annotations

import time
from typing import cast

import numpy as np

from benchmarks.common import Row, interleaved, progress
from benchmarks.engines.base import Plan, Section, frames_of, load_runtime, seconds_since, stats
from hal.audio import AudioChunk
from runtime.modelstore import ModelStore
from runtime.onnx import cpu_session
from runtime.params import parse_params
from runtime.vad.silero import (
    CONTEXT_SAMPLES,
    STATE_SHAPE,
    SileroVadParams,
    SileroVoiceActivityDetector,
)
from runtime.vad.silero import MODEL_FILE as SILERO_FILE

VAD_MODEL = "silero-vad:v6"


def bench_vad(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Cost per window of Silero VAD: session.run alone against ``probability``."""
    loaded, model, params = load_runtime(store, VAD_MODEL, plan.thread_params)
    engine = cast(SileroVoiceActivityDetector, loaded)
    settings = parse_params(SileroVadParams, params, VAD_MODEL)
    session = cpu_session(model.path / SILERO_FILE, settings.threads)
    frames = frames_of(clip, engine.frame_samples)
    windows = [frame.samples() for frame in frames]
    context_samples = CONTEXT_SAMPLES[settings.sample_rate]
    rate = np.array(settings.sample_rate, dtype=np.int64)

    def bare() -> tuple[float, list[float]]:
        state = np.zeros(STATE_SHAPE, dtype=np.float32)
        context = np.zeros(context_samples, dtype=np.float32)
        scores = []
        started = time.perf_counter()
        for window in windows:
            feed = {"input": np.concatenate((context, window))[None], "state": state, "sr": rate}
            output, state = session.run(None, feed)
            context = window[-context_samples:]
            scores.append(float(output[0][0]))
        return seconds_since(started) / len(windows), scores

    def runtime() -> tuple[float, list[float]]:
        engine.reset()
        started = time.perf_counter()
        scores = [engine.probability(frame) for frame in frames]
        return seconds_since(started) / len(frames), scores

    progress(f"vad: {plan.fast_repetitions} rounds of {len(frames)} windows")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.fast_repetitions)
    finally:
        engine.close()
    difference = max(
        abs(a - b) for a, b in zip(runs["raw"][-1][1], runs["runtime"][-1][1], strict=True)
    )
    window_ms = 1000 * engine.frame_samples / settings.sample_rate
    section = Section()
    section.rows = [
        Row(
            "VAD Silero",
            f"per {window_ms:g} ms window",
            "µs",
            stats([1e6 * s for s, _ in runs["runtime"]]),
            stats([1e6 * s for s, _ in runs["raw"]]),
            digits=1,
        )
    ]
    section.notes = [
        f"VAD Silero: {model.id}, {len(frames)} windows of the speech clip per round"
        f" (mean per call); largest probability difference raw vs runtime: {difference:.2g}."
    ]
    section.details = {
        "model": model.id,
        "raw_seconds_per_call": [s for s, _ in runs["raw"]],
        "runtime_seconds_per_call": [s for s, _ in runs["runtime"]],
    }
    return section
