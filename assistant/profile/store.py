"""SQL of the profile service; every function takes an open connection."""

from __future__ import annotations

import json
from typing import Any

from assistant.store import Connection, Row


def get_profile(conn: Connection, user_id: str) -> Row | None:
    return conn.one(
        "SELECT user_id, display_name, locale, time_zone, avatar_sha256, avatar_media_type,"
        " field_updated_at, updated_at, version FROM profiles WHERE user_id = ?",
        (user_id,),
    )


def upsert_profile(
    conn: Connection, user_id: str, values: dict[str, Any], field_times: dict[str, int], now: int
) -> None:
    """Write profile columns, bumping the version and per-field times."""
    row = get_profile(conn, user_id)
    if row is None:
        conn.execute(
            "INSERT INTO profiles (user_id, updated_at, version) VALUES (?, ?, 0)", (user_id, now)
        )
        stamps: dict[str, int] = {}
    else:
        stamps = json.loads(row["field_updated_at"])
    stamps.update(field_times)
    assignments = "".join(f"{column} = ?, " for column in values)
    conn.execute(
        f"UPDATE profiles SET {assignments}field_updated_at = ?, updated_at = ?,"
        " version = version + 1 WHERE user_id = ?",
        (*values.values(), json.dumps(stamps), now, user_id),
    )


def avatar_references(conn: Connection, sha256: str) -> int:
    return int(conn.scalar("SELECT count(*) FROM profiles WHERE avatar_sha256 = ?", (sha256,)))


def get_preferences(conn: Connection, user_id: str) -> Row | None:
    return conn.one(
        "SELECT data, field_updated_at, updated_at, version FROM preferences WHERE user_id = ?",
        (user_id,),
    )


def put_preferences(
    conn: Connection, user_id: str, data: dict[str, Any], field_times: dict[str, int], now: int
) -> None:
    conn.execute(
        "INSERT INTO preferences (user_id, data, field_updated_at, updated_at, version)"
        " VALUES (?, ?, ?, ?, 1) ON CONFLICT (user_id) DO UPDATE SET"
        " data = excluded.data, field_updated_at = excluded.field_updated_at,"
        " updated_at = excluded.updated_at, version = preferences.version + 1",
        (user_id, json.dumps(data), json.dumps(field_times), now),
    )


def add_usage(conn: Connection, user_id: str, metric: str, day: str, amount: int) -> None:
    conn.execute(
        "INSERT INTO usage_daily (user_id, metric, day, value) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, metric, day) DO UPDATE SET value = value + excluded.value",
        (user_id, metric, day, amount),
    )


def usage_totals(conn: Connection, user_id: str) -> dict[str, int]:
    rows = conn.all(
        "SELECT metric, sum(value) AS total FROM usage_daily WHERE user_id = ? GROUP BY metric",
        (user_id,),
    )
    return {row["metric"]: int(row["total"]) for row in rows}


def usage_days(conn: Connection, user_id: str, since_day: str) -> list[Row]:
    return conn.all(
        "SELECT day, metric, value FROM usage_daily WHERE user_id = ? AND day >= ?"
        " AND value != 0 ORDER BY day DESC, metric",
        (user_id, since_day),
    )
