"""Every service reports its own events, with no code in the controllers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from litestar.testing import TestClient

from assistant.auth import ClientInfo
from assistant.chat.models import ChatRequest
from assistant.chat.service import ChatService
from assistant.services import Services
from assistant.voice.events import (
    ChatProgress,
    ChatStart,
    ListenTrigger,
    PipelineStage,
    RunEnd,
    RunOutcome,
    RunStart,
    SttEnd,
    SttStart,
    SttVadEnd,
    SttVadStart,
    TtsAudio,
    TtsStart,
    WakeWordEnd,
)
from assistant.voice.service import VoiceDefaults, VoiceService, _UsageCounter
from hal.audio import AudioChunk
from runtime.engines import Capability
from runtime.events import RecordingEmitter
from runtime.manager import ModelManager
from runtime.stt.fake import FakeSpeechToText
from runtime.tts.fake import FakeTextToSpeech
from tests.chat.conftest import ChatEnv, FakeCatalogue
from tests.conftest import Accounts

Client = TestClient  # type: ignore[type-arg]


async def test_a_chat_turn_reports_tokens_cache_and_timings(chat_env: ChatEnv) -> None:
    events = RecordingEmitter()
    old = chat_env.chat
    chat = ChatService(
        old.db, old.manager, old.catalogue, old.profile, rules=old.rules, events=events
    )
    user = chat_env.user("ada")
    await chat.reply(user, ChatRequest(text="one two three four"))
    (turn,) = events.named("chat.turn")
    assert turn["model"] == "fake:big"
    assert turn["finish_reason"] == "stop"
    assert turn["completion_tokens"] > 0 and turn["prompt_tokens"] > 0
    assert {"cached_tokens", "queue_ms", "first_token_ms", "total_ms", "tokens_per_second"} <= set(
        turn
    )
    assert turn["total_ms"] >= turn["first_token_ms"] >= 0
    assert events.events[-1][2] == user


async def test_model_loads_and_unloads_are_reported() -> None:
    events = RecordingEmitter()
    catalogue = FakeCatalogue({"fake:a": (Capability.LLM, 100)})
    manager = ModelManager(
        catalogue,  # type: ignore[arg-type]
        budget_mb=1000,
        loader=lambda *args: FakeSpeechToText(),  # type: ignore[arg-type,return-value]
        memory_probe=lambda: 0.0,
        events=events,
    )
    await manager.load("fake:a")
    assert await manager.unload("fake:a")
    (load,) = events.named("model.load")
    assert (load["model"], load["capability"], load["engine"], load["memory_mb"]) == (
        "fake:a",
        "llm",
        "fake",
        100.0,
    )
    assert load["load_ms"] >= 0
    assert events.named("model.unload") == [
        {"model": "fake:a", "reason": "request", "memory_mb": 100.0}
    ]


async def test_transcription_and_synthesis_are_reported(services: Services) -> None:
    events = RecordingEmitter()
    engines: dict[str, Any] = {
        "fake-stt:1": FakeSpeechToText("hello there"),
        "fake-tts:1": FakeTextToSpeech(),
    }
    catalogue = FakeCatalogue(
        {"fake-stt:1": (Capability.STT, 1), "fake-tts:1": (Capability.TTS, 1)}
    )

    def loader(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> Any:
        return engines[model_id]

    manager = ModelManager(catalogue, budget_mb=100, loader=loader, memory_probe=lambda: 0.0)  # type: ignore[arg-type]
    voice = VoiceService(manager, catalogue, services.profile, VoiceDefaults(), events=events)
    user = services.auth.create_user("ada", "correct horse battery").id
    audio = AudioChunk.from_samples(np.full(16_000, 0.1, dtype=np.float32), 16_000)
    from runtime.stt.base import TranscribeOptions

    await voice.transcribe_audio(user, audio, TranscribeOptions())
    (heard,) = events.named("voice.transcription")
    assert (heard["model"], heard["language"], heard["audio_seconds"]) == ("fake-stt:1", "en", 1.0)
    assert heard["rtf"] is not None and heard["processing_ms"] >= 0
    speech = await voice.speech(user, "Hello there. How are you?")
    async for _ in speech.chunks:
        pass
    (spoken,) = events.named("voice.synthesis")
    assert (spoken["model"], spoken["characters"]) == ("fake-tts:1", 25)
    assert spoken["audio_seconds"] > 0 and spoken["first_audio_ms"] >= 0


async def test_a_spoken_turn_reports_wake_word_transcription_and_stage_latencies(
    services: Services,
) -> None:
    events = RecordingEmitter()
    user = services.auth.create_user("ada", "correct horse battery").id
    counter = _UsageCounter(services.profile, user, None, events, "stt:1", "wake:1")
    run = "r1"
    for event in (
        RunStart(
            run_id=run, timestamp=0.0, start_stage=PipelineStage.WAKE_WORD, conversation_id=None
        ),
        WakeWordEnd(run_id=run, timestamp=1.0, word="hey_jarvis", score=0.97),
        SttStart(run_id=run, timestamp=1.0, trigger=ListenTrigger.WAKE_WORD, language="en"),
        SttVadStart(run_id=run, timestamp=1.2, offset_seconds=0.2),
        SttVadEnd(
            run_id=run, timestamp=3.0, offset_seconds=2.0, speech_end_seconds=1.2, timed_out=False
        ),
        SttEnd(run_id=run, timestamp=3.3, text="what time is it", language="en", audio_seconds=2.0),
        ChatStart(run_id=run, timestamp=3.3, text="what time is it", conversation_id=None),
        ChatProgress(run_id=run, timestamp=3.5, text="It"),
        ChatProgress(run_id=run, timestamp=3.6, text=" is"),
        TtsStart(run_id=run, timestamp=3.9, sentence=0, text="It is noon."),
        TtsAudio(run_id=run, timestamp=4.0, sentence=0, audio_seconds=1.0, rate=22050),
        RunEnd(run_id=run, timestamp=6.0, outcome=RunOutcome.COMPLETED),
    ):
        await counter(event)
    assert events.named("voice.wake") == [{"model": "wake:1", "word": "hey_jarvis", "score": 0.97}]
    (heard,) = events.named("voice.transcription")
    assert (heard["model"], heard["processing_ms"], heard["rtf"]) == ("stt:1", 300.0, 0.15)
    (turn,) = events.named("voice.turn")
    assert turn["outcome"] == "completed"
    assert turn["stt_ms"] == 300.0
    assert turn["vad_tail_ms"] == 800.0
    assert turn["chat_first_delta_ms"] == 200.0
    assert turn["chat_first_sentence_ms"] == 600.0
    assert turn["tts_first_chunk_ms"] == 100.0
    assert turn["speech_end_to_first_audio_ms"] == 1000.0
    assert turn["total_ms"] == 5000.0


def test_logins_failed_logins_and_errors_are_reported(
    client: Client, accounts: Accounts, services: Services
) -> None:
    accounts.register("ada")
    wrong = client.post("/api/v1/auth/login", json={"username": "ada", "password": "nope nope"})
    assert wrong.status_code == 401
    headers = accounts.register("bob")
    client.get("/api/v1/chat/conversations/nope", headers=headers)
    services.analytics.emitter.flush()
    with services.db.read() as conn:
        rows = conn.all("SELECT name, user_id, properties FROM analytics_events ORDER BY id")
    names = [r["name"] for r in rows]
    assert names.count("auth.login") == 1  # bob; ada registered (the first account)
    failed = [r for r in rows if r["name"] == "auth.login_failed"]
    assert len(failed) == 1 and '"reason":"bad-credentials"' in failed[0]["properties"]
    errors = [r["properties"] for r in rows if r["name"] == "error"]
    assert '"route":"/api/v1/auth/login"' in errors[0] and '"code":"unauthorized"' in errors[0]
    assert '"route":"/api/v1/chat/conversations/{conversation_id}"' in errors[1]
    assert '"code":"not-found"' in errors[1]


def test_a_sign_in_through_an_openid_provider_is_a_login(services: Services) -> None:
    user = services.auth.create_user("eve", "correct horse battery")
    services.auth.open_session(user.id, ClientInfo(address="127.0.0.1", user_agent="test"))
    services.analytics.emitter.flush()
    with services.db.read() as conn:
        rows = conn.all(
            "SELECT user_id, properties FROM analytics_events WHERE name = 'auth.login'"
        )
    assert [(r["user_id"], r["properties"]) for r in rows] == [(user.id, '{"method":"oidc"}')]
