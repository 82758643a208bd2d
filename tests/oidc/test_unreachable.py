"""A provider that does not answer: a clear 502, and a listing that does not wait."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.clock import ManualClock
from assistant.services import build_services
from assistant.settings import Settings
from server.app import create_app
from server.background import free_port


def test_a_provider_that_is_down_answers_502_not_500(tmp_path: Path, clock: ManualClock) -> None:
    issuer = f"http://127.0.0.1:{free_port()}"
    settings = Settings.load(
        data_dir=tmp_path / "data",
        auth={"oidc": {"providers": {"down": {"issuer": issuer, "client_id": "x"}}}},
    )
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=clock)
    try:
        with TestClient(app=create_app(settings, services)) as client:
            listed = client.get("/api/v1/auth/oidc/providers").json()
            assert listed[0]["device_flow"] is None
            answer = client.get("/api/v1/auth/oidc/down/login", follow_redirects=False)
            assert answer.status_code == 502
            assert answer.json()["code"] == "upstream-error"
            assert "unreachable" in answer.json()["detail"]
            page = client.get(
                "/api/v1/auth/oidc/down/login",
                headers={"Accept": "text/html"},
                follow_redirects=False,
            )
            assert page.status_code == 502
            assert page.headers["content-type"].startswith("text/html")
    finally:
        services.close()
