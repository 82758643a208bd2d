"""The one call every service makes to report what happened: ``events.emit(name, props)``.

The analytics service (``assistant.analytics``) implements it with a bounded in-memory
queue that a background thread writes to SQLite in batches; this module only defines the
call, so that ``runtime/`` (the model manager) and every service of ``assistant/`` can take
an emitter through its constructor, with :data:`NO_EVENTS` as the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Emitter(Protocol):
    """Where a service reports events. ``emit`` never blocks and never raises."""

    def emit(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        """Record one event (``chat.turn``, ``model.load``...) with its numbers and labels.

        ``properties`` is kept as given (pass a fresh mapping, JSON values only); numeric
        properties become measures the rollups aggregate, ``model``, ``code`` or
        ``language`` the event's label. ``user_id`` None: the system's own event.
        """
        ...


class NullEmitter:
    """An emitter that drops everything: the default of every service's constructor."""

    def emit(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        """Do nothing."""


NO_EVENTS: Emitter = NullEmitter()
"""The no-op emitter."""


class RecordingEmitter:
    """An emitter that keeps every event it is given (tests, and the CLI's dry runs)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], str | None]] = []
        """(name, properties, user id) of every event, in order."""

    def emit(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        """Keep the event."""
        self.events.append((name, dict(properties or {}), user_id))

    def named(self, name: str) -> list[dict[str, Any]]:
        """The properties of every event of one name."""
        return [properties for event, properties, _ in self.events if event == name]
