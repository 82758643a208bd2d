"""The analytics service: ingest, rollups and retention, dashboard, insights, export."""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.analytics import store
from assistant.analytics.aggregate import DAY_MS, HOUR_MS, Aggregate, Key, period_start, roll_up
from assistant.analytics.emitter import BatchObserver, QueueEmitter
from assistant.analytics.events import Event, check_client_event, measures_of
from assistant.analytics.reports import Bucket, Dashboard, Insights, dashboard, insights
from assistant.clock import Clock, system_clock, to_ms
from assistant.errors import Forbidden, InvalidInput
from assistant.store import Database
from assistant.store.database import Connection

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "ndjson"]
EXPORT_COLUMNS = ("id", "ts", "client_ts", "user_id", "session_id", "name", "properties")
ROLLUP_GRACE_MS = 60_000
"""An hour is final this long after it ends (events accepted in it are written by then)."""
MAX_DASHBOARD_BUCKETS = 2000


@dataclass(frozen=True)
class AnalyticsOptions:
    """The queue, batching and retention of the analytics service (from settings)."""

    queue_size: int = 100_000
    """Events the in-memory queue holds before new ones are dropped."""
    batch_size: int = 1000
    """Most events written in one transaction."""
    flush_seconds: float = 0.25
    """The writer writes at least this often."""
    raw_days: int = 30
    """Raw events are kept this long."""
    hourly_days: int = 90
    """Hourly rollups are kept this long."""
    daily_days: int = 730
    """Daily rollups are kept this long."""
    maintenance_seconds: float = 300.0
    """Rollups and retention run this often (0: only when asked)."""


@dataclass(frozen=True)
class ClientEvent:
    """An event as a client sends it (validated by :meth:`AnalyticsService.ingest`)."""

    name: str
    properties: Mapping[str, Any]
    timestamp_seconds: float | None = None
    """The client's time of the event, Unix seconds."""
    session_id: str | None = None


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a user sees their own data, an admin everyone's or one user's."""

    user_id: str
    is_admin: bool

    def scope(self, user: str | None) -> str | None:
        """Whose events to read: None means everyone's."""
        if self.is_admin:
            return user
        if user is not None and user != self.user_id:
            raise Forbidden("Only an admin may look at another user's analytics")
        return self.user_id


@dataclass(frozen=True)
class Accepted:
    """What the ingest endpoint did with a request's events."""

    accepted: int
    dropped: int
    """Refused because the queue was full (the server is overloaded)."""


class AnalyticsService:
    """Events in, reports out. ``emitter`` is the one every other service is given."""

    def __init__(
        self,
        db: Database,
        options: AnalyticsOptions | None = None,
        *,
        observers: Iterable[BatchObserver] = (),
        clock: Clock = system_clock,
        time_zone_of: Callable[[str], str | None] = lambda user_id: None,
    ) -> None:
        self.db = db
        self.options = options or AnalyticsOptions()
        self.maintenance_seconds = self.options.maintenance_seconds
        self.clock = clock
        self.time_zone_of = time_zone_of
        """user id -> the IANA time zone of their profile, or None."""
        self.emitter = QueueEmitter(
            self.write_batch,
            capacity=self.options.queue_size,
            batch_size=self.options.batch_size,
            flush_seconds=self.options.flush_seconds,
            observers=observers,
            clock=clock,
        )
        """What every other service is given to emit events."""
        self._stop = threading.Event()
        self._maintainer: threading.Thread | None = None
        self._maintain_lock = threading.Lock()

    # Life ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread and the periodic rollups."""
        self.emitter.start()
        if self._maintainer is None and self.maintenance_seconds > 0:
            self._maintainer = threading.Thread(
                target=self._maintain_loop, name="analytics-rollups", daemon=True
            )
            self._maintainer.start()

    def close(self) -> None:
        """Write every accepted event and stop the threads."""
        self._stop.set()
        if self._maintainer is not None:
            self._maintainer.join()
            self._maintainer = None
        self.emitter.close()

    def _maintain_loop(self) -> None:
        while not self._stop.wait(self.maintenance_seconds):
            try:
                self.maintain()
            except Exception:
                log.exception(
                    "analytics rollups failed; retrying in %s s", self.maintenance_seconds
                )

    # Ingest -------------------------------------------------------------------------

    def ingest(
        self, user_id: str, events: Sequence[ClientEvent], *, batch: bool = True
    ) -> Accepted:
        """Validate a client's events (all or none), stamp them, queue them."""
        now = self.clock()
        for index, event in enumerate(events):
            check_client_event(
                index if batch else None,
                event.name,
                event.properties,
                event.timestamp_seconds,
                event.session_id,
                now,
            )
        stamped = [
            Event(
                ts=to_ms(now),
                name=e.name,
                properties=e.properties,
                user_id=user_id,
                session_id=e.session_id,
                client_ts=None if e.timestamp_seconds is None else to_ms(e.timestamp_seconds),
            )
            for e in events
        ]
        accepted = self.emitter.submit(stamped)
        return Accepted(accepted=accepted, dropped=len(stamped) - accepted)

    def write_batch(self, events: Sequence[Event]) -> None:
        """Write one batch in one transaction (the emitter's writer)."""
        with self.db.write() as conn:
            store.insert_events(conn, events)

    # Rollups and retention ----------------------------------------------------------

    def maintain(self) -> dict[str, int]:
        """Roll up what is new, then delete what is past retention. Idempotent."""
        with self._maintain_lock:
            rolled = self.roll_up()
            deleted = self.apply_retention()
        return {"hours_rolled": rolled, **deleted}

    def roll_up(self, until_ms: int | None = None) -> int:
        """Roll raw events into hourly rollups from the last final hour on, and the days
        those hours belong to into daily rollups. Each hour is computed from its raw events
        and replaces what was there, so running again changes nothing. Returns the number
        of hours rolled."""
        now_ms = to_ms(self.clock()) if until_ms is None else until_ms
        end = period_start(now_ms, HOUR_MS) + HOUR_MS  # the current hour too, not final
        final = period_start(now_ms - ROLLUP_GRACE_MS, HOUR_MS)
        with self.db.read() as conn:
            rolled_through = store.get_state(conn, store.ROLLED_THROUGH)
            first = store.first_event_from(conn, rolled_through or 0)
        if first is None:
            return 0
        hour: int | None = period_start(max(rolled_through or first, first), HOUR_MS)
        hours, days = 0, set()
        while hour is not None and hour < end:
            with self.db.read() as conn:
                rows = list(store.events_between(conn, hour, hour + HOUR_MS))
            with self.db.write() as conn:
                store.replace_rollups(
                    conn, "hour", hour, hour + HOUR_MS, roll_up(_raw(rows), HOUR_MS)
                )
            hours += 1
            days.add(period_start(hour, DAY_MS))
            with self.db.read() as conn:
                following = store.first_event_from(conn, hour + HOUR_MS)
            hour = None if following is None else period_start(following, HOUR_MS)
        # Every hour with events before `final` is rolled now; those between had none.
        if final > (rolled_through or 0):
            with self.db.write() as conn:
                store.set_state(conn, store.ROLLED_THROUGH, final)
        for day in sorted(days):
            with self.db.write() as conn:
                hourly = store.read_rollups(conn, "hour", day, day + DAY_MS)
                store.replace_rollups(conn, "day", day, day + DAY_MS, _days(hourly))
        return hours

    def apply_retention(self) -> dict[str, int]:
        """Delete raw events, hourly and daily rollups past their retention. Raw events
        go only once their hour is rolled up."""
        now_ms = to_ms(self.clock())
        with self.db.read() as conn:
            rolled_through = store.get_state(conn, store.ROLLED_THROUGH) or 0
        raw_before = min(now_ms - self.options.raw_days * DAY_MS, rolled_through)
        with self.db.write() as conn:
            raw = store.delete_events_before(conn, raw_before)
            if raw:
                kept_from = store.get_state(conn, store.RAW_FROM) or 0
                store.set_state(conn, store.RAW_FROM, max(kept_from, raw_before))
            hourly = store.delete_rollups_before(
                conn, "hour", now_ms - self.options.hourly_days * DAY_MS
            )
            daily = store.delete_rollups_before(
                conn, "day", now_ms - self.options.daily_days * DAY_MS
            )
        return {"raw_deleted": raw, "hourly_deleted": hourly, "daily_deleted": daily}

    # Reading ------------------------------------------------------------------------

    def aggregates(
        self, start_ms: int, end_ms: int, bucket: Bucket, user_id: str | None
    ) -> tuple[dict[Key, Aggregate], str]:
        """Aggregates over [start, end): exact from raw events where they are all kept,
        from the rollups before that. Returns them and their source."""
        now_ms = to_ms(self.clock())
        with self.db.read() as conn:
            raw_from = store.get_state(conn, store.RAW_FROM) or 0
            if start_ms >= raw_from:
                rows = store.events_between(conn, start_ms, end_ms, user_id)
                return roll_up(_raw(rows), HOUR_MS, keep_values=True), "raw"
            split = min(raw_from, end_ms)
            hourly_from = now_ms - self.options.hourly_days * DAY_MS
            period = "day" if bucket == "day" and start_ms < hourly_from else "hour"
            out = store.read_rollups(conn, period, start_ms, split, user_id)
            source = "rollups"
            if split < end_ms:
                rows = store.events_between(conn, split, end_ms, user_id)
                for key, aggregate in roll_up(_raw(rows), HOUR_MS).items():
                    out.setdefault(key, Aggregate()).merge(aggregate)
                source = "rollups+raw"
        return out, source

    def dashboard(
        self,
        viewer: Viewer,
        *,
        start: float | None = None,
        end: float | None = None,
        bucket: Bucket | None = None,
        user: str | None = None,
    ) -> Dashboard:
        """The dashboard over [start, end) (default: the last 24 hours)."""
        scope = viewer.scope(user)
        now = self.clock()
        end_ms = to_ms(end) if end is not None else to_ms(now) + 1  # now included
        start_ms = to_ms(start if start is not None else end_ms / 1000 - 86_400)
        if start_ms >= end_ms:
            raise InvalidInput("from must be before to", field="from")
        chosen: Bucket = bucket or ("hour" if end_ms - start_ms <= 3 * DAY_MS else "day")
        width = HOUR_MS if chosen == "hour" else DAY_MS
        if (end_ms - start_ms) // width > MAX_DASHBOARD_BUCKETS:
            raise InvalidInput(
                f"The range holds more than {MAX_DASHBOARD_BUCKETS} {chosen}s; use bucket=day"
                " or a shorter range",
                field="bucket",
            )
        aggregates, source = self.aggregates(start_ms, end_ms, chosen, scope)
        return dashboard(
            aggregates,
            start_ms=start_ms,
            end_ms=end_ms,
            bucket=chosen,
            source=source,
            user_id=scope,
        )

    def insights(self, viewer: Viewer, *, user: str | None = None, days: int = 28) -> Insights:
        """Insights from a user's raw events of the last ``days`` days."""
        user_id = viewer.scope(user) or viewer.user_id
        now_ms = to_ms(self.clock())
        zone_name = self.time_zone_of(user_id) or "UTC"
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone_name, zone = "UTC", ZoneInfo("UTC")
        with self.db.read() as conn:
            rows = []
            for row in store.events_between(conn, now_ms - days * DAY_MS, now_ms + 1, user_id):
                properties = json.loads(row["properties"])
                language = properties.get("language")
                rows.append(
                    (
                        row["ts"],
                        row["name"],
                        row["label"],
                        measures_of(properties),
                        language if isinstance(language, str) else None,
                    )
                )
        return insights(
            rows, user_id=user_id, now_ms=now_ms, days=days, zone=zone, zone_name=zone_name
        )

    def export(
        self,
        viewer: Viewer,
        export_format: ExportFormat,
        *,
        user: str | None = None,
        start: float | None = None,
        end: float | None = None,
        page_size: int = 2000,
    ) -> Iterator[bytes]:
        """Raw events as CSV or NDJSON, read page by page as the caller consumes them.

        Check access by calling it: the scope is decided before the first read."""
        scope = viewer.scope(user)
        start_ms = 0 if start is None else to_ms(start)
        end_ms = to_ms(self.clock()) + 1 if end is None else to_ms(end)

        def pages() -> Iterator[bytes]:
            if export_format == "csv":
                yield _csv_line(EXPORT_COLUMNS)
            after = 0
            while True:
                with self.db.read() as conn:
                    rows = store.events_page(conn, start_ms, end_ms, scope, after, page_size)
                if not rows:
                    return
                after = rows[-1]["id"]
                if export_format == "csv":
                    yield b"".join(_csv_line([r[c] for c in EXPORT_COLUMNS]) for r in rows)
                else:
                    yield b"".join(_ndjson(r) for r in rows)

        return pages()

    def count_events(self, user_id: str | None = None) -> int:
        """Raw events stored (one user's, or all)."""
        with self.db.read() as conn:
            return _count(conn, user_id)


def _count(conn: Connection, user_id: str | None) -> int:
    if user_id is None:
        return int(conn.scalar("SELECT count(*) FROM analytics_events"))
    return int(conn.scalar("SELECT count(*) FROM analytics_events WHERE user_id = ?", (user_id,)))


def _raw(
    rows: Iterator[Mapping[str, Any]] | Sequence[Mapping[str, Any]],
) -> Iterator[tuple[int, str, str, str, dict[str, float]]]:
    for row in rows:
        yield (
            row["ts"],
            row["name"],
            row["label"],
            row["user_id"] or "",
            measures_of(json.loads(row["properties"])),
        )


def _days(hourly: Mapping[Key, Aggregate]) -> dict[Key, Aggregate]:
    out: dict[Key, Aggregate] = {}
    for (start, name, label, user), aggregate in hourly.items():
        out.setdefault((period_start(start, DAY_MS), name, label, user), Aggregate()).merge(
            aggregate
        )
    return out


def _csv_line(values: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue().encode()


def _ndjson(row: Mapping[str, Any]) -> bytes:
    record = {c: row[c] for c in EXPORT_COLUMNS}
    record["properties"] = json.loads(row["properties"])
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"
