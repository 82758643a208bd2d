"""A scripted OCR pipeline for tests, benchmarks and demos: no weights, same Protocol."""

from __future__ import annotations

from collections.abc import Sequence

from hal.camera import Frame
from runtime.ocr.base import OcrLine


class FakeTextRecognizer:
    """Answers every image with the same lines, and records the frames it was given."""

    def __init__(self, lines: Sequence[OcrLine] = (), model_id: str = "fake-ocr:1") -> None:
        self.model_id = model_id
        self.lines = list(lines)
        self.frames: list[Frame] = []
        """Every frame it was asked to read."""
        self.closed = False

    def recognize(self, frame: Frame) -> list[OcrLine]:
        """The scripted lines."""
        self.frames.append(frame)
        return list(self.lines)

    def close(self) -> None:
        """Mark it closed."""
        self.closed = True
