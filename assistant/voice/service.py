"""The voice service: transcription and speech synthesis for the API and the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from assistant.chat.models import ChatRequest, TurnEvent
from assistant.chat.speculation import Speculation
from assistant.errors import InvalidInput, PayloadTooLarge
from assistant.profile import ProfileService, UsageMetric
from assistant.streaming import iterate_in_thread
from assistant.text import control_character
from assistant.voice.announce import Announcer
from assistant.voice.dictation import Dictation, DictationCallback
from assistant.voice.events import (
    ChatProgress,
    PipelineEvent,
    RunEnd,
    RunStart,
    SttEnd,
    TtsAudio,
    TtsStart,
    WakeWordEnd,
    stage_latencies,
)
from assistant.voice.options import AlertOptions, PipelineOptions
from assistant.voice.pipeline import VoicePipeline
from assistant.voice.voices import FALLBACK_VOICE, LanguageVoices, VoiceChoice, choose_voice
from hal.audio import AudioChunk, Speaker
from hal.audio.codecs import DecodeLimits, check_format, decode, stream_encoder
from hal.audio.convert import is_silent
from hal.audio.volume import OutputVolume
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled, UnknownModel
from runtime.events import NO_EVENTS, Emitter
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
    """Which models serve voice when a request names none: the settings' choice, else the
    active profile's (from the manifest); None when neither names one."""

    stt: str | None = None
    """Speech-to-text model."""
    tts: str | None = None
    """Voice."""
    vad: str | None = None
    """Voice activity detector."""
    wake: str | None = None
    """Wake-word model."""
    profile: str | None = None
    """The active models profile the defaults came from (named when it has none)."""
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
        languages: Callable[[str], tuple[str, ...]] = lambda model_id: (),
        *,
        events: Emitter = NO_EVENTS,
    ) -> None:
        self.manager = manager
        self.events = events
        self.catalogue = catalogue
        self.profile = profile
        self.defaults = defaults
        self.languages = languages
        """The languages a model handles (from the manifest), empty when unknown."""

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
            if configured is None:
                raise UnknownModel(
                    f"No {capability.value} model is installed, and the models profile"
                    f" {self.defaults.profile or '(none)'} names none: pick one from"
                    " `assistant models list` and install it",
                    capability=capability.value,
                )
            raise ModelNotInstalled(configured)
        return installed[0]

    def preferred_voice(self, voice_id: str | None) -> str:
        """The user's chosen voice if it is installed, else the default voice."""
        if voice_id:
            installed = {m.id for m in self.catalogue.installed() if m.capability is Capability.TTS}
            if voice_id in installed:
                return voice_id
            log.warning("preferred voice %s is not installed; using the default", voice_id)
        return self.model_for(Capability.TTS)

    def voice_for_language(self, language: str, current: str | None = None) -> VoiceChoice:
        """The installed voice that speaks ``language``: ``current`` when it does, else a
        Piper voice of the language, else the espeak-ng fallback (blocking: reads the
        installed models); ModelNotInstalled names the fallback voice when none does."""
        voices = [m for m in self.catalogue.installed() if m.capability is Capability.TTS]
        choice = choose_voice(language, voices, self.languages, current)
        if choice is None:
            raise ModelNotInstalled(FALLBACK_VOICE)
        return choice

    def language_for(self, stt_model: str, preferred: Sequence[str]) -> str | None:
        """The language to transcribe in: English for English-only models, else the
        user's first language when the model knows it, else detect."""
        model = self.catalogue.require(stt_model)
        languages = self.languages(model.id)
        if languages == ("en",):
            return "en"
        first = preferred[0].split("-")[0] if preferred else None
        return first if first and (not languages or first in languages) else None

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
            decoding = time.perf_counter()
            transcript = await asyncio.to_thread(stt.transcribe, audio, options)
            processing = time.perf_counter() - decoding
        self.events.emit(
            "voice.transcription",
            {
                "model": model_id,
                "language": transcript.language,
                "audio_seconds": round(transcript.duration, 3),
                "processing_ms": round(processing * 1000, 1),
                "rtf": round(processing / transcript.duration, 4) if transcript.duration else None,
            },
            user_id=user_id,
        )
        await asyncio.to_thread(
            self.profile.record_usage,
            user_id,
            {
                UsageMetric.TRANSCRIPTIONS: 1,
                UsageMetric.TRANSCRIBED_SECONDS: round(transcript.duration),
            },
        )
        return Transcription(transcript, model_id, time.perf_counter() - started)

    async def dictate(
        self,
        user_id: str,
        audio: AsyncIterable[AudioChunk],
        options: PipelineOptions,
        on_event: DictationCallback,
    ) -> int:
        """Transcribe a live stream utterance by utterance, as it comes (16 kHz mono).

        The VAD cuts the stream as the voice pipeline would (``options``' listening
        timing; ``options.language``: the language spoken, None: detect); ``on_event``
        gets speech start and end, partial and final transcripts. Returns the number of
        utterances transcribed once the stream has ended.
        """
        vad_id = await asyncio.to_thread(self.model_for, Capability.VAD)
        transcribe_options = TranscribeOptions(language=options.language)

        async def transcribe(utterance: AudioChunk) -> Transcript:
            result = await self.transcribe_audio(user_id, utterance, transcribe_options)
            return result.transcript

        async with self.manager.use(vad_id) as vad:
            await asyncio.to_thread(vad.reset)
            dictation = Dictation(vad, transcribe, on_event, options)
            try:
                async for chunk in audio:
                    await dictation.feed(chunk)
                await dictation.finish()
            finally:
                await dictation.close()
        return dictation.utterances

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
        text = self.speakable(text)
        check_format(audio_format)
        preferences = (await asyncio.to_thread(self.profile.get_preferences, user_id)).preferences
        voice_id = await asyncio.to_thread(
            self.model_for, Capability.TTS, voice or preferences.voice_id
        )
        options = SynthesisOptions(rate=rate or preferences.speaking_rate)
        chunks = self.synthesize(voice_id, text, options)
        started = time.perf_counter()
        try:
            first = await anext(chunks)  # load the voice and make the first sentence now
        except StopAsyncIteration:
            raise InvalidInput(
                f"The voice {voice_id} made no sound of this text: it holds nothing to say",
                field="text",
            ) from None
        first_audio = time.perf_counter() - started
        encoder = stream_encoder(audio_format, first.rate)

        async def encoded() -> AsyncGenerator[bytes, None]:
            audio_seconds = first.seconds
            async with contextlib.aclosing(chunks):
                yield encoder.encode(first)
                async for chunk in chunks:
                    audio_seconds += chunk.seconds
                    yield encoder.encode(chunk)
                yield encoder.finish()
            processing = time.perf_counter() - started
            self.events.emit(
                "voice.synthesis",
                {
                    "model": voice_id,
                    "characters": len(text),
                    "first_audio_ms": round(first_audio * 1000, 1),
                    "audio_seconds": round(audio_seconds, 3),
                    "processing_ms": round(processing * 1000, 1),
                    "rtf": round(processing / audio_seconds, 4) if audio_seconds else None,
                },
                user_id=user_id,
            )
            await asyncio.to_thread(
                self.profile.record_usage,
                user_id,
                {UsageMetric.SYNTHESES: 1, UsageMetric.SYNTHESIZED_CHARACTERS: len(text)},
            )

        return SpeechStream(encoder.content_type, encoder.rate, voice_id, encoded())

    def speakable(self, text: str) -> str:
        """``text`` without the whitespace around it, or InvalidInput (PayloadTooLarge)
        saying why a voice cannot speak it: empty, too long, control characters (a voice
        engine may fail on them, or cut the text there), nothing but punctuation."""
        text = text.strip()
        if not text:
            raise InvalidInput("The text is empty", field="text")
        if len(text) > self.defaults.max_synthesis_chars:
            raise PayloadTooLarge(
                f"The text has {len(text)} characters; the limit is"
                f" {self.defaults.max_synthesis_chars}",
                field="text",
            )
        found = control_character(text, allowed="\t\n\r")
        if found is not None:
            raise InvalidInput(
                f"The text holds a control character (U+{ord(found[1]):04X}); only printable"
                " characters, spaces, tabs and line breaks can be spoken",
                field="text",
            )
        if not any(c.isalnum() for c in text):
            raise InvalidInput(
                "The text has nothing to speak: no letters or digits, only punctuation or symbols",
                field="text",
            )
        return text

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


class VoiceLoops:
    """Builds voice pipelines on the real engines, for a user (``assistant talk``, WS)."""

    def __init__(
        self, voice: VoiceService, chat: ChatTurns, volume: OutputVolume | None = None
    ) -> None:
        self.voice = voice
        self.chat = chat
        self.volume = volume or OutputVolume()
        """The output level of this device's speaker (``assistant talk`` plays at it; the
        control skill changes it)."""

    async def warm_up(self, user_id: str, options: PipelineOptions) -> list[str]:
        """Load the loop's models now, so the first turn does not wait for them."""
        voice = self.voice
        preferences = (await asyncio.to_thread(voice.profile.get_preferences, user_id)).preferences
        wanted = [
            await asyncio.to_thread(voice.model_for, Capability.VAD),
            await asyncio.to_thread(voice.model_for, Capability.STT),
            await asyncio.to_thread(voice.preferred_voice, preferences.voice_id),
        ]
        if not options.push_to_talk:
            wanted.append(await asyncio.to_thread(voice.model_for, Capability.WAKE))
        for model_id in wanted:
            await voice.manager.load(model_id)
        await self.chat.warm(user_id, spoken=True)  # loads the chat model, caches its prompt
        return wanted

    async def announcer(
        self,
        user_id: str,
        speaker: Speaker,
        options: AlertOptions,
        *,
        idle: Callable[[], bool],
    ) -> Announcer:
        """Spoken alerts of ``user_id``'s timers and reminders on ``speaker``, in the
        user's voice at their speaking rate; ``idle`` tells when the loop is quiet
        (``lambda: pipeline.state in QUIET_STATES``)."""
        voice = self.voice
        preferences = (await asyncio.to_thread(voice.profile.get_preferences, user_id)).preferences
        tts = await asyncio.to_thread(voice.preferred_voice, preferences.voice_id)
        manager = voice.manager

        async def alert_voice() -> SynthesisOptions:
            stored = await asyncio.to_thread(voice.profile.get_preferences, user_id)
            return SynthesisOptions(rate=stored.preferences.speaking_rate)

        return Announcer(
            lambda: manager.use(tts),
            speaker,
            options,
            voice=alert_voice,
            user_id=user_id,
            idle=idle,
        )

    async def pipeline(
        self,
        user_id: str,
        speaker: Speaker,
        options: PipelineOptions,
        *,
        conversation_id: str | None = None,
        on_event: Callable[[PipelineEvent], Awaitable[None] | None] | None = None,
    ) -> VoicePipeline:
        """A pipeline with the user's voice preferences, engines borrowed from the manager.

        The user's preferences fill in what ``options`` leave open: the language (unless
        given), the speaking rate of the replies (read again for every reply).
        """
        voice = self.voice
        preferences = (await asyncio.to_thread(voice.profile.get_preferences, user_id)).preferences
        stt = await asyncio.to_thread(voice.model_for, Capability.STT)
        vad = await asyncio.to_thread(voice.model_for, Capability.VAD)
        tts = await asyncio.to_thread(voice.preferred_voice, preferences.voice_id)
        wake = None
        if not options.push_to_talk:
            wake = await asyncio.to_thread(voice.model_for, Capability.WAKE)
        language = options.language or await asyncio.to_thread(
            voice.language_for, stt, preferences.preferred_languages
        )
        options = replace(
            options,
            language=language,
            voice=replace(options.voice, rate=preferences.speaking_rate),
        )
        manager = voice.manager
        counted = _UsageCounter(voice.profile, user_id, on_event, voice.events, stt, wake)
        built: list[VoicePipeline] = []

        def lend(model_id: str) -> Callable[[], AbstractAsyncContextManager[Any]]:
            """The manager's engine, and an ``engine-fallback`` event when a local model
            stands in for a remote one that is down."""

            @contextlib.asynccontextmanager
            async def source() -> AsyncIterator[Any]:
                async with manager.use(model_id) as engine:
                    used = getattr(engine, "model_id", model_id)
                    if used != model_id and built:
                        reason = manager.down_reason(model_id) or "it is down"
                        await built[0].report_fallback(model_id, used, reason)
                    yield engine

            return source

        async def warm(conversation_id: str | None) -> None:
            """The wake word was heard: load what the turn will use, prime the prompt."""
            for model_id in (stt, tts):
                await manager.load(model_id)
            await self.chat.warm(user_id, conversation_id, spoken=True)

        async def reply_voice() -> SynthesisOptions:
            """The user's speaking rate as it is now ("speak slower" changes it mid-loop)."""
            stored = await asyncio.to_thread(voice.profile.get_preferences, user_id)
            return replace(options.voice, rate=stored.preferences.speaking_rate)

        pipeline = VoicePipeline(
            vad=lend(vad),
            stt=lend(stt),
            tts=lend(tts),
            wake=lend(wake) if wake is not None else None,
            chat=functools.partial(self.chat.stream, user_id),
            speculative_chat=lambda request, gate: self.chat.stream(
                user_id, request, speculation=gate
            ),
            warm=warm,
            speaker=speaker,
            on_event=counted,
            options=options,
            conversation_id=conversation_id,
            voice=reply_voice,
            languages=LanguageVoices(
                functools.partial(voice.voice_for_language, current=tts),
                lend,
                lend(tts),
                language=language,
            ),
        )
        built.append(pipeline)
        return pipeline


class ChatTurns(Protocol):
    """What a voice loop needs of the chat service."""

    async def warm(
        self, user_id: str, conversation_id: str | None = None, *, spoken: bool = False
    ) -> int:
        """Load the chat model and evaluate the conversation's prompt so far (and the new
        message's time stamp) into its cache."""
        ...

    def stream(
        self, user_id: str, request: ChatRequest, *, speculation: Speculation | None = None
    ) -> AsyncGenerator[TurnEvent, None]:
        """One turn's events (stored only once ``speculation``, if given, is confirmed)."""
        ...


class _UsageCounter:
    """Counts a loop's transcriptions and spoken replies, then passes events on."""

    def __init__(
        self,
        profile: ProfileService,
        user_id: str,
        forward: Callable[[PipelineEvent], Awaitable[None] | None] | None,
        events: Emitter = NO_EVENTS,
        stt_model: str | None = None,
        wake_model: str | None = None,
    ) -> None:
        self.profile = profile
        self.user_id = user_id
        self.forward = forward
        self.events = events
        self.stt_model = stt_model
        self.wake_model = wake_model
        self.run: list[PipelineEvent] = []
        """The current run's events, for its stage latencies."""

    def _emit(self, event: PipelineEvent) -> None:
        """The analytics events of a run: the wake word, the transcription, the turn."""
        if isinstance(event, RunStart):
            self.run = []
        if not isinstance(event, ChatProgress | TtsAudio):
            self.run.append(event)
        elif not any(isinstance(e, type(event)) for e in self.run):
            self.run.append(event)  # only the first counts for latencies
        if isinstance(event, WakeWordEnd) and event.word is not None:
            self.events.emit(
                "voice.wake",
                {"model": self.wake_model or event.word, "word": event.word, "score": event.score},
                user_id=self.user_id,
            )
        elif isinstance(event, SttEnd):
            latencies = stage_latencies(self.run, event.run_id)
            self.events.emit(
                "voice.transcription",
                {
                    "model": self.stt_model,
                    "language": event.language,
                    "audio_seconds": round(event.audio_seconds, 3),
                    "processing_ms": _ms(latencies.stt_seconds),
                    "rtf": round(latencies.stt_seconds / event.audio_seconds, 4)
                    if latencies.stt_seconds is not None and event.audio_seconds
                    else None,
                    "source": "voice",
                },
                user_id=self.user_id,
            )
        elif isinstance(event, RunEnd):
            latencies = stage_latencies(self.run, event.run_id)
            properties: dict[str, Any] = {"outcome": str(event.outcome)}
            for name, seconds in latencies.to_dict().items():
                properties[name.removesuffix("_seconds") + "_ms"] = _ms(seconds)
            self.events.emit("voice.turn", properties, user_id=self.user_id)
            self.run = []

    async def __call__(self, event: PipelineEvent) -> None:
        self._emit(event)
        counts: dict[UsageMetric, int] = {}
        if isinstance(event, SttEnd):
            counts = {
                UsageMetric.TRANSCRIPTIONS: 1,
                UsageMetric.TRANSCRIBED_SECONDS: round(event.audio_seconds),
            }
        elif isinstance(event, TtsStart):
            counts = {
                UsageMetric.SYNTHESES: 1,
                UsageMetric.SYNTHESIZED_CHARACTERS: len(event.text),
            }
        if counts:
            await asyncio.to_thread(self.profile.record_usage, self.user_id, counts)
        if self.forward is not None:
            result = self.forward(event)
            if inspect.isawaitable(result):
                await result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
