"""The errors of the model runtime: engines, the model store and the model manager.

Engines and the store translate their libraries' exceptions where they arise
(``raise EngineError(...) from exc``), as httpx translates its transports' errors.
Nothing here knows about HTTP, the CLI or the layers above: the faces classify these
errors by their ``code`` and add hints where they show them (the command that installs
a missing model is the CLI's business, not the runtime's).

    ModelRuntimeError
    ├── UnsupportedInput         a value the engine or store cannot take (names the field)
    │   └── ManifestError        (runtime.manifest) the catalogue file is invalid
    ├── UnknownModel             no such model in the catalogue, or no such file to import
    ├── ModelNotInstalled        the model must be pulled first
    ├── ModelBusy                in use, or being downloaded by another process
    ├── ResourceExhausted        memory budget, queue or disk full; may succeed later
    └── EngineError              a native engine or library failed
        ├── ModelLoadFailed      the files are there, the engine could not load them
        ├── RemoteUnavailable    a remote engine (OpenAI /v1, Wyoming) cannot be reached
        └── DownloadError        (runtime.download) a URL failed for good
"""

from __future__ import annotations

from typing import Any, ClassVar


class ModelRuntimeError(Exception):
    """Base of every error the model runtime raises on purpose."""

    code: ClassVar[str] = "runtime-error"
    """Stable slug clients switch on (the same across layers for the same kind)."""
    title: ClassVar[str] = "Runtime error"
    """Short, human summary of the kind of problem."""

    def __init__(self, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        """What went wrong in this case, and what to do about it."""
        self.fields: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        """Structured extras (field name, retry delay, model id...)."""


class UnsupportedInput(ModelRuntimeError):
    """A value an engine, the model store or a converter cannot take."""

    code = "invalid-input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, **fields: Any) -> None:
        super().__init__(detail, field=field, **fields)
        self.field = field
        """The option or argument to blame."""


class UnknownModel(ModelRuntimeError):
    """No such model id in the catalogue or the store, or no such file to import."""

    code = "not-found"
    title = "Not found"


class ModelNotInstalled(ModelRuntimeError):
    """A model is needed that is not in the model store."""

    code = "model-not-installed"
    title = "Model not installed"

    def __init__(
        self, model_id: str, *, in_catalogue: bool = True, capability: str | None = None
    ) -> None:
        super().__init__(f"Model {model_id!r} is not installed.", model_id=model_id)
        self.model_id = model_id
        """The model to install."""
        self.in_catalogue = in_catalogue
        """The manifest has it (so it can be pulled); otherwise it must be imported."""
        self.capability = capability
        """Set when any model of this capability would do (``chat``): the model named
        is only a suggestion."""


class ModelBusy(ModelRuntimeError):
    """The model is in use, or another process is downloading or recording it."""

    code = "conflict"
    title = "Conflict"


class ResourceExhausted(ModelRuntimeError):
    """Memory budget, queue or disk is full; may succeed later."""

    code = "resource-exhausted"
    title = "Resource exhausted"

    def __init__(
        self, detail: str, *, retry_after_seconds: int | None = None, **fields: Any
    ) -> None:
        super().__init__(detail, retry_after_seconds=retry_after_seconds, **fields)
        self.retry_after_seconds = retry_after_seconds
        """When trying again may succeed; None when only freeing resources helps."""


class EngineError(ModelRuntimeError):
    """A native engine or library failed in a way the caller cannot fix."""

    code = "backend-error"
    title = "Backend error"


class ModelLoadFailed(EngineError):
    """The model's files are installed but its engine could not load them."""


class RemoteUnavailable(EngineError):
    """A remote engine cannot be reached, timed out or hung up; may work again later."""

    code = "remote-unavailable"
    title = "Remote engine unavailable"

    def __init__(self, detail: str, *, retry_after_seconds: int | None = 5, **fields: Any) -> None:
        super().__init__(detail, retry_after_seconds=retry_after_seconds, **fields)
