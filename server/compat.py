"""What the OpenAI and Ollama faces share: their error shapes and their model lookups.

Both answer errors in their own APIs' JSON, because that is what their SDKs read; both
render the one classification of ``server.problems.classify``. OpenAI's SDK switches on
the status and on ``error.type``/``error.code``; Ollama's clients print ``error``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec

from assistant.chat.routing import Candidate
from assistant.chat.service import ChatService
from assistant.errors import InvalidInput
from assistant.problems import Problem
from runtime.llm.base import ChatDelta, ChatMessage
from runtime.modelstore import InstalledModel
from server.problems import classify, headers_of, report
from server.schemas.ollama import OllamaError
from server.schemas.openai import OpenAIError, OpenAIErrorDetail
from server.streams import aclose

JSON = "application/json"

# Errors -------------------------------------------------------------------------------

_OPENAI_STATUS: Mapping[str, int] = {
    "invalid-input": 400,
    "unreadable-media": 400,
    "model-not-installed": 404,
}
"""Where OpenAI's API answers another status than problem+json does."""

_OPENAI_CODES: Mapping[str, str] = {
    "payload-too-large": "payload_too_large",
    "unauthorized": "invalid_api_key",
    "forbidden": "forbidden",
    "not-found": "not_found",
    "model-not-installed": "model_not_found",
    "conflict": "conflict",
    "rate-limited": "rate_limit_exceeded",
    "resource-exhausted": "server_busy",
    "hardware-unavailable": "hardware_unavailable",
    "backend-error": "backend_error",
    "remote-unavailable": "backend_unavailable",
    "internal-error": "internal_error",
}
_OPENAI_FRAMEWORK_CODES: Mapping[int, str] = {
    404: "unknown_url",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _openai_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def _openai_param(problem: Problem) -> str | None:
    if problem.code == "model-not-installed":
        return "model"
    for error in problem.errors:
        # Litestar names the whole body "data"; OpenAI names fields from inside it.
        if error.field not in ("", "data", "body"):
            return error.field.removeprefix("data.")
    return problem.field


def openai_error(problem: Problem) -> tuple[int, OpenAIError]:
    """The status and document of a problem in OpenAI's shape."""
    status = _OPENAI_STATUS.get(problem.code, problem.status)
    if problem.framework:
        code = _OPENAI_FRAMEWORK_CODES.get(status)
    else:
        code = _OPENAI_CODES.get(problem.code)
    message = problem.detail
    if problem.errors:
        message = "; ".join(
            f"{e.field.removeprefix('data.')}: {e.message}" if e.field != "body" else e.message
            for e in problem.errors
        )
    detail = OpenAIErrorDetail(
        message=message, type=_openai_type(status), param=_openai_param(problem), code=code
    )
    return status, OpenAIError(error=detail)


def openai_event(exc: Exception, request_id: str) -> bytes:
    """A failure inside an OpenAI stream: one ``data:`` event with the error document."""
    problem = classify(exc, request_id=request_id)
    report(problem, exc, "chat completion stream")
    return b"data: " + msgspec.json.encode(openai_error(problem)[1]) + b"\n\n"


def openai_response(problem: Problem, request: Request[Any, Any, Any]) -> Response[bytes]:
    """An OpenAI-shaped error answer."""
    status, document = openai_error(problem)
    return Response(
        content=msgspec.json.encode(document),
        status_code=status,
        media_type=JSON,
        headers=headers_of(problem),
    )


def ollama_message(problem: Problem) -> str:
    """Ollama's wording: its clients print this line as it is."""
    if problem.code == "model-not-installed":
        return (
            f'model "{problem.extra["model_id"]}" not found, try pulling it first:'
            f" {problem.extra['install_command']}"
        )
    return openai_error(problem)[1].error.message


def ollama_line(exc: Exception, request_id: str) -> bytes:
    """A failure inside an Ollama stream: the last NDJSON line."""
    problem = classify(exc, request_id=request_id)
    report(problem, exc, "ollama chat stream")
    return msgspec.json.encode(OllamaError(error=ollama_message(problem))) + b"\n"


def ollama_response(problem: Problem, request: Request[Any, Any, Any]) -> Response[bytes]:
    """An Ollama-shaped error answer (OpenAI's statuses: Ollama's clients read the body)."""
    status, _ = openai_error(problem)
    return Response(
        content=msgspec.json.encode(OllamaError(error=ollama_message(problem))),
        status_code=status,
        media_type=JSON,
        headers=headers_of(problem),
    )


_OPENAI_DESCRIPTIONS = {
    400: "Invalid request (OpenAI error shape; `param` names the field)",
    401: "Missing or invalid API key or token (code invalid_api_key)",
    404: "No such model (code model_not_found) or endpoint",
    413: "The body or upload is larger than the limit (code payload_too_large)",
    415: "The body is not JSON (code unsupported_media_type)",
    429: "Too many requests; see Retry-After",
    500: "An unexpected error (code internal_error)",
    503: "The model is busy or the memory budget is full; see Retry-After",
}
_OLLAMA_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Missing or invalid API key or token",
    404: "The model is not installed",
    413: "The body is larger than the limit",
    500: "An unexpected error",
    503: "The model is busy or the memory budget is full; see Retry-After",
}


def openai_errors(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the OpenAI-shaped error answers an endpoint can give (and
    the 500 that any endpoint can give)."""
    return {
        status: ResponseSpec(
            data_container=OpenAIError,
            description=_OPENAI_DESCRIPTIONS.get(status, "Error"),
            media_type=JSON,
        )
        for status in sorted({*statuses, 500})
    }


def ollama_errors(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the Ollama-shaped error answers an endpoint can give (and
    the 500 that any endpoint can give)."""
    return {
        status: ResponseSpec(
            data_container=OllamaError,
            description=_OLLAMA_DESCRIPTIONS.get(status, "Error"),
            media_type=JSON,
        )
        for status in sorted({*statuses, 500})
    }


# Models -------------------------------------------------------------------------------


def resolve_model(requested: str, installed: Sequence[str]) -> str:
    """The installed model a name means: exact ids first, then ``name`` or ``name:latest``
    when exactly one tag of it is installed (as Ollama clients write them)."""
    if requested in installed:
        return requested
    name, _, tag = requested.partition(":")
    if tag in ("", "latest"):
        matches = [m for m in installed if m.partition(":")[0] == name]
        if len(matches) == 1:
            return matches[0]
    return requested


def check_images(
    model_id: str, messages: Sequence[ChatMessage], candidates: Sequence[Candidate]
) -> None:
    """Refuse images for a model that cannot read them, naming the ones that can."""
    if not any(m.images for m in messages):
        return
    chosen = next((c for c in candidates if c.id == model_id), None)
    if chosen is not None and not chosen.vision:
        vision = ", ".join(c.id for c in candidates if c.vision) or "none installed"
        raise InvalidInput(
            f"{model_id} does not read images; vision models: {vision}", field="messages"
        )


def installed_chat_models(chat: ChatService) -> list[InstalledModel]:
    """Installed chat and vision models (blocking: reads the model store)."""
    ids = {c.id for c in chat.candidates()}
    return [m for m in chat.catalogue.installed() if m.id in ids]


async def collect(
    deltas: AsyncIterator[ChatDelta], first: ChatDelta | None = None
) -> tuple[str, ChatDelta | None]:
    """The whole text and the final delta (closing the iterator however it ends)."""
    parts: list[str] = []
    final: ChatDelta | None = None
    try:
        delta = first if first is not None else await anext(deltas, None)
        while delta is not None:
            parts.append(delta.text)
            if delta.finish_reason is not None:
                final = delta
            delta = await anext(deltas, None)
    finally:
        await aclose(deltas)
    return "".join(parts), final
