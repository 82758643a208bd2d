"""``/api/tags`` and ``/api/chat``: Ollama's chat API, for the clients and tools that speak it.

Stateless like ``/v1``: the client sends the conversation, nothing but usage is stored.
Answers stream as NDJSON by default; errors are Ollama's ``{"error": "..."}``. The same
Bearer API keys and tokens as the rest of the API are required.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from assistant.chat.service import ChatService
from assistant.clock import iso, to_ms
from runtime.errors import ModelNotInstalled
from runtime.llm.base import ChatDelta
from server.bodies import ANY_CONTENT_TYPE
from server.compat import (
    check_images,
    collect,
    installed_chat_models,
    ollama_errors,
    ollama_line,
    ollama_response,
    resolve_model,
)
from server.deps import ChatDep, PrincipalDep
from server.docs import NDJSON, documented
from server.problems import exception_handlers
from server.requestid import ensure_request_id
from server.schemas.ollama import (
    CHAT_LINES,
    OllamaChatChunk,
    OllamaChatDone,
    OllamaChatRequest,
    OllamaModel,
    OllamaReplyMessage,
    OllamaTags,
    chat_messages,
    finished,
    parse_keep_alive,
)
from server.streams import ClientDisconnected, aclose, client_gone, guarded, until_disconnect

NDJSON_HEADERS = {"content-type": NDJSON, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Stream headers; the content type is set here because Litestar 2's Stream lets the
handler's media type (JSON, for the non-streamed answer) win over its own."""


def _line(data: Any) -> bytes:
    return msgspec.json.encode(data) + b"\n"


class _Turn:
    """What the lines of one reply share: model, clock and the timings."""

    def __init__(self, chat: ChatService, model: str, started: float) -> None:
        self.chat = chat
        self.model = model
        self.started = started
        self.first_delta = 0.0

    def created_at(self) -> str:
        return iso(to_ms(self.chat.clock())) or ""

    def done(self, final: ChatDelta | None, content: str = "") -> OllamaChatDone:
        return finished(
            self.model,
            self.created_at(),
            final,
            total_seconds=time.perf_counter() - self.started,
            first_delta_seconds=self.first_delta,
            content=content,
        )


async def _lines(
    turn: _Turn, first: ChatDelta | None, deltas: AsyncIterator[ChatDelta]
) -> AsyncIterator[bytes]:
    final: ChatDelta | None = None
    try:
        delta = first
        while delta is not None:
            if delta.text:
                message = OllamaReplyMessage(content=delta.text)
                yield _line(
                    OllamaChatChunk(model=turn.model, created_at=turn.created_at(), message=message)
                )
            if delta.finish_reason is not None:
                final = delta
            delta = await anext(deltas, None)
        yield _line(turn.done(final))
    finally:
        await aclose(deltas)


class OllamaController(Controller):
    """Ollama's chat API (``/api/tags``, ``/api/chat``) for clients that speak it."""

    path = "/api"
    tags = ["ollama"]
    exception_handlers = exception_handlers(ollama_response)
    # Ollama reads any body as JSON, and its documentation posts with `curl -d` (form type).
    opt = {ANY_CONTENT_TYPE: True}

    @get("/tags", responses=ollama_errors(401), summary="Installed chat models (Ollama)")
    async def list_tags(self, chat: ChatDep, principal: PrincipalDep) -> OllamaTags:
        """Every installed chat and vision model, in Ollama's shape."""
        models = await anyio.to_thread.run_sync(installed_chat_models, chat)
        return OllamaTags(
            models=[OllamaModel.of(m, iso(to_ms(m.installed_at)) or "") for m in models]
        )

    @post(
        "/chat",
        status_code=HTTP_200_OK,
        responses=ollama_errors(400, 401, 404, 413, 503),
        operation_class=documented(answers={NDJSON: CHAT_LINES}, keep_json=True),
        summary="Chat (Ollama)",
    )
    async def chat(
        self,
        data: JSONBody[OllamaChatRequest],
        chat: ChatDep,
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> OllamaChatDone:
        """Ollama's chat over the conversation sent. With ``stream`` (the default) the answer
        is NDJSON (``application/x-ndjson``): one ``{"message": {...}, "done": false}`` line
        per piece, then a ``done: true`` line with done_reason, token counts and durations
        in nanoseconds. OllamaOptions: temperature, top_p, top_k, num_predict, stop, seed,
        repeat_penalty. Empty ``messages`` loads the model (``keep_alive`` 0: unloads it);
        for chats ``keep_alive`` is not applied. Closing the connection stops the
        generation."""
        started = time.perf_counter()
        data.refuse_unsupported()
        keep_alive = parse_keep_alive(data.keep_alive)
        messages = chat_messages(data.messages)
        options = data.to_options()
        candidates = await anyio.to_thread.run_sync(chat.candidates)
        model = resolve_model(data.model, [c.id for c in candidates])
        turn = _Turn(chat, model, started)
        if not messages:
            return await self._load_or_unload(chat, model, keep_alive, turn, stream=data.stream)
        check_images(model, messages, candidates)
        deltas = chat.complete(principal.user_id, model, messages, options)
        try:
            # Errors before the first token (missing model, full queue) are plain answers.
            first = await until_disconnect(request, anext(deltas, None))
            turn.first_delta = time.perf_counter() - started
            if not data.stream:
                text, final = await until_disconnect(request, collect(deltas, first))
                return turn.done(final, content=text)
        except ClientDisconnected:
            return client_gone()  # type: ignore[return-value]
        request_id = ensure_request_id(request.scope)
        body = guarded(_lines(turn, first, deltas), lambda exc: ollama_line(exc, request_id))
        return Stream(body, media_type=NDJSON, headers=NDJSON_HEADERS)  # type: ignore[return-value]

    async def _load_or_unload(
        self, chat: ChatService, model: str, keep_alive: float | None, turn: _Turn, *, stream: bool
    ) -> OllamaChatDone:
        installed = {m.id for m in await anyio.to_thread.run_sync(installed_chat_models, chat)}
        if model not in installed:
            raise ModelNotInstalled(model)
        if keep_alive == 0:
            await chat.manager.unload(model)
            reason = "unload"
        else:
            await chat.manager.load(model, keep_alive_seconds=keep_alive)
            reason = "load"
        done = OllamaChatDone(
            model=model,
            created_at=turn.created_at(),
            message=OllamaReplyMessage(content=""),
            done=True,
            done_reason=reason,
        )
        if stream:
            return Response(content=_line(done), media_type=NDJSON)  # type: ignore[return-value]
        return done
