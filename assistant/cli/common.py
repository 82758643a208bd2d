"""What every CLI command shares: settings, services, console, error reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from assistant.problems import OwnError, explain
from assistant.services import Services, build_services
from assistant.settings import Settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    """Options given before the command name."""

    config_file: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    def settings(self) -> Settings:
        """Effective settings, built once."""
        if self._settings is None:
            self._settings = Settings.load(self.config_file, **self.overrides)
        return self._settings


def state(ctx: typer.Context) -> CliState:
    """The CLI state of this invocation."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = ctx.find_root().obj = CliState()
    return obj


@contextmanager
def open_services(ctx: typer.Context) -> Iterator[Services]:
    """The same services the server uses, closed when the command ends."""
    services = build_services(state(ctx).settings())
    try:
        yield services
    finally:
        services.close()


def print_json(data: Any) -> None:
    """JSON to stdout: highlighted on a terminal, plain when piped."""
    text = json.dumps(data, indent=2, default=str)
    if sys.stdout.isatty():
        console.print_json(text)
    else:
        typer.echo(text)


def error_message(exc: OwnError) -> str:
    """What the CLI says about an error: the detail of the same problem the API answers,
    hints included (such as the command that installs a missing model)."""
    return explain(exc).detail


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)
