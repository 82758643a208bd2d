"""Bodies of ``/api/v1/timers`` and ``/api/v1/reminders``."""

from __future__ import annotations

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.profile.models import Instant, PlainText
from assistant.timers import Reminder, Timer
from assistant.timers.models import TimerOptions

_LIMITS = TimerOptions()


class TimerIn(BaseModel):
    """A timer to start."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seconds: float = Field(ge=1, le=_LIMITS.max_timer_seconds, allow_inf_nan=False)
    """How long it runs (at least 1 second, at most a week)."""
    name: PlainText | None = Field(default=None, max_length=_LIMITS.max_name_chars)
    """What to call it ("pasta"); names are unique among your running and paused timers."""


class TimerOut(msgspec.Struct, kw_only=True):
    """A timer and what is left of it."""

    id: str
    name: str | None
    """What it is called; null for an unnamed timer."""
    duration_seconds: float
    """How long it was set for."""
    state: str
    """running, paused, fired or cancelled."""
    ends_at: str | None
    """When a running timer goes off; null otherwise."""
    remaining_seconds: float
    """What is left now (0 once fired or cancelled)."""
    created_at: str | None
    fired_at: str | None

    @classmethod
    def of(cls, timer: Timer, now: float) -> TimerOut:
        return msgspec.convert(timer.to_json(now), cls)


class TimersOut(msgspec.Struct, kw_only=True):
    """Your running and paused timers, the soonest to end first."""

    items: list[TimerOut]


class ReminderIn(BaseModel):
    """A reminder to set: at ``due_at``, or ``in_seconds`` from now."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: PlainText = Field(min_length=1, max_length=_LIMITS.max_text_chars)
    """What to remind you of ("call Mum")."""
    due_at: Instant | None = None
    """When (ISO 8601 with an offset)."""
    in_seconds: float | None = Field(
        default=None, ge=0, le=_LIMITS.max_reminder_days * 86_400.0, allow_inf_nan=False
    )
    """Or this long from now."""

    @model_validator(mode="after")
    def _one_time(self) -> ReminderIn:
        if (self.due_at is None) == (self.in_seconds is None):
            raise ValueError("send due_at or in_seconds (one of them)")
        return self


class ReminderOut(msgspec.Struct, kw_only=True):
    """A reminder and its state."""

    id: str
    text: str
    due_at: str | None
    state: str
    """scheduled, fired or cancelled."""
    created_at: str | None
    fired_at: str | None

    @classmethod
    def of(cls, reminder: Reminder) -> ReminderOut:
        return msgspec.convert(reminder.to_json(), cls)


class RemindersOut(msgspec.Struct, kw_only=True):
    """Your scheduled reminders, the soonest first."""

    items: list[ReminderOut]
