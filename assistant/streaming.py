"""Blocking engine iterators consumed from the event loop, and async streams closed early."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


async def iterate_in_thread(
    produce: Callable[[threading.Event], Iterator[T]],
    *,
    stop_on_cancel: bool = False,
) -> AsyncGenerator[T, None]:
    """Run ``produce(cancel)`` in a worker thread and yield its items on the event loop.

    Closing the generator (or cancelling its task) sets ``cancel``; the generator
    returns only once the worker has stopped, so a model is never released while its
    engine is still running in the worker. Engines that watch ``cancel`` themselves
    finish their own way (a final "cancelled" delta); for those that do not, pass
    ``stop_on_cancel`` and the worker stops taking items and closes the iterator.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def work() -> None:
        try:
            items = produce(cancel)
            try:
                for item in items:
                    loop.call_soon_threadsafe(queue.put_nowait, ("item", item))
                    if stop_on_cancel and cancel.is_set():
                        break
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed over and raised on the event loop side
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "end":
                break
            if kind == "error":
                raise value
            yield value
    finally:
        cancel.set()
        await wait_for_worker(worker)


async def wait_for_worker(worker: asyncio.Future[Any]) -> None:
    """Wait for a worker even while this task is being cancelled, then re-raise that."""
    cancelled = False
    while not worker.done():
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def close_stream(stream: object) -> None:
    """Close an async generator left suspended (a cancelled chat stream), if it is one.

    The stream's own clean-up failing is logged, not raised: it must not hide how the
    caller's work ended.
    """
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        log.exception("closing a stream failed")
