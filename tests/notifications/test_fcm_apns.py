"""FCM (HTTP v1) and APNs (token-based) senders against local fake servers that check every
request: the OAuth assertion and bearer token, the provider JWT, headers and bodies."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from assistant.notifications.channels.apns import ApnsChannel, ApnsKey
from assistant.notifications.channels.fcm import FcmChannel, ServiceAccount
from assistant.notifications.models import NotificationDraft
from tests.notifications.conftest import World, with_channels


@dataclass
class FakeServer:
    """Records requests; answers ``(status, body, headers)`` from ``script`` (else 200)."""

    script: deque[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append((self.path, headers, body))
            if self.path == "/token":
                status, answer, extra = 200, {"access_token": "tok-1", "expires_in": 3600}, {}
            elif state.script:
                status, answer, extra = state.script.popleft()
            else:
                status, answer, extra = 200, {"name": "projects/p/messages/1"}, {"apns-id": "A-1"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def send(world: World, **fields: Any) -> str:
    draft = NotificationDraft.model_validate({"title": "Tea", "body": "is ready", **fields})
    return world.service.send(world.bob, draft)[0].id


def delivery(world: World, notification_id: str, channel: str) -> Any:
    found = world.service.get(world.bob.user_id, notification_id)
    return next(d for d in found.deliveries if d.channel == channel)


async def test_fcm_sends_with_an_oauth_token_and_drops_unregistered_devices(
    world: World, fake: FakeServer
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = ServiceAccount("proj-1", "svc@proj-1.iam", pem, f"{fake.url}/token")
    channel = FcmChannel(account, httpx.AsyncClient(), fake.url, clock=world.clock)
    notifications = with_channels(world.notifications, {"fcm": channel})
    await notifications.dispatcher.start(run=False)
    try:
        world.service.add_target(world.bob.user_id, "fcm", "device-token-1")
        world.service.add_target(world.bob.user_id, "fcm", "device-token-2")
        fake.script.extend(
            [
                (200, {"name": "projects/proj-1/messages/1"}, {}),
                (
                    404,
                    {"error": {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}},
                    {},
                ),
            ]
        )
        notification_id = send(world, priority="high", collapse_key="tea", data={"a": 1})
        await notifications.dispatcher.run_once()
        token_request, *sends = fake.requests
        assert token_request[0] == "/token"
        form = parse_qs(token_request[2].decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        claims = jwt.decode(
            form["assertion"][0],
            key.public_key(),
            algorithms=["RS256"],
            audience=f"{fake.url}/token",
            options={"verify_exp": False, "verify_iat": False},
        )
        assert claims["iss"] == "svc@proj-1.iam"
        assert "firebase.messaging" in claims["scope"]
        assert [path for path, _, _ in sends] == ["/v1/projects/proj-1/messages:send"] * 2
        for _, headers, body in sends:
            assert headers["authorization"] == "Bearer tok-1"  # one token for both sends
            message = json.loads(body)["message"]
            assert message["notification"] == {"title": "Tea", "body": "is ready"}
            assert message["android"]["priority"] == "high"
            assert message["android"]["collapse_key"] == "tea"
            assert message["data"]["id"] == notification_id
            assert json.loads(message["data"]["data"]) == {"a": 1}
        tokens = {json.loads(b)["message"]["token"] for _, _, b in sends}
        assert tokens == {"device-token-1", "device-token-2"}
        assert len(world.service.targets(world.bob.user_id)) == 1  # the unregistered one left
    finally:
        await notifications.dispatcher.close()


async def test_apns_signs_a_provider_token_and_retries_a_503(
    world: World, fake: FakeServer
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    channel = ApnsChannel(
        ApnsKey(pem, "KEYID12345", "TEAM123456", "org.example.app"),
        httpx.AsyncClient(),
        fake.url,
        clock=world.clock,
    )
    notifications = with_channels(world.notifications, {"apns": channel})
    await notifications.dispatcher.start(run=False)
    try:
        world.service.add_target(world.bob.user_id, "apns", "abcdef0123456789")
        fake.script.append((503, {"reason": "ServiceUnavailable"}, {}))
        notification_id = send(world, priority=5, collapse_key="tea")
        await notifications.dispatcher.run_once()
        assert delivery(world, notification_id, "apns").status == "queued"
        world.clock.advance(60)
        await notifications.dispatcher.run_once()
        assert delivery(world, notification_id, "apns").status == "sent"
        for path, headers, body in fake.requests:
            assert path == "/3/device/abcdef0123456789"
            token = headers["authorization"].removeprefix("bearer ")
            assert jwt.get_unverified_header(token)["kid"] == "KEYID12345"
            claims = jwt.decode(  # iat is the test's manual clock, in 2027
                token, key.public_key(), algorithms=["ES256"], options={"verify_iat": False}
            )
            assert claims["iss"] == "TEAM123456"
            assert headers["apns-topic"] == "org.example.app"
            assert headers["apns-push-type"] == "alert"
            assert headers["apns-priority"] == "10"
            assert headers["apns-collapse-id"] == "tea"
            payload = json.loads(body)
            assert payload["aps"]["alert"] == {"title": "Tea", "body": "is ready"}
            assert payload["aps"]["interruption-level"] == "time-sensitive"
            assert payload["id"] == notification_id
        fake.script.append((410, {"reason": "Unregistered"}, {}))
        send(world)
        await notifications.dispatcher.run_once()
        assert world.service.targets(world.bob.user_id) == []
    finally:
        await notifications.dispatcher.close()
