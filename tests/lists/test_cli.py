"""``assistant lists``: the same lists from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app
from assistant.errors import NotFound

runner = CliRunner()


def run(tmp_path: Path, *args: str, input: str | None = None) -> str:
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), *args], input=input, terminal_width=120
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_show_add_remove_clear_delete(tmp_path: Path) -> None:
    run(tmp_path, "users", "add", "ada", "--password-stdin", input="correct horse\n")
    assert "no lists yet" in run(tmp_path, "lists", "show")
    added = run(tmp_path, "lists", "add", "Shopping List", "milk", "eggs", "Milk")
    assert "added 'milk' to shopping" in added and "added 'eggs' to shopping" in added
    assert "'milk' is already on shopping" in added
    listing = run(tmp_path, "lists", "show", "shopping")
    assert listing.index("milk") < listing.index("eggs")
    assert "shopping" in run(tmp_path, "lists", "show")
    assert "removed 'milk' from shopping" in run(
        tmp_path, "lists", "remove", "shopping", "the milk"
    )
    assert "milk" not in run(tmp_path, "lists", "show", "shopping")
    assert "removed 1 item(s)" in run(tmp_path, "lists", "clear", "shopping")
    assert "the shopping list is empty" in run(tmp_path, "lists", "show", "shopping")
    run(tmp_path, "lists", "add", "to do", "call the plumber")
    assert "deleted the list and its 1 item(s)" in run(tmp_path, "lists", "delete", "todo")
    failed = runner.invoke(app, ["--data-dir", str(tmp_path), "lists", "show", "to-do"])
    assert failed.exit_code != 0 and isinstance(failed.exception, NotFound)


def test_remove_by_id(tmp_path: Path) -> None:
    run(tmp_path, "users", "add", "ada", "--password-stdin", input="correct horse\n")
    run(tmp_path, "lists", "add", "notes", "The code is 1234")
    listing = run(tmp_path, "lists", "show", "notes")
    item_id = next(word for word in listing.split() if word.count("-") == 4)
    assert "removed 'The code is 1234'" in run(tmp_path, "lists", "remove", "notes", item_id)
