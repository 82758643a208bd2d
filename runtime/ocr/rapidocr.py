"""Optical character recognition with RapidOCR (PP-OCR det + cls + rec on onnxruntime).

The model folder holds the three ONNX files by the names RapidOCR ships them under;
the recogniser's character list is inside its ONNX metadata. Every path is passed to
RapidOCR explicitly, so its packaged ``config.yaml`` supplies only the remaining
defaults and never the models it bundles in site-packages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hal.camera import Frame
from runtime.detect.geometry import check_image
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled
from runtime.ocr.base import OcrLine
from runtime.params import parse_params

log = logging.getLogger(__name__)

DETECTION_FILE = "ch_PP-OCRv4_det_infer.onnx"
"""Text detector (DB) in the model folder."""
RECOGNITION_FILE = "ch_PP-OCRv4_rec_infer.onnx"
"""Text recogniser (CRNN/SVTR with CTC), its character list in the metadata."""
CLASSIFIER_FILE = "ch_ppocr_mobile_v2.0_cls_infer.onnx"
"""Text-angle classifier (0 or 180 degrees)."""


@dataclass(frozen=True)
class RapidOcrParams:
    """Parameters of the RapidOCR text recogniser."""

    detection_file: str = DETECTION_FILE
    """File name of the text-detection model."""
    recognition_file: str = RECOGNITION_FILE
    """File name of the text-recognition model."""
    classifier_file: str = CLASSIFIER_FILE
    """File name of the angle-classification model."""
    text_score: float = 0.5
    """Drop lines recognised with less confidence than this."""
    box_threshold: float = 0.5
    """Drop detected text boxes whose mean text probability is below this."""
    unclip_ratio: float = 1.6
    """How far each detected text box is grown before cropping (PP-OCR's default)."""
    upscale_shorter_side: int = 0
    """0: detect text at the image's own size; N: first scale small images up so their
    shorter side is N (RapidOCR's own default, 736, finds smaller text but is several
    times slower on wide images)."""
    max_side: int = 2000
    """Larger images are scaled down first so their longer side is at most this."""
    use_cls: bool = True
    """Run the angle classifier, which turns upside-down lines the right way up."""
    threads: int = 0
    """onnxruntime intra-op threads per model; 0 lets onnxruntime decide."""

    def __post_init__(self) -> None:
        for name in ("text_score", "box_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if not (math.isfinite(self.unclip_ratio) and self.unclip_ratio > 0):
            raise ValueError("unclip_ratio must be positive")
        if self.upscale_shorter_side != 0 and not 32 <= self.upscale_shorter_side <= 4096:
            raise ValueError("upscale_shorter_side must be 0 or between 32 and 4096")
        if not 32 <= self.max_side <= 8192:
            raise ValueError("max_side must be between 32 and 8192")
        if self.threads < 0:
            raise ValueError("threads must be 0 (onnxruntime decides) or positive")


def rapidocr_arguments(model_dir: Path, params: RapidOcrParams) -> dict[str, Any]:
    """Keyword arguments of ``RapidOCR(...)`` for the models in ``model_dir``."""
    threads = params.threads or -1  # RapidOCR's "leave it to onnxruntime"
    return {
        "det_model_path": str(model_dir / params.detection_file),
        "rec_model_path": str(model_dir / params.recognition_file),
        "cls_model_path": str(model_dir / params.classifier_file),
        "text_score": params.text_score,
        "use_cls": params.use_cls,
        "max_side_len": params.max_side,
        "det_box_thresh": params.box_threshold,
        "det_unclip_ratio": params.unclip_ratio,
        # "max" keeps the image's own size up to 2000 px; "min" scales the shorter
        # side up to limit_side_len.
        "det_limit_type": "min" if params.upscale_shorter_side else "max",
        "det_limit_side_len": params.upscale_shorter_side or 736,
        "intra_op_num_threads": threads,
        "inter_op_num_threads": -1,
    }


CLASSIFIER_THRESHOLD = 0.9
"""Angle classifier confidence above which a line counts as upside down (RapidOCR's)."""


class _AngleRecorder:
    """Wraps RapidOCR's angle classifier and recogniser to keep what they said about
    each line of the latest call: RapidOCR turns every line upright before reading it
    (tall crops a quarter turn counter-clockwise, then 180 degrees when the classifier
    says so) but does not return how it turned them, and the page's orientation (so the
    reading order of a photo taken sideways or upside down) follows from it. Recording
    costs nothing; running the classifier again would cost a pass per call."""

    def __init__(self, engine: Any) -> None:
        self._classify = engine.text_cls
        self._read = engine.text_rec
        self.labels: list[tuple[str, float]] = []
        self.scores: list[float] = []
        engine.text_cls = self.classify
        engine.text_rec = self.read

    def reset(self) -> None:
        """Forget the previous call."""
        self.labels, self.scores = [], []

    def classify(self, images: Any) -> Any:
        """RapidOCR's classifier, its labels kept."""
        turned, labels, elapsed = self._classify(images)
        self.labels = [(str(label), float(score)) for label, score in labels]
        return turned, labels, elapsed

    def read(self, images: Any, *args: Any) -> Any:
        """RapidOCR's recogniser, its scores kept."""
        results, elapsed = self._read(images, *args)
        self.scores = [float(item[1]) for item in results]
        return results, elapsed


def lines_from_result(
    result: Sequence[Sequence[Any]] | None, flipped: Sequence[bool] | None = None
) -> list[OcrLine]:
    """OcrLine values from RapidOCR's ``[[box, text, score], ...]``, blank readings dropped.

    ``None`` is RapidOCR's answer when it finds no text. RapidOCR already orders its
    lines top to bottom, then left to right within a row. ``flipped`` says, per item,
    whether the angle classifier turned the line 180 degrees.
    """
    if not result:
        return []
    lines = []
    for index, (box, text, score) in enumerate(result):
        if not str(text).strip():
            continue  # an upside-down line read without the angle classifier comes out blank
        corners = tuple((float(x), float(y)) for x, y in box)
        confidence = float(np.clip(float(score), 0.0, 1.0))
        turned = flipped is not None and flipped[index]
        rotation = (90 if is_tall(corners) else 0) + (180 if turned else 0)
        lines.append(OcrLine(text=str(text), confidence=confidence, box=corners, rotation=rotation))
    return lines


def is_tall(box: Sequence[tuple[float, float]]) -> bool:
    """Whether RapidOCR turns this box's crop a quarter turn before reading it."""
    points = np.array(box, dtype=np.float32)
    width = int(max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3])))
    height = int(max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2])))
    return width > 0 and height / width >= 1.5


def kept_flips(
    labels: Sequence[tuple[str, float]], scores: Sequence[float], text_score: float
) -> list[bool] | None:
    """Per line RapidOCR returns (those read with at least ``text_score``), whether the
    classifier turned it 180 degrees; None when the two recordings do not line up."""
    if not labels or len(labels) != len(scores):
        return None
    return [
        label == "180" and confidence >= CLASSIFIER_THRESHOLD
        for (label, confidence), score in zip(labels, scores, strict=True)
        if score >= text_score
    ]


class RapidOcrTextRecognizer:
    """A loaded PP-OCR pipeline."""

    def __init__(self, model_id: str, params: RapidOcrParams, engine: Any) -> None:
        self.model_id = model_id
        self.params = params
        self._engine: Any | None = engine
        self._angles = _AngleRecorder(engine)

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> RapidOcrTextRecognizer:
        """Open the detection, classification and recognition models in ``model_dir``."""
        parsed = parse_params(RapidOcrParams, params, model_id)
        names = (parsed.detection_file, parsed.recognition_file, parsed.classifier_file)
        missing = [name for name in names if not (model_dir / name).is_file()]
        if missing:
            log.warning("%s: missing %s in %s", model_id, ", ".join(missing), model_dir)
            raise ModelNotInstalled(model_id)
        from rapidocr_onnxruntime import RapidOCR

        try:
            engine = RapidOCR(**rapidocr_arguments(model_dir, parsed))
        except Exception as exc:  # onnxruntime and RapidOCR raise plain Exceptions
            raise ModelLoadFailed(f"RapidOCR cannot load the models in {model_dir}: {exc}") from exc
        log.info("loaded %s from %s", model_id, model_dir)
        return cls(model_id, parsed, engine)

    def recognize(self, frame: Frame) -> list[OcrLine]:
        """Lines of text, top to bottom."""
        image = check_image(frame.image)
        engine = require_open(self._engine, self.model_id)
        bgr = np.ascontiguousarray(image[..., ::-1])  # RapidOCR takes arrays as BGR
        self._angles.reset()
        try:
            # No keyword arguments: any of them makes RapidOCR reset its thresholds.
            result, _elapsed = engine(bgr)
        except Exception as exc:  # onnxruntime, OpenCV and RapidOCR raise plain Exceptions
            raise EngineError(f"RapidOCR failed: {exc}") from exc
        flips = kept_flips(self._angles.labels, self._angles.scores, self.params.text_score)
        if result and flips is not None and len(flips) != len(result):
            flips = None
        return lines_from_result(result, flips)

    def close(self) -> None:
        """Drop the models."""
        self._engine = None
