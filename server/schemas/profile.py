"""Bodies of ``/api/v1/profile``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from pydantic import BaseModel

from assistant.clock import iso
from assistant.profile.models import Preferences, Profile, StoredPreferences, UsageStats
from server.docs import IMAGE_TYPES, binary


class ProfileOut(msgspec.Struct, kw_only=True):
    """A user's profile."""

    display_name: str | None
    locale: str | None
    time_zone: str | None
    avatar_url: str | None
    """Where to GET the avatar image, when there is one."""
    updated_at: str | None
    version: int
    """Send it back in If-Match to update without overwriting someone else's change."""

    @classmethod
    def of(cls, profile: Profile) -> ProfileOut:
        return cls(
            display_name=profile.display_name,
            locale=profile.locale,
            time_zone=profile.time_zone,
            avatar_url="/api/v1/profile/avatar" if profile.avatar_media_type else None,
            updated_at=iso(profile.updated_at) if profile.version else None,
            version=profile.version,
        )


class PreferencesOut(BaseModel):
    """Effective preferences with their version."""

    preferences: Preferences
    updated_at: str | None
    version: int

    @classmethod
    def of(cls, stored: StoredPreferences) -> PreferencesOut:
        return cls(
            preferences=stored.preferences,
            updated_at=iso(stored.updated_at),
            version=stored.version,
        )


class DayOut(msgspec.Struct, kw_only=True):
    """One day's non-zero counters."""

    day: str
    counts: dict[str, int]


class StatsOut(msgspec.Struct, kw_only=True):
    """Usage computed from the store."""

    totals: dict[str, int]
    """Every metric, all time."""
    days: list[DayOut]
    """Recent days with activity, newest first."""

    @classmethod
    def of(cls, stats: UsageStats) -> StatsOut:
        return cls(
            totals=stats.totals,
            days=[DayOut(day=d.day, counts=d.counts) for d in stats.days],
        )


# For the API's document -----------------------------------------------------------------


def _merge_patch(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _merge_patch(defs[schema["$ref"].removeprefix("#/$defs/")], defs)
    if "anyOf" in schema:
        return {"anyOf": [_merge_patch(s, defs) for s in schema["anyOf"]]}
    if schema.get("type") == "object" and "properties" in schema:
        patched: dict[str, Any] = {
            "type": "object",
            "properties": {
                name: {"anyOf": [_merge_patch(field, defs), {"type": "null"}]}
                for name, field in schema["properties"].items()
            },
        }
        if "additionalProperties" in schema:
            patched["additionalProperties"] = schema["additionalProperties"]
        return patched
    if schema.get("type") == "object" and (
        isinstance(schema.get("additionalProperties"), dict) or "patternProperties" in schema
    ):
        # A map (notification categories): each value is patched like an object.
        mapped = {k: v for k, v in schema.items() if k not in ("default", "title")}
        if isinstance(schema.get("additionalProperties"), dict):
            values = _merge_patch(schema["additionalProperties"], defs)
            mapped["additionalProperties"] = {"anyOf": [values, {"type": "null"}]}
        if "patternProperties" in schema:
            mapped["patternProperties"] = {
                pattern: {"anyOf": [_merge_patch(value, defs), {"type": "null"}]}
                for pattern, value in schema["patternProperties"].items()
            }
        return mapped
    return {k: v for k, v in schema.items() if k not in ("default", "title")}


def merge_patch_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a JSON merge patch (RFC 7396) of ``model``: every key may be
    left out, null resets it to its default, nested objects are patched the same way."""
    schema = model.model_json_schema()
    return _merge_patch(schema, schema.get("$defs", {}))


PREFERENCES_PATCH = merge_patch_schema(Preferences)
AVATAR = {media: binary("The image") for media in IMAGE_TYPES}
