"""Values of the translation service: requests, results, languages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from runtime.mt.detect import LanguageGuess

TextFormat = Literal["text", "html"]
Quality = Literal["none", "score", "roundtrip"]

ENGINE_LLM = "llm"
"""The chat model as translator."""
ENGINE_CT2 = "ctranslate2"
"""A CTranslate2 translation model (NLLB-200, opus-mt)."""
ENGINE_WHISPER = "whisper"
"""Whisper's translate task (speech in any language to English text)."""
ENGINE_NONE = "none"
"""Nothing to translate: source and target are the same language."""

ENGINE_NOTES = {
    ENGINE_CT2: "A dedicated translation model: the best quality installed.",
    ENGINE_LLM: (
        "The chat model as translator: passable for short, plain sentences; it may drop or"
        " change meaning in long or idiomatic ones. Install a translation model (NLLB-200:"
        " `assistant models pull nllb:600m-int8`) for better results."
    ),
    ENGINE_WHISPER: "Whisper's own speech translation (into English only).",
    ENGINE_NONE: "Source and target are the same language: the text is returned as it is.",
}
"""What to expect of each engine (the API and the README say it)."""


@dataclass(frozen=True)
class Glossary:
    """Terms with fixed translations, and terms never translated."""

    terms: dict[str, str] = field(default_factory=dict)
    """Source term -> the translation to use."""
    keep: tuple[str, ...] = ()
    """Terms copied as they are (names, brands)."""

    def merged(self, other: Glossary) -> Glossary:
        """This glossary with ``other``'s entries winning."""
        return Glossary(
            {**self.terms, **other.terms}, tuple(dict.fromkeys((*self.keep, *other.keep)))
        )

    def __bool__(self) -> bool:
        return bool(self.terms or self.keep)


@dataclass(frozen=True)
class TranslateRequest:
    """What to translate and how."""

    texts: tuple[str, ...]
    """One or more texts."""
    target: str
    """ISO 639-1 code (or BCP 47 / FLORES-200) of the translation."""
    source: str = "auto"
    """Language of the texts, or ``auto`` to detect each."""
    model: str | None = None
    """Model to translate with; default: the best installed for the pair."""
    context: str | None = None
    """Earlier text that the texts continue (pronouns and terms stay consistent)."""
    conversation_id: str | None = None
    """A chat conversation of the user whose last messages serve as context."""
    glossary: Glossary | None = None
    """Terms for this request (over the stored glossary)."""
    use_stored_glossary: bool = True
    """Apply the user's stored glossary."""
    format: TextFormat = "text"
    """``html``: only text nodes are translated; tags and attributes stay."""
    quality: Quality = "none"
    """``score``: the engine's calibrated confidence; ``roundtrip``: chrF of a back-translation."""


@dataclass(frozen=True)
class TermCheck:
    """Whether a glossary term was honoured in one translation."""

    term: str
    """The source term."""
    translation: str
    """What it had to become (the term itself for do-not-translate terms)."""
    found: bool
    """The source text holds the term."""
    honoured: bool
    """Every occurrence came out as ``translation`` where the engine placed it."""


@dataclass(frozen=True)
class Timings:
    """Where the time of one translation went (seconds)."""

    detect: float = 0.0
    translate: float = 0.0
    quality: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class TranslationResult:
    """One text translated."""

    text: str
    """The source text."""
    translated: str
    """The translation."""
    source: str
    """ISO 639-1 of the source (given or detected)."""
    target: str
    """ISO 639-1 of the translation."""
    detected: LanguageGuess | None
    """The detection, when the source was ``auto``."""
    engine: str
    """``ctranslate2``, ``llm`` or ``none``."""
    model: str
    """The model that translated ('' for ``none``)."""
    quality: float | None
    """0..1, when asked for."""
    quality_method: str | None
    """``score`` or ``roundtrip``."""
    cached: bool
    """Answered from the cache without running the engine."""
    sentences: int
    """Sentences sent to the engine."""
    terms: tuple[TermCheck, ...]
    """Glossary terms and whether they were honoured."""
    timings: Timings
    """Seconds per stage."""
    history_id: str | None = None
    """The history entry recorded."""


@dataclass(frozen=True)
class LanguageInfo:
    """A language and what the installed models do with it."""

    code: str
    """ISO 639-1."""
    flores: str | None
    """FLORES-200 code."""
    name: str
    """English name."""
    targets: tuple[str, ...]
    """Languages it can be translated into."""
    speech_input: bool
    """An installed speech-to-text model transcribes it."""
    voice: str | None
    """The voice that speaks it (a Piper voice, else the espeak-ng fallback), if any."""
    voice_fallback: bool
    """``voice`` is the espeak-ng fallback."""


@dataclass(frozen=True)
class EngineChoice:
    """An engine able to translate a pair."""

    engine: str
    """``ctranslate2`` or ``llm``."""
    model: str
    """The model id."""
    directions: dict[str, tuple[str, ...]]
    """Source -> targets it translates (ISO 639-1)."""


@dataclass(frozen=True)
class CacheStats:
    """The translation cache."""

    entries: int
    bytes: int
    max_bytes: int
    hits: int
    """Lookups answered from the cache since start."""
    misses: int
    """Lookups that ran an engine since start."""
