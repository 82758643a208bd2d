"""The time skill: its templates through hassil, its slot typing and question back, and
its answers on fixed clocks in several zones (and across clock changes)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hassil import Intents, recognize

from assistant.errors import InvalidInput
from assistant.skills.base import SkillCall, SkillContext, SlotProblem
from assistant.skills.time import TimeSkill, clock_time, place_name

SENTENCES = Path(__file__).parents[2] / "assistant" / "skills" / "sentences" / "en" / "time.yaml"
SKILL = TimeSkill()


@cache
def intents() -> Intents:
    return Intents.from_files([SENTENCES])


def recognise(text: str) -> tuple[str, Mapping[str, str]] | None:
    """The intent and raw slot texts of ``text``, as the recogniser hands them over."""
    result = recognize(text, intents())
    if result is None or result.intent is None:
        return None
    slots = {name: str(entity.text or entity.value) for name, entity in result.entities.items()}
    return result.intent.name, slots


def at(iso: str) -> float:
    """Epoch seconds of an ISO 8601 UTC moment."""
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


MONDAY = at("2026-12-07T09:05:00")
"""Monday 7 December 2026, 09:05 UTC: 10:05 in Paris, 18:05 in Tokyo, 04:05 in New York,
20:05 in Sydney."""


def context(zone: str = "Europe/Paris", now: float = MONDAY) -> SkillContext:
    return SkillContext(user_id="ann", now=now, time_zone=zone)


def understand(text: str, zone: str = "Europe/Paris") -> SkillCall | None:
    found = recognise(text)
    assert found is not None, f"no template matches {text!r}"
    return SKILL.match(*found, context(zone))


MATCHES: list[tuple[str, str, dict[str, Any]]] = [
    ("what time is it", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("What time is it?", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("what's the time", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("whats the time", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("what is the time", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("what is the current time", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("what time is it right now", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("tell me the time", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("tell me the time please", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("can you tell me what time it is", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("do you know what time it is", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("current time", "time.now", {"time_zone": "Europe/Paris", "place": None}),
    ("what time is it in Tokyo", "time.now", {"time_zone": "Asia/Tokyo", "place": "Tokyo"}),
    ("what time is it in tokyo", "time.now", {"time_zone": "Asia/Tokyo", "place": "Tokyo"}),
    (
        "what's the time in New York",
        "time.now",
        {"time_zone": "America/New_York", "place": "New York"},
    ),
    (
        "What's the time in New York?",
        "time.now",
        {"time_zone": "America/New_York", "place": "New York"},
    ),
    (
        "what is the time in los angeles right now",
        "time.now",
        {"time_zone": "America/Los_Angeles", "place": "Los Angeles"},
    ),
    # hassil drops the comma
    (
        "what time is it in Paris, France",
        "time.now",
        {"time_zone": "Europe/Paris", "place": "Paris"},
    ),
    ("what time is it in nyc", "time.now", {"time_zone": "America/New_York", "place": "NYC"}),
    ("tell me the time in Beijing", "time.now", {"time_zone": "Asia/Shanghai", "place": "Beijing"}),
    (
        "what's the local time in dar es salaam",
        "time.now",
        {"time_zone": "Africa/Dar_es_Salaam", "place": "Dar es Salaam"},
    ),
    ("what's the date", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("what's the date today", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("what is the date", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("what day is it", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("what day is it today", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("what day is today", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("what's today's date", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("What is today's date?", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("what day of the week is it", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("tell me the date", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    ("today's date", "time.date", {"time_zone": "Europe/Paris", "place": None}),
    (
        "what's the date in Sydney",
        "time.date",
        {"time_zone": "Australia/Sydney", "place": "Sydney"},
    ),
    (
        "what's the date in Sydney today",
        "time.date",
        {"time_zone": "Australia/Sydney", "place": "Sydney"},
    ),
    (
        "what day is it in Auckland",
        "time.date",
        {"time_zone": "Pacific/Auckland", "place": "Auckland"},
    ),
]


@pytest.mark.parametrize(("text", "intent", "arguments"), MATCHES, ids=[m[0] for m in MATCHES])
def test_requests_are_recognised_with_typed_arguments(
    text: str, intent: str, arguments: dict[str, Any]
) -> None:
    call = understand(text)
    assert call == SkillCall(skill="time", intent=intent, arguments=arguments)


def test_the_user_zone_is_the_context_s() -> None:
    call = understand("what time is it", zone="Asia/Kolkata")
    assert call is not None
    assert call.arguments["time_zone"] == "Asia/Kolkata"


NEAR_MISSES = [
    "what time should I leave for the airport",
    "time flies",
    "time flies when you're having fun",
    "how much time do I need to cook rice",
    "what's the time complexity of quicksort",
    "what is the time complexity of merge sort",
    "what date was the moon landing",
    "what day was the moon landing",
    "what time does the pharmacy open",
    "what time is the game tonight",
    "what's the time difference between London and Tokyo",
    "what day is christmas this year",
    "what's the date of easter",
    "set a timer",
    "what is time",
    "what's time",
    "what is date",
    "is it time to go",
    "the time is now",
    "date night ideas",
    "what time is it in",
    "what's a good time to visit Japan",
    "what time zone is Tokyo in",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_match_no_template(text: str) -> None:
    assert recognise(text) is None


@pytest.mark.parametrize("city", ["Atlantis", "Gotham", "the moon"])
def test_an_unknown_city_is_asked_back(city: str) -> None:
    found = recognise(f"what time is it in {city}")
    assert found is not None
    with pytest.raises(SlotProblem) as problem:
        SKILL.match(*found, context())
    assert (
        problem.value.written == f"I don't know the time zone of {city}. Which city did you mean?"
    )
    assert problem.value.spoken == problem.value.written
    assert problem.value.slot == "time_city"


@pytest.mark.parametrize(
    "text", ["what's the date in 10 days", "what's the date in two weeks", "what day is it in 3"]
)
def test_a_span_of_time_is_not_a_place(text: str) -> None:
    """ "In 10 days" asks for date arithmetic: chat answers it, the skill declines."""
    found = recognise(text)
    assert found is not None
    assert SKILL.match(*found, context()) is None


def test_other_intents_are_declined() -> None:
    assert SKILL.match("timer.start", {}, context()) is None


ANSWERS = [
    # text, user zone, now, written, spoken
    (
        "what time is it in Tokyo",
        "Europe/Paris",
        MONDAY,
        "It's 6:05 PM in Tokyo (Monday, 7 December).",
        "It's 6:05 PM in Tokyo.",
    ),
    (
        "what time is it",
        "Europe/Paris",
        MONDAY,
        "It's 10:05 AM (Monday, 7 December).",
        "It's 10:05 AM.",
    ),
    (
        "what time is it",
        "America/New_York",
        MONDAY,
        "It's 4:05 AM (Monday, 7 December).",
        "It's 4:05 AM.",
    ),
    (
        "what's the time in New York",
        "Asia/Tokyo",
        MONDAY,
        "It's 4:05 AM in New York (Monday, 7 December).",
        "It's 4:05 AM in New York.",
    ),
    (
        # Across the date line the day is said too.
        "what time is it in Tokyo",
        "America/Los_Angeles",
        at("2026-12-07T20:30:00"),
        "It's 5:30 AM in Tokyo (Tuesday, 8 December).",
        "It's 5:30 AM in Tokyo, on Tuesday.",
    ),
    (
        "what time is it in Kathmandu",
        "UTC",
        MONDAY,
        "It's 2:50 PM in Kathmandu (Monday, 7 December).",
        "It's 2:50 PM in Kathmandu.",
    ),
    (
        "what time is it",
        "UTC",
        at("2026-12-07T00:00:00"),
        "It's 12:00 AM (Monday, 7 December).",
        "It's 12:00 AM.",
    ),
    (
        "what time is it",
        "UTC",
        at("2026-12-07T12:00:59"),
        "It's 12:00 PM (Monday, 7 December).",
        "It's 12:00 PM.",
    ),
    # New York springs forward on Sunday 8 March 2026 at 2:00 (07:00 UTC).
    (
        "what time is it",
        "America/New_York",
        at("2026-03-08T06:59:00"),
        "It's 1:59 AM (Sunday, 8 March).",
        "It's 1:59 AM.",
    ),
    (
        "what time is it",
        "America/New_York",
        at("2026-03-08T07:00:00"),
        "It's 3:00 AM (Sunday, 8 March).",
        "It's 3:00 AM.",
    ),
    # Sydney falls back on Sunday 5 April 2026: 2:30 AM happens twice, an hour apart.
    (
        "what's the time in Sydney",
        "UTC",
        at("2026-04-04T15:30:00"),
        "It's 2:30 AM in Sydney (Sunday, 5 April).",
        "It's 2:30 AM in Sydney, on Sunday.",
    ),
    (
        "what's the time in Sydney",
        "UTC",
        at("2026-04-04T16:30:00"),
        "It's 2:30 AM in Sydney (Sunday, 5 April).",
        "It's 2:30 AM in Sydney, on Sunday.",
    ),
    (
        "what's the date",
        "Europe/Paris",
        MONDAY,
        "It's Monday, 7 December 2026.",
        "It's Monday, 7 December.",
    ),
    (
        "what day is it",
        "Pacific/Honolulu",
        MONDAY,
        "It's Sunday, 6 December 2026.",
        "It's Sunday, 6 December.",
    ),
    (
        "what's the date in Sydney",
        "America/Los_Angeles",
        at("2026-12-31T14:00:00"),
        "It's Friday, 1 January 2027 in Sydney.",
        "It's Friday, 1 January in Sydney.",
    ),
]


@pytest.mark.parametrize(
    ("text", "zone", "now", "written", "spoken"), ANSWERS, ids=[f"{a[0]}@{a[2]}" for a in ANSWERS]
)
async def test_answers_on_a_fixed_clock(
    text: str, zone: str, now: float, written: str, spoken: str
) -> None:
    asked = context(zone, now)
    found = recognise(text)
    assert found is not None
    call = SKILL.match(*found, asked)
    assert call is not None
    answer = await SKILL.run(call, asked)
    assert (answer.written, answer.spoken) == (written, spoken)
    assert answer.language is None
    assert not answer.question


async def test_the_answer_carries_the_moment_for_apps() -> None:
    asked = context("Europe/Paris", MONDAY)
    call = understand("what time is it in Kathmandu")
    assert call is not None
    answer = await SKILL.run(call, asked)
    assert answer.data == {
        "time_zone": "Asia/Kathmandu",
        "place": "Kathmandu",
        "local_time": "2026-12-07T14:50:00+05:45",
        "utc_offset_minutes": 345,
    }


async def test_a_user_zone_nobody_knows_falls_back_to_the_default() -> None:
    skill = TimeSkill("Asia/Tokyo")
    asked = context("Mars/Olympus_Mons", MONDAY)
    call = skill.match("time.now", {}, asked)
    assert call is not None
    assert call.arguments["time_zone"] == "Asia/Tokyo"
    answer = await skill.run(call, asked)
    assert answer.spoken == "It's 6:05 PM."
    assert TimeSkill().match("time.now", {}, asked) == SkillCall(
        skill="time", intent="time.now", arguments={"time_zone": "UTC", "place": None}
    )


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../etc/passwd", ""])
def test_a_default_zone_must_exist(zone: str) -> None:
    if zone == "":
        assert TimeSkill(zone).default_time_zone == "UTC"
        return
    with pytest.raises(InvalidInput) as error:
        TimeSkill(zone)
    assert error.value.field == "default_time_zone"


@pytest.mark.parametrize(
    ("hour", "minute", "text"),
    [(0, 0, "12:00 AM"), (0, 5, "12:05 AM"), (9, 30, "9:30 AM"), (12, 0, "12:00 PM"),
     (13, 7, "1:07 PM"), (23, 59, "11:59 PM")],
)  # fmt: skip
def test_clock_time(hour: int, minute: int, text: str) -> None:
    assert clock_time(datetime(2026, 1, 1, hour, minute, tzinfo=UTC)) == text


@pytest.mark.parametrize(
    ("said", "zone", "name"),
    [
        ("Tokyo", "Asia/Tokyo", "Tokyo"),
        ("new york", "America/New_York", "New York"),
        ("la paz", "America/La_Paz", "La Paz"),
        ("la", "America/Los_Angeles", "LA"),
        ("washington dc", "America/New_York", "Washington DC"),
        ("rio de janeiro", "America/Sao_Paulo", "Rio de Janeiro"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires", "Buenos Aires"),
        ("São Paulo", "America/Sao_Paulo", "São Paulo"),
        ("tokyo japan", "Asia/Tokyo", "Tokyo"),
        ("portland oregon", "America/Los_Angeles", "Portland Oregon"),
        ("new york city", "America/New_York", "New York City"),
    ],
)
def test_place_name(said: str, zone: str, name: str) -> None:
    assert place_name(said, zone) == name
