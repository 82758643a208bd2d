"""The chat service and API on the real offline Qwen model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from server.app import create_app
from tests.conftest import Accounts, real_settings

pytestmark = pytest.mark.real_model
QWEN = "qwen2.5-coder:0.5b-iq4nl"  # the offline profile's chat model


def real_services(tmp_path: Path, **model_settings: Any) -> Services:
    """Fresh database, the shared model store (installed by scripts/test)."""
    settings = real_settings(tmp_path, models=model_settings)
    return build_services(settings, hasher=PasswordHasher.fast_for_tests())


@pytest.fixture
def real_client(tmp_path: Path, model_dir: Any) -> Iterator[tuple[TestClient[Any], Services]]:
    model_dir(QWEN)  # fails with the install command if missing
    services = real_services(tmp_path)
    with TestClient(app=create_app(services.settings, services)) as client:
        yield client, services
    services.close()


def test_two_turns_remember_the_name(real_client: tuple[TestClient[Any], Services]) -> None:
    client, services = real_client
    ada = Accounts(client, services).register("ada")
    greedy = {"temperature": 0.0, "max_tokens": 48}
    first = client.post(
        "/api/v1/chat/message", json={"text": "My name is Ada.", "options": greedy}, headers=ada
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["model"] == QWEN
    second = client.post(
        "/api/v1/chat/message",
        json={
            "text": "What is my name?",
            "conversation_id": body["conversation_id"],
            "options": greedy,
        },
        headers=ada,
    ).json()
    assert "Ada" in second["text"]
    # The follow-up reused the prompt cache: only the new tokens were evaluated.
    assert second["usage"]["cached_prompt_tokens"] > 0


def test_a_long_conversation_is_summarised_and_flagged(tmp_path: Path, model_dir: Any) -> None:
    model_dir(QWEN)
    # A context this small fills in three turns: the fourth is summarised, the fifth reads
    # the summary (every turn is a model call, and the summary's the slowest).
    services = real_services(tmp_path, params={QWEN: {"context_length": 448}})
    with TestClient(app=create_app(services.settings, services)) as client:
        ada = Accounts(client, services).register("ada")
        options = {"temperature": 0.0, "max_tokens": 40}
        conversation_id = None
        flags = []
        facts = [
            "My name is Ada and I live in Lyon.",
            "I have a cat called Pixel who likes to sleep on the piano.",
            "My favourite food is ratatouille, especially in summer.",
            "I work as an engineer building small robots for schools.",
            "On weekends I cycle along the Rhone with my sister Claire.",
        ]
        for fact in facts:
            body = client.post(
                "/api/v1/chat/message",
                json={"text": fact, "conversation_id": conversation_id, "options": options},
                headers=ada,
            ).json()
            conversation_id = body["conversation_id"]
            flags.append(body["flags"])
        assert any(f["summarized"] for f in flags[:-1]), flags
        assert flags[-1]["summary_used"] and flags[-1]["dropped_turns"] > 0
        history = client.get(
            f"/api/v1/chat/history?conversation_id={conversation_id}&limit=200", headers=ada
        ).json()["messages"]
        assert len(history) == 2 * len(facts)  # nothing deleted, only summarised
        assert conversation_id is not None
        conversation = services.history.conversation(
            client.get("/api/v1/auth/me", headers=ada).json()["id"], conversation_id
        )
        assert conversation.summary
    services.close()
