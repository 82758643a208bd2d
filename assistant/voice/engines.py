"""What the voice pipeline is built from: runtime's engines, lent by sources, and a chat.

The pipeline takes runtime's Protocols as they are (``VoiceActivityDetector``,
``WakeWordDetector``, ``SpeechToText``, ``TextToSpeech``) and hal's ``Speaker``; it
borrows each engine through an ``EngineSource`` for as long as it needs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeAlias, TypeVar

from assistant.chat.models import ChatRequest, TurnEvent
from assistant.chat.speculation import Speculation
from assistant.voice.events import PipelineEvent

E = TypeVar("E")

EngineSource: TypeAlias = Callable[[], AbstractAsyncContextManager[E]]
"""Lends an engine for a while: ``lambda: manager.use(model_id)``, or ``held(engine)``."""
Chat: TypeAlias = Callable[[ChatRequest], AsyncIterator[TurnEvent]]
"""One chat turn as a stream: ``functools.partial(chat_service.stream, user_id)``."""
SpeculativeChat: TypeAlias = Callable[[ChatRequest, Speculation], AsyncIterator[TurnEvent]]
"""A chat turn on words not yet certain, stored only once the gate is confirmed:
``lambda request, gate: chat_service.stream(user_id, request, speculation=gate)``."""
Warm: TypeAlias = Callable[[str | None], Awaitable[object]]
"""Loads the loop's models and primes the chat model's prompt cache with the system prompt
and the conversation (its id, None: a new one), ahead of the first turn after a pause."""
EventCallback: TypeAlias = Callable[[PipelineEvent], Awaitable[None] | None]
"""Receives every event, in order (a plain function or a coroutine function)."""


def held(engine: E) -> EngineSource[E]:
    """An engine source that always lends the same, already loaded engine."""

    @asynccontextmanager
    async def lend() -> AsyncIterator[E]:
        yield engine

    return lend
