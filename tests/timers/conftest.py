"""Fixtures of the timer tests: real services on a manual clock, a recording listener."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.auth import PasswordHasher
from assistant.clock import ManualClock
from assistant.notifications.models import HistoryQuery, Notification
from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.timers import Fired, TimerService


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
    """The timer service of real services, two users, and what its listener heard."""

    services: Services
    clock: ManualClock
    ada: str
    bob: str
    heard: list[Fired]

    @property
    def timers(self) -> TimerService:
        return self.services.timers.service

    def notifications(self, user_id: str) -> list[Notification]:
        return self.services.notifications.service.history(user_id, HistoryQuery())


@pytest.fixture
def world(services: Services, clock: ManualClock) -> World:
    ada = services.auth.create_user("ada", "correct horse battery").id
    bob = services.auth.create_user("bob", "correct horse battery").id
    heard: list[Fired] = []

    async def listener(fired: Fired) -> None:
        heard.append(fired)

    services.timers.service.add_listener(listener)
    return World(services, clock, ada, bob, heard)
