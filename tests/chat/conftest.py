"""A chat service on real SQLite with fake models behind a real model manager."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant.chat.history import HistoryService
from assistant.chat.routing import RoutingRules
from assistant.chat.service import ChatLimits, ChatService, FallbackModels
from assistant.services import Services
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions
from runtime.llm.fake import FakeChatModel, Reply, echo
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel

STAMP = re.compile(r"\A\(Sent [^)\n]*\.\) ")
"""The send time the chat service appends to user messages (``context.stamped``)."""


def unstamped(text: str) -> str:
    """A user message as the user wrote it."""
    return STAMP.sub("", text)


def echo_said(messages: Sequence[ChatMessage]) -> str:
    """``echo`` of what the user wrote, without the send time the model also sees."""
    return echo([ChatMessage(m.role, unstamped(m.content)) for m in messages])


@dataclass
class FakeCatalogue:
    """Installed models without files; the manager loads FakeChatModels for them."""

    models: dict[str, tuple[Capability, int]] = field(default_factory=dict)

    def installed(self) -> list[InstalledModel]:
        return [self._installed(model_id) for model_id in sorted(self.models)]

    def require(self, model_id: str) -> InstalledModel:
        if model_id not in self.models:
            raise ModelNotInstalled(model_id)
        return self._installed(model_id)

    def _installed(self, model_id: str) -> InstalledModel:
        capability, memory = self.models[model_id]
        return InstalledModel(
            id=model_id,
            capability=capability,
            engine="fake",
            params={},
            memory_mb=memory,
            description="",
            source="test",
            installed_at=0,
            verified_at=0,
            files=(),
            path=Path("/nonexistent"),
        )


HOLD_LIMIT_SECONDS = 10.0
"""Longest a held generation waits for its cancel flag (a guard against a hung test)."""


class HoldingChatModel(FakeChatModel):
    """A fake model that can pause mid-reply until its generation is cancelled.

    With ``hold_after`` set, it stops after that many tokens, sets ``holding`` and waits
    for the cancel flag; if none comes within HOLD_LIMIT_SECONDS it writes the rest of its
    reply. ``finishes`` records how each generation ended and how many tokens it made, so
    a test can count what was generated after its client went away.
    """

    def __init__(self, model_id: str, **kwargs: Any) -> None:
        super().__init__(model_id, **kwargs)
        self.hold_after: int | None = None
        self.holding = threading.Event()
        self.finishes: list[tuple[str, int]] = []
        """(finish reason, tokens produced) of every generation, in order."""
        self._finished = threading.Condition()

    def wait_for_finishes(self, count: int) -> list[tuple[str, int]]:
        """The finishes once ``count`` generations have ended (a hung one fails the test)."""
        with self._finished:
            ended = self._finished.wait_for(
                lambda: len(self.finishes) >= count, 2 * HOLD_LIMIT_SECONDS
            )
        assert ended, f"only {len(self.finishes)} of {count} generations ended"
        return list(self.finishes)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        produced = 0
        for delta in super().stream(messages, options, cancel):
            if delta.finish_reason is not None:
                assert delta.usage is not None
                with self._finished:
                    self.finishes.append((delta.finish_reason, delta.usage.completion_tokens))
                    self._finished.notify_all()
            yield delta
            produced += bool(delta.text)
            if produced == self.hold_after and cancel is not None:
                self.holding.set()
                cancel.wait(HOLD_LIMIT_SECONDS)


@dataclass
class ChatEnv:
    """What chat tests poke at."""

    chat: ChatService
    history: HistoryService
    services: Services
    catalogue: FakeCatalogue
    engines: dict[str, HoldingChatModel]
    replies: dict[str, Reply]
    context_length: dict[str, int]
    token_seconds: dict[str, float]

    def user(self, name: str) -> str:
        return self.services.auth.create_user(name, "correct horse battery").id


@pytest.fixture
def chat_env(services: Services) -> Iterator[ChatEnv]:
    catalogue = FakeCatalogue(
        {"fake:small": (Capability.LLM, 100), "fake:big": (Capability.LLM, 500)}
    )
    engines: dict[str, HoldingChatModel] = {}
    replies: dict[str, Reply] = {}
    context_length: dict[str, int] = {}
    token_seconds: dict[str, float] = {}

    def loader(
        engine: str, model_id: str, path: Path, params: Mapping[str, Any]
    ) -> HoldingChatModel:
        model = HoldingChatModel(
            model_id,
            reply=replies.get(model_id, echo_said),
            context_length=context_length.get(model_id, 4096),
            token_seconds=token_seconds.get(model_id, 0.0),
        )
        engines[model_id] = model
        return model

    manager = ModelManager(catalogue, budget_mb=10_000, loader=loader, memory_probe=lambda: 0.0)  # type: ignore[arg-type]
    # Preferences may name the fake models (they are this environment's catalogue).
    services.profile.models = lambda capability: {
        m.id for m in catalogue.installed() if m.capability is capability
    }
    chat = ChatService(
        services.db,
        manager,
        catalogue,
        services.profile,
        rules=RoutingRules(default_model="fake:big", route_short_to_smallest=False),
        limits=ChatLimits(summary_max_tokens=40),
        fallbacks=FallbackModels(chat="qwen2.5-coder:0.5b-q4", vision="moondream2:f16"),
        clock=services.auth.clock,
    )
    yield ChatEnv(
        chat, services.history, services, catalogue, engines, replies, context_length, token_seconds
    )


def scripted(*answers: str) -> Callable[..., str]:
    """A reply function that answers in turn."""
    queue = list(answers)

    def reply(messages: Any) -> str:
        return queue.pop(0) if queue else "..."

    return reply
