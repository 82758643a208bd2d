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
