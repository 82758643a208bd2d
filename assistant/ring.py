"""The latest few seconds of an audio stream, for audio that must reach back in time."""

from __future__ import annotations

from collections import deque

from hal.audio import AudioChunk


class AudioRing:
    """Keeps the newest chunks that together last at least ``seconds`` (and no more than
    needed for that): the pre-roll of push-to-talk and of barge-in on speech."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        """How far back it reaches; 0 keeps nothing."""
        self._chunks: deque[AudioChunk] = deque()
        self._total_seconds = 0.0

    def push(self, chunk: AudioChunk) -> None:
        """Keep ``chunk``; forget the oldest ones no longer needed."""
        if self.seconds <= 0:
            return
        self._chunks.append(chunk)
        self._total_seconds += chunk.seconds
        while self._chunks and self._total_seconds - self._chunks[0].seconds >= self.seconds:
            self._total_seconds -= self._chunks.popleft().seconds

    def chunks(self) -> list[AudioChunk]:
        """What it holds, oldest first."""
        return list(self._chunks)
