"""SQL of the vision service's image store; every function takes an open connection."""

from __future__ import annotations

from assistant.store import Connection, Row

_COLUMNS = "id, user_id, sha256, media_type, bytes, width, height, gps_kept, created_at"


def insert_image(
    conn: Connection,
    image_id: str,
    user_id: str,
    sha256: str,
    media_type: str,
    size: int,
    width: int,
    height: int,
    gps_kept: bool,
    now: int,
) -> None:
    conn.execute(
        f"INSERT INTO images ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (image_id, user_id, sha256, media_type, size, width, height, int(gps_kept), now),
    )


def get_image(conn: Connection, user_id: str, image_id: str) -> Row | None:
    return conn.one(
        f"SELECT {_COLUMNS} FROM images WHERE id = ? AND user_id = ?", (image_id, user_id)
    )


def find_by_sha(conn: Connection, user_id: str, sha256: str) -> Row | None:
    return conn.one(
        f"SELECT {_COLUMNS} FROM images WHERE user_id = ? AND sha256 = ?", (user_id, sha256)
    )


def list_images(conn: Connection, user_id: str, limit: int, before: str | None) -> list[Row]:
    if before is None:
        return conn.all(
            f"SELECT {_COLUMNS} FROM images WHERE user_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
    return conn.all(
        f"SELECT {_COLUMNS} FROM images WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        (user_id, before, limit),
    )


def used_bytes(conn: Connection, user_id: str) -> int:
    return int(
        conn.scalar("SELECT coalesce(sum(bytes), 0) FROM images WHERE user_id = ?", (user_id,))
    )


def delete_image(conn: Connection, image_id: str) -> None:
    conn.execute("DELETE FROM images WHERE id = ?", (image_id,))


def expired(conn: Connection, before: int) -> list[Row]:
    return conn.all(f"SELECT {_COLUMNS} FROM images WHERE created_at < ?", (before,))


def sha_references(conn: Connection, sha256: str) -> int:
    return int(conn.scalar("SELECT count(*) FROM images WHERE sha256 = ?", (sha256,)))
