"""Values of the chat service: requests, the events of a streamed turn, stored messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from runtime.llm.base import GenerationOptions


@dataclass(frozen=True)
class ChatRequest:
    """One user turn."""

    text: str
    """What the user said or typed."""
    conversation_id: str | None = None
    """Continue this conversation; None starts a new one."""
    model: str | None = None
    """Chat model id; None lets the router choose."""
    options: GenerationOptions = field(default_factory=GenerationOptions)
    """Sampling and length options."""
    replace_message_id: str | None = None
    """Edit-and-resend: replace this user message (and everything after it)."""
    images: tuple[bytes, ...] = ()
    """Encoded images attached to the turn (routes to a vision model)."""
    source: Literal["text", "voice", "openai", "ollama"] = "text"
    """Which face the turn came through (analytics)."""


@dataclass(frozen=True)
class Timings:
    """Where the time of a turn went, in seconds."""

    queue_seconds: float = 0.0
    """Waiting for the model (other requests, loading)."""
    first_token_seconds: float = 0.0
    """From the request to the first generated text."""
    total_seconds: float = 0.0
    """From the request to the last token."""


@dataclass(frozen=True)
class TurnUsage:
    """Tokens of a turn."""

    prompt_tokens: int
    """Tokens in the prompt."""
    completion_tokens: int
    """Tokens generated."""
    cached_prompt_tokens: int = 0
    """Prompt tokens reused from the model's cache."""


@dataclass(frozen=True)
class ContextFlags:
    """What the context builder did to fit the conversation into the model."""

    summarized: bool = False
    """Older turns were folded into the running summary in this turn."""
    dropped_turns: int = 0
    """Turns no longer sent verbatim (they live on in the summary)."""
    summary_used: bool = False
    """The running summary was part of the prompt."""


@dataclass(frozen=True)
class TurnStarted:
    """The turn was accepted; generation is about to start."""

    conversation_id: str
    user_message_id: str
    model: str
    """The chat model chosen."""
    route_reason: str
    """Why that model (explicit, preference, rule...)."""
    flags: ContextFlags


@dataclass(frozen=True)
class TurnDelta:
    """New text of the reply."""

    text: str


@dataclass(frozen=True)
class TurnDone:
    """The reply is finished and stored."""

    conversation_id: str
    message_id: str
    text: str
    """The whole reply."""
    finish_reason: str
    """stop, length or cancelled."""
    usage: TurnUsage
    timings: Timings


TurnEvent = TurnStarted | TurnDelta | TurnDone
"""What ChatService.stream yields, in this order: one start, deltas, one done."""
