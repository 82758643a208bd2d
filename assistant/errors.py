"""The one error tree of the runtime.

Every layer raises these; engines and stores translate library exceptions at their
edge (``raise BackendError(...) from exc``). The server maps the tree to RFC 9457
``application/problem+json`` in one place (``server/problems.py``); the CLI prints
``detail`` and exits non-zero.

    AssistantError
    ├── InvalidInput            bad values from a caller (names the field)
    │   ├── UnreadableMedia     audio or an image that cannot be decoded at all
    │   └── PayloadTooLarge     a body, file or message over a limit
    ├── Unauthorized            no or bad credentials
    ├── Forbidden               authenticated, but not allowed
    ├── NotFound                no such thing for this user
    ├── Conflict                already exists, or a stale version
    ├── RateLimited             too many attempts; retry later
    ├── ModelNotInstalled       a model must be pulled first (names the command)
    ├── ResourceExhausted       memory budget or queue full
    ├── HardwareUnavailable     microphone, speaker or camera missing or gone
    └── BackendError            a native engine or library failed
"""

from __future__ import annotations

from typing import Any, ClassVar


class AssistantError(Exception):
    """Base of every error the runtime raises on purpose."""

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


class UnreadableMedia(InvalidInput):
    """An upload that is empty, corrupt, truncated or in no format we read."""

    code = "unreadable-media"
    title = "Unreadable media"


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


class RateLimited(AssistantError):
    """Too many attempts; the caller should wait ``retry_after_seconds``."""

    code = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_seconds: int, **fields: Any) -> None:
        super().__init__(detail, retry_after_seconds=retry_after_seconds, **fields)
        self.retry_after_seconds = retry_after_seconds


class ModelNotInstalled(AssistantError):
    """A model is needed that is not in the model store."""

    code = "model-not-installed"
    title = "Model not installed"

    def __init__(self, model_id: str, *, install_command: str | None = None) -> None:
        command = install_command or f"assistant models pull {model_id}"
        super().__init__(
            f"Model {model_id!r} is not installed. Install it with: {command}",
            model_id=model_id,
            install_command=command,
        )
        self.model_id = model_id
        self.install_command = command


class ResourceExhausted(AssistantError):
    """Memory budget, queue or disk is full; may succeed later."""

    code = "resource-exhausted"
    title = "Resource exhausted"

    def __init__(
        self, detail: str, *, retry_after_seconds: int | None = None, **fields: Any
    ) -> None:
        super().__init__(detail, retry_after_seconds=retry_after_seconds, **fields)
        self.retry_after_seconds = retry_after_seconds


class HardwareUnavailable(AssistantError):
    """A microphone, speaker or camera is missing, busy or was unplugged."""

    code = "hardware-unavailable"
    title = "Hardware unavailable"


class BackendError(AssistantError):
    """A native engine or library failed in a way the caller cannot fix."""

    code = "backend-error"
    title = "Backend error"
