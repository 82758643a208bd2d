"""Two devices and a cloud as three real server processes on loopback.

Each device syncs an account of its own with the same account on the cloud (through an
API key of it). Edits made on either device, also while the cloud is down or after a
device was killed with SIGKILL, end up everywhere; a wrong key is a clear status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.background import free_port

BIN = Path(sys.executable).parent / "assistant"
PASSWORD = "correct horse battery"
FAST_SYNC = {
    "ASSISTANT_SYNC__TICK_SECONDS": "0.1",
    "ASSISTANT_SYNC__POLL_SECONDS": "1",
    "ASSISTANT_SYNC__BACKOFF_INITIAL_SECONDS": "0.1",
    "ASSISTANT_SYNC__BACKOFF_MAX_SECONDS": "0.5",
}


@dataclass
class Server:
    """One ``assistant serve`` process, restartable on the same port and data."""

    name: str
    data: Path
    port: int
    process: subprocess.Popen[str] | None = None
    headers: dict[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"

    def start(self) -> None:
        env = {**os.environ, **FAST_SYNC, "ASSISTANT_LOG_LEVEL": "INFO"}
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [str(BIN), "--data-dir", str(self.data), "serve", "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                httpx.get(self.url + "/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, headers=self.headers, timeout=30, **kwargs)

    def sign_up(self, username: str) -> None:
        tokens = self.call(
            "POST", "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert tokens.status_code == 201, tokens.text
        key = httpx.post(
            self.url + "/api/v1/auth/api-keys",
            json={"name": "tests"},
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        ).json()["key"]
        self.headers = {"Authorization": f"Bearer {key}"}

    def patch(self, **preferences: Any) -> None:
        answer = self.call("PATCH", "/api/v1/profile/preferences", json=preferences)
        assert answer.status_code == 200, answer.text

    def preferences(self) -> dict[str, Any]:
        return dict(self.call("GET", "/api/v1/profile/preferences").json()["preferences"])

    def sync_now(self) -> dict[str, Any]:
        answer = self.call("POST", "/api/v1/sync/now")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def status(self) -> dict[str, Any]:
        return dict(self.call("GET", "/api/v1/sync/status").json())


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    root = tmp_path_factory.mktemp("sync-processes")
    started = {n: Server(n, root / n, free_port()) for n in ("cloud", "a", "b")}
    try:
        for server in started.values():
            server.start()
        cloud = started["cloud"]
        cloud.sign_up("ada")
        assert cloud.headers is not None
        cloud_key = cloud.headers["Authorization"].removeprefix("Bearer ")
        for name in ("a", "b"):
            started[name].sign_up(f"ada-{name}")
            answer = started[name].call(
                "PUT", "/api/v1/sync/config", json={"url": cloud.url, "api_key": cloud_key}
            )
            assert answer.status_code == 200, answer.text
            assert "api_key" not in answer.text and cloud_key not in answer.text
        yield started
    finally:
        for server in started.values():
            server.kill()


def wait_for(condition: Any, what: str) -> None:
    """Poll until ``condition()`` holds (the background rounds are not timed here)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def test_edits_of_different_fields_on_two_devices_both_survive(
    servers: dict[str, Server],
) -> None:
    a, b, cloud = servers["a"], servers["b"], servers["cloud"]
    a.patch(tone="formal")
    b.patch(units="imperial")
    for device in (a, b, a):
        assert device.sync_now()["outcome"] == "ok"
    for server in (a, b, cloud):
        preferences = server.preferences()
        assert (preferences["tone"], preferences["units"]) == ("formal", "imperial")


def test_the_same_field_converges_to_one_winner_on_all_three(servers: dict[str, Server]) -> None:
    a, b, cloud = servers["a"], servers["b"], servers["cloud"]
    a.patch(verbosity="brief")
    time.sleep(0.01)  # a later wall-clock millisecond for b's write
    b.patch(verbosity="detailed")
    for device in (a, b, a):
        device.sync_now()
    # Whether a round ran between the two writes is up to the background bridges; the
    # in-process tests check how conflicts are reported.
    assert {s.preferences()["verbosity"] for s in (a, b, cloud)} == {"detailed"}


def test_the_cloud_down_mid_sync_loses_nothing_and_sync_resumes(
    servers: dict[str, Server],
) -> None:
    a, b, cloud = servers["a"], servers["b"], servers["cloud"]
    cloud.kill()
    a.patch(speaking_rate=1.5)  # local writes succeed while the cloud is down
    b.patch(wake_word="hey_mycroft")
    round_ = a.sync_now()
    assert round_["outcome"] == "unreachable"
    status = a.status()
    assert status["pending"] >= 1
    assert status["last_error_code"] == "unreachable"
    # A device dies with changes still in its outbox: they survive the restart.
    a.kill()
    a.start()
    assert a.status()["pending"] >= 1
    cloud.start()
    # No one asks: the background bridges push when the cloud is back.
    wait_for(lambda: a.status()["pending"] == 0 and b.status()["pending"] == 0, "outboxes empty")
    wait_for(
        lambda: (
            a.preferences()["wake_word"] == "hey_mycroft"
            and b.preferences()["speaking_rate"] == 1.5
        ),
        "both edits everywhere",
    )
    assert cloud.preferences()["speaking_rate"] == 1.5
    assert a.status()["last_error_code"] is None


def test_a_wrong_key_is_a_clear_status_without_a_log_flood(
    servers: dict[str, Server], tmp_path: Path
) -> None:
    device = Server("c", tmp_path / "c", free_port())
    device.start()
    try:
        device.sign_up("cy")
        answer = device.call(
            "PUT",
            "/api/v1/sync/config",
            json={"url": servers["cloud"].url, "api_key": "ak_not-a-key"},
        )
        assert answer.status_code == 200
        for _ in range(3):
            assert device.sync_now()["outcome"] == "unauthorized"
        status = device.status()
        assert status["last_error_code"] == "unauthorized"
        assert "refused the API key" in status["last_error"]
        assert status["failures"] >= 3  # the background bridge tries too, quietly
        assert device.process is not None and device.process.poll() is None
        warnings = [
            line for line in device.log.read_text().splitlines() if "failed (unauthorized)" in line
        ]
        assert len(warnings) == 1, warnings
    finally:
        device.kill()
