"""A voice-activity detector for tests, benchmarks and demos: no model, same Protocol."""

from __future__ import annotations

import numpy as np

from hal.audio import AudioChunk
from runtime.errors import UnsupportedInput
from runtime.vad.framing import check_format


class FakeVoiceActivityDetector:
    """Calls a frame speech when any sample is louder than ``level`` (0: any non-zero one).

    Deterministic over synthetic audio: zeros are silence, anything else is speech.
    """

    def __init__(
        self,
        model_id: str = "fake-vad:1",
        *,
        sample_rate: int = 16_000,
        frame_samples: int = 512,
        level: int = 0,
    ) -> None:
        self.model_id = model_id
        self.sample_rate = sample_rate
        """Rate of the frames."""
        self.frame_samples = frame_samples
        """Samples per frame."""
        self.level = level
        """Loudest sample (16-bit) still called silence."""
        self.fail_with: Exception | None = None
        """Raised by ``probability`` while set (a broken model)."""
        self.frames = 0
        """Frames judged."""
        self.resets = 0
        """Calls to ``reset``."""
        self.closed = False

    def probability(self, frame: AudioChunk) -> float:
        """1.0 for speech, 0.0 for silence."""
        check_format(frame, self.sample_rate, "a VAD frame")
        if frame.frames != self.frame_samples:
            raise UnsupportedInput(
                f"a VAD frame must hold {self.frame_samples} samples, not {frame.frames}",
                field="audio",
            )
        if self.fail_with is not None:
            raise self.fail_with
        self.frames += 1
        samples = np.frombuffer(frame.audio, dtype="<i2")
        return 1.0 if np.any(np.abs(samples.astype(np.int32)) > self.level) else 0.0

    def reset(self) -> None:
        """Nothing to forget; counted."""
        self.resets += 1

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True
