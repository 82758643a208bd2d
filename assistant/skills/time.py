"""The time and the date: "what time is it", "what's the time in Tokyo", "what day is it".

The answer is told on the user's clock (``SkillContext.time_zone``) or on the clock of the
city named; a city whose zone is unknown is asked back. Nothing is read but the context:
its ``now`` is the moment told.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from assistant.errors import InvalidInput
from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem
from assistant.skills.parse import city_time_zone, parse_duration, parse_language

CITY_SLOT = "time_city"
"""The place named ("what time is it in {time_city}")."""

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip
_ABBREVIATIONS = frozenset(("nyc", "la", "sf", "dc", "uk", "uae", "usa", "us", "utc", "gmt"))
_SMALL_WORDS = frozenset(("de", "es", "of", "the", "and", "la", "el", "do", "da"))
_EDGES = "\"'\u201c\u201d\u2018\u2019.,!?;: "


class TimeSkill:
    """Tells the time and the date, here or in a named city."""

    name = "time"
    summary = "Tell the time or the date, here or in a named city"
    side_effect_free = True
    """It only tells: a voice loop may run it before the command is certain."""

    def __init__(self, default_time_zone: str | None = None) -> None:
        """``default_time_zone``: the clock for a user whose own zone is not a known IANA
        zone (None: UTC)."""
        zone = default_time_zone or "UTC"
        if not known_zone(zone):
            raise InvalidInput(f"Unknown time zone {zone!r}", field="default_time_zone")
        self.default_time_zone = zone
        """The zone told when the user's own is not a known zone."""

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """The zone to tell (the city's, or the user's) and the place to name; a city
        without a known zone is asked back; a span of time ("in 10 days") or a language
        ("in Spanish") declines."""
        if intent not in ("time.now", "time.date"):
            return None
        said = slots.get(CITY_SLOT, "").strip().strip(_EDGES).strip()
        if not said:
            return SkillCall(
                skill=self.name,
                intent=intent,
                arguments={"time_zone": self.user_time_zone(context), "place": None},
            )
        if parse_duration(said) is not None or said[0].isdigit():
            return None  # "what's the date in 10 days" asks for arithmetic, not a place
        zone = city_time_zone(said)
        if zone is None and parse_language(said) is not None:
            return None  # "what is the time in Spanish" asks for a translation
        if zone is None:
            question = f"I don't know the time zone of {said}. Which city did you mean?"
            raise SlotProblem(question, slot=CITY_SLOT)
        return SkillCall(
            skill=self.name,
            intent=intent,
            arguments={"time_zone": zone, "place": place_name(said, zone)},
        )

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """The time (with the date written) or the date, at ``context.now``."""
        zone = str(call.arguments.get("time_zone") or "")
        if not known_zone(zone):  # a call typed elsewhere than ``match``
            zone = self.user_time_zone(context)
        place = call.arguments.get("place")
        local = datetime.fromtimestamp(context.now, ZoneInfo(zone))
        user_day = datetime.fromtimestamp(context.now, ZoneInfo(self.user_time_zone(context)))
        where = f" in {place}" if place else ""
        day = f"{_WEEKDAYS[local.weekday()]}, {local.day} {_MONTHS[local.month - 1]}"
        offset = local.utcoffset()
        assert offset is not None
        data: dict[str, Any] = {
            "time_zone": zone,
            "place": place,
            "local_time": local.isoformat(timespec="seconds"),
            "utc_offset_minutes": int(offset.total_seconds() // 60),
        }
        if call.intent == "time.date":
            return SkillAnswer(
                written=f"It's {day} {local.year}{where}.",
                spoken=f"It's {day}{where}.",
                data=data,
            )
        clock = clock_time(local)
        spoken = f"It's {clock}{where}."
        if place and local.date() != user_day.date():
            # Across the date line the day is news: "It's 1:05 AM in Tokyo, on Tuesday."
            spoken = f"It's {clock}{where}, on {_WEEKDAYS[local.weekday()]}."
        return SkillAnswer(written=f"It's {clock}{where} ({day}).", spoken=spoken, data=data)

    def user_time_zone(self, context: SkillContext) -> str:
        """The user's zone, or the default when theirs is not a known zone."""
        return context.time_zone if known_zone(context.time_zone) else self.default_time_zone


def known_zone(name: str) -> bool:
    """Whether the time zone database has a zone of this name."""
    try:
        ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def clock_time(local: datetime) -> str:
    """A 12-hour clock reading: "6:05 PM", "12:00 AM"."""
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def place_name(said: str, zone: str) -> str:
    """The place as the answer names it: as said, without a country after the city
    ("Paris France" -> "Paris"), capitalised when said in lower case ("new york" ->
    "New York"); a zone's own name by its city ("America/New_York" -> "New York")."""
    if "/" in said:
        return zone.rsplit("/", 1)[-1].replace("_", " ")
    words = said.split()
    for end in range(1, len(words)):
        head, tail = " ".join(words[:end]), " ".join(words[end:])
        if city_time_zone(head) == zone and city_time_zone(tail) is not None:
            said = head
            break
    if not said.islower():
        return said
    words = said.split()
    named = []
    for index, word in enumerate(words):
        if index > 0 and word in _SMALL_WORDS:
            named.append(word)  # "Dar es Salaam"
        elif word in _ABBREVIATIONS and (index > 0 or len(words) == 1):
            named.append(word.upper())  # "NYC", "Washington DC", but "La Paz"
        else:
            named.append(word.capitalize())
    return " ".join(named)
