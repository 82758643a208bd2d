"""Live transcription of a stream: speech start/end, partial and final transcripts."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from assistant.voice.segmenter import SegmenterOptions, SegmenterOutcome, VoiceCommandSegmenter
from hal.audio import AudioChunk
from runtime.stt.base import Transcript
from runtime.vad.base import VoiceActivityDetector
from runtime.vad.framing import PcmFramer

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], Awaitable[None]]
Transcribe = Callable[[AudioChunk], Awaitable[Transcript]]


class Dictation:
    """Cuts a stream into utterances with a VAD and transcribes each (and partly, as it goes)."""

    def __init__(
        self,
        vad: VoiceActivityDetector,
        transcribe: Transcribe,
        emit: Emit,
        *,
        options: SegmenterOptions | None = None,
        threshold: float = 0.5,
        partial_every_seconds: float = 1.5,
        pre_roll_seconds: float = 0.3,
    ) -> None:
        self.vad = vad
        self.transcribe = transcribe
        self.emit = emit
        self.options = options or SegmenterOptions(silence_seconds=0.6, no_speech_seconds=None)
        self.threshold = threshold
        self.partial_every_seconds = partial_every_seconds
        self.framer = PcmFramer(vad.frame_samples, vad.sample_rate)
        self.segmenter = VoiceCommandSegmenter(self.options)
        self._pre_roll: deque[AudioChunk] = deque(
            maxlen=max(1, round(pre_roll_seconds * vad.sample_rate / vad.frame_samples))
        )
        self._utterance: list[AudioChunk] = []
        self._partial: asyncio.Task[None] | None = None
        self._partial_at = 0.0
        self._started_at = 0.0
        self.utterances = 0

    async def feed(self, chunk: AudioChunk) -> None:
        """Take audio (16-bit mono at the VAD's rate)."""
        for frame in self.framer.push(chunk):
            probability = await asyncio.to_thread(self.vad.probability, frame)
            was_in = self.segmenter.in_command
            more = self.segmenter.process(frame.seconds, probability >= self.threshold)
            if self.segmenter.in_command or self.segmenter.speech_started:
                self._utterance.append(frame)
            else:
                self._pre_roll.append(frame)
            if self.segmenter.in_command and not was_in:
                self._utterance = [*self._pre_roll, *self._utterance]
                self._pre_roll.clear()
                self._started_at = frame.timestamp
                self._partial_at = 0.0
                await self.emit(
                    {"type": "speech-start", "offset_seconds": round(frame.timestamp, 3)}
                )
            if self.segmenter.in_command and self._due_for_partial():
                self._partial = asyncio.create_task(self._send_partial(list(self._utterance)))
            if not more:
                await self._finish_utterance(frame.timestamp + frame.seconds)

    async def finish(self) -> None:
        """The stream ended: a command under way is transcribed."""
        if self.segmenter.in_command:
            await self._finish_utterance(self._started_at + self._seconds())

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
            await self.emit({"type": "partial", "text": transcript.text.strip()})

    async def _finish_utterance(self, end_seconds: float) -> None:
        outcome = self.segmenter.outcome
        if self._partial is not None:
            await asyncio.gather(self._partial, return_exceptions=True)
            self._partial = None
        frames, self._utterance = self._utterance, []
        self.segmenter.reset()
        if not frames or outcome is SegmenterOutcome.NO_SPEECH:
            return
        await self.emit(
            {
                "type": "speech-end",
                "offset_seconds": round(end_seconds, 3),
                "timed_out": outcome is SegmenterOutcome.MAX_LENGTH,
            }
        )
        transcript = await self.transcribe(_join(frames))
        self.utterances += 1
        await self.emit(
            {
                "type": "transcript",
                "text": transcript.text.strip(),
                "language": transcript.language,
                "start_seconds": round(self._started_at, 3),
                "duration_seconds": round(transcript.duration, 3),
                "segments": [
                    {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()}
                    for s in transcript.segments
                ],
            }
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
