"""Blocking engine calls run off the event loop, safe to cancel.

Engines are not thread-safe and are lent for a while (``ModelManager.use``): a call
cancelled on the event loop must not end the lease while its thread still runs, so the
cancellation waits for the thread before it goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


async def off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call in a worker thread; if cancelled, wait for the thread first."""
    worker = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        while not worker.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({worker})
        if not worker.cancelled():
            worker.exception()  # retrieved: the cancellation wins
        raise


def next_or_none(items: Iterator[T]) -> T | None:
    """The next item of a blocking iterator, None at its end (for ``off_loop``)."""
    return next(items, None)


def set_event(loop: asyncio.AbstractEventLoop | None, event: asyncio.Event | None) -> None:
    """Set an asyncio event of ``loop`` from any thread (or its own loop); nothing when
    either is missing or the loop has closed (a wake-up for a worker not running)."""
    if loop is None or event is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        event.set()
    else:
        loop.call_soon_threadsafe(event.set)
