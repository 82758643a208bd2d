"""The emitter: nothing accepted is lost, overload drops and counts, close flushes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

from assistant.analytics import AnalyticsOptions, AnalyticsService, Event, QueueEmitter
from assistant.store import Database


class Recorder:
    """A batch writer that keeps what it is given (and can be held)."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: Sequence[Event]) -> None:
        self.gate.wait()
        self.batches.append(list(batch))


async def test_concurrent_emits_from_many_tasks_and_threads_lose_nothing(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db")
    analytics = AnalyticsService(
        db, AnalyticsOptions(batch_size=500, flush_seconds=0.01, maintenance_seconds=0)
    )
    analytics.start()
    emit = analytics.emitter.emit

    async def task(n: int) -> None:
        for i in range(500):
            emit("load.test", {"task": n, "i": i})
            if i % 50 == 0:
                await asyncio.sleep(0)

    def thread(n: int) -> None:
        for i in range(2000):
            emit("load.thread", {"thread": n, "i": i})

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    await asyncio.gather(*(task(n) for n in range(40)))
    for t in threads:
        t.join()
    analytics.close()
    assert analytics.emitter.dropped == 0
    assert analytics.emitter.written == 40 * 500 + 4 * 2000
    with db.read() as conn:
        pairs = conn.all(
            "SELECT name, count(*) AS n, count(DISTINCT properties) AS d FROM analytics_events"
            " GROUP BY name ORDER BY name"
        )
    assert pairs == [
        {"name": "load.test", "n": 20_000, "d": 20_000},
        {"name": "load.thread", "n": 8000, "d": 8000},
    ]
    db.close()


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    writer = Recorder()
    emitter = QueueEmitter(writer, capacity=100, batch_size=10)
    for i in range(150):
        emitter.emit("x.y", {"i": i})
    assert (emitter.queued, emitter.dropped) == (100, 50)
    emitter.close()
    written = [e.properties["i"] for batch in writer.batches for e in batch]
    assert written == list(range(100))
    assert max(len(b) for b in writer.batches) == 10


def test_close_writes_everything_accepted_and_refuses_later_events() -> None:
    writer = Recorder()
    writer.gate.clear()  # the writer is stuck: events pile up
    emitter = QueueEmitter(writer, batch_size=1000, flush_seconds=0.01)
    emitter.start()
    for i in range(2500):
        emitter.emit("x.y", {"i": i}, user_id="u")
    writer.gate.set()
    emitter.close()
    emitter.emit("x.late")
    assert sum(len(b) for b in writer.batches) == 2500
    assert emitter.dropped == 1
    assert all(e.user_id == "u" for b in writer.batches for e in b)


def test_a_failing_write_is_counted_and_the_writer_goes_on() -> None:
    calls: list[int] = []

    def flaky(batch: Sequence[Event]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise OSError("disk full")

    emitter = QueueEmitter(flaky, batch_size=5)
    for _ in range(8):
        emitter.emit("x.y")
    emitter.flush()
    assert (emitter.failed, emitter.written) == (5, 3)
