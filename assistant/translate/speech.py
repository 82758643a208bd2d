"""Voice translation: speech in one language -> text -> speech in another.

Into English from a multilingual Whisper, the model's own ``translate`` task turns speech
straight into English text (one pass, and it hears languages no text engine reads).
Otherwise Whisper transcribes (detecting the language), the text engines translate, and
when they cannot read the spoken language but can translate from English, Whisper's
English translation is the pivot. The translation is spoken by a Piper voice of the
target language when one is installed, else by espeak-ng (the fallback voice).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from assistant.clock import new_id, to_ms
from assistant.errors import InvalidInput
from assistant.profile import UsageMetric
from assistant.translate.models import ENGINE_NONE, ENGINE_WHISPER, TranslateRequest
from assistant.translate.service import TranslateService, language_code
from assistant.translate.store import HistoryEntry
from assistant.voice import voices
from assistant.voice.service import VoiceService
from hal.audio import AudioChunk
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled
from runtime.stt.base import TranscribeOptions, Transcript
from runtime.tts.base import SynthesisOptions

StageCallback = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Hears of a stage that ended (``stt``, ``translate``, ``tts``) and what it made."""

FALLBACK_VOICE = voices.FALLBACK_VOICE
"""The voice that speaks a language no installed Piper voice speaks."""


@dataclass(frozen=True)
class SpeechRequest:
    """What to do with one utterance."""

    target: str
    """ISO 639-1 of the translation."""
    source: str = "auto"
    """The language spoken, or ``auto`` (Whisper detects it)."""
    model: str | None = None
    """Text translation model; default: Whisper's translate task into English, else the
    best installed for the pair."""
    stt_model: str | None = None
    """Speech-to-text model; default: the configured one."""
    voice: str | None = None
    """Voice; default: a Piper voice of the target language, else espeak-ng."""
    speak: bool = True
    """Synthesise the translation."""
    source_text: bool = True
    """Also write down what was said, in its language, when Whisper translates into
    English itself (one more Whisper pass)."""
    pair: tuple[str, str] | None = None
    """Interpreting between two languages: the one heard is translated into the other
    (``target`` is then ignored)."""


@dataclass(frozen=True)
class SpeechTimings:
    """Seconds per stage."""

    stt: float = 0.0
    translate: float = 0.0
    tts: float = 0.0
    first_audio: float | None = None
    """From the start to the first synthesised audio."""
    total: float = 0.0


@dataclass(frozen=True)
class SpeechTranslation:
    """One utterance translated, and spoken."""

    text: str | None
    """What was said, in its language (None when only Whisper's English was asked for)."""
    translated: str
    """The translation."""
    source: str
    """Language spoken (given or detected)."""
    source_confidence: float
    """Whisper's confidence in the detected language (1.0 when given)."""
    target: str
    engine: str
    """``whisper`` (its translate task), ``ctranslate2``, ``llm`` or ``none``."""
    model: str
    """The model that translated."""
    stt_model: str
    pivot: bool
    """Translated through Whisper's English."""
    voice: str | None
    """The voice that spoke, if any."""
    voice_fallback: bool
    """The voice is espeak-ng's."""
    audio: AudioChunk | None
    """The spoken translation (16-bit mono at the voice's rate)."""
    timings: SpeechTimings
    history_id: str | None = None


@dataclass(frozen=True)
class _Outcome:
    """What hearing and translating one utterance made."""

    heard: Transcript
    heard_at: float
    target: str
    text: str | None
    translated: str
    engine: str
    model: str
    pivot: bool
    history_id: str | None


class SpeechTranslator:
    """Voice translation over the voice and text translation services."""

    def __init__(self, text: TranslateService, voice: VoiceService) -> None:
        self.text = text
        self.voice = voice

    def decode(self, data: bytes) -> AudioChunk:
        """An upload in any format the voice service reads, as 16 kHz mono (blocking)."""
        return self.voice.decode_upload(data)

    async def translate_upload(
        self, user_id: str, data: bytes, request: SpeechRequest
    ) -> SpeechTranslation:
        """:meth:`translate` of an uploaded file; bad language codes are refused before
        the audio is decoded."""
        language_code(request.target, "target")
        language_code(request.source, "source", allow_auto=True)
        audio = await asyncio.to_thread(self.decode, data)
        return await self.translate(user_id, audio, request)

    def multilingual(self, stt_model: str) -> bool:
        """The speech-to-text model hears more than English (and can translate)."""
        return self.voice.languages(stt_model) != ("en",)

    def voice_of(self, target: str, requested: str | None) -> tuple[str, bool]:
        """The voice that speaks ``target`` (blocking); ModelNotInstalled names espeak-ng."""
        if requested is not None:
            return self.voice.model_for(Capability.TTS, requested), requested == FALLBACK_VOICE
        voice, fallback = self.text.voice_for(target)
        if voice is None:
            raise ModelNotInstalled(FALLBACK_VOICE)
        return voice, fallback

    async def translate(
        self,
        user_id: str,
        audio: AudioChunk,
        request: SpeechRequest,
        on_stage: StageCallback | None = None,
    ) -> SpeechTranslation:
        """Hear, translate and (unless asked not to) speak one utterance; ``on_stage``
        hears of each stage as it ends (``stt``, ``translate``, ``tts``)."""
        started = time.perf_counter()
        pair = tuple(language_code(code, "languages") for code in request.pair or ())
        target = language_code(request.target, "target") if not pair else pair[1]
        source = language_code(request.source, "source", allow_auto=True)
        spoken_language = None if source == "auto" else source
        stt = await asyncio.to_thread(self.voice.model_for, Capability.STT, request.stt_model)
        multilingual = await asyncio.to_thread(self.multilingual, stt)
        voices: dict[str, tuple[str | None, bool]] = {}
        for language in pair or (target,):  # a missing voice fails before any model runs
            voices[language] = (
                await asyncio.to_thread(self.voice_of, language, request.voice)
                if request.speak
                else (None, False)
            )
        stage = on_stage or _ignore
        whisper_only = not pair and target == "en" and multilingual and request.model is None
        if whisper_only:
            outcome = await self._into_english(user_id, audio, stt, spoken_language, request, stage)
        else:
            outcome = await self._through_text(
                user_id, audio, stt, spoken_language, request, stage, target, pair, multilingual
            )
        translated_at = time.perf_counter()
        heard, target = outcome.heard, outcome.target
        text, translated, engine, model = (
            outcome.text,
            outcome.translated,
            outcome.engine,
            outcome.model,
        )
        stt_at, pivot, history_id = outcome.heard_at, outcome.pivot, outcome.history_id
        await stage(
            "translate",
            {
                "text": translated,
                "source": heard.language,
                "target": target,
                "engine": engine,
                "model": model,
                "seconds": round(translated_at - stt_at, 3),
            },
        )
        voice_id, fallback = voices[target]
        audio_out: AudioChunk | None = None
        first_audio: float | None = None
        if voice_id is not None:
            audio_out, first_audio = await self._speak(user_id, voice_id, translated, target)
        done = time.perf_counter()
        if voice_id is not None:
            await stage(
                "tts",
                {
                    "voice": voice_id,
                    "fallback": fallback,
                    "seconds": round(done - translated_at, 3),
                },
            )
        return SpeechTranslation(
            text=text,
            translated=translated,
            source=heard.language,
            source_confidence=heard.language_probability,
            target=target,
            engine=engine,
            model=model,
            stt_model=stt,
            pivot=pivot,
            voice=voice_id,
            voice_fallback=fallback,
            audio=audio_out,
            timings=SpeechTimings(
                stt=stt_at - started,
                translate=translated_at - stt_at,
                tts=done - translated_at,
                first_audio=None if first_audio is None else first_audio - started,
                total=done - started,
            ),
            history_id=history_id,
        )

    async def _into_english(
        self,
        user_id: str,
        audio: AudioChunk,
        stt: str,
        spoken_language: str | None,
        request: SpeechRequest,
        stage: StageCallback,
    ) -> _Outcome:
        """Whisper's own translation into English (and, if asked, what was said)."""
        started = time.perf_counter()
        heard = await self._hear(user_id, audio, stt, spoken_language, "translate")
        english = heard.text
        text: str | None = english if heard.language == "en" else None
        if request.source_text and heard.language != "en":
            text = (await self._hear(user_id, audio, stt, heard.language, "transcribe")).text
        heard_at = time.perf_counter()
        await stage("stt", _heard(heard, text, heard_at - started))
        engine, model = (ENGINE_NONE, "") if heard.language == "en" else (ENGINE_WHISPER, stt)
        history_id = await asyncio.to_thread(
            self._remember, user_id, heard.language, "en", text or english, english, engine, model
        )
        return _Outcome(heard, heard_at, "en", text, english, engine, model, False, history_id)

    async def _through_text(
        self,
        user_id: str,
        audio: AudioChunk,
        stt: str,
        spoken_language: str | None,
        request: SpeechRequest,
        stage: StageCallback,
        target: str,
        pair: tuple[str, ...],
        multilingual: bool,
    ) -> _Outcome:
        """Transcribe, then translate the text (through Whisper's English when the text
        engines cannot read the language spoken)."""
        started = time.perf_counter()
        heard = await self._hear(user_id, audio, stt, spoken_language, "transcribe")
        if pair and heard.language not in pair:
            # Neither of the two (Whisper hesitated, often on short or synthetic speech):
            # take the likelier of the two by Whisper's own detection, and hear it again.
            heard = await self._hear(user_id, audio, stt, likelier(heard, pair), "transcribe")
        if pair:
            target = pair[1] if heard.language == pair[0] else pair[0]
        heard_at = time.perf_counter()
        await stage("stt", _heard(heard, heard.text, heard_at - started))
        engines = await self.text.engines()
        direct = heard.language == target or any(
            target in e.directions.get(heard.language, ()) for e in engines
        )
        via_english = any(target in e.directions.get("en", ()) for e in engines)
        source_text, source_language, pivot = heard.text, heard.language, False
        if not direct and via_english and multilingual and request.model is None:
            pivoted = await self._hear(user_id, audio, stt, heard.language, "translate")
            source_text, source_language, pivot = pivoted.text, "en", True
        [result] = await self.text.translate(
            user_id,
            TranslateRequest(
                texts=(source_text,), source=source_language, target=target, model=request.model
            ),
            kind="voice",
        )
        return _Outcome(
            heard,
            heard_at,
            target,
            heard.text,
            result.translated,
            result.engine,
            result.model,
            pivot,
            result.history_id,
        )

    async def _hear(
        self, user_id: str, audio: AudioChunk, stt: str, language: str | None, task: str
    ) -> Transcript:
        options = TranscribeOptions(language=language, task=task)
        transcript = (await self.voice.transcribe_audio(user_id, audio, options, stt)).transcript
        if not transcript.text.strip():
            raise InvalidInput("No speech was heard in the audio", field="audio")
        return transcript

    async def _speak(
        self, user_id: str, voice_id: str, text: str, language: str
    ) -> tuple[AudioChunk, float]:
        options = SynthesisOptions(language=language)
        pieces: list[AudioChunk] = []
        first_at = 0.0
        async with contextlib.aclosing(self.voice.synthesize(voice_id, text, options)) as chunks:
            async for chunk in chunks:
                if not pieces:
                    first_at = time.perf_counter()
                pieces.append(chunk)
        if not pieces:
            raise InvalidInput(
                f"The voice {voice_id} made no sound of the translation", field="voice"
            )
        first = pieces[0]
        audio = AudioChunk(
            b"".join(p.audio for p in pieces), first.rate, first.width, first.channels
        )
        await asyncio.to_thread(
            self.voice.profile.record_usage,
            user_id,
            {UsageMetric.SYNTHESES: 1, UsageMetric.SYNTHESIZED_CHARACTERS: len(text)},
        )
        return audio, first_at

    def _remember(
        self,
        user_id: str,
        source: str,
        target: str,
        text: str,
        translated: str,
        engine: str,
        model: str,
    ) -> str:
        now = self.text.clock()
        entry = HistoryEntry(
            id=new_id(now),
            kind="voice",
            source=source,
            target=target,
            text=text,
            translated=translated,
            engine=engine,
            model=model,
            quality=None,
            created_at=to_ms(now),
        )
        self.text.add_history(user_id, entry)
        self.text.profile.record_usage(
            user_id,
            {UsageMetric.TRANSLATIONS: 1, UsageMetric.TRANSLATED_CHARACTERS: len(text)},
        )
        return entry.id


async def _ignore(stage: str, data: dict[str, Any]) -> None:
    """No one listens to the stages."""


def _heard(transcript: Transcript, text: str | None, seconds: float) -> dict[str, Any]:
    return {
        "text": text,
        "language": transcript.language,
        "language_probability": round(transcript.language_probability, 4),
        "seconds": round(seconds, 3),
    }


def likelier(transcript: Transcript, pair: tuple[str, ...]) -> str:
    """Of two languages, the one Whisper's detection found likelier (the first when it
    ranked neither)."""
    ranked = dict(transcript.language_probabilities)
    return max(pair, key=lambda code: (ranked.get(code, 0.0), code == pair[0]))
