"""``/api/v1/chat``: turns (whole, SSE, WebSocket), history and conversations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, WebSocket, delete, get, patch, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK
from pydantic import ValidationError

from assistant.auth import Principal
from assistant.chat.models import ChatRequest, TurnEvent
from assistant.chat.service import ChatService
from assistant.errors import InvalidInput, Unauthorized
from server.deps import ChatDep, HistoryDep, PrincipalDep
from server.docs import SSE, documented
from server.problems import JSON_BODY, PARAMETERS, problem_event, problems
from server.requestid import ensure_request_id
from server.schemas.chat import (
    TURN_STREAM,
    ConversationDetailOut,
    ConversationOut,
    ConversationsOut,
    HistoryDeleted,
    HistoryOut,
    MessageIn,
    MessageOut,
    RegenerateIn,
    RenameIn,
    ReplyOut,
    event_payload,
    sse,
)
from server.streams import ClientDisconnected, client_gone, guarded, until_disconnect

log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
Limit = Annotated[int, Parameter(ge=1, le=200, description="Page size")]


async def _sse_body(
    first: TurnEvent, events: AsyncGenerator[TurnEvent, None]
) -> AsyncIterator[bytes]:
    try:
        yield sse(*event_payload(first))
        async for event in events:
            yield sse(*event_payload(event))
    finally:
        await events.aclose()


async def _reply(
    request: Request[Any, Any, Any], chat: ChatService, user_id: str, turn: ChatRequest
) -> ReplyOut:
    """A whole turn, unless the client goes away first: then the generation stops (as a
    stream's does) and only the access log sees the answer."""
    try:
        started, done = await until_disconnect(request, chat.reply(user_id, turn))
    except ClientDisconnected:
        return client_gone()  # type: ignore[return-value]
    return ReplyOut.of(started, done)


class ChatController(Controller):
    """Conversations with the assistant, for the signed-in user only."""

    path = "/api/v1/chat"
    tags = ["chat"]

    @post(
        "/message",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401, 404, 503),
        summary="Send a message, get the whole reply",
    )
    async def message(
        self,
        data: JSONBody[MessageIn],
        chat: ChatDep,
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> ReplyOut:
        """Creates a conversation when none is given. With ``replace_message_id`` it edits
        that message and answers again. The answer says which model replied and why, the
        token counts and timings, and whether older turns were summarised. A client that
        goes away stops the generation within one token; the partial reply is kept."""
        return await _reply(request, chat, principal.user_id, data.to_request())

    @post(
        "/stream",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401, 404, 503),
        operation_class=documented(answers={SSE: TURN_STREAM}),
        summary="Send a message, stream the reply (Server-Sent Events)",
    )
    async def stream(
        self,
        data: JSONBody[MessageIn],
        chat: ChatDep,
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> Stream:
        """Events: ``start`` (conversation_id, user_message_id, model, route_reason, flags),
        ``delta`` (text) as the model writes, then ``done`` (message_id, finish_reason,
        usage, timings) or ``error`` (a problem document). Closing the connection stops
        the generation within one token; the partial reply is kept."""
        events = chat.stream(principal.user_id, data.to_request())
        first = await anext(events)  # errors before the first token are plain problems
        path, request_id = request.url.path, ensure_request_id(request.scope)
        body = guarded(
            _sse_body(first, events),
            lambda exc: sse("error", problem_event(exc, instance=path, request_id=request_id)),
        )
        return Stream(body, media_type="text/event-stream", headers=SSE_HEADERS)

    @post(
        "/regenerate",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401, 404, 503),
        summary="Answer the last message again",
    )
    async def regenerate(
        self,
        data: JSONBody[RegenerateIn],
        chat: ChatDep,
        history: HistoryDep,
        principal: PrincipalDep,
        request: Request[Any, Any, Any],
    ) -> ReplyOut:
        """Replaces the last reply of the conversation with a new one. A client that goes
        away stops the generation within one token."""
        last = await anyio.to_thread.run_sync(
            history.last_user_message, principal.user_id, data.conversation_id
        )
        turn = ChatRequest(
            text=last.content,
            conversation_id=data.conversation_id,
            model=data.model,
            options=data.options.to_options(),
            replace_message_id=last.id,
        )
        return await _reply(request, chat, principal.user_id, turn)

    @websocket("/ws")
    async def turns(self, socket: WebSocket[Any, Any, Any], chat: ChatDep) -> None:
        """The turn protocol over a WebSocket (browsers: ``?access_token=``).

        Send ``{"type": "message", "text": ..., "conversation_id"?, "model"?, "options"?}``;
        receive ``start``, ``delta``... and ``done`` or ``error`` messages (the same fields
        as the SSE events, plus ``type``). Send ``{"type": "cancel"}`` to stop the reply,
        ``{"type": "ping"}`` for a ``pong``. Several turns may follow on one connection.
        """
        principal = socket.scope.get("user")
        if not isinstance(principal, Principal):
            raise Unauthorized("Sign in first")
        await socket.accept()
        session = _WebSocketTurns(socket, chat, principal)
        await session.run()

    @get(
        "/history",
        responses=problems(*PARAMETERS, 401, 404),
        summary="Messages of a conversation, newest first",
    )
    async def history(
        self,
        history: HistoryDep,
        principal: PrincipalDep,
        conversation_id: Annotated[str, Parameter(description="The conversation")],
        before: Annotated[
            str | None, Parameter(description="Message id: return older messages")
        ] = None,
        limit: Limit = 50,
    ) -> HistoryOut:
        """Cursor pagination: pass ``next_before`` back as ``before`` for older messages."""
        page = await anyio.to_thread.run_sync(
            lambda: history.history(principal.user_id, conversation_id, before=before, limit=limit)
        )
        return HistoryOut(
            conversation_id=conversation_id,
            messages=[MessageOut.of(m) for m in page],
            next_before=page[-1].id if len(page) == limit else None,
        )

    @delete(
        "/history",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Delete one conversation's history, or all of it",
    )
    async def delete_history(
        self,
        history: HistoryDep,
        principal: PrincipalDep,
        conversation_id: Annotated[
            str | None, Parameter(description="The conversation; none: all of yours")
        ] = None,
    ) -> HistoryDeleted:
        """With ``conversation_id``: that conversation, its messages and summary. Without:
        every conversation of yours. Deleted data is overwritten on disk."""
        if conversation_id is not None:
            messages = await anyio.to_thread.run_sync(
                history.delete_conversation, principal.user_id, conversation_id
            )
            return HistoryDeleted(deleted_conversations=1, deleted_messages=messages)
        conversations, messages = await anyio.to_thread.run_sync(
            history.delete_all, principal.user_id
        )
        return HistoryDeleted(deleted_conversations=conversations, deleted_messages=messages)

    @get("/conversations", responses=problems(*PARAMETERS, 401, 404), summary="My conversations")
    async def conversations(
        self,
        history: HistoryDep,
        principal: PrincipalDep,
        before: Annotated[
            str | None, Parameter(description="Conversation id: return less recent ones")
        ] = None,
        limit: Limit = 50,
    ) -> ConversationsOut:
        """Titles and last activity, most recent first."""
        page = await anyio.to_thread.run_sync(
            lambda: history.conversations(principal.user_id, limit=limit, before=before)
        )
        return ConversationsOut(
            conversations=[ConversationOut.of(c) for c in page],
            next_before=page[-1].id if len(page) == limit else None,
        )

    @get(
        "/conversations/{conversation_id:str}",
        responses=problems(*PARAMETERS, 401, 404),
        summary="One conversation",
    )
    async def conversation(
        self, conversation_id: FromPath[str], history: HistoryDep, principal: PrincipalDep
    ) -> ConversationDetailOut:
        """Title, model, message count, last activity, and the running summary that older
        turns were folded into (null until there is one)."""
        found = await anyio.to_thread.run_sync(
            history.conversation, principal.user_id, conversation_id
        )
        return ConversationDetailOut.detail(found)

    @patch(
        "/conversations/{conversation_id:str}",
        responses=problems(*JSON_BODY, 401, 404),
        summary="Rename a conversation",
    )
    async def rename(
        self,
        conversation_id: FromPath[str],
        data: JSONBody[RenameIn],
        history: HistoryDep,
        principal: PrincipalDep,
    ) -> ConversationOut:
        """Titles are generated from the first message until you choose one."""
        renamed = await anyio.to_thread.run_sync(
            history.rename, principal.user_id, conversation_id, data.title
        )
        return ConversationOut.of(renamed)

    @delete(
        "/conversations/{conversation_id:str}",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Delete a conversation",
    )
    async def delete_conversation(
        self, conversation_id: FromPath[str], history: HistoryDep, principal: PrincipalDep
    ) -> HistoryDeleted:
        """The same as DELETE /history?conversation_id=..."""
        messages = await anyio.to_thread.run_sync(
            history.delete_conversation, principal.user_id, conversation_id
        )
        return HistoryDeleted(deleted_conversations=1, deleted_messages=messages)


class _WebSocketTurns:
    """One WebSocket connection: turns run one at a time; ``cancel`` stops the current one."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], chat: ChatService, principal: Principal
    ) -> None:
        self.socket = socket
        self.chat = chat
        self.principal = principal
        self.current: asyncio.Task[None] | None = None
        self.path = socket.url.path
        self.request_id = ensure_request_id(socket.scope)

    async def run(self) -> None:
        try:
            while True:
                message = await self.socket.receive_json()
                await self._handle(message)
        except WebSocketDisconnect:
            pass
        finally:
            await self._cancel()

    async def _handle(self, message: Any) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await self.socket.send_json({"type": "pong"})
        elif kind == "cancel":
            cancelled = await self._cancel()
            await self.socket.send_json({"type": "cancelled", "turn": cancelled})
        elif kind == "message":
            if self.current is not None and not self.current.done():
                await self._error(InvalidInput("A reply is still streaming; send cancel first"))
                return
            try:
                body = MessageIn.model_validate({k: v for k, v in message.items() if k != "type"})
            except ValidationError as exc:
                await self._error(exc)
                return
            self.current = asyncio.create_task(self._turn(body.to_request()))
        else:
            await self._error(
                InvalidInput(
                    "Send a JSON object whose type is message, cancel or ping", field="type"
                )
            )

    async def _turn(self, request: ChatRequest) -> None:
        events = self.chat.stream(self.principal.user_id, request)
        try:
            async for event in events:
                name, payload = event_payload(event)
                await self.socket.send_json({"type": name, **payload})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._error(exc)
        finally:
            await events.aclose()

    async def _cancel(self) -> bool:
        task, self.current = self.current, None
        if task is None or task.done():
            return False
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def _error(self, exc: Exception) -> None:
        problem = problem_event(exc, instance=self.path, request_id=self.request_id)
        await self.socket.send_json({"type": "error", "problem": problem})
