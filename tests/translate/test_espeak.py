"""The espeak-ng fallback voice: voice names, languages, options, the program itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import EngineError, UnsupportedInput
from runtime.tts.base import SynthesisOptions
from runtime.tts.espeak import EspeakTextToSpeech, parse_voices, voice_for

LISTING = """Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 2  en-gb           --/M      English_(Great_Britain) gmw/en
 5  en-us           --/M      English_(America)  gmw/en-US
 5  cmn             --/M      Chinese_(Mandarin) sit/cmn
 5  pt-br           --/M      Portuguese_(Brazil) roa/pt-BR
 5  pt              --/M      Portuguese_(Portugal) roa/pt
 5  nb              --/M      Norwegian_Bokmål   gmq/nb
"""


def test_voices_are_read_from_the_listing() -> None:
    voices = parse_voices(LISTING)
    assert set(voices) == {"af", "en-gb", "en-us", "cmn", "pt-br", "pt", "nb"}


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("af", "af"),
        ("en", "en"),  # espeak-ng resolves a bare language to its main voice
        ("en-US", "en-us"),
        ("pt-BR", "pt-br"),
        ("pt_PT", "pt"),
        ("zh", "cmn"),
        ("no", "nb"),
        ("xx", None),
    ],
)
def test_a_language_maps_to_an_espeak_voice(language: str, voice: str | None) -> None:
    assert voice_for(language, parse_voices(LISTING)) == voice


@pytest.fixture(scope="module")
def espeak() -> EspeakTextToSpeech:
    return EspeakTextToSpeech.load("espeak-ng:builtin", Path("/nonexistent"), {})


def test_it_speaks_the_language_asked_for(espeak: EspeakTextToSpeech) -> None:
    chunks = list(espeak.synthesize("Guten Tag.\nWie geht es?", SynthesisOptions(language="de")))
    assert len(chunks) == 2  # one per line
    assert all(c.rate == 22_050 and c.frames > 2_000 for c in chunks)
    assert chunks[1].timestamp == pytest.approx(chunks[0].seconds)
    slow = list(espeak.synthesize("Guten Tag.", SynthesisOptions(language="de", rate=0.5)))
    assert slow[0].frames > chunks[0].frames * 1.5


@pytest.mark.parametrize(
    ("options", "field"),
    [(SynthesisOptions(language="xx"), "language"), (SynthesisOptions(rate=9.0), "rate")],
)
def test_bad_options_are_refused_before_speaking(
    espeak: EspeakTextToSpeech, options: SynthesisOptions, field: str
) -> None:
    with pytest.raises(UnsupportedInput) as raised:
        espeak.synthesize("Hallo", options)
    assert raised.value.field == field


def test_a_closed_voice_fails_clearly() -> None:
    voice = EspeakTextToSpeech.load("espeak-ng:builtin", Path("/nonexistent"), {})
    voice.close()
    with pytest.raises(EngineError):
        voice.synthesize("Hallo", SynthesisOptions())
