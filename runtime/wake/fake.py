"""A wake-word detector for tests, benchmarks and demos: no model, same Protocol."""

from __future__ import annotations

import numpy as np

from hal.audio import AudioChunk
from runtime.wake.base import WakeDetection

WAKE_SAMPLE = 2_000
"""The sample value that stands for the wake word in synthetic audio."""


class FakeWakeWordDetector:
    """Hears the wake word in a chunk whose first sample is ``marker``.

    Synthetic audio marks the wake word with a chunk of ``marker`` samples; the detection
    ends with that chunk, as a real detector's ends with the frame that fired.
    """

    def __init__(
        self,
        model_id: str = "fake-wake:1",
        *,
        word: str = "hey_fake",
        marker: int = WAKE_SAMPLE,
        score: float = 0.9,
    ) -> None:
        self.model_id = model_id
        self.words = (word,)
        self.marker = marker
        """First sample of a wake-word chunk."""
        self.score = score
        """Score of every detection."""
        self.fail_with: Exception | None = None
        """Raised by ``process`` while set (a broken model)."""
        self.chunks = 0
        """Chunks heard."""
        self.resets = 0
        """Calls to ``reset``."""
        self.closed = False

    def process(self, chunk: AudioChunk) -> WakeDetection | None:
        """A detection when ``chunk`` is a wake-word chunk."""
        if self.fail_with is not None:
            raise self.fail_with
        self.chunks += 1
        samples = np.frombuffer(chunk.audio, dtype="<i2")
        if samples.size and samples[0] == self.marker:
            return WakeDetection(self.words[0], self.score, chunk.timestamp + chunk.seconds)
        return None

    def reset(self) -> None:
        """Nothing buffered; counted."""
        self.resets += 1

    def fork(self) -> FakeWakeWordDetector:
        """Another fake hearing the same marker (with its own counts)."""
        other = FakeWakeWordDetector(
            self.model_id, word=self.words[0], marker=self.marker, score=self.score
        )
        other.fail_with = self.fail_with
        return other

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True
