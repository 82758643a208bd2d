"""One classification of the three error trees (``assistant.problems``), as a table."""

from __future__ import annotations

import pytest

from assistant import errors
from assistant.problems import OWN_ERRORS, OwnError, explain, install_command
from hal.errors import CodecFailed, DeviceUnavailable, MediaTooLarge, UnreadableMedia
from hal.errors import UnsupportedMedia as HalUnsupported
from runtime.errors import (
    EngineError,
    ModelBusy,
    ModelLoadFailed,
    ModelNotInstalled,
    ResourceExhausted,
    UnknownModel,
    UnsupportedInput,
)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.InvalidInput("bad", field="x"), 422, "invalid-input"),
        (errors.PayloadTooLarge("long", field="text"), 413, "payload-too-large"),
        (errors.Unauthorized("who?"), 401, "unauthorized"),
        (errors.Forbidden("no"), 403, "forbidden"),
        (errors.NotFound("gone"), 404, "not-found"),
        (errors.Conflict("taken"), 409, "conflict"),
        (errors.RateLimited("slow", retry_after_seconds=3), 429, "rate-limited"),
        (errors.BackendError("disk"), 500, "backend-error"),
        (UnsupportedInput("top_p", field="top_p"), 422, "invalid-input"),
        (UnknownModel("no such model"), 404, "not-found"),
        (ModelNotInstalled("a:1"), 503, "model-not-installed"),
        (ModelBusy("in use"), 409, "conflict"),
        (ResourceExhausted("full", retry_after_seconds=2), 503, "resource-exhausted"),
        (EngineError("crashed"), 500, "backend-error"),
        (ModelLoadFailed("bad file"), 500, "backend-error"),
        (DeviceUnavailable("no microphone"), 503, "hardware-unavailable"),
        (HalUnsupported("24-bit", field="width"), 422, "invalid-input"),
        (UnreadableMedia("noise", field="audio"), 400, "unreadable-media"),
        (MediaTooLarge("too long", field="audio"), 413, "payload-too-large"),
        (CodecFailed("no PyAV"), 500, "backend-error"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_every_error_has_its_status_and_code(exc: OwnError, status: int, code: str) -> None:
    assert isinstance(exc, OWN_ERRORS)
    problem = explain(exc)
    assert (problem.status, problem.code, problem.title) == (status, code, exc.title)
    assert problem.detail.startswith(exc.detail)
    assert problem.client_error is (status < 500)


def test_fields_become_field_retry_and_extras() -> None:
    problem = explain(ResourceExhausted("full", retry_after_seconds=2, model_id="a:1"))
    assert (problem.retry_after_seconds, dict(problem.extra)) == (2, {"model_id": "a:1"})
    assert explain(errors.InvalidInput("bad", field="tone")).field == "tone"


@pytest.mark.parametrize(
    ("exc", "command"),
    [
        (ModelNotInstalled("whisper:tiny.en"), "assistant models pull whisper:tiny.en"),
        (
            ModelNotInstalled("qwen:0.5b", capability="chat"),
            "assistant models pull qwen:0.5b (or any chat model: `assistant models list`)",
        ),
        (
            ModelNotInstalled("mine:1", in_catalogue=False),
            "assistant models add PATH --id mine:1 --capability C --engine E"
            " (it is not in the manifest)",
        ),
        # Ids that are not ids are never echoed into a command a user might paste.
        (ModelNotInstalled("../../etc/passwd"), "assistant models list"),
        (ModelNotInstalled("a:1; rm -rf ~"), "assistant models list"),
        (ModelNotInstalled("a:1\x1b[31m"), "assistant models list"),
        (ModelNotInstalled("a:1\nb:2", in_catalogue=False), "assistant models list"),
        (ModelNotInstalled("a:1\n"), "assistant models list"),
    ],
)
def test_the_install_hint_is_added_where_the_error_is_shown(
    exc: ModelNotInstalled, command: str
) -> None:
    assert "assistant models" not in exc.detail  # the runtime does not know the CLI
    assert install_command(exc).startswith(command)
    problem = explain(exc)
    assert problem.extra["install_command"] == install_command(exc)
    assert problem.detail == f"{exc.detail} Install it with: {install_command(exc)}"
    assert problem.extra["model_id"] == exc.model_id
