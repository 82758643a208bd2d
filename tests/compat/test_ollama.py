"""``/api/tags`` and ``/api/chat``: Ollama's API, with tables, the test client and httpx."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from assistant import errors
from runtime.llm.base import ChatMessage, GenerationOptions
from server.schemas.ollama import (
    OllamaChatRequest,
    OllamaMessage,
    OllamaOptions,
    chat_messages,
    details_of,
    parse_keep_alive,
)
from server.schemas.openai import UNLIMITED_TOKENS
from tests.compat.conftest import Client, CompatEnv

PNG = b"\x89PNG\r\n\x1a\nnot really a png"
HELLO = [{"role": "user", "content": "hello there"}]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def is_ollama_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]
    return str(body["error"])


# Pure conversions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        (300, 300.0),
        (-1, -1.0),
        (0, 0.0),
        ("0", 0.0),
        ("-1", -1.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("-1m", -60.0),
        ("500ms", 0.5),
    ],
)
def test_keep_alive_durations(value: float | str | None, seconds: float | None) -> None:
    assert parse_keep_alive(value) == seconds


@pytest.mark.parametrize(
    "value", ["soon", "5 minutes", "m5", "5x", "", "nan", "inf", "-inf", float("nan"), 1e400]
)
def test_keep_alive_nonsense_is_refused(value: str | float) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        parse_keep_alive(value)
    assert caught.value.field == "keep_alive"


@pytest.mark.parametrize(
    ("model_id", "engine", "expected"),
    [
        ("qwen2.5-coder:0.5b-q4", "llama_cpp", ("gguf", "qwen2.5-coder", "0.5B", "Q4")),
        ("gemma3:270m-q4km", "llama_cpp", ("gguf", "gemma3", "270M", "Q4KM")),
        ("moondream2:f16", "llama_cpp_vlm", ("gguf", "moondream2", "", "F16")),
        ("qwen2.5:1.5b-instruct-q4km", "llama_cpp", ("gguf", "qwen2.5", "1.5B", "Q4KM")),
        ("custom", "fake", ("fake", "custom", "", "")),
    ],
)
def test_model_details_from_the_tag(
    model_id: str, engine: str, expected: tuple[str, str, str, str]
) -> None:
    details = details_of(model_id, engine)
    assert (
        details.format,
        details.family,
        details.parameter_size,
        details.quantization_level,
    ) == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, GenerationOptions(max_tokens=UNLIMITED_TOKENS)),
        ({"num_predict": -1}, GenerationOptions(max_tokens=UNLIMITED_TOKENS)),
        ({"num_predict": -2}, GenerationOptions(max_tokens=UNLIMITED_TOKENS)),
        ({"num_predict": 5}, GenerationOptions(max_tokens=5)),
        (
            {
                "temperature": 0,
                "top_p": 0.5,
                "top_k": 7,
                "repeat_penalty": 1.3,
                "seed": 42,
                "stop": ["\n\n", "User:"],
                "num_ctx": 8192,
            },
            GenerationOptions(
                max_tokens=UNLIMITED_TOKENS,
                temperature=0.0,
                top_p=0.5,
                top_k=7,
                repeat_penalty=1.3,
                seed=42,
                stop=("\n\n", "User:"),
            ),
        ),
    ],
)
def test_options(options: dict[str, Any], expected: GenerationOptions) -> None:
    assert OllamaOptions.model_validate(options).to_options() == expected


@pytest.mark.parametrize(
    ("options", "field"),
    [({"num_predict": 0}, "options.num_predict"), ({"stop": [""]}, "options.stop")],
)
def test_bad_options(options: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        OllamaOptions.model_validate(options).to_options()
    assert caught.value.field == field


def test_messages_convert_with_images() -> None:
    image = base64.b64encode(PNG).decode()
    messages = [
        OllamaMessage(role="system", content="be brief"),
        OllamaMessage(role="user", content="what is it?", images=[image]),
        OllamaMessage(role="assistant", content="a picture"),
    ]
    assert chat_messages(messages) == [
        ChatMessage("system", "be brief"),
        ChatMessage("user", "what is it?", (PNG,)),
        ChatMessage("assistant", "a picture"),
    ]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "tool", "content": "42"}, "messages[0].role"),
        ({"role": "assistant", "content": "", "tool_calls": [{"x": 1}]}, "messages[0].role"),
        ({"role": "robot", "content": "beep"}, "messages[0].role"),
        ({"role": "assistant", "content": "", "images": ["aGk="]}, "messages[0].images"),
        ({"role": "user", "content": "", "images": ["@@"]}, "messages[0].images[0]"),
    ],
)
def test_messages_refused(message: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        chat_messages([OllamaMessage.model_validate(message)])
    assert caught.value.field == field


def test_unsupported_requests() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"format": "json"}, "format"),
        ({"tools": [{"type": "function"}]}, "tools"),
    ]
    for body, field in cases:
        request = OllamaChatRequest.model_validate({"model": "m", "messages": HELLO, **body})
        with pytest.raises(errors.InvalidInput) as caught:
            request.refuse_unsupported()
        assert caught.value.field == field


# The API ------------------------------------------------------------------------------


def test_tags(compat_client: Client, compat_env: CompatEnv) -> None:
    response = compat_client.get("/api/tags", headers=bearer(compat_env.api_key()))
    assert response.status_code == 200
    models = {m["name"]: m for m in response.json()["models"]}
    assert set(models) == {"fake:big", "fake:huge", "fake:small", "fake:vision", "tiny:1b-q4"}
    tiny = models["tiny:1b-q4"]
    assert tiny["model"] == "tiny:1b-q4"
    assert tiny["modified_at"].endswith("Z")
    assert {"size", "digest"} <= set(tiny)
    assert tiny["details"]["parameter_size"] == "1B"
    assert tiny["details"]["quantization_level"] == "Q4"


def test_authentication_and_errors_use_ollama_shape(
    compat_client: Client, compat_env: CompatEnv
) -> None:
    is_ollama_error(compat_client.get("/api/tags"), 401)
    headers = bearer(compat_env.api_key())
    message = is_ollama_error(
        compat_client.post("/api/chat", headers=headers, json={"model": "nope", "messages": HELLO}),
        404,
    )
    assert message.startswith('model "nope" not found, try pulling it first')
    is_ollama_error(compat_client.post("/api/chat", headers=headers, json={"messages": HELLO}), 400)
    is_ollama_error(
        compat_client.post(
            "/api/chat",
            headers=headers,
            json={"model": "fake:small", "messages": HELLO, "keep_alive": "soon"},
        ),
        400,
    )
    busy = compat_client.post(
        "/api/chat", headers=headers, json={"model": "fake:huge", "messages": HELLO}
    )
    is_ollama_error(busy, 503)
    assert busy.headers["retry-after"] == "5"


def test_chat_not_streamed(compat_client: Client, compat_env: CompatEnv) -> None:
    response = compat_client.post(
        "/api/chat",
        headers=bearer(compat_env.api_key()),
        json={
            "model": "tiny",  # resolves to the one installed tag
            "messages": HELLO,
            "stream": False,
            "options": {"temperature": 0.1, "num_predict": 100, "seed": 5},
            "keep_alive": "10m",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["model"] == "tiny:1b-q4"
    assert body["message"] == {"role": "assistant", "content": "You said: hello there"}
    assert body["done"] is True and body["done_reason"] == "stop"
    assert body["prompt_eval_count"] == 6 and body["eval_count"] == 4
    for name in (
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ):
        assert isinstance(body[name], int) and body[name] >= 0
    assert body["total_duration"] >= body["load_duration"]
    options = compat_env.engines["tiny:1b-q4"].options[-1]
    assert (options.temperature, options.max_tokens, options.seed) == (0.1, 100, 5)


def test_chat_streams_ndjson_over_a_real_socket(live_url: str, compat_env: CompatEnv) -> None:
    headers = bearer(compat_env.api_key())
    body = {"model": "fake:small", "messages": HELLO, "options": {"num_predict": 3}}
    with httpx.stream("POST", f"{live_url}/api/chat", headers=headers, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.iter_lines() if line]
    *pieces, last = lines
    assert all(p["done"] is False and p["message"]["role"] == "assistant" for p in pieces)
    assert "".join(p["message"]["content"] for p in pieces) == "You said: hello"
    assert last["done"] is True and last["done_reason"] == "length"
    assert last["message"]["content"] == "" and last["eval_count"] == 3


def test_stream_closed_early_stops_the_model(live_url: str, compat_env: CompatEnv) -> None:
    compat_env.token_seconds["fake:small"] = 0.05
    compat_env.replies["fake:small"] = lambda messages: " ".join(["word"] * 200)
    headers = bearer(compat_env.api_key())
    body = {"model": "fake:small", "messages": HELLO}
    with httpx.stream("POST", f"{live_url}/api/chat", headers=headers, json=body) as response:
        lines = response.iter_lines()
        for _ in range(3):
            assert json.loads(next(lines))["done"] is False
    compat_env.wait_for_finish("fake:small")
    reason, produced = compat_env.engines["fake:small"].finishes[0]
    assert reason == "cancelled" and produced < 40


def test_mid_stream_failure_is_an_error_line(compat_client: Client, compat_env: CompatEnv) -> None:
    compat_env.fail_after["fake:small"] = 2
    response = compat_client.post(
        "/api/chat",
        headers=bearer(compat_env.api_key()),
        json={"model": "fake:small", "messages": HELLO},
    )
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["done"] for line in lines[:-1]] == [False, False]
    assert set(lines[-1]) == {"error"}


def test_empty_messages_load_and_unload(compat_client: Client, compat_env: CompatEnv) -> None:
    headers = bearer(compat_env.api_key())
    manager = compat_env.chat.manager
    loaded = compat_client.post(
        "/api/chat", headers=headers, json={"model": "fake:small", "keep_alive": -1}
    )
    assert loaded.status_code == 200
    [line] = [json.loads(x) for x in loaded.text.splitlines()]
    assert (line["done"], line["done_reason"]) == (True, "load")
    [status] = manager.status()
    assert status.id == "fake:small" and status.expires_at is None  # kept: keep_alive -1
    unloaded = compat_client.post(
        "/api/chat",
        headers=headers,
        json={"model": "fake:small", "keep_alive": 0, "stream": False},
    )
    assert unloaded.json()["done_reason"] == "unload"
    assert manager.status() == []
    is_ollama_error(compat_client.post("/api/chat", headers=headers, json={"model": "nope:1"}), 404)
