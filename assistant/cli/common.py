"""What every CLI command shares: settings, services, console, error reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.text import Text

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


def report(message: str) -> None:
    """``error: message`` on stderr; the message is text, never markup (it may quote
    what the user typed: ``x[/y]:1`` would otherwise crash the printer)."""
    err_console.print(Text("error:", style="bold red"), Text(message), highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    report(message)
    return typer.Exit(code)


# Tables --------------------------------------------------------------------------------
# Rich renders only strings and renderables (a float cell raises NotRenderableError) and
# reads "[...]" in a string as markup (a device called "Desk [/]" raises MarkupError), so
# every cell of data goes through one of these.


def plain(value: object) -> Text:
    """A table cell showing a value as it is: never read as markup, None as blank."""
    return Text("" if value is None else str(value))


def megabytes(value: float | None) -> Text:
    """``1,234 MB`` (``?`` when unknown)."""
    return Text("?" if value is None else f"{value:,.0f} MB")


def duration(seconds: float) -> str:
    """A length of time for people: ``45 s``, ``1 min 30 s``, ``2 h 5 min``."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(total, 3600)
    return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"


def problem_detail(response: httpx.Response) -> str:
    """What a failed answer says (its problem document's detail, or its status)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return f"the server answered {response.status_code} {response.reason_phrase}"
