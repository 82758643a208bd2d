"""``/api/v1/models`` with the real store and manager (the file-less WebRTC VAD loads for real)."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from assistant.services import Services
from tests.conftest import Accounts
from tests.test_api_auth import is_problem

Client = TestClient[Any]
VAD = "webrtc-vad:builtin"


def test_list_load_unload(client: Client, accounts: Accounts, services: Services) -> None:
    admin = accounts.register("ada")
    user = accounts.register("bob")
    empty = client.get("/api/v1/models", headers=user).json()
    assert empty["installed"] == [] and empty["loaded"] == []
    assert empty["budget_mb"] > 0

    body = is_problem(
        client.post(f"/api/v1/models/{VAD}/load", headers=admin), 503, "model-not-installed"
    )
    assert body["extra"]["install_command"] == f"assistant models pull {VAD}"

    services.models.pull(VAD)  # no files: nothing to download
    is_problem(client.post(f"/api/v1/models/{VAD}/load", headers=user), 403, "forbidden")
    loaded = client.post(f"/api/v1/models/{VAD}/load", json={"keep_alive": -1}, headers=admin)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["expires_in"] is None

    listing = client.get("/api/v1/models", headers=user).json()
    assert [m["id"] for m in listing["installed"]] == [VAD]
    [model] = listing["loaded"]
    assert (model["id"], model["capability"], model["in_use"]) == (VAD, "vad", False)

    assert client.post(f"/api/v1/models/{VAD}/unload", headers=admin).status_code == 204
    is_problem(client.post(f"/api/v1/models/{VAD}/unload", headers=admin), 404, "not-found")
    assert client.get("/api/v1/models", headers=user).json()["loaded"] == []


def test_unknown_model(client: Client, accounts: Accounts) -> None:
    admin = accounts.register("ada")
    body = is_problem(
        client.post("/api/v1/models/nope:1/load", headers=admin), 503, "model-not-installed"
    )
    assert "assistant models add" in body["detail"]
