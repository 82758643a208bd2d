"""SQL of the analytics service: events, rollups, experiments and exposures."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from assistant.analytics.aggregate import Aggregate, Key, Measure
from assistant.analytics.events import Event, label_of
from assistant.store.database import Connection, Row

_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str, ensure_ascii=False).encode
"""Properties to JSON (one encoder, made once: json.dumps with options builds one a call)."""

ROLLED_THROUGH = "rolled_through"
"""Hours before this (ms) are rolled up for good."""
RAW_FROM = "raw_from"
"""Raw events before this (ms) were deleted by retention."""


def insert_events(conn: Connection, events: Sequence[Event]) -> None:
    """Insert a batch of events (one statement, prepared once)."""
    conn.raw.executemany(
        "INSERT INTO analytics_events"
        " (ts, client_ts, user_id, session_id, name, label, properties)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.ts,
                e.client_ts,
                e.user_id,
                e.session_id,
                e.name,
                label_of(e.properties),
                _ENCODE(e.properties) if e.properties else "{}",
            )
            for e in events
        ],
    )


def events_between(
    conn: Connection, start_ms: int, end_ms: int, user_id: str | None = None
) -> Iterator[Row]:
    """Raw events in [start, end), oldest first (of one user, or everyone's)."""
    if user_id is None:
        yield from conn.execute(
            "SELECT id, ts, client_ts, user_id, session_id, name, label, properties"
            " FROM analytics_events WHERE ts >= ? AND ts < ? ORDER BY ts, id",
            (start_ms, end_ms),
        )
    else:
        yield from conn.execute(
            "SELECT id, ts, client_ts, user_id, session_id, name, label, properties"
            " FROM analytics_events WHERE user_id = ? AND ts >= ? AND ts < ? ORDER BY ts, id",
            (user_id, start_ms, end_ms),
        )


def events_page(
    conn: Connection, start_ms: int, end_ms: int, user_id: str | None, after_id: int, limit: int
) -> list[Row]:
    """A page of raw events by id (the export streams page by page)."""
    where = "ts >= ? AND ts < ? AND id > ?"
    params: list[Any] = [start_ms, end_ms, after_id]
    if user_id is not None:
        where += " AND user_id = ?"
        params.append(user_id)
    return conn.all(
        "SELECT id, ts, client_ts, user_id, session_id, name, properties"
        f" FROM analytics_events WHERE {where} ORDER BY id LIMIT ?",
        [*params, limit],
    )


def first_event_from(conn: Connection, ts_ms: int) -> int | None:
    """The time of the first raw event at or after ``ts_ms``."""
    value = conn.scalar("SELECT min(ts) FROM analytics_events WHERE ts >= ?", (ts_ms,))
    return None if value is None else int(value)


def get_state(conn: Connection, key: str) -> int | None:
    """A value of the rollup state."""
    value = conn.scalar("SELECT value FROM analytics_state WHERE key = ?", (key,))
    return None if value is None else int(value)


def set_state(conn: Connection, key: str, value: int) -> None:
    """Set a value of the rollup state."""
    conn.execute(
        "INSERT INTO analytics_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def replace_rollups(
    conn: Connection, period: str, start_ms: int, end_ms: int, rolled: dict[Key, Aggregate]
) -> None:
    """Make the rollups of ``period`` in [start, end) exactly ``rolled``."""
    for table in ("analytics_rollups", "analytics_rollup_measures"):
        conn.execute(
            f"DELETE FROM {table} WHERE period = ? AND start >= ? AND start < ?",
            (period, start_ms, end_ms),
        )
    conn.raw.executemany(
        "INSERT INTO analytics_rollups (period, start, name, label, user_id, count)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(period, *key, agg.count) for key, agg in rolled.items()],
    )
    conn.raw.executemany(
        "INSERT INTO analytics_rollup_measures"
        " (period, start, name, label, user_id, measure, count, sum, min, max, histogram)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                period,
                *key,
                measure_name,
                m.count,
                m.sum,
                m.min,
                m.max,
                json.dumps(m.histogram_json(), separators=(",", ":")),
            )
            for key, agg in rolled.items()
            for measure_name, m in agg.measures.items()
        ],
    )


def read_rollups(
    conn: Connection, period: str, start_ms: int, end_ms: int, user_id: str | None = None
) -> dict[Key, Aggregate]:
    """Rollups of ``period`` starting in [start, end) (one user's, or everyone's)."""
    where = "period = ? AND start >= ? AND start < ?"
    params: list[Any] = [period, start_ms, end_ms]
    if user_id is not None:
        where += " AND user_id = ?"
        params.append(user_id)
    out: dict[Key, Aggregate] = {}
    for row in conn.execute(
        f"SELECT start, name, label, user_id, count FROM analytics_rollups WHERE {where}", params
    ):
        out[(row["start"], row["name"], row["label"], row["user_id"])] = Aggregate(row["count"])
    for row in conn.execute(
        "SELECT start, name, label, user_id, measure, count, sum, min, max, histogram"
        f" FROM analytics_rollup_measures WHERE {where}",
        params,
    ):
        key = (row["start"], row["name"], row["label"], row["user_id"])
        aggregate = out.setdefault(key, Aggregate())
        aggregate.measures[row["measure"]] = Measure.stored(
            row["count"], row["sum"], row["min"], row["max"], json.loads(row["histogram"])
        )
    return out


def delete_events_before(conn: Connection, ts_ms: int) -> int:
    """Delete raw events older than ``ts_ms``; how many."""
    conn.execute("DELETE FROM analytics_events WHERE ts < ?", (ts_ms,))
    return conn.changes()


def delete_rollups_before(conn: Connection, period: str, ts_ms: int) -> int:
    """Delete rollups of ``period`` that start before ``ts_ms``; how many."""
    conn.execute(
        "DELETE FROM analytics_rollup_measures WHERE period = ? AND start < ?", (period, ts_ms)
    )
    conn.execute("DELETE FROM analytics_rollups WHERE period = ? AND start < ?", (period, ts_ms))
    return conn.changes()


# Experiments ----------------------------------------------------------------------------


def insert_experiment(conn: Connection, row: dict[str, Any]) -> None:
    """Store a new experiment."""
    conn.execute(
        "INSERT INTO experiments (id, key, description, variants, targets, window_hours,"
        " status, started_at, stopped_at, created_at, updated_at, version)"
        " VALUES (:id, :key, :description, :variants, :targets, :window_hours, :status,"
        " :started_at, :stopped_at, :created_at, :updated_at, 1)",
        row,
    )


def update_experiment(conn: Connection, experiment_id: str, changes: dict[str, Any]) -> None:
    """Change an experiment's columns (and bump its version)."""
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    conn.execute(
        f"UPDATE experiments SET {sets}, version = version + 1 WHERE id = :id",
        {**changes, "id": experiment_id},
    )


def get_experiment(
    conn: Connection, *, experiment_id: str | None = None, key: str | None = None
) -> Row | None:
    """One experiment by id or key."""
    if experiment_id is not None:
        return conn.one("SELECT * FROM experiments WHERE id = ?", (experiment_id,))
    return conn.one("SELECT * FROM experiments WHERE key = ?", (key,))


def list_experiments(conn: Connection) -> list[Row]:
    """Every experiment, newest first."""
    return conn.all("SELECT * FROM experiments ORDER BY created_at DESC, id DESC")


def add_exposure(
    conn: Connection, experiment_id: str, user_id: str, variant: str, now_ms: int
) -> bool:
    """Record a user's first exposure; False when it was already recorded."""
    conn.execute(
        "INSERT OR IGNORE INTO experiment_exposures (experiment_id, user_id, variant, exposed_at)"
        " VALUES (?, ?, ?, ?)",
        (experiment_id, user_id, variant, now_ms),
    )
    return conn.changes() > 0


def exposure_results(
    conn: Connection, experiment_id: str, targets: Sequence[str], window_ms: int
) -> list[Row]:
    """Per variant: users exposed, and those with a target event within the window after."""
    marks = ", ".join("?" for _ in targets) or "NULL"
    return conn.all(
        "SELECT x.variant AS variant, count(*) AS exposures,"
        " sum(EXISTS (SELECT 1 FROM analytics_events e WHERE e.user_id = x.user_id"
        f"   AND e.name IN ({marks}) AND e.ts >= x.exposed_at AND e.ts < x.exposed_at + ?))"
        "   AS conversions"
        " FROM experiment_exposures x WHERE x.experiment_id = ? GROUP BY x.variant",
        [*targets, window_ms, experiment_id],
    )
