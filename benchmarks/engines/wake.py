"""Wake word: openWakeWord's three ONNX sessions alone against the engine, per frame."""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from benchmarks.common import Row, interleaved, progress
from benchmarks.engines.base import Plan, Section, frames_of, load_runtime, seconds_since, stats
from hal.audio import AudioChunk
from runtime.modelstore import ModelStore
from runtime.onnx import cpu_session
from runtime.params import parse_params
from runtime.wake.openwakeword import (
    EMBEDDING_FILE,
    EMBEDDING_SIZE,
    EMBEDDING_WINDOW,
    FRAME_SAMPLES,
    MEL_BANDS,
    MEL_CONTEXT_SAMPLES,
    MELSPEC_FILE,
    OpenWakeWordDetector,
    OpenWakeWordParams,
)

WAKE_MODEL = "openwakeword:hey-jarvis"


def bench_wake(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Cost per 80 ms frame of openWakeWord: its three sessions alone against ``process``."""
    loaded, model, params = load_runtime(store, WAKE_MODEL, plan.thread_params)
    engine = cast(OpenWakeWordDetector, loaded)
    settings = parse_params(OpenWakeWordParams, params, WAKE_MODEL)
    melspec = cpu_session(model.path / MELSPEC_FILE, settings.threads)
    embedding = cpu_session(model.path / EMBEDDING_FILE, settings.threads)
    classifiers = [
        cpu_session(path, settings.threads)
        for path in sorted(model.path.glob("*.onnx"))
        if path.name not in (MELSPEC_FILE, EMBEDDING_FILE)
        and any(path.name.startswith(word) for word in engine.words)
    ]
    windows = [
        int(shape[1]) if len(shape) == 3 and isinstance(shape[1], int) else 16
        for shape in (c.get_inputs()[0].shape for c in classifiers)
    ]
    frames = frames_of(clip, FRAME_SAMPLES)
    pcm = [np.frombuffer(frame.audio, dtype="<i2").astype(np.float32) for frame in frames]

    def run(session: Any, value: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(session.run(None, {session.get_inputs()[0].name: value})[0])

    def bare() -> float:
        # openWakeWord's streaming path: mel frames, one embedding, each classifier.
        context = np.zeros(0, dtype=np.float32)
        mel = np.ones((EMBEDDING_WINDOW, MEL_BANDS), dtype=np.float32)
        history = np.zeros((max(windows), EMBEDDING_SIZE), dtype=np.float32)
        started = time.perf_counter()
        for samples in pcm:
            audio = np.concatenate((context, samples))
            context = audio[-MEL_CONTEXT_SAMPLES:]
            spec = run(melspec, audio[None]).reshape(-1, MEL_BANDS) / 10.0 + 2.0
            mel = np.vstack((mel, spec))[-EMBEDDING_WINDOW:]
            vector = run(embedding, mel[None, :, :, None].astype(np.float32)).reshape(1, -1)
            history = np.vstack((history, vector))[-max(windows) :]
            for classifier, window in zip(classifiers, windows, strict=True):
                run(classifier, history[-window:][None].astype(np.float32))
        return seconds_since(started) / len(pcm)

    def runtime() -> float:
        engine.reset()
        started = time.perf_counter()
        for frame in frames:
            engine.process(frame)
        return seconds_since(started) / len(frames)

    progress(f"wake: {plan.fast_repetitions} rounds of {len(frames)} frames")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.fast_repetitions)
    finally:
        engine.close()
    section = Section()
    section.rows = [
        Row(
            "Wake openWakeWord",
            "per 80 ms frame",
            "µs",
            stats([1e6 * s for s in runs["runtime"]]),
            stats([1e6 * s for s in runs["raw"]]),
            digits=1,
        )
    ]
    section.notes = [
        f"Wake openWakeWord: {model.id} ({', '.join(engine.words)}), {len(frames)} frames of"
        " the speech clip per round (mean per frame); raw = the three ONNX sessions and"
        " numpy buffers of openWakeWord's streaming path."
    ]
    section.details = {"model": model.id, **runs}
    return section
