"""``assistant chat``: the REPL over the fake-model chat service, the SSE client, the command."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from assistant.auth import PasswordHasher, Role, User
from assistant.chat.models import Timings, TurnDelta, TurnDone, TurnStarted, TurnUsage
from assistant.cli import main_options
from assistant.cli.chat import (
    ChatRepl,
    LocalBackend,
    RemoteBackend,
    ServerSentEvent,
    SseParser,
    chat,
    footer,
    pick_user,
)
from assistant.services import build_services
from assistant.settings import Settings
from tests.compat.conftest import CompatEnv

PASSWORD = "correct horse battery"


class Script:
    """Scripted input: each call returns the next line (or raises the next exception);
    after the last one, EOFError (Ctrl-D). ``on_read`` runs before line ``n`` is given."""

    def __init__(
        self, *lines: str | BaseException, on_read: dict[int, Callable[[], Any]] | None = None
    ) -> None:
        self.lines = list(lines)
        self.on_read = on_read or {}
        self.reads = 0

    def __call__(self, prompt: str) -> str:
        self.reads += 1
        if self.reads in self.on_read:
            self.on_read[self.reads]()
        if not self.lines:
            raise EOFError
        line = self.lines.pop(0)
        if isinstance(line, BaseException):
            raise line
        return line


def text_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, force_terminal=False, color_system=None), out


def run_repl(repl: ChatRepl) -> None:
    with asyncio.Runner() as runner:
        repl.run(runner)


# Pure pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "events"),
    [
        (
            ["event: delta", 'data: {"text": "hi"}', ""],
            [ServerSentEvent("delta", '{"text": "hi"}')],
        ),
        (["data: a", "data: b", ""], [ServerSentEvent("message", "a\nb")]),
        ([": keep-alive", "", "event: x", "data:y", ""], [ServerSentEvent("x", "y")]),
        (["", "", "event: done", "data: {}", "", ""], [ServerSentEvent("done", "{}")]),
        (["event: start", "data: 1"], []),  # not finished by a blank line yet
        (["id: 7", "retry: 10", "data: z", ""], [ServerSentEvent("message", "z")]),
    ],
)
def test_sse_parser(lines: list[str], events: list[ServerSentEvent]) -> None:
    parser = SseParser()
    assert [e for e in map(parser.feed, lines) if e is not None] == events


def user(name: str, *, disabled: bool = False) -> User:
    return User(
        id=name,
        username=name,
        role=Role.USER,
        disabled=disabled,
        created_at=0,
        updated_at=0,
        version=1,
    )


@pytest.mark.parametrize(
    ("users", "name", "chosen", "error"),
    [
        ([user("ada")], None, "ada", None),
        ([user("ada"), user("bob")], "Bob", "bob", None),
        ([], None, None, "assistant users add"),
        ([user("ada"), user("bob")], None, None, "--user NAME"),
        ([user("ada")], "eve", None, "no account named 'eve'"),
        ([user("ada", disabled=True)], None, None, "disabled"),
    ],
)
def test_pick_user(
    users: list[User], name: str | None, chosen: str | None, error: str | None, capsys: Any
) -> None:
    if chosen is not None:
        assert pick_user(users, name).username == chosen
        return
    with pytest.raises(typer.Exit):
        pick_user(users, name)
    assert error is not None and error in capsys.readouterr().err.replace("\n", " ")


def test_footer() -> None:
    done = TurnDone(
        conversation_id="c",
        message_id="m",
        text="x",
        finish_reason="length",
        usage=TurnUsage(3, 12),
        timings=Timings(),
    )
    assert footer("qwen:1", 0.4213, done) == "qwen:1 · first token 0.42 s · 12 tokens · length"
    assert footer("", None, None) == "?"


# Local mode end to end ----------------------------------------------------------------


def test_local_chat_session(compat_env: CompatEnv) -> None:
    ada = compat_env.user("ada")
    console, out = text_console()
    script = Script(
        "Hello there",
        "/history",
        "/model",
        "/model fake:small",
        "and again",
        "/model nope:1",
        "/new",
        "/history",
        "",
        "/unknown",
        KeyboardInterrupt(),
        "third one",
        "/help",
        "/quit",
        "never read",
    )
    run_repl(
        ChatRepl(
            LocalBackend(compat_env.chat, compat_env.history, ada), console=console, read=script
        )
    )
    text = out.getvalue()
    assert "You said: Hello there\nfake:big · first token" in text
    assert "you: Hello there\nassistant: You said: Hello there" in text
    assert "model: automatic" in text
    assert "installed: fake:big, fake:huge, fake:small, fake:vision, tiny:1b-q4" in text
    assert "You said: and again\nfake:small ·" in text
    assert "nope:1 is not installed" in text
    assert "(no conversation yet" in text
    assert "unknown command /unknown" in text
    assert "(/quit or Ctrl-D to leave)" in text
    assert "/history [N]" in text
    assert script.lines == ["never read"]
    conversations = compat_env.history.conversations(ada)
    assert len(conversations) == 2  # /new started a second one
    first = compat_env.history.history(ada, conversations[1].id)
    assert [m.content for m in reversed(first)] == [
        "Hello there",
        "You said: Hello there",
        "and again",
        "You said: and again",
    ]
    assert compat_env.engines["fake:small"].closed  # leaving unloads the models


def test_local_errors_are_shown_and_the_chat_goes_on(compat_env: CompatEnv) -> None:
    ada = compat_env.user("ada")
    console, out = text_console()
    run_repl(
        ChatRepl(
            LocalBackend(compat_env.chat, compat_env.history, ada),
            console=console,
            read=Script("hello", "/model auto", "hello again"),
            model="fake:huge",
        )
    )
    text = out.getvalue()
    assert "error: fake:huge needs about 50000 MB" in text
    assert "You said: hello again\nfake:big" in text


def test_continuing_a_conversation(compat_env: CompatEnv) -> None:
    ada = compat_env.user("ada")
    console, _ = text_console()
    backend = LocalBackend(compat_env.chat, compat_env.history, ada)
    run_repl(ChatRepl(backend, console=console, read=Script("one")))
    [conversation] = compat_env.history.conversations(ada)
    run_repl(
        ChatRepl(backend, console=console, read=Script("two"), conversation_id=conversation.id)
    )
    assert compat_env.history.conversation(ada, conversation.id).message_count == 4


def test_ctrl_c_stops_the_reply_not_the_chat(compat_env: CompatEnv) -> None:
    compat_env.token_seconds["fake:big"] = 0.05
    compat_env.replies["fake:big"] = lambda messages: " ".join(["word"] * 200)
    ada = compat_env.user("ada")
    console, out = text_console()

    def interrupt_soon() -> None:
        threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGINT)).start()

    script = Script("talk for a long time", "/history", on_read={1: interrupt_soon})
    run_repl(
        ChatRepl(
            LocalBackend(compat_env.chat, compat_env.history, ada), console=console, read=script
        )
    )
    text = out.getvalue()
    assert "(stopped)" in text
    reason, produced = compat_env.engines["fake:big"].finishes[0]
    assert reason == "cancelled" and 0 < produced < 40
    assert "assistant: word word" in text  # the partial reply was kept
    assert script.reads == 3  # the chat went on after the interruption


# Remote mode --------------------------------------------------------------------------


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def in_pieces(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class FakeServer:
    """The chat endpoints of a server, as a transport."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail_with: httpx.Response | None = None
        self.stream_error = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer ak_test"
        if request.url.path == "/api/v1/chat/stream":
            if self.fail_with is not None:
                return self.fail_with
            body = json.loads(request.content)
            self.sent.append(body)
            events = sse(
                "start",
                {
                    "conversation_id": "conv-1",
                    "user_message_id": "u1",
                    "model": body.get("model") or "remote:1",
                    "route_reason": "the configured default",
                    "flags": {"summarized": False, "dropped_turns": 0, "summary_used": False},
                },
            )
            events += sse("delta", {"text": "Hel"}) + sse("delta", {"text": "lo!"})
            if self.stream_error:
                events += sse("error", {"problem": {"detail": "the engine fell over"}})
            else:
                events += sse(
                    "done",
                    {
                        "conversation_id": "conv-1",
                        "message_id": "m1",
                        "finish_reason": "stop",
                        "usage": {
                            "prompt_tokens": 5,
                            "completion_tokens": 2,
                            "cached_prompt_tokens": 0,
                        },
                        "timings": {"queue_ms": 1, "first_token_ms": 20, "total_ms": 30},
                    },
                )
            return httpx.Response(
                200, content=in_pieces(events), headers={"content-type": "text/event-stream"}
            )
        if request.url.path == "/api/v1/models":
            installed = [
                {"id": "remote:1", "capability": "llm"},
                {"id": "whisper:tiny", "capability": "stt"},
                {"id": "remote:2", "capability": "llm"},
            ]
            return httpx.Response(200, json={"installed": installed, "loaded": []})
        if request.url.path == "/api/v1/chat/history":
            assert request.url.params["conversation_id"] == "conv-1"
            messages = [
                {"role": "assistant", "text": "Hello!"},
                {"role": "user", "text": "hi"},
            ]
            return httpx.Response(200, json={"conversation_id": "conv-1", "messages": messages})
        return httpx.Response(404, json={"detail": f"No endpoint at {request.url.path}"})


def remote(server: FakeServer) -> RemoteBackend:
    client = httpx.AsyncClient(transport=httpx.MockTransport(server), base_url="http://box:8765")
    return RemoteBackend("http://box:8765/", "ak_test", client=client)


async def test_remote_events_become_turn_events() -> None:
    backend = remote(FakeServer())
    events = [e async for e in backend.turn("hi", None, "remote:2")]
    started, *deltas, done = events
    assert isinstance(started, TurnStarted) and started.model == "remote:2"
    assert [d.text for d in deltas if isinstance(d, TurnDelta)] == ["Hel", "lo!"]
    assert isinstance(done, TurnDone)
    assert (done.conversation_id, done.text, done.usage.completion_tokens) == (
        "conv-1",
        "Hello!",
        2,
    )
    assert done.timings.first_token_seconds == 0.02
    await backend.close()


def test_remote_chat_session() -> None:
    server = FakeServer()
    console, out = text_console()
    script = Script("hi", "/history", "/model", "/model remote:2", "more", "/new", "again")
    run_repl(ChatRepl(remote(server), console=console, read=script))
    text = out.getvalue()
    assert "Hello!\nremote:1 · first token" in text
    assert "you: hi\nassistant: Hello!" in text
    assert "installed: remote:1, remote:2" in text
    assert server.sent == [
        {"text": "hi"},
        {"text": "more", "conversation_id": "conv-1", "model": "remote:2"},
        {"text": "again", "model": "remote:2"},
    ]


def test_remote_errors_are_shown() -> None:
    server = FakeServer()
    server.stream_error = True
    console, out = text_console()
    run_repl(ChatRepl(remote(server), console=console, read=Script("hi")))
    assert "Hello!\nerror: the engine fell over" in out.getvalue()

    server.stream_error = False
    server.fail_with = httpx.Response(
        404,
        json={"status": 404, "code": "not-found", "detail": "No such conversation"},
        headers={"content-type": "application/problem+json"},
    )
    console, out = text_console()
    run_repl(ChatRepl(remote(server), console=console, read=Script("hi"), conversation_id="x"))
    assert "error: No such conversation" in out.getvalue()


def test_unreachable_server() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://box:1")
    console, out = text_console()
    backend = RemoteBackend("http://box:1", "ak_test", client=client)
    run_repl(ChatRepl(backend, console=console, read=Script("hi", "/model")))
    assert out.getvalue().count("error: cannot talk to http://box:1") == 2


def test_remote_chat_against_a_real_server(live_url: str, compat_env: CompatEnv) -> None:
    key = compat_env.api_key("ada")
    console, out = text_console()
    script = Script("hello there", "/history", "/model fake:small", "and again", "/model")
    run_repl(ChatRepl(RemoteBackend(live_url, key), console=console, read=script))
    text = out.getvalue()
    assert "You said: hello there\nfake:big · first token" in text
    assert "you: hello there\nassistant: You said: hello there" in text
    assert "You said: and again\nfake:small ·" in text
    assert "model: fake:small" in text
    ada = compat_env.services.auth.find_user("ada").id
    [conversation] = compat_env.history.conversations(ada)
    assert conversation.message_count == 4


def test_remote_ctrl_c_stops_the_server_side_generation(
    live_url: str, compat_env: CompatEnv
) -> None:
    compat_env.token_seconds["fake:big"] = 0.05
    compat_env.replies["fake:big"] = lambda messages: " ".join(["word"] * 200)
    key = compat_env.api_key("ada")
    console, out = text_console()

    def interrupt_soon() -> None:
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()

    script = Script("talk for a long time", on_read={1: interrupt_soon})
    run_repl(ChatRepl(RemoteBackend(live_url, key), console=console, read=script))
    assert "(stopped)" in out.getvalue()
    compat_env.wait_for_finish("fake:big")
    reason, produced = compat_env.engines["fake:big"].finishes[0]
    assert reason == "cancelled" and produced < 40


# The command --------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(main_options)
    app.command("chat")(chat)
    return app


def make_users(data_dir: Path, *names: str) -> None:
    services = build_services(
        Settings.load(data_dir=data_dir), hasher=PasswordHasher.fast_for_tests()
    )
    try:
        for name in names:
            services.auth.create_user(name, PASSWORD)
    finally:
        services.close()


@pytest.mark.parametrize(
    ("users", "args", "message"),
    [
        ((), [], "assistant users add"),
        (("ada", "bob"), [], "--user NAME"),
        (("ada",), ["--user", "eve"], "no account named 'eve'"),
        (("ada",), ["--api-key", "ak_x"], "--api-key goes with --url"),
        ((), ["--url", "http://box:8765"], "--url needs --api-key"),
        (
            (),
            ["--url", "http://box:8765", "--api-key", "k", "--user", "ada"],
            "--user is for local",
        ),
    ],
)
def test_command_refuses_unclear_requests(
    tmp_path: Path, users: tuple[str, ...], args: list[str], message: str
) -> None:
    make_users(tmp_path, *users)
    result = CliRunner().invoke(cli(), ["--data-dir", str(tmp_path), "chat", *args], input="")
    assert result.exit_code == 1, result.output
    assert message in result.output.replace("\n", " ")


def test_command_runs_locally_and_names_the_missing_model(tmp_path: Path) -> None:
    make_users(tmp_path, "ada")
    result = CliRunner().invoke(
        cli(), ["--data-dir", str(tmp_path), "chat"], input="hello\n/model\n"
    )
    assert result.exit_code == 0, result.output
    assert "chatting as ada" in result.output
    assert "is not installed. Install it with: assistant models pull" in result.output
    assert "installed: none" in result.output
