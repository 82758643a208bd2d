"""Live streams over real HTTP: SSE and NDJSON (httpx), WebSocket (websockets), against the
app served by uvicorn on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from assistant.services import Services
from assistant.settings import Settings
from server.app import create_app
from server.background import serve_in_thread

PASSWORD = "correct horse battery"
API = "/api/v1/notifications"


class SseReader:
    """Reads Server-Sent Events from a streamed httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        self.lines = response.iter_lines()

    def next(self, *, skip_keepalive: bool = True) -> dict[str, Any]:
        """The next event: its fields, with ``data`` decoded."""
        fields: dict[str, Any] = {}
        for line in self.lines:
            if line == "":
                if fields.get("event") == "keepalive" and skip_keepalive:
                    fields = {}
                    continue
                if fields:
                    return fields
                continue
            name, _, value = line.partition(": ")
            fields[name] = json.loads(value) if name == "data" else value
        raise AssertionError("the stream ended")


@pytest.fixture
def server(settings: Settings, services: Services) -> Iterator[str]:
    with serve_in_thread(create_app(settings, services)) as url:
        yield url


@pytest.fixture
def login(server: str, services: Services) -> Iterator[Callable[[str], httpx.Client]]:
    """Makes an account and a client signed in to it."""
    clients: list[httpx.Client] = []

    def signed_in(username: str) -> httpx.Client:
        if not any(u.username == username for u in services.auth.list_users()):
            services.auth.create_user(username, PASSWORD)
        client = httpx.Client(base_url=server, timeout=10)
        answer = client.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        clients.append(client)
        return client

    yield signed_in
    for client in clients:
        client.close()


def send(client: httpx.Client, **fields: Any) -> str:
    answer = client.post(f"{API}/send", json={"title": "Tea", "body": "is ready", **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


Login = Callable[[str], httpx.Client]


def test_two_devices_stay_in_step(login: Login) -> None:
    phone, laptop = login("ada"), login("ada")
    with (
        phone.stream("GET", f"{API}/stream") as first,
        laptop.stream("GET", f"{API}/stream") as second,
    ):
        a, b = SseReader(first), SseReader(second)
        assert a.next()["event"] == "open" and b.next()["event"] == "open"
        notification_id = send(phone, priority="high")
        new_a, new_b = a.next(), b.next()
        assert new_a["event"] == new_b["event"] == "new"
        assert new_a["id"] == new_b["id"] == new_a["data"]["id"]
        assert new_b["data"]["notification"]["id"] == notification_id
        assert new_b["data"]["notification"]["priority"] == 4
        assert phone.post(f"{API}/{notification_id}/read").status_code == 200
        read_b, read_a = b.next(), a.next()
        assert read_b["event"] == read_a["event"] == "read"
        assert read_b["data"]["notification"]["read"] is True
        laptop.post(f"{API}/{notification_id}/dismiss")
        assert a.next()["event"] == "dismissed"
    # The live stream counted as a delivery to the companion apps.
    found = phone.get(f"{API}/{notification_id}").json()
    companion = next(d for d in found["deliveries"] if d["channel"] == "companion")
    assert companion["status"] == "read"


def test_reconnect_with_last_event_id_replays_exactly_what_was_missed(login: Login) -> None:
    client = login("ada")
    with client.stream("GET", f"{API}/stream") as live:
        reader = SseReader(live)
        assert reader.next()["event"] == "open"
        first = send(client, title="one")
        last_seen = reader.next()["id"]
    # Offline: another device sends, reads, updates.
    second = send(client, title="two")
    client.post(f"{API}/{first}/read")
    client.patch(f"{API}/{second}", json={"body": "changed"})
    with client.stream("GET", f"{API}/stream", headers={"Last-Event-ID": last_seen}) as again:
        reader = SseReader(again)
        missed = [reader.next() for _ in range(3)]
        assert [(e["event"], e["data"]["notification"]["id"]) for e in missed] == [
            ("new", second),
            ("read", first),
            ("updated", second),
        ]
        assert [int(e["id"]) for e in missed] == sorted(int(e["id"]) for e in missed)
        opened = reader.next()
        assert opened["event"] == "open"
        assert opened["data"]["last_event_id"] == missed[-1]["id"]
        third = send(client, title="three")
        assert reader.next()["data"]["notification"]["id"] == third  # and live again


def test_a_notification_no_device_received_is_replayed_on_connect(login: Login) -> None:
    client = login("ada")
    pending = send(client)
    found = client.get(f"{API}/{pending}").json()
    assert {d["channel"]: d["status"] for d in found["deliveries"]}["companion"] == "queued"
    with client.stream("GET", f"{API}/stream") as live:
        reader = SseReader(live)
        replayed = reader.next()
        assert replayed["event"] == "new"
        assert replayed["data"]["notification"]["id"] == pending
        assert reader.next()["event"] == "open"
    assert client.post(f"{API}/{pending}/ack").status_code == 200
    found = client.get(f"{API}/{pending}").json()
    assert {d["channel"]: d["status"] for d in found["deliveries"]}["companion"] == "delivered"
    # Received once: the next connection replays nothing.
    answer = client.get(f"{API}/stream", params={"poll": True})
    assert [e for e in answer.text.split("\n\n") if e.strip()] == [
        e for e in answer.text.split("\n\n") if "event: open" in e
    ]


def test_ndjson_and_since(login: Login) -> None:
    client = login("ada")
    ids = [send(client, title=str(n)) for n in range(3)]
    answer = client.get(f"{API}/stream", params={"format": "ndjson", "since": "all", "poll": True})
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [e["notification"]["id"] for e in lines[:-1]] == ids
    assert lines[-1]["event"] == "open"
    # since= a notification id: what came after it.
    after = client.get(
        f"{API}/stream",
        params={"since": ids[0], "poll": True},
        headers={"Accept": "application/x-ndjson"},
    )
    later = [json.loads(line) for line in after.text.splitlines()][:-1]
    assert [e["notification"]["id"] for e in later] == ids[1:]
    recent = client.get(f"{API}/stream", params={"since": "10m", "poll": True, "format": "ndjson"})
    assert len(recent.text.splitlines()) == 4
    bad = client.get(f"{API}/stream", params={"since": "yesterday-ish"})
    assert bad.status_code == 422 and bad.json()["field"] == "since"


def test_websocket_carries_events_and_takes_read_state(server: str, login: Login) -> None:
    client = login("ada")
    token = client.headers["Authorization"].removeprefix("Bearer ")
    ws_url = server.replace("http", "ws") + f"{API}/ws?access_token={token}"
    with connect(ws_url, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["event"] == "open"
        notification_id = send(client)
        new = json.loads(socket.recv(timeout=10))
        assert new["event"] == "new" and new["notification"]["id"] == notification_id
        socket.send(json.dumps({"type": "read", "id": notification_id}))
        read = json.loads(socket.recv(timeout=10))
        assert read["event"] == "read" and read["notification"]["read"] is True
        socket.send(json.dumps({"type": "read", "id": "not-mine"}))
        error = json.loads(socket.recv(timeout=10))
        assert error["event"] == "error" and error["problem"]["status"] == 404
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=10)) == {"event": "pong"}


def test_a_stream_only_carries_its_users_events(login: Login) -> None:
    ada, bob = login("ada"), login("bob")
    with bob.stream("GET", f"{API}/stream") as live:
        reader = SseReader(live)
        assert reader.next()["event"] == "open"
        send(ada, title="for ada")
        mine = send(bob, title="for bob")
        assert reader.next()["data"]["notification"]["id"] == mine
