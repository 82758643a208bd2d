"""Scheduled notifications survive ``kill -9`` of a real server and go out after start-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_server_process import free_port, wait_until_up

BIN = Path(sys.executable).parent / "assistant"
API = "/api/v1/notifications"
ENV = {**os.environ, "ASSISTANT_NOTIFICATIONS__DESKTOP": "off", "ASSISTANT_LOG_LEVEL": "INFO"}

pytestmark = pytest.mark.slow


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(BIN), "--data-dir", str(data_dir), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    wait_until_up(f"http://127.0.0.1:{port}", process)
    return process


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def new_events(url: str, headers: dict[str, str], wanted: set[str]) -> set[str]:
    """Follow the stream until every wanted notification has arrived (or the read times out)."""
    seen: set[str] = set()
    with httpx.stream(
        "GET", f"{url}{API}/stream", params={"since": "all"}, headers=headers, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                if event["event"] == "new":
                    seen.add(event["notification"]["id"])
            if wanted <= seen:
                return seen
    return seen


def test_a_scheduled_notification_survives_kill_9(data_dir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(data_dir, port)
    try:
        tokens = httpx.post(
            f"{url}/api/v1/auth/register", json={"username": "ada", "password": "correct horse"}
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        sent = httpx.post(
            f"{url}{API}/send", json={"title": "Stretch", "delay": "2s"}, headers=headers
        ).json()
        assert sent["notifications"][0]["status"] == "scheduled"
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    # While the server is down, the CLI schedules another one into the same outbox.
    queued = subprocess.run(
        [str(BIN), "--data-dir", str(data_dir), "notify", "Water", "the plants", "--in", "1s"],
        capture_output=True,
        text=True,
        env=ENV,
        check=True,
    )
    cli_id = queued.stdout.split()[1].rstrip(":")
    server = start(data_dir, port)
    try:
        arrived = new_events(url, headers, {sent["id"], cli_id})
        assert {sent["id"], cli_id} <= arrived
        found = httpx.get(f"{url}{API}/{sent['id']}", headers=headers).json()
        assert found["status"] == "active"
        listed = subprocess.run(
            [str(BIN), "--data-dir", str(data_dir), "notifications", "list"],
            capture_output=True,
            text=True,
            env=ENV,
            check=True,
        )
        assert "Stretch" in listed.stdout and "Water" in listed.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
