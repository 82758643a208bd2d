"""SQL of the authentication service; every function takes an open connection."""

from __future__ import annotations

from typing import Any

from assistant.auth.models import ApiKey, Role, Session, User
from assistant.store import Connection, Row

_USER_COLUMNS = "id, username, role, disabled, created_at, updated_at, version"


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def count_users(conn: Connection) -> int:
    return int(conn.scalar("SELECT count(*) FROM users"))


def insert_user(
    conn: Connection, user_id: str, username: str, password_hash: str | None, role: Role, now: int
) -> User:
    conn.execute(
        "INSERT INTO users (id, username, password_hash, role, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, username, password_hash, role.value, now, now),
    )
    user = get_user(conn, user_id)
    assert user is not None
    return user


def get_user(conn: Connection, user_id: str) -> User | None:
    row = conn.one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
    return None if row is None else _user(row)


def get_user_by_name(conn: Connection, username: str) -> User | None:
    row = conn.one(f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", (username,))
    return None if row is None else _user(row)


def username_exists(conn: Connection, username: str) -> bool:
    return conn.one("SELECT 1 FROM users WHERE username = ?", (username,)) is not None


def get_password_hash(conn: Connection, user_id: str) -> str | None:
    value = conn.scalar("SELECT password_hash FROM users WHERE id = ?", (user_id,))
    return None if value is None else str(value)


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.all(f"SELECT {_USER_COLUMNS} FROM users ORDER BY created_at")]


def update_user(conn: Connection, user_id: str, now: int, **columns: Any) -> None:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(
        f"UPDATE users SET {assignments}, updated_at = ?, version = version + 1 WHERE id = ?",
        (*columns.values(), now, user_id),
    )


def delete_user(conn: Connection, user_id: str) -> bool:
    conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
    return conn.changes() > 0


def count_admins(conn: Connection) -> int:
    return int(conn.scalar("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"))


# Sessions and refresh tokens -------------------------------------------------------


def insert_session(
    conn: Connection,
    session_id: str,
    user_id: str,
    now: int,
    expires_at: int,
    client_address: str | None,
    user_agent: str | None,
) -> None:
    conn.execute(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at,"
        " client_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (session_id, user_id, now, now, expires_at, client_address, user_agent),
    )


def insert_refresh_token(conn: Connection, token_hash: str, session_id: str, now: int) -> None:
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)",
        (token_hash, session_id, now),
    )


def find_refresh_token(conn: Connection, token_hash: str) -> Row | None:
    return conn.one(
        "SELECT t.session_id, t.used_at, s.user_id, s.expires_at, s.revoked_at"
        " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id"
        " WHERE t.token_hash = ?",
        (token_hash,),
    )


def mark_refresh_token_used(conn: Connection, token_hash: str, now: int) -> bool:
    """Mark the token used; False if another request used it first."""
    conn.execute(
        "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
        (now, token_hash),
    )
    return conn.changes() == 1


def touch_session(conn: Connection, session_id: str, now: int, expires_at: int) -> None:
    conn.execute(
        "UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ?",
        (now, expires_at, session_id),
    )


def session_last_used(conn: Connection, session_id: str) -> int | None:
    """When a session was last used (Unix ms), or None if there is no such session."""
    row = conn.one("SELECT last_used_at FROM sessions WHERE id = ?", (session_id,))
    return None if row is None else int(row["last_used_at"])


def revoke_session(conn: Connection, session_id: str, now: int, reason: str) -> bool:
    conn.execute(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ?"
        " WHERE id = ? AND revoked_at IS NULL",
        (now, reason, session_id),
    )
    return conn.changes() > 0


def revoke_user_sessions(conn: Connection, user_id: str, now: int, reason: str) -> int:
    conn.execute(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ?"
        " WHERE user_id = ? AND revoked_at IS NULL",
        (now, reason, user_id),
    )
    return conn.changes()


def active_session_owner(conn: Connection, session_id: str, now: int) -> Row | None:
    """The user behind a live session (not revoked, not expired, account enabled)."""
    return conn.one(
        "SELECT u.id, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.disabled = 0",
        (session_id, now),
    )


def list_sessions(conn: Connection, user_id: str, now: int) -> list[Session]:
    rows = conn.all(
        "SELECT id, created_at, last_used_at, expires_at, client_address, user_agent"
        " FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
        " ORDER BY last_used_at DESC",
        (user_id, now),
    )
    return [Session(**row) for row in rows]


def session_belongs_to(conn: Connection, session_id: str, user_id: str) -> bool:
    row = conn.one("SELECT 1 FROM sessions WHERE id = ? AND user_id = ?", (session_id, user_id))
    return row is not None


def prune_sessions(conn: Connection, now: int, keep_revoked_ms: int) -> int:
    """Delete sessions that expired, or were revoked long ago (their tokens go with them)."""
    conn.execute(
        "DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?",
        (now, now - keep_revoked_ms),
    )
    return conn.changes()


# API keys --------------------------------------------------------------------------

_KEY_COLUMNS = "id, name, prefix, created_at, expires_at, last_used_at"


def insert_api_key(
    conn: Connection,
    key_id: str,
    user_id: str,
    name: str,
    prefix: str,
    key_hash: str,
    now: int,
    expires_at: int | None,
) -> ApiKey:
    conn.execute(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key_id, user_id, name, prefix, key_hash, now, expires_at),
    )
    row = conn.one(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
    assert row is not None
    return ApiKey(**row)


def list_api_keys(conn: Connection, user_id: str) -> list[ApiKey]:
    rows = conn.all(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE user_id = ? AND revoked_at IS NULL"
        " ORDER BY created_at",
        (user_id,),
    )
    return [ApiKey(**row) for row in rows]


def revoke_api_key(conn: Connection, key_id: str, user_id: str, now: int) -> bool:
    conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
        (now, key_id, user_id),
    )
    return conn.changes() > 0


def revoke_user_api_keys(conn: Connection, user_id: str, now: int) -> int:
    """Revoke every live key of a user; how many there were."""
    conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        (now, user_id),
    )
    return conn.changes()


def find_api_key_owner(conn: Connection, key_hash: str, now: int) -> Row | None:
    """The key and its user, if the key is live and the account enabled."""
    return conn.one(
        "SELECT k.id AS key_id, k.last_used_at, u.id, u.username, u.role"
        " FROM api_keys k JOIN users u ON u.id = k.user_id"
        " WHERE k.key_hash = ? AND k.revoked_at IS NULL"
        " AND (k.expires_at IS NULL OR k.expires_at > ?) AND u.disabled = 0",
        (key_hash, now),
    )


def touch_api_key(conn: Connection, key_id: str, now: int) -> None:
    conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key_id))


# Password resets -------------------------------------------------------------------


def insert_reset(
    conn: Connection,
    token_hash: str,
    user_id: str,
    created_by: str | None,
    now: int,
    expires_at: int,
) -> None:
    # Only the newest reset token of a user is valid.
    conn.execute(
        "UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
        (now, user_id),
    )
    conn.execute(
        "INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (token_hash, user_id, created_by, now, expires_at),
    )


def consume_reset(conn: Connection, token_hash: str, now: int) -> str | None:
    """Use a live reset token once; its user id, or None."""
    row = conn.one(
        "SELECT user_id FROM password_resets"
        " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        (token_hash, now),
    )
    if row is None:
        return None
    conn.execute("UPDATE password_resets SET used_at = ? WHERE token_hash = ?", (now, token_hash))
    return str(row["user_id"])


# Server flags ----------------------------------------------------------------------


def get_flag(conn: Connection, key: str) -> str | None:
    value = conn.scalar("SELECT value FROM server_flags WHERE key = ?", (key,))
    return None if value is None else str(value)


def set_flag(conn: Connection, key: str, value: str, now: int) -> None:
    conn.execute(
        "INSERT INTO server_flags (key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, now),
    )
