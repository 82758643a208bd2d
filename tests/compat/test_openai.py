"""``/v1``: the OpenAI chat API, checked with tables, the test client and the real openai SDK."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from litestar.exceptions import NotFoundException, ValidationException

from assistant import errors
from assistant.auth import PasswordHasher, Principal
from assistant.profile import UsageMetric
from assistant.services import build_services
from assistant.settings import Settings
from hal.errors import DeviceUnavailable, UnreadableMedia
from runtime.errors import EngineError, ModelNotInstalled, ResourceExhausted
from runtime.llm.base import ChatMessage, GenerationOptions
from server.app import create_app
from server.background import serve_in_thread
from server.compat import openai_error, resolve_model
from server.problems import classify, headers_of
from server.schemas.openai import (
    UNLIMITED_TOKENS,
    ChatCompletionMessage,
    ChatCompletionRequest,
    chat_messages,
    finish_reason,
)
from tests.compat.conftest import Client, CompatEnv, eventually, with_compat

PNG = b"\x89PNG\r\n\x1a\nnot really a png"
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
HELLO = [{"role": "user", "content": "hello there"}]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def is_openai_error(response: Any, status: int, code: str | None, param: str | None = None) -> str:
    """Assert OpenAI's error shape; the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["param"] == param
    assert error["message"]
    return str(error["message"])


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an event stream, in order."""
    events = [block for block in text.split("\n\n") if block.strip()]
    assert all(block.startswith("data: ") for block in events), text
    return [block.removeprefix("data: ") for block in events]


# Pure conversions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"role": "user", "content": "hi"}, ChatMessage("user", "hi")),
        ({"role": "developer", "content": "be brief"}, ChatMessage("system", "be brief")),
        ({"role": "assistant", "content": None}, ChatMessage("assistant", "")),
        (
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            ChatMessage("user", "a\nb"),
        ),
        (
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": PNG_URI, "detail": "low"}},
                ],
            },
            ChatMessage("user", "what is this?", (PNG,)),
        ),
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": PNG_URI}]},
            ChatMessage("user", "", (PNG,)),
        ),
    ],
)
def test_messages_convert(message: dict[str, Any], expected: ChatMessage) -> None:
    assert chat_messages([ChatCompletionMessage.model_validate(message)]) == [expected]


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ({"role": "tool", "content": "42", "tool_call_id": "x"}, "messages[0].role", "tool"),
        ({"role": "function", "content": "42"}, "messages[0].role", "tool"),
        (
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            "messages[0].role",
            "tool",
        ),
        ({"role": "wizard", "content": "x"}, "messages[0].role", "unknown role"),
        ({"role": "user", "content": None}, "messages[0].content", "no content"),
        (
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]},
            "messages[0].content[0]",
            "input_audio",
        ),
        (
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG_URI}}]},
            "messages[0].content[0]",
            "Only user messages",
        ),
        (
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
            },
            "messages[0].content[0]",
            "does not fetch URLs",
        ),
        (
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}],
            },
            "messages[0].content[0]",
            "base64",
        ),
        (
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}
                ],
            },
            "messages[0].content[0]",
            "not valid base64",
        ),
        (
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}
                ],
            },
            "messages[0].content[0]",
            "not an image",
        ),
    ],
)
def test_messages_refused(message: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        chat_messages([ChatCompletionMessage.model_validate(message)])
    assert caught.value.field == field
    assert words in caught.value.detail


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, GenerationOptions(max_tokens=UNLIMITED_TOKENS)),
        ({"max_tokens": 7}, GenerationOptions(max_tokens=7)),
        ({"max_tokens": 7, "max_completion_tokens": 9}, GenerationOptions(max_tokens=9)),
        (
            {"temperature": 0, "top_p": 0.5, "seed": 3, "stop": "END"},
            GenerationOptions(
                max_tokens=UNLIMITED_TOKENS, temperature=0.0, top_p=0.5, seed=3, stop=("END",)
            ),
        ),
        ({"stop": ["a", "b"]}, GenerationOptions(max_tokens=UNLIMITED_TOKENS, stop=("a", "b"))),
    ],
)
def test_generation_options(body: dict[str, Any], expected: GenerationOptions) -> None:
    request = ChatCompletionRequest.model_validate({"model": "m", "messages": HELLO, **body})
    assert request.to_options() == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
    ],
)
def test_unsupported_options_are_refused(body: dict[str, Any], field: str) -> None:
    request = ChatCompletionRequest.model_validate({"model": "m", "messages": HELLO, **body})
    with pytest.raises(errors.InvalidInput) as caught:
        request.refuse_unsupported()
    assert caught.value.field == field


def test_accepted_defaults_pass() -> None:
    body = {
        "model": "m",
        "messages": HELLO,
        "n": 1,
        "tools": [],
        "response_format": {"type": "text"},
    }
    ChatCompletionRequest.model_validate(body).refuse_unsupported()


@pytest.mark.parametrize(
    ("engine", "openai_reason"),
    [("stop", "stop"), ("length", "length"), ("cancelled", "stop"), (None, "stop")],
)
def test_finish_reasons(engine: str | None, openai_reason: str) -> None:
    assert finish_reason(engine) == openai_reason


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("qwen2.5:0.5b", "qwen2.5:0.5b"),
        ("qwen2.5", "qwen2.5:0.5b"),
        ("qwen2.5:latest", "qwen2.5:0.5b"),
        ("gemma", "gemma"),  # two tags installed: ambiguous, left for "not installed"
        ("gemma:latest", "gemma:latest"),
        ("llama3", "llama3"),
        ("qwen2.5:1b", "qwen2.5:1b"),
    ],
)
def test_model_names_resolve(requested: str, expected: str) -> None:
    installed = ["qwen2.5:0.5b", "gemma:2b", "gemma:7b"]
    assert resolve_model(requested, installed) == expected


@pytest.mark.parametrize(
    ("exc", "status", "kind", "code", "param", "retry"),
    [
        (
            errors.InvalidInput("bad", field="stop"),
            400,
            "invalid_request_error",
            None,
            "stop",
            None,
        ),
        (
            errors.PayloadTooLarge("long"),
            413,
            "invalid_request_error",
            "payload_too_large",
            None,
            None,
        ),
        (errors.Unauthorized("who"), 401, "authentication_error", "invalid_api_key", None, None),
        (errors.Forbidden("no"), 403, "permission_error", "forbidden", None, None),
        (errors.NotFound("gone"), 404, "invalid_request_error", "not_found", None, None),
        (
            ModelNotInstalled("m:1"),
            404,
            "invalid_request_error",
            "model_not_found",
            "model",
            None,
        ),
        (
            errors.RateLimited("slow", retry_after_seconds=7),
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
            None,
            7,
        ),
        (
            ResourceExhausted("full", retry_after_seconds=2),
            503,
            "server_error",
            "server_busy",
            None,
            2,
        ),
        (ResourceExhausted("full"), 503, "server_error", "server_busy", None, None),
        (EngineError("boom"), 500, "server_error", "backend_error", None, None),
        (errors.BackendError("disk"), 500, "server_error", "backend_error", None, None),
        (DeviceUnavailable("no mic"), 503, "server_error", "hardware_unavailable", None, None),
        (UnreadableMedia("noise", field="file"), 400, "invalid_request_error", None, "file", None),
        (
            ValidationException(extra=[{"key": "data.top_p", "message": "too big"}]),
            400,
            "invalid_request_error",
            None,
            "top_p",
            None,
        ),
        (
            NotFoundException("nothing here"),
            404,
            "invalid_request_error",
            "unknown_url",
            None,
            None,
        ),
        (RuntimeError("secret internals"), 500, "server_error", "internal_error", None, None),
    ],
)
def test_errors_map_to_openai(
    exc: Exception, status: int, kind: str, code: str | None, param: str | None, retry: int | None
) -> None:
    problem = classify(exc, request_id="rid-1")
    answered, document = openai_error(problem)
    error = document.error
    assert (answered, error.type, error.code, error.param) == (status, kind, code, param)
    assert headers_of(problem).get("Retry-After") == (None if retry is None else str(retry))
    assert "secret" not in error.message
    if code == "internal_error":
        assert "rid-1" in error.message


# The API in process ---------------------------------------------------------------------


def test_models_list_and_retrieve(compat_client: Client, compat_env: CompatEnv) -> None:
    headers = bearer(compat_env.api_key())
    listing = compat_client.get("/v1/models", headers=headers)
    assert listing.status_code == 200
    body = listing.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == sorted(
        ["fake:big", "fake:huge", "fake:small", "fake:vision", "tiny:1b-q4"]
    )
    assert all(m["object"] == "model" and m["owned_by"] for m in body["data"])
    assert compat_client.get("/v1/models/fake:small", headers=headers).json()["id"] == "fake:small"
    message = is_openai_error(
        compat_client.get("/v1/models/nope:1", headers=headers), 404, "model_not_found", "model"
    )
    assert "assistant models pull nope:1" in message


def test_authentication_errors_use_openai_shape(
    compat_client: Client, compat_env: CompatEnv
) -> None:
    response = compat_client.get("/v1/models")
    is_openai_error(response, 401, "invalid_api_key")
    assert response.headers["www-authenticate"].startswith("Bearer")
    is_openai_error(
        compat_client.post("/v1/chat/completions", json={}, headers=bearer("ak_wrong")),
        401,
        "invalid_api_key",
    )
    # The rest of the API keeps problem+json.
    other = compat_client.get("/api/v1/auth/me")
    assert other.status_code == 401
    assert other.headers["content-type"].startswith("application/problem+json")


def test_a_jwt_works_too(compat_client: Client, compat_env: CompatEnv) -> None:
    compat_env.user("ada")
    tokens = compat_client.post(
        "/api/v1/auth/login", json={"username": "ada", "password": "correct horse battery"}
    ).json()
    response = compat_client.get("/v1/models", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200


def test_completion_is_stateless_but_counted(compat_client: Client, compat_env: CompatEnv) -> None:
    headers = bearer(compat_env.api_key())
    response = compat_client.post(
        "/v1/chat/completions",
        headers=headers,
        json={
            "model": "fake:small",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "You said: first"},
                {"role": "user", "content": "hello there"},
            ],
            "temperature": 0.2,
            "seed": 11,
            "user": "someone",
            "presence_penalty": 0.5,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "fake:small"
    assert body["created"] == int(compat_env.services.auth.clock())
    [choice] = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "You said: hello there"}
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 25, "completion_tokens": 4, "total_tokens": 29}
    engine = compat_env.engines["fake:small"]
    assert [m.role for m in engine.calls[-1]] == ["system", "user", "assistant", "user"]
    assert engine.options[-1].temperature == 0.2 and engine.options[-1].seed == 11
    ada = compat_env.services.auth.find_user("ada").id
    assert compat_env.history.conversations(ada) == []
    stats = compat_env.services.profile.stats(ada)
    assert stats.totals[UsageMetric.CHAT_TURNS.value] == 1
    assert stats.totals[UsageMetric.COMPLETION_TOKENS.value] == 4


def test_stream_events(compat_client: Client, compat_env: CompatEnv) -> None:
    headers = bearer(compat_env.api_key())
    body = {
        "model": "fake:small",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = compat_client.post("/v1/chat/completions", headers=headers, json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    *events, done = sse_data(response.text)
    assert done == "[DONE]"
    chunks = [json.loads(e) for e in events]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    first, *middle, last_choice, usage = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"]["content"] for c in middle) == "You said: hello there"
    assert all(c["choices"][0]["finish_reason"] is None for c in [first, *middle])
    assert last_choice["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 6, "completion_tokens": 4, "total_tokens": 10}

    without_usage = compat_client.post(
        "/v1/chat/completions", headers=headers, json={**body, "stream_options": None}
    )
    *events, _ = sse_data(without_usage.text)
    assert all(json.loads(e)["choices"] for e in events)


def test_images_reach_a_vision_model_and_are_refused_by_others(
    compat_client: Client, compat_env: CompatEnv
) -> None:
    headers = bearer(compat_env.api_key())
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": PNG_URI}},
    ]
    body = {"model": "fake:vision", "messages": [{"role": "user", "content": content}]}
    assert compat_client.post("/v1/chat/completions", headers=headers, json=body).status_code == 200
    assert compat_env.engines["fake:vision"].calls[-1][-1].images == (PNG,)
    message = is_openai_error(
        compat_client.post(
            "/v1/chat/completions", headers=headers, json={**body, "model": "fake:small"}
        ),
        400,
        None,
        "messages",
    )
    assert "fake:vision" in message


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"messages": HELLO}, None, "model"),
        ({"model": "fake:small", "messages": []}, None, "messages"),
        ({"model": "fake:small", "messages": HELLO, "n": 2}, None, "n"),
        ({"model": "fake:small", "messages": HELLO, "temperature": 3}, None, "temperature"),
        ({"model": "fake:small", "messages": HELLO, "stop": [""]}, None, "stop"),
        (
            {
                "model": "fake:small",
                "messages": [{"role": "tool", "content": "1", "tool_call_id": "a"}],
            },
            None,
            "messages[0].role",
        ),
    ],
)
def test_bad_requests_are_400(
    compat_client: Client, compat_env: CompatEnv, body: dict[str, Any], code: str | None, param: str
) -> None:
    headers = bearer(compat_env.api_key())
    response = compat_client.post("/v1/chat/completions", headers=headers, json=body)
    is_openai_error(response, 400, code, param)


def test_malformed_json_and_unknown_endpoints(compat_client: Client, compat_env: CompatEnv) -> None:
    headers = bearer(compat_env.api_key())
    bad = compat_client.post(
        "/v1/chat/completions",
        headers={**headers, "content-type": "application/json"},
        content=b"{nope",
    )
    is_openai_error(bad, 400, None)
    message = is_openai_error(
        compat_client.post("/v1/embeddings", headers=headers, json={}), 404, "unknown_url"
    )
    assert "/v1/chat/completions" in message


def test_busy_or_missing_models(compat_client: Client, compat_env: CompatEnv) -> None:
    headers = bearer(compat_env.api_key())
    full = compat_client.post(
        "/v1/chat/completions", headers=headers, json={"model": "fake:huge", "messages": HELLO}
    )
    is_openai_error(full, 503, "server_busy")
    assert full.headers["retry-after"] == "5"
    is_openai_error(
        compat_client.post(
            "/v1/chat/completions", headers=headers, json={"model": "nope:1", "messages": HELLO}
        ),
        404,
        "model_not_found",
        "model",
    )


def test_an_engine_failure_mid_stream_becomes_an_error_event(
    compat_client: Client, compat_env: CompatEnv
) -> None:
    compat_env.fail_after["fake:small"] = 2
    headers = bearer(compat_env.api_key())
    body = {"model": "fake:small", "messages": HELLO, "stream": True}
    response = compat_client.post("/v1/chat/completions", headers=headers, json=body)
    assert response.status_code == 200
    *chunks, last = sse_data(response.text)
    assert json.loads(last)["error"]["type"] == "server_error"
    assert "[DONE]" not in chunks
    # Before the first token the same failure is a plain error answer.
    compat_env.fail_after["fake:big"] = 0
    failed = compat_client.post(
        "/v1/chat/completions", headers=headers, json={**body, "model": "fake:big"}
    )
    is_openai_error(failed, 500, "backend_error")


async def test_closing_the_completion_iterator_stops_the_model_first(
    compat_env: CompatEnv,
) -> None:
    """The contract the disconnect handling rests on: aclose() returns once the engine
    has stopped, so the model is free when the next request takes it."""
    # Slow tokens, so a worker still running after aclose() would surely be caught.
    compat_env.token_seconds["fake:small"] = 0.3
    compat_env.replies["fake:small"] = lambda messages: " ".join(["word"] * 200)
    ada = compat_env.user()
    deltas = compat_env.chat.complete(
        ada, "fake:small", [ChatMessage("user", "talk")], GenerationOptions(max_tokens=500)
    )
    assert (await anext(deltas)).text
    await deltas.aclose()  # type: ignore[attr-defined]
    engine = compat_env.engines["fake:small"]
    assert engine.finishes and engine.finishes[0][0] == "cancelled"
    assert engine.generated_after_cancel <= 1


# The real openai SDK against a real server ---------------------------------------------


@pytest.fixture
def sdk(live_url: str, compat_env: CompatEnv) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=compat_env.api_key(), max_retries=0, timeout=20
    ) as client:
        yield client


def test_sdk_models_and_completions(sdk: openai.OpenAI) -> None:
    assert "fake:small" in [m.id for m in sdk.models.list()]
    completion = sdk.chat.completions.create(
        model="fake:small", messages=[{"role": "user", "content": "hello there"}]
    )
    assert completion.choices[0].message.content == "You said: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 4


def test_sdk_streaming(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="fake:small",
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: stream this please"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_sdk_max_tokens_and_stop(sdk: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "one two three four"}]
    short = sdk.chat.completions.create(model="fake:small", messages=messages, max_tokens=2)
    assert short.choices[0].finish_reason == "length"
    assert short.choices[0].message.content == "You said:"
    newer = sdk.chat.completions.create(
        model="fake:small", messages=messages, max_completion_tokens=3
    )
    assert newer.choices[0].message.content == "You said: one"
    stopped = sdk.chat.completions.create(model="fake:small", messages=messages, stop=["three"])
    assert stopped.choices[0].message.content == "You said: one two"
    assert stopped.choices[0].finish_reason == "stop"


def test_sdk_errors(sdk: openai.OpenAI, live_url: str) -> None:
    messages: Any = [{"role": "user", "content": "hi"}]
    stranger = openai.OpenAI(base_url=f"{live_url}/v1", api_key="ak_wrong", max_retries=0)
    with stranger, pytest.raises(openai.AuthenticationError) as denied:
        stranger.models.list()
    assert denied.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(model="nope:1", messages=messages)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_many:
        sdk.chat.completions.create(model="fake:small", messages=messages, n=2)
    assert too_many.value.param == "n"
    with pytest.raises(openai.InternalServerError) as busy:
        sdk.chat.completions.create(model="fake:huge", messages=messages)
    assert busy.value.status_code == 503
    assert busy.value.response.headers["retry-after"] == "5"


def test_sdk_stream_closed_early_stops_the_model(sdk: openai.OpenAI, compat_env: CompatEnv) -> None:
    compat_env.token_seconds["fake:small"] = 0.05
    compat_env.replies["fake:small"] = lambda messages: " ".join(["word"] * 200)
    stream = sdk.chat.completions.create(
        model="fake:small", messages=[{"role": "user", "content": "talk"}], stream=True
    )
    received = 0
    for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 3:
            break
    stream.close()
    compat_env.wait_for_finish("fake:small")
    engine = compat_env.engines["fake:small"]
    reason, produced = engine.finishes[0]
    assert reason == "cancelled"
    assert produced < 40
    assert engine.generated_after_cancel <= 1
    # The model is free at once for the next caller.
    engine.reply, engine.token_seconds = (lambda messages: "done"), 0.0
    again = sdk.chat.completions.create(
        model="fake:small", messages=[{"role": "user", "content": "again"}], timeout=5
    )
    assert again.choices[0].message.content == "done"


def test_non_streamed_request_abandoned_stops_the_model(
    live_url: str, compat_env: CompatEnv
) -> None:
    compat_env.token_seconds["fake:small"] = 0.05
    compat_env.replies["fake:small"] = lambda messages: " ".join(["word"] * 200)
    key = compat_env.api_key()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{live_url}/v1/chat/completions",
            headers=bearer(key),
            json={"model": "fake:small", "messages": [{"role": "user", "content": "talk"}]},
            timeout=httpx.Timeout(5, read=0.5),
        )
    compat_env.wait_for_finish("fake:small")
    reason, produced = compat_env.engines["fake:small"].finishes[0]
    assert reason == "cancelled" and produced < 40


def test_concurrent_sdk_streams_queue_for_one_model(
    sdk: openai.OpenAI, compat_env: CompatEnv
) -> None:
    compat_env.token_seconds["fake:small"] = 0.01

    async def run() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=str(sdk.base_url), api_key=sdk.api_key, max_retries=0
        ) as client:

            async def one(text: str) -> str:
                stream = await client.chat.completions.create(
                    model="fake:small", messages=[{"role": "user", "content": text}], stream=True
                )
                return "".join(
                    [c.choices[0].delta.content or "" async for c in stream if c.choices]
                )

            return await asyncio.gather(*(one(f"number {i}") for i in range(3)))

    assert asyncio.run(run()) == [f"You said: number {i}" for i in range(3)]
    eventually(lambda: len(compat_env.engines["fake:small"].finishes) == 3)


@pytest.mark.real_model
def test_real_model_through_the_sdk(tmp_path: Path, model_dir: Any) -> None:
    model_id = "qwen2.5-coder:0.5b-q4"
    store = model_dir(model_id).parent.parent.parent  # <store>/installed/<name>/<tag>
    settings = Settings.load(data_dir=tmp_path / "data", models={"dir": store})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    try:
        user = services.auth.create_user("ada", "correct horse battery")
        principal = Principal(user_id=user.id, username=user.username, role=user.role)
        _, key = services.auth.create_api_key(principal, "sdk")
        with serve_in_thread(with_compat(create_app(settings, services))) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)
            assert model_id in [m.id for m in client.models.list()]
            completion = client.chat.completions.create(
                model=model_id,
                messages=[{"role": "user", "content": "What is the capital of France?"}],
                temperature=0,
                max_tokens=48,
            )
            assert "Paris" in (completion.choices[0].message.content or "")
            assert completion.usage is not None and completion.usage.prompt_tokens > 5
            stream = client.chat.completions.create(
                model=model_id,
                messages=[{"role": "user", "content": "What is the capital of France?"}],
                temperature=0,
                max_tokens=48,
                stream=True,
            )
            streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert streamed == completion.choices[0].message.content
    finally:
        services.close()
