"""Shapes shared by every endpoint."""

from __future__ import annotations

from typing import Any

import msgspec


class FieldError(msgspec.Struct, kw_only=True):
    """One invalid field."""

    field: str
    """Dotted path of the field (``preferences.speaking_rate``)."""
    message: str
    """What is wrong with it."""
    source: str | None = None
    """Where it was: body, query, header, path."""


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    """URI naming the kind of problem (``urn:edge-assistant:problem:<code>``)."""
    title: str
    """Short summary of the kind of problem."""
    status: int
    """HTTP status."""
    detail: str
    """What went wrong in this case and what to do."""
    code: str
    """Stable slug of the problem kind, for clients to switch on."""
    instance: str | None = None
    """The request path."""
    request_id: str | None = None
    """Id of the request (also in the X-Request-ID header and the server log)."""
    field: str | None = None
    """The offending field, when one is to blame."""
    errors: list[FieldError] | None = None
    """Every invalid field, for validation problems."""
    retry_after_seconds: int | None = None
    """When to try again (also in Retry-After)."""
    extra: dict[str, Any] | None = None
    """Other structured details (model id, install command...)."""


class Status(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A plain status answer."""

    status: str
    """``ok`` when all is well."""
    checks: dict[str, str] | None = None
    """Individual readiness checks and their state."""


class Deleted(msgspec.Struct, kw_only=True):
    """How many things a delete removed."""

    deleted: int
    """Count removed."""
