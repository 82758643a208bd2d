"""Reminders by voice or chat: "remind me to call Mum at 6 pm / tomorrow / in an hour",
"remind me at 7 to take the bins out", "what reminders do I have", "cancel the reminder
to call Mum".

``match`` resolves the time said against the request's ``now`` in the user's time zone
(pure: the context carries both). The time may come in its own slot or at the end of the
text ("call Mum at 6 pm": hassil's wildcards cannot always tell where the errand ends),
so the longest ending of the text that reads as a time is taken as the time. A time that
cannot be read ("25 o'clock") or none at all is asked back.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from assistant.errors import Conflict
from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem
from assistant.skills.parse import describe_time, parse_time
from assistant.threads import off_loop
from assistant.timers import Reminder, TimerService

TEXT_SLOT = "reminder_text"
"""What to be reminded of ("call Mum")."""
TIME_SLOT = "reminder_time"
"""A clock time or a day ("6 pm", "7", "noon tomorrow")."""
DELAY_SLOT = "reminder_delay"
"""A length of time from now ("an hour", "20 minutes")."""
DAY_SLOT = "reminder_day"
"""A day or a part of one from the template's list ("tomorrow", "on friday")."""

INTENTS = ("reminder.add", "reminder.list", "reminder.cancel")
ASK_WHEN = "When should I remind you? For example, 'at 6 pm' or 'in an hour'."
ASK_WHAT = "What should I remind you of?"

_STARTS = frozenset(
    (
        "at", "in", "on", "by", "after", "tomorrow", "today", "tonight", "this", "next",
        "noon", "midnight", "monday", "tuesday", "wednesday", "thursday", "friday",
        "saturday", "sunday",
    )
)  # fmt: skip
"""Words a time said at the end of an errand starts with."""
_TIMEISH = re.compile(
    r"\b(\d+|o'?clock|am|pm|a\.m\.|p\.m\.|noon|midnight|minutes?|hours?|seconds?|days?"
    r"|morning|afternoon|evening|tonight|tomorrow|today)\b",
    re.IGNORECASE,
)
"""A phrase that was meant as a time, even if it cannot be read as one."""
_TO = re.compile(r"\s+to\s+", re.IGNORECASE)
_TIME_PREPOSITION = re.compile(r"\b(?:at|by|in|on|after)\s+(.+)$", re.IGNORECASE)
_PERSON = {
    "my": "your",
    "me": "you",
    "i": "you",
    "i'm": "you're",
    "mine": "yours",
    "myself": "yourself",
    "our": "your",
    "us": "you",
}
_EDGES = " .,!?;:\"'"


class ReminderSkill:
    """Sets, lists and cancels reminders."""

    name = "reminder"
    summary = "Set a reminder for a time, list reminders, cancel one"

    def __init__(self, timers: TimerService) -> None:
        """``timers``: the timer service, which keeps and fires reminders too."""
        self.timers = timers

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """``reminder.add``: ``text`` and ``due_at`` (seconds since the epoch);
        ``reminder.cancel``: ``text`` (None: the only one, or a question)."""
        if intent not in INTENTS:
            return None
        text = slots.get(TEXT_SLOT, "").strip(_EDGES)
        if intent == "reminder.list":
            return SkillCall(skill=self.name, intent=intent)
        if intent == "reminder.cancel":
            return SkillCall(skill=self.name, intent=intent, arguments={"text": text or None})
        now = _local_now(context)
        text, when = self._text_and_time(text, slots, now)
        if not text:
            raise SlotProblem(ASK_WHAT, slot=TEXT_SLOT)
        if when <= now:
            raise SlotProblem(
                f"{_capital(describe_time(when, now))} has already passed. When should I"
                " remind you?",
                slot=TIME_SLOT,
            )
        arguments: dict[str, Any] = {"text": text, "due_at": when.timestamp()}
        return SkillCall(skill=self.name, intent=intent, arguments=arguments)

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Act on the timer service and say what was done."""
        user_id = context.user_id
        now = _local_now(context)
        if call.intent == "reminder.add":
            reminder = await off_loop(
                self.timers.add_reminder, user_id, call.arguments["text"], call.arguments["due_at"]
            )
            when = describe_time(_at(reminder.due_at, now), now)
            text = f"OK, I'll remind you to {_second_person(reminder.text)} {_at_phrase(when)}."
            return SkillAnswer(written=text, spoken=text, data={"reminder": reminder.to_json()})
        if call.intent == "reminder.list":
            return self._listed(await off_loop(self.timers.reminders, user_id), now)
        if call.intent == "reminder.cancel":
            try:
                reminder = await off_loop(
                    self.timers.cancel_reminder, user_id, None, call.arguments.get("text")
                )
            except Conflict as exc:
                if "choices" not in exc.fields:
                    raise
                return SkillAnswer(
                    written=exc.detail, spoken=exc.detail, data=dict(exc.fields), question=True
                )
            text = f"Cancelled the reminder to {_second_person(reminder.text)}."
            return SkillAnswer(written=text, spoken=text, data={"reminder": reminder.to_json()})
        raise ValueError(f"The reminder skill has no intent {call.intent!r}")

    # Internals ----------------------------------------------------------------------

    def _text_and_time(
        self, text: str, slots: Mapping[str, str], now: datetime
    ) -> tuple[str, datetime]:
        said_time = slots.get(TIME_SLOT, "").strip(_EDGES)
        said_delay = slots.get(DELAY_SLOT, "").strip(_EDGES)
        said_day = slots.get(DAY_SLOT, "").strip(_EDGES)
        if not text:
            # "remind me at 7 to take the bins out" can come as one time slot.
            said_time, text = _errand_after(said_time, "at", now, text)
            said_delay, text = _errand_after(said_delay, "in", now, text)
        if said_time or said_delay or said_day:
            # The templates leave "at"/"in" out of the slot; the model stage may not.
            readings = [
                " ".join(p for p in (said_day, time, delay) if p)
                for time in ({f"at {said_time}", said_time} if said_time else {""})
                for delay in ({f"in {said_delay}", said_delay} if said_delay else {""})
            ]
            when = next((w for w in (_when(r, now) for r in sorted(readings)) if w), None)
            if when is None:
                raise _unreadable(said_time or said_delay or said_day)
            return text, when
        split = _split(text, now)
        if split is not None:
            return split
        tail = _TIME_PREPOSITION.search(text)
        if tail is not None and _TIMEISH.search(tail[1]):
            raise _unreadable(tail[1])
        raise SlotProblem(ASK_WHEN, slot=TIME_SLOT)

    def _listed(self, reminders: list[Reminder], now: datetime) -> SkillAnswer:
        if not reminders:
            return SkillAnswer(written="You have no reminders.", spoken="You have no reminders.")
        described = [
            f"{_second_person(r.text)} {_at_phrase(describe_time(_at(r.due_at, now), now))}"
            for r in reminders
        ]
        if len(described) == 1:
            text = f"You have one reminder: {described[0]}."
        else:
            text = (
                f"You have {len(described)} reminders: "
                + "; ".join(described[:-1])
                + f"; and {described[-1]}."
            )
        return SkillAnswer(
            written=text, spoken=text, data={"reminders": [r.to_json() for r in reminders]}
        )


def _local_now(context: SkillContext) -> datetime:
    """The request's moment on the user's clock (UTC when the zone is unknown)."""
    try:
        zone: zoneinfo.ZoneInfo | Any = ZoneInfo(context.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return datetime.fromtimestamp(context.now, tz=zone)


def _at(seconds: float, now: datetime) -> datetime:
    return datetime.fromtimestamp(seconds, tz=now.tzinfo)


def _when(phrase: str, now: datetime) -> datetime | None:
    """A time phrase read against ``now``; "after 20 minutes" reads as "in 20 minutes"."""
    phrase = phrase.strip(_EDGES)
    if phrase.lower().startswith("after "):
        phrase = "in " + phrase[6:]
    return parse_time(phrase, now) if phrase else None


def _errand_after(said: str, preposition: str, now: datetime, text: str) -> tuple[str, str]:
    """A time slot that ran on into the errand ("7 to take the bins out"): the time and
    the errand, when what comes before "to" reads as a time."""
    parts = _TO.split(said, maxsplit=1)
    if len(parts) == 2 and _when(f"{preposition} {parts[0]}", now) is not None:
        return parts[0].strip(_EDGES), parts[1].strip(_EDGES)
    return said, text


def _split(text: str, now: datetime) -> tuple[str, datetime] | None:
    """The errand and the time said at its end: the longest ending that reads as a time
    ("meet Al at the station at 6 pm" -> "meet Al at the station", 6 pm)."""
    words = text.split()
    for start in range(1, len(words)):
        if words[start].lower() not in _STARTS:
            continue
        when = _when(" ".join(words[start:]), now)
        if when is not None:
            return " ".join(words[:start]).strip(_EDGES), when
    return None


def _unreadable(said: str) -> SlotProblem:
    return SlotProblem(
        f"I couldn't understand the time '{said}'. When should I remind you?", slot=TIME_SLOT
    )


def _second_person(text: str) -> str:
    """The errand as said back: "call my mum" -> "call your mum"."""
    return " ".join(_PERSON.get(word.lower(), word) for word in text.split())


def _at_phrase(described: str) -> str:
    """ "6:00 PM" -> "at 6:00 PM"; "tomorrow at 7:00 AM" stays as it is."""
    return f"at {described}" if described[:1].isdigit() else described


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
