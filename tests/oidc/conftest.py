"""A real OpenID provider for the module, and the app configured to use it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.clock import ManualClock
from assistant.settings import Settings
from tests.oidc.provider import CLIENT_SECRET, Provider


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """node-oidc-provider on a loopback port, for the whole run."""
    running = Provider(tmp_path_factory.mktemp("oidc-provider"))
    running.start()
    yield running
    running.stop()


def oidc_settings(provider: Provider) -> dict[str, Any]:
    return provider.settings(
        test={
            "client_id": "assistant",
            "client_secret": CLIENT_SECRET,
            "display_name": "Test provider",
            "scopes": ["openid", "email", "profile", "groups"],
            "auto_create": True,
            "allowed_email_domains": ["example.com"],
        },
        strict={"client_id": "assistant", "client_secret": CLIENT_SECRET},
        public={
            "client_id": "assistant-public",
            "scopes": ["openid", "email", "groups"],
            "auto_create": True,
            "allowed_groups": ["family"],
        },
    )


@pytest.fixture
def clock() -> ManualClock:
    """Now: the provider stamps its tokens with the real time."""
    return ManualClock(time.time())


@pytest.fixture
def settings(tmp_path: Path, provider: Provider) -> Settings:
    """Settings of a fresh device that accepts sign-ins from the provider."""
    return Settings.load(data_dir=tmp_path / "data", auth={"oidc": oidc_settings(provider)})
