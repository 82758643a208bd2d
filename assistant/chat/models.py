"""Values of the chat service: requests, the events of a streamed turn, stored messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
    """Which face the turn came through (analytics); a spoken face gets spoken answers."""
    skills: bool = True
    """Let a skill answer (a timer, the time) before the chat model; False: always chat."""
    language: str | None = None
    """The language the request was made in, when a face knows it (speech recognition)."""


@dataclass(frozen=True)
class SkillUse:
    """Which skill answered a turn, how it was chosen and with what."""

    name: str
    """The skill (``timer``)."""
    intent: str
    """The intent recognised (``timer.start``)."""
    stage: str
    """``template`` (a sentence template matched) or ``model`` (the chat model chose)."""
    confidence: float
    """1.0 for a template; the model's probability for the model stage."""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """The typed arguments it ran with."""
    question: bool = False
    """It asked back (a part of the request could not be understood) instead of acting."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Its structured result (a timer's id and end time, a list's items)."""


@dataclass(frozen=True)
class SkillReply:
    """A skill's whole answer to a turn, as the chat service stores and streams it."""

    use: SkillUse
    """Which skill, intent, stage and arguments."""
    written: str
    """Shown and stored."""
    spoken: str
    """Streamed to spoken faces (voice, Wyoming) instead of ``written``."""
    language: str | None = None
    """The language of ``spoken`` when it is not the request's (a translation)."""


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
    language: str | None = None
    """The language of this text when it differs from the conversation's (a skill's
    translation, to be spoken in that language's voice); None: the usual one."""


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
    skill: SkillUse | None = None
    """The skill that answered; None when the chat model did."""


TurnEvent = TurnStarted | TurnDelta | TurnDone
"""What ChatService.stream yields, in this order: one start, deltas, one done."""
