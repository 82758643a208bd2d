"""How many CPU threads an engine should use now: the thread policy.

llama.cpp's decode threads meet at a barrier after every layer, so one thread that loses
its core stalls the others: on 2 cores, 2 threads decode about 47 tokens/s on an idle
machine but fall to about 17 when one other busy process runs, where 1 thread keeps
about 30. Neither "every core" (llama-server, Ollama) nor "every core but one" is right
all the time, so the choice is made per request, and again between tokens, from what the
runtime knows. whisper.cpp's threads meet the same way and fare worse: beside one busy
process a 2.6 s question took 3.5-9 s on 2 threads and 0.3 s on 1, so it asks the policy
before each transcription too:

- ``choose_threads``: the decision, pure (cores, our other engines computing now, cores
  busy outside this process -> threads), table-tested;
- ``EngineActivity``: which of our engines are computing now; engines that know when they
  compute (the llama.cpp chat model, whisper.cpp, Piper) say so themselves, the model
  manager counts the leases of the other heavy ones (translation, vision, other speech to
  text engines);
- ``CpuLoadProbe``: the cores busy outside this process, from ``/proc/stat`` (all CPU
  time) minus ``os.times()`` (this process's), averaged since the previous sample; where
  ``/proc/stat`` is absent, the load average stands in; where that is absent too, unknown;
- ``ThreadPolicy``: the three together, what an engine asks.

The first audio comes first: while a voice makes speech someone is waiting for (urgent
work: a spoken reply's first piece, a tenth of a second on every core), the chat model
waits between tokens instead of fighting it for the cores, at most ``MAX_YIELD_SECONDS``
per token. On 2 cores Piper made a short sentence in about 113 ms alone and about 263 ms
while the chat model decoded beside it on the one core the policy left it; the reply's
text, far ahead of the speech, loses that tenth of a second. The urgent work itself first
lets the token under way end (``step``): the first piece is cut when a token arrives and
the next one is already being computed, and the two fighting for the cores made a
4-word piece take 155-200 ms in the voice pipeline against 95-130 ms alone (and the
token twice its time). Later sentences are made while the first plays: there the two
share the cores as above.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_THREADS = 8
"""Decoding is memory-bound: it gains little beyond 8 threads."""
EXTERNAL_TOLERANCE_CORES = 0.3
"""Load from outside below this (daemons, a terminal) costs no thread; from there on each
started core of it does."""
MAX_YIELD_SECONDS = 1.0
"""The longest an engine waits for urgent work of another before its next step (a long
text synthesised sentence after sentence slows the chat model, never stops it)."""
MAX_STEP_WAIT_SECONDS = 0.25
"""The longest urgent work waits for another engine's step under way to end (a token:
~35 ms for a 0.5B model on 2 cores, a few times that for larger models on a Pi)."""
SAMPLE_INTERVAL_SECONDS = 0.5
"""The probe measures over at least this long (shorter windows are noise)."""
PROC_STAT = "/proc/stat"
"""Linux's CPU time counters."""


@dataclass(frozen=True)
class CpuState:
    """What the thread choice is made from."""

    cpu_count: int
    """Logical cores of the machine."""
    busy_engines: int
    """Our other engines computing now (each takes a core while it does)."""
    external_cores: float | None
    """Cores busy outside this process lately; None: unknown (counted as idle)."""


def choose_threads(
    state: CpuState,
    *,
    max_threads: int = MAX_THREADS,
    tolerance_cores: float = EXTERNAL_TOLERANCE_CORES,
) -> int:
    """Threads for a compute-bound engine: the cores nothing else is using, at least 1.

    Each other engine of ours that computes takes a core; load from outside takes the
    cores it started beyond ``tolerance_cores`` (0.2 takes none, 0.5 one, 1.4 two).
    """
    taken = state.busy_engines
    if state.external_cores is not None:
        taken += math.ceil(max(0.0, state.external_cores - tolerance_cores))
    return max(1, min(max_threads, state.cpu_count - taken))


class EngineActivity:
    """Which of our engines are computing now (thread-safe; engines and the model manager
    mark themselves, the thread policy reads)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._busy: Counter[str] = Counter()
        self._urgent: Counter[str] = Counter()
        self._stepping: Counter[str] = Counter()

    @contextmanager
    def busy(
        self, key: str, *, urgent: bool = False, step_wait: float = MAX_STEP_WAIT_SECONDS
    ) -> Iterator[None]:
        """Mark ``key`` (a model id) as computing while the block runs; ``urgent`` work
        (speech someone waits for) makes the others that ask ``wait_for_urgent`` wait, and
        starts once their steps under way have ended (at most ``step_wait`` seconds)."""
        with self._lock:
            self._busy[key] += 1
            if urgent:
                self._urgent[key] += 1
                self._lock.wait_for(lambda: not (self._stepping.keys() - {key}), step_wait)
        try:
            yield
        finally:
            with self._lock:
                _release(self._busy, key)
                if urgent:
                    _release(self._urgent, key)
                    self._lock.notify_all()

    @contextmanager
    def step(self, key: str) -> Iterator[None]:
        """Mark one step of ``key`` under way (a token of the chat model, which asks
        ``wait_for_urgent`` before the next): urgent work starting meanwhile lets it end."""
        with self._lock:
            self._stepping[key] += 1
        try:
            yield
        finally:
            with self._lock:
                _release(self._stepping, key)
                self._lock.notify_all()

    def wait_for_urgent(self, key: str, timeout: float = MAX_YIELD_SECONDS) -> bool:
        """Wait while an engine other than ``key`` does urgent work, at most ``timeout``
        seconds; False when such work still runs (the timeout came first)."""
        with self._lock:
            return self._lock.wait_for(lambda: not (self._urgent.keys() - {key}), timeout)

    def others(self, key: str) -> int:
        """Engines other than ``key`` computing now."""
        with self._lock:
            return sum(1 for name in self._busy if name != key)

    def busy_now(self) -> frozenset[str]:
        """The keys computing now."""
        with self._lock:
            return frozenset(self._busy)

    def urgent_now(self) -> frozenset[str]:
        """The keys doing urgent work now."""
        with self._lock:
            return frozenset(self._urgent)


def _release(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def read_proc_stat(path: str = PROC_STAT) -> tuple[float, float] | None:
    """(busy, total) CPU seconds of all cores since boot from ``/proc/stat``; None if absent.

    Busy is user, nice, system, irq, softirq and steal (a hypervisor's other guests take
    that time from us too); total adds idle and iowait.
    """
    try:
        with open(path, encoding="ascii") as handle:  # noqa: PTH123 - a tiny procfs read
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 8:
        return None
    try:
        ticks = [int(value) for value in fields[1:9]]
        hertz = os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return None
    user, nice, system, idle, iowait, irq, softirq = ticks[:7]
    steal = ticks[7] if len(ticks) > 7 else 0
    busy = user + nice + system + irq + softirq + steal
    return busy / hertz, (busy + idle + iowait) / hertz


def own_cpu_seconds() -> float:
    """CPU time of this process, every thread (native ones included)."""
    times = os.times()
    return times.user + times.system


def load_average() -> float | None:
    """The 1-minute load average where the platform has one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class _Sample:
    at: float
    own: float
    busy: float | None


class CpuLoadProbe:
    """Cores busy outside this process, measured over the last ``interval_seconds`` or more.

    Cheap enough to ask between tokens: it reads ``/proc/stat`` at most once per interval
    and otherwise answers from the last measurement. The first answer covers the time
    since the probe was made.
    """

    def __init__(
        self,
        *,
        interval_seconds: float = SAMPLE_INTERVAL_SECONDS,
        read_system: Callable[[], tuple[float, float] | None] = read_proc_stat,
        read_own: Callable[[], float] = own_cpu_seconds,
        read_load_average: Callable[[], float | None] = load_average,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_seconds = interval_seconds
        self._read_system = read_system
        self._read_own = read_own
        self._read_load_average = read_load_average
        self._clock = clock
        self._lock = threading.Lock()
        self._last = self._sample()
        self._value: float | None = None

    def external_cores(self) -> float | None:
        """Cores busy outside this process lately; None when the platform cannot tell."""
        with self._lock:
            now = self._clock()
            if now - self._last.at < self.interval_seconds:
                return self._value if self._value is not None else self._estimate(now)
            sample = self._sample(now)
            self._value = self._between(self._last, sample)
            self._last = sample
            return self._value

    def _estimate(self, now: float) -> float | None:
        """The first answer, before a whole interval has passed: since the probe was made."""
        if now - self._last.at <= 0:
            return None
        return self._between(self._last, self._sample(now))

    def _sample(self, now: float | None = None) -> _Sample:
        system = self._read_system()
        return _Sample(
            at=self._clock() if now is None else now,
            own=self._read_own(),
            busy=None if system is None else system[0],
        )

    def _between(self, before: _Sample, after: _Sample) -> float | None:
        wall = after.at - before.at
        own = max(0.0, after.own - before.own) / wall if wall > 0 else 0.0
        if before.busy is not None and after.busy is not None and wall > 0:
            return max(0.0, (after.busy - before.busy) / wall - own)
        load = self._read_load_average()
        if load is None:
            return None
        return max(0.0, load - own)  # runnable threads lately, less ours (a rougher view)


class ThreadPolicy:
    """Threads for an engine now: every core when nothing else runs, fewer for each of our
    other engines that computes and for load from outside (shared by the model manager
    and the engines it loads)."""

    def __init__(
        self,
        *,
        activity: EngineActivity | None = None,
        probe: CpuLoadProbe | None = None,
        cpu_count: int | None = None,
        max_threads: int = MAX_THREADS,
    ) -> None:
        self.activity = activity or EngineActivity()
        """Our engines computing now."""
        self.probe = probe or CpuLoadProbe()
        """Load from outside."""
        self.cpu_count = cpu_count or os.cpu_count() or 1
        """Logical cores."""
        self.max_threads = max_threads
        """Never more threads than this."""

    def state(self, key: str) -> CpuState:
        """What the machine looks like to engine ``key`` now."""
        return CpuState(
            cpu_count=self.cpu_count,
            busy_engines=self.activity.others(key),
            external_cores=self.probe.external_cores(),
        )

    def threads(self, key: str) -> int:
        """Threads engine ``key`` should use now."""
        return choose_threads(self.state(key), max_threads=self.max_threads)
