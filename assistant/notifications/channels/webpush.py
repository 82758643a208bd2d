"""Web Push (RFC 8030) to browsers and PWAs: VAPID (RFC 8292), ``aes128gcm`` (RFC 8291).

The VAPID key pair is made on first use and kept in ``secrets/vapid-private.pem``
(0600); it is never replaced silently, since every browser subscription is bound to its
public key: a damaged file is an error to fix, not a reason to make a new key.

What a push service answers decides the subscription's fate: 404/410 mean it is gone
(removed), 429 and 5xx are transient (retried, honouring Retry-After), 413 asks for a
smaller payload (sent again without ``data``, then without the body), 401/403 are a
VAPID configuration error (the subscription is kept).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from assistant.clock import Clock, system_clock
from assistant.errors import BackendError, InvalidInput
from assistant.notifications.channels.base import Feedback, Outcome, Outgoing
from assistant.notifications.models import ChannelState, Notification
from assistant.urls import split_url
from runtime.files import atomic_write

log = logging.getLogger(__name__)

VAPID_KEY_FILE = "vapid-private.pem"
MAX_PAYLOAD_BYTES = 3800
"""Plaintext that fits one 4096-byte aes128gcm record with its header and padding."""
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VapidKeys:
    """The application server's VAPID key pair."""

    def __init__(self, vapid: Any) -> None:
        self.vapid = vapid

    @classmethod
    def load_or_create(cls, path: Path) -> VapidKeys:
        """Read the key, or make and store one (0600) on first use."""
        from py_vapid import Vapid02

        if path.exists():
            try:
                vapid = Vapid02.from_pem(path.read_bytes())
            except Exception as exc:  # py_vapid raises bare exceptions on bad PEM
                raise BackendError(
                    f"The VAPID key {path} is unreadable ({exc}); restore it from a backup."
                    " Deleting it makes a new key, and every browser must subscribe again."
                ) from exc
            return cls(vapid)
        vapid = Vapid02()
        vapid.generate_keys()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with atomic_write(path, mode=0o600) as handle:
            handle.write(vapid.private_pem())
        log.info("created the Web Push (VAPID) key %s", path)
        return cls(vapid)

    @property
    def public_key(self) -> str:
        """The ``applicationServerKey`` browsers subscribe with (base64url, uncompressed)."""
        from cryptography.hazmat.primitives import serialization

        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def authorization(self, endpoint: str, subject: str, expires_at: int) -> str:
        """The ``Authorization: vapid t=..., k=...`` header for one push service."""
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": expires_at, "sub": subject}
        return str(self.vapid.sign(claims)["Authorization"])


class VapidKeyFile:
    """The VAPID key of a data directory, read (or made) when first needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: VapidKeys | None = None
        self._lock = threading.Lock()

    def get(self) -> VapidKeys:
        """The key pair (blocking: reads or writes the file the first time)."""
        with self._lock:
            if self._keys is None:
                self._keys = VapidKeys.load_or_create(self.path)
            return self._keys


def check_subscription(endpoint: str, p256dh: str, auth: str) -> None:
    """Refuse a subscription that cannot work (``InvalidInput`` naming the field)."""
    parts = split_url(endpoint, "endpoint")
    if parts.scheme != "https" and not (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    ):
        raise InvalidInput(
            "endpoint must be an https URL (http only on this device: localhost)",
            field="endpoint",
        )
    if not parts.hostname:
        raise InvalidInput("endpoint has no host", field="endpoint")
    try:
        key, secret = b64url_decode(p256dh), b64url_decode(auth)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("keys must be base64url", field="keys") from exc
    if len(key) != 65 or key[0] != 4:
        raise InvalidInput("keys.p256dh must be an uncompressed P-256 point", field="keys.p256dh")
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    except ValueError as exc:
        raise InvalidInput("keys.p256dh is not a point on P-256", field="keys.p256dh") from exc
    if len(secret) != 16:
        raise InvalidInput("keys.auth must be 16 bytes", field="keys.auth")


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """The RFC 8291 ``aes128gcm`` body for one subscription (a new ephemeral key each time)."""
    import http_ece
    from cryptography.hazmat.primitives.asymmetric import ec

    server_key = ec.generate_private_key(ec.SECP256R1())
    return bytes(
        http_ece.encrypt(
            payload,
            salt=os.urandom(16),
            private_key=server_key,
            dh=b64url_decode(p256dh),
            auth_secret=b64url_decode(auth),
            version="aes128gcm",
        )
    )


URGENCY = {1: "very-low", 2: "low", 3: "normal", 4: "high", 5: "high"}


def topic_of(collapse_key: str | None, notification_id: str) -> str:
    """The ``Topic`` header (at most 32 base64url characters) that makes the push
    service replace an undelivered message with the same key."""
    key = collapse_key or notification_id
    return b64url(hashlib.sha256(key.encode()).digest())[:32]


def payloads(message: Outgoing) -> list[bytes]:
    """The JSON payload, then smaller ones to try if the push service finds it too large."""
    notification: Notification = message.notification
    full: dict[str, Any] = {
        "event": {"show": "new", "update": "updated", "withdraw": "withdrawn"}[message.action],
        "id": notification.id,
        "title": notification.title,
        "body": notification.body,
        "category": notification.category,
        "priority": notification.priority,
        "tags": list(notification.tags),
        "actions": list(notification.actions),
        "tag": notification.collapse_key or notification.id,
        "data": notification.data,
    }
    smaller = {**full, "data": None, "actions": [], "tags": []}
    smallest = {k: full[k] for k in ("event", "id", "title", "tag")}
    smallest["body"] = notification.body[:200]
    steps = [full, smaller, smallest]
    if message.action == "withdraw":
        steps = [{"event": "withdrawn", "id": notification.id, "tag": full["tag"]}]
    encoded = [json.dumps(step, separators=(",", ":")).encode() for step in steps]
    fitting = [p for p in encoded if len(p) <= MAX_PAYLOAD_BYTES]
    return fitting or [encoded[-1][:MAX_PAYLOAD_BYTES]]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def outcome_of(response: httpx.Response) -> Outcome:
    """What a push service's answer means for the message and the subscription."""
    status = response.status_code
    if status in (200, 201, 202):
        return Outcome("sent", remote_id=response.headers.get("location"))
    reason = f"push service answered {status}: {response.text[:200]}"
    if status in (404, 410):
        return Outcome("gone", error=reason)
    if status == 429 or status >= 500:
        return Outcome("retry", error=reason, retry_after_seconds=_retry_after(response))
    if status in (401, 403):
        return Outcome(
            "failed",
            error=f"{reason} (the VAPID key or subject was refused: check"
            " notifications.vapid_subject and that the browser subscribed with"
            " this server's key)",
        )
    return Outcome("failed", error=reason)


@dataclass
class WebPushChannel:
    """Sends to the user's browser subscriptions."""

    keys: VapidKeyFile
    subject: str
    """``sub`` claim: a mailto: or https: contact for push services."""
    client: httpx.AsyncClient
    clock: Clock = system_clock
    name: str = "webpush"
    target_kind: str | None = "webpush"

    async def start(self, feedback: Feedback) -> ChannelState:
        return self.state()

    def state(self) -> ChannelState:
        return ChannelState(self.name, True)

    async def send(self, message: Outgoing) -> Outcome:
        target = message.target
        assert target is not None and target.p256dh and target.auth
        headers = {
            "Authorization": self.keys.get().authorization(
                target.address, self.subject, int(self.clock()) + 12 * 3600
            ),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(message.ttl_seconds),
            "Urgency": URGENCY[message.notification.priority],
            "Topic": topic_of(message.notification.collapse_key, message.notification.id),
        }
        for payload in payloads(message):
            body = encrypt(payload, target.p256dh, target.auth)
            try:
                response = await self.client.post(target.address, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return Outcome("retry", error=f"push service unreachable: {exc}")
            if response.status_code != 413:
                return outcome_of(response)
        return Outcome("failed", error="the push service refused even the smallest payload (413)")

    async def close(self) -> None:
        await self.client.aclose()
