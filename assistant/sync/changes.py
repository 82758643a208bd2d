"""The change log: a clock per profile field, local writes recorded, remote ones merged.

Every synced field (``profile.display_name``, ``preferences.tone``...) has one row in
``sync_fields`` holding its current value and the hybrid logical timestamp of the write
that set it. Merging is last-writer-wins per field: a change is applied only when its
stamp is newer than the field's, so a field one side never touched is never reverted,
and every installation picks the same winner whatever the order changes arrive in.
Resetting a preference writes a tombstone, which wins or loses like any value.

The profile service records its writes here in the same transaction (so the outbox
survives a crash); the sync bridge and the ``/api/v1/profile/changes`` endpoints merge
and list changes through it.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from assistant.clock import Clock, system_clock, to_ms
from assistant.errors import InvalidInput, PreconditionFailed
from assistant.profile import store as profile_store
from assistant.profile.models import Preferences, ProfileFields
from assistant.profile.service import DELETED
from assistant.store import Connection, Database
from assistant.sync import store
from assistant.sync.hlc import ClockState, Hlc, observe, tick
from assistant.sync.models import (
    PROFILE_FIELDS,
    ChangePage,
    FieldChange,
    MergeResult,
    Rejected,
    Resolution,
)

log = logging.getLogger(__name__)

MAX_PAGE = 1000
"""Most changes one page of the change log holds."""


def field_name(field: str) -> tuple[str, str]:
    """``("profile"|"preferences", key)`` of a synced field; ``InvalidInput`` otherwise."""
    kind, _, key = field.partition(".")
    if kind == "profile" and key in PROFILE_FIELDS:
        return kind, key
    if kind == "preferences" and key in Preferences.model_fields:
        return kind, key
    raise InvalidInput(f"{field!r} is not a synced field", field="field")


def check_change(change: FieldChange) -> None:
    """``InvalidInput`` unless the change names a synced field with a valid stamp."""
    field_name(change.field)
    try:
        Hlc.decode(change.hlc)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="hlc") from exc
    if change.deleted and not change.field.startswith("preferences."):
        raise InvalidInput("Only preferences can be deleted (reset)", field="deleted")


class ChangeLog:
    """Records, lists and merges per-field changes of every user's profile."""

    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock
        self._device_id: str | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    # This installation -------------------------------------------------------------

    @property
    def device_id(self) -> str:
        """This installation's id in every stamp it makes (created on first use)."""
        if self._device_id is None:
            with self.db.write() as conn:
                self._device_id = self._device(conn)
        return self._device_id

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(user_id)`` after a local write is recorded (the bridge's wake-up)."""
        self._listeners.append(listener)

    # Local writes (called by the profile service inside its transaction) ---------------

    def record(self, conn: Connection, user_id: str, changed: Mapping[str, Any]) -> None:
        """Stamp and queue local writes: ``{"profile.locale": "fr", "preferences.tone":
        DELETED}``. Runs in the caller's write transaction."""
        if not changed:
            return
        # The profile tables already hold these writes: the seed must not take them.
        self._seed(conn, user_id, skip=set(changed))
        for name, value in changed.items():
            stamp = self._tick(conn)
            deleted = value is DELETED
            change = FieldChange(name, None if deleted else value, deleted, stamp.encode())
            store.put_field(conn, user_id, change, store.next_seq(conn), pending=True)
        for listener in self._listeners:
            listener(user_id)

    # The change log ---------------------------------------------------------------------

    def since(self, user_id: str, cursor: int, limit: int = MAX_PAGE) -> ChangePage:
        """The fields of ``user_id`` changed after ``cursor``, oldest first."""
        if cursor < 0:
            raise InvalidInput("since is a change-log position (0 or more)", field="since")
        limit = max(1, min(limit, MAX_PAGE))
        device = self.device_id
        self._ensure_seeded(user_id)
        with self.db.read() as conn:
            rows = store.changes_since(conn, user_id, cursor, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1][0] if rows else cursor
        return ChangePage([c for _, c in rows], last, more, device)

    def pending(self, user_id: str) -> list[FieldChange]:
        """Local writes not yet acknowledged by the remote (the outbox), oldest first."""
        self._ensure_seeded(user_id)
        with self.db.read() as conn:
            return store.pending_changes(conn, user_id)

    def acknowledge(self, user_id: str, changes: Iterable[FieldChange]) -> None:
        """The remote has these writes; a field written again since stays queued."""
        with self.db.write() as conn:
            for change in changes:
                store.acknowledge(conn, user_id, change.field, change.hlc)

    def current(self, user_id: str) -> dict[str, FieldChange]:
        """Every synced field of a user as the log holds it (for tests and diagnostics)."""
        page = self.since(user_id, 0, MAX_PAGE)
        return {c.field: c for c in page.changes}

    # Merging ----------------------------------------------------------------------------

    def merge(self, user_id: str, changes: list[FieldChange]) -> MergeResult:
        """Apply the changes that are newer than what is here (last writer wins per field)."""
        for change in changes:
            check_change(change)
        with self.db.write() as conn:
            return self._merge(conn, user_id, changes)

    def accept_push(
        self, user_id: str, changes: list[FieldChange], expected_cursor: int | None
    ) -> tuple[MergeResult, int]:
        """The remote side of a push: merge, unless the log moved past ``expected_cursor``
        (the pusher has not seen some changes: ``PreconditionFailed``, pull first)."""
        for index, change in enumerate(changes):
            try:
                check_change(change)
            except InvalidInput as exc:
                raise InvalidInput(exc.detail, field=f"changes[{index}].{exc.field}") from exc
        with self.db.write() as conn:
            self._seed(conn, user_id)
            last = store.last_user_seq(conn, user_id)
            if expected_cursor is not None and last > expected_cursor:
                raise PreconditionFailed(
                    f"The change log is at {last}, past {expected_cursor}: pull the changes"
                    " since then and push again",
                    cursor=last,
                )
            result = self._merge(conn, user_id, changes, pushed=True)
            return result, store.last_user_seq(conn, user_id)

    def _merge(
        self, conn: Connection, user_id: str, changes: list[FieldChange], *, pushed: bool = False
    ) -> MergeResult:
        self._seed(conn, user_id)
        physical = to_ms(self.clock())
        state = self._clock_state(conn)
        applied: list[FieldChange] = []
        rejected: list[Rejected] = []
        conflicts: list[Resolution] = []
        ignored = 0
        for change in changes:
            remote = Hlc.decode(change.hlc)
            state = observe(state, remote, physical)
            row = store.get_field(conn, user_id, change.field)
            if row is not None and row["hlc"] >= change.hlc:
                ignored += 1
                if row["pending"] and row["hlc"] != change.hlc and not pushed:
                    conflicts.append(
                        Resolution(change.field, "local", row["hlc"], change.hlc, physical)
                    )
                continue
            reason = self._apply(conn, user_id, change, physical)
            if reason is not None:
                rejected.append(Rejected(change.field, reason))
                continue
            if row is not None and row["pending"] and not pushed:
                conflicts.append(
                    Resolution(change.field, "remote", row["hlc"], change.hlc, physical)
                )
            store.put_field(conn, user_id, change, store.next_seq(conn), pending=False)
            applied.append(change)
        store.set_clock(conn, state.wall_ms, state.counter)
        if rejected:
            log.warning("sync: %d changes refused for %s: %s", len(rejected), user_id, rejected)
        return MergeResult(applied, ignored, rejected, conflicts)

    def _apply(self, conn: Connection, user_id: str, change: FieldChange, now: int) -> str | None:
        """Write a winning change into the profile; why not, when its value is refused."""
        kind, key = field_name(change.field)
        if kind == "profile":
            try:
                ProfileFields.model_validate({key: change.value})
            except ValidationError as exc:
                return str(exc.errors()[0]["msg"])
            profile_store.upsert_profile(conn, user_id, {key: change.value}, {key: now}, now)
            return None
        row = profile_store.get_preferences(conn, user_id)
        data: dict[str, Any] = json.loads(row["data"]) if row else {}
        times: dict[str, int] = json.loads(row["field_updated_at"]) if row else {}
        if change.deleted:
            data.pop(key, None)
        else:
            data[key] = change.value
        try:
            Preferences.model_validate(data)
        except ValidationError as exc:
            return str(exc.errors()[0]["msg"])
        times[key] = now
        profile_store.put_preferences(conn, user_id, data, times, now)
        return None

    # Internals --------------------------------------------------------------------------

    def _device(self, conn: Connection) -> str:
        row = store.get_device(conn)
        if row is None:
            store.insert_device(conn, uuid.uuid4().hex[:16])
            row = store.get_device(conn)
            assert row is not None
        return str(row["device_id"])

    def _clock_state(self, conn: Connection) -> ClockState:
        self._device(conn)
        row = store.get_device(conn)
        assert row is not None
        return ClockState(int(row["hlc_wall_ms"]), int(row["hlc_counter"]))

    def _tick(self, conn: Connection) -> Hlc:
        state = tick(self._clock_state(conn), to_ms(self.clock()))
        store.set_clock(conn, state.wall_ms, state.counter)
        return Hlc(state.wall_ms, state.counter, self._device(conn))

    def _ensure_seeded(self, user_id: str) -> None:
        """Seed under the write lock only the first time (reads stay off it)."""
        with self.db.read() as conn:
            if store.is_seeded(conn, user_id):
                return
        with self.db.write() as conn:
            self._seed(conn, user_id)

    def _seed(self, conn: Connection, user_id: str, skip: set[str] | None = None) -> None:
        """Enter a profile written before sync existed into the log, once per user, with
        the per-field times the profile tables kept."""
        if store.is_seeded(conn, user_id) or not store.user_exists(conn, user_id):
            return
        device = self._device(conn)
        seeded: list[tuple[str, Any, int]] = []
        profile = profile_store.get_profile(conn, user_id)
        if profile is not None:
            times = json.loads(profile["field_updated_at"])
            seeded += [(f"profile.{k}", profile[k], times[k]) for k in PROFILE_FIELDS if k in times]
        preferences = profile_store.get_preferences(conn, user_id)
        if preferences is not None:
            data = json.loads(preferences["data"])
            times = json.loads(preferences["field_updated_at"])
            seeded += [
                (f"preferences.{k}", data.get(k, DELETED), t)
                for k, t in times.items()
                if k in Preferences.model_fields
            ]
        for name, value, at in seeded:
            if name in (skip or ()) or store.get_field(conn, user_id, name) is not None:
                continue
            deleted = value is DELETED
            stamp = Hlc(int(at), 0, device).encode()
            change = FieldChange(name, None if deleted else value, deleted, stamp)
            store.put_field(conn, user_id, change, store.next_seq(conn), pending=True)
        store.mark_seeded(conn, user_id, to_ms(self.clock()))
