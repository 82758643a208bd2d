"""The microphone and speaker Protocols."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

from hal.audio.chunk import AudioChunk


class Microphone(Protocol):
    """A source of audio chunks (a sound card, a file, a fake)."""

    name: str
    """Which device or file."""
    rate: int
    """Sample rate of the chunks it yields."""

    def chunks(self) -> AsyncIterator[AudioChunk]:
        """Chunks as they are captured, until closed (or the file ends)."""
        ...

    async def close(self) -> None:
        """Stop capturing and release the device."""
        ...


class Speaker(Protocol):
    """A sink for audio (a sound card, a file, a fake)."""

    name: str
    """Which device or file."""

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        """Play chunks as they arrive; True if all played, False if ``stop`` cut it short."""
        ...

    def stop(self) -> None:
        """Stop the current playback at once (barge-in); safe to call any time."""
        ...

    async def close(self) -> None:
        """Release the device."""
        ...
