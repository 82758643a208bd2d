"""Numbered, idempotent schema migrations.

Migrations are the files ``assistant/store/migrations/NNNN_name.sql``. Each pending one
runs in its own transaction together with its row in ``schema_migrations`` and
``PRAGMA user_version``, so a crash never leaves a half-applied schema.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import apsw

from assistant.errors import BackendError

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    """Position in the sequence, from 1, without gaps."""
    name: str
    """Short description taken from the file name."""
    sql: str
    """The statements to run."""

    @property
    def checksum(self) -> str:
        """sha256 of the SQL, to notice a migration edited after it was applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The migrations shipped with the package, in order."""
    found = []
    for entry in resources.files("assistant.store").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise BackendError(f"Migration numbering has a gap before {migration.version:04d}")
    return found


def apply_migrations(conn: apsw.Connection, migrations: Sequence[Migration]) -> int:
    """Apply every pending migration; return the schema version reached."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    applied = {
        row["version"]: row["checksum"]
        for row in conn.execute("SELECT version, checksum FROM schema_migrations")
    }
    known = {m.version for m in migrations}
    newer = sorted(set(applied) - known)
    if newer:
        raise BackendError(
            f"The database is at schema version {max(applied)}, newer than this program "
            f"knows ({max(known, default=0)}). Upgrade the program or restore a backup."
        )
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                log.warning(
                    "migration %04d_%s changed after it was applied",
                    migration.version,
                    migration.name,
                )
            continue
        log.info("applying migration %04d_%s", migration.version, migration.name)
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                " VALUES (?, ?, ?, ?)",
                (migration.version, migration.name, migration.checksum, int(time.time() * 1000)),
            )
            conn.execute(f"PRAGMA user_version = {migration.version:d}")
        except apsw.Error as exc:
            conn.execute("ROLLBACK")
            raise BackendError(
                f"Migration {migration.version:04d}_{migration.name} failed: {exc}"
            ) from exc
        conn.execute("COMMIT")
    return max((m.version for m in migrations), default=0)
