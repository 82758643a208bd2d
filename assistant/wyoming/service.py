"""The Wyoming service: what Home Assistant's voice stack asks of this assistant.

Speech to text, text to speech, wake words and the conversation agent over the same
voice and chat services (and model manager) as the HTTP API. The TCP face
(``server/wyoming``) only translates events into these calls. Wyoming has no sign-in:
everything runs as one configured account (``wyoming.user``, default the first admin),
with that account's memory, voice and language preferences.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.auth import AuthService
from assistant.auth.models import Role
from assistant.chat.models import ChatRequest, TurnDelta, TurnDone, TurnStarted
from assistant.chat.service import ChatService
from assistant.clock import Clock, system_clock, to_ms
from assistant.errors import InvalidInput, NotFound
from assistant.profile import UsageMetric
from assistant.profile.models import Preferences
from assistant.store import Database
from assistant.threads import off_loop
from assistant.voice.service import VoiceService
from assistant.wyoming import store
from assistant.wyoming.transcription import StreamedTranscript, TextCallback, TranscriptionSession
from hal.audio import AudioChunk
from hal.audio.convert import ChunkConverter
from runtime.engines import Capability, is_remote
from runtime.events import NO_EVENTS, Emitter
from runtime.llm.base import GenerationOptions
from runtime.manifest import Manifest
from runtime.modelstore import InstalledModel
from runtime.stt.base import SpeechToText, TranscribeOptions, Transcript
from runtime.tts.base import SynthesisOptions
from runtime.wake.base import WakeDetection, WakeWordDetector
from runtime.wake.openwakeword import normalize_word, word_from_filename

log = logging.getLogger(__name__)

WAKE_RATE = 16_000
"""The rate wake-word models take."""


@dataclass(frozen=True)
class WyomingOptions:
    """How the Wyoming service behaves (from ``[wyoming]`` and ``[voice]`` settings)."""

    user: str | None = None
    """Username it acts for; None: the first admin."""
    pause_seconds: float = 0.5
    """A pause that has the speech before it transcribed while more audio arrives."""
    max_audio_seconds: float = 300.0
    """Longest audio stream transcribed."""
    reply_max_tokens: int = 256
    """Longest spoken reply of the conversation agent."""


@dataclass(frozen=True)
class Offered:
    """A model offered to Wyoming clients."""

    name: str
    """What clients call it (a model id; a wake word for wake models)."""
    model_id: str
    """The model behind it."""
    description: str
    """One line for people."""
    languages: tuple[str, ...]
    """Languages it serves."""
    license: str
    """Its licence (the attribution)."""
    url: str
    """Where it comes from."""
    speakers: tuple[str, ...] = ()
    """Named speakers of a multi-speaker voice."""
    phrase: str | None = None
    """What to say (wake words)."""


@dataclass(frozen=True)
class Offer:
    """Everything this device serves over Wyoming."""

    stt: tuple[Offered, ...]
    tts: tuple[Offered, ...]
    wake: tuple[Offered, ...]
    chat: tuple[Offered, ...]


@dataclass(frozen=True)
class WyomingRequest:
    """One served Wyoming request, for the logs and analytics."""

    kind: str
    """transcribe, synthesize, synthesize-stream, detect or handle."""
    model: str | None
    """The model that served it."""
    seconds: float
    """From the request to its answer."""
    audio_seconds: float = 0.0
    """Audio received (transcribe, detect) or produced (synthesize)."""
    first_audio_seconds: float | None = None
    """From the request to the first audio sent (synthesis)."""
    outcome: str = "ok"
    """ok, or the problem code it ended with."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else worth knowing (passes, detections)."""


"""Receives every served request (the analytics emitter, when there is one)."""


@dataclass(frozen=True)
class Handled:
    """The end of a handled conversation turn."""

    text: str
    """The whole reply."""
    conversation_id: str
    """The client's conversation id (what it sent, or a new one)."""
    model: str
    """The chat model that answered."""


class WakeListener:
    """One stream of ``detect``: converts audio and runs its own detector state per model,
    borrowing the loaded model chunk by chunk, so any number of streams listen at once."""

    def __init__(self, voice: VoiceService, words: dict[str, str]) -> None:
        self.voice = voice
        self.words = words
        """Requested wake word -> model id."""
        self._converter = ChunkConverter(WAKE_RATE)
        self._forks: dict[str, tuple[object, WakeWordDetector]] = {}
        self.detections = 0

    async def process(self, chunk: AudioChunk) -> list[tuple[str, WakeDetection]]:
        """Feed a chunk; the (advertised name, detection) pairs it completed."""
        audio = self._converter.convert(chunk)
        if not audio.audio:
            return []
        found = []
        for model_id in dict.fromkeys(self.words.values()):
            async with self.voice.manager.use(model_id) as engine:
                detector = self._fork(model_id, engine)
                detection = await off_loop(detector.process, audio)
            if detection is None:
                continue
            word = normalize_word(detection.word)
            if word in self.words or detection.word in self.words:
                self.detections += 1
                found.append((word if word in self.words else detection.word, detection))
        return found

    def _fork(self, model_id: str, engine: WakeWordDetector) -> WakeWordDetector:
        parent, fork = self._forks.get(model_id, (None, None))
        if parent is not engine or fork is None:  # first chunk, or the model was reloaded
            fork = engine.fork()
            self._forks[model_id] = (engine, fork)
        return fork

    def close(self) -> None:
        """Forget the stream's detectors (remote ones end their stream)."""
        for _, fork in self._forks.values():
            with contextlib.suppress(Exception):
                fork.reset()
        self._forks.clear()


class WyomingService:
    """Speech, voices, wake words and the conversation agent for Wyoming clients."""

    def __init__(
        self,
        db: Database,
        auth: AuthService,
        voice: VoiceService,
        chat: ChatService,
        options: WyomingOptions | None = None,
        *,
        manifest: Manifest | None = None,
        clock: Clock = system_clock,
        events: Emitter = NO_EVENTS,
    ) -> None:
        self.manifest = manifest
        self.db = db
        self.auth = auth
        self.voice = voice
        self.chat = chat
        self.options = options or WyomingOptions()
        self.clock = clock
        self.events = events
        """Told of every served request (``wyoming.request``)."""

    # What is offered ---------------------------------------------------------------

    def offer(self) -> Offer:
        """Every installed model this device serves, defaults first (blocking: reads the
        model store)."""
        installed = self.voice.catalogue.installed()
        by_kind: dict[Capability, list[InstalledModel]] = {}
        for model in installed:
            by_kind.setdefault(model.capability, []).append(model)
        user_voice, user_wake = self._preferred_voice_and_wake()

        def first(capability: Capability, preferred: str | None = None) -> list[InstalledModel]:
            models = by_kind.get(capability, [])
            defaults = [preferred, self._default(capability)]
            return sorted(
                models,
                key=lambda m: (
                    m.id not in defaults,
                    defaults.index(m.id) if m.id in defaults else 0,
                ),
            )

        # One entry per wake word: the first model that has it (the default first).
        unique = {w.name: w for m in reversed(first(Capability.WAKE)) for w in self._wake_words(m)}
        wake = list(reversed(unique.values()))
        wake.sort(key=lambda w: normalize_word(w.name) != normalize_word(user_wake or ""))
        chat_models = [
            m for m in first(Capability.LLM, self.chat.default_model) if "base" not in self._tags(m)
        ]
        return Offer(
            stt=tuple(self._offered(m) for m in first(Capability.STT)),
            tts=tuple(self._voice(m) for m in first(Capability.TTS, user_voice)),
            wake=tuple(wake),
            chat=tuple(self._offered(m) for m in chat_models[:1]),
        )

    def account(self) -> str:
        """The id of the account Wyoming requests act for (blocking): ``wyoming.user``, else
        the first admin; NotFound when there is none (the conversation agent needs one)."""
        user_id = self._account()
        if user_id is None:
            raise NotFound(
                "No account to act for: create one (`assistant users add NAME --role admin`)"
                " or set wyoming.user",
                field="wyoming.user",
            )
        return user_id

    def preferences(self) -> Preferences:
        """The account's preferences; the defaults when there is no account yet (speech
        needs none)."""
        user_id = self._account()
        if user_id is None:
            return Preferences()
        return self.voice.profile.get_preferences(user_id).preferences

    def _account(self) -> str | None:
        name = self.options.user
        if name is not None:
            user = self.auth.find_user(name)
        else:
            admins = [u for u in self.auth.list_users() if u.role is Role.ADMIN and not u.disabled]
            if not admins:
                return None
            user = admins[0]
        if user.disabled:
            raise InvalidInput(f"The account {user.username} is disabled", field="wyoming.user")
        return user.id

    # Speech to text ----------------------------------------------------------------

    async def transcription(
        self, name: str | None, language: str | None, on_text: TextCallback | None = None
    ) -> tuple[TranscriptionSession, str, TranscribeOptions]:
        """A session for one stream: the model for ``name`` and the language to use."""
        voice = self.voice
        model_id, options = await off_loop(self._transcription_plan, name, language)

        async def decode(audio: AudioChunk) -> Transcript:
            async with voice.manager.use(model_id) as engine:
                stt: SpeechToText = engine
                return await off_loop(stt.transcribe, audio, options)

        session = TranscriptionSession(
            decode,
            pause_seconds=self.options.pause_seconds,
            max_seconds=self.options.max_audio_seconds,
            on_text=on_text,
        )
        return session, model_id, options

    def _transcription_plan(
        self, name: str | None, language: str | None
    ) -> tuple[str, TranscribeOptions]:
        """The model and options of a transcription (blocking: one trip off the loop)."""
        model_id = self.voice.model_for(Capability.STT, name or None)
        wanted = [language] if language else list(self.preferences().preferred_languages)
        spoken = self.voice.language_for(model_id, [_primary(w) for w in wanted])
        return model_id, TranscribeOptions(language=spoken)

    async def transcribed(self, result: StreamedTranscript) -> None:
        """Count a finished transcription in the account's usage."""
        user_id = await off_loop(self._account)
        if user_id is None:
            return
        await off_loop(
            self.voice.profile.record_usage,
            user_id,
            {
                UsageMetric.TRANSCRIPTIONS: 1,
                UsageMetric.TRANSCRIBED_SECONDS: round(result.audio_seconds),
            },
        )

    # Text to speech ----------------------------------------------------------------

    async def voice_for(
        self, name: str | None, speaker: str | None, language: str | None
    ) -> tuple[str, SynthesisOptions]:
        """The voice and options for a request: named, else one speaking ``language``,
        else the account's preferred voice and speaking rate; the language asked for is
        passed on (the espeak-ng voice speaks ~100)."""
        return await off_loop(self._voice_plan, name, speaker, language)

    def _voice_plan(
        self, name: str | None, speaker: str | None, language: str | None
    ) -> tuple[str, SynthesisOptions]:
        voice = self.voice
        preferences = self.preferences()
        voice_id: str | None = None
        if name:
            voice_id = voice.model_for(Capability.TTS, name)
        elif language:
            wanted = _primary(language)
            speaking = [v for v in self.offer().tts if wanted in {_primary(x) for x in v.languages}]
            if not speaking:
                raise InvalidInput(
                    f"No installed voice speaks {language!r}", field="voice.language"
                )
            voice_id = speaking[0].model_id
        if voice_id is None:
            voice_id = voice.preferred_voice(preferences.voice_id)
        speaker_id = self._speaker_id(voice_id, speaker) if speaker else None
        # A voice of many languages (espeak-ng) speaks the one asked for; others ignore it.
        return voice_id, SynthesisOptions(
            speaker_id=speaker_id,
            rate=preferences.speaking_rate,
            language=_primary(language) if language else None,
        )

    async def synthesize(
        self, voice_id: str, text: str, options: SynthesisOptions
    ) -> AsyncGenerator[AudioChunk, None]:
        """The voice's audio of ``text`` (checked first), sentence by sentence."""
        text = self.voice.speakable(text)
        async with contextlib.aclosing(self.voice.synthesize(voice_id, text, options)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def synthesized(self, characters: int) -> None:
        """Count a finished synthesis in the account's usage."""
        user_id = await off_loop(self._account)
        if user_id is None:
            return
        await off_loop(
            self.voice.profile.record_usage,
            user_id,
            {UsageMetric.SYNTHESES: 1, UsageMetric.SYNTHESIZED_CHARACTERS: characters},
        )

    # Wake words --------------------------------------------------------------------

    async def wake_listener(self, names: Sequence[str] | None) -> WakeListener:
        """A listener for the wake words ``names`` (advertised names); None: the first."""
        offer = await off_loop(self.offer)
        known = {w.name: w.model_id for w in offer.wake}
        if not known:
            await off_loop(self.voice.model_for, Capability.WAKE)  # raises the install hint
        if not names:
            first = offer.wake[0]
            return WakeListener(self.voice, {first.name: first.model_id})
        words: dict[str, str] = {}
        for name in names:
            model_id = known.get(name) or known.get(normalize_word(name))
            if model_id is None:
                raise InvalidInput(
                    f"No wake word {name!r}; this device has: {', '.join(known)}",
                    field="names",
                )
            words[name if name in known else normalize_word(name)] = model_id
        return WakeListener(self.voice, words)

    # Conversation ------------------------------------------------------------------

    async def handle(
        self, text: str, conversation_id: str | None, language: str | None = None
    ) -> AsyncGenerator[str | Handled, None]:
        """The chat assistant's reply to ``text``: its pieces as written, then ``Handled``.

        ``conversation_id`` is the client's: each one keeps its own conversation (and
        memory) in the account's history; None starts a fresh one.
        """
        user_id = await off_loop(self.account)
        external = conversation_id or None
        ours = await off_loop(self._conversation_for, user_id, external) if external else None
        request = ChatRequest(
            text=text,
            conversation_id=ours,
            source="voice",
            options=GenerationOptions(max_tokens=self.options.reply_max_tokens),
        )
        model = ""
        async with contextlib.aclosing(self.chat.stream(user_id, request)) as events:
            async for event in events:
                if isinstance(event, TurnStarted):
                    model = event.model
                    if external and event.conversation_id != ours:
                        await off_loop(self._remember, user_id, external, event.conversation_id)
                    external = external or event.conversation_id
                elif isinstance(event, TurnDelta):
                    yield event.text
                elif isinstance(event, TurnDone):
                    yield Handled(event.text.strip(), external or event.conversation_id, model)

    # Requests ----------------------------------------------------------------------

    def served(self, request: WyomingRequest) -> None:
        """Log a served request and emit it as a ``wyoming.request`` analytics event."""
        log.info(
            "wyoming %s model=%s %.0f ms%s%s %s",
            request.kind,
            request.model,
            request.seconds * 1000,
            f" audio={request.audio_seconds:.2f}s" if request.audio_seconds else "",
            ""
            if request.first_audio_seconds is None
            else f" first_audio={request.first_audio_seconds * 1000:.0f}ms",
            request.outcome,
        )
        self.events.emit(
            "wyoming.request",
            {
                "kind": request.kind,
                "model": request.model,
                "total_ms": round(request.seconds * 1000, 1),
                "audio_seconds": round(request.audio_seconds, 3),
                "first_audio_ms": None
                if request.first_audio_seconds is None
                else round(request.first_audio_seconds * 1000, 1),
                "code": request.outcome,
            },
        )

    # Internals ---------------------------------------------------------------------

    def _conversation_for(self, user_id: str, external: str) -> str | None:
        with self.db.read() as conn:
            return store.conversation_for(conn, user_id, external)

    def _remember(self, user_id: str, external: str, conversation_id: str) -> None:
        with self.db.write() as conn:
            store.remember_conversation(
                conn, user_id, external, conversation_id, to_ms(self.clock())
            )

    def _default(self, capability: Capability) -> str | None:
        defaults = self.voice.defaults
        return {
            Capability.STT: defaults.stt,
            Capability.TTS: defaults.tts,
            Capability.WAKE: defaults.wake,
            Capability.LLM: self.chat.default_model,
        }.get(capability)

    def _preferred_voice_and_wake(self) -> tuple[str | None, str | None]:
        try:
            preferences = self.preferences()
        except (NotFound, InvalidInput):
            return None, None
        return preferences.voice_id, preferences.wake_word

    def _tags(self, model: InstalledModel) -> tuple[str, ...]:
        return self.chat.tags(model.id)

    def _entry_facts(self, model: InstalledModel) -> tuple[tuple[str, ...], str, str]:
        entry = self.manifest.models.get(model.id) if self.manifest is not None else None
        if entry is None:
            return self.voice.languages(model.id), "", ""
        sources = [s for f in entry.files for s in f.sources]
        urls = [s.url for s in sources if s.url] or [s.describe() for s in sources]
        return entry.languages, entry.license, urls[0] if urls else ""

    def _offered(self, model: InstalledModel) -> Offered:
        languages, licence, url = self._entry_facts(model)
        remote = is_remote(model.engine)
        return Offered(
            name=model.id,
            model_id=model.id,
            description=model.description,
            languages=languages or (("en",) if not remote else ()),
            license=licence or ("remote" if remote else "unknown"),
            url=url or str(model.params.get("url", "")),
        )

    def _voice(self, model: InstalledModel) -> Offered:
        offered = self._offered(model)
        config = _voice_config(model)
        code = str((config.get("language") or {}).get("code") or "")
        languages = tuple(dict.fromkeys([*offered.languages, *([code] if code else [])]))
        speakers = (
            tuple(config.get("speaker_id_map") or {}) if config.get("num_speakers", 1) > 1 else ()
        )
        return Offered(**{**offered.__dict__, "languages": languages, "speakers": speakers})

    def _wake_words(self, model: InstalledModel) -> list[Offered]:
        offered = self._offered(model)
        if is_remote(model.engine):
            word = model.params.get("model")
            words = [str(word)] if word else []
        else:
            chosen = [normalize_word(w) for w in model.params.get("words") or []]
            files = sorted(model.path.glob("*.onnx")) if model.path.is_dir() else []
            found = [w for f in files if (w := word_from_filename(f.name)) is not None]
            words = [w for w in found if not chosen or w in chosen]
        return [
            Offered(**{**offered.__dict__, "name": word, "phrase": word.replace("_", " ")})
            for word in words
        ]

    def _speaker_id(self, voice_id: str, speaker: str) -> int:
        model = self.voice.catalogue.require(voice_id)
        speakers = _voice_config(model).get("speaker_id_map") or {}
        if speaker in speakers:
            return int(speakers[speaker])
        if speaker.isdigit():
            return int(speaker)
        raise InvalidInput(
            f"The voice {voice_id} has no speaker {speaker!r}"
            + (f"; it has: {', '.join(speakers)}" if speakers else ""),
            field="voice.speaker",
        )


def _primary(language: str) -> str:
    """``en-US`` and ``en_US`` -> ``en``."""
    return language.replace("_", "-").split("-")[0].lower()


def _voice_config(model: InstalledModel) -> dict[str, Any]:
    """A Piper voice's ``.onnx.json`` (language, speakers), or nothing."""
    if not model.path.is_dir():
        return {}
    for path in model.path.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def elapsed(started: float) -> float:
    """Seconds since ``started`` (``time.perf_counter``)."""
    return time.perf_counter() - started


__all__ = [
    "Handled",
    "Offer",
    "Offered",
    "WakeListener",
    "WyomingOptions",
    "WyomingRequest",
    "WyomingService",
    "elapsed",
]
