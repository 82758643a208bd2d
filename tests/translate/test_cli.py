"""``assistant translate`` on the tiny CTranslate2 model, imported with ``models add``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from tests.translate.conftest import TINY_MODEL


@pytest.fixture
def data(tmp_path: Path, tiny_nllb: Path) -> list[str]:
    """A data directory with one account and the tiny model installed."""
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    added = runner.invoke(
        app, [*data, "users", "add", "ada", "--password-stdin"], input="correct horse\n"
    )
    assert added.exit_code == 0, added.output
    imported = runner.invoke(
        app,
        [
            *data,
            "models",
            "add",
            str(tiny_nllb),
            "--id",
            TINY_MODEL,
            "--capability",
            "mt",
            "--engine",
            "ctranslate2",
            "--param",
            "style=nllb",
        ],
    )
    assert imported.exit_code == 0, imported.output
    return data


def test_translate_text_and_a_file_keeping_its_layout(data: list[str], tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, [*data, "translate", "the cat sat on the mat", "--from", "en", "--to", "fr", "--json"]
    )
    assert result.exit_code == 0, result.output
    [translation] = json.loads(result.stdout)
    assert (translation["engine"], translation["model"]) == ("ctranslate2", TINY_MODEL)
    assert translation["translated"]
    source = tmp_path / "in.txt"
    source.write_text("The cat sat on the mat.\n\nWe read books at night.\n", encoding="utf-8")
    result = runner.invoke(
        app, [*data, "translate", "--file", str(source), "--to", "de", "--from", "en"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n\n") == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["translate", "the cat", "--to", "zz"], "Unknown language code 'zz'"),
        (["translate", "the cat", "--from", "en", "--to", "ja"], "targets from en: de, es, fr"),
        (["translate", "--output", "x.wav", "hi"], "--output needs --voice"),
        (["translate", "hi", "--term", "nothing"], "--term takes TERM=TRANSLATION"),
        (["interpret", "--langs", "en"], "--langs takes two languages"),
    ],
)
def test_mistakes_are_explained(data: list[str], arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(app, [*data, *arguments])
    assert result.exit_code != 0
    # Errors of the services reach `assistant.cli.main`, which prints their detail.
    assert message in result.output + str(result.exception or "")
