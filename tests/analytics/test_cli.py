"""``assistant analytics``: rollup, export and experiments on a data folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.analytics.experiments import ExperimentDraft, Variant
from assistant.auth import PasswordHasher
from assistant.cli import app
from assistant.services import build_services
from assistant.settings import Settings

runner = CliRunner()


def test_rollup_export_and_experiments(tmp_path: Path) -> None:
    services = build_services(
        Settings.load(data_dir=tmp_path), hasher=PasswordHasher.fast_for_tests()
    )
    ada = services.auth.create_user("ada", "correct horse battery").id
    bob = services.auth.create_user("bob", "correct horse battery").id
    services.events.emit("app.opened", {"screen": "home"}, user_id=ada)
    services.events.emit("app.opened", {"screen": "chat"}, user_id=bob)
    services.experiments.create(
        ExperimentDraft("chat.style", (Variant("control"), Variant("brief")), ("app.opened",))
    )
    services.close()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--data-dir", str(tmp_path), "analytics", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "1 hours rolled up" in run("rollup")
    rows = [json.loads(line) for line in run("export", "--user", "ada").splitlines()]
    assert [(r["name"], r["properties"]) for r in rows] == [("app.opened", {"screen": "home"})]
    out = tmp_path / "all.csv"
    run("export", "--format", "csv", "--output", str(out))
    assert out.read_text().count("app.opened") == 2
    table = run("experiments")
    assert "chat.style" in table and "brief" in table and "draft" in table
