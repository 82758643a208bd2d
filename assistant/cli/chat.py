"""``assistant chat``: talk to the assistant in the terminal, replies streaming as written.

Local mode (the default) runs the same ChatService as the server in this process; remote
mode (``--url``) talks to a running server's ``POST /api/v1/chat/stream``. Both feed one
REPL through the ChatBackend protocol, as the same turn events (start, deltas, done).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import httpx
import typer
from rich.console import Console
from rich.status import Status

from assistant.auth import User
from assistant.chat.history import HistoryService
from assistant.chat.models import (
    ChatRequest,
    ContextFlags,
    Timings,
    TurnDelta,
    TurnDone,
    TurnEvent,
    TurnStarted,
    TurnUsage,
)
from assistant.chat.service import ChatService
from assistant.cli.common import console, error_message, fail, open_services, problem_detail
from assistant.errors import AssistantError
from assistant.problems import OWN_ERRORS
from runtime.tls import tls_context

log = logging.getLogger(__name__)

HELP = """\
  /new          start a new conversation
  /history [N]  the last N messages of this conversation (default 10)
  /model        the current model and the installed ones
  /model ID     answer with model ID from now on (/model auto: let the assistant choose)
  /help         this list
  /quit         leave (Ctrl-D works too)
Ctrl-C stops a reply that is being written."""


class RemoteError(AssistantError):
    """The server refused a request or could not be reached."""

    code = "remote-error"
    title = "Remote error"


class ChatBackend(Protocol):
    """Where the REPL's turns go: the local ChatService or a running server."""

    def turn(
        self, text: str, conversation_id: str | None, model: str | None
    ) -> AsyncIterator[TurnEvent]:
        """One turn's events: TurnStarted, TurnDeltas, TurnDone."""
        ...

    async def history(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        """(role, text) of the conversation's last messages, oldest first."""
        ...

    async def models(self) -> list[str]:
        """Installed chat models."""
        ...

    async def close(self) -> None:
        """Release what the backend holds (models, connections)."""
        ...


class LocalBackend:
    """Turns through this process's ChatService (the model loads on first use)."""

    def __init__(self, chat: ChatService, history: HistoryService, user_id: str) -> None:
        self.chat = chat
        self.history_service = history
        self.user_id = user_id

    def turn(
        self, text: str, conversation_id: str | None, model: str | None
    ) -> AsyncIterator[TurnEvent]:
        """ChatService.stream for the chosen user."""
        request = ChatRequest(text=text, conversation_id=conversation_id, model=model)
        return self.chat.stream(self.user_id, request)

    async def history(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        """The stored messages."""
        messages = await asyncio.to_thread(
            self.history_service.history, self.user_id, conversation_id, limit=limit
        )
        return [(m.role, m.content) for m in reversed(messages)]

    async def models(self) -> list[str]:
        """The chat service's candidates."""
        return [c.id for c in await asyncio.to_thread(self.chat.candidates)]

    async def close(self) -> None:
        """Unload the models this process loaded."""
        await self.chat.manager.close()


# Remote mode --------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of a ``text/event-stream``."""

    event: str
    """Its name (``message`` when the stream gives none)."""
    data: str
    """Its data lines, joined by newlines."""


class SseParser:
    """Incremental Server-Sent Events parser: feed lines, get events at blank lines."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line (without its newline); an event when the line ends one."""
        if not line:
            if not self._data and not self._event:
                return None
            event = ServerSentEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


def turn_event(event: ServerSentEvent, state: dict[str, Any]) -> TurnEvent | None:
    """The turn event an SSE event of /api/v1/chat/stream carries (None: not one of them).

    ``state`` carries what later events need from earlier ones (conversation, text).
    """
    if event.event not in ("start", "delta", "done", "error"):
        return None
    data = json.loads(event.data)
    if event.event == "start":
        state["conversation_id"] = data["conversation_id"]
        state["text"] = []
        flags = data.get("flags") or {}
        return TurnStarted(
            conversation_id=data["conversation_id"],
            user_message_id=data.get("user_message_id", ""),
            model=data.get("model", ""),
            route_reason=data.get("route_reason", ""),
            flags=ContextFlags(
                summarized=bool(flags.get("summarized")),
                dropped_turns=int(flags.get("dropped_turns", 0)),
                summary_used=bool(flags.get("summary_used")),
            ),
        )
    if event.event == "delta":
        state.setdefault("text", []).append(data["text"])
        return TurnDelta(data["text"])
    if event.event == "done":
        usage = data.get("usage") or {}
        timings = data.get("timings") or {}
        return TurnDone(
            conversation_id=data.get("conversation_id") or state.get("conversation_id", ""),
            message_id=data.get("message_id", ""),
            text="".join(state.get("text", [])),
            finish_reason=data.get("finish_reason", "stop"),
            usage=TurnUsage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                cached_prompt_tokens=int(usage.get("cached_prompt_tokens", 0)),
            ),
            timings=Timings(
                queue_seconds=timings.get("queue_ms", 0) / 1000,
                first_token_seconds=timings.get("first_token_ms", 0) / 1000,
                total_seconds=timings.get("total_ms", 0) / 1000,
            ),
        )
    problem = data.get("problem") or {}
    raise RemoteError(str(problem.get("detail") or "the reply failed"))


class RemoteBackend:
    """Turns through a running server: ``POST /api/v1/chat/stream`` (SSE)."""

    def __init__(self, url: str, api_key: str, client: httpx.AsyncClient | None = None) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.AsyncClient(
            base_url=self.url, timeout=httpx.Timeout(30, read=None), verify=tls_context()
        )
        self.headers = {"Authorization": f"Bearer {api_key}"}

    async def turn(
        self, text: str, conversation_id: str | None, model: str | None
    ) -> AsyncIterator[TurnEvent]:
        """The server's events as turn events; its errors as RemoteError."""
        body: dict[str, Any] = {"text": text}
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        if model is not None:
            body["model"] = model
        parser = SseParser()
        state: dict[str, Any] = {}
        try:
            async with self.client.stream(
                "POST", "/api/v1/chat/stream", json=body, headers=self.headers
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise RemoteError(problem_detail(response))
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    found = turn_event(event, state) if event is not None else None
                    if found is not None:
                        yield found
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot talk to {self.url}: {exc}") from exc

    async def history(self, conversation_id: str, limit: int) -> list[tuple[str, str]]:
        """``GET /api/v1/chat/history``."""
        body = await self._get(
            "/api/v1/chat/history", {"conversation_id": conversation_id, "limit": limit}
        )
        return [(m["role"], m["text"]) for m in reversed(body.get("messages", []))]

    async def models(self) -> list[str]:
        """``GET /api/v1/models``: the installed chat and vision models."""
        body = await self._get("/api/v1/models", {})
        return [m["id"] for m in body.get("installed", []) if m.get("capability") in ("llm", "vlm")]

    async def close(self) -> None:
        """Close the connections."""
        await self.client.aclose()

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.client.get(path, params=params, headers=self.headers)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot talk to {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise RemoteError(problem_detail(response))
        body = response.json()
        return body if isinstance(body, dict) else {}


# The REPL -----------------------------------------------------------------------------


class ChatRepl:
    """The read-reply loop; input and output are injected so tests can script them."""

    def __init__(
        self,
        backend: ChatBackend,
        *,
        console: Console,
        read: Callable[[str], str],
        model: str | None = None,
        conversation_id: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.backend = backend
        self.console = console
        self.read = read
        self.model = model
        self.conversation_id = conversation_id
        self.clock = clock

    def run(self, runner: asyncio.Runner) -> None:
        """Read lines until /quit or end of input; Ctrl-C stops only the reply in progress."""
        self._say("Type a message; /help for commands, /quit or Ctrl-D to leave.", style="dim")
        try:
            while True:
                try:
                    line = self.read("you> ")
                except EOFError:
                    self._say()
                    return
                except KeyboardInterrupt:
                    self._say("\n(/quit or Ctrl-D to leave)", style="dim")
                    continue
                if not line.strip():
                    continue
                try:
                    if line.startswith("/"):
                        if not self._command(line.strip(), runner):
                            return
                    else:
                        runner.run(self.reply(line))
                except KeyboardInterrupt:
                    # asyncio.Runner turned Ctrl-C into cancelling the running task.
                    self._say("\n(stopped)", style="dim")
        finally:
            runner.run(self.backend.close())

    async def reply(self, text: str) -> None:
        """Send one message and stream the reply to the console."""
        started = self.clock()
        events = self.backend.turn(text, self.conversation_id, self.model)
        first_token: float | None = None
        model = self.model or ""
        done: TurnDone | None = None
        try:
            with self._waiting("loading model...") as status:
                event = await anext(events, None)
                if isinstance(event, TurnStarted):
                    self.conversation_id = event.conversation_id
                    model = event.model
                    if status is not None:
                        status.update("thinking...")
                    event = await anext(events, None)
            while event is not None:
                if isinstance(event, TurnDelta) and event.text:
                    if first_token is None:
                        first_token = self.clock() - started
                    self._say(event.text, end="")
                elif isinstance(event, TurnDone):
                    done = event
                event = await anext(events, None)
        except OWN_ERRORS as exc:
            if first_token is not None:
                self._say()
            self._say(f"error: {error_message(exc)}", style="bold red")
            return
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()
        self._say()
        self._say(footer(model, first_token, done), style="dim")

    def _say(self, text: str = "", style: str | None = None, end: str = "\n") -> None:
        """Plain text: no markup, no wrapping (pipes get whole lines)."""
        self.console.print(
            text, style=style, end=end, markup=False, highlight=False, emoji=False, soft_wrap=True
        )

    def _waiting(self, note: str) -> AbstractContextManager[Status | None]:
        if self.console.is_terminal:
            return self.console.status(note, spinner="dots")
        return nullcontext()

    def _command(self, line: str, runner: asyncio.Runner) -> bool:
        """Run an in-chat command; False to leave."""
        name, _, argument = line.partition(" ")
        argument = argument.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/help":
            self._say(HELP)
        elif name == "/new":
            self.conversation_id = None
            self._say("(new conversation)", style="dim")
        elif name == "/history":
            self._history(runner, argument)
        elif name == "/model":
            self._switch_model(runner, argument)
        else:
            self._say(f"unknown command {name}; /help lists them", style="yellow")
        return True

    def _history(self, runner: asyncio.Runner, argument: str) -> None:
        if self.conversation_id is None:
            self._say("(no conversation yet: send a message first)", style="dim")
            return
        limit = int(argument) if argument.isdigit() and int(argument) > 0 else 10
        try:
            messages = runner.run(self.backend.history(self.conversation_id, limit))
        except OWN_ERRORS as exc:
            self._say(f"error: {error_message(exc)}", style="bold red")
            return
        for role, text in messages:
            who = "you" if role == "user" else role
            self._say(f"{who}: ", style="bold", end="")
            self._say(text)

    def _switch_model(self, runner: asyncio.Runner, argument: str) -> None:
        try:
            installed = runner.run(self.backend.models())
        except OWN_ERRORS as exc:
            self._say(f"error: {error_message(exc)}", style="bold red")
            return
        if not argument:
            current = self.model or "automatic (the assistant chooses per message)"
            self._say(f"model: {current}")
            self._say(f"installed: {', '.join(installed) or 'none'}")
            return
        if argument == "auto":
            self.model = None
            self._say("(the assistant chooses the model)", style="dim")
        elif argument in installed:
            self.model = argument
            self._say(f"(now answering with {argument})", style="dim")
        else:
            self._say(
                f"{argument} is not installed; installed: {', '.join(installed) or 'none'}",
                style="yellow",
            )


def footer(model: str, first_token_seconds: float | None, done: TurnDone | None) -> str:
    """The dim line after a reply: model, time to first token, tokens, how it ended."""
    parts = [model or "?"]
    if first_token_seconds is not None:
        parts.append(f"first token {first_token_seconds:.2f} s")
    if done is not None:
        tokens = done.usage.completion_tokens
        parts.append(f"{tokens} token{'' if tokens == 1 else 's'}")
        if done.finish_reason not in ("stop", ""):
            parts.append(done.finish_reason)
    return " · ".join(parts)


def pick_user(users: Sequence[User], name: str | None) -> User:
    """The account to chat as: the one named, or the only one there is."""
    if name is not None:
        found = next((u for u in users if u.username.lower() == name.lower()), None)
        if found is None:
            known = ", ".join(u.username for u in users) or "none yet"
            raise fail(f"no account named {name!r} (accounts: {known})")
        chosen = found
    elif not users:
        raise fail("there are no accounts yet: create one with `assistant users add NAME`")
    elif len(users) > 1:
        names = ", ".join(u.username for u in users)
        raise fail(f"there are several accounts ({names}): choose one with --user NAME")
    else:
        chosen = users[0]
    if chosen.disabled:
        raise fail(f"the account {chosen.username!r} is disabled (`assistant users enable`)")
    return chosen


def terminal_reader() -> Callable[[str], str]:
    """Line input: with a prompt and line editing on a terminal, plain when piped."""
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - enables line editing and history for input()
        # input() itself draws the prompt, so readline knows its width when it redraws.
        return input
    return lambda prompt: input()


def chat(
    ctx: typer.Context,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", help="Account to chat as (local mode; default: the only account)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Chat model id (default: the assistant chooses)."),
    ] = None,
    conversation: Annotated[
        str | None,
        typer.Option("--conversation", help="Continue this conversation (its id)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="ASSISTANT_URL",
            help="Talk to a running server (e.g. http://127.0.0.1:8765) instead of"
            " loading the model here.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="ASSISTANT_API_KEY",
            help="Device API key (or access token) for --url.",
        ),
    ] = None,
) -> None:
    """Chat with the assistant in the terminal; replies stream as they are written.

    In-chat commands: /new, /history, /model [ID], /help, /quit (or Ctrl-D). Ctrl-C stops
    the reply being written.
    """
    read = terminal_reader()
    if url is None:
        if api_key is not None:
            raise fail("--api-key goes with --url")
        with open_services(ctx) as services:
            account = pick_user(services.auth.list_users(), user)
            if conversation is not None:
                services.history.conversation(account.id, conversation)  # NotFound if not theirs
            console.print(
                f"chatting as {account.username} on this device", style="dim", markup=False
            )
            backend: ChatBackend = LocalBackend(services.chat, services.history, account.id)
            repl = ChatRepl(
                backend, console=console, read=read, model=model, conversation_id=conversation
            )
            with asyncio.Runner() as runner:
                repl.run(runner)
        return
    if user is not None:
        raise fail("--user is for local mode; with --url the API key says who you are")
    if not api_key:
        raise fail(
            "--url needs --api-key (create one with POST /api/v1/auth/api-keys) or"
            " ASSISTANT_API_KEY"
        )
    console.print(f"chatting with {url}", style="dim", markup=False, highlight=False)
    repl = ChatRepl(
        RemoteBackend(url, api_key),
        console=console,
        read=read,
        model=model,
        conversation_id=conversation,
    )
    with asyncio.Runner() as runner:
        repl.run(runner)
