"""Spoken test audio made with the real Piper voice of the offline profile."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from assistant.settings import Settings
from hal.audio import AudioChunk
from hal.audio.convert import convert
from runtime.tts.base import SynthesisOptions
from runtime.tts.piper import PiperTextToSpeech
from tests.conftest import REPEATABLE_VOICE

RATE = 16_000
VOICE = "piper:en_US-joe-medium"


@functools.cache
def _voice() -> PiperTextToSpeech:
    """The voice without its random noise, on one thread: the same text is the same audio
    on every run, so what whisper hears cannot change by luck (a rendition of "Turn on the
    kitchen lights" was once heard as "pern on ...")."""
    folder = Settings.load().models_dir / "installed" / "piper" / "en_US-joe-medium"
    return PiperTextToSpeech.load(VOICE, folder, {"threads": 1, **REPEATABLE_VOICE[VOICE]})


def say(text: str) -> npt.NDArray[np.float32]:
    """``text`` spoken, as 16 kHz float samples."""
    chunks = [convert(c, RATE) for c in _voice().synthesize(text, SynthesisOptions())]
    return np.concatenate([c.samples() for c in chunks])


def silence(seconds: float) -> npt.NDArray[np.float32]:
    """Zeros."""
    return np.zeros(int(RATE * seconds), dtype=np.float32)


def chunk_of(*parts: npt.NDArray[np.float32]) -> AudioChunk:
    """Parts joined into one 16-bit chunk."""
    return AudioChunk.from_samples(np.concatenate(parts), RATE)


def pieces(audio: AudioChunk, ms: int = 20) -> list[AudioChunk]:
    """Microphone-sized chunks with stream timestamps."""
    step = RATE * ms // 1000 * 2
    return [
        AudioChunk(audio.audio[i : i + step], RATE, timestamp=i / 2 / RATE)
        for i in range(0, len(audio.audio), step)
    ]
