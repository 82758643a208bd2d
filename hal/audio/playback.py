"""What every speaker shares: a thread-safe stop signal, stoppable waits, playback records."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
"""``asyncio.sleep`` or a fake that advances a test clock."""


@dataclass(frozen=True)
class Playback:
    """One call to ``Speaker.play``, as a speaker recorded it."""

    start_seconds: float
    """Position of its first frame in the speaker's output (seconds of audio before it)."""
    end_seconds: float
    """Position just after its last frame."""
    chunks: int
    """Chunks received."""
    completed: bool
    """True if it played to the end, False if ``stop()`` cut it short."""

    @property
    def seconds(self) -> float:
        """Audio played."""
        return self.end_seconds - self.start_seconds


class StopSignal:
    """A stop request that any thread may raise and asyncio code may await.

    ``arm()`` (on the event loop, when a playback starts) clears it and binds it to the
    running loop, ``bind()`` only binds; ``set()`` is safe from any thread, at any time.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> None:
        """Bind to the running loop without clearing (call on the event loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._event is None:
            self._loop = loop
            self._event = asyncio.Event()
        if self._flag.is_set():
            self._event.set()

    def arm(self) -> None:
        """Clear the signal for a new playback and bind it (call on the event loop)."""
        self._flag.clear()
        self.bind()
        assert self._event is not None
        self._event.clear()

    def set(self) -> None:
        """Raise the signal; returns at once."""
        self._flag.set()
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    def is_set(self) -> bool:
        """Whether stop was requested since the last ``arm()``."""
        return self._flag.is_set()

    async def wait(self) -> None:
        """Until the signal is raised."""
        self.bind()
        assert self._event is not None
        if self._flag.is_set():
            return
        await self._event.wait()


async def race_stop(awaitable: Awaitable[T], stop: StopSignal) -> tuple[bool, T | None]:
    """Await ``awaitable`` unless ``stop`` is raised first: ``(finished, result)``.

    When stop wins, the awaitable is cancelled and ``(False, None)`` returned.
    """
    if stop.is_set():
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        return False, None
    task: asyncio.Future[T] = asyncio.ensure_future(awaitable)
    waiter: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    both: set[asyncio.Future[Any]] = {task, waiter}
    try:
        await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        waiter.cancel()
        raise
    waiter.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    await asyncio.wait({task})  # let it unwind; an outer cancellation still propagates
    return False, None


_END: Any = object()


async def next_or_stop(iterator: AsyncIterator[T], stop: StopSignal) -> tuple[bool, T | None]:
    """The next item of ``iterator``: ``(True, item)``, ``(True, None)`` at its end, or
    ``(False, None)`` when ``stop`` is raised while waiting for it."""

    async def step() -> T:
        return await anext(iterator, _END)

    finished, item = await race_stop(step(), stop)
    if not finished:
        return False, None
    return True, None if item is _END else item


async def stoppable_sleep(seconds: float, stop: StopSignal, sleep: Sleep | None = None) -> bool:
    """Wait ``seconds`` (through ``sleep`` if given, e.g. a test clock's); False if
    ``stop`` came first, which cuts the wait short whatever the clock."""
    if seconds <= 0:
        return not stop.is_set()
    finished, _ = await race_stop((sleep or asyncio.sleep)(seconds), stop)
    return finished and not stop.is_set()


async def close_source(chunks: AsyncIterable[Any]) -> None:
    """Close an async generator that a stopped playback leaves suspended."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
