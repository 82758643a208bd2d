"""Timers by voice or chat: "set a pasta timer for 8 minutes", "how much time is left",
"pause the timer", "cancel the egg timer", "what timers do I have".

``match`` types the slots (a duration in seconds, a timer name); a duration slot with a
unit but no number it can read ("banana minutes") is asked back, one with no unit and no
number at all ("what's a good timer") is declined, so chat answers it. ``run`` calls the
timer service; several timers and none named is answered with a question naming them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem
from assistant.skills.parse import describe_duration, parse_duration
from assistant.threads import off_loop
from assistant.timers import AmbiguousTimer, Timer, TimerService, TimerState
from assistant.timers.models import TimerOptions
from assistant.timers.service import clean_name

DURATION_SLOT = "timer_duration"
"""How long ("10 minutes", "two and a half minutes", "1h30")."""
NAME_SLOT = "timer_name"
"""What the timer is called ("pasta", "the egg")."""

ASK_DURATION = "How long should the timer run? For example, 'five minutes'."
INTENTS = (
    "timer.start",
    "timer.list",
    "timer.pause",
    "timer.resume",
    "timer.cancel",
    "timer.remaining",
)

_TIME_WORDS = re.compile(
    r"\d|\b(seconds?|secs?|minutes?|mins?|hours?|hrs?|half|quarter)\b", re.IGNORECASE
)
"""Something in a duration slot that shows a length was meant."""
_ARTICLES = frozenset(("a", "an", "the", "my"))
_CALLED = re.compile(r"\s+(?:called|named)\s+", re.IGNORECASE)


class TimerSkill:
    """Starts, lists, pauses, resumes and cancels timers, and says what is left."""

    name = "timer"
    summary = "Start, pause, resume, cancel and list timers, and say how much time is left"

    def __init__(self, timers: TimerService, options: TimerOptions | None = None) -> None:
        """``timers``: the timer service; ``options``: its limits (the service's own by
        default), checked in ``match`` so a too-long timer is asked back."""
        self.timers = timers
        self.options = options or timers.options

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """``timer.start``: ``seconds`` and ``name``; the others: ``name`` (None: the only
        timer, or a question)."""
        if intent not in INTENTS:
            return None
        said_duration = slots.get(DURATION_SLOT, "").strip()
        said_name = slots.get(NAME_SLOT, "").strip()
        if intent == "timer.start":
            seconds, said_name = self._duration_and_name(said_duration, said_name)
            if seconds is None:
                return None
        elif said_duration:
            return None
        name = _name(said_name)
        if said_name and name is None:
            return None  # a wildcard that swallowed a sentence: not a timer name
        arguments: dict[str, Any] = {"name": name}
        if intent == "timer.start":
            arguments["seconds"] = seconds
        elif intent == "timer.list":
            arguments = {}
        return SkillCall(skill=self.name, intent=intent, arguments=arguments)

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Act on the timer service and say what was done; several timers and none named
        is answered with a question naming them."""
        act = {
            "timer.start": self._start,
            "timer.list": self._list,
            "timer.remaining": self._remaining,
            "timer.pause": self._pause,
            "timer.resume": self._resume,
            "timer.cancel": self._cancel,
        }.get(call.intent)
        if act is None:
            raise ValueError(f"The timer skill has no intent {call.intent!r}")
        try:
            return await act(context.user_id, call.arguments)
        except AmbiguousTimer as exc:
            return SkillAnswer(
                written=exc.detail,
                spoken=exc.detail,
                data={"timers": [t.to_json(exc.now) for t in exc.timers]},
                question=True,
            )

    # Actions ------------------------------------------------------------------------

    async def _start(self, user_id: str, arguments: Mapping[str, Any]) -> SkillAnswer:
        timer = await off_loop(
            self.timers.start, user_id, arguments["seconds"], arguments.get("name")
        )
        length = describe_duration(timer.duration_seconds)
        if timer.name:
            text = f"{_capital(timer.name)} timer set for {length}."
        else:
            text = f"Timer set for {length}."
        return _answer(text, timer, self._now())

    async def _list(self, user_id: str, arguments: Mapping[str, Any]) -> SkillAnswer:
        timers = await off_loop(self.timers.list, user_id)
        now = self._now()
        if not timers:
            return SkillAnswer(written="You have no timers.", spoken="You have no timers.")
        described = [_described(t, now) for t in timers]
        if len(described) == 1:
            text = f"You have one timer: {described[0]}."
        else:
            text = (
                f"You have {len(described)} timers: "
                + "; ".join(described[:-1])
                + f"; and {described[-1]}."
            )
        return SkillAnswer(
            written=text, spoken=text, data={"timers": [t.to_json(now) for t in timers]}
        )

    async def _remaining(self, user_id: str, arguments: Mapping[str, Any]) -> SkillAnswer:
        timer = await off_loop(self.timers.remaining, user_id, None, arguments.get("name"))
        now = self._now()
        left = describe_duration(_whole(timer.remaining(now)))
        if timer.state is TimerState.PAUSED:
            text = f"{_capital(timer.label)} is paused with {left} left."
        else:
            text = f"{_capital(left)} left on {timer.label}."
        return _answer(text, timer, now)

    async def _pause(self, user_id: str, arguments: Mapping[str, Any]) -> SkillAnswer:
        timer = await off_loop(self.timers.pause, user_id, None, arguments.get("name"))
        left = describe_duration(_whole(timer.remaining(self._now())))
        return _answer(f"Paused {timer.label} with {left} left.", timer, self._now())

    async def _resume(self, user_id: str, arguments: Mapping[str, Any]) -> SkillAnswer:
        timer = await off_loop(self.timers.resume, user_id, None, arguments.get("name"))
        left = describe_duration(_whole(timer.remaining(self._now())))
        return _answer(f"Resumed {timer.label}: {left} left.", timer, self._now())

    async def _cancel(self, user_id: str, arguments: Mapping[str, Any]) -> SkillAnswer:
        timer = await off_loop(self.timers.cancel, user_id, None, arguments.get("name"))
        return _answer(f"Cancelled {timer.label}.", timer, self._now())

    # Internals ----------------------------------------------------------------------

    def _now(self) -> float:
        return self.timers.clock()

    def _duration_and_name(self, duration: str, name: str) -> tuple[float | None, str]:
        """The seconds and the name said; None declines. Hassil's wildcards may split a
        request the other way round ("set a pasta timer for 8 minutes" can come as
        duration "pasta", name "8 minutes") or run on ("5 minutes called eggs")."""
        if not duration and not name:
            raise SlotProblem(ASK_DURATION, slot=DURATION_SLOT)  # "set a timer"
        # Speech-to-text writes "a 10-minute timer"; parse_duration reads "10 minute".
        duration = duration.replace("-", " ")
        if duration.lower() in _ARTICLES:
            raise SlotProblem(ASK_DURATION, slot=DURATION_SLOT)  # "set a timer" as "{d} timer"
        seconds = parse_duration(duration) if duration else None
        if seconds is None and name and parse_duration(name) is not None:
            duration, name = name, duration
            seconds = parse_duration(duration)
        if seconds is None and not name:
            parts = _CALLED.split(duration, maxsplit=1)
            if len(parts) == 2 and parse_duration(parts[0]) is not None:
                duration, name = parts
                seconds = parse_duration(duration)
        if seconds is None:
            if not _TIME_WORDS.search(duration):
                return None, name  # no length was meant: leave it to chat
            raise SlotProblem(ASK_DURATION, slot=DURATION_SLOT)
        if not math.isfinite(seconds) or seconds < 1:
            raise SlotProblem(
                "A timer needs to run for at least a second. How long should it run?",
                slot=DURATION_SLOT,
            )
        if seconds > self.options.max_timer_seconds:
            longest = describe_duration(self.options.max_timer_seconds)
            raise SlotProblem(
                f"A timer can run for at most {longest}; for longer, set a reminder."
                " How long should the timer run?",
                slot=DURATION_SLOT,
            )
        return seconds, name


def _name(said: str) -> str | None:
    """A timer name from its slot ("the Egg" -> "Egg"); None when empty or too long to be
    a name (a wildcard that swallowed a sentence)."""
    cleaned = clean_name(said.strip(" .,!?\"'"))
    if not cleaned or len(cleaned) > 40 or len(cleaned.split()) > 4:
        return None
    return cleaned


def _whole(seconds: float) -> float:
    return float(math.ceil(seconds))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _described(timer: Timer, now: float) -> str:
    left = describe_duration(_whole(timer.remaining(now)))
    if timer.state is TimerState.PAUSED:
        return f"{timer.label}, paused with {left} left"
    return f"{timer.label} with {left} left"


def _answer(text: str, timer: Timer, now: float) -> SkillAnswer:
    return SkillAnswer(written=text, spoken=text, data={"timer": timer.to_json(now)})
