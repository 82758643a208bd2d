"""``/metrics``: Prometheus text, parsed by Prometheus's own parser; route templates only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from assistant.auth import PasswordHasher
from assistant.clock import ManualClock
from assistant.services import Services, build_services
from assistant.settings import Settings
from server.app import create_app
from tests.conftest import Accounts

Client = TestClient  # type: ignore[type-arg]


def metrics_app(tmp_path: Path, access: str = "admin") -> Iterator[tuple[Client, Services]]:
    settings = Settings.load(
        data_dir=tmp_path / "data", metrics={"enabled": True, "access": access}
    )
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=ManualClock())
    with TestClient(app=create_app(settings, services)) as client:
        yield client, services
    services.close()


@pytest.fixture
def on(tmp_path: Path) -> Iterator[tuple[Client, Services]]:
    yield from metrics_app(tmp_path)


def families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    found: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        found[family.name] = [(s.name, s.labels, s.value) for s in family.samples]
    return found


def test_metrics_are_parsed_with_names_and_template_labels(on: tuple[Client, Services]) -> None:
    client, services = on
    accounts = Accounts(client, services)
    admin = accounts.register("root")
    user = accounts.register("ada")
    for conversation in ("abc", "def", "ghi"):
        client.get(f"/api/v1/chat/conversations/{conversation}", headers=user)
    client.get("/no/such/path/1", headers=user)
    client.get("/no/such/path/2", headers=user)
    emit = services.analytics.emitter.emit
    emit("chat.turn", {"model": "m:1", "completion_tokens": 42, "first_token_ms": 250.0})
    emit("model.load", {"model": "m:1", "load_ms": 800.0, "memory_mb": 300.0})
    emit("model.unload", {"model": "m:1", "reason": "evicted"})
    emit("voice.transcription", {"model": "stt:1", "rtf": 0.08})
    emit("voice.synthesis", {"model": "tts:1", "rtf": 0.05})
    emit("voice.turn", {"stt_ms": 300.0, "tts_first_chunk_ms": 120.0})
    emit("voice.wake", {"model": "wake:1", "score": 0.98})
    services.analytics.emitter.flush()

    answer = client.get("/metrics", headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = families(answer.text)
    routes = {labels["route"] for _, labels, _ in found["assistant_http_requests"]}
    assert "/api/v1/chat/conversations/{conversation_id}" in routes
    assert "unmatched" in routes
    assert not any("abc" in r or "/no/such" in r for r in routes)
    assert ("assistant_chat_tokens_generated_total", {"model": "m:1"}, 42.0) in found[
        "assistant_chat_tokens_generated"
    ]
    assert ("assistant_model_loads_total", {"model": "m:1"}, 1.0) in found["assistant_model_loads"]
    assert ("assistant_model_unloads_total", {"model": "m:1", "reason": "evicted"}, 1.0) in found[
        "assistant_model_unloads"
    ]
    first_token = {
        s[1].get("le"): s[2]
        for s in found["assistant_chat_time_to_first_token_seconds"]
        if s[0].endswith("_bucket")
    }
    assert (first_token["0.1"], first_token["0.25"]) == (0.0, 1.0)
    rtf = {s[1]["capability"] for s in found["assistant_real_time_factor"]}
    assert rtf == {"stt", "tts"}
    stages = {s[1]["stage"] for s in found["assistant_voice_stage_seconds"]}
    assert stages == {"stt", "tts_first_chunk"}
    assert ("assistant_wake_detections_total", {"model": "wake:1"}, 1.0) in found[
        "assistant_wake_detections"
    ]
    logins = {s[1]["outcome"]: s[2] for s in found["assistant_logins"] if s[0].endswith("_total")}
    assert logins == {"success": 1.0}
    errors = {(s[1]["code"], s[1]["route"]) for s in found["assistant_errors"]}
    assert ("not-found", "unmatched") in errors
    for name in (
        "assistant_http_request_duration_seconds",
        "assistant_model_memory_megabytes",
        "assistant_model_queue_depth",
        "assistant_analytics_queue_length",
        "assistant_analytics_events_dropped",
        "assistant_sqlite_write_seconds",
        "assistant_model_load_duration_seconds",
    ):
        assert name in found, name


def test_metrics_need_an_admin(on: tuple[Client, Services]) -> None:
    client, services = on
    accounts = Accounts(client, services)
    accounts.register("root")
    user = accounts.register("ada")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=user).status_code == 403


def test_loopback_access_refuses_other_clients(tmp_path: Path) -> None:
    for client, _ in metrics_app(tmp_path, access="loopback"):
        # The test client's address is "testclient", not a loopback address.
        assert client.get("/metrics").status_code == 403


def test_metrics_are_off_by_default(client: Client) -> None:
    assert client.get("/metrics").status_code == 404
