"""The voice service on the package's fake engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.services import Services
from assistant.voice.dictation import DictationEvent
from assistant.voice.options import PipelineOptions
from assistant.voice.service import VoiceDefaults, VoiceService
from hal.audio import AudioChunk
from runtime.engines import Capability
from runtime.manager import ModelManager
from runtime.stt.fake import FakeSpeechToText
from runtime.tts.fake import FakeTextToSpeech
from runtime.vad.fake import FakeVoiceActivityDetector
from tests.chat.conftest import FakeCatalogue

RATE = 16_000


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
