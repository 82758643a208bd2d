"""SQL of the sync bridge; every function takes an open connection."""

from __future__ import annotations

import json
from typing import Any

from assistant.store import Connection, Row
from assistant.sync.models import FieldChange, Resolution


def get_device(conn: Connection) -> Row | None:
    return conn.one(
        "SELECT device_id, hlc_wall_ms, hlc_counter, last_seq FROM sync_device WHERE id = 1"
    )


def insert_device(conn: Connection, device_id: str) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO sync_device (id, device_id, hlc_wall_ms, hlc_counter, last_seq)"
        " VALUES (1, ?, 0, 0, 0)",
        (device_id,),
    )


def set_clock(conn: Connection, wall_ms: int, counter: int) -> None:
    conn.execute(
        "UPDATE sync_device SET hlc_wall_ms = ?, hlc_counter = ? WHERE id = 1", (wall_ms, counter)
    )


def next_seq(conn: Connection) -> int:
    conn.execute("UPDATE sync_device SET last_seq = last_seq + 1 WHERE id = 1")
    return int(conn.scalar("SELECT last_seq FROM sync_device WHERE id = 1"))


def _change(row: Row) -> FieldChange:
    deleted = bool(row["deleted"])
    return FieldChange(
        field=row["field"],
        value=None if deleted or row["value"] is None else json.loads(row["value"]),
        deleted=deleted,
        hlc=row["hlc"],
    )


def get_field(conn: Connection, user_id: str, field: str) -> Row | None:
    return conn.one(
        "SELECT field, value, deleted, hlc, seq, pending FROM sync_fields"
        " WHERE user_id = ? AND field = ?",
        (user_id, field),
    )


def put_field(
    conn: Connection, user_id: str, change: FieldChange, seq: int, *, pending: bool
) -> None:
    value = None if change.deleted else json.dumps(change.value)
    conn.execute(
        "INSERT INTO sync_fields (user_id, field, value, deleted, hlc, seq, pending)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, field) DO UPDATE SET"
        " value = excluded.value, deleted = excluded.deleted, hlc = excluded.hlc,"
        " seq = excluded.seq, pending = excluded.pending",
        (user_id, change.field, value, int(change.deleted), change.hlc, seq, int(pending)),
    )


def changes_since(
    conn: Connection, user_id: str, cursor: int, limit: int
) -> list[tuple[int, FieldChange]]:
    rows = conn.all(
        "SELECT field, value, deleted, hlc, seq FROM sync_fields"
        " WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (user_id, cursor, limit),
    )
    return [(int(row["seq"]), _change(row)) for row in rows]


def last_user_seq(conn: Connection, user_id: str) -> int:
    return int(
        conn.scalar("SELECT coalesce(max(seq), 0) FROM sync_fields WHERE user_id = ?", (user_id,))
    )


def pending_changes(conn: Connection, user_id: str) -> list[FieldChange]:
    rows = conn.all(
        "SELECT field, value, deleted, hlc FROM sync_fields"
        " WHERE user_id = ? AND pending = 1 ORDER BY seq",
        (user_id,),
    )
    return [_change(row) for row in rows]


def count_pending(conn: Connection, user_id: str) -> int:
    return int(
        conn.scalar(
            "SELECT count(*) FROM sync_fields WHERE user_id = ? AND pending = 1", (user_id,)
        )
    )


def acknowledge(conn: Connection, user_id: str, field: str, hlc: str) -> None:
    """The remote has this write: it leaves the outbox (unless a newer one replaced it)."""
    conn.execute(
        "UPDATE sync_fields SET pending = 0 WHERE user_id = ? AND field = ? AND hlc = ?",
        (user_id, field, hlc),
    )


def is_seeded(conn: Connection, user_id: str) -> bool:
    return conn.one("SELECT 1 FROM sync_seeded WHERE user_id = ?", (user_id,)) is not None


def mark_seeded(conn: Connection, user_id: str, now: int) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO sync_seeded (user_id, seeded_at) VALUES (?, ?)", (user_id, now)
    )


def user_exists(conn: Connection, user_id: str) -> bool:
    return conn.one("SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None


# Remotes and their state -----------------------------------------------------------


def get_remote(conn: Connection, user_id: str) -> Row | None:
    return conn.one(
        "SELECT user_id, url, api_key_sealed FROM sync_remotes WHERE user_id = ?", (user_id,)
    )


def put_remote(conn: Connection, user_id: str, url: str, sealed: str, now: int) -> None:
    conn.execute(
        "INSERT INTO sync_remotes (user_id, url, api_key_sealed, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET url = excluded.url,"
        " api_key_sealed = excluded.api_key_sealed, updated_at = excluded.updated_at",
        (user_id, url, sealed, now, now),
    )


def delete_remote(conn: Connection, user_id: str) -> bool:
    conn.execute("DELETE FROM sync_remotes WHERE user_id = ?", (user_id,))
    return conn.changes() > 0


def remote_users(conn: Connection) -> list[str]:
    return [row["user_id"] for row in conn.all("SELECT user_id FROM sync_remotes")]


def get_state(conn: Connection, user_id: str) -> Row | None:
    return conn.one("SELECT * FROM sync_state WHERE user_id = ?", (user_id,))


def ensure_state(conn: Connection, user_id: str, url: str, *, fresh: bool = False) -> Row:
    """The user's state with ``url``; a different remote than before (or any new
    configuration, with ``fresh``: the key may be another account's) starts from scratch."""
    row = get_state(conn, user_id)
    if fresh or row is None or row["url"] != url:
        conn.execute("DELETE FROM sync_state WHERE user_id = ?", (user_id,))
        conn.execute("INSERT INTO sync_state (user_id, url) VALUES (?, ?)", (user_id, url))
        # Everything here is news to a new remote.
        conn.execute("UPDATE sync_fields SET pending = 1 WHERE user_id = ?", (user_id,))
        row = get_state(conn, user_id)
    assert row is not None
    return row


def update_state(conn: Connection, user_id: str, **columns: Any) -> None:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(
        f"UPDATE sync_state SET {assignments} WHERE user_id = ?", (*columns.values(), user_id)
    )


def add_conflicts(
    conn: Connection, user_id: str, conflicts: list[Resolution], now: int, keep: int
) -> None:
    for conflict in conflicts:
        conn.execute(
            "INSERT INTO sync_conflicts"
            " (user_id, field, winner, local_hlc, remote_hlc, resolved_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                user_id,
                conflict.field,
                conflict.winner,
                conflict.local_hlc,
                conflict.remote_hlc,
                now,
            ),
        )
    conn.execute(
        "DELETE FROM sync_conflicts WHERE user_id = ? AND id NOT IN"
        " (SELECT id FROM sync_conflicts WHERE user_id = ? ORDER BY id DESC LIMIT ?)",
        (user_id, user_id, keep),
    )


def recent_conflicts(conn: Connection, user_id: str, limit: int) -> list[Resolution]:
    rows = conn.all(
        "SELECT field, winner, local_hlc, remote_hlc, resolved_at FROM sync_conflicts"
        " WHERE user_id = ? ORDER BY id DESC LIMIT ?",
        (user_id, limit),
    )
    return [Resolution(**row) for row in rows]
