"""A spoken alert with the real voice: the chime, then words Whisper hears back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from assistant.voice.announce import chime
from assistant.voice.options import AlertOptions
from hal.audio import AudioChunk
from hal.audio.convert import convert
from hal.audio.fake import FakeSpeaker
from hal.audio.volume import VolumeSpeaker
from runtime.stt.base import TranscribeOptions
from tests.conftest import real_settings

pytestmark = pytest.mark.real_model


@dataclass(frozen=True)
class Fired:
    """The timer service's fired event."""

    kind: str
    id: str
    user_id: str
    name: str | None
    spoken: str


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = real_settings(Path(tmp_path_factory.mktemp("announce")))
    built = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    yield built
    built.close()


async def test_a_fired_timer_is_chimed_and_spoken_in_the_users_voice(services: Services) -> None:
    user_id = services.auth.create_user("ada", "correct horse battery").id
    services.profile.patch_preferences(user_id, {"speaking_rate": 0.9})
    inner = FakeSpeaker()
    speaker = VolumeSpeaker(inner, services.loops.volume)
    alerts = await services.loops.announcer(
        user_id, speaker, AlertOptions(repeats=2, pause_seconds=0.0), idle=lambda: True
    )
    await alerts.announce(Fired("timer", "t-1", user_id, "tea", "Your tea timer is done."))
    await asyncio.wait_for(alerts.wait(), 120)
    await alerts.close()

    first, second = inner.playbacks
    assert first.audio == second.audio and first.completed and second.completed
    rate = first.chunks[0].rate
    bell = chime(rate).audio
    assert first.audio.startswith(bell)
    speech = AudioChunk(first.audio[len(bell) :], rate)
    assert speech.seconds > 0.5 and np.abs(speech.samples()).max() > 0.1
    heard = await services.voice.transcribe_audio(
        user_id, convert(speech, 16_000), TranscribeOptions(language="en")
    )
    text = heard.transcript.text.lower()
    assert "tea" in text and "timer" in text
