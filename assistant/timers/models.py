"""Values of the timer service: timers, reminders, and what fires when one is due."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from assistant.clock import iso, to_ms
from assistant.errors import Conflict


class TimerState(StrEnum):
    """Where a timer is in its life."""

    RUNNING = "running"
    PAUSED = "paused"
    FIRED = "fired"
    CANCELLED = "cancelled"


class ReminderState(StrEnum):
    """Where a reminder is in its life."""

    SCHEDULED = "scheduled"
    FIRED = "fired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TimerOptions:
    """Limits of the timer service."""

    max_timer_seconds: float = 7 * 86_400.0
    """Longest timer (a week); longer waits are reminders."""
    max_reminder_days: int = 366
    """How far ahead a reminder may be set."""
    max_active: int = 50
    """Running or paused timers (and, separately, scheduled reminders) per user."""
    max_name_chars: int = 64
    """Longest timer name."""
    max_text_chars: int = 500
    """Longest reminder text."""
    claim_lease_seconds: float = 60.0
    """A fired item whose notification was not sent this long after another process
    claimed it is taken over (that process crashed)."""
    past_tolerance_seconds: float = 60.0
    """A reminder due this far in the past is taken as now; further is refused."""


@dataclass(frozen=True)
class Timer:
    """One countdown of one user."""

    id: str
    """Time-ordered UUID."""
    user_id: str
    """Whose timer."""
    name: str | None
    """What the user called it ("pasta"); None for an unnamed timer."""
    duration_seconds: float
    """How long it was set for."""
    state: TimerState
    """running, paused, fired or cancelled."""
    ends_at: float | None
    """When a running timer fires (seconds since the epoch); None unless running."""
    paused_remaining_seconds: float | None
    """What was left when it was paused; None unless paused."""
    created_at: float
    """When it was started."""
    fired_at: float | None = None
    """When it fired."""

    def remaining(self, now: float) -> float:
        """Seconds left at ``now`` (0 once fired or cancelled)."""
        if self.state is TimerState.RUNNING and self.ends_at is not None:
            return max(self.ends_at - now, 0.0)
        if self.state is TimerState.PAUSED and self.paused_remaining_seconds is not None:
            return self.paused_remaining_seconds
        return 0.0

    @property
    def label(self) -> str:
        """How the timer is spoken of: "the pasta timer", "the 10 minute timer"."""
        if self.name:
            return f"the {self.name} timer"
        return f"the {duration_adjective(self.duration_seconds)} timer"

    def to_json(self, now: float) -> dict[str, Any]:
        """The timer as the API shows it, with what is left at ``now``."""
        return {
            "id": self.id,
            "name": self.name,
            "duration_seconds": self.duration_seconds,
            "state": self.state.value,
            "ends_at": iso(to_ms(self.ends_at)) if self.ends_at is not None else None,
            "remaining_seconds": round(self.remaining(now), 3),
            "created_at": iso(to_ms(self.created_at)),
            "fired_at": iso(to_ms(self.fired_at)) if self.fired_at is not None else None,
        }


@dataclass(frozen=True)
class Reminder:
    """Something to tell one user at a given time."""

    id: str
    """Time-ordered UUID."""
    user_id: str
    """Whose reminder."""
    text: str
    """What to remind of ("call Mum")."""
    due_at: float
    """When (seconds since the epoch)."""
    state: ReminderState
    """scheduled, fired or cancelled."""
    created_at: float
    """When it was set."""
    fired_at: float | None = None
    """When it fired."""

    def to_json(self) -> dict[str, Any]:
        """The reminder as the API shows it."""
        return {
            "id": self.id,
            "text": self.text,
            "due_at": iso(to_ms(self.due_at)),
            "state": self.state.value,
            "created_at": iso(to_ms(self.created_at)),
            "fired_at": iso(to_ms(self.fired_at)) if self.fired_at is not None else None,
        }


@dataclass(frozen=True)
class Fired:
    """A timer or reminder that came due, as told to the listeners (the voice loop's
    announcer chimes and says ``spoken``)."""

    kind: Literal["timer", "reminder"]
    """Which of the two fired."""
    id: str
    """The timer's or reminder's id."""
    user_id: str
    """Whose it is."""
    name: str | None
    """The timer's name (None for an unnamed timer) or the reminder's text."""
    spoken: str
    """What to say: "Your pasta timer is done.", "Reminder: call Mum."."""
    due_at: float
    """When it was due (seconds since the epoch)."""
    fired_at: float
    """When it fired; later than ``due_at`` when the process was down at the time."""

    @property
    def late_seconds(self) -> float:
        """How late it fired."""
        return max(self.fired_at - self.due_at, 0.0)


Listener = Callable[[Fired], Awaitable[None]]
"""Told of every timer and reminder that fires, after its notification is stored."""


class AmbiguousTimer(Conflict):
    """Several timers run and the request named none of them: say which there are."""

    def __init__(self, timers: list[Timer], now: float) -> None:
        names = [t.label for t in timers]
        listed = ", ".join(names[:-1]) + f" and {names[-1]}"
        super().__init__(
            f"You have {len(timers)} timers: {listed}. Which one do you mean?",
            choices=[t.id for t in timers],
        )
        self.timers = timers
        """The candidates, soonest to end first."""
        self.now = now
        """When it was asked (for what is left of each)."""


def duration_adjective(seconds: float) -> str:
    """A duration as it stands before a noun: "10 minute", "1 hour 30 minute", "45 second"."""
    total = max(math.ceil(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour")
    if minutes:
        parts.append(f"{minutes} minute")
    if secs or not parts:
        parts.append(f"{secs} second")
    return " ".join(parts)


def timer_spoken(timer: Timer) -> str:
    """What is said when a timer fires."""
    if timer.name:
        return f"Your {timer.name} timer is done."
    return f"Your {duration_adjective(timer.duration_seconds)} timer is done."


def reminder_spoken(text: str) -> str:
    """What is said when a reminder fires."""
    body = text.strip().rstrip(".!")
    return f"Reminder: {body}."
