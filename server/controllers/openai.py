"""``/v1``: the OpenAI chat API, so the openai SDK and the tools built on it work here.

Stateless: the client sends the whole conversation each time and nothing but usage is
stored (``ChatService.complete``). Errors use OpenAI's ``{"error": {...}}`` shape
(``server.compat``), because that is what the SDK reads; the rest of the API keeps
problem+json.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
from litestar import Controller, Litestar, Request, get, post, route
from litestar.enums import HttpMethod
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_200_OK

from runtime.errors import ModelNotInstalled
from runtime.llm.base import ChatDelta
from server.compat import (
    check_images,
    collect,
    installed_chat_models,
    openai_errors,
    openai_event,
    openai_response,
    resolve_model,
)
from server.deps import ChatDep, PrincipalDep
from server.docs import SSE, documented
from server.problems import exception_handlers
from server.requestid import ensure_request_id
from server.schemas.openai import (
    COMPLETION_STREAM,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    OpenAIModel,
    OpenAIModelList,
    chat_messages,
    finish_reason,
)
from server.streams import ClientDisconnected, aclose, client_gone, guarded, until_disconnect

log = logging.getLogger(__name__)

# The content type goes in the headers too: Litestar 2's Stream.to_asgi_response lets the
# handler's media type (JSON here, for the non-streamed answer) win over the Stream's own.
SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


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
    finally:
        await aclose(deltas)


class OpenAIController(Controller):
    """The OpenAI chat API (``/v1``) for clients and SDKs that speak it."""

    path = "/v1"
    tags = ["openai"]
    exception_handlers = exception_handlers(openai_response)

    @get("/models", responses=openai_errors(401), summary="Installed chat models (OpenAI)")
    async def list_models(self, chat: ChatDep, principal: PrincipalDep) -> OpenAIModelList:
        """Every installed chat and vision model, as OpenAI's model list."""
        models = await anyio.to_thread.run_sync(installed_chat_models, chat)
        return OpenAIModelList(
            data=[OpenAIModel(id=m.id, created=int(m.installed_at)) for m in models]
        )

    @get(
        "/models/{model_id:str}",
        responses=openai_errors(400, 401, 404),
        summary="One installed chat model (OpenAI)",
    )
    async def get_model(
        self, model_id: FromPath[str], chat: ChatDep, principal: PrincipalDep
    ) -> OpenAIModel:
        """404 (model_not_found) unless it is an installed chat or vision model."""
        models = await anyio.to_thread.run_sync(installed_chat_models, chat)
        found = next((m for m in models if m.id == model_id), None)
        if found is None:
            raise ModelNotInstalled(model_id)
        return OpenAIModel(id=found.id, created=int(found.installed_at))

    @post(
        "/chat/completions",
        status_code=HTTP_200_OK,
        responses=openai_errors(400, 401, 404, 413, 415, 429, 503),
        operation_class=documented(answers={SSE: COMPLETION_STREAM}, keep_json=True),
        summary="Chat completion (OpenAI)",
    )
    async def chat_completions(
        self,
        data: JSONBody[ChatCompletionRequest],
        chat: ChatDep,
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
        )
        request_id = ensure_request_id(request.scope)
        events = guarded(body, lambda exc: openai_event(exc, request_id))
        return Stream(events, media_type="text/event-stream", headers=SSE_HEADERS)  # type: ignore[return-value]

    @route(
        "/{rest:path}",
        http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.DELETE],
        include_in_schema=False,
    )
    async def unsupported(self, rest: FromPath[str], request: Request[Any, Any, Any]) -> None:
        """Other OpenAI endpoints answer 404 in OpenAI's shape, naming those offered."""
        offered = offered_endpoints(request.app, "/v1/")
        raise NotFoundException(
            f"{request.method} /v1{rest} is not offered here; this server implements"
            f" {', '.join(offered[:-1])} and {offered[-1]}"
        )


def offered_endpoints(app: Litestar, prefix: str) -> list[str]:
    """The documented endpoints under ``prefix`` (``METHOD /path``), read from the app's
    routes so that the list cannot fall behind the controllers. Sorted by path."""
    found = [
        (route.path_format, method)
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith(prefix)
        for handler in route.route_handlers
        if handler.resolve_include_in_schema()
        for method in handler.http_methods
    ]
    return [f"{method} {path}" for path, method in sorted(found)]
