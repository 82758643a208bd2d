"""The analytics API: ingest, dashboard, insights, export, isolation between users."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from litestar.testing import TestClient

from assistant.clock import ManualClock
from assistant.services import Services
from tests.conftest import Accounts

Client = TestClient  # type: ignore[type-arg]


def flushed(services: Services) -> None:
    """Everything accepted is written (the writer thread would do it within 0.25 s)."""
    services.analytics.emitter.flush()


def post_events(client: Client, headers: dict[str, str], body: Any) -> Any:
    return client.post("/api/v1/analytics/event", json=body, headers=headers)


def test_one_event_and_a_batch_are_accepted_stamped_and_stored(
    client: Client, accounts: Accounts, services: Services, clock: ManualClock
) -> None:
    ada = accounts.register("ada")
    one = post_events(
        client, ada, {"name": "app.opened", "properties": {"screen": "home", "ms": 12.5}}
    )
    assert one.status_code == 202, one.text
    assert one.json() == {"accepted": 1, "dropped": 0}
    batch = post_events(
        client,
        ada,
        {
            "events": [
                {
                    "name": "app.tapped",
                    "properties": {"n": i},
                    "timestamp": clock() - 60,
                    "session_id": "s-1",
                }
                for i in range(100)
            ]
        },
    )
    assert batch.json() == {"accepted": 100, "dropped": 0}
    flushed(services)
    ada_id = services.auth.list_users()[0].id
    assert services.analytics.count_events(ada_id) >= 101
    export = client.get("/api/v1/analytics/export?format=ndjson", headers=ada)
    rows = [json.loads(line) for line in export.text.splitlines()]
    tapped = [r for r in rows if r["name"] == "app.tapped"]
    assert len(tapped) == 100
    assert {r["user_id"] for r in rows} == {ada_id}
    assert tapped[0]["session_id"] == "s-1"
    assert tapped[0]["ts"] == int(clock() * 1000)
    assert tapped[0]["client_ts"] == int((clock() - 60) * 1000)
    assert sorted(r["properties"]["n"] for r in tapped) == list(range(100))


def test_bad_events_are_refused_naming_the_field(
    client: Client, accounts: Accounts, clock: ManualClock
) -> None:
    ada = accounts.register("ada")
    cases = [
        ({"name": "Bad Name"}, "name"),
        ({"name": "chat.turn"}, "name"),
        ({"name": "a.b", "properties": {"x": {"y": {"z": {"w": 1}}}}}, "properties.x.y.z"),
        ({"name": "a.b", "properties": {f"k{i}": i for i in range(33)}}, "properties"),
        ({"name": "a.b", "properties": {"t": "x" * 1001}}, "properties.t"),
        ({"name": "a.b", "timestamp": clock() - 8 * 86_400}, "timestamp"),
        ({"name": "a.b", "timestamp": clock() + 3600}, "timestamp"),
        ({"name": "a.b", "session_id": "no spaces"}, "session_id"),
        ({"events": []}, "events"),
        ({"events": [{"name": "ok.one"}, {"name": "chat.turn"}]}, "events[1].name"),
    ]
    for body, field in cases:
        answer = post_events(client, ada, body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in answer.json()["field"], (body, answer.json())


def test_events_need_a_signed_in_user(client: Client) -> None:
    assert post_events(client, {}, {"name": "a.b"}).status_code == 401


def test_users_see_only_their_own_events_dashboard_and_insights(
    client: Client, accounts: Accounts, services: Services
) -> None:
    admin = accounts.register("root")
    ada = accounts.register("ada")
    bob = accounts.register("bob")
    ids = {u.username: u.id for u in services.auth.list_users()}
    post_events(client, ada, {"events": [{"name": "ada.only"}] * 3})
    post_events(client, bob, {"events": [{"name": "bob.only"}] * 2})
    flushed(services)

    def names(headers: dict[str, str], query: str = "") -> dict[str, int]:
        answer = client.get(f"/api/v1/analytics/dashboard{query}", headers=headers)
        assert answer.status_code == 200, answer.text
        usage = answer.json()["usage"]
        return {s["name"]: s["total"] for s in usage if not s["name"].startswith("auth.")}

    assert names(ada) == {"ada.only": 3}
    assert names(bob) == {"bob.only": 2}
    assert names(admin) == {"ada.only": 3, "bob.only": 2}
    assert names(admin, f"?user={ids['bob']}") == {"bob.only": 2}
    forbidden = client.get(f"/api/v1/analytics/dashboard?user={ids['bob']}", headers=ada)
    assert forbidden.status_code == 403
    assert (
        client.get(f"/api/v1/analytics/insights?user={ids['ada']}", headers=bob).status_code == 403
    )
    insights = client.get("/api/v1/analytics/insights", headers=bob).json()
    assert [f["name"] for f in insights["most_used"]] == ["bob.only", "auth.login"]
    exported = client.get("/api/v1/analytics/export?format=csv", headers=ada).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["name"] for r in rows} == {"ada.only", "auth.login"}
    assert {r["user_id"] for r in rows} == {ids["ada"]}
    everyone = client.get("/api/v1/analytics/export?format=csv", headers=admin).text
    assert {r["name"] for r in csv.DictReader(io.StringIO(everyone))} >= {"ada.only", "bob.only"}


def test_dashboard_reports_chat_voice_models_and_errors(
    client: Client, accounts: Accounts, services: Services, clock: ManualClock
) -> None:
    admin = accounts.register("root")
    uid = services.auth.list_users()[0].id
    emit = services.analytics.emitter.emit
    for ms in (100, 200, 300, 400, 1000):
        emit(
            "chat.turn",
            {
                "model": "m:1",
                "first_token_ms": ms,
                "total_ms": ms * 3,
                "prompt_tokens": 100,
                "cached_tokens": 80,
                "completion_tokens": 20,
                "tokens_per_second": 40.0,
            },
            user_id=uid,
        )
    emit("model.load", {"model": "m:1", "load_ms": 300.0, "memory_mb": 512.0})
    emit(
        "voice.turn",
        {
            "vad_tail_ms": 800,
            "stt_ms": 300,
            "chat_first_sentence_ms": 400,
            "tts_first_chunk_ms": 100,
            "speech_end_to_first_audio_ms": 800,
        },
        user_id=uid,
    )
    client.get("/api/v1/nothing-here", headers=admin)
    flushed(services)
    data = client.get("/api/v1/analytics/dashboard", headers=admin).json()
    assert data["source"] == "raw"
    chat = {(r["capability"], r["measure"]): r for r in data["latency"]}
    first = chat[("chat", "first_token_ms")]
    assert (first["count"], first["p50_ms"], first["p95_ms"]) == (5, 300.0, 1000.0)
    assert data["cache"] == {
        "turns": 5,
        "prompt_tokens": 500,
        "cached_tokens": 400,
        "hit_rate": 0.8,
    }
    model = next(m for m in data["models"] if m["model"] == "m:1")
    assert (model["turns"], model["loads"], model["memory_mb"]) == (5, 1, 512.0)
    stages = {s["measure"]: s["p50_ms"] for s in data["voice_stages"]}
    assert stages["stt_ms"] == 300.0
    assert data["errors"]["by_code"] == [{"label": "not-found", "count": 1}]
    assert 40.0 in data["tokens_per_second"]
