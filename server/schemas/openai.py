"""Bodies of the OpenAI-compatible ``/v1`` API, and the pure conversions behind it.

Requests are pydantic models that ignore fields they do not know (OpenAI clients send
many optional ones); the fields that would change the meaning of a request and cannot
be honoured here (tools, ``n`` > 1, JSON modes, logprobs) are refused with a clear
message instead of being silently dropped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.errors import InvalidInput
from runtime.llm.base import ChatMessage, GenerationOptions, Usage
from server.docs import event_stream, json_text, struct_json

UNLIMITED_TOKENS = 1_000_000
"""``max_tokens`` when a client sets none: the engine stops where the context ends."""
MAX_IMAGE_BYTES = 10_000_000
"""Largest decoded image accepted."""

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class Request(BaseModel):
    """Base of request bodies: unknown fields are ignored, as OpenAI clients expect; the
    known ones are not coerced (``"stream": 0`` is no boolean)."""

    model_config = ConfigDict(extra="ignore", strict=True)


class ChatCompletionMessage(Request):
    """One message of the conversation the client sends."""

    role: str = Field(description="system (or developer), user or assistant")
    content: str | list[dict[str, Any]] | None = Field(
        default=None,
        description="Text, or a list of parts: {type: text, text} and, for vision models,"
        " {type: image_url, image_url: {url: 'data:image/png;base64,...'}}",
    )
    name: str | None = None
    """Ignored."""
    tool_calls: list[dict[str, Any]] | None = None
    """Refused: this server does not call tools."""
    tool_call_id: str | None = None
    """Refused with tool messages."""


class ChatCompletionStreamOptions(Request):
    """Options of a streamed answer."""

    include_usage: bool = False
    """Send a last chunk with the token usage (and empty choices) before [DONE]."""


class ChatCompletionRequest(Request):
    """``POST /v1/chat/completions``."""

    model: Annotated[str, Field(min_length=1, max_length=200)]
    messages: Annotated[list[ChatCompletionMessage], Field(min_length=1)]
    stream: bool = False
    stream_options: ChatCompletionStreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: Annotated[int, Field(ge=1)] | None = Field(default=None, description="Only 1 is supported")
    user: str | None = None
    """Ignored."""
    tools: list[dict[str, Any]] | None = None
    """Refused when not empty."""
    response_format: dict[str, Any] | None = None
    """Only ``{"type": "text"}``."""
    logprobs: bool | None = None
    """Refused when true."""

    def refuse_unsupported(self) -> None:
        """Raise InvalidInput for options this server cannot honour."""
        if self.n is not None and self.n != 1:
            raise InvalidInput("Only n=1 is supported: one choice per request", field="n")
        if self.tools:
            raise InvalidInput("Tool calling is not supported by this server", field="tools")
        if self.response_format and self.response_format.get("type", "text") != "text":
            raise InvalidInput(
                "Only response_format {'type': 'text'} is supported", field="response_format"
            )
        if self.logprobs:
            raise InvalidInput("logprobs are not supported", field="logprobs")

    def to_options(self) -> GenerationOptions:
        """Sampling options; unset ones take the runtime's defaults."""
        defaults = GenerationOptions()
        return GenerationOptions(
            max_tokens=self.max_completion_tokens or self.max_tokens or UNLIMITED_TOKENS,
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            stop=stops(self.stop),
            seed=self.seed,
        )

    @property
    def include_usage(self) -> bool:
        """The client asked for a usage chunk at the end of the stream."""
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


def stops(value: str | Sequence[str] | None, field: str = "stop") -> tuple[str, ...]:
    """Stop strings from a string or a list; empty strings are refused."""
    found = (value,) if isinstance(value, str) else tuple(value or ())
    if any(not s for s in found):
        raise InvalidInput("stop strings must not be empty", field=field)
    return found


def decode_data_uri(url: str, field: str) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URI (URLs are not fetched)."""
    if not url.startswith("data:"):
        raise InvalidInput(
            "Images must be sent inline as data: URIs (data:image/png;base64,...);"
            " this device does not fetch URLs",
            field=field,
        )
    header, comma, payload = url[5:].partition(",")
    media_type, *flags = header.split(";")
    if not comma or "base64" not in flags:
        raise InvalidInput("An image data: URI must be base64 encoded", field=field)
    if media_type and not media_type.startswith("image/"):
        raise InvalidInput(f"{media_type} is not an image type", field=field)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("The image is not valid base64", field=field) from exc
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"An image must be 1 byte to {MAX_IMAGE_BYTES} bytes", field=field)
    return data


def _parts(parts: list[dict[str, Any]], where: str, *, images_ok: bool) -> tuple[str, list[bytes]]:
    texts: list[str] = []
    images: list[bytes] = []
    for index, part in enumerate(parts):
        field = f"{where}.content[{index}]"
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and images_ok:
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise InvalidInput("image_url needs a url", field=field)
            images.append(decode_data_uri(url, field))
        elif kind == "image_url":
            raise InvalidInput("Only user messages may carry images", field=field)
        else:
            raise InvalidInput(
                f"Unsupported content part {kind!r}: use text (and image_url for images)",
                field=field,
            )
    return "\n".join(texts), images


def chat_messages(messages: Sequence[ChatCompletionMessage]) -> list[ChatMessage]:
    """The runtime's messages from OpenAI ones (roles checked, images decoded)."""
    converted: list[ChatMessage] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if message.role in ("tool", "function") or message.tool_calls or message.tool_call_id:
            raise InvalidInput(
                f"{where}: tool messages and tool calls are not supported by this server",
                field=f"{where}.role",
            )
        role = _ROLES.get(message.role)
        if role is None:
            raise InvalidInput(
                f"{where}: unknown role {message.role!r} (system, user or assistant)",
                field=f"{where}.role",
            )
        content = message.content
        if content is None and role != "assistant":
            raise InvalidInput(f"{where} has no content", field=f"{where}.content")
        if isinstance(content, list):
            text, images = _parts(content, where, images_ok=role == "user")
        else:
            text, images = content or "", []
        converted.append(ChatMessage(role, text, tuple(images)))
    return converted


def finish_reason(engine_reason: str | None) -> Literal["stop", "length"]:
    """OpenAI's finish reason for the engine's (a cancelled reply ends as stop)."""
    return "length" if engine_reason == "length" else "stop"


# Answers ------------------------------------------------------------------------------


class OpenAIModel(msgspec.Struct, kw_only=True):
    """An installed chat model."""

    id: str
    object: Literal["model"] = "model"
    created: int
    """Unix seconds it was installed."""
    owned_by: str = "edge-assistant"


class OpenAIModelList(msgspec.Struct, kw_only=True):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class CompletionUsage(msgspec.Struct, kw_only=True):
    """Tokens of one completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, usage: Usage | None) -> CompletionUsage:
        prompt = usage.prompt_tokens if usage else 0
        completion = usage.completion_tokens if usage else 0
        return cls(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )


class AssistantMessage(msgspec.Struct, kw_only=True):
    """The reply."""

    role: Literal["assistant"] = "assistant"
    content: str


class Choice(msgspec.Struct, kw_only=True):
    """The one choice of a completion."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(msgspec.Struct, kw_only=True):
    """A whole completion (``stream`` false)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: None = None


class Delta(msgspec.Struct, kw_only=True, omit_defaults=True):
    """New text of a streamed reply (the first delta carries the role)."""

    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(msgspec.Struct, kw_only=True):
    """The choice of a chunk."""

    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(msgspec.Struct, kw_only=True):
    """One ``data:`` event of a streamed completion."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    """Set on the last chunk when ``stream_options.include_usage`` is; null before."""


class OpenAIErrorDetail(msgspec.Struct, kw_only=True):
    """What went wrong, as OpenAI clients read it."""

    message: str
    type: str
    """invalid_request_error, authentication_error, permission_error, rate_limit_error
    or server_error."""
    param: str | None
    """The offending request field, if one is to blame."""
    code: str | None
    """invalid_api_key, model_not_found, ... (null when no more specific code applies)."""


class OpenAIError(msgspec.Struct, kw_only=True):
    """OpenAI's error document (the openai SDK raises its exceptions from it)."""

    error: OpenAIErrorDetail


COMPLETION_STREAM = event_stream(
    "One `data:` event of a streamed completion: a chunk (role first, then content"
    " deltas, then the finish reason, then the usage if asked for), an error document if"
    " the generation failed midway, and `[DONE]` last.",
    {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "anyOf": [
                    {"const": "[DONE]"},
                    json_text(struct_json(ChatCompletionChunk, OpenAIError)),
                ]
            }
        },
    },
)
"""The events of a streamed ``POST /v1/chat/completions``, for the API's document."""
