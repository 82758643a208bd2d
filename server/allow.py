"""``Allow`` names every method of a path, on OPTIONS answers as on 405s.

Litestar 2 gives each path an automatic OPTIONS handler when the path's first handler is
registered, and that handler keeps the methods known at that moment: with ``GET`` and
``PUT`` handlers on ``/api/v1/profile``, ``OPTIONS /api/v1/profile`` answered
``Allow: GET, OPTIONS``. The ``before_send`` hook below writes the methods of every
handler of the path instead (the 405 answers already do: they come from the router).
"""

from __future__ import annotations

from typing import Any

from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


def methods_of(app: Any, path_template: str) -> list[str]:
    """Every method the app serves on a path (its template, ``/users/{user_id}``), sorted."""
    return sorted(
        {
            method
            for route in app.routes
            if isinstance(route, HTTPRoute) and route.path_format == path_template
            for method in route.methods
        }
    )


async def allow_every_method(message: Message, scope: Scope) -> None:
    """``before_send`` hook: an OPTIONS answer's ``Allow`` lists all the path's methods."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = list(message.get("headers", []))
    if not any(name.lower() == b"allow" for name, _ in headers):
        return  # a CORS preflight, answered by the CORS middleware
    methods = methods_of(scope["app"], scope.get("path_template", ""))
    if methods:
        headers = [(name, value) for name, value in headers if name.lower() != b"allow"]
        headers.append((b"allow", ", ".join(methods).encode()))
        message["headers"] = headers
