"""A local Web Push service for tests: it checks each request as a real one would (the
VAPID JWT's signature, ``aud``, ``exp`` and key) and decrypts the payload with the
browser's private key, like the browser would; it answers from a script."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from assistant.notifications.channels.webpush import b64url, b64url_decode


@dataclass
class Browser:
    """A browser's side of one subscription: its key pair and auth secret."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)


@dataclass(frozen=True)
class Push:
    """One push the service accepted (or refused), decrypted."""

    browser: str
    status: int
    headers: dict[str, str]
    payload: dict[str, Any] | None
    claims: dict[str, Any]


class PushService:
    """Serves ``POST /push/<browser>``; ``script[browser]`` holds the statuses to answer."""

    def __init__(self, application_server_key: str) -> None:
        self.application_server_key = application_server_key
        """The VAPID public key browsers subscribed with: pushes signed by another are 403."""
        self.browsers: dict[str, Browser] = {}
        self.script: dict[str, deque[int]] = defaultdict(deque)
        self.pushes: list[Push] = []
        self.rejections: list[str] = []
        self.url = ""

    def subscribe(self, name: str) -> dict[str, Any]:
        """A new browser subscription, as ``PushSubscription.toJSON()`` gives it."""
        browser = self.browsers[name] = Browser(name)
        return {
            "endpoint": f"{self.url}/push/{name}",
            "keys": {"p256dh": browser.p256dh, "auth": b64url(browser.auth)},
        }

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        name = path.removeprefix("/push/")
        browser = self.browsers.get(name)
        if browser is None:
            return 404
        claims = self._check_vapid(headers.get("authorization", ""))
        if claims is None:
            return 401
        assert headers.get("content-encoding") == "aes128gcm"
        payload = json.loads(
            http_ece.decrypt(
                body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
            )
        )
        status = self.script[name].popleft() if self.script[name] else 201
        self.pushes.append(Push(name, status, headers, payload, claims))
        return status

    def _check_vapid(self, authorization: str) -> dict[str, Any] | None:
        scheme, _, params = authorization.partition(" ")
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        if scheme != "vapid" or "t" not in fields or "k" not in fields:
            self.rejections.append(f"not a vapid header: {authorization!r}")
            return None
        if fields["k"] != self.application_server_key:
            self.rejections.append("signed with another key than the subscription's")
            return None
        key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(fields["k"])
        )
        try:
            claims: dict[str, Any] = jwt.decode(
                fields["t"], key, algorithms=["ES256"], audience=self.url
            )
        except jwt.PyJWTError as exc:
            self.rejections.append(f"bad JWT: {exc}")
            return None
        if claims["exp"] > time.time() + 86_400 or not claims.get("sub"):
            self.rejections.append(f"exp too far or no sub: {claims}")
            return None
        return claims


@contextmanager
def running(service: PushService) -> Iterator[PushService]:
    """Serve on a free loopback port."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = service.handle(self.path, headers, body)
            self.send_response(status)
            if status == 503:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            if status == 201:
                self.send_header("Location", f"{service.url}/message/{len(service.pushes)}")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
