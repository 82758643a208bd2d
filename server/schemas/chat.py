"""Bodies of ``/api/v1/chat`` and the events of its streams."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.chat.models import (
    ChatRequest,
    ContextFlags,
    SkillUse,
    Timings,
    TurnDelta,
    TurnDone,
    TurnEvent,
    TurnStarted,
    TurnUsage,
)
from assistant.chat.store import Conversation, Message
from assistant.clock import iso
from runtime.llm.base import GenerationOptions
from server.docs import component, event, event_stream

MAX_IMAGE_BYTES = 10_000_000
_BASE64: dict[str, Any] = {
    "pattern": r"^(data:[^,]*,)?([A-Za-z0-9+/]{4})*"
    r"([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$",
    "description": "A base64 PNG or JPEG image, or a data: URI holding one",
}
"""How an image is written in a message (``decode_image`` reads it), for the document."""


class Options(BaseModel):
    """Sampling and length options of one reply."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_tokens: Annotated[int, Field(ge=1, le=8192)] = 512
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.7
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    top_k: Annotated[int, Field(ge=0, le=1000)] = 40
    repeat_penalty: Annotated[float, Field(ge=0.5, le=2.0)] = 1.1
    stop: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=8)
    ] = []
    seed: int | None = None

    def to_options(self) -> GenerationOptions:
        """The runtime's options object."""
        return GenerationOptions(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            repeat_penalty=self.repeat_penalty,
            stop=tuple(self.stop),
            seed=self.seed,
        )


class MessageIn(BaseModel):
    """A user turn."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: Annotated[str, Field(min_length=1, max_length=200_000)]
    """What the user says."""
    conversation_id: str | None = None
    """Continue this conversation; leave out to start a new one."""
    model: Annotated[str, Field(max_length=100)] | None = None
    """Chat model id; leave out to let the router choose."""
    options: Options = Options()
    replace_message_id: str | None = None
    """Edit-and-resend: replace this user message and everything after it."""
    images: Annotated[
        list[Annotated[str, Field(json_schema_extra=_BASE64)]], Field(max_length=4)
    ] = []
    """Base64 (or data: URI) PNG/JPEG images for a vision model."""
    skills: bool = True
    """Let a skill (timer, time, camera, translation, lists...) answer before the chat
    model; false sends the message to the chat model whatever it says."""

    @field_validator("images")
    @classmethod
    def _decodable(cls, images: list[str]) -> list[str]:
        for image in images:
            decode_image(image)
        return images

    def to_request(self, source: str = "text") -> ChatRequest:
        """The domain request."""
        return ChatRequest(
            text=self.text,
            conversation_id=self.conversation_id,
            model=self.model,
            options=self.options.to_options(),
            replace_message_id=self.replace_message_id,
            images=tuple(decode_image(i) for i in self.images),
            source=source,  # type: ignore[arg-type]
            skills=self.skills,
        )


def decode_image(value: str) -> bytes:
    """Bytes of a base64 or data: URI image, within the size limit."""
    if value.startswith("data:"):
        _, comma, payload = value.partition(",")
        if not comma:
            raise ValueError("an image data: URI has a comma before the base64 data")
    else:
        payload = value
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("an image is not valid base64") from exc
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"an image must be 1 byte to {MAX_IMAGE_BYTES} bytes")
    return data


class RegenerateIn(BaseModel):
    """Answer the last user message again."""

    model_config = ConfigDict(extra="forbid", strict=True)

    conversation_id: str
    model: Annotated[str, Field(max_length=100)] | None = None
    options: Options = Options()


class RenameIn(BaseModel):
    """A new title."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: Annotated[str, Field(min_length=1, max_length=200)]


class UsageOut(msgspec.Struct, kw_only=True):
    """Tokens of a turn."""

    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int

    @classmethod
    def of(cls, usage: TurnUsage) -> UsageOut:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_prompt_tokens=usage.cached_prompt_tokens,
        )


class TimingsOut(msgspec.Struct, kw_only=True):
    """Milliseconds spent waiting for the model, until the first token, in all."""

    queue_ms: int
    first_token_ms: int
    total_ms: int

    @classmethod
    def of(cls, timings: Timings) -> TimingsOut:
        return cls(
            queue_ms=round(timings.queue_seconds * 1000),
            first_token_ms=round(timings.first_token_seconds * 1000),
            total_ms=round(timings.total_seconds * 1000),
        )


class FlagsOut(msgspec.Struct, kw_only=True):
    """What the context builder did (nothing is dropped silently)."""

    summarized: bool
    """Older turns were folded into the running summary in this turn."""
    dropped_turns: int
    """Messages no longer sent verbatim (they are in the summary)."""
    summary_used: bool
    """The running summary was part of the prompt."""

    @classmethod
    def of(cls, flags: ContextFlags) -> FlagsOut:
        return cls(
            summarized=flags.summarized,
            dropped_turns=flags.dropped_turns,
            summary_used=flags.summary_used,
        )


class SkillUseOut(msgspec.Struct, kw_only=True):
    """The skill that answered a turn, how it was chosen and with what."""

    name: str
    """The skill (``timer``; ``GET /api/v1/skills`` lists them)."""
    intent: str
    """The intent recognised (``timer.start``)."""
    stage: str
    """``template`` (a sentence template matched) or ``model`` (the chat model chose)."""
    confidence: float
    """1 for a template; the model's probability for the model stage."""
    arguments: dict[str, Any]
    """The typed arguments it ran with (``{"seconds": 300, "name": "pasta"}``)."""
    question: bool
    """True when it asked back because part of the request could not be understood."""
    data: dict[str, Any]
    """Its structured result (a timer's id and end time, a list's items)."""

    @classmethod
    def of(cls, use: SkillUse | None) -> SkillUseOut | None:
        if use is None:
            return None
        return cls(
            name=use.name,
            intent=use.intent,
            stage=use.stage,
            confidence=use.confidence,
            arguments=dict(use.arguments),
            question=use.question,
            data=dict(use.data),
        )

    @classmethod
    def stored(cls, text: str | None) -> SkillUseOut | None:
        """From a stored message's ``skill`` column (JSON)."""
        if not text:
            return None
        return msgspec.convert(json.loads(text), cls)


class ReplyOut(msgspec.Struct, kw_only=True):
    """The assistant's reply to a turn."""

    conversation_id: str
    user_message_id: str
    message_id: str
    text: str
    model: str
    route_reason: str
    finish_reason: str
    usage: UsageOut
    timings: TimingsOut
    flags: FlagsOut
    skill: SkillUseOut | None = None
    """The skill that answered; null when the chat model did."""

    @classmethod
    def of(cls, started: TurnStarted, done: TurnDone) -> ReplyOut:
        return cls(
            conversation_id=done.conversation_id,
            user_message_id=started.user_message_id,
            message_id=done.message_id,
            text=done.text,
            model=started.model,
            route_reason=started.route_reason,
            finish_reason=done.finish_reason,
            usage=UsageOut.of(done.usage),
            timings=TimingsOut.of(done.timings),
            flags=FlagsOut.of(started.flags),
            skill=SkillUseOut.of(done.skill),
        )


class MessageOut(msgspec.Struct, kw_only=True):
    """A stored message."""

    id: str
    role: str
    text: str
    model: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    first_token_ms: int | None
    total_ms: int | None
    created_at: str
    skill: SkillUseOut | None = None
    """The skill that gave this reply; null for the chat model's and for user messages."""

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            role=message.role,
            text=message.content,
            model=message.model,
            finish_reason=message.finish_reason,
            prompt_tokens=message.prompt_tokens,
            completion_tokens=message.completion_tokens,
            first_token_ms=message.first_token_ms,
            total_ms=message.total_ms,
            created_at=iso(message.created_at) or "",
            skill=SkillUseOut.stored(message.skill),
        )


class HistoryOut(msgspec.Struct, kw_only=True):
    """A page of messages, newest first."""

    conversation_id: str
    messages: list[MessageOut]
    next_before: str | None
    """Pass as ``before`` for the next (older) page; null at the start."""


class ConversationOut(msgspec.Struct, kw_only=True):
    """A conversation."""

    id: str
    title: str
    model: str | None
    message_count: int
    has_summary: bool
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        return cls(
            id=conversation.id,
            title=conversation.title,
            model=conversation.model,
            message_count=conversation.message_count,
            has_summary=bool(conversation.summary),
            created_at=iso(conversation.created_at) or "",
            updated_at=iso(conversation.updated_at) or "",
        )


class ConversationDetailOut(ConversationOut, kw_only=True):
    """A conversation with its running summary."""

    summary: str | None = None
    """What the older turns were folded into (the model reads it instead of them); null
    until a conversation outgrows the model's context."""

    @classmethod
    def detail(cls, conversation: Conversation) -> ConversationDetailOut:
        base = msgspec.structs.asdict(ConversationOut.of(conversation))
        return cls(**base, summary=conversation.summary or None)


class ConversationsOut(msgspec.Struct, kw_only=True):
    """A page of conversations, most recently active first."""

    conversations: list[ConversationOut]
    next_before: str | None


class HistoryDeleted(msgspec.Struct, kw_only=True):
    """What a history deletion removed."""

    deleted_conversations: int
    deleted_messages: int


def event_payload(event: TurnEvent) -> tuple[str, dict[str, Any]]:
    """The name and JSON body of a turn event on the SSE and WebSocket streams."""
    if isinstance(event, TurnStarted):
        return "start", {
            "conversation_id": event.conversation_id,
            "user_message_id": event.user_message_id,
            "model": event.model,
            "route_reason": event.route_reason,
            "flags": msgspec.structs.asdict(FlagsOut.of(event.flags)),
        }
    if isinstance(event, TurnDelta):
        return "delta", {"text": event.text}
    return "done", {
        "conversation_id": event.conversation_id,
        "message_id": event.message_id,
        "finish_reason": event.finish_reason,
        "usage": msgspec.structs.asdict(UsageOut.of(event.usage)),
        "timings": msgspec.structs.asdict(TimingsOut.of(event.timings)),
        "skill": msgspec.to_builtins(SkillUseOut.of(event.skill)),
    }


def sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event: ``event: NAME`` and a single-line JSON ``data``."""
    return b"event: " + event.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


TURN_STREAM = event_stream(
    "One event of a turn, in this order: `start`, `delta` as the model writes, then `done`"
    " or `error` (a problem document: the turn failed after it had begun).",
    event(
        "start",
        {
            "type": "object",
            "required": ["conversation_id", "user_message_id", "model", "route_reason", "flags"],
            "properties": {
                "conversation_id": {"type": "string"},
                "user_message_id": {"type": "string"},
                "model": {"type": "string"},
                "route_reason": {"type": "string"},
                "flags": component("FlagsOut"),
            },
        },
    ),
    event(
        "delta",
        {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
    ),
    event(
        "done",
        {
            "type": "object",
            "required": ["conversation_id", "message_id", "finish_reason", "usage", "timings"],
            "properties": {
                "conversation_id": {"type": "string"},
                "message_id": {"type": "string"},
                "finish_reason": {"type": "string"},
                "usage": component("UsageOut"),
                "timings": component("TimingsOut"),
                "skill": {"oneOf": [component("SkillUseOut"), {"type": "null"}]},
            },
        },
    ),
    event("error", component("Problem")),
)
"""The events of ``POST /api/v1/chat/stream``, for the API's document."""
