"""The model manager: lazy loading, one memory budget for every kind of model, LRU
eviction, keep-alive, and a fair, bounded queue per model.

Engines are not thread-safe (a llama.cpp context serves one request at a time), so each
loaded model is used by one caller at a time; others wait in FIFO order on the model's
lock, at most ``max_queue`` of them. Loading and eviction decisions are serialised by
one lock so the budget is never overcommitted. Blocking work (loading, closing) runs in
worker threads; the event loop never waits on it.

Keep-alive follows Ollama: a duration in seconds after the last use, 0 = unload right
after use, negative = keep forever.

Remote engines (another server's OpenAI ``/v1``, a Wyoming service) are models with no
local memory cost. They are health-checked every ``health_interval_seconds``; while one
is down (or when it cannot be reached at load), a request for it is served by a local
model of the same capability, or refused with ``RemoteUnavailable``, as the capability's
fallback policy says (``local`` by default, or ``fail``). Each fallback is logged and
handed to the ``on_fallback`` listeners.

The manager shares one ``ThreadPolicy`` (``runtime.cpu``) with the engines it loads: an
engine with a ``share_cpu(policy)`` method (the llama.cpp chat model, whisper.cpp, Piper)
gets it and reports when it computes; the other local engines of heavy capabilities (speech to text,
translation, vision) count as computing while they are lent. So the chat model decodes on
every core when nothing else of ours runs, and on fewer while Piper speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from runtime.cpu import ThreadPolicy
from runtime.engines import Capability, Engine, is_remote, load_engine
from runtime.errors import ModelBusy, ModelRuntimeError, RemoteUnavailable, ResourceExhausted
from runtime.events import NO_EVENTS, Emitter
from runtime.modelstore import InstalledModel
from runtime.remote import Probe, probe

log = logging.getLogger(__name__)

T = TypeVar("T")

Loader = Callable[[str, str, Path, Mapping[str, Any]], Engine]
"""(engine name, model id, folder, params) -> loaded engine."""


class InstalledModels(Protocol):
    """What the manager needs of the model store."""

    def require(self, model_id: str) -> InstalledModel:
        """An installed model, or ModelNotInstalled."""
        ...


Prober = Callable[[str, dict[str, Any]], Probe]
"""(engine name, params) -> one health check of a remote engine (blocking)."""

LIGHT_CAPABILITIES = frozenset({Capability.VAD, Capability.WAKE})
"""Engines lent for a whole listening session that compute a little per audio chunk: their
leases do not count as computing for the thread policy."""


@dataclass(frozen=True)
class RemoteStatus:
    """What ``remote_status`` reports about a remote engine."""

    id: str
    """Model id."""
    capability: Capability
    """What it does."""
    engine: str
    """``openai``, ``wyoming_stt``..."""
    url: str
    """Where it runs."""
    healthy: bool | None
    """The last check's verdict; None before the first."""
    latency_ms: float | None
    """Round trip of the last good check."""
    checked_at: float | None
    """Clock time of the last check."""
    error: str | None
    """Why the last check failed."""
    fallback: str
    """``local`` or ``fail``: what happens while it is down."""


@dataclass(frozen=True)
class Fallback:
    """A request for a remote engine that is down went to a local model instead."""

    requested: str
    """The remote model asked for."""
    used: str
    """The local model that serves the request."""
    reason: str
    """Why the remote one could not."""


@dataclass
class _Health:
    healthy: bool | None = None
    latency_ms: float | None = None
    checked_at: float | None = None
    error: str | None = None


def resident_memory_mb() -> float:
    """This process's resident memory (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as handle:  # noqa: PTH123 - a tiny procfs read
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1_048_576


def total_memory_mb() -> int:
    """Physical memory of the machine (MB)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1_048_576)
    except (ValueError, OSError):
        return 4096


def default_budget_mb() -> int:
    """Budget when none is configured: 60% of physical memory."""
    return int(total_memory_mb() * 0.6)


@dataclass(frozen=True)
class LoadedModel:
    """What ``status`` reports about a loaded model."""

    id: str
    """Model id."""
    capability: Capability
    """What it does."""
    engine: str
    """Engine running it."""
    memory_mb: float
    """Memory charged to the budget (measured at load when possible)."""
    estimated_mb: int
    """The manifest's estimate."""
    loaded_at: float
    """Clock time of the load."""
    last_used: float
    """Clock time of the last release."""
    expires_at: float | None
    """When keep-alive unloads it; None = kept."""
    in_use: bool
    """A request holds it now."""
    queued: int
    """Requests waiting for it."""
    pinned: bool
    """Never evicted."""


@dataclass
class _Slot:
    model_id: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    reserved: bool = False
    engine: Engine | None = None
    model: InstalledModel | None = None
    memory_mb: float = 0.0
    loaded_at: float = 0.0
    last_used: float = 0.0
    keep_alive_seconds: float | None = None


class ModelManager:
    """Loads models on first use and keeps the set that fits the memory budget."""

    def __init__(
        self,
        store: InstalledModels,
        *,
        budget_mb: int | None = None,
        keep_alive_seconds: float = 300.0,
        keep_alive_seconds_by_model: Mapping[str, float] | None = None,
        pinned: Iterable[str] = (),
        params_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        max_queue: int = 8,
        loader: Loader = load_engine,
        clock: Callable[[], float] = time.monotonic,
        memory_probe: Callable[[], float] = resident_memory_mb,
        fallback_policy: Mapping[str, str] | None = None,
        local_for: Callable[[Capability], str | None] | None = None,
        remotes: Callable[[], Iterable[InstalledModel]] | None = None,
        prober: Prober = probe,
        health_interval_seconds: float = 15.0,
        events: Emitter = NO_EVENTS,
        thread_policy: ThreadPolicy | None = None,
    ) -> None:
        self.store = store
        self.budget_mb = budget_mb or default_budget_mb()
        self.keep_alive_seconds = keep_alive_seconds
        self.keep_alive_seconds_by_model = dict(keep_alive_seconds_by_model or {})
        self.pinned = set(pinned)
        self.params_overrides = {k: dict(v) for k, v in (params_overrides or {}).items()}
        self.max_queue = max_queue
        self.loader = loader
        self.clock = clock
        self.memory_probe = memory_probe
        self.events = events
        self.preload_state: dict[str, str] = {}
        self.fallback_policy = dict(fallback_policy or {})
        """Per capability value: ``local`` (default) or ``fail``."""
        self.local_for = local_for
        """The local model that stands in for a capability; None: no fallback."""
        self.remotes = remotes
        """The remote engines to health-check."""
        self.prober = prober
        self.health_interval_seconds = health_interval_seconds
        self.on_fallback: list[Callable[[Fallback], None]] = []
        """Called with every fallback to a local model."""
        self.thread_policy = thread_policy or ThreadPolicy()
        """Threads for the engines, from which of them compute and the load from outside."""
        self._health: dict[str, _Health] = {}
        self._remote_kind: dict[str, Capability] = {}
        self._slots: dict[str, _Slot] = {}
        self._budget_lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None

    # Using ------------------------------------------------------------------------

    @asynccontextmanager
    async def use(
        self, model_id: str, *, keep_alive_seconds: float | None = None
    ) -> AsyncIterator[Any]:
        """Hold a loaded model for one request (loading it first if needed).

        ``keep_alive_seconds`` replaces the model's keep-alive from now on. A remote model
        that is down is replaced by a local one (or refused) as its fallback policy says;
        one that fails during the request marks itself down for the next.
        """
        model_id = self._stand_in(model_id, self.down_reason(model_id))
        try:
            async with self._use(model_id, keep_alive_seconds) as engine:
                yield engine
                return
        except RemoteUnavailable as exc:
            if exc.fields.get("model_id") != model_id:
                raise  # another model's failure, passing through
            self._mark_down(model_id, exc.detail)
            if not exc.fields.pop("during_load", False):
                raise  # failed mid-request: the caller decides what to tell its client
            local = self._stand_in(model_id, exc.detail, cause=exc)
        async with self._use(local, keep_alive_seconds) as engine:
            yield engine

    @asynccontextmanager
    async def _use(self, model_id: str, keep_alive_seconds: float | None) -> AsyncIterator[Any]:
        slot = self._slots.setdefault(model_id, _Slot(model_id))
        if slot.waiting >= self.max_queue:
            raise ResourceExhausted(
                f"{slot.waiting} requests are already waiting for {model_id}; try again shortly",
                retry_after_seconds=2,
                model_id=model_id,
            )
        slot.waiting += 1
        try:
            await slot.lock.acquire()
        finally:
            slot.waiting -= 1
        slot.reserved = True
        try:
            try:
                engine = await _finish_despite_cancel(self._ensure_loaded(slot))
            except RemoteUnavailable as exc:
                exc.fields.update(model_id=model_id, during_load=True)
                raise
            try:
                with self._computing(slot, engine):
                    yield engine
            except RemoteUnavailable as exc:
                exc.fields.setdefault("model_id", model_id)
                raise
        finally:
            slot.reserved = False
            slot.last_used = self.clock()
            if keep_alive_seconds is not None:
                slot.keep_alive_seconds = keep_alive_seconds
            slot.lock.release()
            if slot.engine is not None and self._keep_alive_seconds(slot) == 0:
                await self._unload(slot, "keep-alive")

    async def load(self, model_id: str, *, keep_alive_seconds: float | None = None) -> LoadedModel:
        """Load a model now, optionally with its own keep-alive."""
        slot = self._slots.setdefault(model_id, _Slot(model_id))
        async with slot.lock:
            slot.reserved = True
            try:
                await _finish_despite_cancel(self._ensure_loaded(slot))
            finally:
                slot.reserved = False
            slot.last_used = self.clock()
            if keep_alive_seconds is not None:
                slot.keep_alive_seconds = keep_alive_seconds
        return self._info(slot)

    async def unload(self, model_id: str) -> bool:
        """Unload a model that is not in use; False if it was not loaded."""
        slot = self._slots.get(model_id)
        if slot is None or slot.engine is None:
            return False
        if slot.reserved or slot.lock.locked():
            raise ModelBusy(f"{model_id} is in use; try again when the request finishes")
        async with slot.lock:
            await self._unload(slot, "request")
        return True

    async def preload(self, model_ids: Iterable[str]) -> None:
        """Load models at start-up, recording progress for readiness checks."""
        for model_id in model_ids:
            self.preload_state[model_id] = "loading"
        for model_id in model_ids:
            try:
                await self.load(model_id)
            except ModelRuntimeError as exc:
                self.preload_state[model_id] = f"failed: {exc.detail}"
                log.error("preloading %s failed: %s", model_id, exc.detail)
            else:
                self.preload_state[model_id] = "loaded"

    def pin(self, model_id: str, pinned: bool = True) -> None:
        """Exempt a model from eviction and keep-alive (or stop doing so)."""
        if pinned:
            self.pinned.add(model_id)
        else:
            self.pinned.discard(model_id)

    # Reporting --------------------------------------------------------------------

    def status(self) -> list[LoadedModel]:
        """Every loaded model, most recently used first."""
        loaded = [self._info(s) for s in self._slots.values() if s.engine is not None]
        return sorted(loaded, key=lambda m: m.last_used, reverse=True)

    def remote_status(self) -> list[RemoteStatus]:
        """Every remote engine known to the health checker, by id."""
        found = []
        for model in self._remote_models():
            health = self._health.get(model.id, _Health())
            found.append(
                RemoteStatus(
                    id=model.id,
                    capability=model.capability,
                    engine=model.engine,
                    url=str(model.params.get("url", "")),
                    healthy=health.healthy,
                    latency_ms=health.latency_ms,
                    checked_at=health.checked_at,
                    error=health.error,
                    fallback=self.fallback_policy.get(model.capability.value, "local"),
                )
            )
        return sorted(found, key=lambda r: r.id)

    async def check_remotes(self) -> list[RemoteStatus]:
        """Health-check every remote engine now (in worker threads, at once)."""
        models = await asyncio.to_thread(lambda: list(self._remote_models()))

        async def check(model: InstalledModel) -> None:
            result = await asyncio.to_thread(self.prober, model.engine, dict(model.params))
            health = self._health.setdefault(model.id, _Health())
            was = health.healthy
            health.healthy, health.error = result.healthy, result.error
            health.checked_at = self.clock()
            if result.latency_seconds is not None:
                health.latency_ms = result.latency_seconds * 1000
            if was is not result.healthy:
                if result.healthy:
                    log.info("remote engine %s is up (%.0f ms)", model.id, health.latency_ms or 0)
                else:
                    log.warning("remote engine %s is down: %s", model.id, result.error)

        await asyncio.gather(*(check(m) for m in models))
        return self.remote_status()

    @property
    def used_mb(self) -> float:
        """Memory charged by loaded models."""
        return sum(s.memory_mb for s in self._slots.values() if s.engine is not None)

    # Keep-alive -------------------------------------------------------------------

    async def reap(self) -> list[str]:
        """Unload idle models whose keep-alive ran out; their ids."""
        now = self.clock()
        expired = [
            slot
            for slot in self._slots.values()
            if slot.engine is not None
            and not slot.reserved
            and not slot.lock.locked()
            and (deadline := self._expires_at(slot)) is not None
            and deadline <= now
        ]
        for slot in expired:
            async with slot.lock:
                if slot.engine is not None:
                    log.info("keep-alive over: unloading %s", slot.model_id)
                    await self._unload(slot, "keep-alive")
        return [slot.model_id for slot in expired]

    def start(self, interval_seconds: float = 1.0) -> None:
        """Run ``reap`` periodically on the current event loop."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_seconds)
                await self.reap()

        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(loop(), name="model-reaper")

        async def check_loop() -> None:
            while True:
                try:
                    await self.check_remotes()
                except Exception:  # a bad entry must not stop the checks of the others
                    log.exception("remote health check failed")
                await asyncio.sleep(self.health_interval_seconds)

        if self._checker is None and self.remotes is not None:
            self._checker = asyncio.get_running_loop().create_task(
                check_loop(), name="remote-health"
            )

    async def close(self) -> None:
        """Stop the reaper and unload everything."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self._checker is not None:
            self._checker.cancel()
            self._checker = None
        for slot in list(self._slots.values()):
            if slot.engine is not None:
                async with slot.lock:
                    await self._unload(slot, "shutdown")

    # Internals --------------------------------------------------------------------

    def _computing(self, slot: _Slot, engine: Engine) -> AbstractContextManager[None]:
        """Count a lent engine as computing, unless it reports that itself, runs on another
        machine or computes too little to matter (VAD, wake word)."""
        model = slot.model
        if (
            model is None
            or is_remote(model.engine)
            or model.capability in LIGHT_CAPABILITIES
            or callable(getattr(engine, "share_cpu", None))
        ):
            return nullcontext()
        return self.thread_policy.activity.busy(slot.model_id)

    async def _ensure_loaded(self, slot: _Slot) -> Engine:
        if slot.engine is not None:
            return slot.engine
        model = await asyncio.to_thread(self.store.require, slot.model_id)
        if is_remote(model.engine):
            self._remote_kind[slot.model_id] = model.capability
        async with self._budget_lock:
            await self._make_room(slot, model.memory_mb)
            params = {**model.params, **self.params_overrides.get(slot.model_id, {})}
            before = self.memory_probe()
            started = time.perf_counter()
            engine = await asyncio.to_thread(
                self.loader, model.engine, slot.model_id, model.path, params
            )
            measured = self.memory_probe() - before
            share_cpu = getattr(engine, "share_cpu", None)
            if callable(share_cpu):
                share_cpu(self.thread_policy)
            slot.engine, slot.model = engine, model
            # The measured growth corrects the estimate; lazily mapped weights can make
            # it smaller at first, so the estimate is the floor. A remote engine's memory
            # is on another machine: what it allocates here (a socket) is not a model.
            remote = is_remote(model.engine)
            slot.memory_mb = 0.0 if remote else max(float(model.memory_mb), measured)
            if remote:
                self._mark_up(model)
            slot.loaded_at = slot.last_used = self.clock()
            load_seconds = time.perf_counter() - started
            self.events.emit(
                "model.load",
                {
                    "model": slot.model_id,
                    "capability": model.capability.value,
                    "engine": model.engine,
                    "load_ms": round(load_seconds * 1000, 1),
                    "memory_mb": round(slot.memory_mb, 1),
                },
            )
            log.info(
                "loaded %s (%s) in %.2f s: +%.0f MB resident (estimate %d MB); %.0f/%d MB used",
                slot.model_id,
                model.engine,
                load_seconds,
                measured,
                model.memory_mb,
                self.used_mb,
                self.budget_mb,
            )
        return engine

    def _remote_models(self) -> Iterable[InstalledModel]:
        if self.remotes is None:
            return ()
        models = [m for m in self.remotes() if is_remote(m.engine)]
        for model in models:
            self._remote_kind[model.id] = model.capability
        return models

    def down_reason(self, model_id: str) -> str | None:
        """Why a remote model is down, as its last check or request said; None when it is
        not known to be down."""
        health = self._health.get(model_id)
        if health is None or health.healthy is not False:
            return None
        return health.error or "it failed its last health check"

    def _stand_in(
        self, model_id: str, reason: str | None, cause: RemoteUnavailable | None = None
    ) -> str:
        """``model_id``, or the local model that answers for it while it is down."""
        if reason is None:
            return model_id
        capability = self._remote_kind.get(model_id)
        policy = self.fallback_policy.get(capability.value, "local") if capability else "fail"
        local = self.local_for(capability) if capability and self.local_for else None
        if policy == "fail" or local is None or local == model_id:
            why = "" if policy == "fail" else " and no local model can stand in"
            if cause is not None and not why:
                raise cause
            raise RemoteUnavailable(
                f"The remote engine {model_id} is down ({reason}){why}", model_id=model_id
            )
        log.warning("remote engine %s is down (%s): using %s instead", model_id, reason, local)
        fallback = Fallback(requested=model_id, used=local, reason=reason)
        for listener in self.on_fallback:
            listener(fallback)
        return local

    def _mark_down(self, model_id: str, reason: str) -> None:
        health = self._health.setdefault(model_id, _Health())
        if health.healthy is not False:
            log.warning("remote engine %s is down: %s", model_id, reason)
        health.healthy, health.error, health.checked_at = False, reason, self.clock()

    def _mark_up(self, model: InstalledModel) -> None:
        self._remote_kind[model.id] = model.capability
        health = self._health.setdefault(model.id, _Health())
        health.healthy, health.error = True, None

    async def _make_room(self, slot: _Slot, needed_mb: float) -> None:
        while self.used_mb + needed_mb > self.budget_mb:
            victims = [
                s
                for s in self._slots.values()
                if s.engine is not None
                and s is not slot
                and not s.reserved
                and not s.lock.locked()
                and s.model_id not in self.pinned
            ]
            if not victims:
                loaded = ", ".join(
                    f"{s.model_id} ({s.memory_mb:.0f} MB{', in use' if s.reserved else ''}"
                    f"{', pinned' if s.model_id in self.pinned else ''})"
                    for s in self._slots.values()
                    if s.engine is not None
                )
                raise ResourceExhausted(
                    f"{slot.model_id} needs about {needed_mb:.0f} MB but the model memory budget"
                    f" is {self.budget_mb} MB with {self.used_mb:.0f} MB held by:"
                    f" {loaded or 'nothing'}."
                    " Unload a model, raise models.memory_budget_mb, or try again later.",
                    retry_after_seconds=5,
                    model_id=slot.model_id,
                )
            victim = min(victims, key=lambda s: s.last_used)
            log.info("evicting %s (least recently used) to make room", victim.model_id)
            await self._unload(victim, "evicted")

    async def _unload(self, slot: _Slot, reason: str) -> None:
        engine, slot.engine, slot.model = slot.engine, None, None
        memory_mb, slot.memory_mb = slot.memory_mb, 0.0
        if engine is not None:
            await asyncio.to_thread(engine.close)
            self.events.emit(
                "model.unload",
                {"model": slot.model_id, "reason": reason, "memory_mb": round(memory_mb, 1)},
            )
            log.info("unloaded %s", slot.model_id)

    def _keep_alive_seconds(self, slot: _Slot) -> float:
        if slot.model_id in self.pinned:
            return -1
        if slot.keep_alive_seconds is not None:
            return slot.keep_alive_seconds
        return self.keep_alive_seconds_by_model.get(slot.model_id, self.keep_alive_seconds)

    def _expires_at(self, slot: _Slot) -> float | None:
        keep = self._keep_alive_seconds(slot)
        return None if keep < 0 else slot.last_used + keep

    def _info(self, slot: _Slot) -> LoadedModel:
        assert slot.model is not None
        return LoadedModel(
            id=slot.model_id,
            capability=slot.model.capability,
            engine=slot.model.engine,
            memory_mb=slot.memory_mb,
            estimated_mb=slot.model.memory_mb,
            loaded_at=slot.loaded_at,
            last_used=slot.last_used,
            expires_at=self._expires_at(slot),
            in_use=slot.reserved,
            queued=slot.waiting,
            pinned=slot.model_id in self.pinned,
        )


async def _finish_despite_cancel(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even when the caller is cancelled (then the cancellation is
    raised once it has finished): a load given up half-way (a pre-warm cancelled) still
    registers the engine its thread made, and the slot is not released while that thread
    runs, so nobody loads the same model twice."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation wins
        raise
