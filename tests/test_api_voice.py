"""``/api/v1/voice`` on the real offline models: speak, then transcribe it back."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from server.app import create_app
from tests.conftest import Accounts, real_settings
from tests.test_api_auth import is_problem

pytestmark = pytest.mark.real_model
SENTENCE = "The quick brown fox jumps over the lazy dog. It was a sunny day in Paris."


@pytest.fixture(scope="module")
def voice_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient[Any], dict[str, str], Services]]:
    tmp = tmp_path_factory.mktemp("voice")
    settings = real_settings(tmp, voice={"max_upload_seconds": 20.0})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    with TestClient(app=create_app(settings, services)) as client:
        headers = Accounts(client, services).register("ada")
        yield client, headers, services
    services.close()


@pytest.fixture(scope="module")
def spoken(voice_client: tuple[TestClient[Any], dict[str, str], Services]) -> bytes:
    client, headers, _ = voice_client
    response = client.post("/api/v1/voice/synthesize", json={"text": SENTENCE}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["x-sample-rate"] == "22050"
    assert response.headers["x-voice"] == "piper:en_US-joe-medium"
    return response.content


def heard_enough(text: str) -> bool:
    """Most of the key words came back (Piper's voice varies a little from run to run)."""
    words = set(text.lower().replace(".", " ").replace(",", " ").split())
    return len(words & {"quick", "brown", "fox", "jumps", "lazy", "dog", "sunny", "paris"}) >= 6


def samples_of(wav_bytes: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav_bytes)) as reader:
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2")


def test_synthesized_speech_is_real_audio(spoken: bytes) -> None:
    audio = samples_of(spoken)
    assert len(audio) / 22050 > 2.0
    assert np.abs(audio).max() > 3000


def test_engine_params_from_settings_reach_the_voice(
    voice_client: tuple[TestClient[Any], dict[str, str], Services], spoken: bytes
) -> None:
    # real_settings turns Piper's noise off through `models.params`, so speech repeats exactly
    client, headers, _ = voice_client
    again = client.post("/api/v1/voice/synthesize", json={"text": SENTENCE}, headers=headers)
    assert again.content == spoken


def test_transcribe_multipart_and_raw(
    voice_client: tuple[TestClient[Any], dict[str, str], Services], spoken: bytes
) -> None:
    client, headers, _ = voice_client
    response = client.post(
        "/api/v1/voice/transcribe",
        files={"file": ("speech.wav", spoken, "audio/wav")},
        data={"language": "en"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    text = body["text"].lower()
    assert heard_enough(text)
    assert body["model"] == "whisper:tiny.en"
    assert body["language"] == "en"
    assert body["segments"] and body["segments"][0]["start"] == 0.0
    raw = client.post(
        "/api/v1/voice/transcribe?format=text",
        content=spoken,
        headers={**headers, "content-type": "audio/wav"},
    )
    assert raw.headers["content-type"].startswith("text/plain")
    assert heard_enough(raw.text)
    stats = client.get("/api/v1/profile/stats", headers=headers).json()["totals"]
    assert stats["transcriptions"] >= 2 and stats["syntheses"] >= 1


@pytest.mark.parametrize(
    ("fmt", "marker"), [("srt", "1\n00:00:00,000 --> "), ("vtt", "WEBVTT\n\n00:00:00.000 --> ")]
)
def test_subtitle_formats(
    voice_client: tuple[TestClient[Any], dict[str, str], Services],
    spoken: bytes,
    fmt: str,
    marker: str,
) -> None:
    client, headers, _ = voice_client
    response = client.post(
        f"/api/v1/voice/transcribe?format={fmt}", files={"file": ("a.wav", spoken)}, headers=headers
    )
    assert response.status_code == 200
    assert response.text.startswith(marker)


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "flac", "pcm"])
def test_other_output_formats(
    voice_client: tuple[TestClient[Any], dict[str, str], Services], fmt: str
) -> None:
    client, headers, _ = voice_client
    response = client.post(
        "/api/v1/voice/synthesize", json={"text": "Hello there.", "format": fmt}, headers=headers
    )
    assert response.status_code == 200
    assert len(response.content) > 1000


def silent_wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"\0\0" * int(16000 * seconds))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"", 400, "unreadable-media"),
        (b"this is not audio at all" * 10, 400, "unreadable-media"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", 400, "unreadable-media"),  # cut off in the header
        (silent_wav(1.0), 422, "invalid-input"),
        (silent_wav(30.0), 413, "payload-too-large"),
    ],
)
def test_bad_audio(
    voice_client: tuple[TestClient[Any], dict[str, str], Services],
    content: bytes,
    status: int,
    code: str,
) -> None:
    client, headers, _ = voice_client
    response = client.post(
        "/api/v1/voice/transcribe", files={"file": ("x.wav", content)}, headers=headers
    )
    problem = is_problem(response, status, code)
    assert problem["field"] == "audio"


def test_audio_over_the_length_limit_is_413_on_both_faces(
    voice_client: tuple[TestClient[Any], dict[str, str], Services],
) -> None:
    # The README promises 413; the OpenAI face once answered 400 for it.
    client, headers, _ = voice_client
    long = {"file": ("long.wav", silent_wav(30.0))}
    native = client.post("/api/v1/voice/transcribe", files=long, headers=headers)
    is_problem(native, 413, "payload-too-large")
    openai = client.post("/v1/audio/transcriptions", files=long, headers=headers)
    assert openai.status_code == 413
    assert openai.json()["error"]["code"] == "payload_too_large"


def test_bad_requests(voice_client: tuple[TestClient[Any], dict[str, str], Services]) -> None:
    client, headers, _ = voice_client
    is_problem(
        client.post(
            "/api/v1/voice/transcribe",
            data={"x": "1"},
            files={"other": ("a", b"1")},
            headers=headers,
        ),
        422,
        "invalid-input",
    )
    is_problem(
        client.post("/api/v1/voice/transcribe?language=english", content=b"x", headers=headers),
        422,
        "invalid-input",
    )
    body = is_problem(
        client.post(
            "/api/v1/voice/transcribe?model=nope:1",
            content=silent_wav(0.1),
            headers=headers,
        ),
        503,
        "model-not-installed",
    )
    assert "assistant models add" in body["detail"]  # not in the catalogue: import it
    wrong = is_problem(
        client.post(
            "/api/v1/voice/transcribe?model=piper:en_US-joe-medium",
            content=silent_wav(0.1),
            headers=headers,
        ),
        422,
        "invalid-input",
    )
    assert "is a tts model, not stt" in wrong["detail"]
    is_problem(
        client.post(
            "/api/v1/voice/synthesize", json={"text": "hi", "voice": "nope:1"}, headers=headers
        ),
        503,
        "model-not-installed",
    )
    is_problem(
        client.post("/api/v1/voice/synthesize", json={"text": "  "}, headers=headers),
        422,
        "invalid-input",
    )
    is_problem(
        client.post(
            "/api/v1/voice/synthesize", json={"text": "hi", "format": "aiff"}, headers=headers
        ),
        422,
        "invalid-input",
    )
    is_problem(
        client.post("/api/v1/voice/synthesize", json={"text": "hi", "rate": 9}, headers=headers),
        422,
        "invalid-input",
    )


@pytest.mark.parametrize("text", ["...", "[", "'?", "\x07", "Hello\x00there", "\u2026 \u2026"])
def test_text_with_nothing_a_voice_can_speak_is_refused(
    voice_client: tuple[TestClient[Any], dict[str, str], Services], text: str
) -> None:
    # Piper makes no audio of punctuation alone (the answer was a 500 StopAsyncIteration)
    # and fails on a NUL ("embedded null character" leaked in a 500).
    client, headers, _ = voice_client
    response = client.post("/api/v1/voice/synthesize", json={"text": text}, headers=headers)
    problem = is_problem(response, 422, "invalid-input")
    assert problem["field"] == "text"
    assert "null character" not in response.text


@pytest.mark.parametrize("voice", [5, {"id": "piper:en_US-joe-medium"}, False, "p" * 101])
def test_an_invalid_voice_is_refused(
    voice_client: tuple[TestClient[Any], dict[str, str], Services], voice: Any
) -> None:
    # The body's `voice` shared its name with the handler's dependency: a bare 500.
    client, headers, _ = voice_client
    response = client.post(
        "/api/v1/voice/synthesize", json={"text": "Hello.", "voice": voice}, headers=headers
    )
    assert is_problem(response, 422, "invalid-input")["field"] == "voice"
