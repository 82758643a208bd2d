"""Time as a value: services take a clock so tests can hold it still."""

from __future__ import annotations

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
