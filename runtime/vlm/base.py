"""The vision-language capability: an image and a question in, an answer streamed out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from runtime.llm.base import ChatDelta, GenerationOptions


class VisionLanguageModel(Protocol):
    """A loaded multimodal model (a GGUF plus its projector)."""

    model_id: str

    def answer(
        self,
        image: bytes,
        question: str,
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """Stream an answer about the encoded image (PNG/JPEG)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
