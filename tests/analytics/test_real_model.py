"""Real use on the real offline Qwen model reaches the dashboard: two chat turns, the
model's load with its memory, the prompt cache's reuse, the decode speed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.services import build_services
from server.app import create_app
from tests.conftest import Accounts, real_settings

pytestmark = pytest.mark.real_model
QWEN = "qwen2.5-coder:0.5b-iq4nl"  # the offline profile's chat model


def test_real_chat_turns_show_on_the_dashboard(tmp_path: Path, model_dir: Any) -> None:
    model_dir(QWEN)  # fails with the install command if missing
    services = build_services(real_settings(tmp_path), hasher=PasswordHasher.fast_for_tests())
    with TestClient(app=create_app(services.settings, services)) as client:
        ada = Accounts(client, services).register("ada")
        options = {"temperature": 0.0, "max_tokens": 8}
        first = client.post(
            "/api/v1/chat/message",
            json={"text": "Name three colours.", "options": options},
            headers=ada,
        ).json()
        client.post(
            "/api/v1/chat/message",
            json={
                "text": "And three more?",
                "conversation_id": first["conversation_id"],
                "options": options,
            },
            headers=ada,
        )
        services.analytics.emitter.flush()
        board = client.get("/api/v1/analytics/dashboard", headers=ada).json()
    services.close()
    usage = {s["name"]: s["total"] for s in board["usage"]}
    assert usage["chat.turn"] == 2
    (qwen,) = [m for m in board["models"] if m["model"] == QWEN]
    assert qwen["turns"] == 2 and qwen["loads"] == 1
    assert qwen["memory_mb"] >= 300  # the manifest's estimate at least
    assert qwen["tokens_per_second_p50"] > 1
    assert board["cache"]["cached_tokens"] > 0  # the second turn reused the first's prompt
    latency = {r["measure"]: r for r in board["latency"]}
    assert latency["first_token_ms"]["count"] == 2
