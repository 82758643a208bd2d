"""The voice-activity-detection capability."""

from __future__ import annotations

from typing import Protocol

from hal.audio import AudioChunk


class VoiceActivityDetector(Protocol):
    """Speech probability per fixed-size frame of 16 kHz mono 16-bit audio."""

    model_id: str
    sample_rate: int
    frame_samples: int

    def probability(self, frame: AudioChunk) -> float:
        """Probability in [0, 1] that ``frame`` (exactly ``frame_samples`` long) holds speech."""
        ...

    def reset(self) -> None:
        """Forget the recurrent state (new stream)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
