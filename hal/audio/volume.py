"""Output volume: one level shared by whoever changes it and the speaker that applies it.

``OutputVolume`` is the level (0.0 silent .. 1.0 loudest), changed from any thread ("louder",
"set the volume to 5"); ``VolumeSpeaker`` wraps any ``Speaker`` and scales the samples of
every chunk it plays by the level current when the chunk passes, so a change is heard from
the next chunk on, in the middle of a reply.

The level maps to a gain on a square curve (loudness is heard roughly logarithmically: a
linear gain would put most of the audible change in the lowest steps), with
``unity_level`` passing samples unchanged; levels above it amplify, and samples that would
overflow are clipped to the sample type's range rather than wrapping around.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator

import numpy as np

from hal.audio.base import Speaker
from hal.audio.chunk import AudioChunk

_INT_TYPES: dict[int, type[np.signedinteger]] = {1: np.int8, 2: np.int16, 4: np.int32}

DEFAULT_LEVEL = 0.8
"""The level a volume starts at, and the level at which samples pass unchanged."""


class OutputVolume:
    """The output level, 0.0 (silent) to 1.0 (loudest); safe to read and change from any
    thread. Changes are rounded to hundredths so that steps add up exactly."""

    def __init__(
        self,
        level: float = DEFAULT_LEVEL,
        *,
        step: float = 0.1,
        unity_level: float = DEFAULT_LEVEL,
    ) -> None:
        if not 0.0 < step <= 1.0:
            raise ValueError("step must be in (0, 1]")
        if not 0.0 < unity_level <= 1.0:
            raise ValueError("unity_level must be in (0, 1]")
        self.step = step
        """How much ``up``/``down`` change the level."""
        self.unity_level = unity_level
        """The level at which samples pass unchanged."""
        self._lock = threading.Lock()
        self._level = _clamp(level)
        self._speakers = 0

    @property
    def level(self) -> float:
        """The current level, 0.0 to 1.0."""
        with self._lock:
            return self._level

    @property
    def gain(self) -> float:
        """The factor samples are scaled by at the current level."""
        return self.gain_at(self.level)

    def gain_at(self, level: float) -> float:
        """The factor samples are scaled by at ``level``."""
        return (_clamp(level) / self.unity_level) ** 2

    @property
    def in_use(self) -> bool:
        """Whether a speaker plays at this volume now (a ``VolumeSpeaker`` not yet closed):
        where none does, changing the level changes nothing anyone hears."""
        with self._lock:
            return self._speakers > 0

    def attach(self) -> None:
        """A speaker starts playing at this volume (``VolumeSpeaker`` calls it)."""
        with self._lock:
            self._speakers += 1

    def detach(self) -> None:
        """A speaker that played at this volume is closed."""
        with self._lock:
            self._speakers = max(0, self._speakers - 1)

    def set(self, level: float) -> float:
        """Set the level (clamped to 0..1); returns the level now."""
        with self._lock:
            self._level = _clamp(level)
            return self._level

    def up(self) -> float:
        """One step louder (at most 1.0); returns the level now."""
        with self._lock:
            self._level = _clamp(self._level + self.step)
            return self._level

    def down(self) -> float:
        """One step quieter (at least 0.0); returns the level now."""
        with self._lock:
            self._level = _clamp(self._level - self.step)
            return self._level

    def __repr__(self) -> str:
        return f"OutputVolume(level={self.level})"


def _clamp(level: float) -> float:
    return round(min(1.0, max(0.0, float(level))), 2)


def scale_chunk(chunk: AudioChunk, gain: float) -> AudioChunk:
    """``chunk`` with its samples multiplied by ``gain`` and clipped to the sample type's
    range (a gain of 1 returns the chunk itself)."""
    if gain == 1.0:
        return chunk
    if chunk.width not in _INT_TYPES:
        raise ValueError(f"unsupported sample width {chunk.width}")
    dtype = np.dtype(_INT_TYPES[chunk.width]).newbyteorder("<")
    samples = np.frombuffer(chunk.audio, dtype=dtype)
    info = np.iinfo(dtype)
    scaled = np.rint(samples.astype(np.float64) * gain)
    clipped = np.clip(scaled, info.min, info.max).astype(dtype)
    return AudioChunk(
        audio=clipped.tobytes(),
        rate=chunk.rate,
        width=chunk.width,
        channels=chunk.channels,
        timestamp=chunk.timestamp,
    )


class VolumeSpeaker:
    """A ``Speaker`` that plays through another at an ``OutputVolume``."""

    def __init__(self, speaker: Speaker, volume: OutputVolume) -> None:
        self.speaker = speaker
        """The speaker that plays."""
        self.volume = volume
        """The level applied, read again for every chunk."""
        self.name = speaker.name
        """The wrapped speaker's name."""
        self._attached = True
        volume.attach()

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        """Play ``chunks`` scaled by the volume; False if ``stop`` cut it short."""
        return await self.speaker.play(self._scaled(chunks))

    async def _scaled(self, chunks: AsyncIterable[AudioChunk]) -> AsyncIterator[AudioChunk]:
        try:
            async for chunk in chunks:
                yield scale_chunk(chunk, self.volume.gain)
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    def stop(self) -> None:
        """Stop the current playback at once."""
        self.speaker.stop()

    async def close(self) -> None:
        """Release the wrapped speaker (the volume no longer counts it)."""
        if self._attached:
            self._attached = False
            self.volume.detach()
        await self.speaker.close()
