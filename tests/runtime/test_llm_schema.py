"""JSON-schema replies off llama.cpp: the pure validator and example, the scripted fake, and
what the remote engine asks an OpenAI-compatible server for."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import UnsupportedInput
from runtime.llm import schema
from runtime.llm.base import ChatMessage, GenerationOptions, TokenLogprob
from runtime.llm.fake import FakeChatModel
from runtime.llm.openai_compat import OpenAICompatibleChatModel
from runtime.remote import RemoteParams

CHOICE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": ["timer.start", "none"]},
        "slots": {
            "type": "object",
            "properties": {"timer_duration": {"type": "string"}},
            "additionalProperties": False,
        },
    },
    "required": ["intent", "slots"],
    "additionalProperties": False,
}
HI = [ChatMessage("user", "hi")]


@pytest.mark.parametrize(
    ("instance", "expected"),
    [
        ({"intent": "none", "slots": {}}, []),
        ({"intent": "timer.start", "slots": {"timer_duration": "5 min"}}, []),
        ({"intent": "dance", "slots": {}}, ["$.intent: 'dance' is not one of"]),
        ({"slots": {}}, ["$: 'intent' is missing"]),
        ({"intent": "none", "slots": {}, "extra": 1}, ["$: 'extra' is not allowed"]),
        ({"intent": "none", "slots": {"timer_duration": 5}}, ["$.slots.timer_duration: is not"]),
        ({"intent": "none", "slots": {"other": "x"}}, ["$.slots: 'other' is not allowed"]),
        (["intent"], ["$: is not of type object"]),
    ],
)
def test_problems(instance: Any, expected: list[str]) -> None:
    found = schema.problems(instance, CHOICE)
    assert len(found) == len(expected)
    assert all(f.startswith(e) for f, e in zip(found, expected, strict=True))


@pytest.mark.parametrize(
    ("instance", "subschema", "valid"),
    [
        (True, {"type": "integer"}, False),  # a boolean is not a number in JSON Schema
        (3, {"type": "number"}, True),
        (None, {"type": ["string", "null"]}, True),
        ("ab", {"type": "string", "minLength": 3}, False),
        ("abcd", {"type": "string", "maxLength": 3}, False),
        ([1, "x"], {"type": "array", "items": {"type": "integer"}}, False),
        ("x", {"anyOf": [{"type": "integer"}, {"const": "x"}]}, True),
        ({"a": 1}, {"type": "object", "additionalProperties": {"type": "string"}}, False),
    ],
)
def test_problems_of_other_keywords(instance: Any, subschema: dict[str, Any], valid: bool) -> None:
    assert (schema.problems(instance, subschema) == []) is valid


@pytest.mark.parametrize(
    ("subschema", "expected"),
    [
        (CHOICE, {"intent": "timer.start", "slots": {}}),
        ({"type": "string", "minLength": 2}, "xx"),
        ({"type": "array"}, []),
        ({"const": 7}, 7),
        ({"type": ["null", "string"]}, None),
        ({"anyOf": [{"type": "boolean"}, {"type": "string"}]}, False),
    ],
)
def test_example(subschema: dict[str, Any], expected: Any) -> None:
    assert schema.example(subschema) == expected


@given(
    enum=st.lists(st.text(max_size=5), min_size=1, max_size=4, unique=True),
    required=st.lists(st.sampled_from(["a", "b", "c"]), unique=True),
)
def test_example_is_valid(enum: list[str], required: list[str]) -> None:
    subschema = {
        "type": "object",
        "properties": {name: {"type": "string", "enum": enum} for name in ["a", "b", "c"]},
        "required": required,
        "additionalProperties": False,
    }
    assert schema.problems(schema.example(subschema), subschema) == []


def test_unknown_type_is_invalid_input() -> None:
    with pytest.raises(UnsupportedInput) as caught:
        schema.problems("x", {"type": "banana"})
    assert caught.value.field == "json_schema"


# --- the scripted fake -------------------------------------------------------------------------


def reply_of(model: FakeChatModel, options: GenerationOptions) -> tuple[str, Any]:
    deltas = list(model.stream(HI, options))
    return "".join(d.text for d in deltas), deltas[-1].usage


def test_fake_keeps_a_valid_scripted_reply() -> None:
    scripted = '{"intent": "timer.start", "slots": {"timer_duration": "ten minutes"}}'
    model = FakeChatModel(reply=lambda _: scripted)
    text, _ = reply_of(model, GenerationOptions(json_schema=CHOICE))
    assert text == scripted
    assert model.options[-1].json_schema == CHOICE


@pytest.mark.parametrize(
    "scripted", ["You said: hi", '{"intent": "dance", "slots": {}}', '{"intent": "none"}']
)
def test_fake_never_writes_what_the_schema_forbids(scripted: str) -> None:
    model = FakeChatModel(reply=lambda _: scripted)
    text, _ = reply_of(model, GenerationOptions(json_schema=CHOICE))
    assert json.loads(text) == {"intent": "timer.start", "slots": {}}
    free, _ = reply_of(model, GenerationOptions())
    assert free == scripted  # without a schema, the script as written


def test_fake_reports_token_logprobs_when_asked() -> None:
    model = FakeChatModel(reply=lambda _: "one two three", token_logprob=math.log(0.5))
    text, usage = reply_of(model, GenerationOptions(logprobs=True))
    assert usage.token_logprobs == tuple(
        TokenLogprob(piece, math.log(0.5)) for piece in ("one", " two", " three")
    )
    assert "".join(t.text for t in usage.token_logprobs) == text
    assert usage.mean_logprob == pytest.approx(math.log(0.5))
    _, plain = reply_of(model, GenerationOptions())
    assert plain.token_logprobs == () and plain.mean_logprob is None


# --- the remote engine -------------------------------------------------------------------------


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def test_remote_engine_asks_for_the_schema_and_reads_logprobs() -> None:
    bodies: list[dict[str, Any]] = []

    def server(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        piece = {"token": '{"intent": "none", "slots": {}}', "logprob": -0.25}
        return httpx.Response(
            200,
            content=sse(
                {
                    "choices": [
                        {"delta": {"content": piece["token"]}, "logprobs": {"content": [piece]}}
                    ]
                },
                {"choices": [{"delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1}},
            ),
            headers={"content-type": "text/event-stream"},
        )

    client = httpx.Client(transport=httpx.MockTransport(server))
    model = OpenAICompatibleChatModel(
        "remote:x", RemoteParams(url="http://h/v1"), client, "m", 4096
    )
    options = GenerationOptions(temperature=0.0, logprobs=True, json_schema=CHOICE)
    deltas = list(model.stream(HI, options))
    assert "".join(d.text for d in deltas) == '{"intent": "none", "slots": {}}'
    assert bodies[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": CHOICE},
    }
    assert bodies[0]["logprobs"] is True
    usage = deltas[-1].usage
    assert usage is not None
    assert usage.token_logprobs == (TokenLogprob('{"intent": "none", "slots": {}}', -0.25),)
    assert usage.mean_logprob == -0.25
    list(model.stream(HI, GenerationOptions()))
    assert "response_format" not in bodies[1] and "logprobs" not in bodies[1]
    model.close()
