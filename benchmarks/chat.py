"""The chat path end to end: SSE tokens/s against bare llama.cpp, prompt-cache reuse, 4 users.

    python -m benchmarks.chat [--quick] [--only sse,cache,concurrent] [--json PATH]

The real app runs on uvicorn in a thread of this process, with its own temporary data
folder (never the user's database) and the installed model store; clients speak HTTP to
it with httpx, as a companion app would. benchmarks/README.md explains every number.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from benchmarks.common import (
    Row,
    Stats,
    Target,
    base_parser,
    format_stats,
    header_line,
    interleaved,
    load_average,
    machine_info,
    markdown_table,
    parse_with_groups,
    progress,
    rows_table,
    write_json,
)
from benchmarks.engines.llm import (
    Generation,
    llm_threads,
    raw_generate,
    raw_prompt_tokens,
    thread_label,
)
from runtime.engines import Engine, load_engine
from runtime.llm.base import ChatMessage, GenerationOptions
from server.background import serve_in_thread

GROUPS = ("sse", "cache", "concurrent")
"""What ``--only`` can pick, in the order they run."""
MODEL = "qwen2.5-coder:0.5b-q4"
"""The chat model every request names explicitly (no routing)."""
PASSWORD = "benchmark password 1"
LIBRARIES = ("llama-cpp-python", "litestar", "uvicorn", "httpx", "numpy")
"""Distributions whose versions go in the header line."""

LONG_ANSWER = (
    "Write a Python module that reads a CSV file of sales records (date, region, product,"
    " units, unit price), validates every row, skips and reports bad rows, and prints the"
    " total revenue per region and per month, sorted by revenue, as an aligned text table."
    " Use only the standard library, and add a command-line entry point."
)
"""A request whose greedy answer is longer than any max_tokens used here."""
CONCURRENT_REQUESTS = (
    LONG_ANSWER,
    "Write a Python class for an LRU cache with a maximum size and per-entry expiry, with"
    " type hints, docstrings and a short usage example.",
    "Write a Python script that walks a folder tree, finds duplicate files by size and"
    " SHA-256, and prints each group of duplicates with their sizes.",
    "Write a small asyncio TCP echo server in Python that logs every connection, limits"
    " each client to 100 messages per minute, and shuts down cleanly on Ctrl-C.",
)
"""Four users ask for four different things at once."""
NOTES = (
    "Meeting notes, Tuesday. Present: Ada (product), Bruno (backend), Claire (design),"
    " Dmitri (support). 1. The March release slips by one week because the payment"
    " provider changed its webhook format; Bruno will adapt the handler and add replay"
    " tests by Friday. 2. Support saw 40 tickets about password resets last week; most"
    " users never received the e-mail. Dmitri suspects the new spam filter at two large"
    " providers; Bruno will check the bounce logs and the SPF record today. 3. Claire"
    " showed the new onboarding screens; everyone liked them, but the third screen asks"
    " for the phone number too early. She will move it after the first successful"
    " payment. 4. The office move is confirmed for the 14th; everyone packs their desk on"
    " the 13th and IT labels the monitors. 5. Ada wants a short written summary of"
    " customer interviews before the planning meeting next Monday, with the three most"
    " requested features and one quote for each. 6. The staging database ran out of disk"
    " twice; Bruno will add an alert at 80 percent and delete the old snapshots."
)
FIRST_TURN = f"Here are my notes from today:\n\n{NOTES}\n\nSummarise them in three bullet points."
FOLLOW_UP = "Which item is the most urgent, and who owns it?"
OTHER_TURN = "What is the capital of Australia?"


PAUSE_SECONDS = 300.0
"""The user's pause before the follow-up in the pause case (on the service clock)."""


class OffsetClock:
    """Wall-clock time plus an offset the benchmark moves (a pause without waiting)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """(event, decoded JSON data) for each Server-Sent Event in ``lines``."""
    event, data = "message", ""
    for line in lines:
        if not line:
            if data:
                yield event, msgspec.json.decode(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
    if data:
        yield event, msgspec.json.decode(data)


@dataclass(frozen=True)
class SseTurn:
    """One streamed turn as the client saw it (perf_counter times)."""

    sent_at: float
    """When the request was sent."""
    first_delta_at: float
    """When the first delta event arrived (``done_at`` if none did)."""
    done_at: float
    """When the done event arrived."""
    start: dict[str, Any]
    """The start event."""
    done: dict[str, Any]
    """The done event: usage and timings."""
    deltas: int
    """Delta events received."""

    @property
    def completion_tokens(self) -> int:
        """Tokens generated, as the done event counts them."""
        return int(self.done["usage"]["completion_tokens"])

    @property
    def tokens_per_second(self) -> float:
        """Decode speed seen by the client: token intervals from the first delta to done."""
        seconds = self.done_at - self.first_delta_at
        return (self.completion_tokens - 1) / seconds if seconds > 0 else 0.0

    @property
    def first_delta_ms(self) -> float:
        """From sending the request to the first delta."""
        return 1000.0 * (self.first_delta_at - self.sent_at)

    @property
    def wall_seconds(self) -> float:
        """From sending the request to the done event."""
        return self.done_at - self.sent_at


def stream_turn(
    client: httpx.Client,
    url: str,
    token: str,
    text: str,
    options: dict[str, Any],
    conversation_id: str | None = None,
) -> SseTurn:
    """POST /api/v1/chat/stream and read the events to the end."""
    body: dict[str, Any] = {"text": text, "model": MODEL, "options": options}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    headers = {"Authorization": f"Bearer {token}"}
    start: dict[str, Any] = {}
    done: dict[str, Any] = {}
    first: float | None = None
    done_at = 0.0
    deltas = 0
    sent = time.perf_counter()
    with client.stream("POST", f"{url}/api/v1/chat/stream", json=body, headers=headers) as reply:
        if reply.status_code != 200:
            reply.read()
            raise RuntimeError(f"chat/stream answered {reply.status_code}: {reply.text}")
        for event, data in parse_sse(reply.iter_lines()):
            now = time.perf_counter()
            if event == "start":
                start = data
            elif event == "delta":
                deltas += 1
                if first is None:
                    first = now
            elif event == "done":
                done, done_at = data, now
            elif event == "error":
                raise RuntimeError(f"the turn failed: {data}")
    if not done:
        raise RuntimeError("the stream ended without a done event")
    return SseTurn(sent, first if first is not None else done_at, done_at, start, done, deltas)


def greedy(max_tokens: int) -> dict[str, Any]:
    """Request options for greedy decoding of at most ``max_tokens``."""
    return {
        "temperature": 0.0,
        "max_tokens": max_tokens,
        "top_k": 40,
        "top_p": 0.95,
        "repeat_penalty": 1.0,
    }


@dataclass
class Bench:
    """The running app and what the measurements need of it."""

    url: str
    """Base URL of the server."""
    services: Any
    """The app's services (assistant.services.Services)."""
    users: list[tuple[str, str]]
    """(user id, access token) of each benchmark user."""
    clock: OffsetClock
    """The services' clock."""
    client: httpx.Client
    """An HTTP client for sequential requests."""
    threads: dict[str, int]
    """llama.cpp thread parameters of the chat model (``threads``, ``batch_threads``)."""
    store_dir: Path
    """The model store."""
    engines: dict[str, Any] = field(default_factory=dict)
    """The engines the app's model manager loaded, by model id."""


@contextmanager
def running_app(store_dir: Path, threads: dict[str, int], users: int) -> Iterator[Bench]:
    """The real app on uvicorn, a temporary data folder, ``users`` signed-in accounts."""
    from assistant.auth import ClientInfo, PasswordHasher
    from assistant.services import build_services
    from assistant.settings import Settings
    from server.app import create_app

    with tempfile.TemporaryDirectory(prefix="bench-chat-") as data:
        settings = Settings.load(
            data_dir=Path(data),
            models={
                "dir": store_dir,
                "params": {MODEL: threads},
                "keep_alive_seconds": -1,
            },
            auth={"access_token_ttl_seconds": 3600},
        )
        clock = OffsetClock()
        services = build_services(settings, hasher=PasswordHasher.fast_for_tests(), clock=clock)
        engines: dict[str, Any] = {}

        def recording_loader(
            engine: str, model_id: str, path: Path, params: Mapping[str, Any]
        ) -> Engine:
            # The manager's own loader, keeping a reference for the raw side of (a).
            loaded = load_engine(engine, model_id, path, params)
            engines[model_id] = loaded
            return loaded

        services.manager.loader = recording_loader
        try:
            accounts = []
            for index in range(users):
                user = services.auth.create_user(f"bench{index}", PASSWORD)
                pair = services.auth.login(f"bench{index}", PASSWORD, ClientInfo())
                accounts.append((user.id, pair.access_token))
            with (
                serve_in_thread(create_app(settings, services)) as url,
                httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0)) as client,
            ):
                yield Bench(url, services, accounts, clock, client, threads, store_dir, engines)
        finally:
            services.close()


@dataclass
class Report:
    """Tables and data gathered by the groups."""

    sections: list[str] = field(default_factory=list)
    """Markdown blocks, in order."""
    data: dict[str, Any] = field(default_factory=dict)
    """For the JSON output."""


# (a) SSE decode speed against bare llama.cpp ----------------------------------------------


def service_messages(bench: Bench, user_id: str, text: str) -> list[ChatMessage]:
    """The messages the chat service sends for a new conversation's first turn."""
    from assistant.chat.context import stamped, system_prompt

    profile = bench.services.profile.get_profile(user_id)
    preferences = bench.services.profile.get_preferences(user_id).preferences
    prompt = system_prompt(profile, preferences)
    sent = stamped(text, bench.clock(), profile.time_zone)
    return [ChatMessage("system", prompt), ChatMessage("user", sent)]


def bench_sse(bench: Bench, repetitions: int, max_tokens: int, report: Report) -> float:
    """Decode tokens/s seen by an SSE client against bare generate(); the SSE median."""
    from runtime.llm.llama_cpp import LlamaCppChatModel

    user_id, token = bench.users[0]
    stream_turn(bench.client, bench.url, token, OTHER_TURN, greedy(1))  # the model is loaded
    engine: LlamaCppChatModel = bench.engines[MODEL]
    # The raw side runs on the very llama_cpp.Llama object the app's engine holds, between
    # turns (the app is idle then): the same instance, so the same memory placement and
    # settings; two instances of one file can differ by a few percent.
    raw = engine._llama
    settings = engine._params
    options = GenerationOptions(
        max_tokens=max_tokens, temperature=0.0, top_k=40, top_p=0.95, repeat_penalty=1.0
    )
    prompt = raw_prompt_tokens(raw, service_messages(bench, user_id, LONG_ANSWER))
    progress(f"sse: {repetitions} rounds of {max_tokens} tokens, {thread_label(settings)}")
    runs: dict[str, list[Any]] = interleaved(
        {
            "raw": lambda: raw_generate(raw, prompt, options),
            "sse": lambda: stream_turn(
                bench.client, bench.url, token, LONG_ANSWER, greedy(max_tokens)
            ),
        },
        repetitions,
    )
    raw_runs: list[Generation] = runs["raw"]
    sse_runs: list[SseTurn] = runs["sse"]
    row = Row(
        f"Chat SSE ({thread_label(settings)})",
        "decode seen by the client vs bare generate()",
        "tokens/s",
        Stats.of([t.tokens_per_second for t in sse_runs], higher_is_better=True),
        Stats.of([g.tokens_per_second for g in raw_runs], higher_is_better=True),
        higher_is_better=True,
        target=Target("ratio", at_least=True, bound=0.97),
    )
    sse_tokens = sorted({t.completion_tokens for t in sse_runs})
    raw_tokens = sorted({g.tokens for g in raw_runs})
    prompt_tokens = sorted({int(t.done["usage"]["prompt_tokens"]) for t in sse_runs})
    deltas = sorted({t.deltas for t in sse_runs})
    report.sections.append(
        "\n".join(
            [
                "### (a) Decode speed through the API",
                "",
                rows_table([row]),
                "",
                f"- {MODEL}, greedy, {max_tokens} tokens max (SSE: {sse_tokens}, raw:"
                f" {raw_tokens}); prompt {prompt_tokens} tokens through the service, {len(prompt)}"
                " tokens raw (the same system prompt and message, rendered by the GGUF"
                f" template); {deltas} delta events per turn.",
                "- SSE: (usage.completion_tokens - 1) / (time of the done event - time of the"
                " first delta event), measured by an httpx client in this process. Raw:"
                " Llama.generate() between the turns, on the llama_cpp.Llama object the app's"
                " engine holds (same instance, same settings), (tokens - 1) / (last token -"
                " first token). Each SSE turn is a new conversation.",
            ]
        )
    )
    report.data["sse"] = {
        "row": row.as_dict(),
        "sse": [sse_record(t) for t in sse_runs],
        "raw": [{"tokens": g.tokens, "tokens_per_second": g.tokens_per_second} for g in raw_runs],
    }
    return row.runtime.median


def sse_record(turn: SseTurn) -> dict[str, Any]:
    """A turn's numbers for the JSON output."""
    return {
        "tokens_per_second": turn.tokens_per_second,
        "first_delta_ms": turn.first_delta_ms,
        "wall_seconds": turn.wall_seconds,
        "deltas": turn.deltas,
        "usage": turn.done["usage"],
        "timings": turn.done["timings"],
    }


# (b) Prompt-cache reuse on a follow-up turn ------------------------------------------------


CACHE_CASES = {
    "reuse": "same conversation, right after its first turn (prompt cache reused)",
    "other": "same conversation after another conversation's turn (cache holds the other one)",
    "pause": "same conversation, after a 5-minute pause (prompt cache reused)",
}
"""The follow-up cases, in words."""


def bench_cache(bench: Bench, repetitions: int, report: Report) -> None:
    """Time to first token of a follow-up turn with and without prompt-cache reuse."""
    _, token = bench.users[0]
    first_options, follow_options = greedy(64), greedy(8)

    def first_turn() -> str:
        turn = stream_turn(bench.client, bench.url, token, FIRST_TURN, first_options)
        return str(turn.done["conversation_id"])

    def follow_up(conversation_id: str) -> SseTurn:
        return stream_turn(
            bench.client, bench.url, token, FOLLOW_UP, follow_options, conversation_id
        )

    def reuse() -> SseTurn:
        return follow_up(first_turn())

    def other() -> SseTurn:
        conversation_id = first_turn()
        stream_turn(bench.client, bench.url, token, OTHER_TURN, follow_options)
        return follow_up(conversation_id)

    def pause() -> SseTurn:
        conversation_id = first_turn()
        bench.clock.offset += PAUSE_SECONDS
        return follow_up(conversation_id)

    progress(f"cache: {repetitions} rounds of 3 follow-up cases")
    runs = interleaved({"reuse": reuse, "other": other, "pause": pause}, repetitions)
    baseline = Stats.of([t.first_delta_ms for t in runs["other"]])
    rows = []
    for case, turns in runs.items():
        client_ms = Stats.of([t.first_delta_ms for t in turns])
        server_ms = Stats.of([float(t.done["timings"]["first_token_ms"]) for t in turns])
        prompt = Stats.of([float(t.done["usage"]["prompt_tokens"]) for t in turns])
        cached = Stats.of([float(t.done["usage"]["cached_prompt_tokens"]) for t in turns])
        speedup = baseline.median / client_ms.median if client_ms.median > 0 else 0.0
        rows.append(
            [
                CACHE_CASES[case],
                f"{prompt.median:.0f}",
                f"{cached.median:.0f}",
                format_stats(client_ms, 0),
                format_stats(server_ms, 0),
                f"{speedup:.1f}x",
            ]
        )
    table = markdown_table(
        (
            "follow-up turn",
            "prompt tokens",
            "reused from cache",
            "first delta, client (ms)",
            "first_token_ms, done event",
            "speed-up vs other",
        ),
        rows,
    )
    report.sections.append(
        "\n".join(
            [
                "### (b) Time to first token of a follow-up turn",
                "",
                table,
                "",
                "- Each case starts a new conversation with the same first turn (notes of"
                " about 300 tokens, 64-token greedy summary), then sends the same follow-up"
                " question; the greedy first reply makes the follow-up prompts identical in"
                " length. Without reuse: another conversation's turn runs in between, so"
                " llama.cpp's KV cache matches only the shared system prompt and the whole"
                " conversation is evaluated again (a fresh engine state would also drop the"
                " system prompt). The pause case moves the service clock by"
                f" {PAUSE_SECONDS / 60:.0f} minutes between the two turns: the system prompt"
                " holds no clock (each user message carries its own send time), so a pause"
                " changes nothing the model has already seen.",
                "- Client: request sent to first delta event. first_token_ms: the service's own"
                " figure (queue + context building + prompt evaluation). Medians (p90) of"
                f" {repetitions} rounds after one warm-up round.",
            ]
        )
    )
    report.data["cache"] = {case: [sse_record(t) for t in turns] for case, turns in runs.items()}


# (c) Four users at once ---------------------------------------------------------------------


def concurrent_round(bench: Bench, max_tokens: int) -> tuple[float, list[SseTurn]]:
    """Four users send a turn at the same moment; (aggregate tokens/s, turns by queue order)."""
    barrier = threading.Barrier(len(CONCURRENT_REQUESTS))
    turns: list[SseTurn | None] = [None] * len(CONCURRENT_REQUESTS)
    errors: list[BaseException] = []

    def user(index: int) -> None:
        _, token = bench.users[index]
        try:
            with httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0)) as client:
                barrier.wait()
                turns[index] = stream_turn(
                    client, bench.url, token, CONCURRENT_REQUESTS[index], greedy(max_tokens)
                )
        except BaseException as exc:  # handed back to the main thread
            errors.append(exc)

    workers = [
        threading.Thread(target=user, args=(i,), name=f"user{i}")
        for i in range(len(CONCURRENT_REQUESTS))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise RuntimeError(f"a concurrent turn failed: {errors[0]}") from errors[0]
    finished = [t for t in turns if t is not None]
    wall = max(t.done_at for t in finished) - min(t.sent_at for t in finished)
    aggregate = sum(t.completion_tokens for t in finished) / wall
    return aggregate, sorted(finished, key=lambda t: float(t.done["timings"]["queue_ms"]))


def bench_concurrent(
    bench: Bench, repetitions: int, max_tokens: int, single: float | None, report: Report
) -> None:
    """Aggregate tokens/s and per-stream times with four streams on one model instance."""
    progress(f"concurrent: {repetitions} rounds of 4 streams x {max_tokens} tokens")
    _, token = bench.users[0]
    stream_turn(bench.client, bench.url, token, OTHER_TURN, greedy(1))  # the model is loaded
    rounds = [concurrent_round(bench, max_tokens) for _ in range(repetitions)]
    positions = ("1st", "2nd", "3rd", "4th")
    rows = []
    for index, name in enumerate(positions):
        turns = [turns[index] for _, turns in rounds]
        rows.append(
            [
                f"{name} in the queue",
                format_stats(Stats.of([t.wall_seconds for t in turns]), 2),
                format_stats(Stats.of([float(t.done["timings"]["queue_ms"]) for t in turns]), 0),
                format_stats(Stats.of([t.first_delta_ms for t in turns]), 0),
                format_stats(
                    Stats.of([t.tokens_per_second for t in turns], higher_is_better=True), 2
                ),
                f"{Stats.of([float(t.completion_tokens) for t in turns]).median:.0f}",
            ]
        )
    aggregate = Stats.of([a for a, _ in rounds], higher_is_better=True)
    walls = Stats.of([max(t.wall_seconds for t in turns) for _, turns in rounds])
    total = Stats.of([float(sum(t.completion_tokens for t in turns)) for _, turns in rounds])
    rows.append(
        [
            "all 4 (aggregate)",
            format_stats(walls, 2),
            "",
            "",
            format_stats(aggregate, 2),
            f"{total.median:.0f}",
        ]
    )
    table = markdown_table(
        (
            "stream",
            "wall time (s)",
            "queue_ms, done event",
            "first delta, client (ms)",
            "decode tokens/s",
            "tokens",
        ),
        rows,
    )
    versus = (
        f" A single stream decodes at {single:.2f} tokens/s (a); the aggregate is"
        f" {aggregate.median / single:.2f} of it (the rest is each stream's prompt evaluation"
        " and the turn bookkeeping between streams)."
        if single
        else ""
    )
    report.sections.append(
        "\n".join(
            [
                "### (c) Four users at once",
                "",
                table,
                "",
                f"- Four accounts send four different requests ({max_tokens} tokens max, greedy)"
                " at the same moment, each on its own connection. They queue on the one model"
                " instance (one generation at a time): the aggregate is all tokens over the"
                " time from the first request to the last done event." + versus,
                f"- Streams ranked by the queue time their done event reports; medians (p90) of"
                f" {repetitions} rounds.",
            ]
        )
    )
    report.data["concurrent"] = [
        {"aggregate_tokens_per_second": a, "turns": [sse_record(t) for t in turns]}
        for a, turns in rounds
    ]


# Running ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chat benchmarks; print the header and the tables."""
    from assistant.settings import Settings

    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "", GROUPS)
    args, groups = parse_with_groups(parser, argv, GROUPS)
    repetitions = args.repetitions or (1 if args.quick else 5)
    concurrent_rounds = args.repetitions or (1 if args.quick else 3)
    max_tokens = args.max_tokens or (24 if args.quick else 200)
    concurrent_tokens = args.max_tokens or (16 if args.quick else 128)
    threads = llm_threads(args.threads)
    store_dir = args.models_dir or Settings.load().models_dir
    info = machine_info(LIBRARIES)
    report = Report()
    single: float | None = None
    with running_app(store_dir, threads, users=len(CONCURRENT_REQUESTS)) as bench:
        if "sse" in groups:
            single = bench_sse(bench, repetitions, max_tokens, report)
        if "cache" in groups:
            bench_cache(bench, repetitions, report)
        if "concurrent" in groups:
            bench_concurrent(bench, concurrent_rounds, concurrent_tokens, single, report)
    print(header_line(info))
    print()
    print(
        f"Chat model {MODEL} on llama.cpp ({threads['threads']} thread(s) decoding,"
        f" {threads['batch_threads']} evaluating prompts), served by the real app on"
        " uvicorn (same process, loopback HTTP). Values are median (p90); p90 is the slow"
        " tail (10th percentile of a rate)."
    )
    for section in report.sections:
        print()
        print(section)
    print()
    print(f"Load average at the end: {' '.join(f'{v:.2f}' for v in load_average())}.")
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "chat",
                "machine": info,
                "model": MODEL,
                "threads": threads,
                "repetitions": repetitions,
                **report.data,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
