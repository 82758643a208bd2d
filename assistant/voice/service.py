"""The voice service: transcription and speech synthesis for the API and the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from assistant.errors import InvalidInput, ModelNotInstalled, PayloadTooLarge
from assistant.profile import ProfileService, UsageMetric
from assistant.streaming import iterate_in_thread
from hal.audio import AudioChunk
from hal.audio.codecs import DecodeLimits, check_format, decode, stream_encoder
from hal.audio.convert import is_silent
from runtime.engines import Capability
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel
from runtime.stt.base import SpeechToText, TranscribeOptions, Transcript
from runtime.tts.base import SynthesisOptions, TextToSpeech

log = logging.getLogger(__name__)

STT_RATE = 16_000


class InstalledVoices(Protocol):
    """What the voice service needs of the model store."""

    def installed(self) -> list[InstalledModel]:
        """Every installed model."""
        ...

    def require(self, model_id: str) -> InstalledModel:
        """An installed model, or ModelNotInstalled naming the command that installs it."""
        ...


@dataclass(frozen=True)
class VoiceDefaults:
    """Which models serve voice when a request names none (from settings and profile)."""

    stt: str | None = None
    """Speech-to-text model."""
    tts: str | None = None
    """Voice."""
    vad: str | None = None
    """Voice activity detector."""
    wake: str | None = None
    """Wake-word model."""
    max_upload_seconds: float = 600.0
    """Longest audio accepted for transcription."""
    max_synthesis_chars: int = 5000
    """Longest text accepted for synthesis."""


@dataclass(frozen=True)
class Transcription:
    """A transcript with what produced it."""

    transcript: Transcript
    """Text, language, segments, duration."""
    model: str
    """The speech-to-text model used."""
    processing_seconds: float
    """Time spent (waiting for the model included)."""


@dataclass(frozen=True)
class SpeechStream:
    """Encoded audio as it is synthesised."""

    content_type: str
    """Media type of the bytes."""
    rate: int
    """Sample rate of the audio."""
    voice: str
    """The voice model used."""
    chunks: AsyncGenerator[bytes, None]
    """The encoded bytes, first sentence first."""


class VoiceService:
    """Transcribe uploads and synthesise speech, through the model manager."""

    def __init__(
        self,
        manager: ModelManager,
        catalogue: InstalledVoices,
        profile: ProfileService,
        defaults: VoiceDefaults,
    ) -> None:
        self.manager = manager
        self.catalogue = catalogue
        self.profile = profile
        self.defaults = defaults

    # Choosing models --------------------------------------------------------------

    def model_for(self, capability: Capability, requested: str | None = None) -> str:
        """The model serving ``capability``: requested, configured, or the first installed."""
        models = self.catalogue.installed()
        installed = [m.id for m in models if m.capability is capability]
        configured = {
            Capability.STT: self.defaults.stt,
            Capability.TTS: self.defaults.tts,
            Capability.VAD: self.defaults.vad,
            Capability.WAKE: self.defaults.wake,
        }.get(capability)
        for candidate in (requested, configured):
            if candidate:
                if candidate not in installed:
                    other = self.catalogue.require(candidate)  # raises when not installed
                    raise InvalidInput(
                        f"{candidate} is a {other.capability.value} model, not {capability.value}",
                        field="model",
                    )
                return candidate
        if not installed:
            fallback = configured or {
                Capability.STT: "whisper:tiny.en",
                Capability.TTS: "piper:en_US-joe-medium",
                Capability.VAD: "silero-vad:v6",
                Capability.WAKE: "openwakeword:hey-jarvis",
            }.get(capability, "?")
            raise ModelNotInstalled(fallback)
        return installed[0]

    # Transcription ----------------------------------------------------------------

    def decode_upload(self, data: bytes) -> AudioChunk:
        """Any common audio file as 16 kHz mono; refuses silent audio."""
        audio = decode(
            data, rate=STT_RATE, limits=DecodeLimits(max_seconds=self.defaults.max_upload_seconds)
        )
        if is_silent(audio):
            raise InvalidInput("The audio is silent: there is nothing to transcribe", field="audio")
        return audio

    async def transcribe(
        self,
        user_id: str,
        data: bytes,
        options: TranscribeOptions,
        model: str | None = None,
    ) -> Transcription:
        """Decode an upload and transcribe it."""
        started = time.perf_counter()
        model_id = await asyncio.to_thread(self.model_for, Capability.STT, model)
        audio = await asyncio.to_thread(self.decode_upload, data)
        return await self.transcribe_audio(user_id, audio, options, model_id, started=started)

    async def transcribe_audio(
        self,
        user_id: str,
        audio: AudioChunk,
        options: TranscribeOptions,
        model: str | None = None,
        *,
        started: float | None = None,
    ) -> Transcription:
        """Transcribe 16 kHz mono audio already in memory (the pipeline's path)."""
        started = time.perf_counter() if started is None else started
        model_id = await asyncio.to_thread(self.model_for, Capability.STT, model)
        async with self.manager.use(model_id) as engine:
            stt: SpeechToText = engine
            transcript = await asyncio.to_thread(stt.transcribe, audio, options)
        await asyncio.to_thread(
            self.profile.record_usage,
            user_id,
            {
                UsageMetric.TRANSCRIPTIONS: 1,
                UsageMetric.TRANSCRIBED_SECONDS: round(transcript.duration),
            },
        )
        return Transcription(transcript, model_id, time.perf_counter() - started)

    # Synthesis --------------------------------------------------------------------

    async def speech(
        self,
        user_id: str,
        text: str,
        *,
        voice: str | None = None,
        rate: float | None = None,
        audio_format: str = "wav",
    ) -> SpeechStream:
        """Start synthesising; the audio streams sentence by sentence as it is made.

        Errors a caller can fix (empty text, unknown voice or format, missing model)
        are raised here, before any audio is sent.
        """
        text = text.strip()
        if not text:
            raise InvalidInput("The text is empty", field="text")
        if len(text) > self.defaults.max_synthesis_chars:
            raise PayloadTooLarge(
                f"The text has {len(text)} characters; the limit is"
                f" {self.defaults.max_synthesis_chars}",
                field="text",
            )
        check_format(audio_format)
        preferences = (await asyncio.to_thread(self.profile.get_preferences, user_id)).preferences
        voice_id = await asyncio.to_thread(
            self.model_for, Capability.TTS, voice or preferences.voice_id
        )
        options = SynthesisOptions(rate=rate or preferences.speaking_rate)
        chunks = self.synthesize(voice_id, text, options)
        first = await anext(chunks)  # load the voice and make the first sentence now
        encoder = stream_encoder(audio_format, first.rate)

        async def encoded() -> AsyncGenerator[bytes, None]:
            async with contextlib.aclosing(chunks):
                yield encoder.encode(first)
                async for chunk in chunks:
                    yield encoder.encode(chunk)
                yield encoder.finish()
            await asyncio.to_thread(
                self.profile.record_usage,
                user_id,
                {UsageMetric.SYNTHESES: 1, UsageMetric.SYNTHESIZED_CHARACTERS: len(text)},
            )

        return SpeechStream(encoder.content_type, encoder.rate, voice_id, encoded())

    async def synthesize(
        self, voice_id: str, text: str, options: SynthesisOptions
    ) -> AsyncGenerator[AudioChunk, None]:
        """PCM chunks, one per sentence, each as soon as it is made."""
        async with self.manager.use(voice_id) as engine:
            tts: TextToSpeech = engine
            async with contextlib.aclosing(
                iterate_in_thread(lambda cancel: tts.synthesize(text, options), stop_on_cancel=True)
            ) as chunks:
                async for chunk in chunks:
                    yield chunk
