"""JSON bodies are read by one request class: the same rules on every endpoint."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from server.bodies import TOO_DEEP_BODY, TOO_DEEP_MESSAGE, WS_BAD_REQUEST
from tests.conftest import Accounts

Client = TestClient[Any]
DEEP_ARRAY = b"[" * 1000 + b"]" * 1000
"""2 KB that overflow the decoder's recursion."""
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000


def json_endpoints(client: Client) -> list[tuple[str, str]]:
    """Every (method, path) whose documented request body is JSON, path parameters filled."""
    document = client.get("/schema/openapi.json").json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    return found


LIBRETRANSLATE_FORMS = ("/translate", "/detect")
"""LibreTranslate's endpoints that read a form or JSON."""


def is_ollama(path: str) -> bool:
    return path.startswith("/api/") and not path.startswith("/api/v1/")


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_a_bad_request_on_every_endpoint(
    client: Client, accounts: Accounts, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    admin = {**accounts.register("ada"), "content-type": "application/json"}
    endpoints = json_endpoints(client)
    assert ("POST", "/api/v1/auth/login") in endpoints and len(endpoints) > 15
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for method, path in endpoints:
            response = client.request(method, path, content=body, headers=admin)
            assert response.status_code == 400, (method, path, response.text)
            assert TOO_DEEP_BODY in response.text, (method, path, response.text)
            if path.startswith("/api/v1/"):
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["code"] == "bad-request"
    # No traceback, no error: one access-log line per request.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not any(r.exc_info for r in caplog.records)
    access = [r for r in caplog.records if r.name == "server.access"]
    assert len(access) == len(endpoints)
    assert all(" 400 " in r.getMessage() for r in access)


def test_unauthenticated_login_refuses_deep_json(client: Client) -> None:
    response = client.post(
        "/api/v1/auth/login", content=DEEP_ARRAY, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == TOO_DEEP_BODY


def test_json_bodies_must_be_sent_as_json(client: Client, accounts: Accounts) -> None:
    admin = accounts.register("ada")
    for method, path in json_endpoints(client):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {**admin, **({"content-type": content_type} if content_type else {})}
            response = client.request(method, path, content=b"{}", headers=headers)
            if is_ollama(path) or path in LIBRETRANSLATE_FORMS:
                # Ollama reads any body as JSON; its documentation posts with `curl -d`.
                # LibreTranslate reads forms as well as JSON, as its clients send both.
                assert response.status_code != 415, (method, path)
                continue
            assert response.status_code == 415, (method, path, content_type, response.text)
            assert "Content-Type: application/json" in response.text
            if path.startswith("/api/v1/"):
                assert response.json()["code"] == "unsupported-media-type"


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
def test_json_media_types_are_accepted(
    client: Client, accounts: Accounts, content_type: str
) -> None:
    ada = {**accounts.register("ada"), "content-type": content_type}
    response = client.patch(
        "/api/v1/profile/preferences", content=b'{"tone": "casual"}', headers=ada
    )
    assert response.status_code == 200, response.text
    assert response.json()["preferences"]["tone"] == "casual"


def test_an_empty_body_needs_no_content_type(client: Client) -> None:
    """No body, nothing to label: the answer is about the missing body, not its type."""
    response = client.post("/api/v1/auth/login")
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("message", "reason"),
    [(DEEP_ARRAY.decode(), TOO_DEEP_MESSAGE), ("{not json", "JSON is malformed")],
)
def test_undecodable_websocket_messages_close_as_bad_requests(
    client: Client, accounts: Accounts, message: str, reason: str
) -> None:
    token = accounts.register("ada")["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(f"/api/v1/chat/ws?access_token={token}") as socket:
        socket.send_text(message)
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == WS_BAD_REQUEST
    assert reason in closed.value.detail
