"""The ID token as the real provider signs it: tampered in transit, and after the
provider rotated its signing key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.auth.oidc import OidcClient, OidcService
from assistant.clock import ManualClock
from assistant.services import Services, build_services
from assistant.settings import Settings
from server.app import create_app
from tests.oidc.conftest import oidc_settings
from tests.oidc.provider import Provider
from tests.oidc.test_login import login


class TamperingTransport(httpx.BaseTransport):
    """Passes requests to the provider, and changes the ``sub`` of every ID token it
    returns (keeping the provider's signature), as an attacker on the path would."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.tampered = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.inner.handle_request(request)
        if not request.url.path.endswith("/token"):
            return answer
        answer.read()
        data = answer.json()
        head, body, signature = data["id_token"].split(".")
        claims = json.loads(jwt.utils.base64url_decode(body))
        claims["sub"] = "mallory"
        forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
        data["id_token"] = f"{head}.{forged}.{signature}"
        self.tampered += 1
        return httpx.Response(answer.status_code, json=data)


def test_an_id_token_tampered_in_transit_is_refused(settings: Settings, services: Services) -> None:
    transport = TamperingTransport()
    configured = settings.auth.oidc
    client = OidcClient(
        "test",
        configured.providers["test"],
        httpx.Client(transport=transport),
        discovery_ttl_seconds=configured.discovery_ttl_seconds,
        clock=services.auth.clock,
    )
    services.oidc = OidcService(
        services.db, services.auth, configured, {"test": client}, services.auth.clock
    )
    with TestClient(app=create_app(settings, services)) as app:
        answer = login(app, "alice")
    assert transport.tampered == 1
    assert answer.status_code == 401
    assert answer.json()["extra"]["reason"] == "signature"


@pytest.fixture
def rotating(tmp_path: Path) -> Iterator[Provider]:
    """A provider of this test's own, since it is restarted with new keys."""
    running = Provider(tmp_path / "provider")
    running.folder.mkdir()
    running.start()
    yield running
    running.stop()


def test_keys_rotated_at_the_provider_are_fetched_again(
    tmp_path: Path, rotating: Provider, clock: ManualClock
) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", auth={"oidc": oidc_settings(rotating)})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=clock)
    try:
        with TestClient(app=create_app(settings, services)) as app:
            first = login(app, "alice")
            assert first.status_code == 200
            old_kid = services.oidc.clients["test"].keys().keys[0].key_id
            rotating.rotate()
            # The cached key set lacks the new key: the next sign-in fetches it once.
            second = login(app, "alice")
            assert second.status_code == 200, second.text
            assert second.json()["user"]["id"] == first.json()["user"]["id"]
            assert services.oidc.clients["test"].keys().keys[0].key_id != old_kid
    finally:
        services.close()
