"""Every face's error answers, compared with a recorded table.

The table (``tests/data/error_table.json``) holds, per case, the status, the media type,
the headers clients read (Retry-After, WWW-Authenticate, Allow) and the whole body with
the request id masked. It was recorded before the error trees were split per layer and
classified in one place, so any change to what a client sees shows up here as a diff.
A deliberate change re-records it: ``UPDATE_ERROR_TABLE=1 pytest tests/test_error_table.py``,
and the diff of the JSON file is reviewed with the code.
"""

from __future__ import annotations

import io
import json
import os
import threading
import wave
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.chat.routing import RoutingRules
from assistant.chat.service import ChatService
from assistant.services import Services, build_services
from assistant.settings import Settings
from runtime.engines import Capability
from runtime.errors import ResourceExhausted
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions
from runtime.llm.fake import FakeChatModel
from runtime.manager import ModelManager
from server.app import create_app
from tests.chat.conftest import FakeCatalogue
from tests.conftest import Accounts, real_settings

Client = TestClient[Any]
TABLE = Path(__file__).parent / "data" / "error_table.json"
HEADERS = ("retry-after", "www-authenticate", "allow")
PASSWORD = "correct horse battery"


class FailingChatModel(FakeChatModel):
    """Writes one word, then fails the way the case says."""

    def __init__(self, model_id: str, error: Callable[[], Exception]) -> None:
        super().__init__(model_id)
        self.error = error

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        yield ChatDelta(text="Hello")
        raise self.error()


@dataclass
class Face:
    """A running app and the credentials of its users."""

    client: Client
    services: Services
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


@contextmanager
def _app(settings: Settings) -> Iterator[Face]:
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    try:
        with TestClient(app=create_app(settings, services)) as client:
            accounts = Accounts(client, services)
            face = Face(client, services)
            face.headers = {"admin": accounts.register("ada"), "user": accounts.register("bob")}
            yield face
    finally:
        services.close()


FAILURES: dict[str, Callable[[], Exception]] = {
    "fake:unexpected": lambda: RuntimeError("boom"),
    "fake:busy": lambda: ResourceExhausted("the model ran out of room", model_id="x"),
}


def _failing_model(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> Any:
    return FailingChatModel(model_id, FAILURES[model_id])


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Face]:
    """No models installed; a chat service whose fake models fail mid-reply."""
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("bare") / "data")
    with _app(settings) as face:
        catalogue = FakeCatalogue({model_id: (Capability.LLM, 10) for model_id in FAILURES})
        manager = ModelManager(
            catalogue,  # type: ignore[arg-type]
            budget_mb=1000,
            loader=_failing_model,
            memory_probe=lambda: 0.0,
        )
        face.services.chat = ChatService(
            face.services.db,
            manager,
            catalogue,
            face.services.profile,
            rules=RoutingRules(default_model=None, route_short_to_smallest=False),
        )
        yield face


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Face]:
    """The offline profile's real voice models."""
    with _app(real_settings(tmp_path_factory.mktemp("real"))) as face:
        yield face


def _wav(samples: bytes, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples)
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    """One request and who sends it."""

    face: str
    method: str
    path: str
    who: str | None = "user"
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, Any] | None = None
    data: Mapping[str, str] | None = None
    before: Callable[[Face], None] | None = None


def _throttle(face: Face) -> None:
    for _ in range(5):
        face.client.post("/api/v1/auth/login", json={"username": "carol", "password": "wrong"})


def _add_carol(face: Face) -> None:
    face.services.auth.create_user("carol", PASSWORD)


JSON = {"content-type": "application/json"}
SILENCE = _wav(b"\x00\x00" * 16_000)
CHAT = {"model": "fake:unexpected", "messages": [{"role": "user", "content": "hi"}]}
IMAGE_PNG = {"content-type": "image/png"}
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)

CASES: dict[str, Case] = {
    # Authentication and authorisation
    "no-credentials": Case("bare", "GET", "/api/v1/profile", who=None),
    "basic-scheme": Case(
        "bare", "GET", "/api/v1/profile", who=None, headers={"authorization": "Basic abc"}
    ),
    "bad-token": Case(
        "bare", "GET", "/api/v1/profile", who=None, headers={"authorization": "Bearer nope"}
    ),
    "admin-only": Case("bare", "PUT", "/api/v1/auth/registration", json={"open": True}),
    "wrong-password": Case(
        "bare",
        "POST",
        "/api/v1/auth/login",
        who=None,
        json={"username": "bob", "password": "wrong horse"},
    ),
    "login-throttled": Case(
        "bare",
        "POST",
        "/api/v1/auth/login",
        who=None,
        json={"username": "carol", "password": "wrong"},
        before=lambda face: (_add_carol(face), _throttle(face)),  # type: ignore[func-returns-value]
    ),
    # Malformed and invalid bodies
    "malformed-json": Case(
        "bare", "POST", "/api/v1/auth/login", who=None, content=b"{", headers=JSON
    ),
    "not-utf8": Case(
        "bare",
        "POST",
        "/api/v1/auth/login",
        who=None,
        content=b'{"username": "\xff", "password": "x"}',
        headers=JSON,
    ),
    "missing-fields": Case("bare", "POST", "/api/v1/auth/users", who="admin", json={}),
    "short-password": Case(
        "bare", "POST", "/api/v1/auth/users", who="admin", json={"username": "x", "password": "a"}
    ),
    "duplicate-user": Case(
        "bare",
        "POST",
        "/api/v1/auth/users",
        who="admin",
        json={"username": "bob", "password": PASSWORD},
    ),
    "body-too-large": Case(
        "bare",
        "POST",
        "/api/v1/auth/login",
        who=None,
        content=b'{"username": "' + b"a" * 1_100_000 + b'"}',
        headers=JSON,
    ),
    "stale-if-match": Case(
        "bare", "PATCH", "/api/v1/profile", json={"display_name": "B"}, headers={"if-match": '"99"'}
    ),
    "bad-if-match": Case(
        "bare", "PATCH", "/api/v1/profile", json={"display_name": "B"}, headers={"if-match": "abc"}
    ),
    "unknown-preference": Case(
        "bare", "PATCH", "/api/v1/profile/preferences", json={"colour": "blue"}
    ),
    "avatar-not-an-image": Case("bare", "PUT", "/api/v1/profile/avatar", content=b"hello"),
    "avatar-too-large": Case(
        "bare", "PUT", "/api/v1/profile/avatar", content=b"\x89PNG\r\n\x1a\n" + bytes(2_050_000)
    ),
    # Routing
    "unknown-route": Case("bare", "GET", "/api/v1/nothing"),
    "wrong-method": Case("bare", "DELETE", "/api/v1/auth/me"),
    "unknown-conversation": Case("bare", "GET", "/api/v1/chat/conversations/nope"),
    "unknown-list": Case("bare", "GET", "/api/v1/lists/nope"),
    "list-without-a-name": Case("bare", "POST", "/api/v1/lists/list/items", json={"text": "milk"}),
    # Models
    "chat-no-model": Case(
        "bare", "POST", "/api/v1/chat/message", json={"text": "hi", "model": "x:1"}
    ),
    "chat-empty": Case("bare", "POST", "/api/v1/chat/message", json={"text": "  "}),
    "chat-stream-no-model": Case(
        "bare", "POST", "/api/v1/chat/stream", json={"text": "hi", "model": "x:1"}
    ),
    "chat-stream-fails-midway": Case(
        "bare", "POST", "/api/v1/chat/stream", json={"text": "hi", "model": "fake:unexpected"}
    ),
    "chat-stream-busy-midway": Case(
        "bare", "POST", "/api/v1/chat/stream", json={"text": "hi", "model": "fake:busy"}
    ),
    "models-load-as-user": Case("bare", "POST", "/api/v1/models/x:1/load"),
    "models-unload-not-loaded": Case("bare", "POST", "/api/v1/models/x:1/unload", who="admin"),
    "transcribe-no-model": Case("bare", "POST", "/api/v1/voice/transcribe", content=SILENCE),
    "synthesize-no-model": Case("bare", "POST", "/api/v1/voice/synthesize", json={"text": "Hi."}),
    # Identity and sync
    "oidc-unknown-provider": Case("bare", "GET", "/api/v1/auth/oidc/nope/login", who=None),
    "sync-not-configured": Case("bare", "POST", "/api/v1/sync/now"),
    "changes-stale-cursor": Case(
        "bare",
        "POST",
        "/api/v1/profile/changes",
        json={"device": "d1", "changes": []},
        headers={"if-match": '"0"'},
        before=lambda face: face.client.patch(  # type: ignore[func-returns-value]
            "/api/v1/profile/preferences", json={"tone": "formal"}, headers=face.headers["user"]
        ),
    ),
    # OpenAI face
    "openai-no-credentials": Case("bare", "GET", "/v1/models", who=None),
    "openai-bad-body": Case("bare", "POST", "/v1/chat/completions", json={"model": "x"}),
    "openai-no-model": Case(
        "bare",
        "POST",
        "/v1/chat/completions",
        json={"model": "nope:1", "messages": [{"role": "user", "content": "hi"}]},
    ),
    "openai-unknown-model": Case("bare", "GET", "/v1/models/nope:1"),
    "openai-unknown-endpoint": Case("bare", "POST", "/v1/embeddings", json={}),
    "openai-stream-fails-midway": Case(
        "bare", "POST", "/v1/chat/completions", json={**CHAT, "stream": True}
    ),
    "openai-fails": Case("bare", "POST", "/v1/chat/completions", json=CHAT),
    "openai-transcribe-no-model": Case(
        "bare", "POST", "/v1/audio/transcriptions", files={"file": ("a.wav", SILENCE)}
    ),
    "openai-speech-no-model": Case(
        "bare",
        "POST",
        "/v1/audio/speech",
        json={"model": "tts-1", "input": "Hi.", "voice": "alloy"},
    ),
    # Ollama face
    "ollama-no-credentials": Case("bare", "GET", "/api/tags", who=None),
    "ollama-bad-body": Case("bare", "POST", "/api/chat", json={"messages": 3}),
    "ollama-no-model": Case(
        "bare",
        "POST",
        "/api/chat",
        json={"model": "nope:1", "messages": [{"role": "user", "content": "hi"}]},
    ),
    "ollama-stream-fails-midway": Case("bare", "POST", "/api/chat", json=CHAT),
    # Translation and the LibreTranslate face (no translation or chat model installed)
    "translate-no-engine": Case(
        "bare",
        "POST",
        "/api/v1/translate/text",
        json={"text": "Hi.", "source": "en", "target": "fr"},
    ),
    "translate-empty": Case(
        "bare", "POST", "/api/v1/translate/text", json={"text": " ", "target": "fr"}
    ),
    "translate-unknown-language": Case(
        "bare", "POST", "/api/v1/translate/text", json={"text": "Hi.", "target": "zz"}
    ),
    "libretranslate-no-key": Case(
        "bare", "POST", "/translate", who=None, data={"q": "Hi", "source": "en", "target": "fr"}
    ),
    "libretranslate-bad-key": Case(
        "bare",
        "POST",
        "/translate",
        who=None,
        json={"q": "Hi", "source": "en", "target": "fr", "api_key": "nope"},
    ),
    "libretranslate-missing-q": Case("bare", "POST", "/translate", json={"source": "en"}),
    "libretranslate-unsupported": Case(
        "bare", "POST", "/translate", json={"q": "Hi", "source": "en", "target": "zz"}
    ),
    "libretranslate-no-engine": Case(
        "bare", "POST", "/translate", json={"q": "Hi", "source": "en", "target": "fr"}
    ),
    # Timers and reminders
    "timer-unknown": Case("bare", "GET", "/api/v1/timers/nope"),
    "timer-too-short": Case("bare", "POST", "/api/v1/timers", json={"seconds": 0}),
    "reminder-no-time": Case("bare", "POST", "/api/v1/reminders", json={"text": "call Mum"}),
    # Voice, with the real models installed
    "vision-no-detector": Case(
        "bare", "POST", "/api/v1/vision/detect", content=PNG_1PX, headers=IMAGE_PNG
    ),
    "vision-wrong-media-type": Case(
        "bare",
        "POST",
        "/api/v1/vision/ocr",
        content=b"hello",
        headers={"content-type": "text/plain"},
    ),
    "vision-not-an-image": Case(
        "bare", "POST", "/api/v1/vision/ocr", content=b"garbage!", headers=IMAGE_PNG
    ),
    "vision-no-image": Case("bare", "POST", "/api/v1/vision/analyze", json={"store": True}),
    "vision-unknown-image": Case("bare", "GET", "/api/v1/vision/images/nope"),
    "transcribe-unreadable": Case("real", "POST", "/api/v1/voice/transcribe", content=b"garbage!"),
    "transcribe-empty": Case("real", "POST", "/api/v1/voice/transcribe", content=b""),
    "transcribe-silent": Case("real", "POST", "/api/v1/voice/transcribe", content=SILENCE),
    "transcribe-bad-format": Case(
        "real", "POST", "/api/v1/voice/transcribe?format=doc", content=SILENCE
    ),
    "transcribe-unknown-model": Case(
        "real", "POST", "/api/v1/voice/transcribe?model=nope:1", content=SILENCE
    ),
    "transcribe-wrong-capability": Case(
        "real",
        "POST",
        "/api/v1/voice/transcribe?model=piper:en_US-joe-medium",
        content=SILENCE,
    ),
    "synthesize-empty": Case("real", "POST", "/api/v1/voice/synthesize", json={"text": "  "}),
    "synthesize-bad-format": Case(
        "real", "POST", "/api/v1/voice/synthesize", json={"text": "Hi.", "format": "doc"}
    ),
    "synthesize-too-long": Case(
        "real", "POST", "/api/v1/voice/synthesize", json={"text": "word " * 1200}
    ),
    "openai-transcribe-unreadable": Case(
        "real", "POST", "/v1/audio/transcriptions", files={"file": ("a.wav", b"garbage!")}
    ),
    "openai-transcribe-bad-format": Case(
        "real",
        "POST",
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", SILENCE)},
        data={"response_format": "doc"},
    ),
}


def _masked(value: Any, request_id: str | None) -> Any:
    if isinstance(value, dict):
        return {
            k: "<id>" if k == "request_id" else _masked(v, request_id) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v, request_id) for v in value]
    if isinstance(value, str) and request_id:
        return value.replace(request_id, "<id>")
    return value


def _body(text: str, media_type: str, request_id: str | None) -> Any:
    if media_type in ("application/json", "application/problem+json"):
        return _masked(json.loads(text), request_id)
    if media_type == "application/x-ndjson":
        lines = [json.loads(line) for line in text.splitlines()]
        # Times and content vary; the error lines are what matter.
        return [_masked(line, request_id) if "error" in line else "line" for line in lines]
    if media_type == "text/event-stream":
        events = [block for block in text.split("\n\n") if block.strip()]
        return [_masked(_sse(block), request_id) for block in events]
    return text


def _sse(block: str) -> Any:
    event, data = "message", ""
    for line in block.splitlines():
        name, _, value = line.partition(": ")
        if name == "event":
            event = value
        elif name == "data":
            data = value
    if event != "error" and (data == "[DONE]" or '"error"' not in data):
        return {"event": event}  # content and ids vary; the error events are what matter
    return {"event": event, "data": json.loads(data)}


def _header(value: str) -> str:
    # Litestar lists allowed methods in set order: compare them as a set.
    return ", ".join(sorted(value.split(", ")))


def _answer(faces: dict[str, Face], case: Case) -> dict[str, Any]:
    face = faces[case.face]
    if case.before is not None:
        case.before(face)
    headers = {**(face.headers[case.who] if case.who else {}), **case.headers}
    response = face.client.request(
        case.method,
        case.path,
        json=case.json,
        content=case.content,
        headers=headers,
        files=case.files,
        data=case.data,
    )
    media_type = response.headers.get("content-type", "").split(";")[0]
    request_id = response.headers.get("x-request-id")
    return {
        "status": response.status_code,
        "media_type": media_type,
        "headers": {h: _header(response.headers[h]) for h in HEADERS if h in response.headers},
        "body": _body(response.text, media_type, request_id),
    }


def _websocket_answers(faces: dict[str, Face]) -> dict[str, Any]:
    face = faces["bare"]
    token = face.headers["user"]["Authorization"].removeprefix("Bearer ")
    answers: dict[str, Any] = {}
    with face.client.websocket_connect(f"/api/v1/chat/ws?access_token={token}") as socket:
        socket.send_json({"type": "dance"})
        answers["chat-ws-unknown-type"] = _masked(socket.receive_json(), None)
        socket.send_json({"type": "message", "text": ""})
        answers["chat-ws-invalid-message"] = _masked(socket.receive_json(), None)
        socket.send_json({"type": "message", "text": "hi", "model": "x:1"})
        answers["chat-ws-no-model"] = _masked(socket.receive_json(), None)
    with face.client.websocket_connect(f"/api/v1/voice/stream?access_token={token}") as socket:
        socket.send_json({"type": "begin"})
        answers["voice-ws-bad-start"] = _masked(socket.receive_json(), None)
    return answers


@pytest.fixture(scope="module")
def answers(bare: Face, real: Face) -> dict[str, Any]:
    faces = {"bare": bare, "real": real}
    recorded = {name: _answer(faces, case) for name, case in CASES.items()}
    recorded.update(_websocket_answers(faces))
    if os.environ.get("UPDATE_ERROR_TABLE") == "1":
        TABLE.parent.mkdir(exist_ok=True)
        TABLE.write_text(json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return recorded


EXPECTED: dict[str, Any] = json.loads(TABLE.read_text()) if TABLE.exists() else {}


@pytest.mark.real_model
@pytest.mark.parametrize("name", sorted(set(EXPECTED) | set(CASES)))
def test_error_answers_are_unchanged(answers: dict[str, Any], name: str) -> None:
    assert name in EXPECTED, f"{name} is not in {TABLE.name}: record it (see the module docstring)"
    assert answers[name] == EXPECTED[name]
