"""Two devices and a cloud, in process: real services on their own SQLite files, the
devices' bridges reaching the cloud's change log through an in-process transport."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.auth import PasswordHasher
from assistant.clock import ManualClock
from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.sync import SyncBridge
from assistant.sync.fake import LocalRemote

CLOUD_KEY = "ak_cloud-key"


@dataclass
class Device:
    """One installation with one account."""

    name: str
    services: Services
    clock: ManualClock
    user_id: str
    bridge: SyncBridge | None = None

    def patch(self, **preferences: Any) -> None:
        self.services.profile.patch_preferences(self.user_id, preferences)

    def preferences(self) -> dict[str, Any]:
        stored = self.services.profile.get_preferences(self.user_id).preferences
        return stored.model_dump(mode="json")

    def profile(self) -> dict[str, Any]:
        p = self.services.profile.get_profile(self.user_id)
        return {"display_name": p.display_name, "locale": p.locale, "time_zone": p.time_zone}


def make_device(root: Path, name: str, start: float, **sync: Any) -> Device:
    settings = Settings.load(data_dir=root / name, sync=sync or {})
    clock = ManualClock(start)
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=clock)
    user = services.auth.create_user(f"{name}-user", "correct horse battery")
    return Device(name, services, clock, user.id)


class World:
    """A cloud and devices syncing with it; close() releases every database."""

    def __init__(self, root: Path, skews: dict[str, float] | None = None) -> None:
        self.root = root
        self.cloud = make_device(root, "cloud", 1_000_000.0)
        self.remote = LocalRemote(self.cloud.services.changes, self.cloud.user_id, CLOUD_KEY)
        self.devices: dict[str, Device] = {}
        for name, skew in (skews or {"a": 0.0, "b": 0.0}).items():
            device = make_device(root, name, 1_000_000.0 + skew)
            device.bridge = SyncBridge(
                device.services.db,
                device.services.changes,
                device.services.settings.sync,
                device.services.sync.sealer,
                transports=lambda url, key: self.remote.transport(key),
                clock=device.clock,
                draw=lambda: 0.5,
            )
            device.bridge.configure(device.user_id, "http://cloud.invalid", CLOUD_KEY)
            self.devices[name] = device

    def __getitem__(self, name: str) -> Device:
        return self.devices[name]

    def sync(self, name: str) -> Any:
        device = self.devices[name]
        assert device.bridge is not None
        return device.bridge.sync_now(device.user_id)

    def advance(self, seconds: float) -> None:
        for device in (self.cloud, *self.devices.values()):
            device.clock.advance(seconds)

    def close(self) -> None:
        for device in (self.cloud, *self.devices.values()):
            device.services.close()
