"""The in-process emitter: a bounded queue drained by one thread into SQLite in batches.

``emit`` appends a tuple to a deque and returns (well under a microsecond: no lock, no
I/O, no JSON). A writer thread wakes every ``flush_seconds``, or as soon as half a batch
is waiting, and writes what is queued in transactions of at most ``batch_size`` events.
When the queue holds ``capacity`` events, new ones are dropped and counted, never
waited for. ``close`` writes everything accepted before it returns.

What a crash (``kill -9``) loses is what was accepted since the last commit began: at
most ``flush_seconds`` of events, and, because the writer starts at half a batch, fewer
than ``batch_size`` of them while it keeps up with the arrivals.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from assistant.analytics.events import NO_PROPERTIES, Event

log = logging.getLogger(__name__)

BatchWriter = Callable[[Sequence[Event]], None]
"""Writes one batch in one transaction."""
BatchObserver = Callable[[Sequence[Event], float], None]
"""Sees every batch after it is written, with the seconds the write took (metrics)."""


class QueueEmitter:
    """Bounded, batched, never blocking: the analytics service's :class:`Emitter`."""

    def __init__(
        self,
        write: BatchWriter,
        *,
        capacity: int = 100_000,
        batch_size: int = 1000,
        flush_seconds: float = 0.25,
        observers: Iterable[BatchObserver] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.write = write
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.observers = list(observers)
        self.wake_at = max(batch_size // 2, 1)
        """Queued events that wake the writer before its interval is over."""
        self.clock = clock
        self.dropped = 0
        """Events refused because the queue was full (or the emitter closed)."""
        self.written = 0
        """Events committed to the database."""
        self.failed = 0
        """Events lost because their batch could not be written."""
        self._queue: deque[Event] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # The hot path -----------------------------------------------------------------

    def emit(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        """Queue one event; drop it (counted) when the queue is full. Thread-safe."""
        queue = self._queue
        if len(queue) >= self.capacity or self._stopping:
            self.dropped += 1
            return
        queue.append(
            Event(
                int(self.clock() * 1000),
                name,
                NO_PROPERTIES if properties is None else properties,
                user_id,
                session_id,
            )
        )
        if len(queue) >= self.wake_at and not self._wake.is_set():
            self._wake.set()

    def submit(self, events: Iterable[Event]) -> int:
        """Queue events already validated and stamped (the ingest endpoint); how many fit."""
        accepted = 0
        queue = self._queue
        for event in events:
            if len(queue) >= self.capacity or self._stopping:
                self.dropped += 1
                continue
            queue.append(event)
            accepted += 1
        if len(queue) >= self.wake_at and not self._wake.is_set():
            self._wake.set()
        return accepted

    @property
    def queued(self) -> int:
        """Events waiting to be written."""
        return len(self._queue)

    # The writer -------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
            self._thread.start()

    def flush(self) -> None:
        """Write everything queued now, in the caller's thread (tests, shutdown)."""
        queue = self._queue
        while queue:
            batch: list[Event] = []
            popleft = queue.popleft
            try:
                for _ in range(self.batch_size):
                    batch.append(popleft())
            except IndexError:
                pass
            if batch:
                self._write(batch)

    def close(self) -> None:
        """Refuse new events, write every accepted one, stop the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def _write(self, batch: Sequence[Event]) -> None:
        started = time.perf_counter()
        try:
            self.write(batch)
        except Exception:
            self.failed += len(batch)
            log.exception("could not write %d analytics events; they are lost", len(batch))
            return
        seconds = time.perf_counter() - started
        self.written += len(batch)
        for observe in self.observers:
            try:
                observe(batch, seconds)
            except Exception:
                log.exception("an analytics observer failed")
