"""The timer and reminder skills: their sentence templates through hassil (positives,
bad slots asked back, near-misses left to chat), and what they do and say."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from assistant.skills.base import SkillCall, SkillContext, SlotProblem
from assistant.skills.reminder import ReminderSkill
from assistant.skills.templates import Templates
from assistant.skills.timer import TimerSkill
from assistant.timers import TimerState
from tests.timers.conftest import World

SENTENCES = Path(__file__).parents[2] / "assistant" / "skills" / "sentences" / "en"
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 1, 15, 14, 0, tzinfo=LONDON)
"""Friday 15 January 2027, 2 pm in London: the "now" of the tables."""


TEMPLATES = Templates.load()
"""Every skill's shipped templates, merged as the router sees them."""


@pytest.mark.parametrize("name", ["timer", "reminder"])
def test_list_and_rule_names_carry_the_skill_prefix(name: str) -> None:
    data = yaml.safe_load((SENTENCES / f"{name}.yaml").read_text(encoding="utf-8"))
    for key in ("intents", "lists", "expansion_rules", "examples"):
        assert all(k.startswith(name) for k in data.get(key) or {}), key


def _context(**fields: Any) -> SkillContext:
    return SkillContext(user_id="u", now=NOW.timestamp(), time_zone="Europe/London", **fields)


def recognise(text: str) -> tuple[str, Mapping[str, str]] | None:
    found = TEMPLATES.recognize(text)
    return None if found is None else (found.intent, found.slots)


def skill_call(world: World, text: str) -> SkillCall | None:
    """What a request becomes: recognised, then matched by the skill owning the intent."""
    found = recognise(text)
    if found is None:
        return None
    intent, slots = found
    skills: dict[str, TimerSkill | ReminderSkill] = {
        "timer": TimerSkill(world.timers),
        "reminder": ReminderSkill(world.timers),
    }
    return skills[intent.split(".")[0]].match(intent, slots, _context())


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2027, 1, day, hour, minute, tzinfo=LONDON).timestamp()


POSITIVES: list[tuple[str, str, dict[str, Any]]] = [
    ("set a timer for 10 minutes", "timer.start", {"seconds": 600, "name": None}),
    ("Set a timer for ten minutes.", "timer.start", {"seconds": 600, "name": None}),
    ("set a pasta timer for 8 minutes", "timer.start", {"seconds": 480, "name": "pasta"}),
    ("start a 5 minute timer called eggs", "timer.start", {"seconds": 300, "name": "eggs"}),
    ("set a timer for 5 minutes called eggs", "timer.start", {"seconds": 300, "name": "eggs"}),
    ("set a timer called tea for 4 minutes", "timer.start", {"seconds": 240, "name": "tea"}),
    (
        "please set a timer for two and a half minutes",
        "timer.start",
        {"seconds": 150, "name": None},
    ),
    ("set the oven timer for 20 minutes", "timer.start", {"seconds": 1200, "name": "oven"}),
    ("can you set a 1 hour timer for the roast", "timer.start", {"seconds": 3600, "name": "roast"}),
    ("timer for 90 seconds", "timer.start", {"seconds": 90, "name": None}),
    ("10 minute timer", "timer.start", {"seconds": 600, "name": None}),
    ("Set a 10-minute timer.", "timer.start", {"seconds": 600, "name": None}),
    ("Set an egg timer for 6 minutes.", "timer.start", {"seconds": 360, "name": "egg"}),
    ("Set a timer for half an hour.", "timer.start", {"seconds": 1800, "name": None}),
    ("how much time is left", "timer.remaining", {"name": None}),
    ("how much time is left on the pasta timer", "timer.remaining", {"name": "pasta"}),
    ("how long until my egg timer goes off", "timer.remaining", {"name": "egg"}),
    ("pause the timer", "timer.pause", {"name": None}),
    ("resume the egg timer", "timer.resume", {"name": "egg"}),
    ("cancel the timer", "timer.cancel", {"name": None}),
    ("stop the pasta timer", "timer.cancel", {"name": "pasta"}),
    ("what timers do I have", "timer.list", {}),
    ("do I have any timers running", "timer.list", {}),
    (
        "remind me to call Mum at 6 pm",
        "reminder.add",
        {"text": "call Mum", "due_at": at(15, 18)},
    ),
    ("remind me to call Mum tomorrow", "reminder.add", {"text": "call Mum", "due_at": at(16, 9)}),
    (
        "remind me to call Mum in an hour",
        "reminder.add",
        {"text": "call Mum", "due_at": at(15, 15)},
    ),
    (
        "remind me at 7 to take the bins out",
        "reminder.add",
        {"text": "take the bins out", "due_at": at(15, 19)},
    ),
    (
        "remind me to call Mum tomorrow at 7",
        "reminder.add",
        {"text": "call Mum", "due_at": at(16, 7)},
    ),
    (
        "remind me tomorrow at 9 to pay the rent",
        "reminder.add",
        {"text": "pay the rent", "due_at": at(16, 9)},
    ),
    (
        "remind me in 20 minutes to check the oven",
        "reminder.add",
        {"text": "check the oven", "due_at": at(15, 14, 20)},
    ),
    (
        "Remind me to call Mum at 6 p.m.",
        "reminder.add",
        {"text": "call Mum", "due_at": at(15, 18)},
    ),
    (
        "Remind me to buy milk on Friday at 5pm.",
        "reminder.add",
        {"text": "buy milk", "due_at": at(22, 17)},
    ),
    (
        "remind me to call the dentist tomorrow morning",
        "reminder.add",
        {"text": "call the dentist", "due_at": at(16, 9)},
    ),
    (
        "remind me to meet Al at the station at 6 pm",
        "reminder.add",
        {"text": "meet Al at the station", "due_at": at(15, 18)},
    ),
    (
        "set a reminder for 6 pm to call Mum",
        "reminder.add",
        {"text": "call Mum", "due_at": at(15, 18)},
    ),
    ("what reminders do I have", "reminder.list", {}),
    ("cancel the reminder to call Mum", "reminder.cancel", {"text": "call Mum"}),
    ("cancel my reminder", "reminder.cancel", {"text": None}),
]


@pytest.mark.parametrize(("text", "intent", "arguments"), POSITIVES)
def test_requests_become_calls(
    world: World, text: str, intent: str, arguments: dict[str, Any]
) -> None:
    call = skill_call(world, text)
    assert call is not None, text
    assert (call.intent, dict(call.arguments)) == (intent, arguments)
    assert call.skill == intent.split(".", maxsplit=1)[0]


BAD_SLOTS = [
    (
        "set a timer for banana minutes",
        "How long should the timer run? For example, 'five minutes'.",
    ),
    ("Set a timer.", "How long should the timer run? For example, 'five minutes'."),
    ("set the timer", "How long should the timer run? For example, 'five minutes'."),
    ("start a banana minute timer", "How long should the timer run? For example, 'five minutes'."),
    (
        "set a timer for 0 seconds",
        "How long should the timer run? For example, 'five minutes'.",
    ),
    (
        "set a timer for 8 days",
        "A timer can run for at most 7 days; for longer, set a reminder."
        " How long should the timer run?",
    ),
    (
        "remind me at 25 o'clock",
        "I couldn't understand the time '25 o'clock'. When should I remind you?",
    ),
    (
        "remind me to call Mum at 25 o'clock",
        "I couldn't understand the time '25 o'clock'. When should I remind you?",
    ),
    ("remind me to call Mum", "When should I remind you? For example, 'at 6 pm' or 'in an hour'."),
    ("remind me in an hour", "What should I remind you of?"),
    (
        "remind me to call Mum today at 9 am",
        "9:00 AM has already passed. When should I remind you?",
    ),
]


@pytest.mark.parametrize(("text", "question"), BAD_SLOTS)
def test_bad_slots_are_asked_back(world: World, text: str, question: str) -> None:
    with pytest.raises(SlotProblem) as caught:
        skill_call(world, text)
    assert caught.value.written == question
    assert caught.value.spoken == question


NEAR_MISSES = [
    "what's a good timer app",
    "what's a good timer",
    "how long do I boil an egg",
    "how long should I boil an egg",
    "remind me what we talked about",
    "remind me of your name",
    "I set a timer yesterday",
    "how much time is left in the match",
    "timers are useful in the kitchen",
    "what is a reminder",
    "tell me about the history of timers",
    "cancel my subscription",
    "set the table for dinner",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay_chat(world: World, text: str) -> None:
    assert skill_call(world, text) is None


# What the skills do -----------------------------------------------------------------


async def say(world: World, text: str, user_id: str | None = None):  # type: ignore[no-untyped-def]
    call = skill_call(world, text)
    assert call is not None, text
    skills: dict[str, TimerSkill | ReminderSkill] = {
        "timer": TimerSkill(world.timers),
        "reminder": ReminderSkill(world.timers),
    }
    context = SkillContext(
        user_id=user_id or world.ada, now=world.clock(), time_zone="Europe/London"
    )
    fixed = skills[call.skill].match(call.intent, recognise(text)[1], context)  # type: ignore[index]
    assert fixed is not None
    return await skills[call.skill].run(fixed, context)


async def test_timers_by_voice(world: World) -> None:
    answer = await say(world, "set a pasta timer for 8 minutes")
    assert answer.spoken == "Pasta timer set for 8 minutes."
    assert answer.data["timer"]["state"] == "running"
    answer = await say(world, "set a timer for 10 minutes")
    assert answer.written == "Timer set for 10 minutes."
    world.clock.advance(90)
    answer = await say(world, "how much time is left on the pasta timer")
    assert answer.spoken == "6 minutes and 30 seconds left on the pasta timer."
    # Two running, none named: the question names them.
    answer = await say(world, "pause the timer")
    assert answer.question
    assert answer.spoken == (
        "You have 2 timers: the pasta timer and the 10 minute timer. Which one do you mean?"
    )
    answer = await say(world, "pause the pasta timer")
    assert answer.spoken == "Paused the pasta timer with 6 minutes and 30 seconds left."
    answer = await say(world, "what timers do I have")
    assert answer.spoken == (
        "You have 2 timers: the 10 minute timer with 8 minutes and 30 seconds left;"
        " and the pasta timer, paused with 6 minutes and 30 seconds left."
    )
    world.clock.advance(60)
    answer = await say(world, "resume the pasta timer")
    assert answer.spoken == "Resumed the pasta timer: 6 minutes and 30 seconds left."
    answer = await say(world, "cancel the pasta timer")
    assert answer.spoken == "Cancelled the pasta timer."
    [left] = world.timers.list(world.ada)
    assert left.state is TimerState.RUNNING and left.name is None


async def test_a_timer_set_by_voice_fires(world: World) -> None:
    await say(world, "start a 5 minute timer called eggs")
    world.clock.advance(300)
    [fired] = await world.timers.fire_due()
    assert fired.spoken == "Your eggs timer is done."
    assert world.heard == [fired]


async def test_reminders_by_voice(world: World) -> None:
    world.clock.now = NOW.timestamp()
    answer = await say(world, "remind me to call my Mum at 6 pm")
    assert answer.spoken == "OK, I'll remind you to call your Mum at 6:00 PM."
    answer = await say(world, "remind me to take the bins out tomorrow at 7")
    assert answer.spoken == "OK, I'll remind you to take the bins out tomorrow at 7:00 AM."
    answer = await say(world, "what reminders do I have")
    assert answer.spoken == (
        "You have 2 reminders: call your Mum at 6:00 PM; and take the bins out tomorrow at 7:00 AM."
    )
    answer = await say(world, "cancel the reminder")
    assert answer.question and "Which one" in answer.spoken
    answer = await say(world, "cancel the reminder to call my mum")
    assert answer.spoken == "Cancelled the reminder to call your Mum."
    world.clock.now = at(16, 7)
    [fired] = await world.timers.fire_due()
    assert (fired.kind, fired.spoken) == ("reminder", "Reminder: take the bins out.")


@pytest.mark.parametrize(
    ("slots", "due_at"),
    [
        ({"reminder_text": "call Mum", "reminder_time": "6 pm"}, at(15, 18)),
        ({"reminder_text": "call Mum", "reminder_time": "at 6 pm"}, at(15, 18)),
        ({"reminder_text": "call Mum", "reminder_time": "tomorrow at 7"}, at(16, 7)),
        ({"reminder_text": "call Mum", "reminder_delay": "an hour"}, at(15, 15)),
        ({"reminder_text": "call Mum", "reminder_delay": "in an hour"}, at(15, 15)),
        ({"reminder_text": "call Mum at 6 pm"}, at(15, 18)),
    ],
)
def test_reminder_slots_as_the_model_stage_may_fill_them(
    world: World, slots: dict[str, str], due_at: float
) -> None:
    call = ReminderSkill(world.timers).match("reminder.add", slots, _context())
    assert call is not None
    assert dict(call.arguments) == {"text": "call Mum", "due_at": due_at}
