"""Remote engines' plumbing: a blocking Wyoming client, URLs, parameters and health probes.

Engines on another machine (an OpenAI-compatible ``/v1`` server, a Wyoming service such
as wyoming-faster-whisper, wyoming-piper, wyoming-openwakeword or another instance of
this runtime) sit behind the same Protocols as local ones. Everything that can go wrong
on the way there (refused, reset, timed out, hung up, an ``error`` event) is translated
here into ``RemoteUnavailable`` or ``EngineError``, so callers see one error tree.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from wyoming.error import Error
from wyoming.event import Event, read_event, write_event
from wyoming.info import Describe, Info

from runtime.errors import EngineError, RemoteUnavailable, UnsupportedInput

DEFAULT_WYOMING_PORT = 10300
"""Port assumed when a ``tcp://`` URL names none."""


@dataclass(frozen=True)
class RemoteParams:
    """Parameters every remote engine takes (from settings or ``models add --url``)."""

    url: str
    """``http(s)://host:port/v1`` (OpenAI-compatible) or ``tcp://host:port`` (Wyoming)."""
    model: str | None = None
    """The model, voice or wake word to ask for; None: the server's default."""
    api_key: str | None = None
    """Bearer token (OpenAI-compatible servers that want one)."""
    timeout_seconds: float = 30.0
    """Longest wait for the server to answer or send the next piece."""
    connect_timeout_seconds: float = 3.0
    """Longest wait to connect (a machine that is off fails fast)."""
    context_length: int | None = None
    """Context window of a remote chat model; default: asked of the server, else 4096."""
    sample_rate: int = 16_000
    """Rate audio is sent to a remote speech recogniser or wake-word service at."""

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0 or self.connect_timeout_seconds <= 0:
            raise ValueError("timeouts must be positive")


def tcp_address(url: str) -> tuple[str, int]:
    """``tcp://host:port`` (or ``host:port``) as an address; UnsupportedInput otherwise."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    if parts.scheme != "tcp" or not parts.hostname:
        raise UnsupportedInput(
            f"{url!r} is not a Wyoming address such as tcp://192.168.1.20:10300", field="url"
        )
    try:
        port = parts.port or DEFAULT_WYOMING_PORT
    except ValueError as exc:
        raise UnsupportedInput(f"{url!r} has an invalid port", field="url") from exc
    return parts.hostname, port


class WyomingConnection:
    """One blocking TCP connection to a Wyoming service (one request, then closed)."""

    def __init__(self, url: str, *, timeout_seconds: float, connect_timeout_seconds: float) -> None:
        self.url = url
        host, port = tcp_address(url)
        try:
            self._socket = socket.create_connection((host, port), timeout=connect_timeout_seconds)
        except OSError as exc:
            raise RemoteUnavailable(f"Cannot reach the Wyoming service at {url}: {exc}") from exc
        self._socket.settimeout(timeout_seconds)
        self._file = cast(BinaryIO, self._socket.makefile("rwb"))

    def send(self, event: Event) -> None:
        """Write one event."""
        try:
            write_event(event, self._file)
        except OSError as exc:
            raise RemoteUnavailable(f"The Wyoming service at {self.url} hung up: {exc}") from exc

    def receive(self) -> Event:
        """The next event; RemoteUnavailable when the service hangs up or goes quiet,
        EngineError when it answers with an ``error`` event."""
        try:
            event = read_event(self._file)
        except TimeoutError as exc:
            raise RemoteUnavailable(f"The Wyoming service at {self.url} stopped answering") from exc
        except OSError as exc:
            raise RemoteUnavailable(f"The Wyoming service at {self.url} hung up: {exc}") from exc
        if event is None:
            raise RemoteUnavailable(f"The Wyoming service at {self.url} closed the connection")
        if Error.is_type(event.type):
            error = Error.from_event(event)
            raise EngineError(
                f"The Wyoming service at {self.url} failed: {error.text}",
                remote_code=error.code,
            )
        return event

    def pending(self) -> bool:
        """An event (or the end of the stream) is waiting to be read, without blocking."""
        timeout = self._socket.gettimeout()
        try:
            self._socket.settimeout(0.0)
            return bool(self._socket.recv(1, socket.MSG_PEEK))  # b"": hung up, read it
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True  # the error surfaces on the next read
        finally:
            self._socket.settimeout(timeout)

    def close(self) -> None:
        """Close the connection."""
        try:
            self._file.close()
        finally:
            self._socket.close()

    def __enter__(self) -> WyomingConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wyoming_connect(params: RemoteParams) -> WyomingConnection:
    """A connection to the service ``params`` names."""
    return WyomingConnection(
        params.url,
        timeout_seconds=params.timeout_seconds,
        connect_timeout_seconds=params.connect_timeout_seconds,
    )


def describe(params: RemoteParams, *, timeout_seconds: float | None = None) -> Info:
    """The service's ``info`` (what it offers)."""
    timeout = timeout_seconds or params.timeout_seconds
    with WyomingConnection(
        params.url,
        timeout_seconds=timeout,
        connect_timeout_seconds=min(timeout, params.connect_timeout_seconds),
    ) as connection:
        connection.send(Describe().event())
        while True:
            event = connection.receive()
            if Info.is_type(event.type):
                try:
                    return Info.from_event(event)
                except (KeyError, TypeError, ValueError) as exc:
                    raise EngineError(
                        f"The Wyoming service at {params.url} sent an info it cannot read"
                    ) from exc


@dataclass(frozen=True)
class Probe:
    """The outcome of one health check."""

    healthy: bool
    """The engine answered as it should."""
    latency_seconds: float | None
    """Round trip of the check; None when it failed."""
    error: str | None = None
    """Why it failed."""


def probe(engine: str, params: dict[str, Any], timeout_seconds: float = 3.0) -> Probe:
    """Check a remote engine once (blocking): Wyoming ``describe``, or ``GET /models``."""
    started = time.perf_counter()
    try:
        parsed = RemoteParams(**{k: v for k, v in params.items() if k in _PARAM_NAMES})
        if engine == "openai":
            from runtime.llm.openai_compat import list_models

            list_models(parsed, timeout_seconds=timeout_seconds)
        else:
            describe(parsed, timeout_seconds=timeout_seconds)
    except (EngineError, UnsupportedInput, TypeError, ValueError) as exc:
        detail = exc.detail if isinstance(exc, EngineError | UnsupportedInput) else str(exc)
        return Probe(healthy=False, latency_seconds=None, error=detail)
    return Probe(healthy=True, latency_seconds=time.perf_counter() - started)


_PARAM_NAMES = {
    "url",
    "model",
    "api_key",
    "timeout_seconds",
    "connect_timeout_seconds",
    "context_length",
    "sample_rate",
}
