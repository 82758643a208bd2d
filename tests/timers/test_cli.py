"""``assistant timers`` and ``assistant reminders`` on a data directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import Conflict, NotFound

runner = CliRunner()


def run(tmp_path: Path, *args: str, code: int = 0, input: str | None = None) -> str:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), *args], input=input)
    assert result.exit_code == code, result.output
    return result.output


def refused(tmp_path: Path, *args: str) -> BaseException:
    """The domain error a command stops with (``main`` reports it; the runner raises it)."""
    result = runner.invoke(app, ["--data-dir", str(tmp_path), *args])
    assert result.exit_code != 0 and result.exception is not None, result.output
    return result.exception


def test_timers_start_list_and_cancel(tmp_path: Path) -> None:
    run(tmp_path, "users", "add", "ada", "--password-stdin", input="correct horse\n")
    assert "no timers" in run(tmp_path, "timers", "list")
    started = run(tmp_path, "timers", "start", "10m", "--name", "pasta")
    assert started.startswith("timer ") and "the pasta timer ends at" in started
    run(tmp_path, "timers", "start", "90s")
    listing = run(tmp_path, "timers", "list")
    assert "pasta" in listing and "running" in listing
    assert "cancelled the pasta timer" in run(tmp_path, "timers", "cancel", "pasta")
    timer_id = started.split()[1].rstrip(":")
    assert "already" not in run(tmp_path, "timers", "cancel")  # the only one left
    assert "no timers" in run(tmp_path, "timers", "list")
    failed = refused(tmp_path, "timers", "cancel", timer_id)
    assert isinstance(failed, Conflict) and "was cancelled" in failed.detail
    assert isinstance(refused(tmp_path, "timers", "cancel", "pasta"), NotFound)
    assert isinstance(refused(tmp_path, "timers", "start", "soon"), SystemExit)


def test_reminders_add_list_and_cancel(tmp_path: Path) -> None:
    run(tmp_path, "users", "add", "ada", "--password-stdin", input="correct horse\n")
    added = run(tmp_path, "reminders", "add", "call Mum", "--in", "1h")
    assert "'call Mum'" in added
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    run(tmp_path, "reminders", "add", "take the bins out", "--at", tomorrow)
    listing = run(tmp_path, "reminders", "list")
    assert "call Mum" in listing and "bins" in listing
    assert "cancelled the reminder 'call Mum'" in run(tmp_path, "reminders", "cancel", "mum")
    assert "call Mum" not in run(tmp_path, "reminders", "list")
    assert isinstance(refused(tmp_path, "reminders", "add", "x"), SystemExit)
