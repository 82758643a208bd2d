"""Fires timers and reminders when they come due.

One asyncio task (in the server, beside the notification dispatcher, or in the CLI voice
loop). It fires what came due while the process was down as it starts (late, once),
then sleeps until the next due item, woken early when the service adds one. Items added
by another process (the CLI while the server runs) are noticed within ``poll_seconds``.

Each item fires in one process only (the one whose compare-and-set wins), but the spoken
alert belongs wherever a voice loop runs: so the listeners of this process (the voice
loop's announcer) are also told, within ``poll_seconds``, of the items another process
(``assistant serve`` beside ``assistant talk``) fired since this scheduler started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from assistant.clock import to_ms
from assistant.threads import off_loop, set_event
from assistant.timers.models import Fired
from assistant.timers.service import BATCH, TimerService

log = logging.getLogger(__name__)


class TimerScheduler:
    """The worker that calls ``TimerService.fire_due`` at the right moments."""

    def __init__(self, service: TimerService, *, poll_seconds: float = 1.0) -> None:
        self.service = service
        self.poll_seconds = poll_seconds
        """Longest sleep: how soon an item added by another process is seen."""
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._since: float | None = None
        """Items fired elsewhere at or after this are told to this process's listeners."""
        self._told: dict[str, float] = {}
        """Ids of the fired items this process's listeners heard, with their fire time."""

    async def start(self, *, run: bool = True) -> list[Fired]:
        """Fire what came due while nobody was running, and (with ``run``) keep firing
        in the background; what fired at start-up."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        if self.wake not in self.service.wakers:
            self.service.wakers.append(self.wake)
        # The store keeps milliseconds: compare in them, or an item fired in this very
        # millisecond would look older than the start and newer than the cursor at once.
        self._since = to_ms(self.service.clock()) / 1000
        late = await self._fire()
        if late:
            log.info("fired %d timers and reminders that came due while stopped", len(late))
        if run:
            self._task = asyncio.create_task(self._run(), name="timers")
        return late

    def wake(self) -> None:
        """Look at the next due item now (from any thread)."""
        set_event(self._loop, self._wakeup)

    async def close(self) -> None:
        """Stop firing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        with contextlib.suppress(ValueError):
            self.service.wakers.remove(self.wake)

    async def _fire(self) -> list[Fired]:
        fired: list[Fired] = []
        while True:
            batch = await self.service.fire_due()
            fired += batch
            for item in batch:
                self._told[item.id] = item.fired_at
            if len(batch) < BATCH:
                return fired

    async def follow(self) -> list[Fired]:
        """Tell this process's listeners of the items another process fired since the
        last look (none when nobody listens here); what was told."""
        if not self.service.listeners or self._since is None:
            return []
        found = await off_loop(self.service.fired_since, self._since)
        told = [item for item in found if item.id not in self._told]
        for item in told:
            self._told[item.id] = item.fired_at
            log.info(
                "%s %s was fired by another process; telling the listeners", item.kind, item.id
            )
            await self.service.tell(item)
        if found:
            # Look again from the newest seen (ids already told are skipped), and forget
            # what is older than that.
            self._since = max(self._since, found[-1].fired_at)
            keep = self._since - 60.0  # a margin: a clock step back must not tell twice
            self._told = {k: v for k, v in self._told.items() if v >= keep}
        return told

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            self._wakeup.clear()
            try:
                await self._fire()
                await self.follow()
                due = await off_loop(self.service.next_due)
            except Exception:
                log.exception("firing timers failed; trying again shortly")
                due = None
            timeout = self.poll_seconds
            if due is not None:
                timeout = min(max(due - self.service.clock(), 0.0), timeout)
            if timeout <= 0:
                # Due now by the clock: fire it on the next turn (no busy loop if the
                # clock stands still: fire_due claimed it, so next_due moves on).
                await asyncio.sleep(0)
                continue
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can lose a
            # cancellation that arrives as the event is set (gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
