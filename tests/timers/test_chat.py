"""The timer and reminder skills end to end through ``POST /api/v1/chat/message``: the
router (templates, match, run), the reply with its ``skill`` field, and the timer firing
into the notifications."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.clock import ManualClock
from assistant.services import Services
from assistant.skills.reminder import ReminderSkill
from assistant.skills.router import SkillRouter
from assistant.skills.templates import Templates
from assistant.skills.timer import TimerSkill
from tests.conftest import Accounts

Client = TestClient[Any]
CHAT = "/api/v1/chat/message"


@pytest.fixture
def ada(client: Client, services: Services, clock: ManualClock) -> dict[str, str]:
    """A signed-in user whose chat asks these two skills first (as the catalogue will)."""
    timers = services.timers.service
    services.chat.skills = SkillRouter(
        [TimerSkill(timers), ReminderSkill(timers)], Templates.load(), services.profile, clock=clock
    )
    return Accounts(client, services).register("ada")


def say(client: Client, headers: dict[str, str], text: str) -> dict[str, Any]:
    response = client.post(CHAT, json={"text": text}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_timer_set_in_chat_fires_into_the_notifications(
    client: Client, ada: dict[str, str], clock: ManualClock
) -> None:
    reply = say(client, ada, "Set a pasta timer for 8 minutes.")
    assert reply["text"] == "Pasta timer set for 8 minutes."
    skill = reply["skill"]
    assert (skill["name"], skill["intent"], skill["stage"]) == ("timer", "timer.start", "template")
    assert skill["arguments"] == {"seconds": 480.0, "name": "pasta"}
    clock.advance(200)
    reply = say(client, ada, "how much time is left on the pasta timer")
    assert reply["text"] == "4 minutes and 40 seconds left on the pasta timer."
    clock.advance(280)
    deadline = time.monotonic() + 30  # the app's scheduler looks at least every second
    while True:
        history = client.get("/api/v1/notifications/history", headers=ada).json()
        if history["notifications"]:
            break
        assert time.monotonic() < deadline, "the timer never fired"
        time.sleep(0.05)
    [note] = history["notifications"]
    assert (note["category"], note["body"]) == ("timer", "Your pasta timer is done.")
    assert say(client, ada, "what timers do I have")["text"] == "You have no timers."


def test_bad_slots_and_missing_timers_are_answered_not_chatted(
    client: Client, ada: dict[str, str]
) -> None:
    reply = say(client, ada, "set a timer for banana minutes")
    assert reply["text"] == "How long should the timer run? For example, 'five minutes'."
    assert reply["skill"]["question"] is True
    reply = say(client, ada, "remind me at 25 o'clock")
    assert reply["text"] == "I couldn't understand the time '25 o'clock'. When should I remind you?"
    reply = say(client, ada, "cancel the timer")
    assert reply["skill"]["name"] == "timer" and reply["text"] == "You have no timers running"
    say(client, ada, "set a timer for 5 minutes")
    say(client, ada, "start a 10 minute timer called eggs")
    reply = say(client, ada, "pause the timer")
    assert reply["skill"]["question"] is True
    assert reply["text"] == (
        "You have 2 timers: the 5 minute timer and the eggs timer. Which one do you mean?"
    )


def test_a_reminder_set_in_chat(client: Client, ada: dict[str, str], clock: ManualClock) -> None:
    reply = say(client, ada, "remind me to call Mum in an hour")
    assert reply["skill"]["intent"] == "reminder.add"
    assert reply["text"].startswith("OK, I'll remind you to call Mum at ")
    listed = client.get("/api/v1/reminders", headers=ada).json()["items"]
    assert [(r["text"], r["due_at"]) for r in listed] == [
        ("call Mum", reply["skill"]["data"]["reminder"]["due_at"])
    ]
    assert say(client, ada, "cancel the reminder to call Mum")["text"] == (
        "Cancelled the reminder to call Mum."
    )
