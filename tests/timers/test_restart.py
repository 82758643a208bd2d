"""Timers and reminders survive ``kill -9``: a real server stores them and is killed; a new
service on the same data directory fires what came due while nothing ran (late, once)
and the rest when due."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.auth import PasswordHasher
from assistant.notifications.models import HistoryQuery
from assistant.services import build_services
from assistant.settings import Settings
from assistant.timers import Fired, TimerState
from tests.test_server_process import free_port, wait_until_up

ROOT = Path(__file__).parents[2]
# This checkout's code (the installed ``assistant`` script may be another checkout's).
COMMAND = [sys.executable, "-c", "from assistant.cli import main; main()"]
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "ASSISTANT_NOTIFICATIONS__DESKTOP": "off",
    "ASSISTANT_LOG_LEVEL": "INFO",
}

pytestmark = pytest.mark.slow


def store_and_kill(data_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A real server stores a timer due in 2 s and a reminder due in 6 s, and is killed."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*COMMAND, "--data-dir", str(data_dir), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
        cwd=ROOT,
    )
    try:
        wait_until_up(url, server)
        tokens = httpx.post(
            f"{url}/api/v1/auth/register", json={"username": "ada", "password": "correct horse"}
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        soon = httpx.post(
            f"{url}/api/v1/timers", json={"seconds": 2, "name": "tea"}, headers=headers
        ).json()
        later = httpx.post(
            f"{url}/api/v1/reminders",
            json={"text": "stretch", "in_seconds": 6},
            headers=headers,
        ).json()
        assert soon["state"] == "running" and later["state"] == "scheduled", (soon, later)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    return soon, later


async def test_a_timer_survives_kill_9_and_fires_once_after_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    soon, later = await asyncio.to_thread(store_and_kill, data_dir)
    await asyncio.sleep(2.5)  # the timer comes due while nothing runs

    settings = Settings.load(data_dir=data_dir, notifications={"desktop": "off"})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    heard: list[Fired] = []
    both = asyncio.Event()

    async def listener(fired: Fired) -> None:
        heard.append(fired)
        if len(heard) == 2:
            both.set()

    timers = services.timers
    timers.service.add_listener(listener)
    try:
        late = await timers.scheduler.start()
        # The timer came due while nothing ran; the reminder is due a few seconds later
        # (at start-up already, on a slow machine).
        assert late[0].kind == "timer" and late[0].id == soon["id"]
        assert late[0].late_seconds > 0 and late[0].spoken == "Your tea timer is done."
        async with asyncio.timeout(15):
            await both.wait()  # the reminder, when due, by the running scheduler
        assert [(f.kind, f.id) for f in heard] == [
            ("timer", soon["id"]),
            ("reminder", later["id"]),
        ], heard
        await asyncio.sleep(1.5)  # a few more turns of the scheduler: nothing fires again
        assert len(heard) == 2
    finally:
        await timers.scheduler.close()
        user_id = services.auth.find_user("ada").id
        assert services.timers.service.get(user_id, soon["id"]).state is TimerState.FIRED
        notes = services.notifications.service.history(user_id, HistoryQuery())
        services.close()
    assert sorted((n.category, n.body) for n in notes) == [
        ("reminder", "Reminder: stretch."),
        ("timer", "Your tea timer is done."),
    ]
