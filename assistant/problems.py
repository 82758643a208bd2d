"""How an error is told to a client or a person: one classification of the three trees.

``hal.errors``, ``runtime.errors`` and ``assistant.errors`` each own their errors; every
one carries a stable ``code``. :func:`explain` turns any of them into a
:class:`Problem` (status, code, title, detail, field, retry delay, structured extras) and
adds the hints that belong to the place the error is shown, such as the command that
installs a missing model. ``server/problems.py`` builds its ``classify`` on this (adding
the web framework's own errors) for every HTTP renderer; the CLI prints the same
problems. Pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assistant.errors import AssistantError
from hal.errors import HalError
from runtime.errors import ModelNotInstalled, ModelRuntimeError

OwnError = AssistantError | ModelRuntimeError | HalError
"""An error raised on purpose by any layer."""
OWN_ERRORS: tuple[type[AssistantError], type[ModelRuntimeError], type[HalError]] = (
    AssistantError,
    ModelRuntimeError,
    HalError,
)
"""The bases of the three trees, for ``except`` and ``isinstance``."""

STATUS_BY_CODE: Mapping[str, int] = {
    "invalid-input": 422,
    "unreadable-media": 400,
    "payload-too-large": 413,
    "unsupported-media-type": 415,
    "unauthorized": 401,
    "forbidden": 403,
    "not-found": 404,
    "conflict": 409,
    "precondition-failed": 412,
    "upstream-error": 502,
    "rate-limited": 429,
    "model-not-installed": 503,
    "resource-exhausted": 503,
    "hardware-unavailable": 503,
    "backend-error": 500,
    "remote-unavailable": 503,
}
"""The HTTP status of each code; a code not listed is a 500."""

MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
"""What a model id looks like (``name:tag``); anything else is never echoed into a command."""


@dataclass(frozen=True)
class FieldProblem:
    """One invalid field of a request."""

    field: str
    """Dotted path of the field (``preferences.speaking_rate``), ``body`` for the whole."""
    message: str
    """What is wrong with it."""
    source: str | None = None
    """Where it was: body, query, header, path."""


@dataclass(frozen=True)
class Problem:
    """An error, classified: what every face (HTTP, streams, the CLI) reports."""

    status: int
    """HTTP status (the CLI derives its exit code from it)."""
    code: str
    """Stable slug of the kind of problem, for clients to switch on."""
    title: str
    """Short summary of the kind of problem."""
    detail: str
    """What went wrong in this case and what to do, hints included."""
    field: str | None = None
    """The offending field, when one is to blame."""
    retry_after_seconds: int | None = None
    """When to try again."""
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Other structured details (model id, install command...)."""
    errors: tuple[FieldProblem, ...] = ()
    """Every invalid field, for request validation problems."""
    framework: bool = False
    """Raised by the web framework (routing, method, body size) rather than a service."""
    allow: str | None = None
    """The methods a path allows (405 answers)."""

    @property
    def client_error(self) -> bool:
        """The caller can fix it (4xx)."""
        return self.status < 500


def install_command(exc: ModelNotInstalled) -> str:
    """The command that installs a missing model, without echoing a malformed id."""
    if not exc.model_id and exc.capability:  # the catalogue has no model of the kind
        return (
            f"assistant models add PATH --id NAME:TAG --capability {exc.capability} --engine ENGINE"
        )
    if not MODEL_ID.fullmatch(exc.model_id):
        return "assistant models list (shows every model that can be installed)"
    if not exc.in_catalogue:
        return (
            f"assistant models add PATH --id {exc.model_id} --capability C --engine E"
            " (it is not in the manifest)"
        )
    command = f"assistant models pull {exc.model_id}"
    if exc.capability:
        command += f" (or any {exc.capability} model: `assistant models list`)"
    return command


def explain(exc: OwnError) -> Problem:
    """The problem of an error of any of the three trees, hints added."""
    fields = dict(exc.fields)
    retry = fields.pop("retry_after_seconds", None)
    field_name = fields.pop("field", None)
    detail = exc.detail
    if isinstance(exc, ModelNotInstalled):
        command = install_command(exc)
        fields["install_command"] = command
        detail = f"{detail} Install it with: {command}"
    return Problem(
        status=STATUS_BY_CODE.get(exc.code, 500),
        code=exc.code,
        title=exc.title,
        detail=detail,
        field=None if field_name is None else str(field_name),
        retry_after_seconds=None if retry is None else int(retry),
        extra=fields,
    )
