"""The OpenAI audio endpoints with the official SDK, on the real offline voice models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from assistant.auth import PasswordHasher, Principal
from assistant.services import build_services
from server.app import create_app
from server.background import serve_in_thread as serve
from tests.conftest import real_settings

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    settings = real_settings(Path(tmp_path_factory.mktemp("openai-audio")))
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    user = services.auth.create_user("ada", "correct horse battery")
    _, key = services.auth.create_api_key(
        Principal(user_id=user.id, username=user.username, role=user.role), "sdk"
    )
    with serve(create_app(settings, services)) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    services.close()


def test_speech_then_transcription_round_trip(sdk: openai.OpenAI) -> None:
    speech = sdk.audio.speech.create(
        model="tts-1",
        voice="alloy",
        input="Hello world, this is a small test.",
        response_format="wav",
    )
    audio = speech.read()
    assert audio[:4] == b"RIFF"
    text = sdk.audio.transcriptions.create(model="whisper-1", file=("hello.wav", audio))
    assert "hello world" in text.text.lower()
    detailed = sdk.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", audio), response_format="verbose_json"
    )
    assert detailed.duration > 1.0
    assert detailed.segments and detailed.segments[0].start == 0.0
    srt = sdk.audio.transcriptions.create(
        model="whisper-1", file=("hello.wav", audio), response_format="srt"
    )
    assert "00:00:00,000 -->" in str(srt)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac", "pcm"])
def test_speech_formats(sdk: openai.OpenAI, fmt: str) -> None:
    speech = sdk.audio.speech.create(
        model="tts-1",
        voice="nova",
        input="Good morning.",
        response_format=fmt,  # type: ignore[arg-type]
    )
    assert len(speech.read()) > 500


def test_errors_use_openais_shape(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.audio.transcriptions.create(model="whisper-1", file=("x.wav", b"not audio at all"))
    assert "audio" in str(bad.value)
    with pytest.raises(openai.NotFoundError):
        sdk.audio.transcriptions.create(model="whisper:huge", file=("x.wav", b"RIFF...."))
    with pytest.raises(openai.NotFoundError):
        sdk.audio.speech.create(model="tts-1", voice="piper:nope", input="hi")


@pytest.mark.parametrize("text", ["...", "[", "'?", "\x07", "Hello\x00there"])
def test_text_with_nothing_to_speak_is_a_bad_request(sdk: openai.OpenAI, text: str) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.audio.speech.create(model="tts-1", voice="alloy", input=text)
    assert bad.value.body["param"] == "input"  # type: ignore[index]
    assert "null character" not in str(bad.value)


@pytest.mark.parametrize("voice", [5, {"id": "alloy"}, True, "v" * 101])
def test_an_invalid_voice_is_a_bad_request(sdk: openai.OpenAI, voice: Any) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.audio.speech.create(model="tts-1", voice=voice, input="Hello.")
    assert bad.value.body["param"] == "voice"  # type: ignore[index]
