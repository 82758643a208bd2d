"""Streamed answers and clients that go away: what every face that streams shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request, Response

T = TypeVar("T")

CLIENT_CLOSED_REQUEST = 499
"""Status logged for a request whose client went away before the answer (as nginx does)."""


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was ready."""


async def _disconnect(request: Request[Any, Any, Any]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnect(request: Request[Any, Any, Any], work: Awaitable[T]) -> T:
    """Await ``work`` unless the client goes away first; then cancel it (which stops a
    generation within one token) and raise ClientDisconnected."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise ClientDisconnected
    return task.result()


def client_gone() -> Response[bytes]:
    """The answer to a client that is no longer there (only the access log sees it)."""
    return Response(content=b"", status_code=CLIENT_CLOSED_REQUEST)


async def aclose(iterator: AsyncIterator[Any]) -> None:
    """Close an async generator (closing a chat stream cancels its generation)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def guarded(
    body: AsyncIterator[bytes], error_event: Callable[[Exception], bytes]
) -> AsyncIterator[bytes]:
    """A streamed body whose failure becomes its last event: once the status line is
    sent, an error can only be told inside the stream. ``body`` is closed however the
    stream ends (a client that leaves closes it too)."""
    try:
        async for piece in body:
            yield piece
    except Exception as exc:
        yield error_event(exc)
    finally:
        await aclose(body)
