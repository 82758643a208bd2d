"""The live interpreter: two people, two languages, one microphone and one speaker.

The stream is cut into utterances by the VAD and the voice pipeline's segmenter (as live
dictation does); each utterance is heard (Whisper tells which of the two languages it
is), translated into the other language and spoken. Every stage is reported as a JSON-
ready event with its timing; ``interpretation`` closes each utterance with the latency
from the end of speech to the first translated audio.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from assistant.errors import InvalidInput
from assistant.problems import OWN_ERRORS, explain
from assistant.translate.service import language_code
from assistant.translate.speech import SpeechRequest, SpeechTranslator
from assistant.voice.dictation import Dictation, DictationEvent, SpeechEnded, SpeechStarted
from assistant.voice.options import PipelineOptions
from hal.audio import AudioChunk, Speaker
from runtime.engines import Capability
from runtime.stt.base import Transcript

log = logging.getLogger(__name__)

InterpretCallback = Callable[[dict[str, Any]], Awaitable[None]]
"""Receives every event (a JSON-ready dict with a ``type``), in order."""


@dataclass(frozen=True)
class InterpretOptions:
    """Who speaks what."""

    languages: tuple[str, str]
    """The two languages (ISO 639-1); an utterance in one is spoken in the other."""
    stt_model: str | None = None
    """Speech-to-text model (multilingual); default: the configured one."""
    model: str | None = None
    """Text translation model; default: the best installed for each pair."""


class Interpreter:
    """Interprets a live stream between two languages for a user."""

    def __init__(self, speech: SpeechTranslator) -> None:
        self.speech = speech
        self.utterances = 0
        """Utterances interpreted."""

    async def run(
        self,
        user_id: str,
        audio: AsyncIterable[AudioChunk],
        speaker: Speaker,
        options: InterpretOptions,
        listening: PipelineOptions,
        on_event: InterpretCallback,
    ) -> int:
        """Interpret until the stream ends; the number of utterances interpreted. A failed
        utterance is reported as an ``error`` event and the next one is heard."""
        first, second = (language_code(code, "languages") for code in options.languages)
        if first == second:
            raise InvalidInput(
                f"Interpret between two different languages, not {first} and {first}",
                field="languages",
            )
        voice = self.speech.voice
        vad_id = await asyncio.to_thread(voice.model_for, Capability.VAD)
        request = SpeechRequest(
            target=second,
            pair=(first, second),
            stt_model=options.stt_model,
            model=options.model,
        )

        async def forward_stage(stage: str, data: dict[str, Any]) -> None:
            await on_event({"type": f"{stage}-end", **data})

        async def interpret(utterance: AudioChunk) -> Transcript:
            ended = time.perf_counter()
            try:
                result = await self.speech.translate(user_id, utterance, request, forward_stage)
            except OWN_ERRORS as exc:
                problem = explain(exc)
                log.info("an utterance could not be interpreted: %s", problem.detail)
                await on_event({"type": "error", "code": problem.code, "detail": problem.detail})
                return Transcript("", "", 0.0, (), utterance.seconds)
            first_audio = None
            if result.audio is not None:
                first_audio = time.perf_counter() - ended
                await speaker.play(_once(result.audio))
            self.utterances += 1
            await on_event(
                {
                    "type": "interpretation",
                    "text": result.text,
                    "translated_text": result.translated,
                    "source": result.source,
                    "target": result.target,
                    "engine": result.engine,
                    "model": result.model,
                    "voice": result.voice,
                    "voice_fallback": result.voice_fallback,
                    "stt_seconds": round(result.timings.stt, 3),
                    "translate_seconds": round(result.timings.translate, 3),
                    "tts_seconds": round(result.timings.tts, 3),
                    "end_of_speech_to_first_audio_seconds": None
                    if first_audio is None
                    else round(first_audio, 3),
                }
            )
            return Transcript(result.text or "", result.source, 1.0, (), utterance.seconds)

        async def forward_segments(event: DictationEvent) -> None:
            if isinstance(event, SpeechStarted | SpeechEnded):
                await on_event(event.to_dict())

        async with voice.manager.use(vad_id) as vad:
            await asyncio.to_thread(vad.reset)
            dictation = Dictation(
                vad, interpret, forward_segments, listening, partial_every_seconds=math.inf
            )
            try:
                async for chunk in audio:
                    await dictation.feed(chunk)
                await dictation.finish()
            finally:
                await dictation.close()
        return self.utterances


async def _once(chunk: AudioChunk) -> AsyncIterator[AudioChunk]:
    yield chunk
