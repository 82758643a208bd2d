"""The notification service: send, schedule, update, withdraw, read, and the outbox.

Everything a notification goes through is written to SQLite first (the message, its
per-channel deliveries, the user's event log), then the live streams are told. The
dispatcher (``dispatcher.py``) works the outbox: due notifications are released through
the user's preferences (quiet hours hold them), queued deliveries are handed to their
channel and retried with backoff. A crash loses nothing: what was scheduled or unsent
goes out after the next start.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from assistant.auth import AuthService, Principal
from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import Conflict, Forbidden, InvalidInput, NotFound
from assistant.notifications import store
from assistant.notifications.channels.base import Outcome, Outgoing
from assistant.notifications.models import (
    BUILTIN_CATEGORIES,
    CHANNELS,
    MAX_DATA_BYTES,
    ChannelState,
    DeliveryStatus,
    Event,
    EventKind,
    HistoryQuery,
    Notification,
    NotificationChange,
    NotificationDraft,
    PushTarget,
    Status,
    data_size,
    parse_duration,
)
from assistant.notifications.planning import plan
from assistant.profile import ProfileService
from assistant.profile.models import NotificationPreferences, StoredPreferences
from assistant.store import MAX_INTEGER, Connection, Database, Row
from runtime.events import NO_EVENTS, Emitter

log = logging.getLogger(__name__)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
"""Event ids are SQLite integers."""
_LIVE = (Status.SCHEDULED, Status.HELD, Status.ACTIVE)
NO_TARGETS = {
    "webpush": "no Web Push subscription registered",
    "fcm": "no FCM device registered",
    "apns": "no APNs device registered",
}


@dataclass(frozen=True)
class NotificationOptions:
    """Limits and timings of the notification service."""

    deliver_at_tolerance_seconds: float = 60.0
    """A ``deliver_at`` this far in the past is taken as now; further is refused."""
    max_schedule_days: int = 366
    """How far ahead a notification may be scheduled."""
    max_attempts: int = 8
    """Sends tried per delivery before it is marked failed."""
    retry_base_seconds: float = 2.0
    """First retry delay; doubled on each attempt, with jitter."""
    retry_max_seconds: float = 3600.0
    """Longest delay between two attempts."""
    retry_jitter: float = 0.2
    """Each delay is scaled by a random factor in 1 +- this."""
    default_ttl_seconds: int = 86_400
    """How long push services keep a notification without an ``expires_at``."""
    replay_limit: int = 1000
    """Most events one reconnect replays."""


def retry_delay(attempts: int, options: NotificationOptions, draw: float) -> float:
    """Exponential backoff with jitter: the delay after ``attempts`` failed sends, for a
    random ``draw`` in [0, 1)."""
    exponent = min(max(attempts - 1, 0), 30)
    delay = min(options.retry_base_seconds * 2.0**exponent, options.retry_max_seconds)
    return delay * (1.0 - options.retry_jitter + 2.0 * options.retry_jitter * draw)


def preferences_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = preferences_patch(before, value)
            if nested:
                patch[key] = nested
        elif value != before or key not in old:
            patch[key] = value
    return patch


@dataclass(frozen=True)
class Work:
    """A claimed delivery for the dispatcher to send."""

    delivery_id: int
    channel: str
    message: Outgoing


Observer = Callable[[list[Event]], None]
"""Told of every committed event (the hub, the dispatcher)."""


class NotificationService:
    """Notifications of every user: sending, state, history, event log and outbox."""

    def __init__(
        self,
        db: Database,
        profile: ProfileService,
        auth: AuthService,
        options: NotificationOptions | None = None,
        clock: Clock = system_clock,
        draw: Callable[[], float] = random.random,
        events: Emitter = NO_EVENTS,
    ) -> None:
        self.db = db
        self.events = events
        self.profile = profile
        self.auth = auth
        self.options = options or NotificationOptions()
        self.clock = clock
        self.draw = draw
        """Random numbers for the retry jitter (fixed in tests)."""
        self.observers: list[Observer] = []
        """Called after each commit with its events (the live hub, the dispatcher)."""
        self.wakers: list[Callable[[], None]] = []
        """Called when new work may be due (the dispatcher's wake-up)."""
        self.channel_states: dict[str, ChannelState] = {}
        """Availability of each channel, as the dispatcher probed it at start-up."""
        self.live_streams: Callable[[str], int] = lambda user_id: 0
        """How many companion streams a user has open (the hub's count)."""

    # Sending ------------------------------------------------------------------------

    def send(self, caller: Principal, draft: NotificationDraft) -> list[Notification]:
        """Store a notification for the caller (admins: any user or all) and deliver it now
        or when due; the answer lists each recipient's notification with its deliveries."""
        _check_data(draft.data)
        recipients = self._recipients(caller, draft)
        now = self._now()
        self._check_category(draft.category, recipients)
        deliver_at = self._deliver_at(draft, now)
        expires_at = _ms(draft.expires_at) if draft.expires_at else None
        if expires_at is not None and expires_at <= deliver_at:
            raise InvalidInput("expires_at must be after the delivery time", field="expires_at")
        events: list[Event] = []
        ids: list[str] = []
        with self.db.write() as conn:
            for user_id in recipients:
                notification_id = new_id(now / 1000)
                store.insert_notification(
                    conn,
                    {
                        "id": notification_id,
                        "user_id": user_id,
                        "title": draft.title,
                        "body": draft.body,
                        "category": draft.category,
                        "priority": draft.priority,
                        "tags": draft.tags,
                        "actions": [a.model_dump() for a in draft.actions],
                        "data": draft.data,
                        "collapse_key": draft.collapse_key,
                        "status": Status.SCHEDULED,
                        "deliver_at": deliver_at,
                        "expires_at": expires_at,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                ids.append(notification_id)
                if deliver_at <= now:
                    row = store.get_notification(conn, user_id, notification_id)
                    assert row is not None
                    events += self._release(conn, row, now)
        self._committed(events)
        for user_id in recipients:
            self.events.emit(
                "notification.send",
                {
                    "category": draft.category,
                    "priority": draft.priority,
                    "scheduled": deliver_at > now,
                    "sender": "self" if user_id == caller.user_id else "admin",
                },
                user_id=user_id,
            )
        return [self.get(user_id, nid) for user_id, nid in zip(recipients, ids, strict=True)]

    def planned(self, notification: Notification) -> list[dict[str, Any]]:
        """The deliveries a scheduled or held notification will get if the preferences stay
        as they are (for the answer to a send)."""
        preferences, zone = self._preferences_of(notification.user_id)
        moment = datetime.fromtimestamp(notification.deliver_at / 1000, tz=UTC)
        decided = plan(preferences, notification.category, notification.priority, moment, zone)
        rows = []
        for channel in CHANNELS:
            reason = decided.skipped.get(channel) or self._unavailable(channel)
            rows.append(
                {
                    "channel": channel,
                    "status": DeliveryStatus.SKIPPED if reason else notification.status,
                    "planned_at": notification.deliver_at,
                    "error": reason,
                }
            )
        return rows

    def update(
        self, user_id: str, notification_id: str, change: NotificationChange
    ) -> Notification:
        """Change a notification; one already shown is replaced on every channel."""
        now = self._now()
        values = change.model_dump(exclude_unset=True)
        _check_data(change.data)
        if not values:
            raise InvalidInput("Send at least one field to change", field="body")
        events: list[Event] = []
        with self.db.write() as conn:
            row = self._row(conn, user_id, notification_id)
            if row["status"] not in _LIVE:
                raise Conflict(f"The notification is {row['status']}; it can no longer change")
            values = self._changes(values, change, row, now)
            values["updated_at"] = now
            store.update_notification(conn, notification_id, values)
            row = self._row(conn, user_id, notification_id)
            if row["status"] == Status.ACTIVE:
                events.append(self._event(conn, row, EventKind.UPDATED, now))
                self._requeue(conn, row, "update", now)
            elif row["deliver_at"] <= now:
                events += self._release(conn, row, now)
        self._committed(events)
        return self.get(user_id, notification_id)

    def _changes(
        self, values: dict[str, Any], change: NotificationChange, row: Row, now: int
    ) -> dict[str, Any]:
        """An update's columns; a null resets a field to its default."""
        if "actions" in values:
            values["actions"] = [a.model_dump() for a in change.actions or []]
        for key in ("deliver_at", "expires_at"):
            if values.get(key) is not None:
                values[key] = _ms(values[key])
        if "deliver_at" in values:
            if row["status"] == Status.ACTIVE:
                raise InvalidInput("The notification was already delivered", field="deliver_at")
            if values["deliver_at"] is None:
                values["deliver_at"] = now
            self._check_not_past(values["deliver_at"], now, "deliver_at")
            values["status"] = Status.SCHEDULED
            values["held_reason"] = None
        defaults: dict[str, Any] = {
            "title": "",
            "body": "",
            "tags": [],
            "actions": [],
            "priority": 3,
        }
        for key, default in defaults.items():
            if key in values and values[key] is None:
                values[key] = default
        return values

    def withdraw(self, user_id: str, notification_id: str) -> Notification:
        """Take a notification back: it is removed from desktops and push services, and
        every stream of the user is told; a scheduled one is simply cancelled."""
        now = self._now()
        events: list[Event] = []
        with self.db.write() as conn:
            row = self._row(conn, user_id, notification_id)
            if row["status"] not in _LIVE:
                return self.get(user_id, notification_id)
            was_active = row["status"] == Status.ACTIVE
            store.update_notification(
                conn, notification_id, {"status": Status.WITHDRAWN, "updated_at": now}
            )
            row = self._row(conn, user_id, notification_id)
            if was_active:
                events.append(self._event(conn, row, EventKind.WITHDRAWN, now))
                self._requeue(conn, row, "withdraw", now)
        self._committed(events)
        return self.get(user_id, notification_id)

    # State shared across the user's devices -------------------------------------------

    def mark_read(self, user_id: str, notification_id: str) -> Notification:
        """Read on one device: read on all of them."""
        return self._mark(user_id, notification_id, EventKind.READ)

    def dismiss(self, user_id: str, notification_id: str) -> Notification:
        """Dismissed on one device: gone from all of them."""
        return self._mark(user_id, notification_id, EventKind.DISMISSED)

    def act(self, user_id: str, notification_id: str, action_id: str) -> Notification:
        """A button (or the notification itself, ``default``) was pressed: it counts as
        read, and an ``action`` event tells the apps which one."""
        now = self._now()
        with self.db.write() as conn:
            row = self._row(conn, user_id, notification_id)
            known = [a["id"] for a in store.notification_of(row).actions]
            if action_id != "default" and action_id not in known:
                raise NotFound(f"The notification has no action {action_id!r}")
            events = self._set_read(conn, row, now)
            row = self._row(conn, user_id, notification_id)
            events.append(self._event(conn, row, EventKind.ACTION, now, action=action_id))
        self._committed(events)
        return self.get(user_id, notification_id)

    def read_all(self, user_id: str) -> int:
        """Mark every delivered, unread notification read; how many were."""
        now = self._now()
        events: list[Event] = []
        with self.db.write() as conn:
            for row in store.unread_active(conn, user_id):
                events += self._set_read(conn, row, now)
        self._committed(events)
        return len(events)

    def acknowledge(self, user_id: str, notification_id: str) -> Notification:
        """A companion app confirms it received the notification (``delivered``)."""
        now = self._now()
        with self.db.write() as conn:
            self._row(conn, user_id, notification_id)
            conn.execute(
                "UPDATE notification_deliveries SET status = 'delivered', delivered_at = ?,"
                " updated_at = ? WHERE notification_id = ? AND channel = 'companion'"
                " AND status IN ('queued', 'sent')",
                (now, now, notification_id),
            )
        return self.get(user_id, notification_id)

    def feedback(self, channel: str, remote_id: str, kind: str, action_id: str | None) -> None:
        """A person acted on a channel (a desktop button, a closed popup)."""
        with self.db.read() as conn:
            row = store.delivery_by_remote(conn, channel, remote_id)
        if row is None:
            return
        if kind == "dismissed":
            self.dismiss(row["user_id"], row["notification_id"])
        else:
            try:
                self.act(row["user_id"], row["notification_id"], action_id or "default")
            except NotFound:
                log.info("%s reported an unknown action %r", channel, action_id)

    # Reading ------------------------------------------------------------------------

    def get(self, user_id: str, notification_id: str) -> Notification:
        """One notification with its per-channel deliveries."""
        with self.db.read() as conn:
            row = self._row(conn, user_id, notification_id)
            deliveries = tuple(store.delivery_of(d) for d in store.deliveries_of(conn, row["id"]))
        return store.notification_of(row, deliveries)

    def history(self, user_id: str, query: HistoryQuery) -> list[Notification]:
        """The user's notifications, newest first."""
        if query.category is not None:
            self._check_category(query.category, [user_id], field="category")
        with self.db.read() as conn:
            rows = store.history(conn, user_id, query)
        return [store.notification_of(r) for r in rows]

    def unread_count(self, user_id: str) -> int:
        """How many of the user's active notifications are neither read nor dismissed."""
        with self.db.read() as conn:
            return store.count_unread(conn, user_id)

    # Streams ------------------------------------------------------------------------

    def cursor(self, user_id: str, last_event_id: str | None, since: str | None) -> int | None:
        """Where a reconnecting stream resumes: the event seq after which to replay, or
        None for a stream that asks for nothing old (it gets the pending ones)."""
        if last_event_id is not None and last_event_id.strip():
            value = last_event_id.strip()
            if not value.isdigit() or int(value) > MAX_INTEGER:
                raise InvalidInput("Last-Event-ID must be an event id", field="Last-Event-ID")
            return int(value)
        if since is None or not since.strip():
            return None
        value = since.strip().lower()
        if value == "all":
            return 0
        if value.isdigit():
            if int(value) > MAX_INTEGER:
                raise InvalidInput("since is not an event id this server gave", field="since")
            return int(value)
        with self.db.read() as conn:
            if _UUID.fullmatch(value):
                seq = store.event_seq_of_notification(conn, user_id, value)
                if seq is None:
                    raise NotFound(f"No notification {value} was delivered to you")
                return seq
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                raise InvalidInput(
                    "since is an event id, a notification id, a duration (10m, 2h) or all",
                    field="since",
                ) from exc
            return store.first_event_at(conn, user_id, self._now() - int(seconds * 1000))

    def replay(self, user_id: str, after: int | None) -> tuple[list[Event], int]:
        """The events after ``after`` (or, with None, the ``new`` events of notifications no
        stream has received yet, which now count as sent), and the seq a live stream
        continues from."""
        now = self._now()
        if after is not None:
            events: list[Event] = []
            with self.db.read() as conn:
                while True:
                    start = events[-1].seq if events else after
                    page = store.events_after(conn, user_id, start, self.options.replay_limit)
                    events += page
                    if len(page) < self.options.replay_limit:
                        break
                last = store.last_seq(conn)
            return events, max([after, last, *(e.seq for e in events)])
        with self.db.write() as conn:
            pending = [r["notification_id"] for r in store.pending_companion(conn, user_id)]
            events = store.new_events_of(conn, pending) if pending else []
            store.mark_companion_sent(conn, pending, now)
            last = store.last_seq(conn)
        return events, last

    def last_seq(self) -> int:
        """The newest event id of all users (where a live stream starts)."""
        with self.db.read() as conn:
            return store.last_seq(conn)

    # Preferences --------------------------------------------------------------------

    def get_preferences(self, user_id: str) -> tuple[NotificationPreferences, StoredPreferences]:
        """The notification part of the user's preferences (and the whole, for its version)."""
        stored = self.profile.get_preferences(user_id)
        return stored.preferences.notifications, stored

    def put_preferences(
        self,
        user_id: str,
        preferences: NotificationPreferences,
        expected_version: int | None = None,
    ) -> tuple[NotificationPreferences, StoredPreferences]:
        """Replace the notification part of the profile's preferences (their one copy)."""
        current = self.profile.get_preferences(user_id).preferences.notifications
        patch = preferences_patch(
            current.model_dump(mode="json"), preferences.model_dump(mode="json")
        )
        stored = self.profile.patch_preferences(user_id, {"notifications": patch}, expected_version)
        for waker in self.wakers:
            waker()  # held notifications may be due now
        return stored.preferences.notifications, stored

    # Push targets -------------------------------------------------------------------

    def add_target(
        self,
        user_id: str,
        kind: str,
        address: str,
        *,
        p256dh: str | None = None,
        auth: str | None = None,
        name: str | None = None,
    ) -> PushTarget:
        """Register a Web Push subscription or an FCM/APNs device token."""
        with self.db.write() as conn:
            row = store.put_target(
                conn,
                {
                    "id": new_id(self.clock()),
                    "user_id": user_id,
                    "kind": kind,
                    "address": address,
                    "p256dh": p256dh,
                    "auth": auth,
                    "name": name,
                    "created_at": self._now(),
                },
            )
        return store.target_of(row)

    def targets(self, user_id: str, kind: str | None = None) -> list[PushTarget]:
        """The user's registered subscriptions and devices."""
        with self.db.read() as conn:
            return [store.target_of(r) for r in store.targets_of(conn, user_id, kind)]

    def remove_target(self, user_id: str, target_id: str, kind: str | None = None) -> None:
        """Forget a subscription or device."""
        with self.db.write() as conn:
            row = store.get_target(conn, target_id)
            if row is None or row["user_id"] != user_id or (kind and row["kind"] != kind):
                raise NotFound("No such subscription")
            store.delete_target(conn, user_id, target_id)

    # The outbox (the dispatcher's side) --------------------------------------------------

    def recover(self) -> int:
        """After a start: sends that a crash interrupted are queued again."""
        with self.db.write() as conn:
            return store.requeue_sending(conn, self._now())

    def release_due(self, limit: int = 200) -> int:
        """Deliver the scheduled and held notifications whose time has come."""
        now = self._now()
        events: list[Event] = []
        with self.db.write() as conn:
            rows = store.due_notifications(conn, now, limit)
            for row in rows:
                events += self._release(conn, row, now)
        self._committed(events, wake=False)
        return len(rows)

    def claim(self, limit: int = 50) -> list[Work]:
        """Queued deliveries that are due, marked as being sent."""
        now = self._now()
        work: list[Work] = []
        with self.db.write() as conn:
            for row in store.claim_due(conn, now, limit):
                found = conn.one(
                    "SELECT * FROM notifications WHERE id = ?", (row["notification_id"],)
                )
                if found is None:
                    continue
                notification = store.notification_of(found)
                if row["action"] == "show" and (
                    notification.status != Status.ACTIVE
                    or (notification.expires_at is not None and notification.expires_at <= now)
                ):
                    store.update_delivery(
                        conn,
                        row["id"],
                        {
                            "status": DeliveryStatus.SKIPPED,
                            "last_error": f"the notification is {notification.status}"
                            if notification.status != Status.ACTIVE
                            else "expired before it could be sent",
                            "updated_at": now,
                        },
                    )
                    continue
                target = None
                if row["target_id"]:
                    target_row = store.get_target(conn, row["target_id"])
                    if target_row is None:
                        store.update_delivery(
                            conn,
                            row["id"],
                            {
                                "status": DeliveryStatus.FAILED,
                                "last_error": "the subscription was removed",
                                "updated_at": now,
                            },
                        )
                        continue
                    target = store.target_of(target_row)
                ttl = self.options.default_ttl_seconds
                if notification.expires_at is not None:
                    ttl = max(0, (notification.expires_at - now) // 1000)
                message = Outgoing(
                    action=row["action"],
                    notification=notification,
                    target=target,
                    remote_id=row["remote_id"],
                    ttl_seconds=int(ttl),
                )
                work.append(Work(row["id"], row["channel"], message))
        return work

    def record(self, work: Work, outcome: Outcome) -> None:
        """Write what a send achieved; transient failures are retried with backoff."""
        now = self._now()
        target = work.message.target
        with self.db.write() as conn:
            row = conn.one(
                "SELECT * FROM notification_deliveries WHERE id = ?", (work.delivery_id,)
            )
            if row is None:
                return
            values: dict[str, Any] = {"updated_at": now, "last_error": outcome.error}
            if outcome.status == "sent":
                values |= {"status": DeliveryStatus.SENT, "sent_at": now, "next_attempt_at": None}
                if outcome.remote_id is not None:
                    values["remote_id"] = outcome.remote_id
            elif outcome.status == "retry" and row["attempts"] < self.options.max_attempts:
                delay = retry_delay(row["attempts"], self.options, self.draw())
                delay = max(delay, outcome.retry_after_seconds or 0.0)
                values |= {
                    "status": DeliveryStatus.QUEUED,
                    "next_attempt_at": now + int(delay * 1000),
                }
            elif outcome.status == "gone":
                values |= {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
            else:
                values |= {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
                if outcome.status == "retry":
                    values["last_error"] = (
                        f"gave up after {row['attempts']} attempts: {outcome.error}"
                    )
            store.update_delivery(conn, work.delivery_id, values)
            if target is not None:
                if outcome.status == "gone":
                    store.delete_target(conn, None, target.id)
                    log.info("removed %s target %s: %s", target.kind, target.id, outcome.error)
                else:
                    store.note_target(
                        conn, target.id, None if outcome.status == "sent" else outcome.error, now
                    )

    def next_due(self) -> float | None:
        """Seconds since the epoch when the next scheduled item is due, if any."""
        with self.db.read() as conn:
            found = store.next_due(conn)
        return None if found is None else found / 1000

    def desktop_id(self, notification_id: str) -> str | None:
        """The desktop's id of a shown notification (to close it when read elsewhere)."""
        with self.db.read() as conn:
            return conn.scalar(  # type: ignore[no-any-return]
                "SELECT remote_id FROM notification_deliveries WHERE notification_id = ?"
                " AND channel = 'desktop' AND remote_id IS NOT NULL",
                (notification_id,),
            )

    # Internals ----------------------------------------------------------------------

    def _now(self) -> int:
        return to_ms(self.clock())

    def _committed(self, events: list[Event], *, wake: bool = True) -> None:
        """Tell the observers; wake the dispatcher when a caller made new work (not when
        the dispatcher's own work did, which would keep it spinning)."""
        if events:
            for observer in self.observers:
                observer(events)
        if wake:
            for waker in self.wakers:
                waker()

    def _unavailable(self, channel: str) -> str | None:
        state = self.channel_states.get(channel)
        if state is None or state.available:
            return None
        return f"unavailable: {state.reason}"

    def _recipients(self, caller: Principal, draft: NotificationDraft) -> list[str]:
        if draft.user is None and not draft.all_users:
            return [caller.user_id]
        if not caller.is_admin:
            raise Forbidden("Only an admin may notify other users")
        if draft.all_users:
            with self.db.read() as conn:
                return store.user_ids(conn)
        try:
            if _UUID.fullmatch(draft.user or ""):
                return [self.auth.get_user(str(draft.user)).id]
            return [self.auth.find_user(str(draft.user)).id]
        except NotFound as exc:
            raise InvalidInput(f"No user {draft.user!r}", field="user") from exc

    def _check_category(self, category: str, users: list[str], field: str = "category") -> None:
        if category in BUILTIN_CATEGORIES:
            return
        for user_id in users:
            if (
                category
                in self.profile.get_preferences(user_id).preferences.notifications.categories
            ):
                return
        known = ", ".join(BUILTIN_CATEGORIES)
        raise InvalidInput(
            f"Unknown category {category!r}: use one of {known}, or name it in the"
            " notification preferences' categories first",
            field=field,
        )

    def _deliver_at(self, draft: NotificationDraft, now: int) -> int:
        if draft.delay is not None:
            return now + int(parse_duration(draft.delay) * 1000)
        if draft.deliver_at is None:
            return now
        wanted = _ms(draft.deliver_at)
        self._check_not_past(wanted, now, "deliver_at")
        return max(wanted, now)

    def _check_not_past(self, wanted: int, now: int, field: str) -> None:
        tolerance = int(self.options.deliver_at_tolerance_seconds * 1000)
        if wanted < now - tolerance:
            raise InvalidInput(
                f"{field} is in the past (more than"
                f" {self.options.deliver_at_tolerance_seconds:g} s ago)",
                field=field,
            )
        if wanted > now + self.options.max_schedule_days * 86_400_000:
            raise InvalidInput(
                f"{field} is more than {self.options.max_schedule_days} days ahead", field=field
            )

    def _preferences_of(self, user_id: str) -> tuple[NotificationPreferences, ZoneInfo]:
        preferences = self.profile.get_preferences(user_id).preferences.notifications
        zone_name = self.profile.get_profile(user_id).time_zone or "UTC"
        return preferences, ZoneInfo(zone_name)

    @staticmethod
    def _row(conn: Connection, user_id: str, notification_id: str) -> Row:
        row = store.get_notification(conn, user_id, notification_id)
        if row is None:
            raise NotFound("No such notification")
        return row

    @staticmethod
    def _event(conn: Connection, row: Row, kind: EventKind, now: int, **extra: Any) -> Event:
        payload = {"notification": store.notification_of(row).to_json(), **extra}
        return store.append_event(conn, row["user_id"], row["id"], kind, payload, now)

    def _release(self, conn: Connection, row: Row, now: int) -> list[Event]:
        """A due notification: expired, held by the preferences, or delivered."""
        notification_id, user_id = row["id"], row["user_id"]
        if row["expires_at"] is not None and row["expires_at"] <= now:
            store.update_notification(
                conn, notification_id, {"status": Status.EXPIRED, "updated_at": now}
            )
            return []
        preferences, zone = self._preferences_of(user_id)
        moment = datetime.fromtimestamp(now / 1000, tz=UTC)
        decided = plan(preferences, row["category"], row["priority"], moment, zone)
        if decided.hold_until is not None:
            store.update_notification(
                conn,
                notification_id,
                {
                    "status": Status.HELD,
                    "held_reason": decided.hold_reason,
                    "deliver_at": to_ms(decided.hold_until.timestamp()),
                    "updated_at": now,
                },
            )
            return []
        events: list[Event] = []
        replaced_desktop: str | None = None
        if row["collapse_key"] is not None:
            for old in store.live_with_collapse_key(conn, user_id, row["collapse_key"]):
                if old["id"] == notification_id:
                    continue
                store.update_notification(
                    conn,
                    old["id"],
                    {"status": Status.REPLACED, "replaced_by": notification_id, "updated_at": now},
                )
                if old["status"] == Status.ACTIVE:
                    replaced = self._row(conn, user_id, old["id"])
                    events.append(
                        self._event(
                            conn, replaced, EventKind.WITHDRAWN, now, replaced_by=notification_id
                        )
                    )
                    replaced_desktop = (
                        conn.scalar(
                            "SELECT remote_id FROM notification_deliveries WHERE"
                            " notification_id = ? AND channel = 'desktop'",
                            (old["id"],),
                        )
                        or replaced_desktop
                    )
        store.update_notification(
            conn,
            notification_id,
            {"status": Status.ACTIVE, "held_reason": None, "delivered_at": now, "updated_at": now},
        )
        for channel in CHANNELS:
            self._plan_channel(conn, row, channel, decided.skipped.get(channel), now)
        if replaced_desktop is not None:
            conn.execute(
                "UPDATE notification_deliveries SET remote_id = ? WHERE notification_id = ?"
                " AND channel = 'desktop'",
                (replaced_desktop, notification_id),
            )
        current = self._row(conn, user_id, notification_id)
        events.append(self._event(conn, current, EventKind.NEW, now))
        return events

    def _plan_channel(
        self, conn: Connection, row: Row, channel: str, skipped: str | None, now: int
    ) -> None:
        notification_id, user_id = row["id"], row["user_id"]
        reason = skipped or self._unavailable(channel)
        if reason is not None:
            store.put_delivery(
                conn,
                notification_id,
                user_id,
                channel,
                "",
                DeliveryStatus.SKIPPED,
                now,
                error=reason,
            )
            return
        if channel == "companion":
            live = self.live_streams(user_id) > 0
            store.put_delivery(
                conn,
                notification_id,
                user_id,
                channel,
                "",
                DeliveryStatus.SENT if live else DeliveryStatus.QUEUED,
                now,
            )
            if live:
                store.update_delivery(conn, int(conn.raw.last_insert_rowid()), {"sent_at": now})
            return
        if channel == "desktop":
            store.put_delivery(
                conn, notification_id, user_id, channel, "", DeliveryStatus.QUEUED, now
            )
            return
        targets = store.targets_of(conn, user_id, channel)
        if not targets:
            store.put_delivery(
                conn,
                notification_id,
                user_id,
                channel,
                "",
                DeliveryStatus.SKIPPED,
                now,
                error=NO_TARGETS[channel],
            )
        for target in targets:
            store.put_delivery(
                conn, notification_id, user_id, channel, target["id"], DeliveryStatus.QUEUED, now
            )

    def _requeue(self, conn: Connection, row: Row, action: str, now: int) -> None:
        """Send an update or a withdrawal on every channel the notification went out on."""
        for delivery in store.deliveries_of(conn, row["id"]):
            if delivery["channel"] == "companion":
                continue  # the event log carries it
            if delivery["status"] in (DeliveryStatus.SKIPPED, DeliveryStatus.FAILED):
                continue
            if action == "withdraw" and delivery["status"] == DeliveryStatus.QUEUED:
                store.update_delivery(
                    conn,
                    delivery["id"],
                    {
                        "status": DeliveryStatus.SKIPPED,
                        "last_error": "withdrawn before it was sent",
                        "updated_at": now,
                    },
                )
                continue
            store.update_delivery(
                conn,
                delivery["id"],
                {
                    "action": action,
                    "status": DeliveryStatus.QUEUED,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "updated_at": now,
                },
            )

    def _mark(self, user_id: str, notification_id: str, kind: EventKind) -> Notification:
        now = self._now()
        with self.db.write() as conn:
            row = self._row(conn, user_id, notification_id)
            if kind == EventKind.READ:
                events = self._set_read(conn, row, now)
            elif row["dismissed_at"] is None:
                store.update_notification(
                    conn, notification_id, {"dismissed_at": now, "updated_at": now}
                )
                events = [self._event(conn, self._row(conn, user_id, notification_id), kind, now)]
            else:
                events = []
        self._committed(events)
        return self.get(user_id, notification_id)

    def _set_read(self, conn: Connection, row: Row, now: int) -> list[Event]:
        if row["read_at"] is not None:
            return []
        store.update_notification(conn, row["id"], {"read_at": now, "updated_at": now})
        store.set_deliveries_read(conn, row["id"], now)
        current = self._row(conn, row["user_id"], row["id"])
        return [self._event(conn, current, EventKind.READ, now)]


def _check_data(data: dict[str, Any] | None) -> None:
    size = data_size(data)
    if size > MAX_DATA_BYTES:
        raise InvalidInput(
            f"data is {size} bytes as JSON; the limit is {MAX_DATA_BYTES}", field="data"
        )


def _ms(instant: str) -> int:
    return to_ms(datetime.fromisoformat(instant).timestamp())
