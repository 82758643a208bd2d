"""Text to speech on a remote Wyoming service (wyoming-piper, or another instance of this
runtime's Wyoming server)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.tts import Synthesize, SynthesizeVoice

from hal.audio import AudioChunk
from hal.audio.convert import convert
from runtime.errors import UnsupportedInput
from runtime.params import parse_params
from runtime.remote import RemoteParams, describe, wyoming_connect
from runtime.tts.base import SynthesisOptions

log = logging.getLogger(__name__)


class WyomingTextToSpeech:
    """A remote voice: one connection per synthesis, audio handed on as it arrives.

    The speaking rate cannot be asked of a Wyoming service: only 1.0 is accepted.
    """

    def __init__(self, model_id: str, params: RemoteParams, sample_rate: int) -> None:
        self.model_id = model_id
        self.params = params
        self.sample_rate = sample_rate
        """Rate of the audio (learned from the service's first answer)."""

    @classmethod
    def load(cls, model_id: str, model_dir: Path, params: Mapping[str, Any]) -> WyomingTextToSpeech:
        """Check the service is there and has the voice."""
        parsed = parse_params(RemoteParams, {"sample_rate": 22_050, **params}, model_id)
        info = describe(parsed)
        voices = [v.name for program in info.tts for v in program.voices if v.installed]
        if parsed.model is not None and parsed.model not in voices:
            raise UnsupportedInput(
                f"The Wyoming service at {parsed.url} has no voice {parsed.model!r};"
                f" it has: {', '.join(voices) or 'none'}",
                field="model",
            )
        log.info("remote voice %s at %s", model_id, parsed.url)
        return cls(model_id, parsed, parsed.sample_rate)

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak ``text``; 16-bit mono chunks as the service sends them."""
        if options.rate != 1.0:
            raise UnsupportedInput("a remote Wyoming voice speaks at rate 1.0 only", field="rate")
        return self._chunks(text, options)

    def _chunks(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        speaker = None if options.speaker_id is None else str(options.speaker_id)
        voice = SynthesizeVoice(name=self.params.model, speaker=speaker)
        with wyoming_connect(self.params) as connection:
            connection.send(Synthesize(text=text, voice=voice).event())
            frames = 0
            while True:
                event = connection.receive()
                if AudioStart.is_type(event.type):
                    self.sample_rate = AudioStart.from_event(event).rate
                elif WyomingChunk.is_type(event.type):
                    chunk = WyomingChunk.from_event(event)
                    ours = AudioChunk(
                        chunk.audio, chunk.rate, chunk.width, chunk.channels, frames / chunk.rate
                    )
                    mono = convert(ours, chunk.rate, channels=1, width=2)
                    frames += mono.frames
                    yield mono
                elif AudioStop.is_type(event.type):
                    return

    def close(self) -> None:
        """Nothing is held between syntheses."""
