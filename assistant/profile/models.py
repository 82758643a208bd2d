"""Values of the profile service: the profile, typed preferences, usage statistics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from assistant.text import control_character

_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _language_tag(value: str) -> str:
    if not _LANGUAGE_TAG.fullmatch(value):  # match() would let "en\n" through
        raise ValueError(f"{value!r} is not a BCP 47 language tag such as 'en' or 'pt-BR'")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone such as 'Europe/Paris'") from exc
    return value


def _plain_text(value: str) -> str:
    found = control_character(value)
    if found is not None:
        position, char = found
        raise ValueError(
            f"control characters such as U+{ord(char):04X} (at position {position}) are not allowed"
        )
    return value


PlainText = Annotated[
    str,
    Field(json_schema_extra={"pattern": r"^[^\x00-\x1f\x7f-\x9f]*$"}),
    AfterValidator(_plain_text),
]
"""Text a person reads (names, a personality): no NUL, newline or other control
character, which would end up in prompts, logs and other users' screens."""

# The validators' rules are also written into the JSON schema, for the API's document.
LanguageTag = Annotated[
    str,
    Field(max_length=35, json_schema_extra={"pattern": _LANGUAGE_TAG.pattern}),
    AfterValidator(_language_tag),
]


@dataclass(frozen=True)
class _KnownTimeZones:
    """Lists the IANA zones in the JSON schema, read when a schema is made (not at import:
    scanning the zone database costs tens of milliseconds)."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema["enum"] = sorted(available_timezones())
        return schema


TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_time_zone), _KnownTimeZones()]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class ProfileFields(BaseModel):
    """The editable fields of a profile."""

    model_config = ConfigDict(extra="forbid", strict=True)

    display_name: PlainText | None = Field(default=None, min_length=1, max_length=100)
    """How the assistant addresses the user."""
    locale: LanguageTag | None = None
    """Formatting locale (BCP 47), e.g. ``en-GB``."""
    time_zone: TimeZoneName | None = None
    """IANA time zone, e.g. ``Europe/Paris``; used for dates and times in replies."""


@dataclass(frozen=True)
class Profile:
    """A user's profile."""

    user_id: str
    """Owner."""
    display_name: str | None
    """How the assistant addresses the user."""
    locale: str | None
    """BCP 47 locale."""
    time_zone: str | None
    """IANA time zone."""
    avatar_media_type: str | None
    """Media type of the avatar image, None when there is none."""
    updated_at: int
    """Unix milliseconds of the last change."""
    version: int
    """Incremented on every change (use it with If-Match)."""


# Notifications ---------------------------------------------------------------------------
# The one copy of a user's notification settings (the notification service reads them
# here). Every key added since the first version has a default, so stored preferences
# stay valid as they are.

Channel = Literal["desktop", "companion", "webpush", "fcm", "apns"]
CHANNELS: tuple[Channel, ...] = ("desktop", "companion", "webpush", "fcm", "apns")
NotificationPriority = Annotated[int, Field(ge=1, le=5)]
"""1 (min) .. 5 (max/urgent), as ntfy numbers them."""
CategoryName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


def _instant(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 date and time") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (add Z or +01:00)")
    try:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError as exc:  # year 1 with a positive offset is before year 1 in UTC
        raise ValueError(f"{value!r} is out of range") from exc


Instant = Annotated[
    str, Field(max_length=40, json_schema_extra={"format": "date-time"}), AfterValidator(_instant)
]
"""An ISO 8601 date and time with its offset, stored in UTC."""


class QuietHours(BaseModel):
    """A daily window without notifications, in the user's time zone."""

    model_config = ConfigDict(extra="forbid", strict=True)

    start: ClockTime = "22:00"
    """HH:MM when the quiet window starts."""
    end: ClockTime = "07:00"
    """HH:MM when it ends (may be the next day)."""
    bypass_priority: NotificationPriority = 5
    """Notifications of this priority or higher are not held."""


class CategoryPreferences(BaseModel):
    """The settings of one category of notifications (reminder, timer...)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    """Off: the category's notifications are kept in history but not delivered."""
    channels: list[Channel] | None = Field(default=None, max_length=len(CHANNELS))
    """Where this category goes; None = the general ``channels``."""
    min_priority: dict[Channel, NotificationPriority] = Field(default_factory=dict)
    """Lowest priority delivered per channel; a channel not named uses the general one."""


class NotificationPreferences(BaseModel):
    """How and when the user is notified."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    """Master switch."""
    channels: list[Channel] = Field(default_factory=lambda: list(CHANNELS), max_length=5)
    """Where notifications go: the device's desktop, companion apps, browsers (Web Push),
    Android (FCM) and iOS (APNs) apps."""
    quiet_hours: QuietHours | None = None
    """Notifications are held in this window until it ends; None = never quiet."""
    min_priority: dict[Channel, NotificationPriority] = Field(default_factory=dict)
    """Lowest priority delivered per channel (default 1: everything)."""
    categories: dict[CategoryName, CategoryPreferences] = Field(default_factory=dict, max_length=50)
    """Per-category settings; naming a new category here lets notifications use it."""
    do_not_disturb_until: Instant | None = None
    """Hold everything below the quiet-hours bypass priority until then."""


SkillName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
"""A skill's name (``timer``, ``look``)."""


class Preferences(BaseModel):
    """Typed, validated user preferences; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", strict=True)

    preferred_languages: list[LanguageTag] = Field(
        default_factory=lambda: ["en"], min_length=1, max_length=10
    )
    """Languages the user speaks, most preferred first (BCP 47)."""
    assistant_name: PlainText = Field(default="Assistant", min_length=1, max_length=40)
    """What the assistant calls itself."""
    personality: PlainText = Field(default="helpful, honest and kind", min_length=1, max_length=300)
    """A few words describing the assistant's character."""
    tone: Literal["neutral", "warm", "formal", "casual", "playful"] = "warm"
    """Register of the replies."""
    verbosity: Literal["brief", "normal", "detailed"] = "normal"
    """How long replies should be."""
    preferred_model: str | None = Field(default=None, max_length=100)
    """Chat model id to use when a request names none."""
    voice_id: str | None = Field(default=None, max_length=100)
    """Text-to-speech voice (model id); None = the device default."""
    speaking_rate: float = Field(default=1.0, ge=0.5, le=2.0)
    """Speech rate, 1.0 = normal."""
    wake_word: PlainText = Field(default="hey_jarvis", min_length=1, max_length=40)
    """Wake word the voice loop listens for."""
    units: Literal["metric", "imperial"] = "metric"
    """Measurement units in replies."""
    notifications: NotificationPreferences = Field(default_factory=NotificationPreferences)
    """Notification settings."""
    disabled_skills: list[SkillName] = Field(default_factory=list, max_length=50)
    """Skills the assistant must not use for this user (``GET /api/v1/skills`` lists their
    names); such requests go to ordinary chat."""


@dataclass(frozen=True)
class StoredPreferences:
    """Preferences with their version information."""

    preferences: Preferences
    """The effective values (defaults for what the user never set)."""
    updated_at: int | None
    """Unix milliseconds of the last change; None if never changed."""
    version: int
    """Incremented on every change; 0 if never changed."""


class UsageMetric(StrEnum):
    """Counters the services feed into the statistics."""

    CHAT_TURNS = "chat_turns"
    PROMPT_TOKENS = "prompt_tokens"
    COMPLETION_TOKENS = "completion_tokens"
    TRANSCRIPTIONS = "transcriptions"
    TRANSCRIBED_SECONDS = "transcribed_seconds"
    SYNTHESES = "syntheses"
    SYNTHESIZED_CHARACTERS = "synthesized_characters"
    TRANSLATIONS = "translations"
    TRANSLATED_CHARACTERS = "translated_characters"
    VISION_CALLS = "vision_calls"


@dataclass(frozen=True)
class DailyUsage:
    """One day's counters."""

    day: str
    """YYYY-MM-DD (UTC)."""
    counts: dict[str, int]
    """Metric name to value; only non-zero metrics."""


@dataclass(frozen=True)
class UsageStats:
    """A user's usage, computed from the store."""

    totals: dict[str, int]
    """Every metric, all time (zero when unused)."""
    days: list[DailyUsage]
    """Recent days with any activity, newest first."""
