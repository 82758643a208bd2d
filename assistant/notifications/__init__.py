"""Notifications: send, schedule, deliver on the desktop, to companion apps, by Web Push,
FCM and APNs, with delivery tracking, preferences and quiet hours."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.notifications.channels.webpush import VapidKeyFile
from assistant.notifications.dispatcher import Dispatcher
from assistant.notifications.hub import Hub
from assistant.notifications.service import NotificationOptions, NotificationService

__all__ = [
    "Dispatcher",
    "Hub",
    "NotificationOptions",
    "NotificationService",
    "Notifications",
    "VapidKeyFile",
]


@dataclass
class Notifications:
    """The notification service with its live hub, its outbox worker and its VAPID key."""

    service: NotificationService
    hub: Hub
    dispatcher: Dispatcher
    vapid: VapidKeyFile
    keepalive_seconds: float = 25.0
    """Keepalive interval of idle streams."""
    stream_max_seconds: float | None = None
    """Streams end after this long (clients reconnect); None: never."""
