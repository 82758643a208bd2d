"""The model manager's remote engines with fakes: no memory cost, health checks, and the
local fallback (or refusal) when a remote engine is down, at load or during a request."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from runtime.engines import Capability
from runtime.errors import ModelNotInstalled, RemoteUnavailable
from runtime.manager import Fallback, ModelManager
from runtime.modelstore import InstalledModel
from runtime.remote import Probe

REMOTE, LOCAL, OTHER = "remote-qwen:latest", "qwen:local", "whisper:local"


def installed(model_id: str) -> InstalledModel:
    remote = model_id.startswith("remote")
    return InstalledModel(
        id=model_id,
        capability=Capability.STT if model_id == OTHER else Capability.LLM,
        engine="openai" if remote else "fake",
        params={"url": "http://laptop:8080/v1"} if remote else {},
        memory_mb=0 if remote else 300,
        description="",
        source="test",
        installed_at=0,
        verified_at=0,
        files=(),
        path=Path("/nonexistent"),
    )


class Store:
    def require(self, model_id: str) -> InstalledModel:
        if model_id not in (REMOTE, LOCAL, OTHER):
            raise ModelNotInstalled(model_id)
        return installed(model_id)

    def installed(self) -> list[InstalledModel]:
        return [installed(m) for m in (REMOTE, LOCAL, OTHER)]


class Engine:
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def close(self) -> None:
        pass


class Remote:
    """Whether the fake remote server is up, and what the manager loaded."""

    def __init__(self) -> None:
        self.up = True
        self.loads: list[str] = []

    def loader(self, engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> Engine:
        if engine == "openai" and not self.up:
            raise RemoteUnavailable("Cannot reach the chat server at http://laptop:8080/v1")
        self.loads.append(model_id)
        return Engine(model_id)

    def probe(self, engine: str, params: dict[str, Any]) -> Probe:
        if self.up:
            return Probe(healthy=True, latency_seconds=0.012)
        return Probe(healthy=False, latency_seconds=None, error="connection refused")


def build(remote: Remote, policy: str = "local") -> tuple[ModelManager, list[Fallback]]:
    store = Store()
    manager = ModelManager(
        store,
        budget_mb=1000,
        loader=remote.loader,  # type: ignore[arg-type]
        memory_probe=lambda: 50.0,  # a remote client grows the process a little: not a model
        fallback_policy={"llm": policy},
        local_for=lambda capability: LOCAL if capability is Capability.LLM else None,
        remotes=store.installed,
        prober=remote.probe,
    )
    fallbacks: list[Fallback] = []
    manager.on_fallback.append(fallbacks.append)
    return manager, fallbacks


async def test_a_remote_engine_costs_no_memory_and_reports_its_health() -> None:
    remote = Remote()
    manager, _ = build(remote)
    async with manager.use(REMOTE) as engine:
        assert engine.model_id == REMOTE
    assert manager.used_mb == 0
    (status,) = await manager.check_remotes()
    assert (status.id, status.healthy, status.latency_ms, status.fallback) == (
        REMOTE,
        True,
        12.0,
        "local",
    )
    remote.up = False
    (status,) = await manager.check_remotes()
    assert status.healthy is False and status.error == "connection refused"


async def test_down_at_load_a_local_model_stands_in() -> None:
    remote = Remote()
    remote.up = False
    manager, fallbacks = build(remote)
    async with manager.use(REMOTE) as engine:
        assert engine.model_id == LOCAL
    assert fallbacks == [
        Fallback(REMOTE, LOCAL, "Cannot reach the chat server at http://laptop:8080/v1")
    ]
    assert manager.down_reason(REMOTE) is not None
    async with manager.use(REMOTE) as engine:  # known down: straight to the local one
        assert engine.model_id == LOCAL
    assert remote.loads == [LOCAL]
    remote.up = True
    await manager.check_remotes()
    async with manager.use(REMOTE) as engine:  # back up: the remote one again
        assert engine.model_id == REMOTE


async def test_fallback_fail_refuses_while_down() -> None:
    remote = Remote()
    remote.up = False
    manager, fallbacks = build(remote, policy="fail")
    with pytest.raises(RemoteUnavailable, match="Cannot reach"):
        async with manager.use(REMOTE):
            pass
    with pytest.raises(RemoteUnavailable, match="is down"):
        async with manager.use(REMOTE):
            pass
    assert fallbacks == []


async def test_failing_mid_request_fails_it_and_marks_the_remote_down() -> None:
    remote = Remote()
    manager, fallbacks = build(remote)
    with pytest.raises(RemoteUnavailable):
        async with manager.use(REMOTE):
            raise RemoteUnavailable("the server hung up")
    assert manager.down_reason(REMOTE) == "the server hung up"
    async with manager.use(REMOTE) as engine:
        assert engine.model_id == LOCAL
    assert [f.used for f in fallbacks] == [LOCAL]


async def test_another_models_failure_passing_through_is_not_blamed_on_the_outer_one() -> None:
    remote = Remote()
    manager, _ = build(remote)
    with pytest.raises(RemoteUnavailable):
        async with manager.use(OTHER), manager.use(REMOTE):
            raise RemoteUnavailable("the server hung up")
    assert manager.down_reason(REMOTE) == "the server hung up"
    assert manager.down_reason(OTHER) is None
