"""``WS /api/v1/voice/stream`` on the real offline models, through a real server.

(Litestar's test client polls its WebSocket queues in a busy loop, which starves the
speech engines' threads; a real server and client show the real behaviour.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from assistant.auth import ClientInfo, PasswordHasher
from assistant.services import build_services
from server.app import create_app
from server.background import serve_in_thread as serve
from tests.conftest import real_settings
from tests.voice.speech import chunk_of, say, silence

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def stream_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = real_settings(Path(tmp_path_factory.mktemp("voice-ws")))
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    token = services.auth.register("ada", "correct horse battery", ClientInfo()).access_token
    with serve(create_app(settings, services)) as url:
        yield url.replace("http://", "ws://") + f"/api/v1/voice/stream?access_token={token}"
    services.close()


def receive_until(
    ws: ClientConnection, last: str, limit: int = 5000
) -> tuple[list[dict[str, Any]], int]:
    """JSON messages up to one of type ``last`` (or an error), and the binary frames between."""
    messages: list[dict[str, Any]] = []
    binary = 0
    for _ in range(limit):
        message = ws.recv(timeout=120)
        if isinstance(message, bytes):
            binary += 1
            continue
        data = json.loads(message)
        messages.append(data)
        if data["type"] in (last, "error"):
            return messages, binary
    raise AssertionError(f"no {last} message")


def send_audio(ws: ClientConnection, *parts: Any) -> None:
    audio = chunk_of(*parts).audio
    for start in range(0, len(audio), 3200):  # 100 ms frames
        ws.send(audio[start : start + 3200])


def test_dictation(stream_url: str) -> None:
    with connect(stream_url) as ws:
        ws.send(json.dumps({"type": "start", "mode": "transcribe", "language": "en"}))
        assert json.loads(ws.recv(timeout=30)) == {
            "type": "ready",
            "rate": 16000,
            "mode": "transcribe",
        }
        send_audio(
            ws, silence(0.5), say("The weather is lovely and the sun is shining."), silence(1.0)
        )
        ws.send(json.dumps({"type": "stop"}))
        messages, _ = receive_until(ws, "end")
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "speech-start" and "speech-end" in kinds and kinds[-1] == "end"
    [transcript] = [m for m in messages if m["type"] == "transcript"]
    assert "weather" in transcript["text"].lower() and "sun" in transcript["text"].lower()


def test_conversation_turn_with_audio_back(stream_url: str) -> None:
    with connect(stream_url) as ws:
        ws.send(json.dumps({"type": "start", "mode": "conversation", "rate": 16000}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        send_audio(ws, silence(0.3), say("What is the capital of France?"), silence(1.2))
        messages, binary = receive_until(ws, "run-end")
        kinds = [m["type"] for m in messages]
        assert "stt-end" in kinds and "tts-start" in kinds and "audio-start" in kinds, kinds
        heard = next(m for m in messages if m["type"] == "stt-end")
        assert "france" in heard["text"].lower()
        audio_start = next(m for m in messages if m["type"] == "audio-start")
        assert audio_start["rate"] == 22050 and binary > 0
        assert messages[-1]["outcome"] == "completed"
        ws.send(json.dumps({"type": "stop"}))
        tail, _ = receive_until(ws, "end")
        assert tail[-1]["type"] == "end"


def test_a_bad_start_message_is_refused(stream_url: str) -> None:
    with connect(stream_url) as ws:
        ws.send(json.dumps({"type": "start", "rate": 5}))
        error = json.loads(ws.recv(timeout=30))
    assert error["type"] == "error"
    assert error["problem"]["field"] == "rate"


def test_push_to_talk_hears_only_between_listen_and_release(stream_url: str) -> None:
    """Speech before ``listen`` is not heard (no run starts, no follow-up window opens);
    the command is the audio between ``listen`` and ``release``, which apply in line with
    the frames sent around them however far behind the pipeline runs."""
    with connect(stream_url) as ws:
        ws.send(json.dumps({"type": "start", "mode": "conversation", "push_to_talk": True}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        send_audio(ws, silence(0.3), say("The weather is lovely today."), silence(0.5))
        ws.send(json.dumps({"type": "listen"}))
        send_audio(ws, say("What is the capital of France?"))
        ws.send(json.dumps({"type": "release"}))
        send_audio(ws, say("Tell me about the weather."), silence(0.5))
        messages, binary = receive_until(ws, "run-end")
        # Unheard audio goes on (a held-open microphone); no follow-up run starts.
        send_audio(ws, say("And what about Spain?"), silence(1.5))
        ws.send(json.dumps({"type": "stop"}))
        tail, _ = receive_until(ws, "end")
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "run-start" and kinds.count("run-start") == 1, kinds
    stt_start = next(m for m in messages if m["type"] == "stt-start")
    assert stt_start["trigger"] == "push-to-talk"
    heard = next(m for m in messages if m["type"] == "stt-end")["text"].lower()
    assert "france" in heard and "weather" not in heard, heard
    assert binary > 0 and messages[-1]["outcome"] == "completed"
    assert [m["type"] for m in tail] == ["end"], tail


def test_an_unknown_command_names_release(stream_url: str) -> None:
    with connect(stream_url) as ws:
        ws.send(json.dumps({"type": "start", "push_to_talk": True}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        ws.send(json.dumps({"type": "press"}))
        error = json.loads(ws.recv(timeout=30))
    assert error["type"] == "error" and error["problem"]["field"] == "type"
    assert "release" in error["problem"]["detail"]
