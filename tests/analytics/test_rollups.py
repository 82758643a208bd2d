"""Rollups agree with the raw events, are idempotent and incremental; retention."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.analytics import AnalyticsOptions, AnalyticsService, Event, Viewer
from assistant.analytics.aggregate import DAY_MS, HOUR_MS, Measure
from assistant.clock import ManualClock
from assistant.store import Database

START = 1_780_000_000.0
"""A fixed Unix time to start from."""

events_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * DAY_MS // 1000),  # seconds after START
        st.sampled_from(["chat.turn", "app.opened", "error"]),
        st.sampled_from(["", "m:1", "m:2"]),
        st.sampled_from([None, "u1", "u2"]),
        st.one_of(st.none(), st.floats(min_value=0, max_value=1e5, allow_nan=False)),
    ),
    max_size=60,
)


def rolled_rows(db: Database, period: str) -> list[dict[str, object]]:
    with db.read() as conn:
        return conn.all(
            "SELECT r.*, m.measure, m.count AS m_count, m.sum, m.min, m.max, m.histogram"
            " FROM analytics_rollups r LEFT JOIN analytics_rollup_measures m USING"
            " (period, start, name, label, user_id) WHERE r.period = ?"
            " ORDER BY r.start, r.name, r.label, r.user_id, m.measure",
            (period,),
        )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=events_strategy, split=st.integers(min_value=0, max_value=3 * 24))
def test_rollups_agree_with_raw_events_and_running_twice_changes_nothing(
    tmp_path_factory: object,
    events: list[tuple[int, str, str, str | None, float | None]],
    split: int,
) -> None:
    folder = tmp_path_factory.mktemp("rollups")  # type: ignore[attr-defined]
    db = Database.open(folder / "a.db")
    clock = ManualClock(START)
    analytics = AnalyticsService(db, AnalyticsOptions(maintenance_seconds=0), clock=clock)
    stored = [
        Event(
            int((START + offset) * 1000),
            name,
            {"model": label, "ms": value} if value is not None else {"model": label},
            user,
        )
        for offset, name, label, user, value in events
    ]
    # Part of the events arrive, rollups run, the rest arrive, rollups run again.
    cut = START * 1000 + split * HOUR_MS
    analytics.write_batch([e for e in stored if e.ts < cut])
    analytics.roll_up(until_ms=int(cut))
    analytics.write_batch([e for e in stored if e.ts >= cut])
    end = int(START * 1000) + 4 * DAY_MS
    analytics.roll_up(until_ms=end)
    first = (rolled_rows(db, "hour"), rolled_rows(db, "day"))
    analytics.roll_up(until_ms=end)
    assert (rolled_rows(db, "hour"), rolled_rows(db, "day")) == first

    for period, width in (("hour", HOUR_MS), ("day", DAY_MS)):
        expected: dict[tuple[int, str, str, str], list[float | None]] = {}
        for e in stored:
            key = (e.ts - e.ts % width, e.name, e.properties["model"], e.user_id or "")
            expected.setdefault(key, []).append(e.properties.get("ms"))
        got = {}
        for row in rolled_rows(db, period):
            key = (row["start"], row["name"], row["label"], row["user_id"])
            got.setdefault(key, (row["count"], {}))
            if row["measure"] is not None:
                got[key][1][row["measure"]] = row
        assert set(got) == set(expected)
        for key, values in expected.items():
            count, measures = got[key]
            assert count == len(values)
            numbers = [v for v in values if v is not None]
            if not numbers:
                assert measures == {}
                continue
            row = measures["ms"]
            assert row["m_count"] == len(numbers)
            assert math.isclose(row["sum"], sum(numbers), rel_tol=1e-9, abs_tol=1e-9)
            assert (row["min"], row["max"]) == (min(numbers), max(numbers))
            assert sum(json.loads(row["histogram"]).values()) == len(numbers)
    db.close()


def test_percentiles_from_rollups_are_within_five_percent_and_raw_ones_exact() -> None:
    values = [float(v) for v in range(1, 1001)]
    exact = Measure(values=[])
    rolled = Measure()
    for v in values:
        exact.add(v)
        rolled.add(v)
    assert exact.percentile(0.5) == 500.0
    assert exact.percentile(0.95) == 950.0
    for q, truth in ((0.5, 500.0), (0.95, 950.0), (0.99, 990.0)):
        estimate = rolled.percentile(q)
        assert estimate is not None
        assert abs(estimate - truth) / truth <= 0.05


def test_retention_keeps_rollups_and_dashboard_reads_them_for_old_ranges(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db")
    clock = ManualClock(START)
    analytics = AnalyticsService(
        db, AnalyticsOptions(raw_days=2, maintenance_seconds=0), clock=clock
    )
    analytics.write_batch(
        [
            Event(int(START * 1000) + i * 1000, "chat.turn", {"model": "m", "total_ms": i}, "u1")
            for i in range(1, 101)
        ]
    )
    clock.advance(5 * 86_400)
    analytics.write_batch(
        [Event(int(clock() * 1000), "chat.turn", {"model": "m", "total_ms": 7}, "u1")]
    )
    result = analytics.maintain()
    assert result["raw_deleted"] == 100
    assert analytics.count_events() == 1
    again = analytics.maintain()
    assert again["raw_deleted"] == 0
    board = analytics.dashboard(
        Viewer("admin", True), start=START - 3600, end=clock() + 1, bucket="day"
    )
    assert board.source == "rollups+raw"
    assert sum(s.total for s in board.usage) == 101
    latency = next(r for r in board.latency if r.measure == "total_ms")
    assert latency.count == 101
    assert latency.p50_ms is not None and abs(latency.p50_ms - 50) / 50 <= 0.05
    db.close()


def test_deleting_a_user_deletes_their_analytics(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db")
    with db.write() as conn:
        conn.execute(
            "INSERT INTO users (id, username, role, created_at, updated_at)"
            " VALUES ('u1', 'ada', 'user', 0, 0)"
        )
    analytics = AnalyticsService(
        db, AnalyticsOptions(maintenance_seconds=0), clock=ManualClock(START)
    )
    analytics.write_batch([Event(int(START * 1000), "app.opened", {}, "u1")])
    analytics.roll_up(until_ms=int(START * 1000) + DAY_MS)
    with db.write() as conn:
        conn.execute("DELETE FROM users WHERE id = 'u1'")
    with db.read() as conn:
        left = [
            conn.scalar(f"SELECT count(*) FROM {table} WHERE user_id = 'u1'")
            for table in ("analytics_events", "analytics_rollups")
        ]
    assert left == [0, 0]
    db.close()
