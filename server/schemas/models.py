"""Bodies of ``/api/v1/models``."""

from __future__ import annotations

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from runtime.manager import LoadedModel
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


class ModelsOut(msgspec.Struct, kw_only=True):
    """Installed and loaded models, and the memory budget."""

    installed: list[InstalledModelOut]
    loaded: list[LoadedModelOut]
    budget_mb: int
    used_mb: float
    preload: dict[str, str]
    """Start-up preloading state per model: loading, loaded or failed: why."""


class LoadRequest(BaseModel):
    """How long the model should stay loaded."""

    model_config = ConfigDict(extra="forbid", strict=True)

    keep_alive: float | None = Field(
        default=None, description="Seconds to keep it after use; negative = forever; null = default"
    )
