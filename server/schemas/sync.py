"""Bodies of ``/api/v1/sync`` and of the profile change log (``/api/v1/profile/changes``)."""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.clock import iso
from assistant.sync.models import (
    ChangePage,
    FieldChange,
    Rejected,
    Resolution,
    RoundResult,
    SyncStatus,
)

HLC_PATTERN = r"^[0-9]{15}\.[0-9]{6}\.[^\x00-\x1f]+$"


class ChangeIn(BaseModel):
    """One field's latest write, with its hybrid logical timestamp."""

    model_config = ConfigDict(extra="forbid", strict=True)

    field: str = Field(min_length=1, max_length=100)
    """``profile.<column>`` or ``preferences.<key>``."""
    value: Any = None
    """The value written (any JSON); null for a tombstone."""
    deleted: bool = False
    """A tombstone: the preference was reset to its default."""
    hlc: str = Field(pattern=HLC_PATTERN, max_length=100)
    """``<wall ms, 15 digits>.<counter, 6 digits>.<device id>``."""

    def change(self) -> FieldChange:
        return FieldChange(self.field, None if self.deleted else self.value, self.deleted, self.hlc)


class ChangesPush(BaseModel):
    """Changes pushed by another installation."""

    model_config = ConfigDict(extra="forbid", strict=True)

    device: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    """The pushing installation's device id."""
    changes: list[ChangeIn] = Field(max_length=1000)
    """Latest writes of the fields it changed."""


class ChangeOut(msgspec.Struct, kw_only=True):
    """One field's latest write."""

    field: str
    value: Any
    deleted: bool
    hlc: str

    @classmethod
    def of(cls, change: FieldChange) -> ChangeOut:
        return cls(field=change.field, value=change.value, deleted=change.deleted, hlc=change.hlc)


class ChangesOut(msgspec.Struct, kw_only=True):
    """The fields changed after a cursor, oldest first."""

    changes: list[ChangeOut]
    cursor: int
    """Ask ``since`` this next time (and send it in If-Match when pushing)."""
    more: bool
    """More changes follow: ask again from ``cursor``."""
    device: str
    """This installation's device id (a new one means the remote was replaced)."""

    @classmethod
    def of(cls, page: ChangePage) -> ChangesOut:
        return cls(
            changes=[ChangeOut.of(c) for c in page.changes],
            cursor=page.cursor,
            more=page.more,
            device=page.device,
        )


class RejectedOut(msgspec.Struct, kw_only=True):
    """A change not applied because its value is not valid here."""

    field: str
    reason: str

    @classmethod
    def of(cls, rejected: Rejected) -> RejectedOut:
        return cls(field=rejected.field, reason=rejected.reason)


class PushOut(msgspec.Struct, kw_only=True):
    """What a push did."""

    applied: int
    """Changes newer than what was here, now applied."""
    ignored: int
    """Changes older than (or the same as) what was here."""
    rejected: list[RejectedOut]
    cursor: int
    """The change log's position after the push."""


class SyncConfigIn(BaseModel):
    """The remote to sync with."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(min_length=1, max_length=2000)
    """Base URL of the remote instance of this server, e.g. ``https://cloud.example``."""
    api_key: str = Field(min_length=1, max_length=512)
    """An API key of your account on the remote (stored encrypted, never shown again)."""


class ConflictOut(msgspec.Struct, kw_only=True):
    """A field both sides changed, and who won by the clocks."""

    field: str
    winner: str
    """``local`` or ``remote``."""
    local_hlc: str
    remote_hlc: str
    resolved_at: str | None

    @classmethod
    def of(cls, conflict: Resolution) -> ConflictOut:
        return cls(
            field=conflict.field,
            winner=conflict.winner,
            local_hlc=conflict.local_hlc,
            remote_hlc=conflict.remote_hlc,
            resolved_at=iso(conflict.resolved_at),
        )


class SyncStatusOut(msgspec.Struct, kw_only=True):
    """Where the caller's sync stands."""

    enabled: bool
    url: str | None
    source: str | None
    """``user`` (your own config) or ``settings`` (the device's default)."""
    device_id: str
    pending: int
    """Local changes the remote has not acknowledged yet."""
    last_attempt_at: str | None
    last_success_at: str | None
    last_error_code: str | None
    """``unreachable``, ``unauthorized``, ``remote-error`` or ``busy``; null after a success."""
    last_error: str | None
    failures: int
    """Failed rounds in a row."""
    next_attempt_at: str | None
    pushed_total: int
    pulled_total: int
    conflicts_total: int
    recent_conflicts: list[ConflictOut]

    @classmethod
    def of(cls, status: SyncStatus) -> SyncStatusOut:
        return cls(
            enabled=status.enabled,
            url=status.url,
            source=status.source,
            device_id=status.device_id,
            pending=status.pending,
            last_attempt_at=iso(status.last_attempt_at),
            last_success_at=iso(status.last_success_at),
            last_error_code=status.last_error_code,
            last_error=status.last_error,
            failures=status.failures,
            next_attempt_at=iso(status.next_attempt_at),
            pushed_total=status.pushed_total,
            pulled_total=status.pulled_total,
            conflicts_total=status.conflicts_total,
            recent_conflicts=[ConflictOut.of(c) for c in status.recent_conflicts],
        )


class RoundOut(msgspec.Struct, kw_only=True):
    """The outcome of one sync round."""

    outcome: str
    """``ok``, ``unreachable``, ``unauthorized``, ``remote-error`` or ``busy``."""
    pulled: int
    pushed: int
    conflicts: list[ConflictOut]
    error: str | None
    started_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, result: RoundResult) -> RoundOut:
        return cls(
            outcome=result.outcome.value,
            pulled=result.pulled,
            pushed=result.pushed,
            conflicts=[ConflictOut.of(c) for c in result.conflicts],
            error=result.error,
            started_at=iso(result.started_at),
            finished_at=iso(result.finished_at),
        )
