"""``/api/v1/notifications`` under the test client: bad input, ownership, preferences."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import Accounts

API = "/api/v1/notifications"
Client = TestClient  # type: ignore[type-arg]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "category": "gossip"}, "category"),
        ({"title": "x", "deliver_at": "2020-01-01T00:00:00Z"}, "deliver_at"),
        ({"title": "x", "deliver_at": "tomorrow"}, "deliver_at"),
        ({"title": "x", "deliver_at": "2030-01-01T00:00:00"}, "deliver_at"),  # no offset
        ({"title": "x", "deliver_at": "0001-01-01T00:00:00+00:01"}, "deliver_at"),
        ({"title": "x", "body": "b" * 4097}, "body"),
        ({"title": "x" * 251}, "title"),
        ({"title": "x", "data": {"blob": "d" * 5000}}, "data"),
        (
            {
                "title": "x",
                "actions": [{"kind": "callback", "id": f"a{n}", "label": "A"} for n in range(4)],
            },
            "actions",
        ),
        (
            {"title": "x", "actions": [{"kind": "url", "id": "a", "label": "A"}]},
            "actions.0.url.url",
        ),
        ({"title": "x", "priority": 7}, "priority"),
        ({"title": "x", "priority": "loud"}, "priority"),
        ({"title": "x", "delay": "soon"}, "delay"),
        ({"title": "x", "collapse_key": "has spaces"}, "collapse_key"),
        ({"title": "x", "sound": "ding"}, "sound"),
        ({"title": "line\nbreak"}, "title"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: Client, accounts: Accounts, body: dict[str, Any], field: str
) -> None:
    ada = accounts.register("ada")
    answer = client.post(f"{API}/send", json=body, headers=ada)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field


def test_send_answers_the_planned_deliveries(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    answer = client.post(f"{API}/send", json={"title": "Later", "delay": "1h"}, headers=ada)
    assert answer.status_code == 201
    [sent] = answer.json()["notifications"]
    assert sent["status"] == "scheduled"
    planned = {d["channel"]: (d["status"], d["error"]) for d in sent["deliveries"]}
    assert planned["companion"] == ("scheduled", None)
    assert planned["desktop"][0] == "skipped" and "turned off" in planned["desktop"][1]


def test_another_users_notification_is_404(client: Client, accounts: Accounts) -> None:
    ada, bob = accounts.register("ada"), accounts.register("bob")
    notification_id = client.post(f"{API}/send", json={"title": "mine"}, headers=ada).json()["id"]
    for method, path, body in [
        ("GET", f"{API}/{notification_id}", None),
        ("PATCH", f"{API}/{notification_id}", {"title": "stolen"}),
        ("DELETE", f"{API}/{notification_id}", None),
        ("POST", f"{API}/{notification_id}/read", None),
        ("POST", f"{API}/{notification_id}/dismiss", None),
        ("POST", f"{API}/{notification_id}/ack", None),
        ("POST", f"{API}/{notification_id}/actions/default", None),
    ]:
        answer = client.request(method, path, json=body, headers=bob)
        assert answer.status_code == 404, (method, path, answer.text)
    assert client.get(f"{API}/{notification_id}", headers=ada).json()["read"] is False
    history = client.get(f"{API}/history", headers=bob).json()
    assert history == {"notifications": [], "next_before": None}


def test_admins_notify_others_and_users_may_not(client: Client, accounts: Accounts) -> None:
    ada, bob = accounts.register("ada"), accounts.register("bob")
    assert (
        client.post(f"{API}/send", json={"title": "x", "user": "ada"}, headers=bob).status_code
        == 403
    )
    sent = client.post(f"{API}/send", json={"title": "hi", "user": "bob"}, headers=ada)
    assert sent.status_code == 201
    [mine] = client.get(f"{API}/history", headers=bob).json()["notifications"]
    assert mine["title"] == "hi"
    both = client.post(f"{API}/send", json={"title": "all", "all_users": True}, headers=ada)
    assert len(both.json()["notifications"]) == 2


def test_update_withdraw_and_history_pages(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    ids = [
        client.post(
            f"{API}/send", json={"title": f"n{n}", "category": "reminder"}, headers=ada
        ).json()["id"]
        for n in range(3)
    ]
    changed = client.patch(
        f"{API}/{ids[0]}", json={"body": "new body", "priority": "max"}, headers=ada
    )
    assert changed.status_code == 200 and changed.json()["priority"] == 5
    withdrawn = client.delete(f"{API}/{ids[1]}", headers=ada).json()
    assert withdrawn["status"] == "withdrawn"
    assert client.patch(f"{API}/{ids[1]}", json={"body": "x"}, headers=ada).status_code == 409
    page = client.get(f"{API}/history", params={"limit": 2}, headers=ada).json()
    assert [n["id"] for n in page["notifications"]] == ids[:0:-1]
    rest = client.get(
        f"{API}/history", params={"limit": 2, "before": page["next_before"]}, headers=ada
    )
    assert [n["id"] for n in rest.json()["notifications"]] == [ids[0]]
    active = client.get(f"{API}/history", params={"status": "withdrawn"}, headers=ada).json()
    assert [n["id"] for n in active["notifications"]] == [ids[1]]
    assert client.post(f"{API}/read-all", headers=ada).json() == {"read": 2}
    unread = client.get(f"{API}/history", params={"unread": True}, headers=ada).json()
    assert unread["notifications"] == [] or all(
        n["status"] != "active" for n in unread["notifications"]
    )
    bad = client.get(f"{API}/history", params={"category": "gossip"}, headers=ada)
    assert bad.status_code == 422 and bad.json()["field"] == "category"


def test_unread_counts_what_is_neither_read_nor_dismissed(
    client: Client, accounts: Accounts
) -> None:
    ada, bob = accounts.register("ada"), accounts.register("bob")
    ids = [
        client.post(f"{API}/send", json={"title": f"n{n}"}, headers=ada).json()["id"]
        for n in range(4)
    ]
    client.post(f"{API}/send", json={"title": "later", "delay": "1h"}, headers=ada)
    assert client.get(f"{API}/unread", headers=ada).json() == {"unread": 4}
    client.post(f"{API}/{ids[0]}/read", headers=ada)
    client.post(f"{API}/{ids[1]}/dismiss", headers=ada)
    client.delete(f"{API}/{ids[2]}", headers=ada)
    assert client.get(f"{API}/unread", headers=ada).json() == {"unread": 1}
    assert client.get(f"{API}/unread", headers=bob).json() == {"unread": 0}
    assert client.get(f"{API}/unread").status_code == 401


def test_preferences_are_the_profiles(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    current = client.get(f"{API}/preferences", headers=ada)
    assert current.json()["preferences"]["channels"] == [
        "desktop",
        "companion",
        "webpush",
        "fcm",
        "apns",
    ]
    wanted = {
        "channels": ["companion", "webpush"],
        "quiet_hours": {"start": "22:00", "end": "07:00", "bypass_priority": 4},
        "min_priority": {"webpush": 3},
        "categories": {"chores": {"channels": ["companion"], "min_priority": {"companion": 2}}},
        "do_not_disturb_until": "2030-01-01T10:00:00+02:00",
    }
    answer = client.put(
        f"{API}/preferences", json=wanted, headers={**ada, "If-Match": current.headers["etag"]}
    )
    assert answer.status_code == 200, answer.text
    stored = answer.json()["preferences"]
    assert stored["do_not_disturb_until"] == "2030-01-01T08:00:00Z"
    profile = client.get("/api/v1/profile/preferences", headers=ada).json()
    assert profile["preferences"]["notifications"] == stored
    assert answer.headers["etag"] == f'"{profile["version"]}"'
    stale = client.put(
        f"{API}/preferences", json={}, headers={**ada, "If-Match": current.headers["etag"]}
    )
    assert stale.status_code == 409
    # A category named in the preferences may be used.
    assert (
        client.post(
            f"{API}/send", json={"title": "x", "category": "chores"}, headers=ada
        ).status_code
        == 201
    )
    bad = client.put(f"{API}/preferences", json={"channels": ["pager"]}, headers=ada)
    assert bad.status_code == 422 and bad.json()["field"].startswith("channels")


def test_channels_say_why_one_is_unavailable(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    channels = client.get(f"{API}/channels", headers=ada).json()
    by_name = {c["name"]: c for c in channels["channels"]}
    assert by_name["desktop"] == {
        "name": "desktop",
        "available": False,
        "reason": "turned off (notifications.desktop = off)",
    }
    assert by_name["companion"]["available"] and by_name["webpush"]["available"]
    assert "not configured" in by_name["fcm"]["reason"]
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok"
    assert ready["checks"]["notifications desktop"].startswith("unavailable: turned off")


def test_devices_for_fcm_and_apns(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    created = client.post(
        f"{API}/devices", json={"platform": "fcm", "token": "fcm-token-123"}, headers=ada
    )
    assert created.status_code == 201 and created.json()["token"] == "fcm-token-123"
    listed = client.get(f"{API}/devices", headers=ada).json()["items"]
    assert [d["kind"] for d in listed] == ["fcm"]
    path = f"{API}/devices/{created.json()['id']}"
    assert client.delete(path, headers=ada).status_code == 204
    assert client.delete(path, headers=ada).status_code == 404
    bad = client.post(f"{API}/devices", json={"platform": "sms", "token": "12345678"}, headers=ada)
    assert bad.status_code == 422 and bad.json()["field"] == "platform"
