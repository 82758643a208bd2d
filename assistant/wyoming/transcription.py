"""One transcription of a live stream: audio converted as it arrives, decoded at pauses.

Each chunk is converted to 16 kHz mono (any rate, width and channel count, a change of
format mid-stream included) the moment it arrives, into one growing buffer: nothing is
written to a file and nothing waits for the end to be converted. When the speaker pauses
(``pause_seconds`` of quiet after speech), the audio up to the pause is transcribed in
the background while more arrives; its text is final (a pause never splits a word), is
handed to ``on_text`` at once, and its audio is dropped. At the end only what came after
the last decoded pause is left to decode, and nothing at all when that is quiet: a
command followed by the client's own end-of-speech silence is usually transcribed before
``audio-stop`` arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from assistant.errors import PayloadTooLarge
from hal.audio import AudioChunk
from hal.audio.convert import ChunkConverter
from runtime.stt.base import Transcript

log = logging.getLogger(__name__)

RATE = 16_000
"""The rate every speech recogniser here takes."""
BYTES_PER_SECOND = RATE * 2
FRAME_SAMPLES = 480
"""30 ms: the unit the pause finder judges."""
FRAME_BYTES = FRAME_SAMPLES * 2

Decode = Callable[[AudioChunk], Awaitable[Transcript]]
"""Speech to text of 16 kHz mono audio."""
TextCallback = Callable[[str], Awaitable[None]]
"""Receives each piece of final text as soon as it is known."""


@dataclass(frozen=True)
class StreamedTranscript:
    """The outcome of a streamed transcription."""

    text: str
    """Everything said."""
    language: str
    """Language spoken (given or detected)."""
    audio_seconds: float
    """Audio received."""
    decoded_at_end_seconds: float
    """Audio left to decode after the stream ended (the rest was decoded at pauses)."""
    passes: int
    """Pauses decoded while the audio arrived."""


class PauseFinder:
    """Finds where speech pauses in a stream of 30 ms frame levels (pure: no clock, no I/O).

    A frame is quiet below ``floor`` or below ``relative`` times the loudest frame of the
    current stretch. A pause is ``pause_frames`` quiet frames after at least
    ``speech_frames`` loud ones; ``push`` returns the frame index where it began (the
    stretch before it can be decoded on its own), then starts a new stretch.
    """

    def __init__(
        self,
        pause_frames: int = 10,
        speech_frames: int = 10,
        floor: float = 0.003,
        relative: float = 0.03,
    ) -> None:
        self.pause_frames = pause_frames
        self.speech_frames = speech_frames
        self.floor = floor
        self.relative = relative
        self._index = 0
        self._loudest = 0.0
        self._loud = 0
        self._quiet_run = 0

    def push(self, level: float) -> int | None:
        """The level (RMS in [0, 1]) of the next frame; a pause's first frame, if one ended."""
        index, self._index = self._index, self._index + 1
        if self.quiet(level):
            self._quiet_run += 1
        else:
            self._loudest = max(self._loudest, level)
            self._loud += 1
            self._quiet_run = 0
        if self._quiet_run >= self.pause_frames and self._loud >= self.speech_frames:
            self._loudest, self._loud = 0.0, 0
            return index + 1 - self._quiet_run
        return None

    def quiet(self, level: float) -> bool:
        """Whether a frame of this level is quiet in the current stretch."""
        return level < max(self.floor, self.relative * self._loudest)


def frame_levels(pcm: bytes) -> list[float]:
    """RMS of each whole 30 ms frame of 16-bit audio."""
    count = len(pcm) // FRAME_BYTES
    if count == 0:
        return []
    samples = np.frombuffer(pcm[: count * FRAME_BYTES], dtype="<i2").astype(np.float32) / 32768.0
    return [float(v) for v in np.sqrt(np.mean(samples.reshape(count, FRAME_SAMPLES) ** 2, axis=1))]


class TranscriptionSession:
    """Feed chunks as they arrive, then ``finish`` for the transcript."""

    def __init__(
        self,
        decode: Decode,
        *,
        pause_seconds: float = 0.5,
        max_seconds: float = 300.0,
        on_text: TextCallback | None = None,
    ) -> None:
        self.decode = decode
        self.max_seconds = max_seconds
        self.on_text = on_text
        frames = max(1, math.ceil(pause_seconds * RATE / FRAME_SAMPLES))
        self._pauses = PauseFinder(pause_frames=frames)
        self._converter = ChunkConverter(RATE)
        self._pending = bytearray()  # converted audio not decoded yet
        self._scanned = 0  # bytes of _pending the pause finder has judged
        self._cut: int | None = None  # end of a pause not yet decoded (bytes into _pending)
        self._received_seconds = 0.0
        self._committed: list[str] = []
        self._language = ""
        self._pass: asyncio.Task[None] | None = None
        self.passes = 0

    async def feed(self, chunk: AudioChunk) -> None:
        """Take the next chunk (any PCM format)."""
        self._received_seconds += chunk.seconds
        if self._received_seconds > self.max_seconds:
            raise PayloadTooLarge(
                f"The audio runs past {self.max_seconds:g} s, the longest accepted"
                " (wyoming.max_audio_seconds)",
                field="audio",
            )
        self._pending += self._converter.convert(chunk).audio
        self._scan()
        if self._cut is not None and not self._busy():
            cut, self._cut = self._cut, None
            self._pass = asyncio.create_task(self._decode_until(cut))

    async def finish(self) -> StreamedTranscript:
        """The audio has ended: decode what is left and return everything."""
        while self._pass is not None:  # a pass may start the next one
            running = self._pass
            await running
            if self._pass is running:
                self._pass = None
        self._pending += self._converter.flush().audio
        tail = bytes(self._pending)
        text = ""
        if self._has_speech(tail):
            transcript = await self.decode(AudioChunk(tail, RATE))
            self._language = transcript.language or self._language
            text = transcript.text.strip()
        if text and self.on_text is not None:
            await self.on_text(text)
        pieces = [*self._committed, text] if text else self._committed
        return StreamedTranscript(
            text=" ".join(pieces),
            language=self._language,
            audio_seconds=self._received_seconds,
            decoded_at_end_seconds=len(tail) / BYTES_PER_SECOND if text else 0.0,
            passes=self.passes,
        )

    async def close(self) -> None:
        """Stop a background pass (the client went away)."""
        task, self._pass = self._pass, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _scan(self) -> None:
        start = self._scanned - self._scanned % FRAME_BYTES
        levels = frame_levels(bytes(self._pending[start:]))
        for offset, level in enumerate(levels):
            began = self._pauses.push(level)
            if began is not None:
                # Decode up to the middle of the pause: the speech with a little quiet after.
                self._cut = (
                    start
                    + (offset + 1) * FRAME_BYTES
                    - FRAME_BYTES * (self._pauses.pause_frames // 2)
                )
        self._scanned = start + len(levels) * FRAME_BYTES

    def _has_speech(self, pcm: bytes) -> bool:
        levels = frame_levels(pcm)
        return any(not self._pauses.quiet(level) for level in levels) or (
            0 < len(pcm) < FRAME_BYTES
        )

    def _busy(self) -> bool:
        return self._pass is not None and not self._pass.done()

    async def _decode_until(self, cut: int) -> None:
        audio = bytes(self._pending[:cut])
        try:
            transcript = await self.decode(AudioChunk(audio, RATE))
        except Exception as exc:  # the end decodes everything left: nothing is lost
            log.warning("transcription at a pause failed: %s", exc)
            return
        self.passes += 1
        del self._pending[:cut]
        self._scanned = max(0, self._scanned - cut)
        if self._cut is not None:
            self._cut = max(0, self._cut - cut) or None
        self._language = transcript.language or self._language
        text = transcript.text.strip()
        if text:
            self._committed.append(text)
            if self.on_text is not None:
                await self.on_text(text)
        if self._cut is not None and self._pass is asyncio.current_task():
            cut, self._cut = self._cut, None
            self._pass = asyncio.create_task(self._decode_until(cut))
