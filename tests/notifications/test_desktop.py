"""The desktop channel on a real (private) D-Bus session bus with a recording daemon."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from assistant.notifications.channels.desktop import DBusDesktopChannel
from assistant.notifications.models import NotificationDraft
from tests.notifications.conftest import World, with_channels
from tests.notifications.dbus_recorder import RecordingNotifications, session_bus


@pytest.fixture
def bus() -> Iterator[str]:
    with session_bus() as address:
        yield address


@pytest.fixture
def daemon(bus: str) -> Iterator[RecordingNotifications]:
    recorder = RecordingNotifications(bus)
    yield recorder
    recorder.stop()


@pytest.fixture
async def desktop_world(
    world: World, bus: str, daemon: RecordingNotifications
) -> AsyncIterator[World]:
    channel = DBusDesktopChannel(address=bus, app_name="Assistant")
    notifications = with_channels(world.notifications, {"desktop": channel})
    states = await notifications.dispatcher.start(run=False)
    assert states["desktop"].available, states["desktop"].reason
    world.notifications = notifications
    yield world
    await notifications.dispatcher.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for something another task or process does (bounded, to fail rather than hang)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def send(world: World, **fields: object) -> str:
    draft = NotificationDraft.model_validate({"title": "Tea", "body": "is ready", **fields})
    return world.service.send(world.bob, draft)[0].id


async def test_notify_carries_the_notification_and_its_buttons(
    desktop_world: World, daemon: RecordingNotifications
) -> None:
    world = desktop_world
    send(
        world,
        priority="urgent",
        category="timer",
        actions=[{"kind": "callback", "id": "snooze", "label": "Snooze"}],
    )
    await world.notifications.dispatcher.run_once()
    [notify] = daemon.notifies()
    app, replaces, icon, summary, body, actions, hints, timeout = notify.args
    assert (app, replaces, icon, summary, body) == ("Assistant", 0, "", "Tea", "is ready")
    assert actions == ["default", "Open", "snooze", "Snooze"]
    assert hints["urgency"] == ("y", 2) and hints["category"] == ("s", "x-assistant.timer")
    assert timeout == 0  # critical: stays until dismissed


async def test_a_click_comes_back_as_read_and_an_action(
    desktop_world: World, daemon: RecordingNotifications
) -> None:
    world = desktop_world
    notification_id = send(world, actions=[{"kind": "callback", "id": "snooze", "label": "Snooze"}])
    await world.notifications.dispatcher.run_once()
    daemon.click(1, "snooze")
    await until(lambda: world.service.get(world.bob.user_id, notification_id).read_at is not None)
    events, _ = world.service.replay(world.bob.user_id, 0)
    assert [(e.kind, e.payload.get("action")) for e in events] == [
        ("new", None),
        ("read", None),
        ("action", "snooze"),
    ]


async def test_closing_the_popup_dismisses_and_reading_elsewhere_closes_it(
    desktop_world: World, daemon: RecordingNotifications
) -> None:
    world = desktop_world
    first = send(world)
    second = send(world, title="Coffee")
    await world.notifications.dispatcher.run_once()
    daemon.close_by_user(1)
    await until(lambda: world.service.get(world.bob.user_id, first).dismissed_at is not None)
    world.service.mark_read(world.bob.user_id, second)  # on the phone
    await until(lambda: ("CloseNotification", (2,)) in [(c.member, c.args) for c in daemon.calls])


async def test_an_update_replaces_the_popup_in_place(
    desktop_world: World, daemon: RecordingNotifications
) -> None:
    from assistant.notifications.models import NotificationChange

    world = desktop_world
    notification_id = send(world)
    await world.notifications.dispatcher.run_once()
    world.service.update(world.bob.user_id, notification_id, NotificationChange(body="cold"))
    await world.notifications.dispatcher.run_once()
    assert [(c.args[1], c.args[4]) for c in daemon.notifies()] == [(0, "is ready"), (1, "cold")]


async def test_without_a_daemon_the_channel_is_unavailable(bus: str) -> None:
    state = await DBusDesktopChannel(address=bus).start(lambda *_: None)
    assert not state.available and "no notification daemon" in state.reason


async def test_without_a_bus_the_channel_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    state = await DBusDesktopChannel().start(lambda *_: None)
    assert not state.available and "no D-Bus session bus" in state.reason
    gone = await DBusDesktopChannel(address="unix:path=/nonexistent/bus").start(lambda *_: None)
    assert not gone.available and "cannot connect" in gone.reason


async def test_an_unavailable_desktop_is_skipped_not_failed(world: World, bus: str) -> None:
    notifications = with_channels(world.notifications, {"desktop": DBusDesktopChannel(address=bus)})
    await notifications.dispatcher.start(run=False)
    try:
        [sent] = notifications.service.send(
            world.bob, NotificationDraft.model_validate({"title": "Hi"})
        )
        found = notifications.service.get(world.bob.user_id, sent.id)
        [desktop] = [d for d in found.deliveries if d.channel == "desktop"]
        assert desktop.status == "skipped" and "no notification daemon" in (desktop.error or "")
    finally:
        await notifications.dispatcher.close()
