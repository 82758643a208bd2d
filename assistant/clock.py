"""Time as a value: services take a clock so tests can hold it still."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Seconds since the Unix epoch, like ``time.time``."""

system_clock: Clock = time.time


def to_ms(seconds: float) -> int:
    """Seconds (float) to integer milliseconds, the store's time unit."""
    return int(seconds * 1000)


def iso(ms: int | None) -> str | None:
    """Store milliseconds to an ISO 8601 UTC string."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


class _IdState:
    """The last millisecond and counter handed out (shared by all threads)."""

    lock = threading.Lock()
    millis = 0
    counter = 0


def new_id(now: float | None = None) -> str:
    """A time-ordered UUID (version 7); ids made by this process only ever increase.

    Within one millisecond the 12-bit ``rand_a`` field counts up (RFC 9562, method 1),
    so ids sort in creation order even when the clock stands still.
    """
    millis = to_ms(time.time() if now is None else now)
    with _IdState.lock:
        if millis <= _IdState.millis:
            millis, counter = _IdState.millis, _IdState.counter + 1
            if counter > 0xFFF:
                millis, counter = millis + 1, 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _IdState.millis, _IdState.counter = millis, counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


class ManualAsyncClock(ManualClock):
    """A manual clock that asyncio code can also sleep on (tests, simulations).

    ``sleep(seconds)`` returns once the clock has reached the sleeper's deadline: when
    someone calls ``advance``, or at once with ``jump``, where each sleeper moves the
    clock to its own deadline (time passes only when someone waits, so a paced fake
    speaker or microphone runs at full speed while timestamps show the pacing).
    """

    def __init__(self, start: float = 1_800_000_000.0, *, jump: bool = False) -> None:
        super().__init__(start)
        self.jump = jump
        """Sleepers move the clock themselves."""
        self.sleeps: list[float] = []
        """Every duration slept, in order."""
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock reaches ``now + seconds`` (an ``asyncio.sleep`` stand-in)."""
        self.sleeps.append(seconds)
        deadline = self.now + max(seconds, 0.0)
        if self.jump:
            self.now = max(self.now, deadline)
            await asyncio.sleep(0)
            return
        if deadline <= self.now:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((deadline, waiter))
        try:
            await waiter
        finally:
            self._sleepers = [(d, w) for d, w in self._sleepers if w is not waiter]

    def advance(self, seconds: float) -> None:
        """Move time forward and wake the sleepers whose deadline has come (from any
        thread: a fake engine's ``sleep`` runs in a worker)."""
        super().advance(seconds)
        for deadline, waiter in list(self._sleepers):
            if deadline <= self.now:
                loop = waiter.get_loop()
                if _running_loop() is loop:
                    _wake(waiter)
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(_wake, waiter)

    @property
    def sleeping(self) -> int:
        """Sleepers still waiting for their deadline."""
        return sum(not waiter.done() for _, waiter in self._sleepers)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
