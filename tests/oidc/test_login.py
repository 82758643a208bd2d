"""Sign-in through a real OpenID provider (node-oidc-provider on loopback), driven
through its login and consent forms."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient

from assistant.auth.oidc.idtoken import pkce_pair
from tests.conftest import Accounts
from tests.oidc.provider import APP_ORIGIN, sign_in_at_provider

Client = TestClient  # type: ignore[type-arg]


def start(client: Client, provider: str = "test", **params: Any) -> str:
    """The provider URL the login endpoint redirects to."""
    answer = client.get(
        f"/api/v1/auth/oidc/{provider}/login", params=params, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    assert url.startswith(APP_ORIGIN)
    return f"{parts.path}?{parts.query}"


def login(client: Client, who: str, provider: str = "test", **params: Any) -> Any:
    """Sign in as ``who`` at the provider; the app's answer to the callback."""
    url = sign_in_at_provider(start(client, provider, **params), who)
    return client.get(callback_path(url), follow_redirects=False)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_providers_are_listed_with_their_login_urls(client: Client) -> None:
    listed = client.get("/api/v1/auth/oidc/providers").json()
    test = next(p for p in listed if p["name"] == "test")
    assert test == {
        "name": "test",
        "display_name": "Test provider",
        "login_url": "/api/v1/auth/oidc/test/login",
        "auto_create": True,
        "device_flow": True,
    }


def test_the_authorization_request_uses_pkce_state_and_nonce(client: Client) -> None:
    query = parse_qs(urlsplit(start(client)).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0] and query["state"] != query["nonce"]
    assert query["redirect_uri"] == [f"{APP_ORIGIN}/api/v1/auth/oidc/test/callback"]


def test_a_first_sign_in_creates_an_admitted_account_and_the_next_finds_it(
    client: Client,
) -> None:
    first = login(client, "alice")
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert tokens["user"]["username"] == "alice"
    me = client.get("/api/v1/auth/me", headers=bearer(tokens)).json()
    assert me["id"] == tokens["user"]["id"]
    identities = client.get("/api/v1/auth/identities", headers=bearer(tokens)).json()
    assert [(i["provider"], i["subject"], i["email"]) for i in identities] == [
        ("test", "alice", "alice@example.com")
    ]
    profile = client.get("/api/v1/profile", headers=bearer(tokens)).json()
    assert profile["display_name"] == "Alice"  # the provider's name claim
    again = login(client, "alice").json()
    assert again["user"]["id"] == tokens["user"]["id"]
    assert again["session_id"] != tokens["session_id"]
    # The same refresh-token rotation as a password sign-in.
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": again["refresh_token"]})
    assert refreshed.status_code == 200


def test_a_replayed_callback_is_refused(client: Client) -> None:
    url = sign_in_at_provider(start(client), "alice")
    assert client.get(callback_path(url)).status_code == 200
    replay = client.get(callback_path(url))
    assert replay.status_code == 401
    assert replay.headers["content-type"] == "application/problem+json"
    assert "already finished" in replay.json()["detail"]


def test_a_replayed_code_under_a_fresh_state_is_refused_by_the_provider(client: Client) -> None:
    used = parse_qs(urlsplit(sign_in_at_provider(start(client), "alice")).query)
    assert (
        client.get(
            "/api/v1/auth/oidc/test/callback", params={k: v[0] for k, v in used.items()}
        ).status_code
        == 200
    )
    fresh_state = parse_qs(urlsplit(start(client)).query)["state"][0]
    replay = client.get(
        "/api/v1/auth/oidc/test/callback", params={"code": used["code"][0], "state": fresh_state}
    )
    assert replay.status_code == 401
    assert "invalid_grant" in replay.json()["detail"]


def test_a_declined_sign_in_is_a_403_and_an_html_page_for_browsers(client: Client) -> None:
    url = sign_in_at_provider(start(client), "alice", abort=True)
    assert "error=access_denied" in url
    answer = client.get(callback_path(url), headers={"Accept": "text/html"})
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "declined" in answer.text
    url = sign_in_at_provider(start(client), "alice", abort=True)
    assert client.get(callback_path(url)).json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("who", "why"),
    [
        ("mallory", "not admitted"),  # e-mail domain not allowed
        ("unverified", "not admitted"),  # allowed domain, but the address is unverified
    ],
)
def test_unknown_identities_the_rules_do_not_admit_are_refused(
    client: Client, who: str, why: str
) -> None:
    answer = login(client, who)
    assert answer.status_code == 403
    assert why in answer.json()["detail"]


def test_a_link_only_provider_refuses_unknown_identities(client: Client) -> None:
    answer = login(client, "alice", provider="strict")
    assert answer.status_code == 403
    assert "link it" in answer.json()["detail"]


def test_a_signed_in_user_links_an_identity_then_signs_in_with_it_and_unlinks_it(
    client: Client, accounts: Accounts
) -> None:
    headers = accounts.register("bob-local")
    started = client.post("/api/v1/auth/identities/strict/link", json={}, headers=headers).json()
    url = sign_in_at_provider(started["authorization_url"], "carol")
    linked = client.get(callback_path(url))
    assert linked.status_code == 200, linked.text
    assert (linked.json()["provider"], linked.json()["subject"]) == ("strict", "carol")
    signed_in = login(client, "carol", provider="strict").json()
    assert signed_in["user"]["username"] == "bob-local"
    # Linking the same identity to another account is refused.
    other = accounts.register("dave-local")
    started = client.post("/api/v1/auth/identities/strict/link", json={}, headers=other).json()
    clash = client.get(callback_path(sign_in_at_provider(started["authorization_url"], "carol")))
    assert clash.status_code == 409
    # Bob has a password: unlinking leaves him a way in.
    identity_id = linked.json()["id"]
    assert (
        client.delete(f"/api/v1/auth/identities/{identity_id}", headers=headers).status_code == 204
    )
    assert login(client, "carol", provider="strict").status_code == 403


def test_the_only_way_into_an_account_cannot_be_unlinked(client: Client) -> None:
    tokens = login(client, "alice").json()
    identities = client.get("/api/v1/auth/identities", headers=bearer(tokens)).json()
    answer = client.delete(f"/api/v1/auth/identities/{identities[0]['id']}", headers=bearer(tokens))
    assert answer.status_code == 409
    assert "only way" in answer.json()["detail"]


def test_a_disabled_account_cannot_sign_in_through_its_identity(
    client: Client, accounts: Accounts
) -> None:
    admin = accounts.register("admin")
    user_id = login(client, "alice").json()["user"]["id"]
    patched = client.patch(f"/api/v1/auth/users/{user_id}", json={"disabled": True}, headers=admin)
    assert patched.status_code == 200
    answer = login(client, "alice")
    assert answer.status_code == 403
    assert "disabled" in answer.json()["detail"]


def test_a_page_gets_a_one_time_code_at_its_return_path(client: Client) -> None:
    answer = login(client, "alice", return_to="/app/?tab=chat")
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert (location.netloc, location.path, location.query) == ("", "/app/", "tab=chat")
    code = parse_qs(location.fragment)["oidc_code"][0]
    tokens = client.post("/api/v1/auth/oidc/token", json={"code": code})
    assert tokens.status_code == 200
    assert tokens.json()["user"]["username"] == "alice"
    assert client.post("/api/v1/auth/oidc/token", json={"code": code}).status_code == 401


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "app", "/a\nb", "/a#b"],
)
def test_return_to_only_goes_to_paths_on_this_server(client: Client, target: str) -> None:
    answer = client.get(
        "/api/v1/auth/oidc/test/login", params={"return_to": target}, follow_redirects=False
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "return_to"


def test_a_native_app_gets_a_code_only_its_verifier_redeems(client: Client) -> None:
    verifier, challenge = pkce_pair()
    answer = login(
        client,
        "alice",
        redirect_uri="http://127.0.0.1:53123/callback",
        state="app-state",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        "http://127.0.0.1:53123/callback"
    )
    query = parse_qs(location.query)
    assert query["state"] == ["app-state"]
    code = query["code"][0]
    stolen = client.post("/api/v1/auth/oidc/token", json={"code": code})
    assert stolen.status_code == 401  # without the verifier the code is burnt
    verifier2, challenge2 = pkce_pair()
    answer = login(
        client,
        "alice",
        redirect_uri="http://127.0.0.1:53123/callback",
        code_challenge=challenge2,
        code_challenge_method="S256",
    )
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = client.post("/api/v1/auth/oidc/token", json={"code": code, "code_verifier": verifier2})
    assert tokens.status_code == 200, tokens.text
    assert verifier != verifier2


@pytest.mark.parametrize(
    "redirect_uri", ["https://evil.example/cb", "http://10.0.0.1/cb", "javascript:alert(1)"]
)
def test_apps_may_only_redirect_to_loopback_or_their_own_scheme(
    client: Client, redirect_uri: str
) -> None:
    _, challenge = pkce_pair()
    answer = client.get(
        "/api/v1/auth/oidc/test/login",
        params={"redirect_uri": redirect_uri, "code_challenge": challenge},
        follow_redirects=False,
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "redirect_uri"


def test_an_unknown_provider_is_a_404(client: Client) -> None:
    answer = client.get("/api/v1/auth/oidc/nope/login", follow_redirects=False)
    assert answer.status_code == 404


def test_a_sign_in_finishes_only_in_the_browser_that_started_it(client: Client) -> None:
    url = sign_in_at_provider(start(client), "alice")
    client.cookies.clear()  # another browser: the victim of a forged callback link
    answer = client.get(callback_path(url))
    assert answer.status_code == 401
    assert answer.json()["extra"]["reason"] == "browser"


def test_a_link_makes_the_provider_ask_explicitly(client: Client, accounts: Accounts) -> None:
    headers = accounts.register("erin-local")
    started = client.post("/api/v1/auth/identities/strict/link", json={}, headers=headers)
    assert parse_qs(urlsplit(started.json()["authorization_url"]).query)["prompt"] == ["consent"]
