"""Which voice speaks a language: the reply's own voice when it speaks it, else a Piper
voice of the language, else the espeak-ng fallback voice (it speaks about 100).

A reply in another language than the conversation's (a translation: "how do you say
thank you in Spanish") is spoken in that language's voice. ``choose_voice`` is the pure
choice over the installed voices and their manifest languages; ``VoiceService.
voice_for_language`` applies it to the installed models; ``LanguageVoices`` hands a voice
pipeline the engine and the synthesis options for a language.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace

from runtime.engines import Capability
from runtime.modelstore import InstalledModel
from runtime.tts.base import SynthesisOptions, TextToSpeech

FALLBACK_VOICE = "espeak-ng:builtin"
"""The voice that speaks a language no installed Piper voice speaks."""
FALLBACK_ENGINE = "espeak_ng"
"""The engine of fallback voices (one voice, many languages)."""


@dataclass(frozen=True)
class VoiceChoice:
    """The voice that speaks a language, and how to ask it to."""

    voice: str
    """The voice model's id."""
    language: str
    """ISO 639-1 code to pass as ``SynthesisOptions.language`` (a one-language voice
    ignores it; espeak-ng speaks in it)."""
    fallback: bool
    """The voice is the espeak-ng fallback (no Piper voice of the language is installed)."""


def primary_language(code: str) -> str:
    """``pt-BR`` -> ``pt``, ``EN`` -> ``en``."""
    return code.strip().replace("_", "-").split("-")[0].lower()


def choose_voice(
    language: str,
    voices: Sequence[InstalledModel],
    languages: Callable[[str], tuple[str, ...]],
    current: str | None = None,
) -> VoiceChoice | None:
    """The voice for ``language`` among the installed ``voices`` (pure).

    The ``current`` voice (the reply's usual one) when it speaks the language; else the
    first other voice that does, Piper (any one-language engine) before espeak-ng; None
    when no voice lists the language. Voices whose languages are unknown (imported or
    remote ones) are never chosen for a language.
    """
    wanted = primary_language(language)
    speaking = [
        model
        for model in voices
        if model.capability is Capability.TTS
        and wanted in {primary_language(code) for code in languages(model.id)}
    ]
    for model in speaking:
        if model.id == current:
            return VoiceChoice(model.id, wanted, model.engine == FALLBACK_ENGINE)
    ranked = sorted(speaking, key=lambda model: model.engine == FALLBACK_ENGINE)
    if not ranked:
        return None
    best = ranked[0]
    return VoiceChoice(best.id, wanted, best.engine == FALLBACK_ENGINE)


EngineSource = Callable[[], AbstractAsyncContextManager[TextToSpeech]]
"""Lends an engine for the duration of a ``with`` (the pipeline's ``tts`` source)."""


class LanguageVoices:
    """The engine and synthesis options a voice pipeline speaks one reply with.

    Built with the pipeline's own voice (its source and options) and a way to borrow any
    other voice; ``for_language(None)`` or the conversation's language keeps the
    pipeline's voice, another language borrows the voice ``choose`` picks for it.
    """

    def __init__(
        self,
        choose: Callable[[str], VoiceChoice],
        lend: Callable[[str], EngineSource],
        default: EngineSource,
        language: str | None = None,
    ) -> None:
        self.choose = choose
        """Blocking: the voice for a language (``VoiceService.voice_for_language`` with
        the pipeline's voice as ``current``); raises ModelNotInstalled when none."""
        self.lend = lend
        """A source for a voice model id (the pipeline's ``lend``)."""
        self.default = default
        """The pipeline's own voice."""
        self.language = primary_language(language) if language else None
        """The conversation's language (None: whatever the default voice speaks)."""

    def for_language(
        self, language: str | None, options: SynthesisOptions
    ) -> tuple[EngineSource, SynthesisOptions]:
        """(source, options) to speak ``language`` with, from the reply's ``options``
        (rate, speaker); blocking (the choice reads the installed models): call it off
        the event loop."""
        if language is None or primary_language(language) == self.language:
            return self.default, options
        choice = self.choose(language)
        return self.lend(choice.voice), replace(options, language=choice.language)


def lend_from(
    use: Callable[[str], AbstractAsyncContextManager[TextToSpeech]],
) -> Callable[[str], EngineSource]:
    """A ``lend`` over a model manager's ``use`` (``lend_from(manager.use)``)."""

    def lend(model_id: str) -> EngineSource:
        @asynccontextmanager
        async def source() -> AsyncIterator[TextToSpeech]:
            async with use(model_id) as engine:
                yield engine

        return source

    return lend
