"""Every shipped skill end to end through ``POST /api/v1/chat/message`` (no models
installed: what needs one answers with the command that installs it)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient

from assistant.services import Services
from tests.conftest import Accounts
from tests.vision.pictures import encode

Client = TestClient[Any]


@pytest.fixture
def ada(accounts: Accounts) -> dict[str, str]:
    return accounts.register("ada")


def say(client: Client, headers: dict[str, str], text: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/chat/message", json={"text": text, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    assert reply["skill"] is not None, f"{text!r} went to chat"
    return reply


def test_time_in_a_city(client: Client, ada: dict[str, str]) -> None:
    reply = say(client, ada, "What's the time in Tokyo?")
    assert reply["skill"]["intent"] == "time.now"
    assert reply["skill"]["arguments"]["time_zone"] == "Asia/Tokyo"
    assert reply["text"].startswith("It's ") and "Tokyo" in reply["text"]
    assert reply["model"] == "" and reply["usage"]["completion_tokens"] == 0


def test_a_timer_and_its_bad_slot(client: Client, ada: dict[str, str]) -> None:
    reply = say(client, ada, "set a timer for banana minutes")
    assert reply["skill"]["question"] is True
    assert reply["text"] == "How long should the timer run? For example, 'five minutes'."
    reply = say(client, ada, "set a pasta timer for 8 minutes")
    assert reply["skill"]["arguments"] == {"seconds": 480, "name": "pasta"}
    timers = client.get("/api/v1/timers", headers=ada).json()
    assert [t["name"] for t in timers["items"]] == ["pasta"]


def test_a_reminder_at_an_impossible_time_is_asked_back(
    client: Client, ada: dict[str, str]
) -> None:
    reply = say(client, ada, "remind me at 25 o'clock to call Mum")
    assert reply["skill"]["intent"] == "reminder.add" and reply["skill"]["question"] is True
    assert "25 o'clock" in reply["text"]
    assert client.get("/api/v1/reminders", headers=ada).json() == {"items": []}


def test_lists_and_notes(client: Client, ada: dict[str, str]) -> None:
    say(client, ada, "add milk and eggs to the shopping list")
    reply = say(client, ada, "what's on my shopping list")
    assert reply["skill"]["intent"] == "list.show"
    assert "milk" in reply["text"] and "eggs" in reply["text"]
    say(client, ada, "note that the code is 1234")
    assert "1234" in say(client, ada, "read my notes")["text"]


def test_control_changes_the_speaking_rate(
    client: Client, ada: dict[str, str], services: Services
) -> None:
    reply = say(client, ada, "speak slower")
    assert reply["skill"]["intent"] == "control.slower"
    preferences = client.get("/api/v1/profile/preferences", headers=ada).json()
    rate = preferences["preferences"]["speaking_rate"]
    assert rate == pytest.approx(0.9)
    stopped = say(client, ada, "stop")
    assert stopped["skill"]["intent"] == "control.stop" and stopped["text"] == "Stopped."


def test_look_and_translate_name_the_model_to_install(client: Client, ada: dict[str, str]) -> None:
    picture = base64.b64encode(encode(np.zeros((64, 64, 3), np.uint8))).decode()
    reply = say(client, ada, "read this to me", images=[picture])
    assert reply["skill"]["intent"] == "look.read"
    assert reply["skill"]["data"]["error"] == "model-not-installed"
    assert "assistant models pull" in reply["text"]
    reply = say(client, ada, "how do you say thank you in Spanish")
    assert reply["skill"]["arguments"]["target"] == "es"
    assert reply["skill"]["data"]["error"] == "model-not-installed"
    assert "assistant models pull" in reply["text"]


def test_a_turned_off_skill_and_a_near_miss_go_to_chat(client: Client, ada: dict[str, str]) -> None:
    client.patch(
        "/api/v1/profile/preferences", json={"disabled_skills": ["time"]}, headers=ada
    ).raise_for_status()
    skills = {s["name"]: s for s in client.get("/api/v1/skills", headers=ada).json()["skills"]}
    assert skills["time"]["enabled"] is False and skills["timer"]["enabled"] is True
    assert skills["timer"]["examples"]["en"]
    for text in ("what time is it", "what's a good timer app"):
        response = client.post("/api/v1/chat/message", json={"text": text}, headers=ada)
        # No chat model is installed: the chat model was asked (and is missing).
        assert response.status_code == 503, response.text
        assert "assistant models pull" in response.json()["detail"]
