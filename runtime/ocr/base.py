"""The optical-character-recognition capability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hal.camera import Frame


@dataclass(frozen=True)
class OcrLine:
    """One line of recognised text."""

    text: str
    """What it says."""
    confidence: float
    """Recognition confidence in [0, 1]."""
    box: tuple[tuple[float, float], ...]
    """Corner points (x, y) in pixels, clockwise from top-left."""
    rotation: int = 0
    """Degrees the line's text is turned clockwise from upright in the image: 0, 90, 180
    or 270 (90: its letters' tops point right, it reads top to bottom)."""


class TextRecognizer(Protocol):
    """A loaded OCR pipeline (detection + recognition)."""

    model_id: str

    def recognize(self, frame: Frame) -> list[OcrLine]:
        """Lines of text, top to bottom."""
        ...

    def close(self) -> None:
        """Free the models."""
        ...
