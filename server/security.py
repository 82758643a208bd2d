"""Authentication at the edge: Bearer JWTs, Bearer or X-API-Key device keys."""

from __future__ import annotations

from typing import Any

import anyio
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import WebSocketException
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.openapi.spec import Reference, SecurityScheme
from litestar.types import Message, Scope

from assistant.auth import Principal
from assistant.errors import Forbidden, Unauthorized

WS_UNAUTHORIZED = 4401
PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/schema", "^/docs"]

SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "bearer": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT or API key",
        description="An access token from /api/v1/auth/login, or a device API key.",
    ),
    "apiKey": SecurityScheme(
        type="apiKey",
        name="X-API-Key",
        security_scheme_in="header",
        description="A device API key from /api/v1/auth/api-keys.",
    ),
}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def credential_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The bearer credential of a request: Authorization, X-API-Key or (WebSockets) a query."""
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token or API key>'")
        return value.strip()
    key = connection.headers.get("x-api-key")
    if key:
        return key.strip()
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        return connection.query_params.get("access_token")
    return None


class BearerAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Puts the caller's Principal on ``request.user``; every route needs one unless excluded."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        try:
            credential = credential_of(connection)
            if credential is None:
                raise Unauthorized("Sign in first: send 'Authorization: Bearer <token or API key>'")
            services = connection.app.state.services
            principal = await anyio.to_thread.run_sync(services.auth.authenticate, credential)
        except Unauthorized as exc:
            if connection.scope["type"] == ScopeType.WEBSOCKET:
                # WebSockets close with 4000 + the HTTP status (4401) and the reason.
                raise WebSocketException(detail=exc.detail, code=WS_UNAUTHORIZED) from exc
            raise
        return AuthenticationResult(user=principal, auth=credential)


def require_admin(principal: Principal) -> None:
    """Raise Forbidden unless the caller is an admin."""
    if not principal.is_admin:
        raise Forbidden("Only an admin may do this")


SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"),)
"""Headers on every answer: browsers take the declared media type as is, so an avatar
(or any upload served back) is never run as HTML or script because of its content."""


async def add_security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: every HTTP answer carries :data:`SECURITY_HEADERS`."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        headers.extend((name, value) for name, value in SECURITY_HEADERS if name not in present)
        message["headers"] = headers
