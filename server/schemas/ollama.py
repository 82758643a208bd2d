"""Bodies of the Ollama-compatible ``/api/tags`` and ``/api/chat``, and their conversions."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from assistant.errors import InvalidInput
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions
from runtime.modelstore import InstalledModel
from server.docs import text
from server.schemas.openai import MAX_IMAGE_BYTES, UNLIMITED_TOKENS, decode_data_uri, stops

_DURATION = re.compile(r"(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_SIZE = re.compile(r"(?<![a-z])(\d+(?:\.\d+)?)([bm])(?![a-z])", re.IGNORECASE)
_QUANT = re.compile(r"(?<![a-z])(q\d[a-z0-9_]*|f16|f32|bf16|fp16)(?![a-z])", re.IGNORECASE)


class Request(BaseModel):
    """Base of request bodies: unknown fields are ignored, as Ollama does; the known ones
    are not coerced (``"stream": 0`` is no boolean)."""

    model_config = ConfigDict(extra="ignore", strict=True)


class OllamaOptions(Request):
    """Ollama's sampling options (others, such as num_ctx, are ignored)."""

    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    num_predict: int | None = Field(
        default=None, description="Most tokens to generate; -1 or -2: until the context is full"
    )
    stop: str | list[str] | None = None
    seed: int | None = None
    repeat_penalty: Annotated[float, Field(gt=0.0)] | None = None

    def to_options(self) -> GenerationOptions:
        """The runtime's options; unset ones take its defaults."""
        defaults = GenerationOptions()
        predict = self.num_predict
        if predict is not None and predict == 0:
            raise InvalidInput("num_predict must not be 0", field="options.num_predict")
        return GenerationOptions(
            max_tokens=UNLIMITED_TOKENS if predict is None or predict < 0 else predict,
            temperature=defaults.temperature if self.temperature is None else self.temperature,
            top_p=defaults.top_p if self.top_p is None else self.top_p,
            top_k=defaults.top_k if self.top_k is None else self.top_k,
            repeat_penalty=(
                defaults.repeat_penalty if self.repeat_penalty is None else self.repeat_penalty
            ),
            stop=stops(self.stop, field="options.stop"),
            seed=self.seed,
        )


class OllamaMessage(Request):
    """One message of the conversation the client sends."""

    role: str = Field(description="system, user or assistant")
    content: str = ""
    images: list[str] | None = Field(
        default=None, description="Base64 images (user messages, vision models)"
    )
    tool_calls: list[dict[str, Any]] | None = None
    """Refused: this server does not call tools."""


class OllamaChatRequest(Request):
    """``POST /api/chat``."""

    model: Annotated[str, Field(min_length=1, max_length=200)]
    messages: list[OllamaMessage] = Field(
        default_factory=list,
        description="Empty: just load the model (or, with keep_alive 0, unload it)",
    )
    stream: bool = True
    options: OllamaOptions | None = None
    keep_alive: float | str | None = Field(
        default=None,
        description="How long the model stays loaded after the request: seconds or a"
        " duration such as '5m'; negative keeps it loaded, 0 unloads it",
    )
    format: str | dict[str, Any] | None = None
    """Refused: replies are not constrained to JSON here."""
    tools: list[dict[str, Any]] | None = None
    """Refused when not empty."""

    def refuse_unsupported(self) -> None:
        """Raise InvalidInput for options this server cannot honour."""
        if self.tools:
            raise InvalidInput("Tool calling is not supported by this server", field="tools")
        if self.format:
            raise InvalidInput("Structured output (format) is not supported", field="format")

    def to_options(self) -> GenerationOptions:
        """Sampling options."""
        return (self.options or OllamaOptions()).to_options()


def parse_keep_alive(value: float | str | None) -> float | None:
    """Seconds from Ollama's keep_alive (a number of seconds or a Go duration such as
    ``5m``, ``1h30m``, ``-1``); None when not given. Negative means forever."""
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is None or not math.isfinite(seconds):
        raise InvalidInput(
            f"keep_alive {value!r} is not a duration (such as 300, '5m' or '-1')",
            field="keep_alive",
        )
    return seconds


def _seconds(value: float | str) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pieces = _DURATION.findall(text)
    if not pieces or "".join(n + u for n, u in pieces) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in pieces)


def decode_image(value: str, field: str) -> bytes:
    """Bytes of an Ollama image: plain base64 (or a data: URI)."""
    if value.startswith("data:"):
        return decode_data_uri(value, field)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("The image is not valid base64", field=field) from exc
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"An image must be 1 byte to {MAX_IMAGE_BYTES} bytes", field=field)
    return data


def chat_messages(messages: Sequence[OllamaMessage]) -> list[ChatMessage]:
    """The runtime's messages from Ollama ones (roles checked, images decoded)."""
    converted: list[ChatMessage] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if message.role == "tool" or message.tool_calls:
            raise InvalidInput(
                f"{where}: tool messages and tool calls are not supported by this server",
                field=f"{where}.role",
            )
        if message.role not in ("system", "user", "assistant"):
            raise InvalidInput(
                f"{where}: unknown role {message.role!r} (system, user or assistant)",
                field=f"{where}.role",
            )
        images = message.images or []
        if images and message.role != "user":
            raise InvalidInput("Only user messages may carry images", field=f"{where}.images")
        decoded = tuple(
            decode_image(image, f"{where}.images[{i}]") for i, image in enumerate(images)
        )
        converted.append(ChatMessage(message.role, message.content, decoded))
    return converted


def done_reason(engine_reason: str | None) -> Literal["stop", "length"]:
    """Ollama's done reason for the engine's (a cancelled reply ends as stop)."""
    return "length" if engine_reason == "length" else "stop"


# Answers ------------------------------------------------------------------------------


class OllamaModelDetails(msgspec.Struct, kw_only=True):
    """What Ollama tells about a model's build."""

    parent_model: str = ""
    format: str
    family: str
    families: list[str]
    parameter_size: str
    quantization_level: str


def details_of(model_id: str, engine: str) -> OllamaModelDetails:
    """Format, family, size and quantisation read from the engine and the model's tag."""
    name, _, tag = model_id.partition(":")
    size = _SIZE.search(tag)
    quant = _QUANT.search(tag.replace("-", " "))
    return OllamaModelDetails(
        format="gguf" if engine.startswith("llama_cpp") else engine,
        family=name,
        families=[name],
        parameter_size=f"{size.group(1)}{size.group(2).upper()}" if size else "",
        quantization_level=quant.group(1).upper() if quant else "",
    )


class OllamaModel(msgspec.Struct, kw_only=True):
    """An installed model in ``/api/tags``."""

    name: str
    model: str
    modified_at: str
    size: int
    """Bytes on disk."""
    digest: str
    """sha256 of its main file."""
    details: OllamaModelDetails

    @classmethod
    def of(cls, model: InstalledModel, modified_at: str) -> OllamaModel:
        main = max(model.files, key=lambda f: f.size, default=None)
        return cls(
            name=model.id,
            model=model.id,
            modified_at=modified_at,
            size=model.size,
            digest=main.sha256 if main else "",
            details=details_of(model.id, model.engine),
        )


class OllamaTags(msgspec.Struct, kw_only=True):
    """``GET /api/tags``."""

    models: list[OllamaModel]


class OllamaReplyMessage(msgspec.Struct, kw_only=True):
    """The reply, or a piece of it."""

    role: Literal["assistant"] = "assistant"
    content: str


class OllamaChatChunk(msgspec.Struct, kw_only=True):
    """One line of a streamed reply."""

    model: str
    created_at: str
    message: OllamaReplyMessage
    done: Literal[False] = False


class OllamaChatDone(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The last line of a streamed reply, or the whole non-streamed reply. Durations are
    in nanoseconds."""

    model: str
    created_at: str
    message: OllamaReplyMessage
    done: bool
    """Always true (it is the last line)."""
    done_reason: str
    """stop, length, load or unload."""
    total_duration: int | None = None
    """From the request to the last token."""
    load_duration: int | None = None
    """Waiting for and loading the model."""
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None


class OllamaError(msgspec.Struct, kw_only=True):
    """Ollama's error document."""

    error: str


def _ns(seconds: float) -> int:
    return max(0, round(seconds * 1e9))


def finished(
    model: str,
    created_at: str,
    final: ChatDelta | None,
    *,
    total_seconds: float,
    first_delta_seconds: float,
    content: str = "",
) -> OllamaChatDone:
    """The closing line: done reason, token counts and Ollama's durations (nanoseconds).

    The load duration is the wait before the first delta less the prompt evaluation, so it
    covers queueing and loading the model.
    """
    usage = final.usage if final is not None else None
    prompt_seconds = usage.prompt_seconds if usage else 0.0
    eval_seconds = (
        usage.generation_seconds
        if usage and usage.generation_seconds
        else max(0.0, total_seconds - first_delta_seconds)
    )
    return OllamaChatDone(
        model=model,
        created_at=created_at,
        message=OllamaReplyMessage(content=content),
        done=True,
        done_reason=done_reason(final.finish_reason if final else None),
        total_duration=_ns(total_seconds),
        load_duration=_ns(first_delta_seconds - prompt_seconds),
        prompt_eval_count=usage.prompt_tokens if usage else 0,
        prompt_eval_duration=_ns(prompt_seconds),
        eval_count=usage.completion_tokens if usage else 0,
        eval_duration=_ns(eval_seconds),
    )


CHAT_LINES = text(
    'stream true (the default): one JSON object per line, `{"message": {...}, "done":'
    " false}` per piece of the reply, then a `done: true` line with done_reason, token"
    ' counts and durations in nanoseconds, or an `{"error": ...}` line'
)
"""The NDJSON answer of a streamed ``POST /api/chat``, for the API's document."""
