"""A real server killed with SIGKILL in the middle of a burst of events loses less than one
batch of what it acknowledged; the events it kept are exactly the earliest ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from assistant.store import Database
from tests.test_server_process import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
BATCH = 1000


def test_kill_9_in_a_burst_loses_less_than_one_batch(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from assistant.cli import main; sys.exit(main())",
            "--data-dir",
            str(data),
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ASSISTANT_ANALYTICS__BATCH_SIZE": str(BATCH),
            "ASSISTANT_METRICS__ENABLED": "true",
            "ASSISTANT_METRICS__ACCESS": "loopback",
        },
    )
    url = f"http://127.0.0.1:{port}"
    acknowledged: list[int] = []
    try:
        wait_until_up(url, process)
        # The same process serves the dashboard page and, to loopback, the metrics.
        assert "Assistant analytics" in httpx.get(url + "/dashboard").text
        assert httpx.get(url + "/metrics").status_code == 200
        token = httpx.post(
            url + "/api/v1/auth/register", json={"username": "ada", "password": "correct horse"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        killed = threading.Event()

        def burst() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=5) as client:
                seq = 0
                while not killed.is_set():
                    events = [
                        {"name": "burst.event", "properties": {"seq": seq + i}} for i in range(100)
                    ]
                    try:
                        answer = client.post("/api/v1/analytics/event", json={"events": events})
                    except httpx.TransportError:
                        return
                    assert answer.status_code == 202
                    assert answer.json() == {"accepted": 100, "dropped": 0}
                    acknowledged.extend(range(seq, seq + 100))
                    seq += 100

        sender = threading.Thread(target=burst)
        sender.start()
        while len(acknowledged) < 12_345:
            sender.join(0.01)
            assert sender.is_alive()
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed.set()
        sender.join()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    db = Database.open(data / "assistant.db")
    with db.read() as conn:
        stored = [
            row["seq"]
            for row in conn.execute(
                "SELECT json_extract(properties, '$.seq') AS seq FROM analytics_events"
                " WHERE name = 'burst.event' ORDER BY id"
            )
        ]
    db.close()
    assert stored == list(range(len(stored)))  # the earliest, in order, none twice
    lost = len(acknowledged) - len(stored)
    assert 0 <= lost < BATCH, f"{lost} of {len(acknowledged)} acknowledged events lost"
