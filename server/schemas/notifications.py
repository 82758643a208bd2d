"""Bodies of ``/api/v1/notifications`` and the events of its streams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.clock import iso
from assistant.notifications.models import ChannelState, Event, Notification, PushTarget
from assistant.profile.models import NotificationPreferences, PlainText, StoredPreferences
from server.docs import event, event_stream, struct_json


class DeliveryOut(msgspec.Struct, kw_only=True):
    """One channel's delivery of a notification."""

    channel: str
    """desktop, companion, webpush, fcm or apns."""
    target_id: str | None
    """The Web Push subscription or device it went to."""
    status: str
    """queued, sending, sent, delivered (a companion app confirmed), read, failed,
    skipped; for a notification not yet due: scheduled or held."""
    attempts: int
    next_attempt_at: str | None
    """When it is (re)tried, or planned."""
    error: str | None
    """Why it failed or was skipped."""
    sent_at: str | None
    delivered_at: str | None
    read_at: str | None


class NotificationOut(msgspec.Struct, kw_only=True):
    """A notification and its state, shared by every device of its user."""

    id: str
    user_id: str
    title: str
    body: str
    category: str
    priority: int
    """1 (min) to 5 (max)."""
    tags: list[str]
    actions: list[dict[str, Any]]
    """Buttons: ``{"kind": "url", "id", "label", "url"}`` or ``{"kind": "callback", "id",
    "label"}``."""
    data: dict[str, Any] | None
    collapse_key: str | None
    status: str
    """scheduled, held (quiet hours, do-not-disturb), active, withdrawn, replaced, expired."""
    held_reason: str | None
    deliver_at: str | None
    """When it is (or was) due."""
    expires_at: str | None
    delivered_at: str | None
    read: bool
    read_at: str | None
    dismissed: bool
    dismissed_at: str | None
    replaced_by: str | None
    """The notification with the same collapse key that replaced this one."""
    created_at: str | None
    updated_at: str | None
    version: int
    deliveries: list[DeliveryOut] | None = None
    """Per channel and target (on single reads and sends)."""

    @classmethod
    def of(cls, notification: Notification, deliveries: list[DeliveryOut] | None = None) -> Any:
        out = msgspec.convert(notification.to_json(), cls)
        out.deliveries = deliveries
        return out

    @classmethod
    def detailed(cls, notification: Notification) -> NotificationOut:
        """With its deliveries."""
        return cls.of(  # type: ignore[no-any-return]
            notification,
            [msgspec.convert(d.to_json(), DeliveryOut) for d in notification.deliveries],
        )


class SendOut(msgspec.Struct, kw_only=True):
    """What a send created."""

    id: str
    """The (first) notification's id."""
    notifications: list[NotificationOut]
    """One per recipient, with its planned deliveries per channel."""


class HistoryOut(msgspec.Struct, kw_only=True):
    """A page of notifications, newest first."""

    notifications: list[NotificationOut]
    next_before: str | None
    """Pass as ``before`` for the next (older) page; None on the last one."""


class UnreadOut(msgspec.Struct, kw_only=True):
    """The unread count a badge shows."""

    unread: int
    """Active notifications neither read nor dismissed."""


class ReadAllOut(msgspec.Struct, kw_only=True):
    """How many notifications were marked read."""

    read: int


class ChannelOut(msgspec.Struct, kw_only=True):
    """Whether a channel can deliver."""

    name: str
    available: bool
    reason: str
    """What it runs on, or why it cannot."""

    @classmethod
    def of(cls, state: ChannelState) -> ChannelOut:
        return cls(name=state.name, available=state.available, reason=state.reason)


class ChannelsOut(msgspec.Struct, kw_only=True):
    """Every channel and the caller's live streams."""

    channels: list[ChannelOut]
    streams: int
    """Your companion streams connected right now."""


class TargetOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A registered Web Push subscription or push device."""

    id: str
    kind: str
    """webpush, fcm or apns."""
    name: str | None
    created_at: str | None
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None
    endpoint: str | None = None
    """Web Push: the push service URL."""
    token: str | None = None
    """FCM/APNs: the device token."""

    @classmethod
    def of(cls, target: PushTarget) -> TargetOut:
        return msgspec.convert(target.to_json(), cls)


class TargetsOut(msgspec.Struct, kw_only=True):
    """Registered subscriptions or devices."""

    items: list[TargetOut]


class VapidKeyOut(msgspec.Struct, kw_only=True):
    """The key browsers subscribe with."""

    public_key: str
    """Pass as ``applicationServerKey`` to ``pushManager.subscribe()`` (base64url)."""


class NotificationPreferencesOut(BaseModel):
    """The notification part of the profile's preferences, and the version of the whole."""

    preferences: NotificationPreferences
    updated_at: str | None
    version: int
    """Send it back in If-Match (it is the profile preferences' version)."""

    @classmethod
    def of(
        cls, preferences: NotificationPreferences, stored: StoredPreferences
    ) -> NotificationPreferencesOut:
        return cls(
            preferences=preferences, updated_at=iso(stored.updated_at), version=stored.version
        )


KeyValue = Annotated[str, Field(min_length=16, max_length=100, pattern=r"^[A-Za-z0-9_-]+=*$")]
SubscriptionKeys = Annotated[
    dict[Literal["p256dh", "auth"], KeyValue],
    Field(
        min_length=2,
        max_length=2,
        description="The browser's keys: `p256dh` (its P-256 public key) and `auth` (the"
        " 16-byte secret), base64url. A map, not an object with properties: `auth` is also"
        " the name of a server dependency, which a body field must not share.",
    ),
]


class SubscriptionIn(BaseModel):
    """A browser ``PushSubscription`` as ``toJSON()`` gives it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    endpoint: str = Field(max_length=2000, pattern=r"^https?://[^\s]+$")
    """The push service URL (https; http only for localhost)."""
    keys: SubscriptionKeys
    expirationTime: int | None = None
    """When the browser will end the subscription (Unix ms), if it says."""
    name: PlainText | None = Field(default=None, max_length=100)
    """A label for you (browser and device)."""


class DeviceIn(BaseModel):
    """A companion app's push token."""

    model_config = ConfigDict(extra="forbid", strict=True)

    platform: Literal["fcm", "apns"]
    """fcm (Android) or apns (iOS)."""
    token: str = Field(min_length=8, max_length=4096, pattern=r"^[A-Za-z0-9_:.\-]+$")
    """The registration token (FCM) or device token (APNs, hex)."""
    name: PlainText | None = Field(default=None, max_length=100)
    """A label for you."""


# Streams --------------------------------------------------------------------------------


class StreamEventOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One stream event (the ``data`` of an SSE event, one NDJSON line, one WebSocket
    message)."""

    event: str
    """open, new, updated, withdrawn, read, dismissed, action, keepalive, error."""
    time: str | None
    id: str | None = None
    """The event id (also the SSE ``id:``); resume after it with Last-Event-ID or since=."""
    notification: NotificationOut | None = None
    """The notification as it is after the event."""
    action: str | None = None
    """``action``: the button pressed (``default``: the notification itself)."""
    replaced_by: str | None = None
    """``withdrawn`` by a newer notification with the same collapse key."""
    last_event_id: str | None = None
    """``open``: the id the stream continues after."""
    problem: dict[str, Any] | None = None
    """``error``: the problem (RFC 9457 document) that ended the stream."""


def stream_event(event_: Event) -> dict[str, Any]:
    """An event as streams send it."""
    return event_.to_json()


_NOTIFICATION_EVENT = struct_json(StreamEventOut)
EVENT_NAMES = (
    "open",
    "new",
    "updated",
    "withdrawn",
    "read",
    "dismissed",
    "action",
    "keepalive",
    "error",
)
NOTIFICATION_STREAM = event_stream(
    "Events of your notifications, oldest first: `open` once (the stream is live), then"
    " `new`, `updated`, `withdrawn`, `read`, `dismissed` and `action` as they happen (each"
    " with `id:`, the event id to resume after), and `keepalive` when idle.",
    *(event(name, _NOTIFICATION_EVENT) for name in EVENT_NAMES),
)
NOTIFICATION_LINES = {
    "description": "One JSON object per line: the events of the SSE stream.",
    "type": "string",
}
