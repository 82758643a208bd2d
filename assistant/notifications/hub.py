"""Live fan-out of a user's events to every connected stream (SSE, NDJSON, WebSocket).

The event log in SQLite is the truth; the hub only saves streams from polling it. A
stream that falls behind (its queue is full) is told so and closed, and its client
reconnects with ``Last-Event-ID`` to replay what it missed from the log.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import AsyncIterator

from assistant.notifications.models import Event


class Subscription:
    """One connected stream of one user."""

    def __init__(self, hub: Hub, user_id: str, size: int) -> None:
        self.hub = hub
        self.user_id = user_id
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(size)
        self.overflowed = False
        """Events were lost: the stream must end so its client replays from the log."""

    def offer(self, event: Event) -> None:
        """Queue an event (on the subscriber's loop)."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def next(self, wait_seconds: float | None) -> Event | None:
        """The next event; None after ``wait_seconds`` or when the stream fell behind."""
        if self.overflowed and self.queue.empty():
            return None
        try:
            async with asyncio.timeout(wait_seconds):  # not wait_for: gh-86296
                return await self.queue.get()
        except TimeoutError:
            return None

    async def events(self) -> AsyncIterator[Event]:
        """Events until the stream falls behind (then it ends)."""
        while True:
            event = await self.queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        """Stop receiving."""
        self.hub.unsubscribe(self)


class Hub:
    """Every live stream, by user; ``publish`` may be called from any thread."""

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._by_user: dict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, user_id: str) -> Subscription:
        """A new live stream for ``user_id`` (call on the event loop that reads it)."""
        subscription = Subscription(self, user_id, self.queue_size)
        with self._lock:
            self._by_user[user_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a stream."""
        with self._lock:
            subscribers = self._by_user.get(subscription.user_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._by_user[subscription.user_id]

    def connected(self, user_id: str) -> int:
        """How many streams ``user_id`` has open."""
        with self._lock:
            return len(self._by_user.get(user_id, ()))

    def total(self) -> int:
        """Open streams of every user."""
        with self._lock:
            return sum(len(s) for s in self._by_user.values())

    def publish(self, events: list[Event]) -> None:
        """Hand events to their users' streams; never blocks."""
        for event in events:
            with self._lock:
                subscribers = list(self._by_user.get(event.user_id, ()))
            for subscription in subscribers:
                loop = subscription.loop
                if loop.is_closed():
                    continue
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is loop:
                    subscription.offer(event)
                else:
                    loop.call_soon_threadsafe(subscription.offer, event)
