"""``assistant notify`` and ``assistant notifications``: send, schedule and list notifications.

The command writes to the same outbox as ``POST /api/v1/notifications/send``; the running
server (``assistant serve``) delivers it within a second, or after it starts.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated

import typer
from rich.table import Table

from assistant.auth import Principal, Role
from assistant.cli.chat import pick_user
from assistant.cli.common import console, fail, open_services, plain
from assistant.clock import iso
from assistant.errors import InvalidInput
from assistant.notifications.models import HistoryQuery, NotificationDraft

app = typer.Typer(help="List your notifications.", no_args_is_help=True)


def when(at: str, now: datetime) -> str:
    """``--at``: an ISO 8601 time (with or without offset: local), or ``HH:MM`` (the next
    such time, local)."""
    try:
        if len(at) <= 5 and ":" in at:
            moment = datetime.combine(now.date(), time.fromisoformat(at), tzinfo=now.tzinfo)
            if moment <= now:
                moment += timedelta(days=1)
        else:
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=now.tzinfo)
    except ValueError as exc:
        raise InvalidInput(
            f"--at {at!r} is not a time such as 18:30 or 2027-01-15T18:30", field="at"
        ) from exc
    return moment.isoformat()


def notify(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="The headline.")],
    body: Annotated[str, typer.Argument(help="The message.")] = "",
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Account to notify (default: the only one).")
    ] = None,
    all_users: Annotated[bool, typer.Option("--all", help="Notify every account.")] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="Deliver at this time: 18:30 or an ISO 8601 time.")
    ] = None,
    in_: Annotated[
        str | None, typer.Option("--in", help="Deliver after this long: 90s, 10m, 1h30m, 2d.")
    ] = None,
    priority: Annotated[
        str, typer.Option("--priority", "-p", help="1-5 or min, low, default, high, max.")
    ] = "default",
    category: Annotated[
        str, typer.Option("--category", "-c", help="general, reminder, timer, alarm...")
    ] = "general",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    collapse_key: Annotated[
        str | None,
        typer.Option("--collapse-key", help="Replace the earlier notification with this key."),
    ] = None,
) -> None:
    """Send or schedule a notification (the running server delivers it)."""
    if at is not None and in_ is not None:
        raise fail("use --at or --in, not both", code=2)
    with open_services(ctx) as services:
        users = services.auth.list_users()
        target = None if all_users else pick_user(users, user)
        admin = Principal(user_id=target.id if target else "", username="cli", role=Role.ADMIN)
        now = datetime.now().astimezone()
        fields = {
            "title": title,
            "body": body,
            "priority": int(priority) if priority.isdigit() else priority,
            "category": category,
            "tags": tag or [],
            "collapse_key": collapse_key,
            "deliver_at": when(at, now) if at else None,
            "delay": in_,
            "all_users": all_users,
        }
        try:
            draft = NotificationDraft.model_validate(fields)
        except ValueError as exc:
            raise fail(f"invalid notification: {exc}", code=2) from exc
        sent = services.notifications.service.send(admin, draft)
    for notification in sent:
        if notification.status == "active":
            state = "queued for delivery"
        else:
            state = f"{notification.status} until {iso(notification.deliver_at)}"
        console.print(f"notification {notification.id}: {state}")


@app.command("list")
def list_notifications(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Whose (default: the only account).")
    ] = None,
    unread: Annotated[bool, typer.Option("--unread", help="Only unread ones.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200, help="How many.")] = 20,
) -> None:
    """The newest notifications with their status and delivery per channel."""
    with open_services(ctx) as services:
        target = pick_user(services.auth.list_users(), user)
        service = services.notifications.service
        page = service.history(
            target.id, HistoryQuery(unread=True if unread else None, limit=limit)
        )
        detailed = [service.get(target.id, n.id) for n in page]
    table = Table()
    for column in ("when", "title", "category", "priority", "status", "read", "deliveries"):
        table.add_column(column, overflow="fold")
    for notification in detailed:
        channels = ", ".join(
            f"{d.channel}: {d.status}" for d in notification.deliveries if d.status != "skipped"
        )
        table.add_row(
            plain(iso(notification.deliver_at)),
            plain(notification.title or notification.body[:40]),
            plain(notification.category),
            plain(notification.priority),
            plain(notification.status),
            plain("yes" if notification.read_at else "no"),
            plain(channels or "-"),
        )
    console.print(table)
