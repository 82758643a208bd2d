"""Fixtures of the notification tests: services on a manual clock, recording channels."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from assistant.auth import PasswordHasher, Principal, Role
from assistant.clock import ManualClock
from assistant.notifications import Dispatcher, Notifications
from assistant.notifications.channels.base import Channel
from assistant.notifications.channels.fake import RecordingChannel
from assistant.services import Services, build_services
from assistant.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """No desktop popups from the tests on a developer's desktop."""
    return Settings.load(data_dir=tmp_path / "data", notifications={"desktop": "off"})


@pytest.fixture
def services(settings: Settings, clock: ManualClock) -> Iterator[Services]:
    built = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=clock)
    yield built
    built.close()


@dataclasses.dataclass
class World:
    """Services, two users and the notification stack with recording channels."""

    services: Services
    notifications: Notifications
    desktop: RecordingChannel
    webpush: RecordingChannel
    clock: ManualClock
    ada: Principal
    bob: Principal

    @property
    def service(self):  # type: ignore[no-untyped-def]
        return self.notifications.service


def principal(services: Services, username: str, role: Role = Role.USER) -> Principal:
    user = services.auth.create_user(username, "correct horse battery", role)
    return Principal(user_id=user.id, username=user.username, role=user.role)


def with_channels(notifications: Notifications, channels: dict[str, Channel]) -> Notifications:
    """The same service and hub, worked by a dispatcher with these channels."""
    dispatcher = Dispatcher(notifications.service, notifications.hub, channels)
    return dataclasses.replace(notifications, dispatcher=dispatcher)


@pytest.fixture
async def world(services: Services, clock: ManualClock) -> AsyncIterator[World]:
    desktop = RecordingChannel("desktop")
    webpush = RecordingChannel("webpush", target_kind="webpush")
    notifications = with_channels(services.notifications, {"desktop": desktop, "webpush": webpush})
    await notifications.dispatcher.start(run=False)
    ada = principal(services, "ada", Role.ADMIN)
    bob = principal(services, "bob")
    yield World(services, notifications, desktop, webpush, clock, ada, bob)
    await notifications.dispatcher.close()
