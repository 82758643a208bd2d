"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.clock import ManualClock
from assistant.services import Services, build_services
from assistant.settings import Settings
from server.app import create_app


@pytest.fixture(scope="session")
def model_dir() -> Callable[[str], Path]:
    """The folder holding an installed model's files, by model id (``name:tag``).

    Real-model tests never skip: a missing model fails with the command that installs it.
    """
    # The store `scripts/test` fills with `assistant models pull --profile offline-all`.
    root = Path(os.environ.get("ASSISTANT_TEST_MODELS") or Settings.load().models_dir)

    def resolve(model_id: str) -> Path:
        name, _, tag = model_id.partition(":")
        path = root / "installed" / name / (tag or "latest")
        if not path.is_dir():
            pytest.fail(
                f"model {model_id} is not installed at {path}; run `./scripts/test` or"
                f" `assistant models pull {model_id}`"
            )
        return path

    return resolve


REPEATABLE_VOICE = {"piper:en_US-joe-medium": {"noise_scale": 0.0, "noise_w_scale": 0.0}}
"""Piper without its random noise: the same text gives the same audio on every run, so a
test that transcribes synthesised speech cannot pass or fail by the luck of the draw."""


def real_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """A fresh data directory sharing the real model store (filled by scripts/test)."""
    models = {"dir": Settings.load().models_dir, **overrides.pop("models", {})}
    models["params"] = {**REPEATABLE_VOICE, **models.get("params", {})}
    return Settings.load(data_dir=tmp_path / "data", models=models, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with everything in a temporary data directory."""
    return Settings.load(data_dir=tmp_path / "data")


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves by hand."""
    return ManualClock()


@pytest.fixture
def services(settings: Settings, clock: ManualClock) -> Iterator[Services]:
    """Real services on a temporary SQLite file, with cheap password hashing."""
    built = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=clock)
    yield built
    built.close()


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """The app from create_app() under Litestar's test client."""
    with TestClient(app=create_app(settings, services)) as test_client:
        yield test_client


class Accounts:
    """Registers users through the API and hands back their auth headers."""

    def __init__(self, client: TestClient, services: Services) -> None:  # type: ignore[type-arg]
        self.client = client
        self.services = services

    def register(self, username: str, password: str = "correct horse battery") -> dict[str, str]:
        """Create (the first is admin) and sign in; the Authorization header."""
        if self.services.auth.list_users():
            self.services.auth.create_user(username, password)
            response = self.client.post(
                "/api/v1/auth/login", json={"username": username, "password": password}
            )
        else:
            response = self.client.post(
                "/api/v1/auth/register", json={"username": username, "password": password}
            )
        assert response.status_code in (200, 201), response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def accounts(client: TestClient, services: Services) -> Accounts:  # type: ignore[type-arg]
    """Helper to make signed-in users."""
    return Accounts(client, services)
