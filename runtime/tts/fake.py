"""A voice for tests, benchmarks and demos: no weights, same Protocol."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from hal.audio import AudioChunk
from runtime.tts.base import SynthesisOptions


class FakeTextToSpeech:
    """Speaks any text as ``audio_seconds`` of a constant, quiet sample; records the texts.

    With ``seconds``, making the audio takes that long through ``sleep`` (a manual
    clock's ``advance`` keeps tests deterministic).
    """

    def __init__(
        self,
        model_id: str = "fake-tts:1",
        *,
        sample_rate: int = 22_050,
        audio_seconds: float = 0.1,
        seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model_id = model_id
        self.sample_rate = sample_rate
        self.audio_seconds = audio_seconds
        """Length of the audio made per text."""
        self.seconds = seconds
        """Time each synthesis takes."""
        self.sleep = sleep
        self.fail_with: Exception | None = None
        """Raised by ``synthesize`` while set (a broken voice)."""
        self.texts: list[str] = []
        """Every text it was asked to speak."""
        self.options: list[SynthesisOptions] = []
        """The options of every call."""
        self.closed = False

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """One chunk for the whole text."""
        self.texts.append(text)
        self.options.append(options)
        if self.fail_with is not None:
            raise self.fail_with
        if self.seconds:
            self.sleep(self.seconds)
        samples = round(self.sample_rate * self.audio_seconds)
        yield AudioChunk(audio=b"\x01\x00" * samples, rate=self.sample_rate)

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True
