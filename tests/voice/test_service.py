"""The voice service on the package's fake engines: dictation, text a voice can speak,
default models; and the speech endpoints' answers to bodies they cannot take."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.errors import InvalidInput, PayloadTooLarge
from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.voice.dictation import DictationEvent
from assistant.voice.options import PipelineOptions
from assistant.voice.service import VoiceDefaults, VoiceService
from hal.audio import AudioChunk
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled, UnknownModel
from runtime.manager import ModelManager
from runtime.stt.fake import FakeSpeechToText
from runtime.tts.base import SynthesisOptions
from runtime.tts.fake import FakeTextToSpeech
from runtime.vad.fake import FakeVoiceActivityDetector
from server.app import create_app
from tests.chat.conftest import FakeCatalogue
from tests.conftest import Accounts

RATE = 16_000


class MuteVoice(FakeTextToSpeech):
    """A voice that makes no sound of some texts (as Piper does of punctuation alone)."""

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        self.texts.append(text)
        return iter(())


@dataclass
class FakeVoice:
    """A voice service whose models are the package's fakes."""

    service: VoiceService
    stt: FakeSpeechToText
    user_id: str


def fake_voice(services: Services, tts: FakeTextToSpeech | None = None) -> FakeVoice:
    stt = FakeSpeechToText("the weather is lovely", "the weather is lovely today")
    engines: dict[str, Any] = {
        "fake-vad:1": FakeVoiceActivityDetector(frame_samples=512),
        "fake-stt:1": stt,
        "fake-tts:1": tts or FakeTextToSpeech(),
    }
    catalogue = FakeCatalogue(
        {
            "fake-vad:1": (Capability.VAD, 1),
            "fake-stt:1": (Capability.STT, 1),
            "fake-tts:1": (Capability.TTS, 1),
        }
    )

    def loader(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> Any:
        return engines[model_id]

    manager = ModelManager(catalogue, budget_mb=100, loader=loader, memory_probe=lambda: 0.0)  # type: ignore[arg-type]
    service = VoiceService(manager, catalogue, services.profile, VoiceDefaults())
    user_id = services.auth.create_user("ada", "correct horse battery").id
    return FakeVoice(service, stt, user_id)


def pcm(value: int, seconds: float, start: float) -> list[AudioChunk]:
    """0.1 s chunks of constant samples (0 is silence), with stream timestamps."""
    audio = np.full(RATE // 10, value, dtype="<i2").tobytes()
    return [
        AudioChunk(audio=audio, rate=RATE, timestamp=start + i / 10)
        for i in range(round(seconds * 10))
    ]


async def stream(chunks: list[AudioChunk]) -> AsyncIterator[AudioChunk]:
    for chunk in chunks:
        yield chunk


async def test_dictation_reports_each_utterance_as_the_stream_messages_say(
    services: Services,
) -> None:
    voice = fake_voice(services)
    events: list[DictationEvent] = []

    async def collect(event: DictationEvent) -> None:
        events.append(event)

    # Short enough for one partial transcript (a second would race the first).
    audio = [*pcm(0, 0.5, 0.0), *pcm(1_000, 1.2, 0.5), *pcm(0, 1.0, 1.7)]
    options = PipelineOptions(language="en")
    count = await voice.service.dictate(voice.user_id, stream(audio), options, collect)

    assert count == 1
    messages = [event.to_dict() for event in events]
    # Speech counts from its 0.2 s debounce (32 ms frames); a partial transcript after
    # 1.5 s of the utterance (its 0.4 s pre-roll included); the end after 0.8 s of silence
    # (silence_seconds); the transcript covers the pre-roll to the end.
    assert messages == [
        {"type": "speech-start", "offset_seconds": 0.672},
        {"type": "partial", "text": "the weather is lovely"},
        {"type": "speech-end", "offset_seconds": 2.528, "timed_out": False},
        {
            "type": "transcript",
            "text": "the weather is lovely today",
            "language": "en",
            "start_seconds": 0.672,
            "duration_seconds": 2.432,
            "segments": [],
        },
    ]
    assert [o.language for o in voice.stt.options] == ["en", "en"]
    stats = services.profile.stats(voice.user_id).totals
    assert stats["transcriptions"] == 2  # the partial transcript and the final one


@pytest.mark.parametrize(
    "text",
    ["...", "[", "'?", "  ?!  ", "\u2026", "-- * --", "\x07", "a\x00b", "Hello\x1bthere", "hi\x7f"],
)
def test_text_a_voice_cannot_speak_is_refused_with_a_reason(services: Services, text: str) -> None:
    voice = fake_voice(services)
    with pytest.raises(InvalidInput) as refused:
        voice.service.speakable(text)
    assert refused.value.field == "text"
    assert "null character" not in refused.value.detail


@pytest.mark.parametrize(
    "text", ["Hi!", "42", "Ça va ?", "日本語です。", "Line one.\nLine two.\tTabbed.", "a"]
)
def test_text_with_words_is_spoken(services: Services, text: str) -> None:
    assert fake_voice(services).service.speakable(f"  {text} ") == text.strip()


def test_too_long_text_is_too_large(services: Services) -> None:
    with pytest.raises(PayloadTooLarge):
        fake_voice(services).service.speakable("a" * 5001)


async def test_a_voice_that_makes_no_sound_is_an_invalid_input_not_a_crash(
    services: Services,
) -> None:
    voice = fake_voice(services, tts=MuteVoice())
    with pytest.raises(InvalidInput, match="made no sound") as refused:
        await voice.service.speech(voice.user_id, "Hmm.")
    assert refused.value.field == "text"


def test_with_nothing_installed_the_default_comes_from_the_active_profile(
    tmp_path: Path,
) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", models={"profile": "pi5"})
    services = build_services(settings)
    try:
        with pytest.raises(ModelNotInstalled) as missing:
            services.voice.model_for(Capability.STT)
        assert missing.value.model_id == "whisper:base"  # pi5's, not the offline profile's
        with pytest.raises(ModelNotInstalled) as missing:
            services.voice.model_for(Capability.TTS)
        assert missing.value.model_id == "piper:en_US-lessac-medium"
    finally:
        services.close()


def test_a_profile_without_a_model_of_the_kind_names_none(services: Services) -> None:
    voice = VoiceService(
        services.manager,
        FakeCatalogue(),
        services.profile,
        VoiceDefaults(profile="custom"),
    )
    with pytest.raises(UnknownModel) as unknown:
        voice.model_for(Capability.STT)
    assert "profile custom names none" in unknown.value.detail
    assert "whisper" not in unknown.value.detail


# The endpoints ---------------------------------------------------------------------

SPEECH = {
    "native": ("/api/v1/voice/synthesize", "text", {}),
    "openai": ("/v1/audio/speech", "input", {"model": "tts-1"}),
}


Bare = tuple[TestClient[Any], dict[str, str]]
"""A client of the app with no model installed, and a signed-in user's headers."""


@pytest.fixture(scope="module")
def bare(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient[Any], dict[str, str]]]:
    """The app with no model installed, and a signed-in user's headers."""
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("bare") / "data")
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    with TestClient(app=create_app(settings, services)) as client:
        yield client, Accounts(client, services).register("ada")
    services.close()


def answer(client: TestClient[Any], headers: dict[str, str], face: str, **body: Any) -> Any:
    path, text_field, extra = SPEECH[face]
    body = {text_field: body.pop("text", "Hello."), **extra, **body}
    response = client.post(path, json=body, headers=headers)
    data = response.json()
    if face == "openai":
        error = data["error"]
        return response.status_code, "invalid-input", error["param"], error["message"]
    return response.status_code, data["code"], data.get("field"), data["detail"]


@pytest.mark.parametrize("face", ["native", "openai"])
@pytest.mark.parametrize("value", [5, {"id": "x"}, True, "x" * 101, "", "../etc", "a b"])
def test_an_invalid_voice_is_refused_not_a_crash(bare: Bare, face: str, value: Any) -> None:
    client, headers = bare
    status, code, field, _ = answer(client, headers, face, voice=value)
    assert (status, code, field) == (422 if face == "native" else 400, "invalid-input", "voice")


@pytest.mark.parametrize("face", ["native", "openai"])
@pytest.mark.parametrize("text", ["...", "[", "'?", "a\x00b", "\x07"])
def test_unspeakable_text_is_refused_before_any_model_is_needed(
    bare: Bare, face: str, text: str
) -> None:
    client, headers = bare
    status, code, field, detail = answer(client, headers, face, text=text)
    assert (status, code) == (422 if face == "native" else 400, "invalid-input")
    assert field == SPEECH[face][1]
    assert "null character" not in detail
