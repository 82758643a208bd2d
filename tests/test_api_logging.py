"""What the server log says about failed requests: the server's faults, not the callers'."""

from __future__ import annotations

import logging
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from assistant.errors import BackendError, InvalidInput, RateLimited, Unauthorized
from hal.errors import DeviceUnavailable
from runtime.errors import ModelNotInstalled, ResourceExhausted
from server.problems import classify, report
from tests.conftest import Accounts

Client = TestClient[Any]


@pytest.mark.parametrize(
    ("exc", "level"),
    [
        (InvalidInput("bad", field="x"), None),
        (Unauthorized("who?"), None),
        (RateLimited("slow", retry_after_seconds=3), None),
        (ModelNotInstalled("nope:1"), logging.INFO),
        (ModelNotInstalled("../../etc/passwd\n", in_catalogue=False), logging.INFO),
        (ResourceExhausted("queue full", retry_after_seconds=2), logging.WARNING),
        (DeviceUnavailable("no microphone"), logging.WARNING),
        (BackendError("disk full"), logging.ERROR),
        (ZeroDivisionError("bug"), logging.ERROR),
    ],
)
def test_each_problem_is_logged_at_the_level_it_deserves(
    caplog: pytest.LogCaptureFixture, exc: Exception, level: int | None
) -> None:
    with caplog.at_level(logging.DEBUG, logger="server.problems"):
        report(classify(exc), exc, "POST /x")
    assert [r.levelno for r in caplog.records] == ([] if level is None else [level])


def test_client_mistakes_are_not_logged_as_warnings_or_errors(
    client: Client, accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    ada = accounts.register("ada")
    valid = jwt.decode(ada["Authorization"].split()[1], options={"verify_signature": False})
    key = client.app.state.services.auth.tokens.keyset.current
    forged = jwt.encode(
        {**valid, "exp": "soon"}, key.secret, algorithm="HS256", headers={"kid": key.kid}
    )
    json = {"content-type": "application/json"}
    mistakes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/v1/auth/login", {"content": b"[" * 1000 + b"]" * 1000, "headers": json}),
        ("POST", "/api/v1/auth/login", {"content": b"{", "headers": json}),
        ("POST", "/api/v1/auth/login", {"content": b"{}", "headers": {"content-type": "a/b"}}),
        ("GET", "/api/v1/auth/me", {"headers": {"Authorization": f"Bearer {forged}"}}),
        ("GET", "/api/v1/auth/me", {"headers": {"Authorization": "Bearer nonsense"}}),
        ("GET", "/api/v1/nowhere", {"headers": ada}),
        ("DELETE", "/api/v1/auth/me", {"headers": ada}),
        ("PATCH", "/api/v1/profile", {"json": {"display_name": "a\x00b"}, "headers": ada}),
        ("PUT", "/api/v1/profile/avatar", {"content": b"\x89PNG\r\n\x1a\n", "headers": ada}),
        ("PATCH", "/api/v1/profile/preferences", {"json": {"colour": 1}, "headers": ada}),
        ("POST", "/api/v1/chat/message", {"json": {"text": "hi", "model": "x:1"}, "headers": ada}),
        (
            "POST",
            "/v1/chat/completions",
            {
                "json": {"model": "x", "messages": [{"role": "user", "content": "hi"}]},
                "headers": ada,
            },
        ),
        ("POST", "/v1/audio/translations", {"headers": ada}),
    ]
    with caplog.at_level(logging.INFO):
        for method, path, options in mistakes:
            response = client.request(method, path, **options)
            assert response.status_code < 500 or response.status_code == 503, (path, response.text)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
