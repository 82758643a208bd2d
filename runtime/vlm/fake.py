"""A scripted vision-language model for tests and demos: no weights, same Protocol."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from runtime.llm.base import ChatDelta, GenerationOptions


class FakeVisionLanguageModel:
    """Answers every question with the same text, and records what it was asked."""

    def __init__(self, answer: str = "A picture.", model_id: str = "fake-vlm:1") -> None:
        self.model_id = model_id
        self.reply = answer
        self.questions: list[tuple[bytes, str]] = []
        """Every (encoded image, question) it was asked."""
        self.closed = False

    def answer(
        self,
        image: bytes,
        question: str,
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """The scripted answer, one word per delta."""
        self.questions.append((image, question))
        words = self.reply.split(" ")
        for index, word in enumerate(words):
            yield ChatDelta(word if index == 0 else " " + word)
        yield ChatDelta("", finish_reason="stop")

    def close(self) -> None:
        """Mark it closed."""
        self.closed = True
