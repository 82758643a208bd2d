"""``assistant users`` and ``assistant auth``: accounts, registration, signing keys."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from assistant.auth import Principal, Role, User
from assistant.auth.tokens import load_or_create_keyset, save_keyset
from assistant.cli.common import console, fail, open_services, plain, state
from assistant.clock import iso, system_clock
from assistant.services import JWT_KEYS_FILE

app = typer.Typer(help="Manage accounts and open registration.", no_args_is_help=True)
auth_app = typer.Typer(help="Authentication secrets.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command("add")
def add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name (2-32 letters, digits, . _ -).")],
    role: Annotated[Role, typer.Option(help="admin or user.")] = Role.USER,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an account (works whether or not registration is open)."""
    password = _read_password(password_stdin)
    with open_services(ctx) as services:
        user = services.auth.create_user(username, password, role)
    console.print(f"created [bold]{user.username}[/] ({user.role.value}), id {user.id}")


@app.command("list")
def list_users(ctx: typer.Context) -> None:
    """List every account."""
    with open_services(ctx) as services:
        users = services.auth.list_users()
    table = users_table(users)
    console.print(table)


def users_table(users: list[User]) -> Table:
    """Accounts as a table; ids fold rather than being cut on a narrow terminal."""
    table = Table()
    table.add_column("username", overflow="fold")
    table.add_column("role", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("id", overflow="fold")
    for user in users:
        table.add_row(
            plain(user.username),
            plain(user.role.value),
            plain("disabled" if user.disabled else "active"),
            plain(iso(user.created_at)),
            plain(user.id),
        )
    return table


@app.command("reset-password")
def reset_password(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Account to reset.")],
) -> None:
    """Issue a one-time, expiring reset token; the user sets a new password with it."""
    with open_services(ctx) as services:
        token = services.auth.issue_reset_token(username)
        minutes = services.settings.auth.reset_token_ttl_minutes
    console.print(f"reset token for {username} (valid {minutes} minutes, once):", markup=False)
    typer.echo(token)
    console.print(
        "The user sends it to POST /api/v1/auth/password/reset with a new password;"
        " all their sessions end and their API keys are revoked.",
        style="dim",
    )


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Account to change.")],
    role: Annotated[Role, typer.Argument(help="admin or user.")],
) -> None:
    """Make an account admin or user (the last admin cannot be demoted)."""
    with open_services(ctx) as services:
        user = services.auth.find_user(username)
        services.auth.update_user(user.id, role=role)
    console.print(f"{username} is now {role.value}")


@app.command("disable")
def disable(
    ctx: typer.Context, username: Annotated[str, typer.Argument(help="Account to disable.")]
) -> None:
    """Stop an account from signing in; its sessions end and its API keys are revoked."""
    with open_services(ctx) as services:
        services.auth.update_user(services.auth.find_user(username).id, disabled=True)
    console.print(f"{username} disabled")


@app.command("enable")
def enable(
    ctx: typer.Context, username: Annotated[str, typer.Argument(help="Account to enable.")]
) -> None:
    """Let a disabled account sign in again (revoked API keys stay revoked)."""
    with open_services(ctx) as services:
        services.auth.update_user(services.auth.find_user(username).id, disabled=False)
    console.print(f"{username} enabled")


@app.command("remove")
def remove(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Account to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an account and everything it owns."""
    if not yes and not typer.confirm(f"Delete {username} and all their data?"):
        raise fail("not deleted")
    with open_services(ctx) as services:
        services.auth.delete_user(services.auth.find_user(username).id)
    console.print(f"{username} deleted")


@app.command("registration")
def registration(
    ctx: typer.Context,
    action: Annotated[
        str | None, typer.Argument(help="open or close; leave out to show the current state.")
    ] = None,
) -> None:
    """Show, open or close self-registration (closed by default after the first account)."""
    with open_services(ctx) as services:
        if action is not None:
            if action not in ("open", "close"):
                raise fail("say 'open' or 'close'", code=2)
            services.auth.set_registration_open(action == "open")
        is_open = services.auth.registration_open()
    console.print(f"registration is {'open' if is_open else 'closed'}")


@app.command("api-key")
def api_key(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Account the key acts for.")],
    name: Annotated[str, typer.Argument(help='What the key is for ("kitchen tablet").')],
    days: Annotated[int | None, typer.Option(help="Expire after this many days.")] = None,
) -> None:
    """Create a device API key for an account (shown once; companion apps, `models ps`)."""
    with open_services(ctx) as services:
        user = services.auth.find_user(username)
        principal = Principal(user_id=user.id, username=user.username, role=user.role)
        key, secret = services.auth.create_api_key(principal, name, days)
    console.print(
        f"API key {key.prefix}... for {username} ({name}); it is shown only now:", markup=False
    )
    typer.echo(secret)


@auth_app.command("rotate-key")
def rotate_key(ctx: typer.Context) -> None:
    """Start signing access tokens with a new key; the old one verifies for a grace period."""
    settings = state(ctx).settings()
    path = settings.secrets_dir / JWT_KEYS_FILE
    now = system_clock()
    keyset = load_or_create_keyset(path, now).rotated(now, settings.auth.previous_key_grace_seconds)
    save_keyset(path, keyset)
    console.print(
        f"new signing key {keyset.current.kid}; {len(keyset.keys) - 1} older key(s) kept for"
        f" {settings.auth.previous_key_grace_seconds} s. Restart the server to use it."
    )
