"""The object-detection capability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hal.camera import Frame


@dataclass(frozen=True)
class DetectOptions:
    """Thresholds for one detection call."""

    confidence_threshold: float = 0.25
    """Drop boxes scored below this."""
    iou_threshold: float = 0.45
    """Non-maximum suppression overlap."""
    max_detections: int = 100
    """Most boxes returned."""
    classes: tuple[str, ...] = ()
    """Keep only these labels (empty = all)."""


@dataclass(frozen=True)
class Detection:
    """One detected object."""

    label: str
    """Class name."""
    class_id: int
    """Index in the model's class list."""
    confidence: float
    """Score in [0, 1]."""
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2 in pixels of the input frame."""


class ObjectDetector(Protocol):
    """A loaded detector."""

    model_id: str
    labels: tuple[str, ...]

    def detect(self, frame: Frame, options: DetectOptions) -> list[Detection]:
        """Objects in ``frame``, best first."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
