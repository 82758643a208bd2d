"""HTTP metrics: every answer counted and timed by its route template, never its raw
path (``/api/v1/chat/conversations/{conversation_id}``, or ``unmatched``), so the
number of label values stays that of the routes."""

from __future__ import annotations

import time
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from assistant.analytics.metrics import Metrics

UNMATCHED = "unmatched"


def route_of(scope: Scope) -> str:
    """The route template a request matched, or ``unmatched``."""
    return str(scope.get("path_template") or UNMATCHED)


def http_metrics_middleware(app: ASGIApp, metrics_of: Callable[[], Metrics | None]) -> ASGIApp:
    """Wrap the whole app (outside the routes' middleware, so 401s and 404s count too);
    ``metrics_of`` finds the metrics of the running services."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_status)
        finally:
            metrics = metrics_of()
            if metrics is not None:
                metrics.observe_http(method, route_of(scope), status, time.perf_counter() - started)

    return middleware
