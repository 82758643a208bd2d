"""The wake-word capability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hal.audio import AudioChunk


@dataclass(frozen=True)
class WakeDetection:
    """A wake word was heard."""

    word: str
    """Which wake word."""
    score: float
    """Classifier score in [0, 1]."""
    timestamp: float
    """Stream time (seconds) at the end of the frame that fired."""


class WakeWordDetector(Protocol):
    """A streaming wake-word spotter over 16 kHz mono 16-bit audio."""

    model_id: str
    words: tuple[str, ...]

    def process(self, chunk: AudioChunk) -> WakeDetection | None:
        """Feed any amount of audio; a detection once score and patience are met."""
        ...

    def reset(self) -> None:
        """Forget buffered audio and scores (after a detection, or a new stream)."""
        ...

    def fork(self) -> WakeWordDetector:
        """A detector with its own stream state over the same loaded models, for another
        stream at the same time (use it only while this one is held)."""
        ...

    def close(self) -> None:
        """Free the models."""
        ...
