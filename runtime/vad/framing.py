"""Cut a stream of PCM chunks of any length into fixed-size frames (pure: no I/O, no clock)."""

from __future__ import annotations

from hal.audio import AudioChunk
from runtime.errors import UnsupportedInput

SAMPLE_WIDTH = 2
"""Bytes per sample of the frames (16-bit PCM)."""


def check_format(chunk: AudioChunk, rate: int, what: str = "audio") -> None:
    """Raise UnsupportedInput unless ``chunk`` is 16-bit mono PCM at ``rate``."""
    if chunk.rate != rate:
        raise UnsupportedInput(
            f"{what} must be sampled at {rate} Hz, not {chunk.rate} Hz", field="rate"
        )
    if chunk.width != SAMPLE_WIDTH:
        raise UnsupportedInput(
            f"{what} must be 16-bit PCM, not {8 * chunk.width}-bit", field="width"
        )
    if chunk.channels != 1:
        raise UnsupportedInput(
            f"{what} must be mono, not {chunk.channels} channels", field="channels"
        )
    if len(chunk.audio) % SAMPLE_WIDTH:
        raise UnsupportedInput(f"{what} ends in the middle of a sample", field="audio")


def frame_samples_for(rate: int, milliseconds: int) -> int:
    """Samples in a frame of ``milliseconds`` at ``rate`` (which must divide evenly)."""
    samples, remainder = divmod(rate * milliseconds, 1000)
    if remainder or samples <= 0:
        raise ValueError(f"{milliseconds} ms is not a whole number of samples at {rate} Hz")
    return samples


class PcmFramer:
    """Buffers 16-bit mono chunks and hands back whole frames of ``frame_samples``.

    A frame's timestamp continues from the chunk that started the pending audio, so frames
    carry stream time even when chunks do not line up with frames.
    """

    def __init__(self, frame_samples: int, rate: int) -> None:
        if frame_samples <= 0:
            raise ValueError("frame_samples must be positive")
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.frame_samples = frame_samples
        """Samples per frame."""
        self.rate = rate
        """Sample rate the chunks must have."""
        self._pending = bytearray()
        self._pending_timestamp = 0.0

    @property
    def pending_samples(self) -> int:
        """Samples held back until a whole frame is there."""
        return len(self._pending) // SAMPLE_WIDTH

    def push(self, chunk: AudioChunk) -> list[AudioChunk]:
        """Add a chunk; the whole frames now available, oldest first."""
        check_format(chunk, self.rate)
        if not self._pending:
            self._pending_timestamp = chunk.timestamp
        self._pending.extend(chunk.audio)
        frame_bytes = self.frame_samples * SAMPLE_WIDTH
        count = len(self._pending) // frame_bytes
        frames = []
        for index in range(count):
            start = index * frame_bytes
            frames.append(
                AudioChunk(
                    audio=bytes(self._pending[start : start + frame_bytes]),
                    rate=self.rate,
                    timestamp=self._pending_timestamp + index * self.frame_samples / self.rate,
                )
            )
        if count:
            del self._pending[: count * frame_bytes]
            self._pending_timestamp += count * self.frame_samples / self.rate
        return frames

    def reset(self) -> None:
        """Drop the pending samples."""
        self._pending.clear()
        self._pending_timestamp = 0.0
