"""SQL of the timer service; every function takes an open connection. Times are ms."""

from __future__ import annotations

from typing import Any

from assistant.store import Connection, Row
from assistant.timers.models import Reminder, ReminderState, Timer, TimerState

_ACTIVE = "('running', 'paused')"


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def timer_of(row: Row) -> Timer:
    return Timer(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        duration_seconds=row["duration_ms"] / 1000,
        state=TimerState(row["state"]),
        ends_at=_seconds(row["ends_at"]),
        paused_remaining_seconds=_seconds(row["remaining_ms"]),
        created_at=row["created_at"] / 1000,
        fired_at=_seconds(row["fired_at"]),
    )


def reminder_of(row: Row) -> Reminder:
    return Reminder(
        id=row["id"],
        user_id=row["user_id"],
        text=row["text"],
        due_at=row["due_at"] / 1000,
        state=ReminderState(row["state"]),
        created_at=row["created_at"] / 1000,
        fired_at=_seconds(row["fired_at"]),
    )


# Timers ---------------------------------------------------------------------------------


def insert_timer(conn: Connection, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    marks = ", ".join(f":{c}" for c in values)
    conn.execute(f"INSERT INTO timers ({columns}) VALUES ({marks})", values)


def get_timer(conn: Connection, user_id: str, timer_id: str) -> Row | None:
    return conn.one("SELECT * FROM timers WHERE id = ? AND user_id = ?", (timer_id, user_id))


def active_timers(conn: Connection, user_id: str) -> list[Row]:
    """Running and paused timers, the soonest to end first (paused ones by what is left)."""
    return conn.all(
        f"SELECT * FROM timers WHERE user_id = ? AND state IN {_ACTIVE}"
        " ORDER BY state = 'paused', coalesce(ends_at, remaining_ms), id",
        (user_id,),
    )


def count_active_timers(conn: Connection, user_id: str) -> int:
    return int(
        conn.scalar(
            f"SELECT count(*) FROM timers WHERE user_id = ? AND state IN {_ACTIVE}", (user_id,)
        )
    )


def set_timer(conn: Connection, timer_id: str, expected_state: str, values: dict[str, Any]) -> bool:
    """Change a timer if it is still in ``expected_state``; False when another request or
    process changed it first."""
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    conn.execute(
        f"UPDATE timers SET {assignments} WHERE id = :id AND state = :expected",
        {**values, "id": timer_id, "expected": expected_state},
    )
    return conn.changes() == 1


def due_timers(conn: Connection, now: int, limit: int) -> list[Row]:
    return conn.all(
        "SELECT * FROM timers WHERE state = 'running' AND ends_at <= ? ORDER BY ends_at LIMIT ?",
        (now, limit),
    )


def claim_timer(conn: Connection, timer_id: str, now: int) -> bool:
    """The compare-and-set that makes a timer fire once: running and due -> fired."""
    conn.execute(
        "UPDATE timers SET state = 'fired', fired_at = ?, claimed_at = ?, updated_at = ?"
        " WHERE id = ? AND state = 'running' AND ends_at <= ?",
        (now, now, now, timer_id, now),
    )
    return conn.changes() == 1


def unnotified_timers(conn: Connection, stale_before: int, limit: int) -> list[Row]:
    """Fired timers whose notification a crashed process never sent."""
    return conn.all(
        "SELECT * FROM timers WHERE state = 'fired' AND notified_at IS NULL"
        " AND claimed_at <= ? ORDER BY fired_at LIMIT ?",
        (stale_before, limit),
    )


def reclaim_timer(conn: Connection, timer_id: str, stale_before: int, now: int) -> bool:
    conn.execute(
        "UPDATE timers SET claimed_at = ? WHERE id = ? AND state = 'fired'"
        " AND notified_at IS NULL AND claimed_at <= ?",
        (now, timer_id, stale_before),
    )
    return conn.changes() == 1


def mark_timer_notified(conn: Connection, timer_id: str, now: int) -> None:
    conn.execute("UPDATE timers SET notified_at = ? WHERE id = ?", (now, timer_id))


# Reminders ------------------------------------------------------------------------------


def insert_reminder(conn: Connection, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    marks = ", ".join(f":{c}" for c in values)
    conn.execute(f"INSERT INTO reminders ({columns}) VALUES ({marks})", values)


def get_reminder(conn: Connection, user_id: str, reminder_id: str) -> Row | None:
    return conn.one("SELECT * FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user_id))


def scheduled_reminders(conn: Connection, user_id: str) -> list[Row]:
    return conn.all(
        "SELECT * FROM reminders WHERE user_id = ? AND state = 'scheduled' ORDER BY due_at, id",
        (user_id,),
    )


def count_scheduled_reminders(conn: Connection, user_id: str) -> int:
    return int(
        conn.scalar(
            "SELECT count(*) FROM reminders WHERE user_id = ? AND state = 'scheduled'",
            (user_id,),
        )
    )


def cancel_reminder(conn: Connection, reminder_id: str, now: int) -> bool:
    conn.execute(
        "UPDATE reminders SET state = 'cancelled', updated_at = ?"
        " WHERE id = ? AND state = 'scheduled'",
        (now, reminder_id),
    )
    return conn.changes() == 1


def due_reminders(conn: Connection, now: int, limit: int) -> list[Row]:
    return conn.all(
        "SELECT * FROM reminders WHERE state = 'scheduled' AND due_at <= ? ORDER BY due_at LIMIT ?",
        (now, limit),
    )


def claim_reminder(conn: Connection, reminder_id: str, now: int) -> bool:
    """The compare-and-set that makes a reminder fire once: scheduled and due -> fired."""
    conn.execute(
        "UPDATE reminders SET state = 'fired', fired_at = ?, claimed_at = ?, updated_at = ?"
        " WHERE id = ? AND state = 'scheduled' AND due_at <= ?",
        (now, now, now, reminder_id, now),
    )
    return conn.changes() == 1


def unnotified_reminders(conn: Connection, stale_before: int, limit: int) -> list[Row]:
    return conn.all(
        "SELECT * FROM reminders WHERE state = 'fired' AND notified_at IS NULL"
        " AND claimed_at <= ? ORDER BY fired_at LIMIT ?",
        (stale_before, limit),
    )


def reclaim_reminder(conn: Connection, reminder_id: str, stale_before: int, now: int) -> bool:
    conn.execute(
        "UPDATE reminders SET claimed_at = ? WHERE id = ? AND state = 'fired'"
        " AND notified_at IS NULL AND claimed_at <= ?",
        (now, reminder_id, stale_before),
    )
    return conn.changes() == 1


def mark_reminder_notified(conn: Connection, reminder_id: str, now: int) -> None:
    conn.execute("UPDATE reminders SET notified_at = ? WHERE id = ?", (now, reminder_id))


# Both -----------------------------------------------------------------------------------


def fired_since(conn: Connection, since: int, limit: int) -> tuple[list[Row], list[Row]]:
    """Timers and reminders fired (by any process) at or after ``since``."""
    timers = conn.all(
        "SELECT * FROM timers WHERE state = 'fired' AND fired_at >= ? ORDER BY fired_at LIMIT ?",
        (since, limit),
    )
    reminders = conn.all(
        "SELECT * FROM reminders WHERE state = 'fired' AND fired_at >= ? ORDER BY fired_at LIMIT ?",
        (since, limit),
    )
    return timers, reminders


def next_due(conn: Connection) -> int | None:
    """The earliest moment a running timer or a scheduled reminder is due."""
    found = conn.scalar(
        "SELECT min(t) FROM (SELECT min(ends_at) AS t FROM timers WHERE state = 'running'"
        " UNION ALL SELECT min(due_at) FROM reminders WHERE state = 'scheduled')"
    )
    return None if found is None else int(found)
