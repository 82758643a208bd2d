"""Timers and reminders: per user, stored in SQLite, fired once by the scheduler with a
notification and a call to every listener (the voice loop's spoken alert)."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.timers.models import (
    AmbiguousTimer,
    Fired,
    Listener,
    Reminder,
    ReminderState,
    Timer,
    TimerOptions,
    TimerState,
)
from assistant.timers.scheduler import TimerScheduler
from assistant.timers.service import TimerService

__all__ = [
    "AmbiguousTimer",
    "Fired",
    "Listener",
    "Reminder",
    "ReminderState",
    "Timer",
    "TimerOptions",
    "TimerScheduler",
    "TimerService",
    "TimerState",
    "Timers",
]


@dataclass
class Timers:
    """The timer service and the worker that fires its timers and reminders."""

    service: TimerService
    scheduler: TimerScheduler
