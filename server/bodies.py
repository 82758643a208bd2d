"""Reading JSON from clients, in one place for every endpoint and WebSocket.

Litestar decodes a handler's ``data`` through ``Request.json()`` and WebSocket messages
through ``WebSocket.receive_json()``; the app uses the subclasses below, so every JSON
body is held to the same two rules:

- it is sent as JSON: ``Content-Type: application/json`` or ``application/<x>+json``
  (415 otherwise), unless the route says its clients do not send one (``opt``
  :data:`ANY_CONTENT_TYPE`: Ollama's documentation posts with ``curl -d``);
- it is nested no deeper than the decoder can follow. msgspec raises ``RecursionError``
  on a body like ``[[[[...]]]]`` (2 KB are enough); that is the client's mistake and is
  answered 400 like any other undecodable body, not 500 with a traceback. On a
  WebSocket an undecodable message closes the socket with 4400 and the reason.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, WebSocket
from litestar.exceptions import HTTPException, SerializationException, WebSocketException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types.asgi_types import WebSocketMode

ANY_CONTENT_TYPE = "json_any_content_type"
"""Route ``opt`` key: read the body as JSON whatever its Content-Type says."""

WS_BAD_REQUEST = 4400
"""WebSocket close code of an undecodable message: 4000 + the HTTP status, like 4401."""
TOO_DEEP_BODY = "The JSON body is nested too deeply to read"
TOO_DEEP_MESSAGE = "The JSON message is nested too deeply to read"


def is_json_media_type(media_type: str) -> bool:
    """``application/json`` or a structured ``+json`` type (``application/merge-patch+json``)."""
    kind, _, subtype = media_type.strip().lower().partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class JSONRequest(Request[Any, Any, Any]):
    """A request whose JSON body must say it is JSON and be decodable without overflow."""

    async def json(self) -> Any:
        """The decoded JSON body (415 for another media type, 400 when undecodable)."""
        if await self.body() and not self.route_handler.opt.get(ANY_CONTENT_TYPE):
            media_type, _ = self.content_type
            if not is_json_media_type(media_type):
                sent = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
                raise HTTPException(
                    status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                    detail=f"This endpoint reads JSON; send 'Content-Type: application/json'"
                    f" (the request has {sent})",
                )
        try:
            return await super().json()
        except RecursionError as exc:
            # Litestar answers SerializationException as a 400 "bad request".
            raise SerializationException(TOO_DEEP_BODY) from exc


class JSONWebSocket(WebSocket[Any, Any, Any]):
    """A WebSocket whose undecodable JSON messages close it as the client's mistake."""

    async def receive_json(self, mode: WebSocketMode = "text") -> Any:
        """The next message, decoded; an undecodable one closes the socket with 4400."""
        try:
            return await super().receive_json(mode)
        except SerializationException as exc:
            raise WebSocketException(detail=str(exc.detail), code=WS_BAD_REQUEST) from exc
        except RecursionError as exc:
            raise WebSocketException(detail=TOO_DEEP_MESSAGE, code=WS_BAD_REQUEST) from exc
