"""Login throttling: a sliding window of failures per key. Pure: time is passed in."""

from __future__ import annotations

import math
from collections import OrderedDict, deque


class FailureLimiter:
    """Counts failures per key; at ``max_failures`` within ``window_seconds`` the key waits."""

    def __init__(self, max_failures: int, window_seconds: float, *, max_keys: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> int:
        """Whole seconds until ``key`` may try again; 0 if it may now."""
        times = self._prune(key, now)
        if times is None or len(times) < self.max_failures:
            return 0
        oldest_counted = times[-self.max_failures]
        return max(1, math.ceil(round(oldest_counted + self.window_seconds - now, 6)))

    def record_failure(self, key: str, now: float) -> None:
        """Count one failure for ``key`` at ``now``."""
        times = self._prune(key, now)
        if times is None:
            times = self._failures[key] = deque()
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        times.append(now)
        self._failures.move_to_end(key)

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a success)."""
        self._failures.pop(key, None)

    def _prune(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
