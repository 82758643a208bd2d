"""The compatibility faces over a chat service with fake models, in process and served for real."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from assistant.auth import Principal
from assistant.chat.history import HistoryService
from assistant.chat.routing import RoutingRules
from assistant.chat.service import ChatService
from assistant.services import Services
from assistant.settings import Settings
from runtime.engines import Capability
from runtime.errors import EngineError
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions
from runtime.llm.fake import FakeChatModel, Reply
from runtime.manager import ModelManager
from server.app import create_app
from server.background import serve_in_thread
from server.controllers.ollama import OllamaController
from server.controllers.openai import OpenAIController
from tests.chat.conftest import FakeCatalogue, echo_said

Client = TestClient[Any]
PASSWORD = "correct horse battery"
MODELS = {
    "fake:small": (Capability.LLM, 100),
    "fake:big": (Capability.LLM, 500),
    "fake:vision": (Capability.VLM, 800),
    "tiny:1b-q4": (Capability.LLM, 50),
    "fake:huge": (Capability.LLM, 50_000),  # over the budget: loading it is refused
}


class RecordingChatModel(FakeChatModel):
    """A fake model that also records the options it got and how each generation ended."""

    def __init__(self, model_id: str, *, fail_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(model_id, **kwargs)
        self.fail_after = fail_after
        self.options: list[GenerationOptions] = []
        self.finishes: list[tuple[str, int]] = []
        """(finish reason, tokens produced) of every generation, in order."""

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        self.options.append(options)
        for index, delta in enumerate(super().stream(messages, options, cancel)):
            if self.fail_after is not None and index >= self.fail_after:
                raise EngineError("the engine fell over")
            if delta.finish_reason is not None:
                assert delta.usage is not None
                self.finishes.append((delta.finish_reason, delta.usage.completion_tokens))
            yield delta


@dataclass
class CompatEnv:
    """Services whose chat runs fake models; what the tests poke at."""

    services: Services
    chat: ChatService
    history: HistoryService
    engines: dict[str, RecordingChatModel]
    replies: dict[str, Reply] = field(default_factory=dict)
    token_seconds: dict[str, float] = field(default_factory=dict)
    fail_after: dict[str, int] = field(default_factory=dict)

    def user(self, name: str = "ada") -> str:
        """Create an account; its id."""
        return self.services.auth.create_user(name, PASSWORD).id

    def api_key(self, name: str = "ada") -> str:
        """Create an account and a device API key for it; the key."""
        user = self.services.auth.create_user(name, PASSWORD)
        principal = Principal(user_id=user.id, username=user.username, role=user.role)
        _, secret = self.services.auth.create_api_key(principal, "compat tests")
        return secret

    def wait_for_finish(self, model_id: str, count: int = 1, timeout: float = 5.0) -> None:
        """Block until the model has ended ``count`` generations."""
        deadline = time.monotonic() + timeout
        while len(self.engines[model_id].finishes) < count:
            assert time.monotonic() < deadline, f"{model_id} did not finish in {timeout} s"
            time.sleep(0.01)


@pytest.fixture
def compat_env(services: Services) -> CompatEnv:
    catalogue = FakeCatalogue(dict(MODELS))
    engines: dict[str, RecordingChatModel] = {}
    env = CompatEnv(
        services=services,
        chat=None,  # type: ignore[arg-type]
        history=services.history,
        engines=engines,
    )

    def loader(
        engine: str, model_id: str, path: Path, params: Mapping[str, Any]
    ) -> RecordingChatModel:
        model = RecordingChatModel(
            model_id,
            reply=env.replies.get(model_id, echo_said),
            token_seconds=env.token_seconds.get(model_id, 0.0),
            fail_after=env.fail_after.get(model_id),
        )
        engines[model_id] = model
        return model

    manager = ModelManager(
        catalogue,
        budget_mb=10_000,
        loader=loader,
        memory_probe=lambda: 0.0,
    )
    env.chat = ChatService(
        services.db,
        manager,
        catalogue,
        services.profile,
        rules=RoutingRules(default_model="fake:big", route_short_to_smallest=False),
        clock=services.auth.clock,
    )
    # The whole server sees the fake catalogue (GET /api/v1/models too).
    env.services = dataclasses.replace(
        services,
        chat=env.chat,
        manager=manager,
        models=catalogue,  # type: ignore[arg-type]
    )
    return env


def with_compat(app: Litestar) -> Litestar:
    """Register the compatibility controllers unless create_app() already does."""
    paths = {route.path for route in app.routes}
    if "/v1/chat/completions" not in paths:
        app.register(OpenAIController)
    if "/api/chat" not in paths:
        app.register(OllamaController)
    return app


@pytest.fixture
def compat_app(settings: Settings, compat_env: CompatEnv) -> Litestar:
    """The app of create_app() over the fake-model services."""
    return with_compat(create_app(settings, compat_env.services))


@pytest.fixture
def compat_client(compat_app: Litestar) -> Iterator[Client]:
    """The app under Litestar's in-process test client."""
    with TestClient(app=compat_app) as client:
        yield client


@pytest.fixture
def live_url(compat_app: Litestar) -> Iterator[str]:
    """Base URL of the app served for real (real sockets: disconnects, real clients)."""
    with serve_in_thread(compat_app) as url:
        yield url


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
