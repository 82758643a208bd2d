"""Analytics events: what one looks like, the names the services emit, and the checks an
event from a client must pass. Pure: no I/O; the current time is passed in."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from assistant.errors import InvalidInput

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}(\.[a-z][a-z0-9_]{0,31}){0,3}")
"""An event name: lower-case dotted words, such as ``chat.turn`` or ``app.opened``."""
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
"""A property key."""
SESSION = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
"""A client session id."""
MAX_NAME_CHARS = 64
MAX_PROPERTIES = 32
"""Keys of a property object, at every level."""
MAX_PROPERTY_BYTES = 4096
"""The properties of one event, as JSON."""
MAX_DEPTH = 3
"""Objects and arrays nested in properties, the top object counted."""
MAX_STRING_CHARS = 1000
MAX_PAST_SECONDS = 7 * 86_400
"""A client timestamp may be this old (offline clients send late)."""
MAX_FUTURE_SECONDS = 300
"""And this far ahead (clock skew)."""
NO_PROPERTIES: Mapping[str, Any] = MappingProxyType({})
"""The properties of an event that has none."""
LABEL_KEYS = ("model", "code", "language")
"""The property that labels an event in the rollups: the first of these it has."""

SERVER_EVENTS: Mapping[str, str] = {
    "chat.turn": "a chat turn: model, prompt/completion/cached tokens, queue/first-token/"
    "total ms, tokens per second, finish reason, source",
    "voice.transcription": "speech to text: model, language, audio seconds, processing ms, RTF",
    "voice.synthesis": "text to speech: model, characters, first-audio ms, audio seconds, RTF",
    "voice.turn": "a spoken turn: each stage's latency in ms, outcome",
    "voice.wake": "a wake-word detection: word (as model), score",
    "model.load": "a model loaded: model, capability, engine, ms, MB",
    "model.unload": "a model unloaded: model, reason",
    "auth.login": "a successful sign-in",
    "auth.login_failed": "a failed sign-in (no user: the name may not exist)",
    "error": "an error answered to a client: code, status, route template",
    "experiment.exposure": "a user first saw a variant: experiment key, variant",
    "translate.text": "a text translated: kind, model, engine, source and target language,"
    " characters, cached, quality, total ms",
    "vision.call": "a vision call: kind (detect, ocr, analyze, vqa), model, total ms",
    "notification.send": "a notification sent to a user: category, priority, scheduled, sender",
    "wyoming.request": "a Wyoming request: kind, model, total ms, audio seconds, first-audio ms,"
    " outcome code",
}
"""The events the server emits itself; clients may not send these names. A new service
adds its names here (and its README line)."""


class Event(NamedTuple):
    """One analytics event as it is stored (a named tuple: the writer makes thousands a
    second, and the emitter's queue holds the same fields in the same order)."""

    ts: int
    """Server time it was accepted, Unix milliseconds."""
    name: str
    """What happened (``chat.turn``)."""
    properties: Mapping[str, Any]
    """Numbers and labels (JSON values)."""
    user_id: str | None = None
    """Whose event; None for the system's own (model loads)."""
    session_id: str | None = None
    """The client session that sent it, if any."""
    client_ts: int | None = None
    """The client's own timestamp, Unix milliseconds, if sent."""


def label_of(properties: Mapping[str, Any]) -> str:
    """The event's label in the rollups: its ``model``, else ``code``, else ``language``."""
    for key in LABEL_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value:
            return value[:100]
    return ""


def measures_of(properties: Mapping[str, Any]) -> dict[str, float]:
    """The numeric top-level properties (booleans are not numbers here)."""
    return {
        key: float(value)
        for key, value in properties.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def check_client_event(
    index: int | None,
    name: str,
    properties: Mapping[str, Any],
    timestamp_seconds: float | None,
    session_id: str | None,
    now: float,
) -> None:
    """Raise InvalidInput naming the field when a client's event breaks a limit."""
    where = "" if index is None else f"events[{index}]."
    if len(name) > MAX_NAME_CHARS or not NAME.fullmatch(name):
        raise InvalidInput(
            "name must be lower-case dotted words such as 'app.opened'"
            f" (letters, digits, underscores; at most {MAX_NAME_CHARS} characters)",
            field=f"{where}name",
        )
    if name in SERVER_EVENTS:
        raise InvalidInput(
            f"{name!r} is emitted by the server itself; name your event differently",
            field=f"{where}name",
        )
    size = _check_value(properties, f"{where}properties", depth=1)
    if size > MAX_PROPERTY_BYTES:
        raise InvalidInput(
            f"properties take {size} bytes as JSON; the limit is {MAX_PROPERTY_BYTES}",
            field=f"{where}properties",
        )
    if timestamp_seconds is not None:
        if timestamp_seconds < now - MAX_PAST_SECONDS:
            raise InvalidInput(
                "timestamp is more than 7 days in the past", field=f"{where}timestamp"
            )
        if timestamp_seconds > now + MAX_FUTURE_SECONDS:
            raise InvalidInput(
                "timestamp is more than 5 minutes in the future", field=f"{where}timestamp"
            )
    if session_id is not None and not SESSION.fullmatch(session_id):
        raise InvalidInput(
            "session_id must be 1-64 letters, digits or '_ . : -'", field=f"{where}session_id"
        )


def _check_value(value: Any, field: str, depth: int) -> int:
    """Check one value; its size as compact JSON (escapes aside), counted on the way."""
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise InvalidInput(f"text longer than {MAX_STRING_CHARS} characters", field=field)
        return len(value.encode()) + 2
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return len(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput("numbers must be finite", field=field)
        return len(repr(value))
    if isinstance(value, Mapping | list):
        return _check_container(value, field, depth)
    raise InvalidInput("properties hold JSON values only", field=field)


def _check_container(value: Mapping[str, Any] | list[Any], field: str, depth: int) -> int:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"properties nest deeper than {MAX_DEPTH} levels", field=field)
    if len(value) > MAX_PROPERTIES:
        raise InvalidInput(f"{len(value)} entries; the limit is {MAX_PROPERTIES}", field=field)
    size = 2 + len(value)
    if isinstance(value, list):
        for item in value:
            size += _check_value(item, field, depth + 1)
        return size
    for key, item in value.items():
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise InvalidInput(
                "property keys are 1-64 letters, digits or '_ . -', not starting with a digit",
                field=field,
            )
        size += len(key) + 3 + _check_value(item, f"{field}.{key}", depth + 1)
    return size
