"""A real app with its Wyoming server on real models, shared by a module's tests."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.auth.models import Role
from assistant.services import Services, build_services
from assistant.settings import Settings
from hal.audio import AudioChunk
from hal.audio.convert import convert
from server.app import create_app
from tests.conftest import real_settings
from tests.voice.speech import say

RATE = 16_000


@dataclass(frozen=True)
class Running:
    """The app under its test client, its Wyoming port and its services."""

    client: TestClient  # type: ignore[type-arg]
    services: Services
    settings: Settings
    host: str
    port: int


def start(tmp: Path, **wyoming: object) -> Iterator[Running]:
    """Build real services (one admin account), start the app, yield it, stop it."""
    settings = real_settings(
        tmp,
        wyoming={"enabled": True, "port": 0, **wyoming},
        models={"keep_alive_seconds": -1},
    )
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    services.auth.create_user("ada", "correct horse battery", role=Role.ADMIN)
    try:
        with TestClient(app=create_app(settings, services)) as client:
            server = client.app.state.wyoming
            yield Running(client, services, settings, "127.0.0.1", server.port)
    finally:
        services.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One app per test module."""
    yield from start(tmp_path_factory.mktemp("wyoming"))


def piper(text: str) -> AudioChunk:
    """``text`` spoken by the Piper voice, 16 kHz mono, with a little silence around it."""
    pad = np.zeros(RATE // 4, dtype=np.float32)
    return AudioChunk.from_samples(np.concatenate((pad, say(text), pad)), RATE)


def espeak(text: str, folder: Path) -> AudioChunk:
    """``text`` spoken by espeak-ng at its own rate (22,050 Hz), as it comes."""
    path = folder / f"{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, timeout=60)
    with wave.open(str(path)) as handle:
        rate = handle.getframerate()
        return AudioChunk(handle.readframes(handle.getnframes()), rate)


def resampled(audio: AudioChunk, rate: int, channels: int = 1) -> AudioChunk:
    """The audio at another rate and channel count."""
    return convert(audio, rate, channels=channels)


def silence(seconds: float) -> npt.NDArray[np.float32]:
    """Zeros at 16 kHz."""
    return np.zeros(int(RATE * seconds), dtype=np.float32)
