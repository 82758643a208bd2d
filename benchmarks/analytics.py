"""Analytics: how many events the emitter and the HTTP ingest sustain, what one emit call
costs, and whether analytics slows chat decoding.

    python -m benchmarks.analytics [--quick] [--only emitter,latency,http,chat] [--json PATH]

Everything runs in this process on a temporary data folder (never your database); the
chat group reads the installed Qwen model. benchmarks/README.md explains the numbers.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    Row,
    Stats,
    Target,
    base_parser,
    header_line,
    machine_info,
    parse_with_groups,
    progress,
    rows_table,
    write_json,
)

GROUPS = ("emitter", "latency", "http", "chat")
MODEL = "qwen2.5-coder:0.5b-q4"
LIBRARIES = ("apsw", "litestar", "uvicorn", "httpx", "llama-cpp-python")
PASSWORD = "benchmark password 1"
ENGINE = "analytics"


@contextmanager
def services(models_dir: Path | None = None, **analytics: Any) -> Iterator[Any]:
    """Real services on a temporary data folder (the installed model store for chat)."""
    from assistant.auth import PasswordHasher
    from assistant.services import build_services
    from assistant.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as folder:
        models = {"dir": models_dir or Settings.load().models_dir}
        settings = Settings.load(
            data_dir=Path(folder), models=models, analytics={"queue_size": 2_000_000, **analytics}
        )
        built = build_services(settings, hasher=PasswordHasher.fast_for_tests())
        try:
            yield built
        finally:
            built.close()


def wait_written(emitter: Any, total: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while emitter.written + emitter.failed + emitter.dropped < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {emitter.written} of {total} events written")
        time.sleep(0.001)


def emitter_throughput(repetitions: int, events: int) -> Row:
    """Events/s from emit() to committed rows, one thread emitting as fast as it can."""
    rates = []
    for _ in range(repetitions + 1):
        with services() as built:
            emitter = built.analytics.emitter
            properties = {"model": "m:1", "total_ms": 812.5, "tokens": 42}
            started = time.perf_counter()
            for i in range(events):
                emitter.emit("bench.event", properties, user_id="u")
                if i % 20_000 == 0:
                    time.sleep(0)  # let the writer in, as real callers do between events
            wait_written(emitter, events)
            rates.append(events / (time.perf_counter() - started))
    return Row(
        ENGINE,
        f"emitter to SQLite, sustained ({events:,} events)",
        "events/s",
        Stats.of(rates[1:], higher_is_better=True),
        higher_is_better=True,
        target=Target("runtime", at_least=True, bound=50_000),
        digits=0,
    )


def emit_latency(repetitions: int, calls: int) -> tuple[Row, Row]:
    """The cost of one emit call (timer overhead subtracted), median and p99."""
    p50s, p99s = [], []
    with services() as built:
        emitter = built.analytics.emitter
        clock = time.perf_counter_ns
        empty = []
        for _ in range(10_000):
            start = clock()
            empty.append(clock() - start)
        overhead = statistics.median(empty)
        for _ in range(repetitions + 1):
            samples = []
            properties = {"model": "m:1", "first_token_ms": 120.5}
            for _ in range(calls):
                start = clock()
                emitter.emit("chat.turn", properties, user_id="u")
                samples.append(clock() - start - overhead)
            samples.sort()
            p50s.append(samples[len(samples) // 2] / 1000)
            p99s.append(samples[int(len(samples) * 0.99)] / 1000)
    return (
        Row(ENGINE, "emit() call, median", "µs", Stats.of(p50s[1:]), digits=2),
        Row(
            ENGINE,
            "emit() call, p99",
            "µs",
            Stats.of(p99s[1:]),
            target=Target("runtime", at_least=False, bound=20.0),
            digits=2,
        ),
    )


CLIENT = """
import sys, httpx
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = sys.stdin.buffer.readline()
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
with httpx.Client(base_url=url, headers=headers) as client:
    client.get("/healthz")
    print("ready", flush=True)
    sys.stdin.readline()  # go
    for _ in range(count):
        answer = client.post("/api/v1/analytics/event", content=body)
        assert answer.status_code == 202, answer.text
"""
"""A client process: the server's time is measured, not the clients' (they would share
the server's interpreter and its lock otherwise)."""


def http_throughput(repetitions: int, requests: int, clients: int = 2) -> Row:
    """Events/s through POST /api/v1/analytics/event in batches of 100, until written."""
    import json
    import subprocess

    from server.app import create_app
    from server.background import serve_in_thread

    body = json.dumps(
        {"events": [{"name": "app.tapped", "properties": {"n": i}} for i in range(100)]}
    ).encode()
    rates = []
    with services() as built, serve_in_thread(create_app(built.settings, built)) as url:
        token = httpx.post(
            url + "/api/v1/auth/register", json={"username": "bench", "password": PASSWORD}
        ).json()["access_token"]
        for _ in range(repetitions + 1):
            each = requests // clients
            senders = [
                subprocess.Popen(
                    [sys.executable, "-c", CLIENT, url, token, str(each)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                for _ in range(clients)
            ]
            for sender in senders:
                assert sender.stdin is not None and sender.stdout is not None
                sender.stdin.write(body + b"\n")
                sender.stdin.flush()
                assert sender.stdout.readline().strip() == b"ready"
            before = built.analytics.emitter.written
            started = time.perf_counter()
            for sender in senders:
                assert sender.stdin is not None
                sender.stdin.write(b"go\n")
                sender.stdin.close()
            for sender in senders:
                assert sender.wait() == 0, "a client failed"
            total = each * clients * 100
            wait_written(built.analytics.emitter, before + total)
            rates.append(total / (time.perf_counter() - started))
    return Row(
        ENGINE,
        f"HTTP batches of 100, {clients} client processes, until written",
        "events/s",
        Stats.of(rates[1:], higher_is_better=True),
        higher_is_better=True,
        target=Target("runtime", at_least=True, bound=10_000),
        digits=0,
    )


def chat_decode(repetitions: int, max_tokens: int, models_dir: Path | None) -> Row:
    """Decode tokens/s of chat turns with analytics on (the real emitter, and 1,000 other
    events a second in the background) against off (no emitter), turn about."""
    from assistant.analytics import NO_EVENTS
    from assistant.chat.models import ChatRequest, TurnDone
    from assistant.services import build_chat
    from runtime.llm.base import GenerationOptions

    with services(models_dir) as built:
        off = build_chat(
            built.settings, built.db, built.manager, built.models, built.profile, events=NO_EVENTS
        )
        on = built.chat
        user = built.auth.create_user("bench", PASSWORD).id
        request = ChatRequest(
            text="Write a long story about a lighthouse keeper and the sea.",
            model=MODEL,
            options=GenerationOptions(max_tokens=max_tokens, temperature=0.0, seed=1),
        )
        stop = threading.Event()

        def background() -> None:
            while not stop.is_set():
                for _ in range(100):
                    built.events.emit("bench.background", {"n": 1}, user_id=user)
                time.sleep(0.1)

        async def turn(chat: Any) -> float:
            done = (await chat.reply(user, request))[1]
            assert isinstance(done, TurnDone)
            decoding = done.timings.total_seconds - done.timings.first_token_seconds
            return (done.usage.completion_tokens - 1) / decoding

        rates: dict[str, list[float]] = {"on": [], "off": []}
        noise = threading.Thread(target=background, daemon=True)
        noise.start()
        try:
            for round_ in range(repetitions + 1):
                order = [("on", on), ("off", off)] if round_ % 2 else [("off", off), ("on", on)]
                for name, chat in order:
                    rate = asyncio.run(turn(chat))
                    if round_:
                        rates[name].append(rate)
        finally:
            stop.set()
    return Row(
        "chat decode (Qwen 0.5B)",
        "tokens/s, analytics on vs off",
        "tokens/s",
        Stats.of(rates["on"], higher_is_better=True),
        raw=Stats.of(rates["off"], higher_is_better=True),
        higher_is_better=True,
        target=Target("ratio", at_least=True, bound=0.99),
        digits=1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen groups and print the table."""
    parser = base_parser(__doc__.splitlines()[0], GROUPS, prog="python -m benchmarks.analytics")
    args, groups = parse_with_groups(parser, argv, GROUPS)
    quick = args.quick
    repetitions = args.repetitions or (1 if quick else 5)
    print(header_line(machine_info(LIBRARIES)))
    rows: list[Row] = []
    if "emitter" in groups:
        progress("emitter throughput")
        rows.append(emitter_throughput(repetitions, 20_000 if quick else 300_000))
    if "latency" in groups:
        progress("emit latency")
        rows.extend(emit_latency(repetitions, 10_000 if quick else 200_000))
    if "http" in groups:
        progress("HTTP ingest")
        rows.append(http_throughput(repetitions, 20 if quick else 400))
    if "chat" in groups:
        progress("chat decode, analytics on and off")
        rows.append(
            chat_decode(
                repetitions if not quick else 1,
                args.max_tokens or (16 if quick else 128),
                args.models_dir,
            )
        )
    print()
    print(rows_table(rows))
    if args.json:
        write_json(args.json, {"rows": [r.as_dict() for r in rows]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
