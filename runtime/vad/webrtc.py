"""Voice activity detection with the WebRTC VAD (``webrtcvad`` from ``webrtcvad-wheels``).

A classic Gaussian-mixture detector with no model file: it says speech or not for 10, 20 or
30 ms frames, so its "probability" is 0.0 or 1.0. Cheaper than Silero and less accurate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hal.audio import AudioChunk
from runtime.engines import require_open
from runtime.errors import EngineError, UnsupportedInput
from runtime.params import parse_params
from runtime.vad.framing import check_format, frame_samples_for

if TYPE_CHECKING:
    import webrtcvad

log = logging.getLogger(__name__)

SAMPLE_RATES = frozenset({8_000, 16_000, 32_000, 48_000})
"""Rates the WebRTC VAD accepts."""
FRAME_MILLISECONDS = frozenset({10, 20, 30})
"""Frame lengths the WebRTC VAD accepts."""


@dataclass(frozen=True)
class WebRtcVadParams:
    """Parameters of the WebRTC voice-activity detector."""

    aggressiveness: int = 2
    """0 (least eager to drop audio as non-speech) to 3 (most)."""
    frame_ms: int = 30
    """Frame length: 10, 20 or 30 ms."""
    sample_rate: int = 16_000
    """Rate of the audio: 8000, 16000, 32000 or 48000."""

    def __post_init__(self) -> None:
        if self.aggressiveness not in range(4):
            raise ValueError("aggressiveness must be 0, 1, 2 or 3")
        if self.frame_ms not in FRAME_MILLISECONDS:
            raise ValueError("frame_ms must be 10, 20 or 30")
        if self.sample_rate not in SAMPLE_RATES:
            raise ValueError("sample_rate must be 8000, 16000, 32000 or 48000")


class WebRtcVoiceActivityDetector:
    """Speech (1.0) or not (0.0) per 10/20/30 ms frame."""

    def __init__(self, model_id: str, params: WebRtcVadParams, vad: webrtcvad.Vad) -> None:
        self.model_id = model_id
        self.params = params
        self.sample_rate = params.sample_rate
        self.frame_samples = frame_samples_for(params.sample_rate, params.frame_ms)
        self._vad: webrtcvad.Vad | None = vad

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> WebRtcVoiceActivityDetector:
        """Make a detector (``model_dir`` is unused: the VAD has no files)."""
        parsed = parse_params(WebRtcVadParams, params, model_id)
        import webrtcvad

        return cls(model_id, parsed, webrtcvad.Vad(parsed.aggressiveness))

    def probability(self, frame: AudioChunk) -> float:
        """1.0 if ``frame`` (exactly ``frame_samples`` long) holds speech, else 0.0."""
        check_format(frame, self.sample_rate, "a VAD frame")
        if frame.frames != self.frame_samples:
            raise UnsupportedInput(
                f"a WebRTC VAD frame must hold {self.frame_samples} samples"
                f" ({self.params.frame_ms} ms), not {frame.frames}",
                field="audio",
            )
        vad = require_open(self._vad, self.model_id)
        try:
            speech = vad.is_speech(frame.audio, self.sample_rate)
        except Exception as exc:  # webrtcvad.Error derives from Exception only
            raise EngineError(f"WebRTC VAD failed: {exc}") from exc
        return 1.0 if speech else 0.0

    def reset(self) -> None:
        """Start a new stream (the WebRTC VAD adapts its noise model as it hears audio)."""
        if self._vad is None:
            return
        import webrtcvad

        self._vad = webrtcvad.Vad(self.params.aggressiveness)

    def close(self) -> None:
        """Drop the detector."""
        self._vad = None
