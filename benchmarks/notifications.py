"""Notifications as a companion app sees them: send -> received on an SSE stream.

Runs ``assistant serve`` as its own process on loopback (so its memory is measured alone)
and measures:

- latency from ``POST /send`` to the ``new`` event on one SSE client, p50/p95;
- throughput with many streams connected: notifications x streams delivered per second;
- memory per connected stream: the server's RSS growth per open stream.

``python -m benchmarks.notifications [--sends 200] [--streams 100] [--burst 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import markdown_table, percentile

API = "/api/v1/notifications"


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_server(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ASSISTANT_NOTIFICATIONS__DESKTOP": "off",
        "ASSISTANT_LOG_LEVEL": "WARNING",
    }
    binary = Path(sys.executable).parent / "assistant"
    process = subprocess.Popen(
        [str(binary), "--data-dir", str(data_dir), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def latency(url: str, headers: dict[str, str], sends: int) -> list[float]:
    """Milliseconds from sending to the event arriving on an SSE stream."""
    arrived: dict[str, float] = {}
    opened = threading.Event()
    done = threading.Event()

    def read() -> None:
        with httpx.stream("GET", f"{url}{API}/stream", headers=headers, timeout=60) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    if event["event"] == "open":
                        opened.set()
                    elif event["event"] == "new":
                        arrived[event["notification"]["title"]] = time.perf_counter()
                        if len(arrived) == sends:
                            done.set()
                            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    opened.wait(30)
    sent: dict[str, float] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for n in range(sends):
            title = f"n{n}"
            sent[title] = time.perf_counter()
            client.post(f"{API}/send", json={"title": title}).raise_for_status()
            while title not in arrived and not done.is_set():
                time.sleep(0.0002)
    done.wait(30)
    return [(arrived[t] - sent[t]) * 1000 for t in sent if t in arrived]


async def fan_out(
    url: str, headers: dict[str, str], streams: int, burst: int, pid: int
) -> tuple[float, float]:
    """(deliveries per second with ``streams`` open, server KiB per open stream)."""
    limits = httpx.Limits(max_connections=streams + 10)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=60, limits=limits
    ) as client:
        before = rss_kib(pid)
        counts = [0] * streams
        ready = asyncio.Event()
        opened = 0
        finished = asyncio.Event()

        async def follow(index: int) -> None:
            nonlocal opened
            async with client.stream("GET", f"{API}/stream", params={"since": "0"}) as stream:
                async for line in stream.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line.removeprefix("data: "))
                    if event["event"] == "open":
                        opened += 1
                        if opened == streams:
                            ready.set()
                    elif event["event"] == "new" and event["notification"]["title"].startswith("b"):
                        counts[index] += 1
                        if all(c >= burst for c in counts):
                            finished.set()
                        if counts[index] >= burst:
                            return

        tasks = [asyncio.create_task(follow(i)) for i in range(streams)]
        await asyncio.wait_for(ready.wait(), 60)
        await asyncio.sleep(0.5)
        per_stream = (rss_kib(pid) - before) / streams
        started = time.perf_counter()
        for n in range(burst):
            (await client.post(f"{API}/send", json={"title": f"b{n}"})).raise_for_status()
        await asyncio.wait_for(finished.wait(), 120)
        elapsed = time.perf_counter() - started
        await asyncio.gather(*tasks, return_exceptions=True)
    return streams * burst / elapsed, per_stream


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=200, help="notifications for the latency")
    parser.add_argument("--streams", type=int, default=100, help="streams connected at once")
    parser.add_argument("--burst", type=int, default=50, help="notifications sent to them")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args(argv)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder, httpx.Client() as probe:
        server = start_server(Path(folder) / "data", port)
        try:
            tokens = probe.post(
                f"{url}/api/v1/auth/register",
                json={"username": "bench", "password": "correct horse battery"},
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            samples = latency(url, headers, options.sends)
            rate, per_stream = asyncio.run(
                fan_out(url, headers, options.streams, options.burst, server.pid)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    results: dict[str, Any] = {
        "latency_ms_p50": percentile(samples, 50),
        "latency_ms_p95": percentile(samples, 95),
        "samples": len(samples),
        "streams": options.streams,
        "deliveries_per_second": rate,
        "server_kib_per_stream": per_stream,
    }
    if options.json:
        print(json.dumps(results, indent=2))
        return
    print(
        markdown_table(
            ["metric", "value", "target"],
            [
                ["send -> SSE received, p50 (ms)", f"{results['latency_ms_p50']:.2f}", "< 10"],
                ["send -> SSE received, p95 (ms)", f"{results['latency_ms_p95']:.2f}", ""],
                [
                    f"deliveries/s with {options.streams} streams",
                    f"{rate:.0f}",
                    "",
                ],
                ["server memory per open stream (KiB)", f"{per_stream:.1f}", ""],
            ],
        )
    )


if __name__ == "__main__":
    main()
