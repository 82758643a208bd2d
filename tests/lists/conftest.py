"""Fixtures of the list tests: the service on a real SQLite file, and the sentence
templates of the list and note skills recognised as the router recognises them (every
skill's files merged, hassil's best match)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from assistant.auth import AuthService, PasswordHasher, TokenIssuer, load_or_create_keyset
from assistant.clock import ManualClock
from assistant.lists import ListService
from assistant.settings import Settings
from assistant.skills.templates import Templates
from assistant.store import Database

SENTENCES = Path(__file__).parents[2] / "assistant" / "skills" / "sentences" / "en"
PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A migrated database in a temporary folder, with users ada and bob."""
    database = Database.open(tmp_path / "lists.db")
    settings = Settings.load(data_dir=tmp_path / "data")
    keyset = load_or_create_keyset(tmp_path / "keys.json", 0.0)
    auth = AuthService(
        database,
        settings.auth,
        TokenIssuer(keyset, issuer="test", ttl_seconds=60, grace_seconds=60),
        PasswordHasher.fast_for_tests(),
    )
    auth.create_user("ada", PASSWORD)
    auth.create_user("bob", PASSWORD)
    yield database
    database.close()


@pytest.fixture
def users(db: Database) -> dict[str, str]:
    """User ids by name."""
    with db.read() as conn:
        return {row["username"]: row["id"] for row in conn.all("SELECT id, username FROM users")}


@pytest.fixture
def lists(db: Database, clock: ManualClock) -> ListService:
    """The list service on the test database and a manual clock."""
    return ListService(db, clock)


def own_names(skill: str) -> dict[str, list[str]]:
    """The list and expansion-rule names a skill's sentence file defines."""
    data = yaml.safe_load((SENTENCES / f"{skill}.yaml").read_text(encoding="utf-8"))
    return {key: list(data.get(key) or {}) for key in ("lists", "expansion_rules")}


def recognised(templates: Templates, text: str) -> tuple[str, dict[str, str]] | None:
    """The intent and raw slot texts the recogniser finds for a sentence, or None."""
    found = templates.recognize(text, "en")
    return None if found is None else (found.intent, dict(found.slots))
