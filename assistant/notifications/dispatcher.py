"""Works the outbox: releases due notifications and hands queued deliveries to channels.

One asyncio task in the server. It sleeps until the next scheduled item (or until the
service wakes it), releases what is due, sends what is queued, and records each outcome;
retries are rows with a later ``next_attempt_at``, so a restart resumes them. The CLI
writes to the same outbox; the running server notices within ``poll_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from assistant.notifications.channels.base import Channel, Outcome
from assistant.notifications.hub import Hub
from assistant.notifications.models import ChannelState, Event, EventKind
from assistant.notifications.service import NotificationService, Work
from assistant.threads import off_loop, set_event

log = logging.getLogger(__name__)


class Dispatcher:
    """The notification outbox's worker, and the owner of the channels."""

    def __init__(
        self,
        service: NotificationService,
        hub: Hub,
        channels: Mapping[str, Channel],
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.service = service
        self.hub = hub
        self.channels = dict(channels)
        self.poll_seconds = poll_seconds
        self.states: dict[str, ChannelState] = {}
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        service.live_streams = hub.connected
        if hub.publish not in service.observers:
            service.observers.append(hub.publish)

    async def start(self, *, run: bool = True) -> dict[str, ChannelState]:
        """Probe every channel, queue again what a crash interrupted, and (with ``run``)
        start working the outbox."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        for name, channel in self.channels.items():
            try:
                self.states[name] = await channel.start(self._feedback)
            except Exception as exc:
                log.exception("the %s channel failed to start", name)
                self.states[name] = ChannelState(name, False, f"failed to start: {exc}")
        self.service.channel_states = dict(self.states)
        self.service.observers.append(self._observe)
        self.service.wakers.append(self.wake)
        recovered = await off_loop(self.service.recover)
        if recovered:
            log.info("queued %d interrupted notification sends again", recovered)
        if run:
            self._task = asyncio.create_task(self._run(), name="notifications")
        return self.states

    def wake(self) -> None:
        """Look at the outbox now (from any thread)."""
        set_event(self._loop, self._wakeup)

    async def run_once(self) -> int:
        """Release what is due and send what is queued, once; how many sends were tried."""
        await off_loop(self.service.release_due)
        work = await off_loop(self.service.claim)
        await asyncio.gather(*(self._send(item) for item in work))
        return len(work)

    async def close(self) -> None:
        """Stop working and disconnect the channels."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for task in list(self._side_tasks):
            task.cancel()
        await asyncio.gather(*self._side_tasks, return_exceptions=True)
        with contextlib.suppress(ValueError):
            self.service.observers.remove(self._observe)
        with contextlib.suppress(ValueError):
            self.service.wakers.remove(self.wake)
        for channel in self.channels.values():
            try:
                await channel.close()
            except Exception:
                log.exception("closing the %s channel failed", channel.name)

    # Internals ----------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            self._wakeup.clear()
            try:
                sent = await self.run_once()
                due = None if sent else await off_loop(self.service.next_due)
            except Exception:
                log.exception("the notification outbox failed; trying again shortly")
                sent, due = 0, None
            if sent:
                continue
            timeout = self.poll_seconds
            if due is not None:
                timeout = min(max(due - self.service.clock(), 0.0), timeout)
            if timeout <= 0:
                continue
            # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation
            # that arrives as the event is set (gh-86296), and close() would wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    async def _send(self, work: Work) -> None:
        channel = self.channels.get(work.channel)
        if channel is None:
            outcome = Outcome("failed", error=f"the {work.channel} channel is not configured")
        else:
            try:
                outcome = await channel.send(work.message)
            except Exception as exc:
                log.exception("the %s channel failed to send", work.channel)
                outcome = Outcome("retry", error=f"{type(exc).__name__}: {exc}")
        if outcome.status != "sent":
            log.info(
                "notification %s on %s: %s (%s)",
                work.message.notification.id,
                work.channel,
                outcome.status,
                outcome.error,
            )
        await off_loop(self.service.record, work, outcome)

    def _feedback(self, channel: str, remote_id: str, kind: str, action_id: str | None) -> None:
        self.service.feedback(channel, remote_id, kind, action_id)

    def _observe(self, events: list[Event]) -> None:
        """A notification read or dismissed anywhere leaves the desktop too."""
        closing = [
            e.notification_id for e in events if e.kind in (EventKind.READ, EventKind.DISMISSED)
        ]
        desktop = self.channels.get("desktop")
        loop = self._loop
        if not closing or loop is None or loop.is_closed() or not hasattr(desktop, "close_popup"):
            return
        for notification_id in closing:
            loop.call_soon_threadsafe(self._spawn_close, notification_id)

    def _spawn_close(self, notification_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._close_popup(notification_id))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _close_popup(self, notification_id: str) -> None:
        remote_id = await off_loop(self.service.desktop_id, notification_id)
        desktop = self.channels.get("desktop")
        if remote_id and desktop is not None:
            await desktop.close_popup(remote_id)  # type: ignore[attr-defined]
