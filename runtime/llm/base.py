"""The chat-model capability: messages in, streamed deltas out."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation."""

    role: str
    """``system``, ``user`` or ``assistant``."""
    content: str
    """The text."""
    images: tuple[bytes, ...] = ()
    """Encoded images (PNG/JPEG) attached to a user message; vision models only."""


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling and stopping options for one generation."""

    max_tokens: int = 512
    """Most tokens to generate."""
    temperature: float = 0.7
    """Sampling temperature; 0 is greedy."""
    top_p: float = 0.95
    """Nucleus sampling mass."""
    top_k: int = 40
    """Sample among the k most likely tokens."""
    repeat_penalty: float = 1.1
    """Penalty for repeated tokens."""
    stop: tuple[str, ...] = ()
    """Generation ends before any of these strings."""
    seed: int | None = None
    """Fixed seed for reproducible sampling."""
    logprobs: bool = False
    """Report the log-probability of the generated tokens (``Usage.mean_logprob`` and
    ``Usage.token_logprobs``); costs a softmax over the vocabulary per token, so only
    scoring callers ask."""
    json_schema: Mapping[str, Any] | None = None
    """Constrain the reply to JSON valid under this schema (a JSON Schema object: types,
    ``enum``, ``properties``, ``required``...); None leaves the reply free text."""


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token and how likely the model found it."""

    text: str
    """The token's text (a character split across tokens shows as U+FFFD in each)."""
    logprob: float
    """Natural-log probability the model gave the token before any grammar constrained
    the choice: a token the grammar forced on an unwilling model scores low."""


@dataclass(frozen=True)
class Usage:
    """Token counts and timings of one generation."""

    prompt_tokens: int
    """Tokens in the prompt."""
    completion_tokens: int
    """Tokens generated."""
    cached_prompt_tokens: int = 0
    """Prompt tokens reused from the prompt cache (not evaluated again)."""
    prompt_seconds: float = 0.0
    """Time to evaluate the prompt (time to first token)."""
    generation_seconds: float = 0.0
    """Time from the first to the last generated token."""
    mean_logprob: float | None = None
    """Mean natural-log probability of the generated tokens (end token included), when
    ``GenerationOptions.logprobs`` asked for it and the engine can tell."""
    token_logprobs: tuple[TokenLogprob, ...] = ()
    """Each generated token's text and log-probability, in order (end token excluded),
    when ``GenerationOptions.logprobs`` asked for it and the engine can tell."""


@dataclass(frozen=True)
class ChatDelta:
    """A piece of a streamed reply. The last one has ``finish_reason`` and ``usage``."""

    text: str
    """New text (may be empty on the final delta)."""
    finish_reason: str | None = None
    """``stop``, ``length`` or ``cancelled`` on the final delta."""
    usage: Usage | None = field(default=None)
    """Set on the final delta."""


class ChatModel(Protocol):
    """A loaded chat model. Not thread-safe: one generation at a time per instance."""

    model_id: str
    context_length: int

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """Generate a reply; stops between tokens once ``cancel`` is set."""
        ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the messages take once formatted with the model's chat template."""
        ...

    def prefill(self, messages: Sequence[ChatMessage], *, open_last: bool = False) -> int:
        """Evaluate the prompt of ``messages`` into the prompt cache without generating,
        so a later ``stream`` whose prompt starts the same way reuses it (a voice loop
        warms the system prompt and the conversation when the wake word is heard).

        With ``open_last`` the last message is only the beginning of the next one (a
        user message's time stamp, its text still unknown): the prompt is evaluated up
        to where messages that go on from it can differ, so the next turn evaluates
        little more than its own words. Returns the tokens evaluated now (0: already
        cached, or the engine keeps no cache of its own)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
