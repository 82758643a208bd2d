"""Fixtures of the list tests: the service on a real SQLite file, and the sentence
templates of the list and note skills recognised by hassil."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hassil import Intents, recognize

from assistant.auth import AuthService, PasswordHasher, TokenIssuer, load_or_create_keyset
from assistant.clock import ManualClock
from assistant.lists import ListService
from assistant.settings import Settings
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


def load_intents(*skills: str) -> Intents:
    """The sentence files of these skills merged as the recogniser merges them."""
    merged: dict[str, Any] = {"language": "en", "intents": {}, "lists": {}, "expansion_rules": {}}
    for skill in skills:
        data = yaml.safe_load((SENTENCES / f"{skill}.yaml").read_text(encoding="utf-8"))
        for key in ("intents", "lists", "expansion_rules"):
            for name, value in (data.get(key) or {}).items():
                assert name not in merged[key], f"{skill}: {key} {name} defined twice"
                if key != "intents":
                    assert name.startswith(f"{skill}_"), f"{skill}: {name} lacks its prefix"
                merged[key][name] = value
    return Intents.from_dict(merged)


def recognised(intents: Intents, text: str) -> tuple[str, dict[str, str]] | None:
    """The intent and raw slot texts hassil finds for a sentence, or None."""
    result = recognize(text, intents)
    if result is None or result.intent is None:
        return None
    return result.intent.name, {k: str(v.value) for k, v in result.entities.items()}
