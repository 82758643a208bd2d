"""SQL of the translation service; every function takes an open connection."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from assistant.store import Connection


@dataclass(frozen=True)
class HistoryEntry:
    """One translation a user made."""

    id: str
    """UUIDv7 (newest sorts last)."""
    kind: str
    """``text`` or ``voice``."""
    source: str
    """ISO 639-1 of the source (detected or given)."""
    target: str
    """ISO 639-1 of the translation."""
    text: str
    """What was translated."""
    translated: str
    """The translation."""
    engine: str
    """``ctranslate2``, ``llm`` or ``whisper``."""
    model: str
    """The model that translated."""
    quality: float | None
    """The quality estimate (0..1), when one was asked for."""
    created_at: int
    """Unix milliseconds."""


@dataclass(frozen=True)
class StoredGlossary:
    """A user's default glossary."""

    terms: dict[str, str]
    """Term -> its translation."""
    keep: tuple[str, ...]
    """Terms never translated (names, brands)."""
    targets: tuple[str, ...]
    """Target languages it applies to; empty: every target."""
    updated_at: int
    """Unix milliseconds; 0 when the user has none."""


_HISTORY = "id, kind, source, target, text, translated, engine, model, quality, created_at"


# Cache ------------------------------------------------------------------------------------


def cache_get(conn: Connection, key: str, now: int) -> dict[str, Any] | None:
    """A cached result (and mark it used), or None."""
    row = conn.one("SELECT result FROM translate_cache WHERE key = ?", (key,))
    if row is None:
        return None
    conn.execute(
        "UPDATE translate_cache SET hits = hits + 1, used_at = ? WHERE key = ?", (now, key)
    )
    result: dict[str, Any] = json.loads(row["result"])
    return result


def cache_put(
    conn: Connection,
    key: str,
    *,
    engine: str,
    model: str,
    source: str,
    target: str,
    result: dict[str, Any],
    now: int,
    max_bytes: int,
) -> int:
    """Store a result, then evict the least recently used entries over ``max_bytes``;
    the number evicted."""
    encoded = json.dumps(result, ensure_ascii=False)
    size = len(encoded.encode("utf-8")) + len(key)
    conn.execute(
        "INSERT OR REPLACE INTO translate_cache"
        " (key, engine, model, source, target, result, bytes, hits, created_at, used_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        (key, engine, model, source, target, encoded, size, now, now),
    )
    total = int(conn.scalar("SELECT coalesce(sum(bytes), 0) FROM translate_cache"))
    evicted = 0
    while total > max_bytes:
        oldest = conn.one(
            "SELECT key, bytes FROM translate_cache ORDER BY used_at, created_at LIMIT 1"
        )
        if oldest is None:
            break
        conn.execute("DELETE FROM translate_cache WHERE key = ?", (oldest["key"],))
        total -= int(oldest["bytes"])
        evicted += 1
    return evicted


def cache_totals(conn: Connection) -> tuple[int, int, int]:
    """(entries, bytes, hits ever served by the entries still cached)."""
    row = conn.one(
        "SELECT count(*) AS entries, coalesce(sum(bytes), 0) AS bytes,"
        " coalesce(sum(hits), 0) AS hits FROM translate_cache"
    )
    assert row is not None
    return int(row["entries"]), int(row["bytes"]), int(row["hits"])


def cache_clear(conn: Connection) -> int:
    """Empty the cache; the number of entries removed."""
    conn.execute("DELETE FROM translate_cache")
    return conn.changes()


# History ----------------------------------------------------------------------------------


def add_history(conn: Connection, user_id: str, entry: HistoryEntry) -> None:
    conn.execute(
        f"INSERT INTO translate_history (user_id, {_HISTORY})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            entry.id,
            entry.kind,
            entry.source,
            entry.target,
            entry.text,
            entry.translated,
            entry.engine,
            entry.model,
            entry.quality,
            entry.created_at,
        ),
    )


def page_of_history(
    conn: Connection, user_id: str, before: str | None, limit: int
) -> list[HistoryEntry]:
    """Newest first, older than the ``before`` id when given."""
    if before is None:
        rows = conn.all(
            f"SELECT {_HISTORY} FROM translate_history WHERE user_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
    else:
        rows = conn.all(
            f"SELECT {_HISTORY} FROM translate_history WHERE user_id = ? AND id < ?"
            " ORDER BY id DESC LIMIT ?",
            (user_id, before, limit),
        )
    return [HistoryEntry(**row) for row in rows]


def history_exists(conn: Connection, user_id: str, entry_id: str) -> bool:
    return (
        conn.one(
            "SELECT 1 FROM translate_history WHERE id = ? AND user_id = ?", (entry_id, user_id)
        )
        is not None
    )


def delete_history(conn: Connection, user_id: str, entry_id: str | None = None) -> int:
    """Delete one entry (or all of the user's); the number deleted."""
    if entry_id is None:
        conn.execute("DELETE FROM translate_history WHERE user_id = ?", (user_id,))
    else:
        conn.execute(
            "DELETE FROM translate_history WHERE id = ? AND user_id = ?", (entry_id, user_id)
        )
    return conn.changes()


# Glossary ---------------------------------------------------------------------------------


def get_glossary(conn: Connection, user_id: str) -> StoredGlossary:
    row = conn.one(
        "SELECT terms, keep, targets, updated_at FROM translate_glossaries WHERE user_id = ?",
        (user_id,),
    )
    if row is None:
        return StoredGlossary({}, (), (), 0)
    return StoredGlossary(
        terms=json.loads(row["terms"]),
        keep=tuple(json.loads(row["keep"])),
        targets=tuple(json.loads(row["targets"])),
        updated_at=int(row["updated_at"]),
    )


def put_glossary(conn: Connection, user_id: str, glossary: StoredGlossary) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO translate_glossaries (user_id, terms, keep, targets, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            user_id,
            json.dumps(glossary.terms, ensure_ascii=False),
            json.dumps(list(glossary.keep), ensure_ascii=False),
            json.dumps(list(glossary.targets)),
            glossary.updated_at,
        ),
    )


def delete_glossary(conn: Connection, user_id: str) -> int:
    conn.execute("DELETE FROM translate_glossaries WHERE user_id = ?", (user_id,))
    return conn.changes()
