"""The one audio type that crosses every boundary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

_DTYPES: dict[int, type[np.generic]] = {1: np.int8, 2: np.int16, 4: np.int32}


@dataclass(frozen=True)
class AudioChunk:
    """A piece of little-endian PCM audio."""

    audio: bytes
    """Interleaved PCM samples."""
    rate: int
    """Samples per second per channel."""
    width: int = 2
    """Bytes per sample (2 = 16-bit)."""
    channels: int = 1
    """Interleaved channels."""
    timestamp: float = field(default=0.0)
    """Seconds from the start of the stream to the first sample."""

    @property
    def frames(self) -> int:
        """Samples per channel."""
        return len(self.audio) // (self.width * self.channels)

    @property
    def seconds(self) -> float:
        """Duration."""
        return self.frames / self.rate

    def samples(self) -> npt.NDArray[np.float32]:
        """Mono float32 samples in [-1, 1] (channels averaged)."""
        if self.width not in _DTYPES:
            raise ValueError(f"unsupported sample width {self.width}")
        ints = np.frombuffer(self.audio, dtype=np.dtype(_DTYPES[self.width]).newbyteorder("<"))
        scale = float(2 ** (8 * self.width - 1))
        floats = ints.astype(np.float32) / scale
        if self.channels > 1:
            floats = floats.reshape(-1, self.channels).mean(axis=1)
        return floats

    @classmethod
    def from_samples(
        cls,
        samples: npt.NDArray[np.floating] | npt.NDArray[np.integer],
        rate: int,
        timestamp: float = 0.0,
    ) -> AudioChunk:
        """16-bit mono PCM from float samples in [-1, 1] (or int16 samples as they are)."""
        if np.issubdtype(samples.dtype, np.integer):
            ints = samples.astype("<i2")
        else:
            ints = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        return cls(audio=ints.tobytes(), rate=rate, width=2, channels=1, timestamp=timestamp)
