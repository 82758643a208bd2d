from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.auth.ratelimit import FailureLimiter


@pytest.mark.parametrize(
    ("failures_at", "check_at", "expected_wait"),
    [
        ([], 0, 0),
        ([0, 1], 2, 0),  # under the limit
        ([0, 1, 2], 3, 57),  # limit 3 in 60 s: the oldest counted failure ages out at 60
        ([0, 1, 2], 59.5, 1),
        ([0, 1, 2], 60, 0),  # the first failure left the window
        ([0, 10, 20, 30], 31, 39),  # below the limit once the one at 10 ages out: 10 + 60 - 31
    ],
)
def test_retry_after(failures_at: list[float], check_at: float, expected_wait: int) -> None:
    limiter = FailureLimiter(max_failures=3, window_seconds=60)
    for t in failures_at:
        limiter.record_failure("k", t)
    assert limiter.retry_after("k", check_at) == expected_wait


def test_keys_are_independent_and_reset_forgets() -> None:
    limiter = FailureLimiter(max_failures=1, window_seconds=60)
    limiter.record_failure("a", 0)
    assert limiter.retry_after("a", 1) > 0
    assert limiter.retry_after("b", 1) == 0
    limiter.reset("a")
    assert limiter.retry_after("a", 1) == 0


def test_memory_is_bounded() -> None:
    limiter = FailureLimiter(max_failures=1, window_seconds=60, max_keys=10)
    for i in range(100):
        limiter.record_failure(f"k{i}", 0)
    assert limiter.retry_after("k99", 1) > 0
    assert limiter.retry_after("k0", 1) == 0


@given(st.lists(st.floats(min_value=0, max_value=1000), max_size=30), st.floats(0, 2000))
def test_wait_never_exceeds_the_window(times: list[float], now: float) -> None:
    limiter = FailureLimiter(max_failures=3, window_seconds=60)
    for t in sorted(times):
        limiter.record_failure("k", t)
    wait = limiter.retry_after("k", max(now, max(times, default=0)))
    assert 0 <= wait <= 60
