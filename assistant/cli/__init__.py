"""The ``assistant`` command line: one face over the same services as the HTTP API."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from assistant.cli import analytics as analytics_cmd
from assistant.cli import audio as audio_cmd
from assistant.cli import camera as camera_cmd
from assistant.cli import chat as chat_cmd
from assistant.cli import config as config_cmd
from assistant.cli import db as db_cmd
from assistant.cli import lists as lists_cmd
from assistant.cli import models as models_cmd
from assistant.cli import notify as notify_cmd
from assistant.cli import serve as serve_cmd
from assistant.cli import sync as sync_cmd
from assistant.cli import talk as talk_cmd
from assistant.cli import timers as timers_cmd
from assistant.cli import translate as translate_cmd
from assistant.cli import users as users_cmd
from assistant.cli.common import CliState, report
from assistant.logs import configure_logging
from assistant.problems import OWN_ERRORS, explain

app = typer.Typer(
    name="assistant",
    help="A private, on-device AI assistant: chat, voice, translation and vision.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve_cmd.serve)
app.command("chat")(chat_cmd.chat)
app.command("talk")(talk_cmd.talk)
app.command("translate")(translate_cmd.translate)
app.command("interpret")(translate_cmd.interpret)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.add_typer(users_cmd.app, name="users")
app.add_typer(users_cmd.auth_app, name="auth")
app.add_typer(models_cmd.app, name="models")
app.add_typer(audio_cmd.app, name="audio")
app.add_typer(sync_cmd.app, name="sync")
app.command("notify")(notify_cmd.notify)
app.add_typer(notify_cmd.app, name="notifications")
app.add_typer(camera_cmd.app, name="camera")
app.add_typer(analytics_cmd.app, name="analytics")
app.add_typer(timers_cmd.app, name="timers")
app.add_typer(timers_cmd.reminders_app, name="reminders")
app.add_typer(lists_cmd.app, name="lists")

log = logging.getLogger(__name__)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="ASSISTANT_CONFIG",
            help="TOML settings file (environment variables ASSISTANT_* override it).",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the database, models and secrets live"
            " (default: $XDG_DATA_HOME/assistant or ~/.local/share/assistant).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.", show_default=False),
    ] = None,
) -> None:
    """A private, on-device AI assistant: chat, voice, translation and vision."""
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if log_level is not None:
        overrides["log_level"] = log_level.upper()
    cli_state = CliState(config_file=config, overrides=overrides)
    ctx.obj = cli_state
    level = cli_state.settings().log_level
    if log_level is None and ctx.invoked_subcommand != "serve":
        level = "WARNING"  # one-shot commands speak through their output, not the log
    configure_logging(level)


def main() -> None:
    """Entry point of the ``assistant`` console script."""
    try:
        app()
    except OWN_ERRORS as exc:
        problem = explain(exc)
        report(problem.detail)
        raise SystemExit(2 if problem.code == "invalid-input" else 1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
