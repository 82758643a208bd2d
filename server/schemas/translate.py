"""Bodies of ``/api/v1/translate``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.clock import iso
from assistant.translate.models import (
    ENGINE_NOTES,
    CacheStats,
    EngineChoice,
    Glossary,
    LanguageInfo,
    TranslateRequest,
    TranslationResult,
)
from assistant.translate.store import HistoryEntry, StoredGlossary
from runtime.mt.detect import LanguageGuess
from runtime.mt.languages import LANGUAGE_NAMES

LANGUAGE_PATTERN = r"^([A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*|[a-z]{3}_[A-Z][a-z]{3})$"
"""ISO 639-1 (``de``), a BCP 47 tag (``pt-BR``) or a FLORES-200 code (``deu_Latn``)."""
Language = Annotated[str, Field(min_length=2, max_length=20, pattern=LANGUAGE_PATTERN)]
SourceLanguage = Annotated[
    str, Field(min_length=2, max_length=20, pattern=r"^(auto|" + LANGUAGE_PATTERN[1:-1] + ")$")
]
Term = Annotated[str, Field(min_length=1, max_length=200)]
MAX_TEXT_CHARS = 100_000
"""Longest text the body may carry (the service's own limit, ``translate.max_chars``, is
usually lower and answers 413 naming the field)."""


class GlossaryIn(BaseModel):
    """Terms with fixed translations, and terms never translated."""

    model_config = ConfigDict(extra="forbid", strict=True)

    terms: Annotated[dict[Term, Term], Field(max_length=500)] = {}
    """Source term -> the translation to use (matched case-insensitively, whole words)."""
    keep: Annotated[list[Term], Field(max_length=500)] = []
    """Terms copied as they are (names, brands)."""

    def to_glossary(self) -> Glossary:
        """The domain glossary."""
        return Glossary(dict(self.terms), tuple(self.keep))


class TranslateIn(BaseModel):
    """Text to translate: ``text`` or ``texts``, not both."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)] | None = None
    """One text."""
    texts: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]],
            Field(min_length=1, max_length=128),
        ]
        | None
    ) = None
    """Several texts, translated in order."""
    source: SourceLanguage = "auto"
    """Language of the text (ISO 639-1), or ``auto`` to detect it."""
    target: Language
    """Language to translate into (ISO 639-1)."""
    model: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Model to translate with; default: the best installed for the pair."""
    context: Annotated[str, Field(max_length=10_000)] | None = None
    """Earlier sentences the text continues (keeps pronouns and terms consistent)."""
    conversation_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """A chat conversation of yours whose last messages serve as context."""
    glossary: GlossaryIn | None = None
    """Terms for this request, over your stored glossary."""
    use_stored_glossary: bool = True
    """Apply your stored glossary (``PUT /api/v1/translate/glossary``)."""
    format: Literal["text", "html"] = "text"
    """``html``: only text nodes are translated; tags and attributes stay as they are."""
    quality: Literal["none", "score", "roundtrip"] = "none"
    """``score``: the engine's calibrated confidence; ``roundtrip``: chrF of a
    back-translation (twice the work)."""

    @model_validator(mode="after")
    def _one_input(self) -> TranslateIn:
        if (self.text is None) == (self.texts is None):
            raise ValueError("send either text or texts")
        return self

    def to_request(self) -> TranslateRequest:
        """The domain request."""
        return TranslateRequest(
            texts=(self.text,) if self.text is not None else tuple(self.texts or ()),
            source=self.source,
            target=self.target,
            model=self.model,
            context=self.context,
            conversation_id=self.conversation_id,
            glossary=self.glossary.to_glossary() if self.glossary else None,
            use_stored_glossary=self.use_stored_glossary,
            format=self.format,
            quality=self.quality,
        )


class DetectIn(BaseModel):
    """Text whose language to detect."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]
    top_k: Annotated[int, Field(ge=1, le=20)] = 3
    """How many candidates to return."""


class GlossaryPutIn(GlossaryIn):
    """Your default glossary."""

    targets: Annotated[list[Language], Field(max_length=50)] = []
    """Target languages it applies to; empty: every target."""


# Answers --------------------------------------------------------------------------------


class DetectedOut(msgspec.Struct, kw_only=True):
    """A language guess."""

    language: str
    """ISO 639-1."""
    name: str
    confidence: float
    """0..1."""

    @classmethod
    def of(cls, guess: LanguageGuess) -> DetectedOut:
        return cls(
            language=guess.language,
            name=LANGUAGE_NAMES.get(guess.language, guess.language),
            confidence=round(guess.confidence, 4),
        )


class QualityOut(msgspec.Struct, kw_only=True):
    """A quality estimate."""

    score: float
    """0..1."""
    method: str
    """``score`` (calibrated model confidence) or ``roundtrip`` (chrF of a back-translation)."""


class TermOut(msgspec.Struct, kw_only=True):
    """A glossary term and whether it was honoured."""

    term: str
    translation: str
    found: bool
    """The source holds the term."""
    honoured: bool
    """Every occurrence came out as ``translation``."""


class TranslateTimingsOut(msgspec.Struct, kw_only=True):
    """Milliseconds per stage."""

    detect_ms: float
    translate_ms: float
    quality_ms: float
    total_ms: float


class TranslationOut(msgspec.Struct, kw_only=True):
    """One text translated."""

    translated_text: str
    source: str
    """ISO 639-1 of the source (given or detected)."""
    target: str
    detected_language: DetectedOut | None
    """Set when the source was ``auto``."""
    quality: QualityOut | None
    """Set when asked for (and the engine reports a score)."""
    engine: str
    """``ctranslate2`` (a translation model), ``llm`` (the chat model) or ``none``."""
    engine_note: str
    """What quality to expect of the engine."""
    model: str
    cached: bool
    """Answered from the cache, without running the engine."""
    sentences: int
    """Sentences the engine translated."""
    glossary: list[TermOut]
    timings: TranslateTimingsOut
    history_id: str | None

    @classmethod
    def of(cls, result: TranslationResult) -> TranslationOut:
        timings = result.timings
        return cls(
            translated_text=result.translated,
            source=result.source,
            target=result.target,
            detected_language=DetectedOut.of(result.detected) if result.detected else None,
            quality=QualityOut(score=result.quality, method=result.quality_method)
            if result.quality is not None and result.quality_method
            else None,
            engine=result.engine,
            engine_note=ENGINE_NOTES.get(result.engine, ""),
            model=result.model,
            cached=result.cached,
            sentences=result.sentences,
            glossary=[
                TermOut(term=t.term, translation=t.translation, found=t.found, honoured=t.honoured)
                for t in result.terms
            ],
            timings=TranslateTimingsOut(
                detect_ms=round(timings.detect * 1000, 2),
                translate_ms=round(timings.translate * 1000, 2),
                quality_ms=round(timings.quality * 1000, 2),
                total_ms=round(timings.total * 1000, 2),
            ),
            history_id=result.history_id,
        )


class TranslateOut(msgspec.Struct, kw_only=True):
    """One translation per text, in order."""

    translations: list[TranslationOut]


class DetectOut(msgspec.Struct, kw_only=True):
    """The likeliest languages, likeliest first."""

    languages: list[DetectedOut]


class LanguageOut(msgspec.Struct, kw_only=True):
    """A language the installed engines translate."""

    code: str
    """ISO 639-1."""
    flores: str | None
    """FLORES-200 code (NLLB-200's)."""
    name: str
    targets: list[str]
    """Languages it translates into."""
    speech_input: bool
    """An installed speech-to-text model understands it."""
    voice: str | None
    """The voice that speaks it, if any."""
    voice_fallback: bool
    """The voice is espeak-ng's (robotic, intelligible), not a natural Piper voice."""

    @classmethod
    def of(cls, info: LanguageInfo) -> LanguageOut:
        return cls(
            code=info.code,
            flores=info.flores,
            name=info.name,
            targets=list(info.targets),
            speech_input=info.speech_input,
            voice=info.voice,
            voice_fallback=info.voice_fallback,
        )


class EngineOut(msgspec.Struct, kw_only=True):
    """An installed translation engine, best first."""

    engine: str
    model: str
    note: str
    """What quality to expect."""
    languages: int
    """Languages it reads."""

    @classmethod
    def of(cls, choice: EngineChoice) -> EngineOut:
        return cls(
            engine=choice.engine,
            model=choice.model,
            note=ENGINE_NOTES.get(choice.engine, ""),
            languages=len(choice.directions),
        )


class LanguagesOut(msgspec.Struct, kw_only=True):
    """What the device translates."""

    languages: list[LanguageOut]
    engines: list[EngineOut]


class HistoryEntryOut(msgspec.Struct, kw_only=True):
    """A translation you made."""

    id: str
    kind: str
    """``text`` or ``voice``."""
    source: str
    target: str
    text: str
    translated_text: str
    engine: str
    model: str
    quality: float | None
    created_at: str
    """ISO 8601."""

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryEntryOut:
        return cls(
            id=entry.id,
            kind=entry.kind,
            source=entry.source,
            target=entry.target,
            text=entry.text,
            translated_text=entry.translated,
            engine=entry.engine,
            model=entry.model,
            quality=entry.quality,
            created_at=iso(entry.created_at) or "",
        )


class TranslateHistoryOut(msgspec.Struct, kw_only=True):
    """A page of history, newest first."""

    entries: list[HistoryEntryOut]
    next_before: str | None
    """Pass as ``before`` for the next (older) page; null on the last page."""


class DeletedOut(msgspec.Struct, kw_only=True):
    """How many were deleted."""

    deleted: int


class CacheStatsOut(msgspec.Struct, kw_only=True):
    """The translation cache (shared by every user)."""

    entries: int
    bytes: int
    max_bytes: int
    hits: int
    """Lookups answered from the cache since the server started."""
    misses: int
    """Lookups that ran an engine since the server started."""

    @classmethod
    def of(cls, stats: CacheStats) -> CacheStatsOut:
        return cls(
            entries=stats.entries,
            bytes=stats.bytes,
            max_bytes=stats.max_bytes,
            hits=stats.hits,
            misses=stats.misses,
        )


class GlossaryOut(msgspec.Struct, kw_only=True):
    """Your stored glossary."""

    terms: dict[str, str]
    keep: list[str]
    targets: list[str]
    """Target languages it applies to; empty: every target."""
    updated_at: str | None

    @classmethod
    def of(cls, glossary: StoredGlossary) -> GlossaryOut:
        return cls(
            terms=glossary.terms,
            keep=list(glossary.keep),
            targets=list(glossary.targets),
            updated_at=iso(glossary.updated_at) if glossary.updated_at else None,
        )


# Voice ------------------------------------------------------------------------------------

SPOKEN_FORMATS = ("wav", "ogg", "mp3")
"""Formats of the spoken translation."""


class VoiceParams(BaseModel):
    """Options of a voice translation (query parameters, or multipart form fields)."""

    model_config = ConfigDict(extra="forbid")

    target: Language
    """Language to translate into (ISO 639-1)."""
    source: SourceLanguage = "auto"
    """Language spoken, or ``auto`` to detect it."""
    model: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Text translation model (default: Whisper's own translation into English, else the
    best installed for the pair)."""
    stt_model: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Speech-to-text model."""
    voice: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Voice that speaks the translation (default: a Piper voice of the target language,
    else espeak-ng)."""
    speak: bool = True
    """Synthesise the translation."""
    source_text: bool = True
    """Also write down what was said when Whisper translates into English itself (one
    more Whisper pass)."""
    audio_format: Literal["wav", "ogg", "mp3"] = "wav"
    """Format of the inline audio (base64 in the JSON answer)."""


class SpokenAudioOut(msgspec.Struct, kw_only=True):
    """The spoken translation."""

    content_type: str
    rate: int
    """Samples per second."""
    seconds: float
    base64: str
    """The encoded file."""


class VoiceTimingsOut(msgspec.Struct, kw_only=True):
    """Milliseconds per stage."""

    stt_ms: float
    translate_ms: float
    tts_ms: float
    first_audio_ms: float | None
    """From the start of the request's processing to the first synthesised audio."""
    total_ms: float


class VoiceTranslationOut(msgspec.Struct, kw_only=True):
    """An utterance translated and spoken."""

    text: str | None
    """What was said, in its language."""
    translated_text: str
    source: str
    """Language spoken (given or detected)."""
    source_confidence: float
    target: str
    engine: str
    """``whisper`` (its own translation into English), ``ctranslate2``, ``llm`` or ``none``."""
    engine_note: str
    model: str
    stt_model: str
    pivot: bool
    """Translated through Whisper's English (the text engines do not read the spoken
    language)."""
    voice: str | None
    voice_fallback: bool
    """The voice is espeak-ng's (robotic, intelligible)."""
    audio: SpokenAudioOut | None
    timings: VoiceTimingsOut
    history_id: str | None
