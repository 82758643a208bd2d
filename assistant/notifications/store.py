"""SQL of the notification service; every function takes an open connection."""

from __future__ import annotations

import json
from typing import Any

from assistant.notifications.models import (
    Delivery,
    Event,
    HistoryQuery,
    Notification,
    PushTarget,
)
from assistant.store import Connection, Row

_LIVE = "('scheduled', 'held', 'active')"


def notification_of(row: Row, deliveries: tuple[Delivery, ...] = ()) -> Notification:
    return Notification(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        body=row["body"],
        category=row["category"],
        priority=row["priority"],
        tags=tuple(json.loads(row["tags"])),
        actions=tuple(json.loads(row["actions"])),
        data=json.loads(row["data"]) if row["data"] is not None else None,
        collapse_key=row["collapse_key"],
        status=row["status"],
        held_reason=row["held_reason"],
        deliver_at=row["deliver_at"],
        expires_at=row["expires_at"],
        delivered_at=row["delivered_at"],
        read_at=row["read_at"],
        dismissed_at=row["dismissed_at"],
        replaced_by=row["replaced_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        deliveries=deliveries,
    )


def delivery_of(row: Row) -> Delivery:
    return Delivery(
        channel=row["channel"],
        target_id=row["target_id"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        error=row["last_error"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        read_at=row["read_at"],
    )


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(values)
    for key in ("tags", "actions"):
        if key in encoded:
            encoded[key] = json.dumps(list(encoded[key]))
    if "data" in encoded and encoded["data"] is not None:
        encoded["data"] = json.dumps(encoded["data"])
    return encoded


def insert_notification(conn: Connection, values: dict[str, Any]) -> None:
    encoded = _encode(values)
    columns = ", ".join(encoded)
    marks = ", ".join(f":{c}" for c in encoded)
    conn.execute(f"INSERT INTO notifications ({columns}) VALUES ({marks})", encoded)


def update_notification(conn: Connection, notification_id: str, values: dict[str, Any]) -> None:
    encoded = _encode(values)
    assignments = "".join(f"{c} = :{c}, " for c in encoded)
    conn.execute(
        f"UPDATE notifications SET {assignments}version = version + 1 WHERE id = :id",
        {**encoded, "id": notification_id},
    )


def get_notification(conn: Connection, user_id: str, notification_id: str) -> Row | None:
    return conn.one(
        "SELECT * FROM notifications WHERE id = ? AND user_id = ?", (notification_id, user_id)
    )


def live_with_collapse_key(conn: Connection, user_id: str, key: str) -> list[Row]:
    return conn.all(
        f"SELECT * FROM notifications WHERE user_id = ? AND collapse_key = ? AND status IN {_LIVE}",
        (user_id, key),
    )


def due_notifications(conn: Connection, now: int, limit: int) -> list[Row]:
    return conn.all(
        "SELECT * FROM notifications WHERE status IN ('scheduled', 'held') AND deliver_at <= ?"
        " ORDER BY deliver_at LIMIT ?",
        (now, limit),
    )


def next_due(conn: Connection) -> int | None:
    """The earliest moment something is due: a scheduled notification or a retry."""
    found = conn.scalar(
        "SELECT min(t) FROM (SELECT min(deliver_at) AS t FROM notifications"
        " WHERE status IN ('scheduled', 'held')"
        " UNION ALL SELECT min(next_attempt_at) FROM notification_deliveries"
        " WHERE status = 'queued' AND channel != 'companion')"
    )
    return None if found is None else int(found)


def history(conn: Connection, user_id: str, query: HistoryQuery) -> list[Row]:
    clauses: list[str] = ["user_id = ?"]
    params: list[Any] = [user_id]
    if query.category is not None:
        clauses.append("category = ?")
        params.append(query.category)
    if query.priority_at_least is not None:
        clauses.append("priority >= ?")
        params.append(query.priority_at_least)
    if query.status is not None:
        clauses.append("status = ?")
        params.append(query.status)
    if query.unread is not None:
        clauses.append("read_at IS NULL" if query.unread else "read_at IS NOT NULL")
    if query.before is not None:
        clauses.append("id < ?")
        params.append(query.before)
    return conn.all(
        f"SELECT * FROM notifications WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?",
        (*params, query.limit),
    )


def unread_active(conn: Connection, user_id: str) -> list[Row]:
    return conn.all(
        "SELECT * FROM notifications WHERE user_id = ? AND status = 'active'"
        " AND read_at IS NULL ORDER BY id",
        (user_id,),
    )


def count_unread(conn: Connection, user_id: str) -> int:
    """Active notifications neither read nor dismissed (what a badge shows)."""
    return int(
        conn.scalar(
            "SELECT count(*) FROM notifications WHERE user_id = ? AND status = 'active'"
            " AND read_at IS NULL AND dismissed_at IS NULL",
            (user_id,),
        )
    )


# Events ---------------------------------------------------------------------------------


def event_of(row: Row) -> Event:
    return Event(
        seq=row["seq"],
        user_id=row["user_id"],
        notification_id=row["notification_id"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        created_at=row["created_at"],
    )


def append_event(
    conn: Connection,
    user_id: str,
    notification_id: str,
    kind: str,
    payload: dict[str, Any],
    now: int,
) -> Event:
    conn.execute(
        "INSERT INTO notification_events (user_id, notification_id, kind, payload, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (user_id, notification_id, kind, json.dumps(payload), now),
    )
    seq = int(conn.raw.last_insert_rowid())
    return Event(seq, user_id, notification_id, kind, payload, now)


def events_after(conn: Connection, user_id: str, seq: int, limit: int) -> list[Event]:
    rows = conn.all(
        "SELECT * FROM notification_events WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (user_id, seq, limit),
    )
    return [event_of(r) for r in rows]


def first_event_at(conn: Connection, user_id: str, since_ms: int) -> int:
    """The seq just before the user's first event at or after ``since_ms``."""
    found = conn.scalar(
        "SELECT min(seq) FROM notification_events WHERE user_id = ? AND created_at >= ?",
        (user_id, since_ms),
    )
    return int(found) - 1 if found is not None else last_seq(conn)


def event_seq_of_notification(conn: Connection, user_id: str, notification_id: str) -> int | None:
    found = conn.scalar(
        "SELECT min(seq) FROM notification_events WHERE user_id = ? AND notification_id = ?",
        (user_id, notification_id),
    )
    return None if found is None else int(found)


def last_seq(conn: Connection) -> int:
    return int(conn.scalar("SELECT coalesce(max(seq), 0) FROM notification_events"))


def new_events_of(conn: Connection, notification_ids: list[str]) -> list[Event]:
    marks = ", ".join("?" for _ in notification_ids)
    rows = conn.all(
        f"SELECT * FROM notification_events WHERE kind = 'new' AND notification_id IN ({marks})"
        " ORDER BY seq",
        notification_ids,
    )
    return [event_of(r) for r in rows]


def prune_events(conn: Connection, older_than: int) -> int:
    conn.execute("DELETE FROM notification_events WHERE created_at < ?", (older_than,))
    return conn.changes()


# Deliveries -----------------------------------------------------------------------------


def put_delivery(
    conn: Connection,
    notification_id: str,
    user_id: str,
    channel: str,
    target_id: str,
    status: str,
    now: int,
    *,
    action: str = "show",
    error: str | None = None,
) -> None:
    """Create a delivery, or queue an existing one again (an update or a withdrawal)."""
    conn.execute(
        "INSERT INTO notification_deliveries (notification_id, user_id, channel, target_id,"
        " action, status, next_attempt_at, last_error, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (notification_id, channel, target_id) DO UPDATE SET"
        " action = excluded.action, status = excluded.status, attempts = 0,"
        " next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error,"
        " updated_at = excluded.updated_at",
        (
            notification_id,
            user_id,
            channel,
            target_id,
            action,
            status,
            now if status == "queued" else None,
            error,
            now,
        ),
    )


def deliveries_of(conn: Connection, notification_id: str) -> list[Row]:
    return conn.all(
        "SELECT * FROM notification_deliveries WHERE notification_id = ? ORDER BY channel, id",
        (notification_id,),
    )


def claim_due(conn: Connection, now: int, limit: int) -> list[Row]:
    """Queued pushes whose time has come, marked ``sending`` (one sender each)."""
    rows = conn.all(
        "SELECT * FROM notification_deliveries WHERE status = 'queued'"
        " AND channel != 'companion' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        (now, limit),
    )
    for row in rows:
        conn.execute(
            "UPDATE notification_deliveries SET status = 'sending', attempts = attempts + 1,"
            " updated_at = ? WHERE id = ?",
            (now, row["id"]),
        )
    return rows


def update_delivery(conn: Connection, delivery_id: int, values: dict[str, Any]) -> None:
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    conn.execute(
        f"UPDATE notification_deliveries SET {assignments} WHERE id = :id",
        {**values, "id": delivery_id},
    )


def set_deliveries_read(conn: Connection, notification_id: str, now: int) -> None:
    conn.execute(
        "UPDATE notification_deliveries SET status = 'read', read_at = ?, updated_at = ?"
        " WHERE notification_id = ? AND status IN ('sent', 'delivered')",
        (now, now, notification_id),
    )


def delivery_by_remote(conn: Connection, channel: str, remote_id: str) -> Row | None:
    return conn.one(
        "SELECT * FROM notification_deliveries WHERE channel = ? AND remote_id = ?"
        " ORDER BY id DESC LIMIT 1",
        (channel, remote_id),
    )


def requeue_sending(conn: Connection, now: int) -> int:
    """Sends a crash interrupted go out again (at least once)."""
    conn.execute(
        "UPDATE notification_deliveries SET status = 'queued', next_attempt_at = ?,"
        " updated_at = ? WHERE status = 'sending'",
        (now, now),
    )
    return conn.changes()


def pending_companion(conn: Connection, user_id: str) -> list[Row]:
    """Notifications no companion stream has received yet."""
    return conn.all(
        "SELECT d.notification_id FROM notification_deliveries d"
        " JOIN notifications n ON n.id = d.notification_id"
        " WHERE d.user_id = ? AND d.channel = 'companion' AND d.status = 'queued'"
        " AND n.status = 'active' ORDER BY d.notification_id",
        (user_id,),
    )


def mark_companion_sent(conn: Connection, notification_ids: list[str], now: int) -> None:
    for notification_id in notification_ids:
        conn.execute(
            "UPDATE notification_deliveries SET status = 'sent', sent_at = ?, updated_at = ?"
            " WHERE notification_id = ? AND channel = 'companion' AND status = 'queued'",
            (now, now, notification_id),
        )


# Push targets ---------------------------------------------------------------------------


def target_of(row: Row) -> PushTarget:
    return PushTarget(
        id=row["id"],
        user_id=row["user_id"],
        kind=row["kind"],
        address=row["address"],
        p256dh=row["p256dh"],
        auth=row["auth"],
        name=row["name"],
        created_at=row["created_at"],
        last_success_at=row["last_success_at"],
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
    )


def put_target(conn: Connection, values: dict[str, Any]) -> Row:
    """Register a target; the same endpoint or token registered again is updated (and
    moves to the account that registered it last)."""
    conn.execute(
        "INSERT INTO push_targets (id, user_id, kind, address, p256dh, auth, name, created_at)"
        " VALUES (:id, :user_id, :kind, :address, :p256dh, :auth, :name, :created_at)"
        " ON CONFLICT (kind, address) DO UPDATE SET user_id = excluded.user_id,"
        " p256dh = excluded.p256dh, auth = excluded.auth, name = excluded.name,"
        " last_error = NULL, last_error_at = NULL",
        values,
    )
    row = conn.one(
        "SELECT * FROM push_targets WHERE kind = ? AND address = ?",
        (values["kind"], values["address"]),
    )
    assert row is not None
    return row


def targets_of(conn: Connection, user_id: str, kind: str | None = None) -> list[Row]:
    if kind is None:
        return conn.all(
            "SELECT * FROM push_targets WHERE user_id = ? ORDER BY created_at", (user_id,)
        )
    return conn.all(
        "SELECT * FROM push_targets WHERE user_id = ? AND kind = ? ORDER BY created_at",
        (user_id, kind),
    )


def get_target(conn: Connection, target_id: str) -> Row | None:
    return conn.one("SELECT * FROM push_targets WHERE id = ?", (target_id,))


def delete_target(conn: Connection, user_id: str | None, target_id: str) -> int:
    if user_id is None:
        conn.execute("DELETE FROM push_targets WHERE id = ?", (target_id,))
    else:
        conn.execute("DELETE FROM push_targets WHERE id = ? AND user_id = ?", (target_id, user_id))
    return conn.changes()


def note_target(conn: Connection, target_id: str, error: str | None, now: int) -> None:
    if error is None:
        conn.execute("UPDATE push_targets SET last_success_at = ? WHERE id = ?", (now, target_id))
    else:
        conn.execute(
            "UPDATE push_targets SET last_error = ?, last_error_at = ? WHERE id = ?",
            (error, now, target_id),
        )


def user_ids(conn: Connection) -> list[str]:
    return [r["id"] for r in conn.all("SELECT id FROM users WHERE disabled = 0 ORDER BY id")]
