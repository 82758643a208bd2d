"""The one place where errors are classified for HTTP, and the problem+json renderer.

:func:`classify` turns any exception into an :class:`assistant.problems.Problem`: the
three error trees (through ``assistant.problems.explain``), Litestar's request
validation and HTTP errors, undecodable bodies, and the unexpected. Every face renders
that one classification in its own shape: RFC 9457 ``application/problem+json`` here
(answers, and the ``error`` events of SSE and WebSocket streams), OpenAI's and Ollama's
error documents in ``server/compat.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from pydantic import ValidationError as ModelValidationError

from assistant.auth import Principal
from assistant.problems import OWN_ERRORS, FieldProblem, Problem, explain
from server.requestid import ensure_request_id
from server.schemas.common import FieldError
from server.schemas.common import Problem as ProblemDocument

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:edge-assistant:problem:"

_HTTP_CODES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    429: ("rate-limited", "Too many requests"),
}


def classify(
    exc: BaseException, *, method: str = "", path: str = "", request_id: str = ""
) -> Problem:
    """What went wrong, for any exception (pure: no I/O, no logging)."""
    if isinstance(exc, OWN_ERRORS):
        return explain(exc)
    if isinstance(exc, ValidationException):
        return _invalid_request(exc)
    if isinstance(exc, ModelValidationError):
        return _invalid_model(exc)
    if isinstance(exc, HTTPException):
        return _http_error(exc, method, path)
    if isinstance(exc, UnicodeDecodeError):
        return Problem(
            status=400,
            code="bad-request",
            title="Bad request",
            detail=f"The request body is not valid UTF-8 (byte {exc.start})",
        )
    return Problem(
        status=500,
        code="internal-error",
        title="Internal error",
        detail=(
            "An unexpected error occurred; the server log has details under request id"
            f" {request_id}"
        ),
    )


def _field_of(item: dict[str, Any]) -> str:
    key = item.get("key")
    # Litestar calls the whole body "data"; no request schema has a field of that name.
    return "body" if key in (None, "", "data") else str(key)


def _invalid_request(exc: ValidationException) -> Problem:
    """Litestar's request validation: malformed (400) or invalid fields (422)."""
    items = exc.extra if isinstance(exc.extra, list) else []
    found = tuple(
        FieldProblem(
            field=_field_of(item),
            message=str(item.get("message", "invalid")).removeprefix("Value error, "),
            source=item.get("source"),
        )
        for item in items
        if isinstance(item, dict)
    )
    # A field may itself be called "body" (a notification's): only errors Litestar puts on
    # the whole body (no key, or "data") make the request malformed.
    whole = [item.get("key") in (None, "", "data") for item in items if isinstance(item, dict)]
    if not found or all(whole):
        detail = _joined(found) or str(exc.detail) or "The request could not be read"
        return Problem(
            status=400, code="bad-request", title="Bad request", detail=detail, errors=found
        )
    return _invalid_fields(found)


def _invalid_model(exc: ModelValidationError) -> Problem:
    """A message the server validates itself (WebSocket messages, form fields)."""
    found = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key {field!r}"
        found.append(FieldProblem(field=field, message=message))
    return _invalid_fields(tuple(found))


def _joined(found: tuple[FieldProblem, ...]) -> str:
    return "; ".join(f"{e.field}: {e.message}" for e in found)


def _invalid_fields(found: tuple[FieldProblem, ...]) -> Problem:
    detail = _joined(found)
    return Problem(
        status=422,
        code="invalid-input",
        title="Invalid input",
        detail=detail,
        field=found[0].field if found else None,
        errors=found,
    )


def _http_error(exc: HTTPException, method: str, path: str) -> Problem:
    """The framework's own errors: unknown route, wrong method, body too large..."""
    status = exc.status_code
    code, title = _HTTP_CODES.get(status, ("http-error", "HTTP error"))
    detail = str(exc.detail) if exc.detail else title
    if status == 404 and detail == "Not Found":
        detail = f"No endpoint at {method} {path}"
    elif status == 405:
        detail = f"{method} is not allowed on {path}"
    elif status == 413:
        detail = "The request body is larger than this endpoint accepts"
    allow = next((v for k, v in (exc.headers or {}).items() if k.lower() == "allow"), None)
    return Problem(
        status=status, code=code, title=title, detail=detail, framework=True, allow=allow
    )


def report(problem: Problem, exc: BaseException, where: str) -> None:
    """Log a problem once, at the level it deserves: the unexpected with its traceback,
    failures as errors, full queues and missing hardware as warnings, a missing model as
    information (callers name models at will, and the answer says how to install it),
    client mistakes not at all (the access log has their status)."""
    if problem.code == "internal-error":
        log.error("unhandled error in %s", where, exc_info=exc)
    elif problem.code == "model-not-installed":
        log.info("%s: %s: %s", where, problem.code, problem.detail)
    elif problem.status == 503:
        log.warning("%s: %s: %s", where, problem.code, problem.detail)
    elif problem.status >= 500:
        log.error("%s: %s: %s", where, problem.code, problem.detail)


def headers_of(problem: Problem) -> dict[str, str]:
    """The HTTP headers a problem answer carries, whatever its body's shape."""
    headers: dict[str, str] = {}
    if problem.retry_after_seconds is not None:
        headers["Retry-After"] = str(problem.retry_after_seconds)
    if problem.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="edge-assistant"'
    if problem.allow is not None:
        headers["Allow"] = problem.allow
    return headers


def problem_document(
    problem: Problem, *, instance: str | None = None, request_id: str | None = None
) -> ProblemDocument:
    """The RFC 9457 document of a problem (also the body of stream ``error`` events)."""
    return ProblemDocument(
        type=TYPE_PREFIX + problem.code,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        code=problem.code,
        instance=instance,
        request_id=request_id,
        field=problem.field,
        errors=[
            FieldError(field=e.field, message=e.message, source=e.source) for e in problem.errors
        ]
        or None,
        retry_after_seconds=problem.retry_after_seconds,
        extra=dict(problem.extra) or None,
    )


def problem_event(exc: BaseException, *, instance: str, request_id: str) -> dict[str, Any]:
    """An exception as the problem an SSE or WebSocket ``error`` event carries (logged)."""
    problem = classify(exc, path=instance, request_id=request_id)
    report(problem, exc, instance)
    return msgspec.structs.asdict(
        problem_document(problem, instance=instance, request_id=request_id)
    )


Renderer = Callable[[Problem, Request[Any, Any, Any]], Response[bytes]]
"""Writes a classified problem as one face's error answer."""


def problem_json(problem: Problem, request: Request[Any, Any, Any]) -> Response[bytes]:
    """problem+json, carrying the request id and the request path."""
    document = problem_document(
        problem, instance=request.url.path, request_id=ensure_request_id(request.scope)
    )
    return Response(
        content=msgspec.json.encode(document),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers_of(problem),
    )


def exception_handlers(render: Renderer) -> dict[type[Exception] | int, Any]:
    """Exception handlers that classify every exception and answer through ``render``."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        path = request.url.path
        problem = classify(
            exc, method=request.method, path=path, request_id=ensure_request_id(request.scope)
        )
        report(problem, exc, f"{request.method} {path}")
        emit_error(request, problem)
        return render(problem, request)

    return {Exception: handle}


def emit_error(request: Request[Any, Any, Any], problem: Problem) -> None:
    """The ``error`` analytics event of an answered problem (by route template)."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return
    user = request.scope.get("user")
    services.events.emit(
        "error",
        {
            "code": problem.code,
            "status": problem.status,
            "route": str(request.scope.get("path_template") or "unmatched"),
            "method": request.method,
        },
        user_id=user.user_id if isinstance(user, Principal) else None,
    )


EXCEPTION_HANDLERS = exception_handlers(problem_json)
"""The app's handlers: every error is a problem+json answer."""

_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, wrong encoding, a missing or mistyped parameter)",
    401: "Missing, expired or invalid credentials",
    403: "Not allowed for this account",
    404: "No such resource for this user",
    409: "Conflicts with the current state (duplicate, stale version)",
    412: "The If-Match precondition failed: read the current state and retry",
    413: "Body or upload too large",
    415: "The body is not in a media type this endpoint reads",
    422: "A field is invalid; `field` and `errors` name it",
    429: "Too many attempts; see Retry-After",
    500: "An unexpected error; the server log has details under the request id",
    502: "A server this one depends on (an OpenID provider, a sync remote) failed",
    503: "A model is not installed (the detail names the install command) or capacity is full",
}


JSON_BODY = (400, 413, 415, 422)
"""What an endpoint reading a JSON body can answer for it: malformed, too large, not
JSON, invalid."""
PARAMETERS = (400, 422)
"""What an endpoint with query or path parameters can answer: missing or malformed,
invalid."""


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the problem answers an endpoint can give (and the 500 that
    any endpoint can give)."""
    return {
        status: ResponseSpec(
            data_container=ProblemDocument,
            description=_DESCRIPTIONS.get(status, "Problem"),
            media_type=PROBLEM_MEDIA_TYPE,
        )
        for status in sorted({*statuses, 500})
    }
