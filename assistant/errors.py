"""The domain's errors: what the services raise about requests, accounts and state.

Each layer owns its errors: ``hal.errors`` (devices and media), ``runtime.errors``
(models and engines) and these. None of them knows how it is shown: the faces classify
all three trees by their stable ``code`` in one place (``assistant.problems``, used by
``server/problems.py`` for HTTP and by the CLI), and add hints there.

    AssistantError
    ├── InvalidInput            bad values from a caller (names the field)
    │   └── PayloadTooLarge     a body, file or message over a limit
    ├── Unauthorized            no or bad credentials
    ├── Forbidden               authenticated, but not allowed
    ├── NotFound                no such thing for this user
    ├── Conflict                already exists, or a stale version
    ├── PreconditionFailed      a conditional write's precondition no longer holds
    ├── RateLimited             too many attempts; retry later
    ├── BackendError            the database, a key file or a migration failed
    └── UpstreamError           another server (an OpenID provider, a sync remote) failed
"""

from __future__ import annotations

from typing import Any, ClassVar


class AssistantError(Exception):
    """Base of every error the services raise on purpose."""

    code: ClassVar[str] = "internal-error"
    """Stable slug, used as the problem ``type`` suffix and by the CLI."""
    title: ClassVar[str] = "Internal error"
    """Short, human summary of the kind of problem."""

    def __init__(self, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        """What went wrong in this case, and what to do about it."""
        self.fields: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        """Structured extras (field name, retry delay, model id...)."""


class InvalidInput(AssistantError):
    """A caller sent a value the runtime cannot accept."""

    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, **fields: Any) -> None:
        super().__init__(detail, field=field, **fields)
        self.field = field


class PayloadTooLarge(InvalidInput):
    """A body, upload or message is larger than the configured limit."""

    code = "payload-too-large"
    title = "Payload too large"


class Unauthorized(AssistantError):
    """Missing, expired or wrong credentials."""

    code = "unauthorized"
    title = "Authentication required"


class Forbidden(AssistantError):
    """The caller is known but may not do this."""

    code = "forbidden"
    title = "Forbidden"


class NotFound(AssistantError):
    """The thing does not exist, or does not belong to the caller."""

    code = "not-found"
    title = "Not found"


class Conflict(AssistantError):
    """The request clashes with the current state (duplicate, stale version)."""

    code = "conflict"
    title = "Conflict"


class PreconditionFailed(AssistantError):
    """A conditional write (``If-Match``) found the state moved on; read again, retry."""

    code = "precondition-failed"
    title = "Precondition failed"


class RateLimited(AssistantError):
    """Too many attempts; the caller should wait ``retry_after_seconds``."""

    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_seconds: int, **fields: Any) -> None:
        super().__init__(detail, retry_after_seconds=retry_after_seconds, **fields)
        self.retry_after_seconds = retry_after_seconds


class BackendError(AssistantError):
    """Something the service depends on (the database, a key file) failed."""

    code = "backend-error"
    title = "Backend error"


class UpstreamError(AssistantError):
    """A server this one depends on (an OpenID provider, a sync remote) failed or
    answered something unusable."""

    code = "upstream-error"
    title = "Upstream server error"
