"""``assistant timers`` and ``assistant reminders``: start, list and cancel timers; set,
list and cancel reminders.

They write to the same tables as ``/api/v1/timers`` and ``/api/v1/reminders``; the
running server (``assistant serve``) fires them within a second, or after it starts.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.chat import pick_user
from assistant.cli.common import console, duration, fail, open_services, plain
from assistant.cli.notify import when
from assistant.clock import iso, to_ms
from assistant.notifications.models import parse_duration

app = typer.Typer(help="Start, list and cancel timers.", no_args_is_help=True)
reminders_app = typer.Typer(help="Set, list and cancel reminders.", no_args_is_help=True)

_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
"""A timer's or reminder's id (anything else is a name or words of the text)."""
UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="Whose (default: the only account).")
]


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise fail(f"{text!r} is not a duration such as 90s, 10m or 1h30m", code=2) from exc


@app.command("list")
def list_timers(ctx: typer.Context, user: UserOption = None) -> None:
    """Running and paused timers with what is left."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        service = services.timers.service
        found = service.list(target.id)
        now = service.clock()
    if not found:
        console.print("no timers")
        return
    table = Table()
    for column in ("id", "name", "state", "left", "ends"):
        table.add_column(column, overflow="fold")
    for timer in found:
        table.add_row(
            plain(timer.id),
            plain(timer.name or "-"),
            plain(timer.state.value),
            plain(duration(timer.remaining(now))),
            plain(iso(to_ms(timer.ends_at)) if timer.ends_at is not None else "-"),
        )
    console.print(table)


@app.command("start")
def start_timer(
    ctx: typer.Context,
    length: Annotated[str, typer.Argument(help="How long: 90s, 10m, 1h30m.")],
    name: Annotated[str | None, typer.Option("--name", "-n", help="What to call it.")] = None,
    user: UserOption = None,
) -> None:
    """Start a timer (the running server fires it: a notification and a spoken alert)."""
    seconds = _seconds(length)
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        timer = services.timers.service.start(target.id, seconds, name)
    console.print(f"timer {timer.id}: {timer.label} ends at {iso(to_ms(timer.ends_at or 0))}")


@app.command("cancel")
def cancel_timer(
    ctx: typer.Context,
    which: Annotated[
        str | None, typer.Argument(help="The timer's id or name (default: the only one).")
    ] = None,
    user: UserOption = None,
) -> None:
    """Cancel a running or paused timer, by id or name."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        service = services.timers.service
        if which is not None and _ID.fullmatch(which):
            timer = service.cancel(target.id, timer_id=which)
        else:
            timer = service.cancel(target.id, name=which)
    console.print(f"cancelled {timer.label} ({timer.id})")


@reminders_app.command("list")
def list_reminders(ctx: typer.Context, user: UserOption = None) -> None:
    """Scheduled reminders, the soonest first."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        found = services.timers.service.reminders(target.id)
    if not found:
        console.print("no reminders")
        return
    table = Table()
    for column in ("id", "when", "text"):
        table.add_column(column, overflow="fold")
    for reminder in found:
        table.add_row(plain(reminder.id), plain(iso(to_ms(reminder.due_at))), plain(reminder.text))
    console.print(table)


@reminders_app.command("add")
def add_reminder(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to remind you of.")],
    at: Annotated[str | None, typer.Option("--at", help="When: 18:30 or an ISO 8601 time.")] = None,
    in_: Annotated[
        str | None, typer.Option("--in", help="After this long: 90s, 10m, 1h30m, 2d.")
    ] = None,
    user: UserOption = None,
) -> None:
    """Set a reminder (the running server sends it: a notification and a spoken alert)."""
    if (at is None) == (in_ is None):
        raise fail("say when: --at or --in (one of them)", code=2)
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        service = services.timers.service
        if at is not None:
            now = datetime.fromtimestamp(service.clock()).astimezone()
            due_at = datetime.fromisoformat(when(at, now)).timestamp()
        else:
            due_at = service.clock() + _seconds(in_ or "")
        reminder = service.add_reminder(target.id, text, due_at)
    console.print(f"reminder {reminder.id}: {reminder.text!r} at {iso(to_ms(reminder.due_at))}")


@reminders_app.command("cancel")
def cancel_reminder(
    ctx: typer.Context,
    which: Annotated[
        str | None,
        typer.Argument(help="The reminder's id or words of its text (default: the only one)."),
    ] = None,
    user: UserOption = None,
) -> None:
    """Cancel a scheduled reminder, by id or by what it says."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        service = services.timers.service
        if which is not None and _ID.fullmatch(which):
            reminder = service.cancel_reminder(target.id, reminder_id=which)
        else:
            reminder = service.cancel_reminder(target.id, text=which)
    console.print(f"cancelled the reminder {reminder.text!r} ({reminder.id})")
