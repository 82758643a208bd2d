"""``/api/v1/timers`` and ``/api/v1/reminders``: your timers (start, pause, resume,
cancel, what is left) and reminders (set, list, cancel). When one comes due the server
sends a notification (category ``timer`` or ``reminder``) and speaks it on the device
when the voice loop runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio
from litestar import Controller, delete, get, post
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from assistant.profile.models import Instant
from server.deps import PrincipalDep, TimersDep
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.timers import (
    ReminderIn,
    ReminderOut,
    RemindersOut,
    TimerIn,
    TimerOut,
    TimersOut,
)

TimerId = Annotated[str, Parameter(max_length=64, description="The timer's id")]
ReminderId = Annotated[str, Parameter(max_length=64, description="The reminder's id")]


def _instant_seconds(value: Instant) -> float:
    return datetime.fromisoformat(value).timestamp()


class TimersController(Controller):
    """Your timers: several may run at once, each optionally named."""

    path = "/api/v1/timers"
    tags = ["timers"]

    @get(responses=problems(401), summary="My running and paused timers")
    async def list_timers(self, timers: TimersDep, principal: PrincipalDep) -> TimersOut:
        """The soonest to end first, each with what is left now."""
        found = await anyio.to_thread.run_sync(timers.list, principal.user_id)
        now = timers.clock()
        return TimersOut(items=[TimerOut.of(t, now) for t in found])

    @post(
        status_code=HTTP_201_CREATED,
        responses=problems(*JSON_BODY, 401, 409),
        summary="Start a timer",
    )
    async def start(
        self, data: JSONBody[TimerIn], timers: TimersDep, principal: PrincipalDep
    ) -> TimerOut:
        """It runs for ``seconds``; when it ends you get a notification (category
        ``timer``) and, where the voice loop runs, a chime and a spoken alert. A second
        running or paused timer with the same ``name`` is a conflict."""
        timer = await anyio.to_thread.run_sync(
            timers.start, principal.user_id, data.seconds, data.name
        )
        return TimerOut.of(timer, timers.clock())

    @get(
        "/{timer_id:str}",
        responses=problems(*PARAMETERS, 401, 404),
        summary="One timer",
    )
    async def get_timer(
        self, timer_id: TimerId, timers: TimersDep, principal: PrincipalDep
    ) -> TimerOut:
        """In any state, with what is left now."""
        timer = await anyio.to_thread.run_sync(timers.get, principal.user_id, timer_id)
        return TimerOut.of(timer, timers.clock())

    @post(
        "/{timer_id:str}/pause",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404, 409),
        summary="Pause a timer",
    )
    async def pause(
        self, timer_id: TimerId, timers: TimersDep, principal: PrincipalDep
    ) -> TimerOut:
        """Its countdown stops and what is left is kept; pausing a timer that is not
        running is a conflict."""
        timer = await anyio.to_thread.run_sync(
            lambda: timers.pause(principal.user_id, timer_id=timer_id)
        )
        return TimerOut.of(timer, timers.clock())

    @post(
        "/{timer_id:str}/resume",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404, 409),
        summary="Resume a paused timer",
    )
    async def resume(
        self, timer_id: TimerId, timers: TimersDep, principal: PrincipalDep
    ) -> TimerOut:
        """It runs again from what was left; resuming a timer that is not paused is a
        conflict."""
        timer = await anyio.to_thread.run_sync(
            lambda: timers.resume(principal.user_id, timer_id=timer_id)
        )
        return TimerOut.of(timer, timers.clock())

    @delete(
        "/{timer_id:str}",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404, 409),
        summary="Cancel a timer",
    )
    async def cancel(
        self, timer_id: TimerId, timers: TimersDep, principal: PrincipalDep
    ) -> TimerOut:
        """A running or paused timer stops for good (it never goes off); the answer is the
        cancelled timer. One that already went off is a conflict."""
        timer = await anyio.to_thread.run_sync(
            lambda: timers.cancel(principal.user_id, timer_id=timer_id)
        )
        return TimerOut.of(timer, timers.clock())


class RemindersController(Controller):
    """Your reminders: a notification (and a spoken alert) at a given time."""

    path = "/api/v1/reminders"
    tags = ["reminders"]

    @get(responses=problems(401), summary="My scheduled reminders")
    async def list_reminders(self, timers: TimersDep, principal: PrincipalDep) -> RemindersOut:
        """The soonest first."""
        found = await anyio.to_thread.run_sync(timers.reminders, principal.user_id)
        return RemindersOut(items=[ReminderOut.of(r) for r in found])

    @post(
        status_code=HTTP_201_CREATED,
        responses=problems(*JSON_BODY, 401, 409),
        summary="Set a reminder",
    )
    async def add(
        self, data: JSONBody[ReminderIn], timers: TimersDep, principal: PrincipalDep
    ) -> ReminderOut:
        """At ``due_at`` (ISO 8601 with an offset) or ``in_seconds`` from now, you get a
        notification (category ``reminder``) saying ``text`` and, where the voice loop
        runs, a spoken alert. A time more than a minute in the past is refused."""
        if data.due_at is not None:
            due_at = _instant_seconds(data.due_at)
        else:
            assert data.in_seconds is not None
            due_at = timers.clock() + data.in_seconds
        reminder = await anyio.to_thread.run_sync(
            timers.add_reminder, principal.user_id, data.text, due_at
        )
        return ReminderOut.of(reminder)

    @delete(
        "/{reminder_id:str}",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404, 409),
        summary="Cancel a reminder",
    )
    async def cancel(
        self, reminder_id: ReminderId, timers: TimersDep, principal: PrincipalDep
    ) -> ReminderOut:
        """A scheduled reminder is dropped (it never goes off); the answer is the
        cancelled reminder. One that already went off is a conflict."""
        reminder = await anyio.to_thread.run_sync(
            lambda: timers.cancel_reminder(principal.user_id, reminder_id=reminder_id)
        )
        return ReminderOut.of(reminder)
