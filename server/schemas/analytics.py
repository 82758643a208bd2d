"""Bodies of ``/api/v1/analytics``: events in, experiments in and out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from assistant.analytics import ClientEvent
from assistant.analytics.events import MAX_NAME_CHARS, MAX_PROPERTIES
from assistant.analytics.experiments import Experiment, Variant, VariantResult
from assistant.analytics.service import Accepted
from assistant.clock import iso

MAX_BATCH = 1000
"""Events in one request."""

EventName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        pattern=r"^[a-z][a-z0-9_]{0,31}(\.[a-z][a-z0-9_]{0,31}){0,3}$",
        description="Lower-case dotted words (`app.opened`); not one the server emits itself",
    ),
]


class EventIn(BaseModel):
    """One event from a client."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: EventName
    properties: Annotated[
        dict[str, Any],
        Field(
            max_length=MAX_PROPERTIES,
            description="JSON values; at most 32 keys a level, 3 levels, 4096 bytes, text"
            " up to 1000 characters. Numbers become measures the dashboard aggregates",
        ),
    ] = {}
    timestamp: Annotated[
        float | None,
        Field(
            description="When it happened on the client, Unix seconds (at most 7 days ago,"
            " 5 minutes ahead)"
        ),
    ] = None
    session_id: Annotated[
        str | None, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="The client's session")
    ] = None

    def to_event(self) -> ClientEvent:
        """The service's value."""
        return ClientEvent(self.name, self.properties, self.timestamp, self.session_id)


class EventsIn(EventIn):
    """One event (``name``, ``properties``, ``timestamp``, ``session_id``), or a batch of
    up to 1000 as ``{"events": [...]}`` (then nothing else)."""

    name: EventName | None = None  # type: ignore[assignment]
    events: Annotated[
        list[EventIn] | None,
        Field(min_length=1, max_length=MAX_BATCH, description="A batch of events"),
    ] = None

    @model_validator(mode="after")
    def _one_or_batch(self) -> EventsIn:
        if self.events is None and self.name is None:
            raise PydanticCustomError("missing", "send a name, or events")
        if self.events is not None and (
            self.name is not None or self.properties or self.timestamp or self.session_id
        ):
            raise PydanticCustomError("extra", "send either one event or events, not both")
        return self

    def to_events(self) -> list[ClientEvent]:
        """The events sent, as the service takes them."""
        if self.events is not None:
            return [e.to_event() for e in self.events]
        assert self.name is not None
        return [ClientEvent(self.name, self.properties, self.timestamp, self.session_id)]


class AcceptedOut(msgspec.Struct, kw_only=True):
    """What happened to the events sent."""

    accepted: int
    """Queued for writing (stamped with the server's time and your account)."""
    dropped: int
    """Refused because the server's queue was full: send them again later."""

    @classmethod
    def of(cls, accepted: Accepted) -> AcceptedOut:
        return cls(accepted=accepted.accepted, dropped=accepted.dropped)


# Experiments ----------------------------------------------------------------------------

ExperimentKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]{0,31}(\.[a-z][a-z0-9_]{0,31}){0,3}$",
        description="What services ask for, e.g. `chat.style` (the chat system prompt's"
        " tone, verbosity or personality)",
    ),
]


class VariantIn(BaseModel):
    """One arm of an experiment."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
    weight: Annotated[float, Field(ge=0, le=1000)] = 1.0
    config: Annotated[
        dict[str, Any],
        Field(
            max_length=16,
            description="What the service does in this arm; `chat.style`: tone, verbosity,"
            " personality",
        ),
    ] = {}

    def to_variant(self) -> Variant:
        return Variant(self.name, self.weight, self.config)


class ExperimentIn(BaseModel):
    """A new experiment."""

    model_config = ConfigDict(extra="forbid", strict=True)

    key: ExperimentKey
    description: Annotated[str, Field(max_length=500)] = ""
    variants: Annotated[list[VariantIn], Field(min_length=2, max_length=10)]
    """The first is the control."""
    targets: Annotated[list[EventName], Field(min_length=1, max_length=10)]
    """Event names that count as a conversion."""
    window_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 24.0
    start: bool = False
    """Start it now (else it is a draft until PATCHed to running)."""


class ExperimentPatch(BaseModel):
    """Changes to an experiment: start or stop it; variants and targets only as a draft."""

    model_config = ConfigDict(extra="forbid", strict=True)

    status: Literal["running", "stopped"] | None = None
    description: Annotated[str | None, Field(max_length=500)] = None
    variants: Annotated[list[VariantIn] | None, Field(min_length=2, max_length=10)] = None
    targets: Annotated[list[EventName] | None, Field(min_length=1, max_length=10)] = None
    window_hours: Annotated[float | None, Field(gt=0, le=24 * 90)] = None


class VariantOut(msgspec.Struct, kw_only=True):
    """One arm."""

    name: str
    weight: float
    config: dict[str, Any]


class ExperimentOut(msgspec.Struct, kw_only=True):
    """An experiment."""

    id: str
    key: str
    description: str
    variants: list[VariantOut]
    targets: list[str]
    window_hours: float
    status: str
    """draft, running or stopped."""
    started_at: str | None
    stopped_at: str | None
    created_at: str | None
    version: int

    @classmethod
    def of(cls, e: Experiment) -> ExperimentOut:
        return cls(
            id=e.id,
            key=e.key,
            description=e.description,
            variants=[
                VariantOut(name=v.name, weight=v.weight, config=dict(v.config)) for v in e.variants
            ],
            targets=list(e.targets),
            window_hours=e.window_hours,
            status=e.status,
            started_at=iso(e.started_at),
            stopped_at=iso(e.stopped_at),
            created_at=iso(e.created_at),
            version=e.version,
        )


class VariantResultOut(msgspec.Struct, kw_only=True):
    """How one variant did (against the first, the control)."""

    name: str
    exposures: int
    """Users shown this variant."""
    conversions: int
    """Of those, users with a target event within the window after their exposure."""
    rate: float | None
    ci_low: float | None
    """95% Wilson score interval of the rate."""
    ci_high: float | None
    difference: float | None
    """rate minus the control's."""
    z: float | None
    p_value: float | None
    """Two-sided two-proportion z-test (pooled) against the control."""

    @classmethod
    def of(cls, r: VariantResult) -> VariantResultOut:
        return cls(
            name=r.name,
            exposures=r.exposures,
            conversions=r.conversions,
            rate=r.rate,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            difference=r.difference,
            z=r.z,
            p_value=r.p_value,
        )


class ResultsOut(msgspec.Struct, kw_only=True):
    """An experiment's results."""

    experiment: ExperimentOut
    variants: list[VariantResultOut]
    method: str
    """How the numbers were computed."""
