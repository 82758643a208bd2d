"""The model manager: lazy loading, one memory budget for every kind of model, LRU
eviction, keep-alive, and a fair, bounded queue per model.

Engines are not thread-safe (a llama.cpp context serves one request at a time), so each
loaded model is used by one caller at a time; others wait in FIFO order on the model's
lock, at most ``max_queue`` of them. Loading and eviction decisions are serialised by
one lock so the budget is never overcommitted. Blocking work (loading, closing) runs in
worker threads; the event loop never waits on it.

Keep-alive follows Ollama: a duration in seconds after the last use, 0 = unload right
after use, negative = keep forever.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runtime.engines import Capability, Engine, load_engine
from runtime.errors import ModelBusy, ModelRuntimeError, ResourceExhausted
from runtime.modelstore import InstalledModel

log = logging.getLogger(__name__)

Loader = Callable[[str, str, Path, Mapping[str, Any]], Engine]
"""(engine name, model id, folder, params) -> loaded engine."""


class InstalledModels(Protocol):
    """What the manager needs of the model store."""

    def require(self, model_id: str) -> InstalledModel:
        """An installed model, or ModelNotInstalled."""
        ...


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
        self.preload_state: dict[str, str] = {}
        self._slots: dict[str, _Slot] = {}
        self._budget_lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    # Using ------------------------------------------------------------------------

    @asynccontextmanager
    async def use(
        self, model_id: str, *, keep_alive_seconds: float | None = None
    ) -> AsyncIterator[Any]:
        """Hold a loaded model for one request (loading it first if needed).

        ``keep_alive_seconds`` replaces the model's keep-alive from now on.
        """
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
            engine = await self._ensure_loaded(slot)
            yield engine
        finally:
            slot.reserved = False
            slot.last_used = self.clock()
            if keep_alive_seconds is not None:
                slot.keep_alive_seconds = keep_alive_seconds
            slot.lock.release()
            if slot.engine is not None and self._keep_alive_seconds(slot) == 0:
                await self._unload(slot)

    async def load(self, model_id: str, *, keep_alive_seconds: float | None = None) -> LoadedModel:
        """Load a model now, optionally with its own keep-alive."""
        slot = self._slots.setdefault(model_id, _Slot(model_id))
        async with slot.lock:
            slot.reserved = True
            try:
                await self._ensure_loaded(slot)
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
            await self._unload(slot)
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
                    await self._unload(slot)
        return [slot.model_id for slot in expired]

    def start(self, interval_seconds: float = 1.0) -> None:
        """Run ``reap`` periodically on the current event loop."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_seconds)
                await self.reap()

        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(loop(), name="model-reaper")

    async def close(self) -> None:
        """Stop the reaper and unload everything."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        for slot in list(self._slots.values()):
            if slot.engine is not None:
                async with slot.lock:
                    await self._unload(slot)

    # Internals --------------------------------------------------------------------

    async def _ensure_loaded(self, slot: _Slot) -> Engine:
        if slot.engine is not None:
            return slot.engine
        model = await asyncio.to_thread(self.store.require, slot.model_id)
        async with self._budget_lock:
            await self._make_room(slot, model.memory_mb)
            params = {**model.params, **self.params_overrides.get(slot.model_id, {})}
            before = self.memory_probe()
            started = time.perf_counter()
            engine = await asyncio.to_thread(
                self.loader, model.engine, slot.model_id, model.path, params
            )
            measured = self.memory_probe() - before
            slot.engine, slot.model = engine, model
            # The measured growth corrects the estimate; lazily mapped weights can make
            # it smaller at first, so the estimate is the floor.
            slot.memory_mb = max(float(model.memory_mb), measured)
            slot.loaded_at = slot.last_used = self.clock()
            log.info(
                "loaded %s (%s) in %.2f s: +%.0f MB resident (estimate %d MB); %.0f/%d MB used",
                slot.model_id,
                model.engine,
                time.perf_counter() - started,
                measured,
                model.memory_mb,
                self.used_mb,
                self.budget_mb,
            )
        return engine

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
            await self._unload(victim)

    async def _unload(self, slot: _Slot) -> None:
        engine, slot.engine, slot.model = slot.engine, None, None
        slot.memory_mb = 0.0
        if engine is not None:
            await asyncio.to_thread(engine.close)
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
