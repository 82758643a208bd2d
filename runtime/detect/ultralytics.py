"""Object detection with Ultralytics YOLO ``.pt`` weights (the optional ``ultralytics`` extra).

Ultralytics pulls in PyTorch (several GB), so it is not part of ``all``; the ONNX engine
(``runtime.detect.yolo_onnx``) is the default. ``export_to_onnx`` turns ``.pt`` weights
into the ONNX export that engine runs.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hal.camera import Frame
from runtime.detect.base import Detection, DetectOptions
from runtime.detect.geometry import check_image
from runtime.detect.yolo_onnx import check_options, class_ids_for, detections_from_arrays
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled, UnsupportedInput
from runtime.params import parse_params

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'edge-assistant[ultralytics]'"
"""The command that installs the extra."""


@dataclass(frozen=True)
class UltralyticsParams:
    """Parameters of the Ultralytics detector."""

    model_file: str | None = None
    """File name of the ``.pt`` weights when the folder holds several."""
    input_size: int = 640
    """Side the image is letterboxed to."""
    device: str = "cpu"
    """PyTorch device: ``cpu``, ``cuda:0``, ``mps``..."""
    half: bool = False
    """Run in float16 (GPU only)."""

    def __post_init__(self) -> None:
        if not 32 <= self.input_size <= 4096:
            raise ValueError("input_size must be between 32 and 4096")


def _yolo_class() -> Any:
    """Ultralytics' ``YOLO`` class, or EngineError naming the extra to install."""
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise EngineError(
            f"The ultralytics engine needs the ultralytics extra; install it with: {INSTALL_HINT}",
            engine="ultralytics",
        ) from exc
    return YOLO


def find_weights(model_dir: Path, model_file: str | None) -> Path | None:
    """The ``.pt`` in ``model_dir`` (or ``model_file``), if there is one."""
    if model_file is not None:
        path = model_dir / model_file
        return path if path.is_file() else None
    found = sorted(p for p in model_dir.glob("*.pt") if p.is_file())
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise UnsupportedInput(f"several weights in {model_dir} ({names}); set `model_file`")
    return found[0] if found else None


def export_to_onnx(pt_path: Path, target: Path, input_size: int = 640) -> Path:
    """Export ``.pt`` weights to a YOLO detect ONNX file at ``target``; ``target``.

    The export has a fixed ``[1, 3, input_size, input_size]`` input, no NMS inside, and
    the ``names`` metadata ``YoloOnnxObjectDetector`` reads.
    """
    if not pt_path.is_file():
        raise UnsupportedInput(f"{pt_path} does not exist", field="pt_path")
    yolo = _yolo_class()
    try:
        model = yolo(str(pt_path))
        exported = Path(
            model.export(format="onnx", imgsz=input_size, dynamic=False, nms=False, half=False)
        )
    except Exception as exc:  # torch and ultralytics raise many unrelated types
        raise EngineError(f"Ultralytics cannot export {pt_path.name} to ONNX: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(exported, target)
    log.info("exported %s to %s", pt_path, target)
    return target


class UltralyticsObjectDetector:
    """A loaded Ultralytics YOLO model."""

    def __init__(
        self, model_id: str, labels: tuple[str, ...], model: Any, params: UltralyticsParams
    ) -> None:
        self.model_id = model_id
        self.labels = labels
        self.params = params
        self._model: Any | None = model

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> UltralyticsObjectDetector:
        """Open the ``.pt`` weights in ``model_dir``."""
        parsed = parse_params(UltralyticsParams, params, model_id)
        path = find_weights(model_dir, parsed.model_file)
        if path is None:
            raise ModelNotInstalled(model_id)
        yolo = _yolo_class()
        try:
            model = yolo(str(path))
            names: Mapping[int, str] = model.names
        except Exception as exc:  # torch and ultralytics raise many unrelated types
            raise ModelLoadFailed(f"Ultralytics cannot load {path.name}: {exc}") from exc
        labels = tuple(str(names[i]) for i in range(len(names)))
        log.info("loaded %s from %s (%d classes)", model_id, path, len(labels))
        return cls(model_id, labels, model, parsed)

    def detect(self, frame: Frame, options: DetectOptions) -> list[Detection]:
        """Objects in ``frame``, best first."""
        image = check_image(frame.image)
        check_options(options)
        wanted = class_ids_for(self.labels, options.classes)
        model = require_open(self._model, self.model_id)
        try:
            results = model.predict(
                source=np.ascontiguousarray(image[..., ::-1]),  # Ultralytics takes BGR arrays
                conf=options.confidence_threshold,
                iou=options.iou_threshold,
                max_det=options.max_detections,
                classes=None if wanted is None else [int(i) for i in wanted],
                imgsz=self.params.input_size,
                device=self.params.device,
                half=self.params.half,
                verbose=False,
            )
            boxes = results[0].boxes
            xyxy = np.asarray(boxes.xyxy.cpu().numpy(), dtype=np.float32).reshape(-1, 4)
            scores = np.asarray(boxes.conf.cpu().numpy(), dtype=np.float32).reshape(-1)
            class_ids = np.asarray(boxes.cls.cpu().numpy()).astype(np.int64).reshape(-1)
        except Exception as exc:  # torch and ultralytics raise many unrelated types
            raise EngineError(f"Ultralytics inference failed: {exc}") from exc
        order = np.argsort(-scores, kind="stable")
        return detections_from_arrays(xyxy[order], scores[order], class_ids[order], self.labels)

    def close(self) -> None:
        """Drop the model."""
        self._model = None
