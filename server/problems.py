"""The one place where errors become RFC 9457 ``application/problem+json`` answers."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from assistant import errors
from server.requestid import ensure_request_id
from server.schemas.common import FieldError, Problem

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:edge-assistant:problem:"

STATUS: dict[type[errors.AssistantError], int] = {
    errors.PayloadTooLarge: 413,
    errors.UnreadableMedia: 400,
    errors.InvalidInput: 422,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.RateLimited: 429,
    errors.ModelNotInstalled: 503,
    errors.ResourceExhausted: 503,
    errors.HardwareUnavailable: 503,
    errors.BackendError: 500,
}

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


def status_of(exc: errors.AssistantError) -> int:
    """HTTP status for a domain error (most specific class wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[bytes]:
    """A problem+json response carrying the request id."""
    problem = Problem(
        type=TYPE_PREFIX + code,
        title=title,
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        request_id=ensure_request_id(request.scope),
        **extensions,
    )
    return Response(
        content=msgspec.json.encode(problem),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_of(
    exc: errors.AssistantError, *, instance: str | None = None, request_id: str | None = None
) -> Problem:
    """The problem document of a domain error (also sent inside SSE and WebSocket events)."""
    fields = dict(exc.fields)
    retry = fields.pop("retry_after_seconds", None)
    field = fields.pop("field", None)
    return Problem(
        type=TYPE_PREFIX + exc.code,
        title=exc.title,
        status=status_of(exc),
        detail=exc.detail,
        code=exc.code,
        instance=instance,
        request_id=request_id,
        field=field,
        retry_after_seconds=None if retry is None else int(retry),
        extra=fields or None,
    )


def handle_domain_error(
    request: Request[Any, Any, Any], exc: errors.AssistantError
) -> Response[bytes]:
    """Domain errors: status from the table, structured fields kept."""
    problem = problem_of(
        exc, instance=request.url.path, request_id=ensure_request_id(request.scope)
    )
    headers: dict[str, str] = {}
    if problem.retry_after_seconds is not None:
        headers["Retry-After"] = str(problem.retry_after_seconds)
    if problem.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="edge-assistant"'
    if problem.status >= 500:
        log.error("%s: %s", exc.code, exc.detail)
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _field_of(item: dict[str, Any]) -> str:
    key = item.get("key")
    # Litestar calls the whole body "data"; no request schema has a field of that name.
    return "body" if key in (None, "", "data") else str(key)


def handle_validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[bytes]:
    """Litestar's request validation (bad JSON, wrong types, missing fields)."""
    items = exc.extra if isinstance(exc.extra, list) else []
    errors_out = [
        FieldError(
            field=_field_of(item),
            message=str(item.get("message", "invalid")).removeprefix("Value error, "),
            source=item.get("source"),
        )
        for item in items
        if isinstance(item, dict)
    ]
    malformed = not errors_out or all(e.field == "body" for e in errors_out)
    if errors_out:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors_out)
    else:
        detail = str(exc.detail) or "The request could not be read"
    if malformed:
        return problem_response(
            request,
            status=400,
            code="bad-request",
            title="Bad request",
            detail=detail,
            errors=errors_out or None,
        )
    return problem_response(
        request,
        status=422,
        code="invalid-input",
        title="Invalid input",
        detail=detail,
        field=errors_out[0].field,
        errors=errors_out,
    )


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Framework HTTP errors (unknown route, wrong method, body too large...)."""
    status = exc.status_code
    code, title = _HTTP_CODES.get(status, ("http-error", "HTTP error"))
    detail = str(exc.detail) if exc.detail else title
    if status == 404 and detail == "Not Found":
        detail = f"No endpoint at {request.method} {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif status == 413:
        detail = "The request body is larger than this endpoint accepts"
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return problem_response(
        request, status=status, code=code, title=title, detail=detail, headers=headers
    )


def handle_undecodable(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[bytes]:
    """A body that is not UTF-8 where text was expected."""
    return problem_response(
        request,
        status=400,
        code="bad-request",
        title="Bad request",
        detail=f"The request body is not valid UTF-8 (byte {exc.start})",
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Anything else: logged with its traceback and request id, answered without it."""
    request_id = ensure_request_id(request.scope)
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=500,
        code="internal-error",
        title="Internal error",
        detail=(
            "An unexpected error occurred; the server log has details under request id"
            f" {request_id}"
        ),
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    errors.AssistantError: handle_domain_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_error,
    UnicodeDecodeError: handle_undecodable,
    Exception: handle_unexpected,
}

_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, wrong encoding)",
    401: "Missing, expired or invalid credentials",
    403: "Not allowed for this account",
    404: "No such resource for this user",
    409: "Conflicts with the current state (duplicate, stale version)",
    413: "Body or upload too large",
    422: "A field is invalid; `field` and `errors` name it",
    429: "Too many attempts; see Retry-After",
    503: "A model is not installed (the detail names the install command) or capacity is full",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the problem answers an endpoint can give."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, "Problem"),
            media_type=PROBLEM_MEDIA_TYPE,
        )
        for status in statuses
    }
