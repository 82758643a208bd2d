"""Web Push end to end against a local push service that verifies VAPID and decrypts."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from assistant.errors import BackendError, InvalidInput
from assistant.notifications import VapidKeyFile
from assistant.notifications.channels.webpush import (
    VAPID_KEY_FILE,
    WebPushChannel,
    check_subscription,
)
from assistant.notifications.models import NotificationDraft
from assistant.services import Services
from tests.conftest import Accounts
from tests.notifications.conftest import World, with_channels
from tests.notifications.pushservice import PushService, running


@pytest.fixture
def vapid(services: Services) -> VapidKeyFile:
    return services.notifications.vapid


@pytest.fixture
def push(vapid: VapidKeyFile) -> Iterator[PushService]:
    with running(PushService(vapid.get().public_key)) as service:
        yield service


@pytest.fixture
async def webpush_world(world: World, vapid: VapidKeyFile) -> AsyncIterator[World]:
    """The world with the real Web Push channel (its JWT carries real time: the push
    service checks ``exp`` against its own clock)."""
    channel = WebPushChannel(vapid, "mailto:ops@example.com", httpx.AsyncClient(timeout=5))
    notifications = with_channels(world.notifications, {"webpush": channel})
    await notifications.dispatcher.start(run=False)
    world.notifications = notifications
    yield world
    await notifications.dispatcher.close()


def subscribe(world: World, push: PushService, name: str) -> str:
    subscription = push.subscribe(name)
    keys = subscription["keys"]
    check_subscription(subscription["endpoint"], keys["p256dh"], keys["auth"])
    target = world.service.add_target(
        world.bob.user_id,
        "webpush",
        subscription["endpoint"],
        p256dh=keys["p256dh"],
        auth=keys["auth"],
    )
    return target.id


def send(world: World, **fields: Any) -> str:
    draft = NotificationDraft.model_validate({"title": "Tea", "body": "is ready", **fields})
    return world.service.send(world.bob, draft)[0].id


def webpush_delivery(world: World, notification_id: str) -> Any:
    found = world.service.get(world.bob.user_id, notification_id)
    return next(d for d in found.deliveries if d.channel == "webpush")


async def test_a_push_is_signed_encrypted_and_decrypted_by_the_browser(
    webpush_world: World, push: PushService
) -> None:
    world = webpush_world
    subscribe(world, push, "firefox")
    notification_id = send(
        world,
        priority="high",
        collapse_key="tea",
        data={"room": "kitchen"},
        actions=[{"kind": "url", "id": "open", "label": "Open", "url": "https://example.com"}],
    )
    await world.notifications.dispatcher.run_once()
    assert push.rejections == []
    [received] = push.pushes
    assert received.payload is not None
    assert received.payload["id"] == notification_id and received.payload["title"] == "Tea"
    assert received.payload["data"] == {"room": "kitchen"} and received.payload["tag"] == "tea"
    assert received.claims["aud"] == push.url and received.claims["sub"] == "mailto:ops@example.com"
    assert received.headers["urgency"] == "high"
    assert received.headers["ttl"] == "86400"
    assert len(received.headers["topic"]) <= 32
    assert webpush_delivery(world, notification_id).status == "sent"


async def test_an_expired_subscription_is_removed(webpush_world: World, push: PushService) -> None:
    world = webpush_world
    subscribe(world, push, "old")
    subscribe(world, push, "new")
    push.script["old"].append(410)
    send(world)
    await world.notifications.dispatcher.run_once()
    assert [t.address.rsplit("/", 1)[1] for t in world.service.targets(world.bob.user_id)] == [
        "new"
    ]


async def test_a_503_is_retried_after_retry_after_and_the_subscription_kept(
    webpush_world: World, push: PushService
) -> None:
    world = webpush_world
    subscribe(world, push, "chrome")
    push.script["chrome"].extend([503, 429])
    notification_id = send(world)
    await world.notifications.dispatcher.run_once()
    delivery = webpush_delivery(world, notification_id)
    assert delivery.status == "queued" and delivery.attempts == 1 and "503" in delivery.error
    world.clock.advance(10)
    await world.notifications.dispatcher.run_once()
    world.clock.advance(100)
    await world.notifications.dispatcher.run_once()
    assert [p.status for p in push.pushes] == [503, 429, 201]
    assert webpush_delivery(world, notification_id).status == "sent"
    [target] = world.service.targets(world.bob.user_id)
    assert target.last_success_at is not None


async def test_a_413_sends_a_smaller_payload(webpush_world: World, push: PushService) -> None:
    world = webpush_world
    subscribe(world, push, "edge")
    push.script["edge"].append(413)
    send(world, data={"big": "x" * 3000})
    await world.notifications.dispatcher.run_once()
    first, second = push.pushes
    assert first.payload is not None and first.payload["data"] == {"big": "x" * 3000}
    assert second.status == 201 and second.payload is not None and second.payload["data"] is None


async def test_a_refused_vapid_key_fails_but_keeps_the_subscription(
    webpush_world: World, push: PushService
) -> None:
    world = webpush_world
    subscribe(world, push, "safari")
    push.script["safari"].append(403)
    notification_id = send(world)
    await world.notifications.dispatcher.run_once()
    delivery = webpush_delivery(world, notification_id)
    assert delivery.status == "failed" and "VAPID" in delivery.error
    assert len(world.service.targets(world.bob.user_id)) == 1


async def test_update_and_withdraw_are_pushed_with_the_same_tag(
    webpush_world: World, push: PushService
) -> None:
    from assistant.notifications.models import NotificationChange

    world = webpush_world
    subscribe(world, push, "firefox")
    notification_id = send(world)
    await world.notifications.dispatcher.run_once()
    world.service.update(world.bob.user_id, notification_id, NotificationChange(title="Coffee"))
    await world.notifications.dispatcher.run_once()
    world.service.withdraw(world.bob.user_id, notification_id)
    await world.notifications.dispatcher.run_once()
    events = [(p.payload or {}).get("event") for p in push.pushes]
    assert events == ["new", "updated", "withdrawn"]
    assert {(p.payload or {})["tag"] for p in push.pushes} == {notification_id}
    assert len({p.headers["topic"] for p in push.pushes}) == 1


def test_the_vapid_key_is_made_once_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / VAPID_KEY_FILE
    first = VapidKeyFile(path).get().public_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert VapidKeyFile(path).get().public_key == first
    path.write_text("damaged")
    with pytest.raises(BackendError, match="restore it"):
        VapidKeyFile(path).get()
    assert path.read_text() == "damaged"


@pytest.mark.parametrize(
    ("endpoint", "p256dh", "auth", "field"),
    [
        ("http://push.example.com/x", None, None, "endpoint"),
        ("http://\udcde]snZ", None, None, "endpoint"),  # found by the fuzzer: was a 500
        ("https://push.example.com:http/x", None, None, "endpoint"),
        ("https://push.example.com/x", "AAAA", None, "keys.p256dh"),
        ("https://push.example.com/x", None, "AAAA", "keys.auth"),
    ],
)
def test_a_subscription_that_cannot_work_is_refused(
    push: PushService, endpoint: str, p256dh: str | None, auth: str | None, field: str
) -> None:
    keys = push.subscribe("x")["keys"]
    with pytest.raises(InvalidInput) as raised:
        check_subscription(endpoint, p256dh or keys["p256dh"], auth or keys["auth"])
    assert raised.value.field == field


def test_subscriptions_over_the_api(
    client: TestClient,
    accounts: Accounts,
    push: PushService,  # type: ignore[type-arg]
) -> None:
    ada = accounts.register("ada")
    key = client.get("/api/v1/notifications/webpush/vapid-public-key", headers=ada).json()
    assert key["public_key"] == push.application_server_key
    subscription = {**push.subscribe("firefox"), "expirationTime": None, "name": "Firefox"}
    created = client.post(
        "/api/v1/notifications/webpush/subscriptions", json=subscription, headers=ada
    )
    assert created.status_code == 201, created.text
    again = client.post(
        "/api/v1/notifications/webpush/subscriptions", json=subscription, headers=ada
    )
    assert again.json()["id"] == created.json()["id"]  # the same endpoint is one subscription
    listed = client.get("/api/v1/notifications/webpush/subscriptions", headers=ada).json()
    assert [s["endpoint"] for s in listed["items"]] == [subscription["endpoint"]]
    bad = client.post(
        "/api/v1/notifications/webpush/subscriptions",
        json={**subscription, "endpoint": "http://push.example.com/x"},
        headers=ada,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "endpoint"
    bob = accounts.register("bob")
    path = f"/api/v1/notifications/webpush/subscriptions/{created.json()['id']}"
    assert client.delete(path, headers=bob).status_code == 404
    assert client.delete(path, headers=ada).status_code == 204
