"""The one Protocol every notification channel follows, and what crosses it.

A channel is a small sender: ``start()`` probes it once (a desktop without a session
bus, a push service without credentials reports itself unavailable, with the reason),
``send()`` delivers one message to one target and says what happened, never raising
for a delivery failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from assistant.notifications.models import ChannelState, Notification, PushTarget

MessageAction = Literal["show", "update", "withdraw"]

Feedback = Callable[[str, str, str, str | None], None]
"""Reports what a person did on a channel: ``(channel, remote_id, kind, action_id)`` where
kind is ``action`` (a button or the notification was clicked) or ``dismissed``."""


@dataclass(frozen=True)
class Outgoing:
    """One message for one channel and target."""

    action: MessageAction
    """Show a new notification, replace a shown one, or take it back."""
    notification: Notification
    target: PushTarget | None
    """The subscription or device token (push channels); None for the desktop."""
    remote_id: str | None
    """What the channel called this notification last time (the desktop's id, to replace)."""
    ttl_seconds: int
    """How long a push service may keep it for an offline device."""


@dataclass(frozen=True)
class Outcome:
    """What a send achieved."""

    status: Literal["sent", "retry", "failed", "gone"]
    """sent; retry later (transient); failed (kept, not retried); gone (target removed)."""
    remote_id: str | None = None
    """The channel's id for the shown notification (desktop id, apns-id, FCM name)."""
    error: str | None = None
    """Why it did not go out."""
    retry_after_seconds: float | None = None
    """The service's own wish (Retry-After), honoured over the backoff when longer."""


class Channel(Protocol):
    """A way to reach a user: the desktop, a push service."""

    name: str
    """desktop, webpush, fcm or apns."""
    target_kind: str | None
    """The kind of push target it sends to (webpush, fcm, apns); None: one per device."""

    async def start(self, feedback: Feedback) -> ChannelState:
        """Connect and probe; unavailable is an answer, not an error."""
        ...

    def state(self) -> ChannelState:
        """Availability as last probed."""
        ...

    async def send(self, message: Outgoing) -> Outcome:
        """Deliver one message; failures are outcomes, not exceptions."""
        ...

    async def close(self) -> None:
        """Disconnect."""
        ...
