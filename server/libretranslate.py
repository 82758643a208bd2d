"""LibreTranslate's wire contract: its request bodies (JSON or form), answers and errors.

LibreTranslate clients (``libretranslatepy``, browser extensions, ``fetch`` snippets) send
``q``, ``source``, ``target``, ``format``, ``alternatives`` and ``api_key`` as a form or as
JSON, and read ``translatedText``/``detectedLanguage`` or ``{"error": "..."}`` with
status 400 (bad request), 403 (key), 429 (slow down) or 500. Errors are rendered from the
one classification of ``server.problems.classify``; the wording of the checks LibreTranslate
itself makes (missing parameters, unsupported languages) is LibreTranslate's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import ClientException, SerializationException

from assistant.auth import AuthService, Principal
from assistant.errors import Forbidden, InvalidInput, Unauthorized
from assistant.problems import Problem
from server.bodies import is_json_media_type
from server.problems import headers_of

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


class LibreTranslateError(msgspec.Struct):
    """LibreTranslate's error document."""

    error: str


class MissingParameter(InvalidInput):
    """A parameter LibreTranslate requires is missing (its own wording)."""


def status_of(problem: Problem) -> int:
    """LibreTranslate's status for a problem: 400, 403, 429 or 500."""
    if problem.status in (401, 403):
        return 403
    if problem.status == 429:
        return 429
    if problem.status >= 500:
        return 500
    return 400


def message_of(problem: Problem) -> str:
    """The ``error`` text a client prints."""
    if problem.code == "unauthorized":
        return problem.detail
    if problem.status == 429:
        return f"Slowdown: {problem.detail}"
    if problem.status >= 500:
        return f"Cannot translate text: {problem.detail}"
    if problem.errors:
        return "Invalid request: " + "; ".join(
            f"{e.field}: {e.message}" if e.field != "body" else e.message for e in problem.errors
        )
    return problem.detail


def libretranslate_response(problem: Problem, request: Request[Any, Any, Any]) -> Response[bytes]:
    """A LibreTranslate-shaped error answer."""
    headers = {k: v for k, v in headers_of(problem).items() if k != "WWW-Authenticate"}
    return Response(
        content=msgspec.json.encode(LibreTranslateError(error=message_of(problem))),
        status_code=status_of(problem),
        media_type=JSON,
        headers=headers,
    )


@dataclass(frozen=True)
class Fields:
    """The parameters of a LibreTranslate request, wherever they came from."""

    values: Mapping[str, Any]
    """Parameters by name (a JSON body's values keep their types)."""
    form: bool = False
    """They came as a form (every value a string)."""

    def text(self, name: str, *, required: bool = True) -> str | None:
        """A string parameter; missing or empty answers LibreTranslate's 400."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise MissingParameter(f"Invalid request: missing {name} parameter", field=name)
            return None
        if not isinstance(value, str):
            raise InvalidInput(f"Invalid request: {name} must be a string", field=name)
        return value

    def texts(self, name: str = "q") -> list[str] | str:
        """``q``: a string, or a list of strings (JSON only)."""
        value = self.values.get(name)
        if isinstance(value, list):
            if not value:
                raise MissingParameter(f"Invalid request: missing {name} parameter", field=name)
            if not all(isinstance(item, str) for item in value):
                raise InvalidInput(f"Invalid request: {name} must be strings", field=name)
            return list(value)
        text = self.text(name)
        assert text is not None
        return text

    def integer(self, name: str, maximum: int) -> int:
        """A whole number parameter from 0 to ``maximum`` (0 when missing); a form sends
        it as digits, JSON as a number."""
        value = self.values.get(name)
        if value is None or (self.form and value == ""):
            return 0
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif self.form and isinstance(value, str) and value.strip().isdigit():
            number = int(value)
        if number is None or not 0 <= number <= maximum:
            raise InvalidInput(
                f"Invalid request: {name} must be a whole number from 0 to {maximum}", field=name
            )
        return number


async def read_fields(request: Request[Any, Any, Any]) -> Fields:
    """The request's parameters: a JSON object, a form, or the query string."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    values: dict[str, Any] = dict(request.query_params)
    form = content_type in (FORM, MULTIPART)
    if is_json_media_type(content_type):
        body = await request.body()
        if body.strip():
            # The app's JSON reader (server/bodies.py); its malformed and too deeply nested
            # bodies are the client's mistake, a 400 (Litestar maps them only for `data`).
            try:
                parsed = await request.json()
            except SerializationException as exc:
                raise ClientException(detail=str(exc.detail or exc)) from exc
            if not isinstance(parsed, dict):
                raise InvalidInput("Invalid request: the body must be a JSON object")
            values.update(parsed)
    elif form:
        submitted = await request.form()
        values.update({k: v for k, v in submitted.items() if isinstance(v, str)})
        texts = [q for q in submitted.getall("q", []) if isinstance(q, str)]
        # LibreTranslate normalises form line endings to LF before its checks. A repeated
        # q (how httpx encodes a list, as libretranslate-aio sends one) is a list of texts.
        texts = ["\n".join(text.splitlines()) for text in texts]
        if texts:
            values["q"] = texts if len(texts) > 1 else texts[0]
    return Fields(values, form=form or not content_type)


def api_key_of(request: Request[Any, Any, Any], fields: Fields) -> str:
    """The caller's credential: ``api_key`` in the body (as LibreTranslate clients send
    it), else ``Authorization: Bearer`` or ``X-API-Key``."""
    given = fields.values.get("api_key")
    if "api_key" in fields.values and not isinstance(given, str):
        raise InvalidInput("Invalid request: api_key must be a string", field="api_key")
    key = str(given or "").strip()
    if key:
        return key
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    header_key = request.headers.get("x-api-key", "")
    if header_key.strip():
        return header_key.strip()
    raise MissingParameter("Please contact the server operator to get an API key", field="api_key")


def authenticate(auth: AuthService, key: str) -> Principal:
    """The caller of an API key or token; LibreTranslate's 403 when it is not valid."""
    try:
        return auth.authenticate(key)
    except Unauthorized as exc:
        raise Forbidden("Invalid API key") from exc
