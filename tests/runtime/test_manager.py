"""The model manager with a fake store and fake engines: budget, eviction, keep-alive, queues."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from runtime.cpu import ThreadPolicy, choose_threads
from runtime.engines import Capability
from runtime.errors import ModelBusy, ModelNotInstalled, ResourceExhausted
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel


class FakeStore:
    def __init__(
        self,
        sizes: Mapping[str, int],
        capabilities: Mapping[str, Capability] | None = None,
        engines: Mapping[str, str] | None = None,
    ) -> None:
        self.sizes = dict(sizes)
        self.capabilities = dict(capabilities or {})
        self.engines = dict(engines or {})

    def require(self, model_id: str) -> InstalledModel:
        if model_id not in self.sizes:
            raise ModelNotInstalled(model_id)
        return InstalledModel(
            id=model_id,
            capability=self.capabilities.get(model_id, Capability.LLM),
            engine=self.engines.get(model_id, "fake"),
            params={"from_manifest": 1},
            memory_mb=self.sizes[model_id],
            description="",
            source="test",
            installed_at=0,
            verified_at=0,
            files=(),
            path=Path("/nonexistent") / model_id,
        )


class FakeEngine:
    def __init__(self, model_id: str, params: Mapping[str, Any]) -> None:
        self.model_id = model_id
        self.params = dict(params)
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def manager(
    sizes: Mapping[str, int], budget: int, clock: Clock | None = None, **kwargs: Any
) -> tuple[ModelManager, list[FakeEngine]]:
    engines: list[FakeEngine] = []

    def loader(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> FakeEngine:
        made = FakeEngine(model_id, params)
        engines.append(made)
        return made

    built = ModelManager(
        FakeStore(sizes),
        budget_mb=budget,
        loader=loader,  # type: ignore[arg-type]
        clock=clock or Clock(),
        memory_probe=lambda: 0.0,
        **kwargs,
    )
    return built, engines


async def test_loads_once_on_first_use_and_reuses() -> None:
    mgr, engines = manager({"a:1": 100}, budget=1000, params_overrides={"a:1": {"threads": 2}})
    async with mgr.use("a:1") as first:
        pass
    async with mgr.use("a:1") as second:
        pass
    assert first is second
    assert len(engines) == 1
    assert engines[0].params == {"from_manifest": 1, "threads": 2}
    [info] = mgr.status()
    assert (info.id, info.memory_mb, info.in_use) == ("a:1", 100, False)


async def test_missing_model_says_how_to_install_it() -> None:
    mgr, _ = manager({}, budget=1000)
    with pytest.raises(ModelNotInstalled, match="'x:1' is not installed"):
        async with mgr.use("x:1"):
            pass


async def test_evicts_least_recently_used_to_fit() -> None:
    clock = Clock()
    mgr, engines = manager({"a:1": 400, "b:1": 400, "c:1": 400}, budget=1000, clock=clock)
    for model_id in ("a:1", "b:1"):
        clock.now += 1
        async with mgr.use(model_id):
            pass
    clock.now += 1
    async with mgr.use("a:1"):  # a is now more recent than b
        pass
    clock.now += 1
    async with mgr.use("c:1"):
        pass
    assert sorted(m.id for m in mgr.status()) == ["a:1", "c:1"]
    assert [e.model_id for e in engines if e.closed] == ["b:1"]
    assert mgr.used_mb <= 1000


async def test_refuses_when_nothing_can_be_evicted() -> None:
    mgr, _ = manager({"a:1": 600, "b:1": 600}, budget=1000, pinned=["a:1"])
    await mgr.load("a:1")
    with pytest.raises(ResourceExhausted) as caught:
        async with mgr.use("b:1"):
            pass
    assert "a:1 (600 MB, pinned)" in caught.value.detail


async def test_a_model_in_use_is_never_evicted() -> None:
    mgr, engines = manager({"a:1": 600, "b:1": 600}, budget=1000)
    async with mgr.use("a:1"):
        with pytest.raises(ResourceExhausted, match="in use"):
            async with mgr.use("b:1"):
                pass
    async with mgr.use("b:1"):
        pass
    assert engines[0].closed


async def test_one_request_at_a_time_in_fifo_order() -> None:
    mgr, _ = manager({"a:1": 10}, budget=100)
    order: list[int] = []
    active = 0

    async def request(i: int) -> None:
        nonlocal active
        async with mgr.use("a:1"):
            active += 1
            assert active == 1
            order.append(i)
            await asyncio.sleep(0.01)
            active -= 1

    await asyncio.gather(*(request(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]


async def test_bounded_queue_rejects_with_retry_after() -> None:
    mgr, _ = manager({"a:1": 10}, budget=100, max_queue=2)
    release = asyncio.Event()

    async def hold() -> None:
        async with mgr.use("a:1"):
            await release.wait()

    async def wait_turn() -> None:
        async with mgr.use("a:1"):
            pass

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(wait_turn()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(ResourceExhausted) as caught:
        async with mgr.use("a:1"):
            pass
    assert caught.value.retry_after_seconds
    release.set()
    await asyncio.gather(holder, *waiters)


@pytest.mark.parametrize(
    ("keep_alive_seconds", "idle", "still_loaded"),
    [(300.0, 299.0, True), (300.0, 300.0, False), (-1.0, 10_000.0, True), (5.0, 6.0, False)],
)
async def test_keep_alive(keep_alive_seconds: float, idle: float, still_loaded: bool) -> None:
    clock = Clock()
    mgr, _ = manager({"a:1": 10}, budget=100, clock=clock, keep_alive_seconds=keep_alive_seconds)
    async with mgr.use("a:1"):
        pass
    clock.now += idle
    await mgr.reap()
    assert bool(mgr.status()) is still_loaded


async def test_keep_alive_zero_unloads_after_use() -> None:
    mgr, engines = manager({"a:1": 10}, budget=100)
    async with mgr.use("a:1", keep_alive_seconds=0):
        assert mgr.status()
    assert mgr.status() == []
    assert engines[0].closed


async def test_keep_alive_per_model_then_per_load() -> None:
    clock = Clock()
    mgr, _ = manager(
        {"a:1": 10, "b:1": 10},
        budget=100,
        clock=clock,
        keep_alive_seconds=300,
        keep_alive_seconds_by_model={"b:1": 10},
    )
    await mgr.load("a:1")
    loaded = await mgr.load("b:1")
    assert loaded.expires_at == 10
    assert (await mgr.load("a:1", keep_alive_seconds=-1)).expires_at is None
    clock.now += 11
    assert await mgr.reap() == ["b:1"]
    clock.now += 1000
    assert await mgr.reap() == []


async def test_pinned_models_stay() -> None:
    clock = Clock()
    mgr, _ = manager({"a:1": 10}, budget=100, clock=clock, keep_alive_seconds=1, pinned=["a:1"])
    await mgr.load("a:1")
    clock.now += 1000
    assert await mgr.reap() == []
    assert mgr.status()[0].pinned and mgr.status()[0].expires_at is None


async def test_unload_and_in_use_conflict() -> None:
    mgr, engines = manager({"a:1": 10}, budget=100)
    assert await mgr.unload("a:1") is False
    async with mgr.use("a:1"):
        with pytest.raises(ModelBusy):
            await mgr.unload("a:1")
    assert await mgr.unload("a:1") is True
    assert engines[0].closed


async def test_measured_memory_corrects_the_estimate() -> None:
    readings = iter([100.0, 900.0])
    mgr = ModelManager(
        FakeStore({"a:1": 300}),
        budget_mb=2000,
        loader=lambda e, m, p, params: FakeEngine(m, params),  # type: ignore[arg-type,return-value]
        memory_probe=lambda: next(readings),
    )
    await mgr.load("a:1")
    assert mgr.status()[0].memory_mb == 800
    assert mgr.status()[0].estimated_mb == 300


async def test_preload_records_state() -> None:
    mgr, _ = manager({"a:1": 10}, budget=100)
    await mgr.preload(["a:1", "missing:1"])
    assert mgr.preload_state["a:1"] == "loaded"
    assert mgr.preload_state["missing:1"].startswith("failed")


async def test_close_unloads_everything() -> None:
    mgr, engines = manager({"a:1": 10, "b:1": 10}, budget=100)
    await mgr.load("a:1")
    await mgr.load("b:1")
    mgr.start(interval_seconds=0.01)
    await mgr.close()
    assert all(e.closed for e in engines)
    assert mgr.status() == []


# The thread policy's view of which engines compute ----------------------------------------


class CpuAwareEngine(FakeEngine):
    """Reports its own computing (as the llama.cpp and Piper engines do)."""

    def __init__(self, model_id: str, params: Mapping[str, Any]) -> None:
        super().__init__(model_id, params)
        self.policy: ThreadPolicy | None = None

    def share_cpu(self, policy: ThreadPolicy) -> None:
        self.policy = policy


async def test_thread_policy_counts_lent_engines_that_compute() -> None:
    capabilities = {
        "stt:1": Capability.STT,
        "vad:1": Capability.VAD,
        "wake:1": Capability.WAKE,
        "remote:1": Capability.LLM,
        "tts:1": Capability.TTS,
    }
    store = FakeStore(dict.fromkeys(capabilities, 10), capabilities, engines={"remote:1": "openai"})
    made: dict[str, FakeEngine] = {}

    def loader(engine: str, model_id: str, path: Path, params: Mapping[str, Any]) -> FakeEngine:
        kind = CpuAwareEngine if model_id == "tts:1" else FakeEngine
        made[model_id] = kind(model_id, params)
        return made[model_id]

    policy = ThreadPolicy(cpu_count=2)
    mgr = ModelManager(
        store,
        budget_mb=1000,
        loader=loader,  # type: ignore[arg-type]
        memory_probe=lambda: 0.0,
        thread_policy=policy,
    )
    activity = policy.activity
    async with mgr.use("stt:1"):
        assert activity.busy_now() == {"stt:1"}  # a heavy engine computes while lent
    assert activity.busy_now() == frozenset()
    async with mgr.use("vad:1"), mgr.use("wake:1"), mgr.use("remote:1"):
        assert activity.busy_now() == frozenset()  # light, or on another machine
    async with mgr.use("tts:1") as tts:
        assert activity.busy_now() == frozenset()  # it reports its computing itself
        assert tts.policy is policy
    assert policy.threads("llm:1") == choose_threads(policy.state("llm:1"))


async def test_thread_policy_lease_ends_on_error() -> None:
    mgr, _ = manager({"a:1": 10}, budget=1000)
    with pytest.raises(RuntimeError):
        async with mgr.use("a:1"):
            assert mgr.thread_policy.activity.busy_now() == {"a:1"}
            raise RuntimeError("the request failed")
    assert mgr.thread_policy.activity.busy_now() == frozenset()


@pytest.mark.parametrize("how", ["use", "load"])
async def test_a_load_cancelled_half_way_still_registers_its_engine(how: str) -> None:
    loading, finish = threading.Event(), threading.Event()
    engines: list[FakeEngine] = []

    def slow_loader(
        engine: str, model_id: str, path: Path, params: Mapping[str, Any]
    ) -> FakeEngine:
        loading.set()
        finish.wait(10)
        made = FakeEngine(model_id, params)
        engines.append(made)
        return made

    mgr = ModelManager(
        FakeStore({"a:1": 100}),
        budget_mb=1000,
        loader=slow_loader,  # type: ignore[arg-type]
        clock=Clock(),
        memory_probe=lambda: 0.0,
    )

    async def load() -> None:
        if how == "use":
            async with mgr.use("a:1"):
                pass
        else:
            await mgr.load("a:1")

    task = asyncio.ensure_future(load())
    await asyncio.to_thread(loading.wait, 10)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # the cancellation waits for the loader's thread
    finish.set()
    await asyncio.wait({task})
    assert task.cancelled()
    # The engine the thread made is the manager's, free, and used as is (no second load).
    [status] = mgr.status()
    assert (status.id, status.in_use) == ("a:1", False)
    async with mgr.use("a:1") as engine:
        assert engine is engines[0]
    assert len(engines) == 1
