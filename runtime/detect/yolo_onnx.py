"""Object detection with YOLOv8 / YOLO11 detect exports on onnxruntime.

The model takes ``images [1, 3, H, W]`` (RGB scaled to 0..1, letterboxed with grey
114) and gives ``[1, 4 + nc, N]``: for each of N anchors the box centre, width and
height in input pixels, then one score per class. Class names come from the ``names``
metadata Ultralytics writes (``{0: 'person', 1: 'bicycle', ...}``) unless the ``labels``
parameter names them. Exports made with ``nms=True`` (output ``[1, 300, 6]``) are not
supported.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hal.camera import Frame
from runtime.detect.base import Detection, DetectOptions
from runtime.detect.geometry import (
    FloatArray,
    IndexArray,
    Letterbox,
    batched_nms,
    check_image,
    letterbox,
    unletterbox_boxes,
    xywh_to_xyxy,
)
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled, UnsupportedInput
from runtime.onnx import cpu_session
from runtime.params import parse_params

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

DEFAULT_INPUT_SIZE = 640
"""Input side for exports with a dynamic input shape and no ``imgsz`` metadata."""
_FLOAT16 = "tensor(float16)"


@dataclass(frozen=True)
class YoloOnnxParams:
    """Parameters of the YOLO ONNX detector."""

    model_file: str | None = None
    """File name of the ``.onnx`` model when the folder holds several."""
    labels: Sequence[str] | None = None
    """Class names in class-id order, instead of the model's ``names`` metadata."""
    input_size: int | None = None
    """Square input side for exports with a dynamic shape (default: ``imgsz`` or 640)."""
    threads: int = 0
    """onnxruntime intra-op threads; 0 lets onnxruntime use every core."""

    def __post_init__(self) -> None:
        if self.labels is not None:
            if isinstance(self.labels, str) or not all(isinstance(x, str) for x in self.labels):
                raise ValueError("labels must be a list of class names")
            object.__setattr__(self, "labels", tuple(self.labels))
        if self.input_size is not None and not 32 <= self.input_size <= 4096:
            raise ValueError("input_size must be between 32 and 4096")
        if self.threads < 0:
            raise ValueError("threads must be 0 (all cores) or positive")


def parse_names(text: str) -> tuple[str, ...]:
    """Class names from Ultralytics ``names`` metadata: ``{0: 'a', 1: 'b'}`` or ``['a', 'b']``.

    Read as a Python literal (never evaluated as code). Raises ValueError when it is not
    a list of strings or a dict from 0..n-1 to strings.
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ValueError(f"names is not a Python literal: {exc}") from exc
    if isinstance(value, dict):
        if sorted(value) != list(range(len(value))) or any(isinstance(k, bool) for k in value):
            raise ValueError("names keys must be the class ids 0..n-1")
        value = [value[i] for i in range(len(value))]
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
        raise ValueError("names must map class ids to strings")
    return tuple(value)


def check_options(options: DetectOptions) -> None:
    """Raise UnsupportedInput for thresholds or limits out of range."""
    for name in ("confidence_threshold", "iou_threshold"):
        value = getattr(options, name)
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            raise UnsupportedInput(f"{name} must be between 0 and 1", field=name)
    if options.max_detections < 1:
        raise UnsupportedInput("max_detections must be at least 1", field="max_detections")


def class_ids_for(labels: Sequence[str], classes: Sequence[str]) -> IndexArray | None:
    """Ids of the wanted ``classes`` (None: all); an unknown name is UnsupportedInput."""
    if not classes:
        return None
    index = {label: i for i, label in enumerate(labels)}
    unknown = [name for name in classes if name not in index]
    if unknown:
        raise UnsupportedInput(
            f"unknown class(es) {', '.join(unknown)}; this model knows: {', '.join(labels)}",
            field="classes",
        )
    return np.array(sorted({index[name] for name in classes}), dtype=np.int64)


def decode_predictions(
    prediction: FloatArray, confidence_threshold: float
) -> tuple[FloatArray, FloatArray, IndexArray]:
    """Corner boxes, scores and class ids of the anchors whose best class scores enough.

    ``prediction`` is one image's ``[4 + nc, N]`` head output.
    """
    class_scores = prediction[4:]
    class_ids = np.argmax(class_scores, axis=0)
    scores = np.take_along_axis(class_scores, class_ids[None, :], axis=0)[0]
    keep = np.flatnonzero(scores >= confidence_threshold)
    boxes = xywh_to_xyxy(prediction[:4, keep].T)
    return boxes, scores[keep].astype(np.float32), class_ids[keep].astype(np.int64)


def postprocess(
    prediction: FloatArray,
    layout: Letterbox,
    source_width: int,
    source_height: int,
    options: DetectOptions,
    labels: Sequence[str],
    wanted: IndexArray | None,
) -> list[Detection]:
    """Detections in source pixels, best first, from one image's head output."""
    boxes, scores, class_ids = decode_predictions(prediction, options.confidence_threshold)
    if wanted is not None:
        keep = np.isin(class_ids, wanted)
        boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
    kept = batched_nms(boxes, scores, class_ids, options.iou_threshold)[: options.max_detections]
    mapped = unletterbox_boxes(boxes[kept], layout, source_width, source_height)
    return detections_from_arrays(mapped, scores[kept], class_ids[kept], labels)


def detections_from_arrays(
    boxes: FloatArray, scores: FloatArray, class_ids: IndexArray, labels: Sequence[str]
) -> list[Detection]:
    """Detection values from parallel arrays (class ids must index ``labels``)."""
    return [
        Detection(
            label=labels[int(class_id)],
            class_id=int(class_id),
            confidence=float(np.clip(score, 0.0, 1.0)),
            box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
        )
        for box, score, class_id in zip(boxes, scores, class_ids, strict=True)
    ]


def model_input(
    image: npt.NDArray[np.uint8], width: int, height: int, dtype: type[np.floating[Any]]
) -> tuple[npt.NDArray[np.floating[Any]], Letterbox]:
    """The letterboxed ``[1, 3, height, width]`` tensor scaled to 0..1, and its layout."""
    canvas, layout = letterbox(image, width, height)
    tensor = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    return tensor.astype(dtype, copy=False), layout


def find_model(model_dir: Path, model_file: str | None) -> Path | None:
    """The ``.onnx`` in ``model_dir`` (or ``model_file``), if there is one.

    Raises UnsupportedInput when several are there and ``model_file`` does not pick one.
    """
    if model_file is not None:
        path = model_dir / model_file
        return path if path.is_file() else None
    found = sorted(p for p in model_dir.glob("*.onnx") if p.is_file())
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UnsupportedInput(f"several models in {model_dir} ({names}); set `model_file`")
    return found[0] if found else None


def _input_side(dimension: object, fallback: int) -> int:
    """A fixed dimension of the input shape, or ``fallback`` for a dynamic one."""
    return dimension if isinstance(dimension, int) and dimension > 0 else fallback


def _metadata_size(metadata: Mapping[str, str]) -> int | None:
    """The square side in ``imgsz`` metadata (``[640, 640]``), if it is there and square."""
    try:
        value = ast.literal_eval(metadata.get("imgsz", ""))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(value, list) and len(value) == 2 and value[0] == value[1]:
        side = value[0]
        return side if isinstance(side, int) and side > 0 else None
    return None


class YoloOnnxObjectDetector:
    """A loaded YOLOv8 / YOLO11 detect export."""

    def __init__(
        self,
        model_id: str,
        labels: tuple[str, ...],
        session: onnxruntime.InferenceSession,
        input_width: int,
        input_height: int,
    ) -> None:
        self.model_id = model_id
        self.labels = labels
        self.input_width = input_width
        self.input_height = input_height
        self._session: onnxruntime.InferenceSession | None = session
        model_input_meta = session.get_inputs()[0]
        self._input_name: str = model_input_meta.name
        self._input_dtype: type[np.floating[Any]] = (
            np.float16 if model_input_meta.type == _FLOAT16 else np.float32
        )
        self._output_name: str = session.get_outputs()[0].name

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> YoloOnnxObjectDetector:
        """Open the ``.onnx`` export in ``model_dir`` and read its class names."""
        parsed = parse_params(YoloOnnxParams, params, model_id)
        path = find_model(model_dir, parsed.model_file)
        if path is None:
            raise ModelNotInstalled(model_id)
        session = cpu_session(path, parsed.threads)
        metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)

        inputs, outputs = session.get_inputs(), session.get_outputs()
        input_shape, output_shape = list(inputs[0].shape), list(outputs[0].shape)
        if len(inputs) != 1 or len(input_shape) != 4 or input_shape[1] != 3:
            raise ModelLoadFailed(f"{path.name} is not a YOLO detect export (input {input_shape})")
        if len(output_shape) != 3:
            raise ModelLoadFailed(
                f"{path.name} is not a YOLO detect export (output {output_shape})"
            )
        fallback = parsed.input_size or _metadata_size(metadata) or DEFAULT_INPUT_SIZE
        height = _input_side(input_shape[2], fallback)
        width = _input_side(input_shape[3], fallback)

        labels = cls._labels(model_id, path, parsed, metadata, output_shape[1])
        log.info(
            "loaded %s from %s (%d classes, %dx%d)", model_id, path.name, len(labels), width, height
        )
        return cls(model_id, labels, session, width, height)

    @staticmethod
    def _labels(
        model_id: str,
        path: Path,
        parsed: YoloOnnxParams,
        metadata: Mapping[str, str],
        rows: object,
    ) -> tuple[str, ...]:
        """Class names from the params, else the metadata, checked against the output rows."""
        num_classes = rows - 4 if isinstance(rows, int) else None
        if parsed.labels is not None:
            labels = tuple(parsed.labels)
            if num_classes is not None and len(labels) != num_classes:
                raise UnsupportedInput(
                    f"Model {model_id!r} has {num_classes} classes but labels names {len(labels)}",
                    field="labels",
                )
            return labels
        if "names" in metadata:
            try:
                labels = parse_names(metadata["names"])
            except ValueError as exc:
                raise ModelLoadFailed(f"{path.name}: bad names metadata: {exc}") from exc
            if num_classes is not None and len(labels) != num_classes:
                raise ModelLoadFailed(
                    f"{path.name} has {num_classes} classes but its metadata names {len(labels)}"
                )
            return labels
        if num_classes is None or num_classes < 1:
            raise ModelLoadFailed(
                f"{path.name} has no names metadata and no fixed class count; set `labels`"
            )
        log.warning("%s has no names metadata; labels are class0..class%d", path, num_classes - 1)
        return tuple(f"class{i}" for i in range(num_classes))

    def detect(self, frame: Frame, options: DetectOptions) -> list[Detection]:
        """Objects in ``frame``, best first."""
        image = check_image(frame.image)
        check_options(options)
        wanted = class_ids_for(self.labels, options.classes)
        session = require_open(self._session, self.model_id)
        tensor, layout = model_input(image, self.input_width, self.input_height, self._input_dtype)
        try:
            output = session.run([self._output_name], {self._input_name: tensor})[0]
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise EngineError(f"YOLO inference failed: {exc}") from exc
        prediction = np.asarray(output, dtype=np.float32)
        if prediction.ndim != 3 or prediction.shape[:2] != (1, 4 + len(self.labels)):
            raise EngineError(
                f"{self.model_id}: unexpected output shape {prediction.shape} for"
                f" {len(self.labels)} classes"
            )
        return postprocess(
            prediction[0], layout, image.shape[1], image.shape[0], options, self.labels, wanted
        )

    def close(self) -> None:
        """Drop the onnxruntime session."""
        self._session = None
