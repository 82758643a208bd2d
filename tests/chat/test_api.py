"""``/api/v1/chat`` through the test client, with fake models."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from assistant.services import Services
from assistant.settings import Settings
from server.app import create_app
from tests.chat.conftest import ChatEnv
from tests.conftest import Accounts
from tests.test_api_auth import is_problem

Client = TestClient[Any]


@pytest.fixture
def chat_client(settings: Settings, services: Services, chat_env: ChatEnv) -> Iterator[Client]:
    with TestClient(
        app=create_app(settings, dataclasses.replace(services, chat=chat_env.chat))
    ) as c:
        yield c


@pytest.fixture
def users(chat_client: Client, services: Services) -> Accounts:
    return Accounts(chat_client, services)


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_message_then_follow_up(chat_client: Client, users: Accounts) -> None:
    ada = users.register("ada")
    first = chat_client.post("/api/v1/chat/message", json={"text": "My name is Ada."}, headers=ada)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["text"] == "You said: My name is Ada."
    assert body["model"] == "fake:big"
    assert body["finish_reason"] == "stop"
    assert set(body["timings"]) == {"queue_ms", "first_token_ms", "total_ms"}
    assert body["flags"] == {"summarized": False, "dropped_turns": 0, "summary_used": False}
    second = chat_client.post(
        "/api/v1/chat/message",
        json={"text": "What is my name?", "conversation_id": body["conversation_id"]},
        headers=ada,
    ).json()
    assert second["conversation_id"] == body["conversation_id"]
    conversations = chat_client.get("/api/v1/chat/conversations", headers=ada).json()
    [conversation] = conversations["conversations"]
    assert (conversation["title"], conversation["message_count"]) == ("My name is Ada.", 4)


def test_sse_stream(chat_client: Client, users: Accounts) -> None:
    ada = users.register("ada")
    response = chat_client.post(
        "/api/v1/chat/stream", json={"text": "stream me please"}, headers=ada
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    assert "".join(e["text"] for n, e in events if n == "delta") == "You said: stream me please"
    done = events[-1][1]
    assert done["finish_reason"] == "stop" and done["usage"]["completion_tokens"] == 5


def test_errors_before_the_stream_are_problems(chat_client: Client, users: Accounts) -> None:
    ada = users.register("ada")
    is_problem(
        chat_client.post("/api/v1/chat/stream", json={"text": "x", "model": "nope:1"}, headers=ada),
        503,
        "model-not-installed",
    )
    is_problem(
        chat_client.post(
            "/api/v1/chat/stream", json={"text": "x", "conversation_id": "nope"}, headers=ada
        ),
        404,
        "not-found",
    )
    is_problem(
        chat_client.post("/api/v1/chat/message", json={"text": ""}, headers=ada),
        422,
        "invalid-input",
    )
    is_problem(
        chat_client.post(
            "/api/v1/chat/message", json={"text": "x", "options": {"temperature": 9}}, headers=ada
        ),
        422,
        "invalid-input",
    )
    is_problem(
        chat_client.post(
            "/api/v1/chat/message", json={"text": "x", "images": ["@@@"]}, headers=ada
        ),
        422,
        "invalid-input",
    )


def test_history_pagination_rename_and_deletion(chat_client: Client, users: Accounts) -> None:
    ada = users.register("ada")
    cid = None
    for i in range(3):
        body = chat_client.post(
            "/api/v1/chat/message", json={"text": f"turn {i}", "conversation_id": cid}, headers=ada
        ).json()
        cid = body["conversation_id"]
    page = chat_client.get(
        f"/api/v1/chat/history?conversation_id={cid}&limit=4", headers=ada
    ).json()
    assert [m["text"] for m in page["messages"]] == [
        "You said: turn 2",
        "turn 2",
        "You said: turn 1",
        "turn 1",
    ]
    older = chat_client.get(
        f"/api/v1/chat/history?conversation_id={cid}&limit=4&before={page['next_before']}",
        headers=ada,
    ).json()
    assert [m["text"] for m in older["messages"]] == ["You said: turn 0", "turn 0"]
    assert older["next_before"] is None
    renamed = chat_client.patch(
        f"/api/v1/chat/conversations/{cid}", json={"title": "Numbers"}, headers=ada
    )
    assert renamed.json()["title"] == "Numbers"
    deleted = chat_client.delete(f"/api/v1/chat/history?conversation_id={cid}", headers=ada).json()
    assert deleted == {"deleted_conversations": 1, "deleted_messages": 6}
    is_problem(
        chat_client.get(f"/api/v1/chat/history?conversation_id={cid}", headers=ada),
        404,
        "not-found",
    )
    for text in ("a", "b"):
        chat_client.post("/api/v1/chat/message", json={"text": text}, headers=ada)
    assert chat_client.delete("/api/v1/chat/history", headers=ada).json() == {
        "deleted_conversations": 2,
        "deleted_messages": 4,
    }


def test_one_conversation_shows_the_summary_older_turns_were_folded_into(
    chat_client: Client, users: Accounts, chat_env: ChatEnv
) -> None:
    """The web app shows what the model reads instead of the folded turns: null until a
    conversation outgrows the context, then the running summary (lists leave it out)."""
    chat_env.context_length["fake:big"] = 200

    def reply(messages: Any) -> str:
        if "Summarise the conversation" in messages[0].content:
            return "SUMMARY: Ada likes tea."
        return "fine " * 10

    chat_env.replies["fake:big"] = reply
    ada = users.register("ada")
    first = chat_client.post(
        "/api/v1/chat/message", json={"text": "fact 0", "options": {"max_tokens": 20}}, headers=ada
    ).json()
    cid = first["conversation_id"]
    url = f"/api/v1/chat/conversations/{cid}"
    assert chat_client.get(url, headers=ada).json()["summary"] is None
    flags = []
    for i in range(1, 8):
        body = chat_client.post(
            "/api/v1/chat/message",
            json={
                "text": f"fact number {i}: " + "word " * 10,
                "conversation_id": cid,
                "options": {"max_tokens": 20},
            },
            headers=ada,
        ).json()
        flags.append(body["flags"])
    assert any(f["summarized"] for f in flags), flags
    detail = chat_client.get(url, headers=ada).json()
    assert detail["summary"] == "SUMMARY: Ada likes tea." and detail["has_summary"] is True
    [listed] = chat_client.get("/api/v1/chat/conversations", headers=ada).json()["conversations"]
    assert "summary" not in listed and listed["has_summary"] is True


def test_regenerate_and_edit(chat_client: Client, users: Accounts) -> None:
    ada = users.register("ada")
    first = chat_client.post("/api/v1/chat/message", json={"text": "hello"}, headers=ada).json()
    again = chat_client.post(
        "/api/v1/chat/regenerate", json={"conversation_id": first["conversation_id"]}, headers=ada
    ).json()
    assert again["message_id"] != first["message_id"]
    history = chat_client.get(
        f"/api/v1/chat/history?conversation_id={first['conversation_id']}", headers=ada
    ).json()["messages"]
    assert [m["id"] for m in history if m["role"] == "assistant"] == [again["message_id"]]
    edited = chat_client.post(
        "/api/v1/chat/message",
        json={
            "text": "hello, edited",
            "conversation_id": first["conversation_id"],
            "replace_message_id": again["user_message_id"],
        },
        headers=ada,
    ).json()
    assert edited["text"] == "You said: hello, edited"


def test_other_users_ids_give_404(chat_client: Client, users: Accounts) -> None:
    ada = users.register("ada")
    bob = users.register("bob")
    cid = chat_client.post("/api/v1/chat/message", json={"text": "private"}, headers=ada).json()[
        "conversation_id"
    ]
    for response in (
        chat_client.get(f"/api/v1/chat/history?conversation_id={cid}", headers=bob),
        chat_client.get(f"/api/v1/chat/conversations/{cid}", headers=bob),
        chat_client.patch(f"/api/v1/chat/conversations/{cid}", json={"title": "x"}, headers=bob),
        chat_client.delete(f"/api/v1/chat/conversations/{cid}", headers=bob),
        chat_client.post(
            "/api/v1/chat/message", json={"text": "x", "conversation_id": cid}, headers=bob
        ),
        chat_client.post("/api/v1/chat/regenerate", json={"conversation_id": cid}, headers=bob),
    ):
        is_problem(response, 404, "not-found")
    assert chat_client.get("/api/v1/chat/conversations", headers=bob).json()["conversations"] == []


def test_websocket_turns_cancel_and_errors(
    chat_client: Client, users: Accounts, chat_env: ChatEnv
) -> None:
    ada = users.register("ada")
    token = ada["Authorization"].split()[1]
    with chat_client.websocket_connect(f"/api/v1/chat/ws?access_token={token}") as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        ws.send_json({"type": "message", "text": "first"})
        start = ws.receive_json()
        assert start["type"] == "start"
        received = [ws.receive_json() for _ in range(4)]
        assert [m["type"] for m in received] == ["delta", "delta", "delta", "done"]
        ws.send_json(
            {"type": "message", "text": "second", "conversation_id": start["conversation_id"]}
        )
        types = []
        while not types or types[-1] != "done":
            types.append(ws.receive_json()["type"])
        assert types[0] == "start"
        ws.send_json({"type": "message", "text": ""})
        error = ws.receive_json()
        assert error["type"] == "error" and error["problem"]["code"] == "invalid-input"
        ws.send_json({"type": "dance"})
        assert ws.receive_json()["problem"]["field"] == "type"
        ws.send_json({"type": "cancel"})
        assert ws.receive_json() == {"type": "cancelled", "turn": False}


def test_websocket_needs_credentials(chat_client: Client) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        chat_client.websocket_connect("/api/v1/chat/ws") as ws,
    ):
        ws.receive_json()
    assert caught.value.code == 4401
