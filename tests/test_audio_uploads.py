"""Hostile and broken audio uploads on both transcription endpoints: a clear 400 or 422.

Found by a fuzzing pass: a WAV header claiming an absurd sample rate made the resampler
allocate gigabytes (and answer 500 at 0xFFFFFFFF Hz); truncated WAVs, WAVs declaring a
huge data length, +Inf float WAVs and one-sample WAVs answered 200 with empty text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from server.app import create_app
from tests.conftest import Accounts, real_settings
from tests.hal.wavs import wav
from tests.test_api_auth import is_problem

pytestmark = pytest.mark.real_model

TONE = (np.sin(np.arange(16_000) * 0.3) * 12_000).astype("<i2").tobytes()
"""One second of a loud tone at 16 kHz (not silent)."""


INFINITE = np.full(16_000, np.inf, dtype="<f4").tobytes()

CASES = {
    # name: (upload, status, code, words the detail must hold)
    "absurd-rate": (wav(TONE, rate=4_000_037), 400, "unreadable-media", "4000037 Hz"),
    "largest-rate": (wav(TONE, rate=0xFFFFFFFF), 400, "unreadable-media", "4294967295 Hz"),
    "truncated": (
        wav(TONE[:8_000], data_size=len(TONE)),
        400,
        "unreadable-media",
        "truncated",
    ),
    "huge-data-length": (
        wav(TONE, data_size=0xFFFFFFF0),
        400,
        "unreadable-media",
        "truncated",
    ),
    "infinite-floats": (
        wav(INFINITE, tag=3, bits=32),
        400,
        "unreadable-media",
        "not numbers",
    ),
    "one-sample": (wav(TONE[2:4]), 422, "invalid-input", "silent"),
}


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient[Any], dict[str, str]]]:
    settings = real_settings(tmp_path_factory.mktemp("uploads"))
    services: Services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    with TestClient(app=create_app(settings, services)) as client:
        yield client, Accounts(client, services).register("ada")
    services.close()


@pytest.mark.parametrize("name", CASES)
def test_native_transcription_refuses_clearly(
    app: tuple[TestClient[Any], dict[str, str]], name: str
) -> None:
    client, headers = app
    upload, status, code, words = CASES[name]
    response = client.post(
        "/api/v1/voice/transcribe", files={"file": ("x.wav", upload)}, headers=headers
    )
    problem = is_problem(response, status, code)
    assert problem["field"] == "audio"
    assert words in problem["detail"]


@pytest.mark.parametrize("name", CASES)
def test_openai_transcription_refuses_clearly(
    app: tuple[TestClient[Any], dict[str, str]], name: str
) -> None:
    client, headers = app
    upload, _, _, words = CASES[name]
    response = client.post(
        "/v1/audio/transcriptions",
        files={"file": ("x.wav", upload)},
        data={"model": "whisper-1"},
        headers=headers,
    )
    assert response.status_code == 400, response.text  # OpenAI's status for bad requests
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "audio")
    assert words in error["message"]
