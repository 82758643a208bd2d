"""Text to speech: PiperVoice alone against the Piper engine."""

from __future__ import annotations

import json
import time
from typing import cast

import numpy as np

from benchmarks.common import Row, interleaved, progress
from benchmarks.engines.base import Plan, Section, load_runtime, seconds_since, stats
from runtime.modelstore import ModelStore
from runtime.onnx import cpu_session
from runtime.params import parse_params
from runtime.tts.base import SynthesisOptions
from runtime.tts.piper import PiperParams, PiperTextToSpeech, find_voice

PIPER_MODEL = "piper:en_US-joe-medium"
TTS_TEXT = (
    "Good morning! Here is your summary for today. You have three meetings, the first one"
    " at nine thirty with the design team, and a dentist appointment at four."
)
"""Three sentences: the first short, as replies usually start."""


def bench_piper(store: ModelStore, plan: Plan) -> Section:
    """Time to first audio and real-time factor: PiperVoice alone against the engine."""
    loaded, model, params = load_runtime(store, PIPER_MODEL, plan.thread_params)
    engine = cast(PiperTextToSpeech, loaded)
    settings = parse_params(PiperParams, params, PIPER_MODEL)
    voice_path = find_voice(model.path, settings.voice)
    if voice_path is None:
        raise RuntimeError(f"no voice in {model.path}")
    from piper import PiperVoice
    from piper.config import PiperConfig, SynthesisConfig

    session = cpu_session(voice_path, settings.threads)
    config_text = voice_path.with_name(voice_path.name + ".json").read_text(encoding="utf-8")
    voice = PiperVoice(session=session, config=PiperConfig.from_dict(json.loads(config_text)))
    rate = voice.config.sample_rate

    def bare() -> tuple[float, float, float]:
        started = time.perf_counter()
        first = 0.0
        audio_seconds = 0.0
        for chunk in voice.synthesize(TTS_TEXT, syn_config=SynthesisConfig()):
            if not first:
                first = seconds_since(started)
            audio_seconds += len(chunk.audio_int16_bytes) / 2 / rate
        return first, seconds_since(started), audio_seconds

    def runtime() -> tuple[float, float, float]:
        started = time.perf_counter()
        first = 0.0
        audio_seconds = 0.0
        for chunk in engine.synthesize(TTS_TEXT, SynthesisOptions()):
            if not first:
                first = seconds_since(started)
            audio_seconds += chunk.seconds
        return first, seconds_since(started), audio_seconds

    progress(f"tts piper: {plan.repetitions} rounds, {settings.threads or 'all'} thread(s)")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.repetitions)
    finally:
        engine.close()
    name = f"TTS Piper ({settings.threads or 'all'} thread{'s' if settings.threads != 1 else ''})"
    audio = [a for _, _, a in runs["runtime"]]
    section = Section()
    section.rows = [
        Row(
            name,
            "time to first audio",
            "ms",
            stats([1000 * f for f, _, _ in runs["runtime"]]),
            stats([1000 * f for f, _, _ in runs["raw"]]),
            digits=1,
        ),
        Row(
            name,
            f"real-time factor, {np.median(audio):.1f} s of speech",
            "x",
            stats([t / a for _, t, a in runs["runtime"]]),
            stats([t / a for _, t, a in runs["raw"]]),
            digits=3,
        ),
    ]
    section.notes = [
        f"{name}: {model.id}, 3 sentences ({len(TTS_TEXT)} characters), the voice's own"
        " scales at rate 1.0 on both sides."
    ]
    section.details = {"model": model.id, "raw": runs["raw"], "runtime": runs["runtime"]}
    return section
