"""Device sign-in (RFC 8628) through the real provider: the device shows a code, the
person approves on another device, the device's poll gets the tokens."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.oidc.provider import approve_device

Client = TestClient  # type: ignore[type-arg]


def test_a_device_signs_in_once_the_person_approves_elsewhere(client: Client) -> None:
    started = client.post("/api/v1/auth/oidc/public/device")
    assert started.status_code == 200, started.text
    login = started.json()
    assert login["user_code"] and login["verification_uri"].endswith("/device")
    pending = client.post("/api/v1/auth/oidc/device/poll", json={"id": login["id"]})
    assert pending.json() == {"status": "pending", "tokens": None}
    last_page = approve_device(login["verification_uri_complete"], "alice")
    assert "Sign-in Success" in last_page or "success" in last_page.lower()
    done = client.post("/api/v1/auth/oidc/device/poll", json={"id": login["id"]}).json()
    assert done["status"] == "complete"
    assert done["tokens"]["user"]["username"] == "alice"
    # Finished: the same device sign-in cannot be used twice.
    again = client.post("/api/v1/auth/oidc/device/poll", json={"id": login["id"]})
    assert again.status_code == 404


def test_a_provider_admits_device_identities_by_group_only(client: Client) -> None:
    login = client.post("/api/v1/auth/oidc/public/device").json()
    approve_device(login["verification_uri_complete"], "bob")  # in "guests", not "family"
    refused = client.post("/api/v1/auth/oidc/device/poll", json={"id": login["id"]})
    assert refused.status_code == 403
