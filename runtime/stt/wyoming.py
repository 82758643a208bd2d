"""Speech to text on a remote Wyoming service (wyoming-faster-whisper, or another instance
of this runtime's Wyoming server)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wyoming.asr import Transcribe
from wyoming.asr import Transcript as WyomingTranscript
from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop

from hal.audio import AudioChunk
from hal.audio.convert import convert
from runtime.params import parse_params
from runtime.remote import RemoteParams, describe, wyoming_connect
from runtime.stt.base import Segment, TranscribeOptions, Transcript

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.1
"""Audio per ``audio-chunk`` sent (as a microphone would)."""


class WyomingSpeechToText:
    """A remote speech recogniser: one connection per transcription."""

    def __init__(self, model_id: str, params: RemoteParams, languages: tuple[str, ...]) -> None:
        self.model_id = model_id
        self.params = params
        self.sample_rate = params.sample_rate
        self.languages = languages
        """Languages the service says it knows (empty: unknown)."""

    @classmethod
    def load(cls, model_id: str, model_dir: Path, params: Mapping[str, Any]) -> WyomingSpeechToText:
        """Check the service is there and offers speech to text."""
        parsed = parse_params(RemoteParams, params, model_id)
        info = describe(parsed)
        models = [m for program in info.asr for m in program.models if m.installed]
        languages = tuple(dict.fromkeys(lang for m in models for lang in m.languages))
        log.info("remote speech to text %s at %s (%s)", model_id, parsed.url, ", ".join(languages))
        return cls(model_id, parsed, languages)

    def transcribe(self, audio: AudioChunk, options: TranscribeOptions) -> Transcript:
        """Send the audio, wait for the transcript."""
        audio = convert(audio, self.sample_rate)
        step = int(self.sample_rate * CHUNK_SECONDS) * 2
        with wyoming_connect(self.params) as connection:
            connection.send(Transcribe(name=self.params.model, language=options.language).event())
            connection.send(AudioStart(rate=self.sample_rate, width=2, channels=1).event())
            for start in range(0, len(audio.audio), step):
                piece = audio.audio[start : start + step]
                connection.send(
                    WyomingChunk(rate=self.sample_rate, width=2, channels=1, audio=piece).event()
                )
            connection.send(AudioStop().event())
            while True:
                event = connection.receive()
                if WyomingTranscript.is_type(event.type):
                    result = WyomingTranscript.from_event(event)
                    break
        text = result.text.strip()
        segments = (Segment(0.0, audio.seconds, text),) if text else ()
        return Transcript(
            text=text,
            language=result.language or options.language or "",
            language_probability=1.0,
            segments=segments,
            duration=audio.seconds,
        )

    def close(self) -> None:
        """Nothing is held between transcriptions."""
