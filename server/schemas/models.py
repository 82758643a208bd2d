"""Bodies of ``/api/v1/models``."""

from __future__ import annotations

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from runtime.manager import LoadedModel, RemoteStatus
from runtime.manifest import ModelEntry
from runtime.modelstore import InstalledModel


class InstalledModelOut(msgspec.Struct, kw_only=True):
    """A model in the store."""

    id: str
    capability: str
    engine: str
    size_bytes: int
    memory_mb: int
    description: str
    source: str

    @classmethod
    def of(cls, model: InstalledModel) -> InstalledModelOut:
        return cls(
            id=model.id,
            capability=model.capability.value,
            engine=model.engine,
            size_bytes=model.size,
            memory_mb=model.memory_mb,
            description=model.description,
            source=model.source,
        )


class LoadedModelOut(msgspec.Struct, kw_only=True):
    """A model held in memory."""

    id: str
    capability: str
    engine: str
    memory_mb: float
    """Charged to the budget (measured at load when possible)."""
    estimated_mb: int
    in_use: bool
    queued: int
    """Requests waiting for it."""
    pinned: bool
    idle_seconds: float
    expires_in: float | None
    """Seconds until keep-alive unloads it; null = kept."""

    @classmethod
    def of(cls, model: LoadedModel, now: float) -> LoadedModelOut:
        return cls(
            id=model.id,
            capability=model.capability.value,
            engine=model.engine,
            memory_mb=round(model.memory_mb, 1),
            estimated_mb=model.estimated_mb,
            in_use=model.in_use,
            queued=model.queued,
            pinned=model.pinned,
            idle_seconds=round(max(0.0, now - model.last_used), 1),
            expires_in=None
            if model.expires_at is None
            else round(max(0.0, model.expires_at - now), 1),
        )


class RemoteModelOut(msgspec.Struct, kw_only=True):
    """An engine on another machine and its last health check."""

    id: str
    capability: str
    engine: str
    """openai, wyoming_stt, wyoming_tts or wyoming_wake."""
    url: str
    healthy: bool | None
    """The last check's verdict; null before the first."""
    latency_ms: float | None
    """Round trip of the last good check."""
    checked_seconds_ago: float | None
    error: str | None
    """Why the last check failed."""
    fallback: str
    """local (a local model answers while it is down) or fail."""

    @classmethod
    def of(cls, remote: RemoteStatus, now: float) -> RemoteModelOut:
        return cls(
            id=remote.id,
            capability=remote.capability.value,
            engine=remote.engine,
            url=remote.url,
            healthy=remote.healthy,
            latency_ms=None if remote.latency_ms is None else round(remote.latency_ms, 1),
            checked_seconds_ago=None
            if remote.checked_at is None
            else round(max(0.0, now - remote.checked_at), 1),
            error=remote.error,
            fallback=remote.fallback,
        )


class ModelsOut(msgspec.Struct, kw_only=True):
    """Installed and loaded models, and the memory budget."""

    installed: list[InstalledModelOut]
    loaded: list[LoadedModelOut]
    budget_mb: int
    used_mb: float
    preload: dict[str, str]
    """Start-up preloading state per model: loading, loaded or failed: why."""
    remote: list[RemoteModelOut] = msgspec.field(default_factory=list)
    """Engines on other machines (no local memory), with their health and latency."""


class LoadRequest(BaseModel):
    """How long the model should stay loaded."""

    model_config = ConfigDict(extra="forbid", strict=True)

    keep_alive: float | None = Field(
        default=None, description="Seconds to keep it after use; negative = forever; null = default"
    )


class PullRequest(BaseModel):
    """A catalogue model to install."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=100, description="Model id, `name:tag`")
    force: bool = Field(default=False, description="Download again even when installed")


class PullProgressOut(msgspec.Struct, kw_only=True):
    """How far one download of a pull has come."""

    description: str
    """What is being fetched (a file, a package part, a conversion)."""
    done_bytes: int
    total_bytes: int | None
    """None when the source does not say."""


class CatalogueModelOut(msgspec.Struct, kw_only=True):
    """A model the catalogue (``models/manifest.toml``) can install."""

    id: str
    capability: str
    engine: str
    description: str
    size_bytes: int | None
    """Download size, when every file's size is known."""
    memory_mb: int
    installed: bool

    @classmethod
    def of(cls, entry: ModelEntry, installed: bool) -> CatalogueModelOut:
        sizes = [f.size for f in entry.files]
        return cls(
            id=entry.id,
            capability=entry.capability.value,
            engine=entry.engine,
            description=entry.description,
            size_bytes=None if any(s is None for s in sizes) else sum(s or 0 for s in sizes),
            memory_mb=entry.memory_mb,
            installed=installed,
        )
