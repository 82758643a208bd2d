"""The web app's first run and cookie sessions: /api/v1/auth/setup and /api/v1/auth/session,
the CSRF double-submit on unsafe methods, and the Origin check on cookie WebSockets."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from assistant.clock import ManualClock
from assistant.services import Services
from server.bodies import WS_BAD_REQUEST
from tests.conftest import Accounts
from tests.test_api_auth import is_problem

Client = TestClient[Any]
PASSWORD = "correct horse battery"


def set_up(client: Client, username: str = "ada") -> Any:
    return client.post("/api/v1/auth/setup", json={"username": username, "password": PASSWORD})


def csrf(client: Client) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["assistant_csrf"]}


def test_setup_creates_the_first_admin_once_and_signs_it_in(client: Client) -> None:
    assert client.get("/api/v1/auth/setup").json() == {"needs_setup": True}
    created = set_up(client)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user"]["username"] == "ada"
    assert body["user"]["role"] == "admin"
    assert "access_token" not in body and "refresh_token" not in body
    assert client.get("/api/v1/auth/setup").json() == {"needs_setup": False}
    # Signed in by the cookie alone.
    assert client.get("/api/v1/auth/me").json()["username"] == "ada"

    again = set_up(client, "eve")
    is_problem(again, 409, "conflict")
    assert [u.username for u in client.app.state.services.auth.list_users()] == ["ada"]


def test_setup_refuses_once_any_account_exists(client: Client, accounts: Accounts) -> None:
    accounts.register("ada")
    is_problem(set_up(client, "eve"), 409, "conflict")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "a", "password": PASSWORD}, "username"),
        ({"username": "ada", "password": "short"}, "password"),
        ({"username": "ada"}, "password"),
    ],
)
def test_setup_checks_what_it_is_given(client: Client, body: dict[str, str], field: str) -> None:
    answer = client.post("/api/v1/auth/setup", json=body)
    problem = is_problem(answer, answer.status_code, answer.json()["code"])
    assert answer.status_code in (400, 422)
    assert field in answer.text
    assert problem["detail"]
    assert client.get("/api/v1/auth/setup").json() == {"needs_setup": True}


def test_session_cookies_are_httponly_strict_and_the_csrf_one_is_readable(
    client: Client, accounts: Accounts
) -> None:
    accounts.register("ada")
    answer = client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    cookies = {c.split("=", 1)[0]: c for c in answer.headers.get_list("set-cookie")}
    session = cookies["assistant_session"].lower()
    assert "httponly" in session
    assert "samesite=strict" in session
    assert "path=/" in session
    assert "secure" not in session  # served over plain http here
    token = cookies["assistant_csrf"].lower()
    assert "httponly" not in token
    assert "samesite=strict" in token
    assert answer.json()["user"]["username"] == "ada"


def test_session_cookies_are_secure_over_https(settings: Any, services: Services) -> None:
    from server.app import create_app

    services.auth.create_user("ada", PASSWORD)
    with TestClient(app=create_app(settings, services), base_url="https://testserver.local") as c:
        answer = c.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
        assert answer.status_code == 200
        for cookie in answer.headers.get_list("set-cookie"):
            assert "secure" in cookie.lower()


def test_wrong_password_is_401_and_sets_no_cookie(client: Client, accounts: Accounts) -> None:
    accounts.register("ada")
    answer = client.post("/api/v1/auth/session", json={"username": "ada", "password": "wrong!!!"})
    is_problem(answer, 401, "unauthorized")
    assert "set-cookie" not in answer.headers


def test_session_state_says_who_is_signed_in_without_a_401(
    client: Client, accounts: Accounts
) -> None:
    accounts.register("ada")
    assert client.get("/api/v1/auth/session").json() == {"user": None}
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    assert client.get("/api/v1/auth/session").json()["user"]["username"] == "ada"
    client.cookies.set("assistant_session", "garbage")
    assert client.get("/api/v1/auth/session").json() == {"user": None}


def test_unsafe_request_with_the_cookie_needs_the_csrf_header(
    client: Client, accounts: Accounts
) -> None:
    accounts.register("ada")
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    body = {"name": "phone"}
    missing = client.post("/api/v1/auth/api-keys", json=body)
    problem = is_problem(missing, 403, "forbidden")
    assert "X-CSRF-Token" in problem["detail"]
    wrong = client.post("/api/v1/auth/api-keys", json=body, headers={"X-CSRF-Token": "nope"})
    is_problem(wrong, 403, "forbidden")
    ok = client.post("/api/v1/auth/api-keys", json=body, headers=csrf(client))
    assert ok.status_code == 201, ok.text
    # Safe methods need no header.
    assert client.get("/api/v1/auth/api-keys").status_code == 200


def test_the_cookie_works_only_under_api_v1(client: Client, accounts: Accounts) -> None:
    accounts.register("ada")
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    # The OpenAI face takes Bearer keys only: a page elsewhere cannot ride on the cookie.
    assert client.get("/v1/models").status_code == 401  # in OpenAI's error shape


def test_bearer_token_cannot_be_used_as_the_cookie_nor_the_cookie_as_bearer(
    client: Client, accounts: Accounts
) -> None:
    headers = accounts.register("ada")
    token = headers["Authorization"].split()[1]
    client.cookies.set("assistant_session", token)
    assert client.get("/api/v1/auth/session").json() == {"user": None}
    is_problem(client.get("/api/v1/auth/me"), 401, "unauthorized")
    client.cookies.clear()
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    cookie = client.cookies["assistant_session"]
    client.cookies.clear()
    is_problem(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {cookie}"}),
        401,
        "unauthorized",
    )


def test_sign_out_ends_the_session_and_clears_the_cookies(
    client: Client, accounts: Accounts
) -> None:
    accounts.register("ada")
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    cookie = client.cookies["assistant_session"]
    sessions = client.get("/api/v1/auth/sessions").json()
    assert sorted(s["current"] for s in sessions) == [False, True]  # this one, and register's
    is_problem(client.delete("/api/v1/auth/session"), 403, "forbidden")  # no CSRF header
    out = client.delete("/api/v1/auth/session", headers=csrf(client))
    assert out.status_code == 204
    cleared = {c.split("=", 1)[0]: c.lower() for c in out.headers.get_list("set-cookie")}
    assert "max-age=0" in cleared["assistant_session"]
    assert "max-age=0" in cleared["assistant_csrf"]
    # The old cookie value is dead even if a browser kept it.
    client.cookies.clear()
    client.cookies.set("assistant_session", cookie)
    is_problem(client.get("/api/v1/auth/me"), 401, "unauthorized")


def test_revoking_the_session_from_the_list_ends_the_cookie(
    client: Client, accounts: Accounts
) -> None:
    accounts.register("ada")
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    current = next(s for s in client.get("/api/v1/auth/sessions").json() if s["current"])
    answer = client.delete(f"/api/v1/auth/sessions/{current['id']}", headers=csrf(client))
    assert answer.status_code == 204
    is_problem(client.get("/api/v1/auth/me"), 401, "unauthorized")


def test_the_cookie_session_expires_with_its_session(
    client: Client, accounts: Accounts, clock: ManualClock, services: Services
) -> None:
    accounts.register("ada")
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    assert client.get("/api/v1/auth/me").status_code == 200
    clock.advance(services.settings.auth.refresh_token_ttl_days * 86_400 + 60)
    is_problem(client.get("/api/v1/auth/me"), 401, "unauthorized")


def test_a_cookie_websocket_needs_this_sites_origin(client: Client, accounts: Accounts) -> None:
    accounts.register("ada")
    client.post("/api/v1/auth/session", json={"username": "ada", "password": PASSWORD})
    cookie = f"assistant_session={client.cookies['assistant_session']}"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(
            "/api/v1/chat/ws", headers={"Origin": "https://evil.example", "Cookie": cookie}
        ) as socket,
    ):
        socket.receive_json()
    assert refused.value.code == 4403
    with (
        pytest.raises(WebSocketDisconnect) as no_origin,
        client.websocket_connect("/api/v1/chat/ws", headers={"Cookie": cookie}) as socket,
    ):
        socket.receive_json()
    assert no_origin.value.code == 4403
    # From this site the socket is signed in: a malformed message is answered as such,
    # not as a refused sign-in.
    with client.websocket_connect(
        "/api/v1/chat/ws", headers={"Origin": "http://testserver.local", "Cookie": cookie}
    ) as socket:
        socket.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == WS_BAD_REQUEST


def test_oidc_handoff_code_must_be_valid(client: Client) -> None:
    answer = client.post("/api/v1/auth/session/oidc", json={"code": "not-a-code"})
    assert answer.status_code in (401, 403)
    assert "set-cookie" not in answer.headers
