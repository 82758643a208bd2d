"""A scripted chat model for tests, benchmarks and demos: no weights, same Protocol."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions, Usage

Reply = Callable[[Sequence[ChatMessage]], str]


def echo(messages: Sequence[ChatMessage]) -> str:
    """Repeat the last user message."""
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return f"You said: {last}"


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
    ) -> None:
        self.model_id = model_id
        self.reply = reply
        self.context_length = context_length
        self.token_seconds = token_seconds
        self.sleep = sleep
        self.calls: list[list[ChatMessage]] = []
        """Every message list it was asked to answer."""
        self.generated_after_cancel = 0
        """Tokens produced after the cancel event was set (should stay 0)."""
        self.closed = False

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Words plus a fixed template overhead per message."""
        return sum(len(m.content.split()) + 4 for m in messages)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """The scripted reply, one word per delta."""
        self.calls.append(list(messages))
        words = self.reply(messages).split(" ")
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
            yield ChatDelta(text=piece)
        yield ChatDelta(
            text="",
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=self.count_tokens(messages),
                completion_tokens=produced,
                generation_seconds=time.perf_counter() - started,
            ),
        )

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True
