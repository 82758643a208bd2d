"""Firebase Cloud Messaging (HTTP v1) with the user's own service account.

The service account's key signs a JWT that Google's token endpoint (its ``token_uri``)
exchanges for an OAuth access token, kept until it nearly expires; messages go to
``POST {base}/v1/projects/{project_id}/messages:send``. ``UNREGISTERED`` tokens are
removed; 429 and 5xx are retried (Retry-After honoured); a 401 refreshes the token once.
"""

from __future__ import annotations

import asyncio
import json
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

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GONE_CODES = ("UNREGISTERED", "NOT_FOUND")


@dataclass(frozen=True)
class ServiceAccount:
    """The fields of a Google service account key file that FCM needs."""

    project_id: str
    client_email: str
    private_key: str
    token_uri: str

    @classmethod
    def load(cls, path: Path) -> ServiceAccount:
        """Read a service account JSON key file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                project_id=data["project_id"],
                client_email=data["client_email"],
                private_key=data["private_key"],
                token_uri=data.get("token_uri", "https://oauth2.googleapis.com/token"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"The FCM service account file {path} is unreadable: {exc}",
                field="notifications.fcm.service_account_file",
            ) from exc


def error_codes(response: httpx.Response) -> set[str]:
    """The ``status`` and ``errorCode`` values of an FCM error body."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return set()
    codes = {str(error.get("status", ""))}
    for detail in error.get("details", []):
        if isinstance(detail, dict) and "errorCode" in detail:
            codes.add(str(detail["errorCode"]))
    return codes


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def fcm_message(message: Outgoing, token: str) -> dict[str, Any]:
    """The HTTP v1 ``message`` for one device."""
    notification = message.notification
    data = {
        "event": {"show": "new", "update": "updated", "withdraw": "withdrawn"}[message.action],
        "id": notification.id,
        "category": notification.category,
        "priority": str(notification.priority),
    }
    if notification.data is not None:
        data["data"] = json.dumps(notification.data)
    body: dict[str, Any] = {
        "token": token,
        "data": data,
        "android": {
            "priority": "high" if notification.priority >= 4 else "normal",
            "ttl": f"{message.ttl_seconds}s",
            "collapse_key": notification.collapse_key or notification.id,
        },
    }
    if message.action != "withdraw":
        body["notification"] = {"title": notification.title, "body": notification.body}
        body["android"]["notification"] = {"tag": notification.collapse_key or notification.id}
    return body


@dataclass
class FcmChannel:
    """Sends to Android (and other FCM) devices."""

    account: ServiceAccount
    client: httpx.AsyncClient
    base_url: str = "https://fcm.googleapis.com"
    clock: Clock = system_clock
    name: str = "fcm"
    target_kind: str | None = "fcm"
    _token: str | None = None
    _token_expires: float = 0.0
    _token_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _state: ChannelState = field(default_factory=lambda: ChannelState("fcm", True, "configured"))

    async def start(self, feedback: Feedback) -> ChannelState:
        return self._state

    def state(self) -> ChannelState:
        return self._state

    async def access_token(self, *, refresh: bool = False) -> str:
        """An OAuth access token for FCM, fetched when missing or nearly expired (once for
        all the sends waiting for it)."""
        async with self._token_lock:
            return await self._fetch_token(refresh=refresh)

    async def _fetch_token(self, *, refresh: bool) -> str:
        now = self.clock()
        if self._token is not None and not refresh and now < self._token_expires - 60:
            return self._token
        assertion = jwt.encode(
            {
                "iss": self.account.client_email,
                "scope": SCOPE,
                "aud": self.account.token_uri,
                "iat": int(now),
                "exp": int(now) + 3600,
            },
            self.account.private_key,
            algorithm="RS256",
        )
        response = await self.client.post(
            self.account.token_uri,
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        )
        response.raise_for_status()
        answer = response.json()
        self._token = str(answer["access_token"])
        self._token_expires = now + float(answer.get("expires_in", 3600))
        return self._token

    async def send(self, message: Outgoing) -> Outcome:
        assert message.target is not None
        url = f"{self.base_url}/v1/projects/{self.account.project_id}/messages:send"
        body = {"message": fcm_message(message, message.target.address)}
        response: httpx.Response | None = None
        for refresh in (False, True):
            try:
                token = await self.access_token(refresh=refresh)
                response = await self.client.post(
                    url, json=body, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPStatusError as exc:
                return Outcome("failed", error=f"FCM refused the service account: {exc}")
            except httpx.HTTPError as exc:
                return Outcome("retry", error=f"FCM unreachable: {exc}")
            if response.status_code != 401:
                break
        assert response is not None
        status = response.status_code
        if status == 200:
            return Outcome("sent", remote_id=str(response.json().get("name", "")))
        reason = f"FCM answered {status}: {response.text[:300]}"
        if status == 404 or error_codes(response) & set(GONE_CODES):
            return Outcome("gone", error=reason)
        if status == 429 or status >= 500:
            return Outcome("retry", error=reason, retry_after_seconds=_retry_after(response))
        return Outcome("failed", error=reason)

    async def close(self) -> None:
        await self.client.aclose()
