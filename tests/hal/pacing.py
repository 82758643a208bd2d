"""Clocks for the audio tests: time that moves only when the test (or a sleeper) says so."""

from __future__ import annotations

import asyncio

HANG_GUARD_SECONDS = 10.0
"""Bound on waits that only a defect would make endless: they fail instead of hanging."""


class FakeClock:
    """Time that only moves when someone sleeps: each sleep jumps to its own deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class HeldSleep:
    """A sleep that never ends by itself: a device busy playing until it is stopped.

    ``started`` is set as soon as someone sleeps, so a test knows the playback is under
    way without waiting any real time.
    """

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.sleeps: list[float] = []
        self.cancelled = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
