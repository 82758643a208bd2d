"""``/api/v1/timers`` and ``/api/v1/reminders`` under the test client."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.clock import ManualClock
from tests.conftest import Accounts

TIMERS = "/api/v1/timers"
REMINDERS = "/api/v1/reminders"
Client = TestClient  # type: ignore[type-arg]


def test_a_timer_starts_pauses_resumes_and_is_cancelled(
    client: Client, accounts: Accounts, clock: ManualClock
) -> None:
    ada = accounts.register("ada")
    started = client.post(TIMERS, json={"seconds": 480, "name": "pasta"}, headers=ada)
    assert started.status_code == 201, started.text
    timer = started.json()
    assert timer["state"] == "running" and timer["name"] == "pasta"
    assert timer["remaining_seconds"] == 480
    clock.advance(80)
    found = client.get(f"{TIMERS}/{timer['id']}", headers=ada).json()
    assert found["remaining_seconds"] == 400
    paused = client.post(f"{TIMERS}/{timer['id']}/pause", headers=ada)
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    again = client.post(f"{TIMERS}/{timer['id']}/pause", headers=ada)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["detail"] == "The pasta timer is already paused"
    clock.advance(100)
    resumed = client.post(f"{TIMERS}/{timer['id']}/resume", headers=ada).json()
    assert resumed["state"] == "running" and resumed["remaining_seconds"] == 400
    listed = client.get(TIMERS, headers=ada).json()
    assert [t["id"] for t in listed["items"]] == [timer["id"]]
    cancelled = client.delete(f"{TIMERS}/{timer['id']}", headers=ada)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.get(TIMERS, headers=ada).json() == {"items": []}


def test_timers_are_private_to_their_user(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    bob = accounts.register("bob")
    timer = client.post(TIMERS, json={"seconds": 60}, headers=ada).json()
    for method, path in [
        ("GET", f"{TIMERS}/{timer['id']}"),
        ("POST", f"{TIMERS}/{timer['id']}/pause"),
        ("DELETE", f"{TIMERS}/{timer['id']}"),
    ]:
        response = client.request(method, path, headers=bob)
        assert response.status_code == 404, (method, path)
    assert client.get(TIMERS, headers=bob).json() == {"items": []}
    assert client.get(TIMERS).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "seconds"),
        ({"seconds": 0}, "seconds"),
        ({"seconds": "60"}, "seconds"),
        ({"seconds": 8 * 86_400}, "seconds"),
        ({"seconds": 60, "name": "a\nb"}, "name"),
        ({"seconds": 60, "name": "x" * 65}, "name"),
        ({"seconds": 60, "colour": "red"}, "colour"),
    ],
)
def test_bad_timer_bodies_name_the_field(
    client: Client, accounts: Accounts, body: dict[str, Any], field: str
) -> None:
    ada = accounts.register("ada")
    response = client.post(TIMERS, json=body, headers=ada)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]} or (
        response.json().get("field") == field
    )


def test_a_second_timer_with_the_same_name_is_a_conflict(
    client: Client, accounts: Accounts
) -> None:
    ada = accounts.register("ada")
    assert client.post(TIMERS, json={"seconds": 60, "name": "tea"}, headers=ada).status_code == 201
    clash = client.post(TIMERS, json={"seconds": 90, "name": "tea"}, headers=ada)
    assert clash.status_code == 409 and clash.json()["field"] == "name"


def test_the_server_fires_a_due_timer_into_the_notifications(
    client: Client, accounts: Accounts, clock: ManualClock
) -> None:
    # The scheduler the app's lifespan started fires it (it looks at least every second).
    ada = accounts.register("ada")
    timer = client.post(TIMERS, json={"seconds": 5, "name": "tea"}, headers=ada).json()
    clock.advance(5)
    deadline = time.monotonic() + 30  # a generous bound for a busy machine
    # The item is marked fired first, then its notification is sent: wait for the latter.
    while not (
        notes := client.get("/api/v1/notifications/history", headers=ada).json()["notifications"]
    ):
        assert time.monotonic() < deadline, "the timer never fired"
        time.sleep(0.05)
    assert client.get(f"{TIMERS}/{timer['id']}", headers=ada).json()["state"] == "fired"
    [note] = notes
    assert (note["category"], note["body"]) == ("timer", "Your tea timer is done.")


def test_reminders_are_set_listed_and_cancelled(
    client: Client, accounts: Accounts, clock: ManualClock
) -> None:
    ada = accounts.register("ada")
    due = datetime.fromtimestamp(clock() + 3600, tz=UTC).isoformat()
    first = client.post(REMINDERS, json={"text": "call Mum", "due_at": due}, headers=ada)
    assert first.status_code == 201, first.text
    assert first.json()["due_at"] == due.replace("+00:00", "Z")
    second = client.post(REMINDERS, json={"text": "bins", "in_seconds": 60}, headers=ada).json()
    listed = client.get(REMINDERS, headers=ada).json()["items"]
    assert [r["text"] for r in listed] == ["bins", "call Mum"]
    cancelled = client.delete(f"{REMINDERS}/{second['id']}", headers=ada)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert client.delete(f"{REMINDERS}/{second['id']}", headers=ada).status_code == 409
    assert client.delete(f"{REMINDERS}/nope", headers=ada).status_code == 404
    assert [r["text"] for r in client.get(REMINDERS, headers=ada).json()["items"]] == ["call Mum"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"text": "x"}, 400, "body"),  # neither time (a rule across fields: the body's)
        ({"text": "x", "in_seconds": 5, "due_at": "2030-01-01T00:00:00Z"}, 400, "body"),
        ({"text": "", "in_seconds": 5}, 422, "text"),
        ({"text": "x", "due_at": "2030-01-01T00:00:00"}, 422, "due_at"),  # no offset
        ({"text": "x", "due_at": "2020-01-01T00:00:00Z"}, 422, "due_at"),  # past
        ({"text": "x", "in_seconds": -1}, 422, "in_seconds"),
    ],
)
def test_bad_reminder_bodies_name_the_field(
    client: Client, accounts: Accounts, body: dict[str, Any], status: int, field: str
) -> None:
    ada = accounts.register("ada")
    response = client.post(REMINDERS, json=body, headers=ada)
    assert response.status_code == status, response.text
    problem = response.json()
    fields = {e["field"] for e in problem.get("errors") or []} | {problem.get("field")}
    assert field in fields, problem
