"""Bodies of ``/api/v1/profile``."""

from __future__ import annotations

import msgspec
from pydantic import BaseModel

from assistant.clock import iso
from assistant.profile.models import Preferences, Profile, StoredPreferences, UsageStats


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
