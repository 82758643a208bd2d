"""The OpenAI face's answer for endpoints it does not offer names those it does."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import Accounts

Client = TestClient[Any]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/audio/translations"), ("POST", "/v1/embeddings"), ("GET", "/v1/files")],
)
def test_unknown_openai_endpoints_list_every_endpoint_offered(
    client: Client, accounts: Accounts, method: str, path: str
) -> None:
    response = client.request(method, path, headers=accounts.register("ada"))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unknown_url"
    message = error["message"]
    assert message.startswith(f"{method} {path} is not offered here; this server implements ")
    documented = client.get("/schema/openapi.json").json()["paths"]
    offered = [
        f"{verb.upper()} {route}"
        for route, item in documented.items()
        if route.startswith("/v1/")
        for verb in item
        if verb in ("get", "post", "put", "patch", "delete")
    ]
    assert {"POST /v1/audio/transcriptions", "POST /v1/audio/speech"} <= set(offered)
    for endpoint in offered:
        assert endpoint in message
    assert "{rest}" not in message
