"""``/api/v1/models/catalogue``, ``/pull`` (Server-Sent Events of progress) and
``DELETE /api/v1/models/{id}``, against a local HTTP server posing as the model's CDN."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from assistant.settings import Settings
from runtime.manifest import shipped_manifest_path
from server.app import create_app
from tests.conftest import Accounts
from tests.runtime.httpserver import LocalServer
from tests.test_api_auth import is_problem

Client = TestClient[Any]
MODEL = "web-test:blob"
BLOB = os.urandom(3 * 1024 * 1024 + 123)


def manifest_with_local_model(folder: Path, url: str, data: bytes = BLOB) -> Path:
    """The shipped catalogue plus ``web-test:blob``, one file downloaded from ``url``."""
    path = folder / "manifest.toml"
    path.write_text(
        shipped_manifest_path().read_text(encoding="utf-8")
        + f"""
[[models]]
id = "{MODEL}"
capability = "vad"
engine = "webrtcvad"
description = "A test download"
license = "MIT"
languages = []
memory_mb = 1
[[models.files]]
name = "blob.bin"
size = {len(data)}
sha256 = "{hashlib.sha256(data).hexdigest()}"
[[models.files.sources]]
kind = "https"
url = "{url}"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def cdn() -> Iterator[LocalServer]:
    with LocalServer() as server:
        server.add("/blob.bin", BLOB)
        server.add("/broken.bin", b"x" * len(BLOB))
        yield server


@pytest.fixture
def pull_client(tmp_path: Path, cdn: LocalServer) -> Iterator[tuple[Client, Services]]:
    manifest = manifest_with_local_model(tmp_path, cdn.url("/blob.bin"))
    settings = Settings.load(data_dir=tmp_path / "data", models={"manifest": manifest})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    try:
        with TestClient(app=create_app(settings, services)) as client:
            yield client, services
    finally:
        services.close()


def events_of(text: str) -> list[tuple[str, Any]]:
    found = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_the_catalogue_lists_every_model_with_its_state(
    pull_client: tuple[Client, Services],
) -> None:
    client, services = pull_client
    accounts = Accounts(client, services)
    admin, user = accounts.register("ada"), accounts.register("bob")
    is_problem(client.get("/api/v1/models/catalogue", headers=user), 403, "forbidden")
    listing = client.get("/api/v1/models/catalogue", headers=admin).json()
    mine = next(m for m in listing if m["id"] == MODEL)
    assert mine == {
        "id": MODEL,
        "capability": "vad",
        "engine": "webrtcvad",
        "description": "A test download",
        "size_bytes": len(BLOB),
        "memory_mb": 1,
        "installed": False,
    }
    assert {"whisper:tiny.en", "piper:en_US-joe-medium"} <= {m["id"] for m in listing}


def test_pull_streams_progress_then_the_installed_model_and_remove_deletes_it(
    pull_client: tuple[Client, Services], cdn: LocalServer
) -> None:
    client, services = pull_client
    accounts = Accounts(client, services)
    admin, user = accounts.register("ada"), accounts.register("bob")
    is_problem(
        client.post("/api/v1/models/pull", json={"model": MODEL}, headers=user), 403, "forbidden"
    )
    answer = client.post("/api/v1/models/pull", json={"model": MODEL}, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = events_of(answer.text)
    progress = [data for name, data in events if name == "progress"]
    assert progress, events
    assert all(p["total_bytes"] == len(BLOB) for p in progress)
    done = [p["done_bytes"] for p in progress]
    assert done == sorted(done) and done[-1] == len(BLOB)
    assert any(0 < d < len(BLOB) for d in done)  # a live bar, not only start and end
    name, model = events[-1]
    assert name == "done"
    assert (model["id"], model["size_bytes"]) == (MODEL, len(BLOB))
    assert services.models.get(MODEL) is not None
    catalogue = client.get("/api/v1/models/catalogue", headers=admin).json()
    assert next(m for m in catalogue if m["id"] == MODEL)["installed"] is True

    is_problem(client.delete(f"/api/v1/models/{MODEL}", headers=user), 403, "forbidden")
    assert client.delete(f"/api/v1/models/{MODEL}", headers=admin).status_code == 204
    assert services.models.get(MODEL) is None
    is_problem(client.delete(f"/api/v1/models/{MODEL}", headers=admin), 503, "model-not-installed")


def test_pull_of_an_unknown_model_is_a_404_before_any_stream(
    pull_client: tuple[Client, Services],
) -> None:
    client, services = pull_client
    admin = Accounts(client, services).register("ada")
    answer = client.post("/api/v1/models/pull", json={"model": "nope:1"}, headers=admin)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "nope:1" in answer.json()["detail"]


def test_a_failed_download_ends_the_stream_with_an_error_event(
    tmp_path: Path, cdn: LocalServer
) -> None:
    # The catalogue pins the blob's hash but the source serves other bytes.
    manifest = manifest_with_local_model(tmp_path, cdn.url("/broken.bin"))
    settings = Settings.load(data_dir=tmp_path / "data", models={"manifest": manifest})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    try:
        with TestClient(app=create_app(settings, services)) as client:
            admin = Accounts(client, services).register("ada")
            answer = client.post("/api/v1/models/pull", json={"model": MODEL}, headers=admin)
            assert answer.status_code == 200
            name, problem = events_of(answer.text)[-1]
            assert name == "error"
            assert problem["status"] >= 400 and problem["code"] and problem["detail"]
            assert services.models.get(MODEL) is None
    finally:
        services.close()
