"""A client that goes away stops the generation, streamed or not (real HTTP, real server)."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import urllib.parse
from typing import Any

import httpx
import pytest

from assistant.auth import ClientInfo
from assistant.services import Services
from assistant.settings import Settings
from runtime.llm.fake import FakeChatModel
from server.app import create_app
from server.background import serve_in_thread as serve
from tests.chat.conftest import ChatEnv


def test_disconnect_cancels_within_a_token(
    settings: Settings, services: Services, chat_env: ChatEnv
) -> None:
    chat_env.replies["fake:big"] = lambda messages: " ".join(f"w{i}" for i in range(500))
    chat_env.token_seconds["fake:big"] = 0.01
    app = create_app(settings, dataclasses.replace(services, chat=chat_env.chat))
    tokens = services.auth.register("ada", "correct horse battery", ClientInfo()).access_token
    headers = {"Authorization": f"Bearer {tokens}"}
    with serve(app) as url:
        deltas = 0
        with httpx.stream(
            "POST", f"{url}/api/v1/chat/stream", json={"text": "go"}, headers=headers, timeout=10
        ) as response:
            for line in response.iter_lines():
                if line.startswith("event: delta"):
                    deltas += 1
                if deltas == 5:
                    break
        engine: FakeChatModel = chat_env.engines["fake:big"]
        # The model is released, so another turn goes through. It waits for the model, which
        # the abandoned turn holds until its partial reply is stored.
        engine.reply = lambda messages: "quick"
        answer = httpx.post(f"{url}/api/v1/chat/message", json={"text": "again"}, headers=headers)
        assert answer.json()["text"] == "quick"
        with services.db.read() as conn:
            row = conn.one(
                "SELECT finish_reason, content FROM messages WHERE role = 'assistant'"
                " AND conversation_id != ?",
                (answer.json()["conversation_id"],),
            )
        assert row is not None and row["finish_reason"] == "cancelled"
        assert len(row["content"].split()) < 100
        assert engine.generated_after_cancel <= 1


def abandon(url: str, path: str, body: dict[str, Any], token: str, when: threading.Event) -> None:
    """POST ``body`` over a raw socket and hang up, unanswered, once ``when`` is set."""
    address = urllib.parse.urlsplit(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        client.sendall(head.encode() + payload)
        assert when.wait(10), "the model never reached the point to hang up at"


@pytest.mark.parametrize("endpoint", ["message", "regenerate"])
def test_a_whole_reply_stops_when_its_client_goes_away(
    settings: Settings, services: Services, chat_env: ChatEnv, endpoint: str
) -> None:
    """The non-streaming turns stop as the streams do: the model, paused after five
    tokens, is cancelled by the disconnect (without it the pause runs out and the model
    writes the other 195 tokens); the partial reply is kept and the model is free."""
    app = create_app(settings, dataclasses.replace(services, chat=chat_env.chat))
    token = services.auth.register("ada", "correct horse battery", ClientInfo()).access_token
    headers = {"Authorization": f"Bearer {token}"}
    with serve(app) as url:
        first = httpx.post(f"{url}/api/v1/chat/message", json={"text": "hi"}, headers=headers)
        conversation_id = first.json()["conversation_id"]
        engine = chat_env.engines["fake:big"]
        engine.reply = lambda messages: " ".join(f"w{i}" for i in range(200))
        engine.hold_after = 5
        body: dict[str, Any] = {"conversation_id": conversation_id}
        if endpoint == "message":
            body["text"] = "talk a lot"
        abandon(url, f"/api/v1/chat/{endpoint}", body, token, engine.holding)
        reason, produced = engine.wait_for_finishes(2)[1]
        assert (reason, produced - engine.hold_after) == ("cancelled", 0)
        assert engine.generated_after_cancel == 0
        # The model was released: the next turn goes through. It waits for the model, which
        # the abandoned turn holds until its partial reply is stored.
        engine.hold_after, engine.reply = None, (lambda messages: "quick")
        again = httpx.post(f"{url}/api/v1/chat/message", json={"text": "again"}, headers=headers)
        assert again.json()["text"] == "quick"
        with services.db.read() as conn:
            kept = conn.one(
                "SELECT finish_reason, content FROM messages WHERE role = 'assistant'"
                " AND conversation_id = ? ORDER BY seq DESC LIMIT 1",
                (conversation_id,),
            )
        assert kept is not None and kept["finish_reason"] == "cancelled"
        assert kept["content"] == "w0 w1 w2 w3 w4"
