"""Reading Wyoming events off a connection, within limits.

A Wyoming event is a JSON header line (``type``, optional ``data``, ``data_length``,
``payload_length``), then ``data_length`` bytes of JSON merged into ``data``, then
``payload_length`` bytes of payload (audio). The ``wyoming`` package's own reader trusts
the lengths it is sent; this one refuses a header line, data or payload over the limits
in settings, and any header that is not such an object, before reading further.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

from assistant.errors import InvalidInput, PayloadTooLarge


@dataclass(frozen=True)
class FrameLimits:
    """The largest parts of one event."""

    header_bytes: int = 16_384
    """The JSON header line."""
    data_bytes: int = 1_000_000
    """``data_length``."""
    payload_bytes: int = 4_000_000
    """``payload_length``."""


class FrameError(InvalidInput):
    """A frame that cannot be read: the stream cannot be followed past it."""


class FrameTooLarge(PayloadTooLarge):
    """A frame over the limits: the stream cannot be followed past it."""


async def read_event(reader: asyncio.StreamReader, limits: FrameLimits) -> Event | None:
    """The next event; None when the peer closed the connection between events."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as exc:
        raise FrameTooLarge(
            f"The event header is longer than {limits.header_bytes} bytes", field="header"
        ) from exc
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise FrameError("The connection ended inside an event header", field="header") from exc
        return None
    header = _header(line)
    data = header.get("data", {})
    data_length = _length(header, "data_length", limits.data_bytes)
    payload_length = _length(header, "payload_length", limits.payload_bytes)
    if data_length:
        more = _json(await _exactly(reader, data_length), "data")
        data = {**data, **more}
    payload = await _exactly(reader, payload_length) if payload_length else None
    return Event(type=header["type"], data=data, payload=payload)


def _header(line: bytes) -> dict[str, Any]:
    header = _json(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise FrameError("The event header has no type", field="type")
    if not isinstance(header.get("data", {}), dict):
        raise FrameError("The event's data is not a JSON object", field="data")
    return header


def _json(raw: bytes, field: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"The event {field} is not valid JSON", field=field) from exc
    if not isinstance(value, dict):
        raise FrameError(f"The event {field} is not a JSON object", field=field)
    return value


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(f"{key} must be a non-negative integer", field=key)
    if value > limit:
        raise FrameTooLarge(f"{key} {value} is over the limit of {limit} bytes", field=key)
    return value


async def _exactly(reader: asyncio.StreamReader, count: int) -> bytes:
    try:
        return await reader.readexactly(count)
    except asyncio.IncompleteReadError as exc:
        raise FrameError("The connection ended inside an event", field="payload") from exc
