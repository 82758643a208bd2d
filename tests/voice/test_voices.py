"""The voice that speaks a language: the pure choice, the voice service's, and the
engine and options a pipeline speaks a reply in another language with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from assistant.services import Services
from assistant.voice.service import VoiceDefaults, VoiceService
from assistant.voice.voices import (
    FALLBACK_VOICE,
    EngineSource,
    LanguageVoices,
    VoiceChoice,
    choose_voice,
    lend_from,
)
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel
from runtime.tts.base import SynthesisOptions, TextToSpeech
from runtime.tts.fake import FakeTextToSpeech


def model(model_id: str, engine: str, capability: Capability = Capability.TTS) -> InstalledModel:
    return InstalledModel(
        id=model_id,
        capability=capability,
        engine=engine,
        params={},
        memory_mb=10,
        description="",
        source="test",
        installed_at=0,
        verified_at=0,
        files=(),
        path=Path("/nonexistent"),
    )


LANGUAGES = {
    "piper:en_US-joe-medium": ("en",),
    "piper:en_GB-alba-medium": ("en",),
    "piper:de_DE-thorsten-medium": ("de",),
    "piper:pt_BR-faber-medium": ("pt-BR",),
    FALLBACK_VOICE: ("de", "en", "es", "fr", "ja", "pt"),
    "imported:voice": (),
    "whisper:base": ("de", "es", "tr"),
}
INSTALLED = [
    model(FALLBACK_VOICE, "espeak_ng"),  # listed first: it must still lose to Piper
    model("piper:en_US-joe-medium", "piper"),
    model("piper:en_GB-alba-medium", "piper"),
    model("piper:de_DE-thorsten-medium", "piper"),
    model("piper:pt_BR-faber-medium", "piper"),
    model("imported:voice", "piper"),
    model("whisper:base", "whisper_cpp", Capability.STT),
]


def languages_of(model_id: str) -> tuple[str, ...]:
    return LANGUAGES.get(model_id, ())


@pytest.mark.parametrize(
    ("language", "current", "expected"),
    [
        ("en", "piper:en_GB-alba-medium", ("piper:en_GB-alba-medium", "en", False)),
        ("en", None, ("piper:en_US-joe-medium", "en", False)),
        ("de", "piper:en_US-joe-medium", ("piper:de_DE-thorsten-medium", "de", False)),
        ("DE", None, ("piper:de_DE-thorsten-medium", "de", False)),
        ("de-AT", None, ("piper:de_DE-thorsten-medium", "de", False)),
        ("pt", None, ("piper:pt_BR-faber-medium", "pt", False)),
        ("es", "piper:en_US-joe-medium", (FALLBACK_VOICE, "es", True)),
        ("ja", None, (FALLBACK_VOICE, "ja", True)),
        ("fr", FALLBACK_VOICE, (FALLBACK_VOICE, "fr", True)),
        ("tr", None, None),  # only a speech-to-text model knows Turkish
        ("sw", "imported:voice", None),  # a voice of unknown languages is never guessed
    ],
)
def test_choose_voice(
    language: str, current: str | None, expected: tuple[str, str, bool] | None
) -> None:
    choice = choose_voice(language, INSTALLED, languages_of, current)
    assert (choice and (choice.voice, choice.language, choice.fallback)) == expected


class Catalogue:
    """Installed models without files."""

    def __init__(self, models: list[InstalledModel]) -> None:
        self.models = {m.id: m for m in models}

    def installed(self) -> list[InstalledModel]:
        return list(self.models.values())

    def require(self, model_id: str) -> InstalledModel:
        if model_id not in self.models:
            raise ModelNotInstalled(model_id)
        return self.models[model_id]


def test_the_voice_service_chooses_over_its_installed_models(services: Services) -> None:
    voice = VoiceService(
        ModelManager(Catalogue(INSTALLED), budget_mb=100),
        Catalogue(INSTALLED),
        services.profile,
        VoiceDefaults(),
        languages_of,
    )
    assert voice.voice_for_language("es") == VoiceChoice(FALLBACK_VOICE, "es", True)
    assert voice.voice_for_language("de").voice == "piper:de_DE-thorsten-medium"
    without_fallback = [m for m in INSTALLED if m.id != FALLBACK_VOICE]
    voice.catalogue = Catalogue(without_fallback)
    with pytest.raises(ModelNotInstalled) as raised:
        voice.voice_for_language("es")
    assert raised.value.model_id == FALLBACK_VOICE  # the install hint names espeak-ng


async def test_a_pipeline_speaks_another_language_in_its_voice() -> None:
    engines = {
        "piper:en_US-joe-medium": FakeTextToSpeech("piper:en_US-joe-medium"),
        "piper:de_DE-thorsten-medium": FakeTextToSpeech("piper:de_DE-thorsten-medium"),
        FALLBACK_VOICE: FakeTextToSpeech(FALLBACK_VOICE),
    }
    lent: list[str] = []

    @asynccontextmanager
    async def use(model_id: str) -> AsyncIterator[TextToSpeech]:
        lent.append(model_id)
        yield engines[model_id]

    lend = lend_from(use)
    default: EngineSource = lend("piper:en_US-joe-medium")

    def choose(language: str) -> VoiceChoice:
        choice = choose_voice(language, INSTALLED, languages_of, "piper:en_US-joe-medium")
        assert choice is not None
        return choice

    voices = LanguageVoices(choose, lend, default, language="en")
    reply = SynthesisOptions(rate=1.2)
    same, options = voices.for_language(None, reply)
    assert same is default and options == reply
    assert voices.for_language("en-GB", reply)[0] is default

    for language, voice_id in (("es", FALLBACK_VOICE), ("de", "piper:de_DE-thorsten-medium")):
        source, options = voices.for_language(language, reply)
        assert options == SynthesisOptions(rate=1.2, language=language)
        async with source() as tts:
            list(tts.synthesize("hola", options))
        assert lent[-1] == voice_id
        assert engines[voice_id].options[-1].language == language
    assert engines["piper:en_US-joe-medium"].texts == []
