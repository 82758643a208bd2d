"""Values of the sync bridge: field changes, pages of the change log, round outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PROFILE_FIELDS = ("display_name", "locale", "time_zone")
"""Profile columns that sync (the avatar image stays on the device that has it)."""


@dataclass(frozen=True)
class FieldChange:
    """The latest write of one field, as the change log holds it and the wire carries it."""

    field: str
    """``profile.<column>`` or ``preferences.<key>``."""
    value: Any
    """The JSON value written; None for a tombstone."""
    deleted: bool
    """A tombstone: the preference was reset to its default."""
    hlc: str
    """Hybrid logical timestamp of the write (``Hlc.encode()``)."""


@dataclass(frozen=True)
class ChangePage:
    """Changes after a cursor, oldest first."""

    changes: list[FieldChange]
    """At most the limit asked for."""
    cursor: int
    """Position to ask from next time (the last change's, or the one given)."""
    more: bool
    """True when changes remain after this page."""
    device: str
    """The answering installation's device id (a new one means a new remote)."""


@dataclass(frozen=True)
class Rejected:
    """A change that was not applied because its value is not valid here."""

    field: str
    """The field."""
    reason: str
    """Why."""


@dataclass(frozen=True)
class Resolution:
    """A conflict resolved: both sides changed one field, and who won by the clocks."""

    field: str
    """The field."""
    winner: str
    """``local`` or ``remote``."""
    local_hlc: str
    """This device's write."""
    remote_hlc: str
    """The other side's write."""
    resolved_at: int = 0
    """Unix milliseconds."""


@dataclass(frozen=True)
class MergeResult:
    """What merging a batch of changes did."""

    applied: list[FieldChange] = field(default_factory=list)
    """Changes that won and were written."""
    ignored: int = 0
    """Changes older than (or equal to) what is here."""
    rejected: list[Rejected] = field(default_factory=list)
    """Changes with values this installation refuses."""
    conflicts: list[Resolution] = field(default_factory=list)
    """Fields with an unpushed local write that met a remote one."""


@dataclass(frozen=True)
class PushResult:
    """A remote's answer to a push."""

    applied: int
    """Changes it took."""
    ignored: int
    """Changes it already had newer values for."""
    rejected: list[Rejected]
    """Changes it refused."""
    cursor: int
    """Its change-log position after the push (the pusher has now seen up to here)."""


class Outcome(StrEnum):
    """How a sync round ended."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    UNAUTHORIZED = "unauthorized"
    REMOTE_ERROR = "remote-error"
    BUSY = "busy"


@dataclass(frozen=True)
class RoundResult:
    """One sync round of one user."""

    outcome: Outcome
    """ok, or why not."""
    pulled: int = 0
    """Remote changes applied here."""
    pushed: int = 0
    """Local changes the remote took."""
    conflicts: list[Resolution] = field(default_factory=list)
    """Conflicts resolved in this round."""
    error: str | None = None
    """What went wrong, for people."""
    started_at: int = 0
    """Unix milliseconds."""
    finished_at: int = 0
    """Unix milliseconds."""


@dataclass(frozen=True)
class SyncStatus:
    """Where a user's sync stands."""

    enabled: bool
    """A remote is configured (here or in the device's settings)."""
    url: str | None
    """The remote's base URL."""
    source: str | None
    """``user`` (PUT /api/v1/sync/config) or ``settings`` (the device-wide default)."""
    device_id: str
    """This installation's id in the clocks."""
    pending: int
    """Local changes not yet acknowledged by the remote."""
    last_attempt_at: int | None
    """Unix milliseconds."""
    last_success_at: int | None
    """Unix milliseconds."""
    last_error_code: str | None
    """``unreachable``, ``unauthorized``, ``remote-error``; None after a success."""
    last_error: str | None
    """What went wrong last, for people."""
    failures: int
    """Failed rounds in a row (the backoff grows with them)."""
    next_attempt_at: int | None
    """When the bridge tries next, Unix milliseconds."""
    pushed_total: int
    """Changes pushed, all time."""
    pulled_total: int
    """Changes pulled, all time."""
    conflicts_total: int
    """Conflicts resolved, all time."""
    recent_conflicts: list[Resolution]
    """The latest conflicts and who won."""
