"""Voice activity detection with Silero VAD (v5/v6 ONNX) on onnxruntime.

The model is recurrent: each call takes a window of 512 new samples at 16 kHz (256 at
8 kHz) behind the last 64 (32) samples of the previous window, plus the state
``[2, 1, 128]`` the previous call returned, and gives the probability that the new
samples hold speech. Frames must therefore arrive in stream order; ``reset()`` starts a
new stream.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hal.audio import AudioChunk
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled, UnsupportedInput
from runtime.onnx import cpu_session
from runtime.params import parse_params
from runtime.vad.framing import check_format

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

MODEL_FILE = "silero_vad.onnx"
"""The file name of the ONNX model inside the model folder."""

WINDOW_SAMPLES: dict[int, int] = {16_000: 512, 8_000: 256}
"""New samples per call, by sample rate (the model accepts no other sizes)."""
CONTEXT_SAMPLES: dict[int, int] = {16_000: 64, 8_000: 32}
"""Samples of the previous window fed again in front of the new ones."""
STATE_SHAPE = (2, 1, 128)
"""Shape of the recurrent state."""


@dataclass(frozen=True)
class SileroVadParams:
    """Parameters of the Silero voice-activity detector."""

    sample_rate: int = 16_000
    """Rate of the audio: 16000 or 8000."""
    threads: int = 1
    """onnxruntime intra-op threads (the model is tiny: 1 is best)."""

    def __post_init__(self) -> None:
        if self.sample_rate not in WINDOW_SAMPLES:
            raise ValueError("sample_rate must be 16000 or 8000")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")


def model_input(
    context: npt.NDArray[np.float32], window: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """The model's ``input``: the context in front of the new window, as a batch of one."""
    return np.concatenate((context, window)).astype(np.float32)[None, :]


class SileroVoiceActivityDetector:
    """Speech probability per 32 ms window (512 samples at 16 kHz)."""

    def __init__(
        self, model_id: str, params: SileroVadParams, session: onnxruntime.InferenceSession
    ) -> None:
        self.model_id = model_id
        self.sample_rate = params.sample_rate
        self.frame_samples = WINDOW_SAMPLES[params.sample_rate]
        self._context_samples = CONTEXT_SAMPLES[params.sample_rate]
        self._session: onnxruntime.InferenceSession | None = session
        self._rate = np.array(params.sample_rate, dtype=np.int64)
        self._state = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(self._context_samples, dtype=np.float32)

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> SileroVoiceActivityDetector:
        """Open ``silero_vad.onnx`` in ``model_dir``."""
        parsed = parse_params(SileroVadParams, params, model_id)
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ModelNotInstalled(model_id)
        session = cpu_session(path, parsed.threads)
        names = {i.name for i in session.get_inputs()}
        if names != {"input", "state", "sr"}:
            raise ModelLoadFailed(
                f"{path.name} is not a Silero VAD v5/v6 model (inputs: {', '.join(sorted(names))})"
            )
        log.info("loaded Silero VAD from %s", path)
        return cls(model_id, parsed, session)

    def probability(self, frame: AudioChunk) -> float:
        """Probability that ``frame`` (exactly ``frame_samples`` long) holds speech."""
        check_format(frame, self.sample_rate, "a VAD frame")
        if frame.frames != self.frame_samples:
            raise UnsupportedInput(
                f"a Silero VAD frame must hold {self.frame_samples} samples, not {frame.frames}",
                field="audio",
            )
        session = require_open(self._session, self.model_id)
        window = frame.samples()
        feed = {"input": model_input(self._context, window), "state": self._state, "sr": self._rate}
        try:
            output, state = session.run(None, feed)
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise EngineError(f"Silero VAD inference failed: {exc}") from exc
        self._state = np.asarray(state, dtype=np.float32)
        self._context = window[-self._context_samples :]
        return float(np.clip(np.asarray(output).reshape(-1)[0], 0.0, 1.0))

    def reset(self) -> None:
        """Forget the recurrent state and the context (new stream)."""
        self._state = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(self._context_samples, dtype=np.float32)

    def close(self) -> None:
        """Drop the onnxruntime session."""
        self._session = None
