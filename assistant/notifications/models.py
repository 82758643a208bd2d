"""Values of the notification service: what is sent, what is stored, what streams carry."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from assistant.clock import iso
from assistant.profile.models import CHANNELS, CategoryName, Channel, Instant, PlainText

__all__ = ["CHANNELS", "Channel"]

PRIORITY_NAMES: dict[str, int] = {
    "min": 1,
    "low": 2,
    "default": 3,
    "high": 4,
    "max": 5,
    "urgent": 5,
}
"""ntfy's priority names, accepted wherever a number 1-5 is."""

BUILTIN_CATEGORIES: tuple[str, ...] = (
    "general",
    "reminder",
    "timer",
    "alarm",
    "message",
    "system",
    "security",
)
"""Categories every user has; more are named in the preferences' ``categories``."""

MAX_TITLE_CHARS = 250
MAX_BODY_CHARS = 4096
MAX_DATA_BYTES = 4096
"""Largest ``data`` object, as compact JSON (a Web Push payload holds about 4 KB)."""
MAX_ACTIONS = 3

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?:in)?)?(?:(\d+)s)?$")


def parse_duration(text: str) -> float:
    """``90s``, ``10m``, ``1h30m``, ``2d`` or a number of seconds, as seconds."""
    value = text.strip().lower()
    if value.isdigit():
        return float(value)
    match = _DURATION.fullmatch(value)
    if not value or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m, 1h30m or 2d")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(days * 86_400 + hours * 3600 + minutes * 60 + seconds)


def _priority(value: Any) -> Any:
    if isinstance(value, str) and value in PRIORITY_NAMES:
        return PRIORITY_NAMES[value]
    return value


Priority = Annotated[
    int,
    Field(ge=1, le=5),
    BeforeValidator(_priority),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 5},
                {"enum": list(PRIORITY_NAMES)},
            ]
        }
    ),
]
"""1 (min) to 5 (max); ntfy's names are accepted and read as their number."""


def _duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[
    str,
    Field(max_length=20, pattern=r"^(\d+|(\d+d)?(\d+h)?(\d+m(in)?)?(\d+s)?)$"),
    AfterValidator(_duration),
]
ActionId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Label = Annotated[PlainText, Field(min_length=1, max_length=40)]
Tag = Annotated[PlainText, Field(min_length=1, max_length=32)]
CollapseKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.~-]{1,64}$")]
HttpUrl = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s]+$")]


class UrlAction(BaseModel):
    """A button that opens a web address."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["url"]
    id: ActionId
    """Stable name of the button, reported back when it is pressed."""
    label: Label
    """What the button says."""
    url: HttpUrl
    """The address opened."""


class CallbackAction(BaseModel):
    """A button whose press is reported back as an ``action`` event (snooze a reminder)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["callback"]
    id: ActionId
    """Stable name of the button, reported back when it is pressed."""
    label: Label
    """What the button says."""


Action = Annotated[UrlAction | CallbackAction, Field(discriminator="kind")]


def data_size(value: dict[str, Any] | None) -> int:
    """The size of ``data`` as compact JSON, the way push payloads carry it."""
    return 0 if value is None else len(json.dumps(value, separators=(",", ":")).encode())


class NotificationContent(BaseModel):
    """What a notification says and does; every field may be changed by an update."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: PlainText = Field(default="", max_length=MAX_TITLE_CHARS)
    """Headline (one line)."""
    body: str = Field(default="", max_length=MAX_BODY_CHARS)
    """The message (may have several lines)."""
    priority: Priority = 3
    """1 (min) to 5 (max); ``min``, ``low``, ``default``, ``high``, ``max``/``urgent``."""
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    """Labels (emoji short codes, topics)."""
    actions: list[Action] = Field(default_factory=list, max_length=MAX_ACTIONS)
    """Up to three buttons: open a URL, or report a callback."""
    data: dict[str, Any] | None = None
    """Free JSON for the receiving app (at most 4096 bytes as compact JSON; checked by the
    service, which names the field)."""


class NotificationDraft(NotificationContent):
    """A notification to send."""

    category: CategoryName = "general"
    """general, reminder, timer, alarm, message, system, security, or one named in the
    user's preferences."""
    collapse_key: CollapseKey | None = None
    """A later notification with the same key replaces this one everywhere."""
    deliver_at: Instant | None = None
    """Deliver at this time (ISO 8601 with offset) instead of now."""
    delay: Duration | None = None
    """Deliver after this long (``90s``, ``10m``, ``1h30m``, ``2d``)."""
    expires_at: Instant | None = None
    """Not delivered (and withdrawn from push services) after this time."""
    user: str | None = Field(default=None, max_length=64)
    """Admins only: the username or id to notify (default: yourself)."""
    all_users: bool = False
    """Admins only: notify every account."""

    @model_validator(mode="after")
    def _one_time(self) -> NotificationDraft:
        if self.deliver_at is not None and self.delay is not None:
            raise ValueError("send deliver_at or delay, not both")
        if self.user is not None and self.all_users:
            raise ValueError("send user or all_users, not both")
        if not self.title and not self.body:
            raise ValueError("a notification needs a title or a body")
        return self


class NotificationChange(BaseModel):
    """An update of a sent notification: the fields given replace the old ones."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: PlainText | None = Field(default=None, max_length=MAX_TITLE_CHARS)
    body: str | None = Field(default=None, max_length=MAX_BODY_CHARS)
    priority: Priority | None = None
    tags: list[Tag] | None = Field(default=None, max_length=10)
    actions: list[Action] | None = Field(default=None, max_length=MAX_ACTIONS)
    data: dict[str, Any] | None = None
    deliver_at: Instant | None = None
    """Move a notification that is still scheduled."""
    expires_at: Instant | None = None


class Status(StrEnum):
    """Where a notification is in its life."""

    SCHEDULED = "scheduled"
    HELD = "held"
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    REPLACED = "replaced"
    EXPIRED = "expired"


class DeliveryStatus(StrEnum):
    """Where one channel's delivery is: queued -> sent -> delivered -> read, or failed."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SKIPPED = "skipped"


class EventKind(StrEnum):
    """What a stream event says happened to a notification."""

    NEW = "new"
    UPDATED = "updated"
    WITHDRAWN = "withdrawn"
    READ = "read"
    DISMISSED = "dismissed"
    ACTION = "action"


@dataclass(frozen=True)
class Delivery:
    """One channel's delivery of a notification to one target."""

    channel: str
    """desktop, companion, webpush, fcm or apns."""
    target_id: str
    """The Web Push subscription or device token; empty for desktop and companion."""
    status: str
    """queued, sending, sent, delivered, read, failed, skipped (or scheduled/held: planned)."""
    attempts: int = 0
    """Sends tried."""
    next_attempt_at: int | None = None
    """Unix milliseconds of the next try (queued) or of the planned delivery."""
    error: str | None = None
    """Why it failed or was skipped."""
    sent_at: int | None = None
    delivered_at: int | None = None
    read_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The delivery as the API shows it."""
        return {
            "channel": self.channel,
            "target_id": self.target_id or None,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "error": self.error,
            "sent_at": iso(self.sent_at),
            "delivered_at": iso(self.delivered_at),
            "read_at": iso(self.read_at),
        }


@dataclass(frozen=True)
class Notification:
    """A stored notification."""

    id: str
    user_id: str
    title: str
    body: str
    category: str
    priority: int
    tags: tuple[str, ...]
    actions: tuple[dict[str, Any], ...]
    data: dict[str, Any] | None
    collapse_key: str | None
    status: str
    held_reason: str | None
    deliver_at: int
    """Unix milliseconds when it is (or was) due."""
    expires_at: int | None
    delivered_at: int | None
    read_at: int | None
    dismissed_at: int | None
    replaced_by: str | None
    created_at: int
    updated_at: int
    version: int
    deliveries: tuple[Delivery, ...] = field(default=())
    """Per channel and target; filled where asked for."""

    def to_json(self) -> dict[str, Any]:
        """The notification as the API and the streams show it."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "title": self.title,
            "body": self.body,
            "category": self.category,
            "priority": self.priority,
            "tags": list(self.tags),
            "actions": list(self.actions),
            "data": self.data,
            "collapse_key": self.collapse_key,
            "status": self.status,
            "held_reason": self.held_reason,
            "deliver_at": iso(self.deliver_at),
            "expires_at": iso(self.expires_at),
            "delivered_at": iso(self.delivered_at),
            "read": self.read_at is not None,
            "read_at": iso(self.read_at),
            "dismissed": self.dismissed_at is not None,
            "dismissed_at": iso(self.dismissed_at),
            "replaced_by": self.replaced_by,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "version": self.version,
        }


@dataclass(frozen=True)
class Event:
    """One entry of a user's event log: what streams send and replay."""

    seq: int
    """Increasing id (the SSE ``id:``)."""
    user_id: str
    notification_id: str
    kind: str
    """new, updated, withdrawn, read, dismissed, action."""
    payload: dict[str, Any]
    """``{"notification": {...}}`` plus kind-specific fields (``action``, ``replaced_by``)."""
    created_at: int

    def to_json(self) -> dict[str, Any]:
        """The event as streams carry it."""
        return {
            "id": str(self.seq),
            "event": self.kind,
            "time": iso(self.created_at),
            **self.payload,
        }


@dataclass(frozen=True)
class HistoryQuery:
    """Which notifications a history page holds."""

    category: str | None = None
    priority_at_least: int | None = None
    status: str | None = None
    unread: bool | None = None
    before: str | None = None
    """Notification id: only older ones (the cursor)."""
    limit: int = 50


@dataclass(frozen=True)
class PushTarget:
    """Where push services reach one of the user's devices."""

    id: str
    user_id: str
    kind: str
    """webpush, fcm or apns."""
    address: str
    """Endpoint URL (Web Push) or device token (FCM, APNs)."""
    p256dh: str | None
    auth: str | None
    name: str | None
    created_at: int
    last_success_at: int | None
    last_error: str | None
    last_error_at: int | None

    def to_json(self) -> dict[str, Any]:
        """The target as the API shows it (without the Web Push secrets)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "endpoint" if self.kind == "webpush" else "token": self.address,
            "name": self.name,
            "created_at": iso(self.created_at),
            "last_success_at": iso(self.last_success_at),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
        }


@dataclass(frozen=True)
class ChannelState:
    """Whether a channel can deliver, and why not."""

    name: str
    available: bool
    reason: str = ""
    """Why it is unavailable (no session bus, not configured...)."""
