"""Request ids: taken from a sane ``X-Request-ID`` or made up, logged, and echoed back."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from assistant.logs import request_id

log = logging.getLogger("server.access")

HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def ensure_request_id(scope: Scope | dict[str, Any]) -> str:
    """The request's id, choosing one now if no middleware did (e.g. unknown routes)."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        for name, value in scope.get("headers", ()):
            if name == HEADER.encode() and _SANE.fullmatch(value.decode("latin-1")):
                rid = value.decode("latin-1")
                break
        else:
            rid = uuid.uuid4().hex
        state["request_id"] = rid
    return str(rid)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Sets the request id for logs and writes one access-log line per request.

    It wraps the whole app (``create_app`` puts it around ``asgi_handler``), outside the
    exception handler that answers errors raised in middleware and unknown paths, so
    that the line carries the status of every answer.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        rid = ensure_request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_with_status)
        finally:
            log.info(
                "%s %s %s %.1fms",
                scope.get("method", "WS"),
                scope["path"],
                status or "-",
                (time.perf_counter() - started) * 1000,
            )
            request_id.reset(token)

    return middleware


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """``before_send`` hook: every HTTP answer carries ``X-Request-ID``."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        headers.append((HEADER.encode(), ensure_request_id(scope).encode()))
        message["headers"] = headers
