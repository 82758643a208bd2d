"""The profile service: profile, preferences, avatar and usage statistics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, get_args, get_origin

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ValidationError

from assistant.clock import Clock, system_clock, to_ms
from assistant.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from assistant.profile import store
from assistant.profile.models import (
    DailyUsage,
    Preferences,
    Profile,
    ProfileFields,
    StoredPreferences,
    UsageMetric,
    UsageStats,
)
from assistant.store import Connection, Database
from assistant.store.blobs import BlobStore
from runtime.engines import Capability

log = logging.getLogger(__name__)

ModelChoices = Callable[[Capability], Collection[str]]
"""The model ids a user may choose for a capability: the catalogue's and those imported."""

MODEL_PREFERENCES: dict[str, Capability] = {
    "preferred_model": Capability.LLM,
    "voice_id": Capability.TTS,
}
"""Preferences that name a model, and the capability it must have."""
_LISTED_CHOICES = 12

AVATAR_MAX_BYTES = 2_000_000
AVATAR_MAX_SIDE_PIXELS = 4096
"""Wider or taller avatars are refused before they are decoded (a small file can
declare a huge canvas)."""
AVATAR_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
"""Pillow's format names of the accepted images, and the media type each is served as."""
DELETED: Any = object()
"""The value a :class:`ChangeRecorder` gets for a preference reset to its default."""
_NOT_AN_IMAGE = "The avatar must be a PNG, JPEG, GIF or WebP image"


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """The first error of validating preferences as (dotted field, message)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown key {field!r}"
    return field, f"{field}: {message}"


def avatar_media_type(data: bytes) -> str:
    """The media type of an avatar image, after decoding it; ``InvalidInput`` unless it is
    a whole PNG, JPEG, GIF or WebP image of a sensible size. The file's first bytes alone
    prove nothing: a PNG signature followed by anything else is not a PNG."""
    too_large = f"at most {AVATAR_MAX_SIDE_PIXELS} pixels a side"
    try:
        with Image.open(io.BytesIO(data), formats=list(AVATAR_FORMATS)) as image:
            width, height = image.size
            if max(width, height) > AVATAR_MAX_SIDE_PIXELS:
                raise InvalidInput(
                    f"The avatar is {width}x{height} pixels; {too_large}", field="avatar"
                )
            image.load()
            media_type = AVATAR_FORMATS[str(image.format)]
    except UnidentifiedImageError as exc:
        raise InvalidInput(_NOT_AN_IMAGE, field="avatar") from exc
    except Image.DecompressionBombError as exc:
        raise InvalidInput(
            f"The avatar declares a huge canvas; {too_large}", field="avatar"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports damaged data as OSError ("truncated"), SyntaxError ("broken PNG").
        raise InvalidInput(
            f"The avatar image is damaged or incomplete ({exc})", field="avatar"
        ) from exc
    return media_type


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes (back to default).

    An object patches an absent key as it patches an empty object: its nulls delete
    nothing and are dropped, they are not stored as values."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            current = merged.get(key)
            merged[key] = merge_patch(current if isinstance(current, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def unknown_key(patch: dict[str, Any], model: type[BaseModel], prefix: str = "") -> str | None:
    """The first key of a patch that ``model`` has no field for (nested models checked
    too), as a dotted path; None when every key is known. A null for an unknown key
    deletes nothing, so merging cannot tell: the patch itself is checked."""
    for key, value in patch.items():
        field = model.model_fields.get(key)
        if field is None:
            return prefix + key
        if get_origin(field.annotation) is dict:
            continue  # free keys (notification categories); validation checks the values
        nested = [
            t
            for t in (field.annotation, *get_args(field.annotation))
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        if isinstance(value, dict) and nested:
            found = unknown_key(value, nested[0], f"{prefix}{key}.")
            if found is not None:
                return found
    return None


class ChangeRecorder(Protocol):
    """Receives every change of a synced field, inside the write's transaction (the sync
    bridge's change log: ``assistant.sync.changes.ChangeLog``)."""

    def record(self, conn: Connection, user_id: str, changed: Mapping[str, Any]) -> None:
        """``{"profile.<field>": value, "preferences.<key>": value or DELETED}``."""


class ProfileService:
    """Reads and writes a user's profile, preferences and usage counters."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        clock: Clock = system_clock,
        models: ModelChoices | None = None,
        changes: ChangeRecorder | None = None,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.clock = clock
        self.models = models
        """Checks the models that preferences name when they change; None: no check."""
        self.changes = changes
        """Told of every changed field, for sync; None: nobody is."""

    # Profile ----------------------------------------------------------------------

    def get_profile(self, user_id: str) -> Profile:
        """The user's profile (empty fields until set)."""
        with self.db.read() as conn:
            row = store.get_profile(conn, user_id)
        return self._profile(user_id, row)

    def update_profile(
        self,
        user_id: str,
        fields: ProfileFields,
        *,
        replace: bool,
        expected_version: int | None = None,
    ) -> Profile:
        """Set profile fields: all of them (``replace``) or only those given."""
        chosen = fields.model_dump(exclude_unset=not replace)
        now = to_ms(self.clock())
        with self.db.write() as conn:
            row = store.get_profile(conn, user_id)
            self._check_version(row["version"] if row else 0, expected_version)
            store.upsert_profile(conn, user_id, chosen, dict.fromkeys(chosen, now), now)
            if self.changes is not None:
                changed = {k: v for k, v in chosen.items() if row is None or row[k] != v}
                self.changes.record(conn, user_id, {f"profile.{k}": v for k, v in changed.items()})
            row = store.get_profile(conn, user_id)
        return self._profile(user_id, row)

    def set_avatar(self, user_id: str, data: bytes) -> Profile:
        """Store an avatar image (content-addressed) and point the profile at it."""
        if not data:
            raise InvalidInput("The avatar image is empty", field="avatar")
        if len(data) > AVATAR_MAX_BYTES:
            raise PayloadTooLarge(
                f"The avatar is {len(data)} bytes; the limit is {AVATAR_MAX_BYTES}", field="avatar"
            )
        media_type = avatar_media_type(data)
        sha = self.blobs.put(data)
        now = to_ms(self.clock())
        with self.db.write() as conn:
            old = store.get_profile(conn, user_id)
            store.upsert_profile(
                conn,
                user_id,
                {"avatar_sha256": sha, "avatar_media_type": media_type},
                {"avatar": now},
                now,
            )
            row = store.get_profile(conn, user_id)
            stale: str | None = old["avatar_sha256"] if old else None
            orphaned = stale is not None and stale != sha
            orphaned = orphaned and store.avatar_references(conn, str(stale)) == 0
        if stale is not None and orphaned:
            self.blobs.delete(stale)
        return self._profile(user_id, row)

    def get_avatar(self, user_id: str) -> tuple[bytes, str]:
        """The avatar image and its media type."""
        with self.db.read() as conn:
            row = store.get_profile(conn, user_id)
        if row is None or row["avatar_sha256"] is None:
            raise NotFound("This profile has no avatar")
        return self.blobs.get(row["avatar_sha256"]), row["avatar_media_type"]

    def delete_avatar(self, user_id: str) -> None:
        """Remove the avatar."""
        now = to_ms(self.clock())
        with self.db.write() as conn:
            row = store.get_profile(conn, user_id)
            if row is None or row["avatar_sha256"] is None:
                raise NotFound("This profile has no avatar")
            store.upsert_profile(
                conn,
                user_id,
                {"avatar_sha256": None, "avatar_media_type": None},
                {"avatar": now},
                now,
            )
            orphaned = store.avatar_references(conn, row["avatar_sha256"]) == 0
        if orphaned:
            self.blobs.delete(row["avatar_sha256"])

    # Preferences ------------------------------------------------------------------

    def get_preferences(self, user_id: str) -> StoredPreferences:
        """Effective preferences with their version."""
        with self.db.read() as conn:
            row = store.get_preferences(conn, user_id)
        return self._preferences(row)

    def replace_preferences(
        self, user_id: str, preferences: Preferences, expected_version: int | None = None
    ) -> StoredPreferences:
        """Set every preference (PUT semantics)."""
        return self._write_preferences(
            user_id, lambda _: preferences.model_dump(mode="json"), expected_version
        )

    def patch_preferences(
        self, user_id: str, patch: dict[str, Any], expected_version: int | None = None
    ) -> StoredPreferences:
        """Change only the given preferences (JSON merge patch; null resets to the default)."""
        if not isinstance(patch, dict):
            raise InvalidInput("A preferences patch is a JSON object", field="body")
        unknown = unknown_key(patch, Preferences)
        if unknown is not None:
            raise InvalidInput(f"{unknown}: unknown key {unknown!r}", field=unknown)
        return self._write_preferences(
            user_id, lambda current: merge_patch(current, patch), expected_version
        )

    def _write_preferences(
        self,
        user_id: str,
        change: Any,
        expected_version: int | None,
    ) -> StoredPreferences:
        now = to_ms(self.clock())
        with self.db.write() as conn:
            row = store.get_preferences(conn, user_id)
            self._check_version(row["version"] if row else 0, expected_version)
            current: dict[str, Any] = json.loads(row["data"]) if row else {}
            times: dict[str, int] = json.loads(row["field_updated_at"]) if row else {}
            wanted = change(current)
            try:
                validated = Preferences.model_validate(wanted)
            except ValidationError as exc:
                field, message = _first_error(exc)
                raise InvalidInput(message, field=field) from exc
            self._check_models(validated, current)
            data = validated.model_dump(mode="json", exclude_unset=True)
            for key in set(data) | set(current):
                if data.get(key) != current.get(key):
                    times[key] = now
            store.put_preferences(conn, user_id, data, times, now)
            if self.changes is not None:
                changed = [k for k in set(data) | set(current) if data.get(k) != current.get(k)]
                self.changes.record(
                    conn, user_id, {f"preferences.{k}": data.get(k, DELETED) for k in changed}
                )
            row = store.get_preferences(conn, user_id)
        return self._preferences(row)

    # Usage ------------------------------------------------------------------------

    def record_usage(self, user_id: str, counts: dict[UsageMetric, int]) -> None:
        """Add to today's counters (called by the other services)."""
        day = datetime.fromtimestamp(self.clock(), tz=UTC).date().isoformat()
        with self.db.write() as conn:
            for metric, amount in counts.items():
                if amount:
                    store.add_usage(conn, user_id, metric.value, day, int(amount))

    def stats(self, user_id: str, days: int = 30) -> UsageStats:
        """All-time totals and the recent days with activity."""
        if not 1 <= days <= 366:
            raise InvalidInput("days must be 1..366", field="days")
        since = datetime.fromtimestamp(self.clock(), tz=UTC).date() - timedelta(days=days - 1)
        with self.db.read() as conn:
            totals = store.usage_totals(conn, user_id)
            rows = store.usage_days(conn, user_id, since.isoformat())
        by_day: dict[str, dict[str, int]] = {}
        for row in rows:
            by_day.setdefault(row["day"], {})[row["metric"]] = int(row["value"])
        return UsageStats(
            totals={metric.value: totals.get(metric.value, 0) for metric in UsageMetric},
            days=[DailyUsage(day=day, counts=counts) for day, counts in by_day.items()],
        )

    # Internals --------------------------------------------------------------------

    def _check_models(self, preferences: Preferences, current: dict[str, Any]) -> None:
        """A model named in a changed preference must exist with the right capability
        (installed or not: it can be pulled later). Values stored before stay as they are."""
        if self.models is None:
            return
        for key, capability in MODEL_PREFERENCES.items():
            chosen = getattr(preferences, key)
            if chosen is None or chosen == current.get(key):
                continue
            offered = sorted(self.models(capability))
            if chosen in offered:
                continue
            listed = ", ".join(offered[:_LISTED_CHOICES]) or "none"
            if len(offered) > _LISTED_CHOICES:
                listed += f" and {len(offered) - _LISTED_CHOICES} more"
            raise InvalidInput(
                f"{key}: {chosen!r} is not a known {capability.value} model; choose one of"
                f" {listed} (`assistant models list` shows them all)",
                field=key,
            )

    @staticmethod
    def _check_version(current: int, expected: int | None) -> None:
        if expected is not None and expected != current:
            raise Conflict(
                f"The resource changed (version {current}, you sent {expected});"
                " fetch it again and retry",
                current_version=current,
            )

    @staticmethod
    def _profile(user_id: str, row: Any) -> Profile:
        if row is None:
            return Profile(user_id, None, None, None, None, 0, 0)
        return Profile(
            user_id=user_id,
            display_name=row["display_name"],
            locale=row["locale"],
            time_zone=row["time_zone"],
            avatar_media_type=row["avatar_media_type"],
            updated_at=row["updated_at"],
            version=row["version"],
        )

    @staticmethod
    def _preferences(row: Any) -> StoredPreferences:
        if row is None:
            return StoredPreferences(Preferences(), None, 0)
        return StoredPreferences(
            preferences=stored_preferences(json.loads(row["data"])),
            updated_at=row["updated_at"],
            version=row["version"],
        )


def stored_preferences(data: dict[str, Any]) -> Preferences:
    """Preferences as stored; a value that today's rules refuse (saved before a rule was
    added) reads as its default instead of failing every read, and is logged."""
    try:
        return Preferences.model_validate(data)
    except ValidationError as exc:
        refused = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        log.warning("stored preferences %s no longer valid: read as defaults", sorted(refused))
        return Preferences.model_validate({k: v for k, v in data.items() if k not in refused})
