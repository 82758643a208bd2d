"""``assistant config``: inspect the effective settings."""

from __future__ import annotations

import typer

from assistant.cli.common import print_json, state

app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the effective settings (defaults < TOML file < environment), secrets masked."""
    print_json(state(ctx).settings().public_dump())
