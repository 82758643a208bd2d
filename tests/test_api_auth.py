from __future__ import annotations

import logging
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from assistant.clock import ManualClock
from assistant.logs import request_id
from assistant.services import Services
from tests.conftest import Accounts

Client = TestClient[Any]
PASSWORD = "correct horse battery"


def is_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_full_flow_register_login_me_refresh_reuse_logout(client: Client) -> None:
    registered = client.post(
        "/api/v1/auth/register", json={"username": "ada", "password": PASSWORD}
    )
    assert registered.status_code == 201
    assert registered.json()["user"]["role"] == "admin"

    login = client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["token_type"] == "Bearer"

    me = client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["username"] == "ada"

    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]

    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    is_problem(reused, 401, "unauthorized")
    # Reuse revoked the whole family: the newest pair is dead too.
    is_problem(
        client.get("/api/v1/auth/me", headers=bearer(new["access_token"])), 401, "unauthorized"
    )

    again = client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}).json()
    assert (
        client.post("/api/v1/auth/logout", headers=bearer(again["access_token"])).status_code == 204
    )
    is_problem(
        client.post("/api/v1/auth/refresh", json={"refresh_token": again["refresh_token"]}),
        401,
        "unauthorized",
    )
    is_problem(
        client.get("/api/v1/auth/me", headers=bearer(again["access_token"])), 401, "unauthorized"
    )


def test_unauthenticated_requests_are_refused_with_a_hint(client: Client) -> None:
    response = client.get("/api/v1/auth/me")
    body = is_problem(response, 401, "unauthorized")
    assert "Authorization: Bearer" in body["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    is_problem(
        client.get("/api/v1/profile", headers={"Authorization": "Basic abc"}), 401, "unauthorized"
    )
    is_problem(client.get("/api/v1/profile", headers=bearer("garbage")), 401, "unauthorized")


def test_registration_closed_after_first_admin_opens_on_request(
    client: Client, accounts: Accounts
) -> None:
    admin = accounts.register("ada")
    assert client.get("/api/v1/auth/registration").json() == {"open": False}
    body = is_problem(
        client.post("/api/v1/auth/register", json={"username": "eve", "password": PASSWORD}),
        403,
        "forbidden",
    )
    assert "assistant users add" in body["detail"]
    user = accounts.register("bob")
    is_problem(
        client.put("/api/v1/auth/registration", json={"open": True}, headers=user), 403, "forbidden"
    )
    assert client.put("/api/v1/auth/registration", json={"open": True}, headers=admin).json() == {
        "open": True
    }
    assert (
        client.post(
            "/api/v1/auth/register", json={"username": "eve", "password": PASSWORD}
        ).status_code
        == 201
    )


def test_login_rate_limit_answers_429_with_retry_after(client: Client, accounts: Accounts) -> None:
    accounts.register("ada")
    for _ in range(5):
        is_problem(
            client.post("/api/v1/auth/login", json={"username": "ada", "password": "wrong one"}),
            401,
            "unauthorized",
        )
    response = client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
    body = is_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) == body["retry_after_seconds"] > 0


def test_no_user_enumeration(client: Client, accounts: Accounts) -> None:
    accounts.register("ada")
    wrong = client.post("/api/v1/auth/login", json={"username": "ada", "password": "wrong one"})
    missing = client.post(
        "/api/v1/auth/login", json={"username": "nobody", "password": "wrong one"}
    )
    assert wrong.json()["detail"] == missing.json()["detail"]


def test_sessions_are_listed_and_revocable_only_by_their_owner(
    client: Client, accounts: Accounts
) -> None:
    ada = accounts.register("ada")
    bob = accounts.register("bob")
    ada_sessions = client.get("/api/v1/auth/sessions", headers=ada).json()
    assert len(ada_sessions) == 1 and ada_sessions[0]["current"]
    session_id = ada_sessions[0]["id"]
    is_problem(client.delete(f"/api/v1/auth/sessions/{session_id}", headers=bob), 404, "not-found")
    assert client.get("/api/v1/auth/me", headers=ada).status_code == 200
    assert client.delete(f"/api/v1/auth/sessions/{session_id}", headers=ada).status_code == 204
    is_problem(client.get("/api/v1/auth/me", headers=ada), 401, "unauthorized")


def test_api_keys_work_as_bearer_and_header_and_are_private(
    client: Client, accounts: Accounts
) -> None:
    ada = accounts.register("ada")
    bob = accounts.register("bob")
    created = client.post("/api/v1/auth/api-keys", json={"name": "kitchen tablet"}, headers=ada)
    assert created.status_code == 201
    secret = created.json()["key"]
    key_id = created.json()["api_key"]["id"]
    assert client.get("/api/v1/auth/me", headers=bearer(secret)).json()["username"] == "ada"
    assert client.get("/api/v1/auth/me", headers={"X-API-Key": secret}).json()["username"] == "ada"
    listed = client.get("/api/v1/auth/api-keys", headers=ada).json()
    assert [k["id"] for k in listed] == [key_id]
    assert "key" not in listed[0] and listed[0]["last_used_at"]
    assert client.get("/api/v1/auth/api-keys", headers=bob).json() == []
    is_problem(client.delete(f"/api/v1/auth/api-keys/{key_id}", headers=bob), 404, "not-found")
    assert client.delete(f"/api/v1/auth/api-keys/{key_id}", headers=ada).status_code == 204
    is_problem(client.get("/api/v1/auth/me", headers=bearer(secret)), 401, "unauthorized")
    # An API key has no session to log out of.
    key = client.post("/api/v1/auth/api-keys", json={"name": "y"}, headers=ada).json()["key"]
    is_problem(client.post("/api/v1/auth/logout", headers=bearer(key)), 422, "invalid-input")


def test_password_change_and_admin_reset(client: Client, accounts: Accounts) -> None:
    admin = accounts.register("ada")
    bob = accounts.register("bob")
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "second password"},
        headers=bob,
    )
    assert changed.status_code == 200
    is_problem(client.get("/api/v1/auth/me", headers=bob), 401, "unauthorized")
    bob = bearer(changed.json()["access_token"])
    bob_id = client.get("/api/v1/auth/me", headers=bob).json()["id"]

    is_problem(
        client.post(f"/api/v1/auth/users/{bob_id}/password-reset", headers=bob), 403, "forbidden"
    )
    token = client.post(f"/api/v1/auth/users/{bob_id}/password-reset", headers=admin).json()[
        "token"
    ]
    reset = client.post(
        "/api/v1/auth/password/reset", json={"token": token, "new_password": "third password"}
    )
    assert reset.status_code == 204
    is_problem(client.get("/api/v1/auth/me", headers=bob), 401, "unauthorized")
    is_problem(
        client.post(
            "/api/v1/auth/password/reset", json={"token": token, "new_password": "fourth password"}
        ),
        401,
        "unauthorized",
    )
    login = client.post(
        "/api/v1/auth/login", json={"username": "bob", "password": "third password"}
    )
    assert login.status_code == 200


def test_admin_user_management(client: Client, accounts: Accounts) -> None:
    admin = accounts.register("ada")
    bob = accounts.register("bob")
    is_problem(client.get("/api/v1/auth/users", headers=bob), 403, "forbidden")
    created = client.post(
        "/api/v1/auth/users", json={"username": "carol", "password": PASSWORD}, headers=admin
    )
    assert created.status_code == 201
    carol_id = created.json()["id"]
    assert [u["username"] for u in client.get("/api/v1/auth/users", headers=admin).json()] == [
        "ada",
        "bob",
        "carol",
    ]
    is_problem(
        client.post(
            "/api/v1/auth/users", json={"username": "CAROL", "password": PASSWORD}, headers=admin
        ),
        409,
        "conflict",
    )
    patched = client.patch(f"/api/v1/auth/users/{carol_id}", json={"role": "admin"}, headers=admin)
    assert patched.json()["role"] == "admin"
    assert client.delete(f"/api/v1/auth/users/{carol_id}", headers=admin).status_code == 204
    is_problem(client.delete(f"/api/v1/auth/users/{carol_id}", headers=admin), 404, "not-found")


def test_expired_access_token_then_refresh(
    client: Client, accounts: Accounts, clock: ManualClock
) -> None:
    login = client.post(
        "/api/v1/auth/register", json={"username": "ada", "password": PASSWORD}
    ).json()
    clock.advance(1000)
    body = is_problem(
        client.get("/api/v1/auth/me", headers=bearer(login["access_token"])), 401, "unauthorized"
    )
    assert "expired" in body["detail"]
    fresh = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]}
    ).json()
    assert client.get("/api/v1/auth/me", headers=bearer(fresh["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "field"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "bad-request", None),
        (
            b'{"username": "\xff\xfe", "password": "x"}',
            {"content-type": "application/json"},
            400,
            "bad-request",
            None,
        ),
        (
            b'{"username": "ada"}',
            {"content-type": "application/json"},
            422,
            "invalid-input",
            "password",
        ),
        (
            b'{"username": 5, "password": "x"}',
            {"content-type": "application/json"},
            422,
            "invalid-input",
            "username",
        ),
        (
            b'{"username": "ada", "password": "x", "admin": true}',
            {"content-type": "application/json"},
            422,
            "invalid-input",
            "admin",
        ),
        (
            b'{"username": "ada", "password": "x", "extra": {"deep": [1, 2]}}',
            {"content-type": "application/json"},
            422,
            "invalid-input",
            "extra",
        ),
        (
            b'{"username": "' + b"a" * 100 + b'", "password": "x"}',
            {"content-type": "application/json"},
            422,
            "invalid-input",
            "username",
        ),
        (b"[]", {"content-type": "application/json"}, 400, "bad-request", None),
        (
            b'{"username": "ada", "password": "' + b"p" * 2_000_000 + b'"}',
            {"content-type": "application/json"},
            413,
            "payload-too-large",
            None,
        ),
    ],
)
def test_bad_input_is_a_clear_problem(
    client: Client, body: bytes, headers: dict[str, str], status: int, code: str, field: str | None
) -> None:
    problem = is_problem(
        client.post("/api/v1/auth/login", content=body, headers=headers), status, code
    )
    if field:
        assert problem["field"] == field
        assert field in problem["detail"]


def test_domain_validation_names_the_field(client: Client) -> None:
    body = is_problem(
        client.post("/api/v1/auth/register", json={"username": "ada", "password": "short"}),
        422,
        "invalid-input",
    )
    assert body["field"] == "password"


def test_request_ids_are_echoed_or_made(client: Client) -> None:
    mine = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    evil = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert evil.headers["x-request-id"] != "bad id\twith spaces"
    assert len(client.get("/nowhere").headers["x-request-id"]) == 32


def test_unknown_route_and_method_are_problems(client: Client, accounts: Accounts) -> None:
    headers = accounts.register("ada")
    is_problem(client.get("/api/v1/nowhere", headers=headers), 404, "not-found")
    is_problem(client.delete("/api/v1/auth/me", headers=headers), 405, "method-not-allowed")


def test_unexpected_errors_are_logged_with_the_request_id_and_hidden(
    client: Client, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        def authenticate(self, credential: str) -> None:
            raise ZeroDivisionError("secret internals")

    services.auth = Exploding()  # type: ignore[assignment]
    response = client.get("/api/v1/auth/me", headers=bearer("x"))
    body = is_problem(response, 500, "internal-error")
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert any("ZeroDivisionError" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    assert body["request_id"] in body["detail"]


@pytest.mark.parametrize("claims", [{"exp": "soon"}, {"iat": [1]}, {"exp": None}, {"sid": 7}])
def test_a_signed_token_with_malformed_claims_is_unauthorized(
    client: Client, services: Services, claims: dict[str, Any]
) -> None:
    """Signed with the server's own key, yet nonsense inside: 401, never a 500."""
    tokens = client.post(
        "/api/v1/auth/register", json={"username": "ada", "password": PASSWORD}
    ).json()
    valid = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    key = services.auth.tokens.keyset.current
    forged = jwt.encode(
        {**valid, **claims}, key.secret, algorithm="HS256", headers={"kid": key.kid}
    )
    is_problem(client.get("/api/v1/auth/me", headers=bearer(forged)), 401, "unauthorized")


class Lines(logging.Handler):
    """Records (logger, request id, message) as each line is logged."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, request_id.get(), record.getMessage()))


def test_the_access_log_records_the_status_of_every_answer(
    client: Client, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """Answers given outside the routes' middleware (a 401 or a 500 raised by the auth
    middleware, an unknown path) are logged with their status, not '-', and the error
    line of a 500 carries its request id."""

    class Exploding:
        def authenticate(self, credential: str) -> None:
            raise ZeroDivisionError("secret internals")

    handler = Lines()
    logging.getLogger().addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            client.get("/api/v1/auth/me", headers={"X-Request-ID": "no-credentials"})
            client.get("/v1/models", headers={"X-Request-ID": "openai-no-credentials"})
            client.get("/nowhere/at/all", headers={"X-Request-ID": "unknown-path"})
            services.auth = Exploding()  # type: ignore[assignment]
            client.get("/api/v1/auth/me", headers={**bearer("x"), "X-Request-ID": "exploding"})
    finally:
        logging.getLogger().removeHandler(handler)
    access = {rid: message for name, rid, message in handler.lines if name == "server.access"}
    assert access["no-credentials"].startswith("GET /api/v1/auth/me 401 ")
    assert access["openai-no-credentials"].startswith("GET /v1/models 401 ")
    assert access["unknown-path"].startswith("GET /nowhere/at/all 404 ")
    assert access["exploding"].startswith("GET /api/v1/auth/me 500 ")
    errors = [(rid, message) for name, rid, message in handler.lines if name == "server.problems"]
    assert errors == [("exploding", "unhandled error in GET /api/v1/auth/me")]
