"""Authentication at the edge: Bearer JWTs, Bearer or X-API-Key device keys, and the web
app's session cookie (with its CSRF double-submit and WebSocket Origin checks)."""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlsplit

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
WS_FORBIDDEN = 4403
SESSION_COOKIE = "assistant_session"
"""The web app's session: HttpOnly, SameSite=Strict; only ``/api/v1`` accepts it."""
CSRF_COOKIE = "assistant_csrf"
"""A random value the web app's script reads and echoes in :data:`CSRF_HEADER`."""
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
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
        services = connection.app.state.services
        try:
            credential = credential_of(connection)
            cookie = connection.cookies.get(SESSION_COOKIE) if credential is None else None
            if cookie and connection.scope["path"].startswith("/api/v1/"):
                check_cookie_request(connection)
                principal = await anyio.to_thread.run_sync(
                    services.auth.authenticate_web_session, cookie
                )
                return AuthenticationResult(user=principal, auth=cookie)
            if credential is None:
                raise Unauthorized("Sign in first: send 'Authorization: Bearer <token or API key>'")
            principal = await anyio.to_thread.run_sync(services.auth.authenticate, credential)
        except (Unauthorized, Forbidden) as exc:
            if connection.scope["type"] == ScopeType.WEBSOCKET:
                # WebSockets close with 4000 + the HTTP status (4401, 4403) and the reason.
                code = WS_FORBIDDEN if isinstance(exc, Forbidden) else WS_UNAUTHORIZED
                raise WebSocketException(detail=exc.detail, code=code) from exc
            raise
        return AuthenticationResult(user=principal, auth=credential)


def check_cookie_request(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Refuse what another site could make a browser send with our cookie.

    SameSite=Strict already keeps the cookie off cross-site requests in current browsers;
    these checks do not rely on it. An unsafe method must echo the CSRF cookie in the
    ``X-CSRF-Token`` header (a script on another origin can neither read the cookie nor
    set the header without a CORS preflight we refuse). A WebSocket handshake has no such
    header, and browsers do not apply CORS to it, so its ``Origin`` must be this host.
    """
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        origin = connection.headers.get("origin")
        host = connection.headers.get("host")
        if not origin or not host or urlsplit(origin).netloc.lower() != host.lower():
            raise Forbidden("A WebSocket signed in by cookie must come from this site's pages")
        return
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    expected = connection.cookies.get(CSRF_COOKIE, "")
    given = connection.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise Forbidden(
            "A request signed in by cookie must send the assistant_csrf cookie's value"
            " in the X-CSRF-Token header"
        )


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
