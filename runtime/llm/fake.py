"""A scripted chat model for tests, benchmarks and demos: no weights, same Protocol."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from runtime.llm import schema
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions, TokenLogprob, Usage

Reply = Callable[[Sequence[ChatMessage]], str]


def echo(messages: Sequence[ChatMessage]) -> str:
    """Repeat the last user message."""
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return f"You said: {last}"


def constrained(reply: str, json_schema: Mapping[str, Any]) -> str:
    """The scripted reply when it is JSON valid under the schema, else the schema's
    smallest instance: like a grammar, the fake never writes what the schema forbids."""
    try:
        value = json.loads(reply)
    except ValueError:
        value = None
    else:
        if not schema.problems(value, json_schema):
            return reply
    return json.dumps(schema.example(json_schema))


class FakeChatModel:
    """Streams a reply word by word; one token per word (plus 4 per message for counting)."""

    def __init__(
        self,
        model_id: str = "fake:1",
        *,
        reply: Reply = echo,
        context_length: int = 4096,
        token_seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        token_logprob: float = 0.0,
    ) -> None:
        self.model_id = model_id
        self.reply = reply
        self.context_length = context_length
        self.token_seconds = token_seconds
        self.sleep = sleep
        self.token_logprob = token_logprob
        """The log-probability reported for every word when ``logprobs`` is asked."""
        self.calls: list[list[ChatMessage]] = []
        """Every message list it was asked to answer."""
        self.options: list[GenerationOptions] = []
        """The options of every call, in order."""
        self.generated_after_cancel = 0
        """Tokens produced after the cancel event was set (should stay 0)."""
        self.prefilled: list[list[ChatMessage]] = []
        """Every message list it was asked to ``prefill``."""
        self.closed = False

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Words plus a fixed template overhead per message."""
        return sum(len(m.content.split()) + 4 for m in messages)

    def prefill(self, messages: Sequence[ChatMessage], *, open_last: bool = False) -> int:
        """Record the messages; their counted tokens, as if evaluated (an open last
        message without the template's end of message)."""
        self.prefilled.append(list(messages))
        return self.count_tokens(messages) - (4 if open_last and messages else 0)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """The scripted reply, one word per delta; under a JSON schema, a valid reply."""
        self.calls.append(list(messages))
        self.options.append(options)
        reply = self.reply(messages)
        if options.json_schema is not None:
            reply = constrained(reply, options.json_schema)
        words = reply.split(" ")
        scored: list[TokenLogprob] = []
        started = time.perf_counter()
        produced = 0
        finish = "stop"
        text = ""
        for index, word in enumerate(words):
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            if produced >= options.max_tokens:
                finish = "length"
                break
            piece = word if index == 0 else " " + word
            if any(stop in text + piece for stop in options.stop):
                break
            if self.token_seconds:
                self.sleep(self.token_seconds)
            if cancel is not None and cancel.is_set():
                self.generated_after_cancel += 1
            produced += 1
            text += piece
            if options.logprobs:
                scored.append(TokenLogprob(piece, self.token_logprob))
            yield ChatDelta(text=piece)
        yield ChatDelta(
            text="",
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=self.count_tokens(messages),
                completion_tokens=produced,
                generation_seconds=time.perf_counter() - started,
                mean_logprob=self.token_logprob if scored else None,
                token_logprobs=tuple(scored),
            ),
        )

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True
