"""Apple Push Notification service, token-based (a ``.p8`` key, its key id, the team id).

``POST {base}/3/device/{token}`` with an ES256 provider token (renewed every 50
minutes: Apple refuses one older than an hour and throttles new ones more often than
every 20), ``apns-topic`` (the app's bundle id), ``apns-push-type``, ``apns-priority``,
``apns-expiration`` and ``apns-collapse-id``. 410 and ``BadDeviceToken`` remove the
token; 429 and 5xx are retried; an expired provider token is renewed once. Apple's
service speaks HTTP/2 only: install ``h2`` (the ``notify`` extra) for production.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from assistant.clock import Clock, system_clock
from assistant.errors import InvalidInput
from assistant.notifications.channels.base import Feedback, Outcome, Outgoing
from assistant.notifications.models import ChannelState

log = logging.getLogger(__name__)

PRODUCTION_URL = "https://api.push.apple.com"
SANDBOX_URL = "https://api.sandbox.push.apple.com"
TOKEN_LIFETIME_SECONDS = 50 * 60
GONE_REASONS = ("BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic")


@dataclass(frozen=True)
class ApnsKey:
    """The provider key and who it belongs to."""

    private_key: str
    """PEM of the ``AuthKey_XXXX.p8`` file."""
    key_id: str
    team_id: str
    topic: str
    """The app's bundle id."""

    @classmethod
    def load(cls, path: Path, key_id: str, team_id: str, topic: str) -> ApnsKey:
        """Read the ``.p8`` key file."""
        try:
            return cls(path.read_text(encoding="utf-8"), key_id, team_id, topic)
        except OSError as exc:
            raise InvalidInput(
                f"The APNs key file {path} is unreadable: {exc}",
                field="notifications.apns.key_file",
            ) from exc


def apns_payload(message: Outgoing) -> dict[str, Any]:
    """The JSON body for one notification."""
    notification = message.notification
    event = {"show": "new", "update": "updated", "withdraw": "withdrawn"}[message.action]
    if message.action == "withdraw":
        return {"aps": {"content-available": 1}, "event": event, "id": notification.id}
    aps: dict[str, Any] = {
        "alert": {"title": notification.title, "body": notification.body},
        "thread-id": notification.category,
    }
    if notification.priority >= 3:
        aps["sound"] = "default"
    if notification.priority >= 5:
        aps["interruption-level"] = "time-sensitive"
    return {"aps": aps, "event": event, "id": notification.id, "data": notification.data}


def reason_of(response: httpx.Response) -> str:
    """The ``reason`` of an APNs error body."""
    try:
        return str(response.json().get("reason", ""))
    except ValueError:
        return ""


@dataclass
class ApnsChannel:
    """Sends to iOS and macOS apps."""

    key: ApnsKey
    client: httpx.AsyncClient
    base_url: str = PRODUCTION_URL
    clock: Clock = system_clock
    name: str = "apns"
    target_kind: str | None = "apns"
    _token: str | None = None
    _token_made: float = 0.0
    _state: ChannelState = field(default_factory=lambda: ChannelState("apns", True, "configured"))

    async def start(self, feedback: Feedback) -> ChannelState:
        return self._state

    def state(self) -> ChannelState:
        return self._state

    def provider_token(self, *, refresh: bool = False) -> str:
        """The ES256 provider token, renewed when old."""
        now = self.clock()
        if self._token is None or refresh or now - self._token_made > TOKEN_LIFETIME_SECONDS:
            self._token = jwt.encode(
                {"iss": self.key.team_id, "iat": int(now)},
                self.key.private_key,
                algorithm="ES256",
                headers={"kid": self.key.key_id},
            )
            self._token_made = now
        return self._token

    async def send(self, message: Outgoing) -> Outcome:
        assert message.target is not None
        notification = message.notification
        silent = message.action == "withdraw"
        headers = {
            "apns-topic": self.key.topic,
            "apns-push-type": "background" if silent else "alert",
            "apns-priority": "5" if silent or notification.priority <= 2 else "10",
            "apns-expiration": str(int(self.clock()) + message.ttl_seconds),
            "apns-collapse-id": (notification.collapse_key or notification.id)[:64],
        }
        url = f"{self.base_url}/3/device/{message.target.address}"
        response: httpx.Response | None = None
        for refresh in (False, True):
            headers["authorization"] = f"bearer {self.provider_token(refresh=refresh)}"
            try:
                response = await self.client.post(url, json=apns_payload(message), headers=headers)
            except httpx.HTTPError as exc:
                return Outcome("retry", error=f"APNs unreachable: {exc}")
            if not (response.status_code == 403 and reason_of(response) == "ExpiredProviderToken"):
                break
        assert response is not None
        status = response.status_code
        if status == 200:
            return Outcome("sent", remote_id=response.headers.get("apns-id"))
        reason = f"APNs answered {status}: {response.text[:300]}"
        if status == 410 or reason_of(response) in GONE_REASONS:
            return Outcome("gone", error=reason)
        if status == 429 or status >= 500:
            return Outcome("retry", error=reason)
        return Outcome("failed", error=reason)

    async def close(self) -> None:
        await self.client.aclose()
