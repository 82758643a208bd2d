"""``/v1``: the OpenAI chat API, so the openai SDK and the tools built on it work here.

Stateless: the client sends the whole conversation each time and nothing but usage is
stored (``ChatService.complete``). Errors use OpenAI's ``{"error": {...}}`` shape
(controller-level exception handlers), because that is what the SDK reads; the rest of
the API keeps problem+json. The compatibility faces (this one and Ollama's) share the
error mapping and the disconnect watch defined here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post, route
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from assistant import errors
from assistant.chat.routing import Candidate
from assistant.chat.service import ChatService
from runtime.llm.base import ChatDelta, ChatMessage
from runtime.modelstore import InstalledModel
from server.deps import PrincipalDep, ServicesDep
from server.requestid import ensure_request_id
from server.schemas.openai import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    OpenAIError,
    OpenAIErrorDetail,
    OpenAIModel,
    OpenAIModelList,
    chat_messages,
    finish_reason,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# The content type goes in the headers too: Litestar 2's Stream.to_asgi_response lets the
# handler's media type (JSON here, for the non-streamed answer) win over the Stream's own.
SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
CLIENT_CLOSED_REQUEST = 499
"""Status logged for a request whose client went away before the answer (as nginx does)."""


# Errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompatError:
    """An error as the compatibility faces report it."""

    status: int
    """HTTP status."""
    message: str
    """What went wrong and what to do."""
    type: str
    """OpenAI's error type."""
    code: str | None
    """OpenAI's error code."""
    param: str | None = None
    """The offending request field."""
    retry_after_seconds: int | None = None
    """Sent as Retry-After."""


_DOMAIN: dict[type[errors.AssistantError], tuple[int, str, str | None]] = {
    errors.InvalidInput: (400, "invalid_request_error", None),
    errors.PayloadTooLarge: (400, "invalid_request_error", "payload_too_large"),
    errors.Unauthorized: (401, "authentication_error", "invalid_api_key"),
    errors.Forbidden: (403, "permission_error", "forbidden"),
    errors.NotFound: (404, "invalid_request_error", "not_found"),
    errors.ModelNotInstalled: (404, "invalid_request_error", "model_not_found"),
    errors.Conflict: (409, "invalid_request_error", "conflict"),
    errors.RateLimited: (429, "rate_limit_error", "rate_limit_exceeded"),
    errors.ResourceExhausted: (503, "server_error", "server_busy"),
    errors.HardwareUnavailable: (503, "server_error", "hardware_unavailable"),
    errors.BackendError: (500, "server_error", "backend_error"),
}

_HTTP_CODES = {
    404: "unknown_url",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _type_of_status(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def _validation_param(key: Any) -> str | None:
    # Litestar names the whole body "data"; the fields are relative to it.
    text = "" if key is None else str(key)
    return None if text in ("", "data", "body") else text.removeprefix("data.")


def compat_error(exc: Exception, request_id: str) -> CompatError:
    """How a compatibility face reports an exception (pure: a table, no I/O)."""
    if isinstance(exc, errors.AssistantError):
        status, kind, code = next(
            (_DOMAIN[cls] for cls in type(exc).__mro__ if cls in _DOMAIN),
            (500, "server_error", None),
        )
        param = exc.fields.get("field")
        if isinstance(exc, errors.ModelNotInstalled):
            param = "model"
        retry = exc.fields.get("retry_after_seconds")
        return CompatError(
            status, exc.detail, kind, code, param, None if retry is None else int(retry)
        )
    if isinstance(exc, ValidationException):
        items = [
            i for i in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(i, dict)
        ]
        params = [_validation_param(i.get("key")) for i in items]
        details = [
            f"{p}: {str(i.get('message', 'invalid')).removeprefix('Value error, ')}"
            if p
            else str(i.get("message", "invalid"))
            for p, i in zip(params, items, strict=True)
        ]
        message = "; ".join(details) or str(exc.detail) or "The request body could not be read"
        return CompatError(
            400, message, "invalid_request_error", None, next(filter(None, params), None)
        )
    if isinstance(exc, HTTPException):
        status = exc.status_code
        return CompatError(
            status, str(exc.detail), _type_of_status(status), _HTTP_CODES.get(status)
        )
    if isinstance(exc, UnicodeDecodeError):
        return CompatError(
            400,
            f"The request body is not valid UTF-8 (byte {exc.start})",
            "invalid_request_error",
            None,
        )
    return CompatError(
        500,
        f"An unexpected error occurred; the server log has details under request id {request_id}",
        "server_error",
        "internal_error",
    )


ErrorRenderer = Callable[[CompatError, Exception], bytes]
"""The body of an error answer, from the mapped error and the original exception."""


def compat_exception_handlers(render: ErrorRenderer) -> dict[type[Exception] | int, Any]:
    """Controller-level exception handlers answering in a compatibility face's error shape."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        error = compat_error(exc, ensure_request_id(request.scope))
        if error.code == "internal_error":
            log.exception(
                "unhandled error in %s %s", request.method, request.url.path, exc_info=exc
            )
        elif error.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, error.message)
        headers: dict[str, str] = {}
        if error.retry_after_seconds is not None:
            headers["Retry-After"] = str(error.retry_after_seconds)
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="edge-assistant"'
        if (
            isinstance(exc, HTTPException)
            and exc.headers
            and "allow" in {k.lower() for k in exc.headers}
        ):
            headers.update({k: v for k, v in exc.headers.items() if k.lower() == "allow"})
        return Response(
            content=render(error, exc),
            status_code=error.status,
            media_type="application/json",
            headers=headers,
        )

    return {
        errors.AssistantError: handle,
        ValidationException: handle,
        HTTPException: handle,
        UnicodeDecodeError: handle,
        Exception: handle,
    }


def openai_error_body(error: CompatError, exc: Exception) -> bytes:
    """OpenAI's error document."""
    return msgspec.json.encode(OpenAIError(error=_detail(error)))


def _detail(error: CompatError) -> OpenAIErrorDetail:
    return OpenAIErrorDetail(
        message=error.message, type=error.type, param=error.param, code=error.code
    )


_ERROR_DESCRIPTIONS = {
    400: "Invalid request (OpenAI error shape; `param` names the field)",
    401: "Missing or invalid API key or token (code invalid_api_key)",
    404: "No such model (code model_not_found) or endpoint",
    429: "Too many requests; see Retry-After",
    503: "The model is busy or the memory budget is full; see Retry-After",
}


def openai_errors(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the OpenAI-shaped error answers an endpoint can give."""
    return {
        status: ResponseSpec(
            data_container=OpenAIError,
            description=_ERROR_DESCRIPTIONS.get(status, "Error"),
            media_type="application/json",
        )
        for status in statuses
    }


# Shared by the compatibility faces ----------------------------------------------------


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was ready."""


async def _disconnect(request: Request[Any, Any, Any]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnect(request: Request[Any, Any, Any], work: Awaitable[T]) -> T:
    """Await ``work`` unless the client goes away first; then cancel it (which stops a
    generation within one token) and raise ClientDisconnected."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise ClientDisconnected
    return task.result()


def client_gone() -> Response[bytes]:
    """The answer to a client that is no longer there (only the access log sees it)."""
    return Response(content=b"", status_code=CLIENT_CLOSED_REQUEST)


async def aclose(iterator: AsyncIterator[Any]) -> None:
    """Close an async generator (ChatService.complete cancels its generation when closed)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


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
        raise errors.InvalidInput(
            f"{model_id} does not read images; vision models: {vision}", field="messages"
        )


def installed_chat_models(chat: ChatService) -> list[InstalledModel]:
    """Installed chat and vision models (blocking: reads the model store)."""
    ids = {c.id for c in chat.candidates()}
    return [m for m in chat.catalogue.installed() if m.id in ids]


# The API ------------------------------------------------------------------------------


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


def _event(data: Any) -> bytes:
    return b"data: " + msgspec.json.encode(data) + b"\n\n"


async def _chunks(
    first: ChatDelta | None,
    deltas: AsyncIterator[ChatDelta],
    *,
    completion_id: str,
    created: int,
    model: str,
    include_usage: bool,
    request_id: str,
) -> AsyncIterator[bytes]:
    def chunk(delta: Delta, finish: str | None = None) -> bytes:
        choice = ChunkChoice(delta=delta, finish_reason=finish)  # type: ignore[arg-type]
        return _event(
            ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[choice])
        )

    final: ChatDelta | None = None
    try:
        yield chunk(Delta(role="assistant", content=""))
        pending = [first] if first is not None else []
        while True:
            delta = pending.pop() if pending else await anext(deltas, None)
            if delta is None:
                break
            if delta.text:
                yield chunk(Delta(content=delta.text))
            if delta.finish_reason is not None:
                final = delta
        yield chunk(Delta(), finish_reason(final.finish_reason if final else None))
        if include_usage:
            usage = CompletionUsage.of(final.usage if final else None)
            yield _event(
                ChatCompletionChunk(
                    id=completion_id, created=created, model=model, choices=[], usage=usage
                )
            )
        yield b"data: [DONE]\n\n"
    except Exception as exc:  # the stream has begun: the error becomes an event
        error = compat_error(exc, request_id)
        if error.status >= 500:
            log.error("completion %s failed: %s", completion_id, error.message, exc_info=exc)
        yield _event(OpenAIError(error=_detail(error)))
    finally:
        await aclose(deltas)


class OpenAIController(Controller):
    """The OpenAI chat API (``/v1``) for clients and SDKs that speak it."""

    path = "/v1"
    tags = ["openai"]
    exception_handlers = compat_exception_handlers(openai_error_body)

    @get("/models", responses=openai_errors(401), summary="Installed chat models (OpenAI)")
    async def list_models(self, services: ServicesDep, principal: PrincipalDep) -> OpenAIModelList:
        """Every installed chat and vision model, as OpenAI's model list."""
        models = await anyio.to_thread.run_sync(installed_chat_models, services.chat)
        return OpenAIModelList(
            data=[OpenAIModel(id=m.id, created=int(m.installed_at)) for m in models]
        )

    @get(
        "/models/{model_id:str}",
        responses=openai_errors(401, 404),
        summary="One installed chat model (OpenAI)",
    )
    async def get_model(
        self, model_id: FromPath[str], services: ServicesDep, principal: PrincipalDep
    ) -> OpenAIModel:
        """404 (model_not_found) unless it is an installed chat or vision model."""
        models = await anyio.to_thread.run_sync(installed_chat_models, services.chat)
        found = next((m for m in models if m.id == model_id), None)
        if found is None:
            raise errors.ModelNotInstalled(model_id)
        return OpenAIModel(id=found.id, created=int(found.installed_at))

    @post(
        "/chat/completions",
        status_code=HTTP_200_OK,
        responses=openai_errors(400, 401, 404, 429, 503),
        summary="Chat completion (OpenAI)",
    )
    async def chat_completions(
        self,
        data: JSONBody[ChatCompletionRequest],
        services: ServicesDep,
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> ChatCompletion:
        """OpenAI's chat completion over the conversation sent. With ``stream: true`` the
        answer is ``text/event-stream``: ``data:`` chunks (role first, then content deltas,
        then one with ``finish_reason``; with ``stream_options.include_usage`` a usage
        chunk), ending in ``data: [DONE]``. Closing the connection stops the generation.
        Supported: model, messages (text; images as data: URIs for vision models),
        max_tokens / max_completion_tokens, temperature, top_p, stop, seed, n=1. Tools,
        JSON modes and logprobs are refused. Nothing but usage is stored."""
        data.refuse_unsupported()
        messages = chat_messages(data.messages)
        chat = services.chat
        candidates = await anyio.to_thread.run_sync(chat.candidates)
        model = resolve_model(data.model, [c.id for c in candidates])
        check_images(model, messages, candidates)
        deltas = chat.complete(principal.user_id, model, messages, data.to_options())
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(chat.clock())
        try:
            if not data.stream:
                text, final = await until_disconnect(request, collect(deltas))
                return ChatCompletion(
                    id=completion_id,
                    created=created,
                    model=model,
                    choices=[
                        Choice(
                            message=AssistantMessage(content=text),
                            finish_reason=finish_reason(final.finish_reason if final else None),
                        )
                    ],
                    usage=CompletionUsage.of(final.usage if final else None),
                )
            # Errors before the first token (missing model, full queue) are plain answers.
            first = await until_disconnect(request, anext(deltas, None))
        except ClientDisconnected:
            return client_gone()  # type: ignore[return-value]
        body = _chunks(
            first,
            deltas,
            completion_id=completion_id,
            created=created,
            model=model,
            include_usage=data.include_usage,
            request_id=ensure_request_id(request.scope),
        )
        return Stream(body, media_type="text/event-stream", headers=SSE_HEADERS)  # type: ignore[return-value]

    @route(
        "/{rest:path}",
        http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.DELETE],
        include_in_schema=False,
    )
    async def unsupported(self, rest: FromPath[str], request: Request[Any, Any, Any]) -> None:
        """Other OpenAI endpoints answer 404 in OpenAI's shape."""
        raise NotFoundException(
            f"{request.method} /v1{rest} is not offered here; this server implements"
            " GET /v1/models and POST /v1/chat/completions"
        )
