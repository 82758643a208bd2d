"""Live transcription of a stream: speech start/end, partial and final transcripts.

The stream is cut into utterances with the VAD and the same segmenter (and the same
listening options) as the voice pipeline; each utterance is transcribed when it ends,
and partly every ``partial_every_seconds`` while it goes on. What happens is reported as
typed events to one callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from assistant.threads import off_loop
from assistant.voice.options import PipelineOptions
from assistant.voice.segmenter import SegmenterOutcome, VoiceCommandSegmenter
from hal.audio import AudioChunk
from runtime.stt.base import Segment, Transcript
from runtime.vad.base import VoiceActivityDetector
from runtime.vad.framing import PcmFramer

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SpeechStarted:
    """An utterance began."""

    type: ClassVar[str] = "speech-start"
    offset_seconds: float
    """Where, in seconds of the stream."""

    def to_dict(self) -> dict[str, Any]:
        """The stream message."""
        return {"type": self.type, "offset_seconds": round(self.offset_seconds, 3)}


@dataclass(frozen=True, kw_only=True)
class PartialTranscript:
    """What the utterance under way says so far."""

    type: ClassVar[str] = "partial"
    text: str
    """The words so far."""

    def to_dict(self) -> dict[str, Any]:
        """The stream message."""
        return {"type": self.type, "text": self.text}


@dataclass(frozen=True, kw_only=True)
class SpeechEnded:
    """An utterance is over (silence, or the length limit)."""

    type: ClassVar[str] = "speech-end"
    offset_seconds: float
    """Where it was decided, in seconds of the stream."""
    timed_out: bool
    """Cut at the longest utterance allowed."""

    def to_dict(self) -> dict[str, Any]:
        """The stream message."""
        return {
            "type": self.type,
            "offset_seconds": round(self.offset_seconds, 3),
            "timed_out": self.timed_out,
        }


@dataclass(frozen=True, kw_only=True)
class FinalTranscript:
    """An utterance, transcribed."""

    type: ClassVar[str] = "transcript"
    text: str
    """What was said."""
    language: str
    """Language spoken."""
    start_seconds: float
    """Where the utterance began, in seconds of the stream."""
    duration_seconds: float
    """Length of the audio transcribed."""
    segments: tuple[Segment, ...]
    """Timed pieces, from the start of the utterance."""

    def to_dict(self) -> dict[str, Any]:
        """The stream message."""
        return {
            "type": self.type,
            "text": self.text,
            "language": self.language,
            "start_seconds": round(self.start_seconds, 3),
            "duration_seconds": round(self.duration_seconds, 3),
            "segments": [
                {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()}
                for s in self.segments
            ],
        }


DictationEvent = SpeechStarted | PartialTranscript | SpeechEnded | FinalTranscript
"""Anything dictation reports."""
DictationCallback = Callable[[DictationEvent], Awaitable[None]]
"""Receives every event, in order."""
Transcribe = Callable[[AudioChunk], Awaitable[Transcript]]
"""Speech to text of one utterance."""


class Dictation:
    """Cuts a stream into utterances with a VAD and transcribes each (and partly, as it goes)."""

    def __init__(
        self,
        vad: VoiceActivityDetector,
        transcribe: Transcribe,
        on_event: DictationCallback,
        options: PipelineOptions,
        *,
        partial_every_seconds: float = 1.5,
    ) -> None:
        self.vad = vad
        self.transcribe = transcribe
        self.on_event = on_event
        self.options = options
        """The listening options (threshold, segmenter timing, pre-roll)."""
        self.partial_every_seconds = partial_every_seconds
        """Speech between partial transcripts."""
        self.framer = PcmFramer(vad.frame_samples, vad.sample_rate)
        self.segmenter = VoiceCommandSegmenter(options.segmenter_options(None))
        self._pre_roll: deque[AudioChunk] = deque(
            maxlen=max(1, round(options.pre_roll_seconds * vad.sample_rate / vad.frame_samples))
        )
        self._utterance: list[AudioChunk] = []
        self._partial: asyncio.Task[None] | None = None
        self._partial_at = 0.0
        self._started_at = 0.0
        self.utterances = 0
        """Utterances transcribed."""

    async def feed(self, chunk: AudioChunk) -> None:
        """Take audio (16-bit mono at the VAD's rate)."""
        for frame in self.framer.push(chunk):
            probability = await off_loop(self.vad.probability, frame)
            was_in = self.segmenter.in_command
            more = self.segmenter.process(frame.seconds, probability >= self.options.vad_threshold)
            if self.segmenter.in_command or self.segmenter.speech_started:
                self._utterance.append(frame)
            else:
                self._pre_roll.append(frame)
            if self.segmenter.in_command and not was_in:
                self._utterance = [*self._pre_roll, *self._utterance]
                self._pre_roll.clear()
                self._started_at = frame.timestamp
                self._partial_at = 0.0
                await self.on_event(SpeechStarted(offset_seconds=frame.timestamp))
            if self.segmenter.in_command and self._due_for_partial():
                self._partial = asyncio.create_task(self._send_partial(list(self._utterance)))
            if not more:
                await self._finish_utterance(frame.timestamp + frame.seconds)

    async def finish(self) -> None:
        """The stream ended: a command under way is transcribed."""
        if self.segmenter.in_command:
            await self._finish_utterance(self._started_at + self._seconds())

    async def close(self) -> None:
        """Stop a partial transcription still running (the stream was cut off)."""
        partial, self._partial = self._partial, None
        if partial is not None and not partial.done():
            partial.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await partial

    def _seconds(self) -> float:
        return sum(f.seconds for f in self._utterance)

    def _due_for_partial(self) -> bool:
        seconds = self._seconds()
        busy = self._partial is not None and not self._partial.done()
        return not busy and seconds - self._partial_at >= self.partial_every_seconds

    async def _send_partial(self, frames: list[AudioChunk]) -> None:
        self._partial_at = sum(f.seconds for f in frames)
        transcript = await self.transcribe(_join(frames))
        if transcript.text.strip():
            await self.on_event(PartialTranscript(text=transcript.text.strip()))

    async def _finish_utterance(self, end_seconds: float) -> None:
        outcome = self.segmenter.outcome
        if self._partial is not None:
            await asyncio.gather(self._partial, return_exceptions=True)
            self._partial = None
        frames, self._utterance = self._utterance, []
        self.segmenter.reset()
        if not frames or outcome is SegmenterOutcome.NO_SPEECH:
            return
        await self.on_event(
            SpeechEnded(
                offset_seconds=end_seconds, timed_out=outcome is SegmenterOutcome.MAX_LENGTH
            )
        )
        transcript = await self.transcribe(_join(frames))
        self.utterances += 1
        await self.on_event(
            FinalTranscript(
                text=transcript.text.strip(),
                language=transcript.language,
                start_seconds=self._started_at,
                duration_seconds=transcript.duration,
                segments=transcript.segments,
            )
        )


def _join(frames: list[AudioChunk]) -> AudioChunk:
    first = frames[0]
    return AudioChunk(
        audio=b"".join(f.audio for f in frames),
        rate=first.rate,
        width=first.width,
        channels=first.channels,
        timestamp=first.timestamp,
    )
