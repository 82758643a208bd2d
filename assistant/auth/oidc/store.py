"""SQL of OpenID Connect sign-in; every function takes an open connection."""

from __future__ import annotations

from typing import Any

from assistant.store import Connection, Row

_IDENTITY_COLUMNS = "id, user_id, provider, subject, email, created_at, updated_at"


def insert_login(conn: Connection, state_hash: str, **columns: Any) -> None:
    names = ["state_hash", *columns]
    conn.execute(
        f"INSERT INTO oidc_logins ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        (state_hash, *columns.values()),
    )


def consume_login(conn: Connection, state_hash: str, now: int) -> Row | None:
    """A live pending login, marked used (so a replayed callback finds nothing)."""
    row = conn.one(
        "SELECT * FROM oidc_logins WHERE state_hash = ? AND used_at IS NULL AND expires_at > ?",
        (state_hash, now),
    )
    if row is not None:
        conn.execute("UPDATE oidc_logins SET used_at = ? WHERE state_hash = ?", (now, state_hash))
    return row


def prune(conn: Connection, now: int) -> None:
    """Forget expired logins, hand-offs and device authorizations."""
    for table in ("oidc_logins", "oidc_handoffs", "oidc_device_logins"):
        conn.execute(f"DELETE FROM {table} WHERE expires_at < ?", (now,))


def insert_handoff(
    conn: Connection, code_hash: str, user_id: str, challenge: str | None, now: int, expires: int
) -> None:
    conn.execute(
        "INSERT INTO oidc_handoffs (code_hash, user_id, code_challenge, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (code_hash, user_id, challenge, now, expires),
    )


def consume_handoff(conn: Connection, code_hash: str, now: int) -> Row | None:
    row = conn.one(
        "SELECT user_id, code_challenge FROM oidc_handoffs"
        " WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
        (code_hash, now),
    )
    if row is not None:
        conn.execute("UPDATE oidc_handoffs SET used_at = ? WHERE code_hash = ?", (now, code_hash))
    return row


def insert_device_login(
    conn: Connection,
    login_id: str,
    provider: str,
    device_code: str,
    interval: int,
    now: int,
    expires: int,
) -> None:
    conn.execute(
        "INSERT INTO oidc_device_logins"
        " (id, provider, device_code, interval_seconds, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (login_id, provider, device_code, interval, now, expires),
    )


def get_device_login(conn: Connection, login_id: str, now: int) -> Row | None:
    return conn.one(
        "SELECT * FROM oidc_device_logins WHERE id = ? AND used_at IS NULL AND expires_at > ?",
        (login_id, now),
    )


def use_device_login(conn: Connection, login_id: str, now: int) -> bool:
    conn.execute(
        "UPDATE oidc_device_logins SET used_at = ? WHERE id = ? AND used_at IS NULL",
        (now, login_id),
    )
    return conn.changes() == 1


# Identities ----------------------------------------------------------------------


def find_identity(conn: Connection, provider: str, subject: str) -> Row | None:
    return conn.one(
        f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE provider = ? AND subject = ?",
        (provider, subject),
    )


def insert_identity(
    conn: Connection,
    identity_id: str,
    user_id: str,
    provider: str,
    subject: str,
    email: str | None,
    now: int,
) -> None:
    conn.execute(
        "INSERT INTO identities (id, user_id, provider, subject, email, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (identity_id, user_id, provider, subject, email, now, now),
    )


def touch_identity(conn: Connection, identity_id: str, email: str | None, now: int) -> None:
    conn.execute(
        "UPDATE identities SET email = ?, updated_at = ?, version = version + 1 WHERE id = ?",
        (email, now, identity_id),
    )


def list_identities(conn: Connection, user_id: str) -> list[Row]:
    return conn.all(
        f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE user_id = ? ORDER BY created_at",
        (user_id,),
    )


def count_identities(conn: Connection, user_id: str) -> int:
    return int(conn.scalar("SELECT count(*) FROM identities WHERE user_id = ?", (user_id,)))


def delete_identity(conn: Connection, identity_id: str, user_id: str) -> bool:
    conn.execute("DELETE FROM identities WHERE id = ? AND user_id = ?", (identity_id, user_id))
    return conn.changes() > 0
