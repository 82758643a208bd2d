"""``assistant sync``: the bridge of a user's profile to a cloud instance."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from assistant.cli.common import console, fail, open_services, print_json
from assistant.clock import iso
from assistant.services import Services
from assistant.sync import Outcome, SyncStatus

app = typer.Typer(
    help="Sync a user's profile and preferences with a cloud instance of this server.",
    no_args_is_help=True,
)

UserOption = Annotated[str, typer.Option("--user", "-u", help="Local account (username).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _user_id(services: Services, username: str) -> str:
    return services.auth.find_user(username).id


@app.command("status")
def status(ctx: typer.Context, user: UserOption, as_json: JsonOption = False) -> None:
    """Show the sync state: last success, pending changes, last error, conflicts."""
    with open_services(ctx) as services:
        current = services.sync.status(_user_id(services, user))
    if as_json:
        print_json(_status_data(current))
        return
    if not current.enabled:
        console.print("sync is [bold]off[/] for this account")
    else:
        console.print(f"sync with [bold]{current.url}[/] ({current.source})")
    console.print(f"pending changes: {current.pending}")
    console.print(f"last success: {iso(current.last_success_at) or 'never'}")
    if current.last_error:
        console.print(f"last error ({current.last_error_code}): {current.last_error}")
        console.print(f"next attempt: {iso(current.next_attempt_at)}")
    console.print(
        f"conflicts resolved: {current.conflicts_total}"
        f" (pushed {current.pushed_total}, pulled {current.pulled_total})"
    )
    for conflict in current.recent_conflicts[:5]:
        console.print(f"  {conflict.field}: {conflict.winner} won")


def _status_data(current: SyncStatus) -> dict[str, object]:
    return {
        "enabled": current.enabled,
        "url": current.url,
        "source": current.source,
        "device_id": current.device_id,
        "pending": current.pending,
        "last_success_at": iso(current.last_success_at),
        "last_error_code": current.last_error_code,
        "last_error": current.last_error,
        "failures": current.failures,
        "next_attempt_at": iso(current.next_attempt_at),
        "conflicts_total": current.conflicts_total,
    }


@app.command("now")
def now(ctx: typer.Context, user: UserOption) -> None:
    """Run one round (pull, merge, push) now and show its outcome."""
    with open_services(ctx) as services:
        result = services.sync.sync_now(_user_id(services, user))
    if result.outcome is not Outcome.OK:
        raise fail(f"sync {result.outcome.value}: {result.error}")
    console.print(
        f"synced: {result.pulled} pulled, {result.pushed} pushed,"
        f" {len(result.conflicts)} conflicts resolved"
    )


@app.command("enable")
def enable(
    ctx: typer.Context,
    user: UserOption,
    url: Annotated[str, typer.Option(help="Base URL of the cloud instance.")],
    api_key: Annotated[
        str | None,
        typer.Option(help="An API key of the account on the cloud (default: read stdin)."),
    ] = None,
) -> None:
    """Sync the account with a cloud instance (the API key is stored encrypted)."""
    key = api_key if api_key is not None else sys.stdin.readline().strip()
    with open_services(ctx) as services:
        current = services.sync.configure(_user_id(services, user), url, key)
    console.print(f"sync enabled with [bold]{current.url}[/]; a running server syncs soon")


@app.command("disable")
def disable(ctx: typer.Context, user: UserOption) -> None:
    """Stop syncing the account (its data stays as it is)."""
    with open_services(ctx) as services:
        services.sync.remove(_user_id(services, user))
    console.print("sync disabled")
