"""A client that goes away mid-stream stops the generation (real HTTP, real server)."""

from __future__ import annotations

import dataclasses
import time

import httpx

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
        deadline = time.monotonic() + 5
        row = None
        while row is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with services.db.read() as conn:
                row = conn.one(
                    "SELECT finish_reason, content FROM messages WHERE role = 'assistant'"
                )
        assert row is not None and row["finish_reason"] == "cancelled"
        assert len(row["content"].split()) < 100
        assert engine.generated_after_cancel <= 1
        # The model was released: another turn goes through at once.
        engine.reply = lambda messages: "quick"
        answer = httpx.post(f"{url}/api/v1/chat/message", json={"text": "again"}, headers=headers)
        assert answer.json()["text"] == "quick"
