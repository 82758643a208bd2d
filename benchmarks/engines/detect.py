"""Object detection: onnxruntime plus the same postprocessing against the YOLO engine."""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt

from benchmarks.common import Row, interleaved, progress
from benchmarks.engines.base import Plan, Section, load_runtime, stats, timed
from hal.camera import Frame
from runtime.detect.base import DetectOptions
from runtime.detect.yolo_onnx import (
    YoloOnnxObjectDetector,
    YoloOnnxParams,
    find_model,
    model_input,
    postprocess,
)
from runtime.modelstore import ModelStore
from runtime.onnx import cpu_session
from runtime.params import parse_params

DETECT_MODEL = "yolov8-fall:fp16"


def detection_frame() -> npt.NDArray[np.uint8]:
    """A 640x480 RGB scene: a floor, a wall, a person-like figure lying down, furniture."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (200, 196, 186))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 640, 480), fill=(120, 96, 70))  # floor
    draw.rectangle((430, 150, 600, 320), fill=(60, 70, 110))  # cupboard
    draw.ellipse((150, 330, 190, 370), fill=(225, 180, 150))  # head
    draw.rectangle((185, 335, 330, 365), fill=(40, 90, 160))  # body
    draw.rectangle((330, 338, 430, 352), fill=(30, 30, 40))  # legs
    draw.rectangle((330, 352, 425, 364), fill=(30, 30, 40))
    return np.asarray(image, dtype=np.uint8)


def bench_detect(store: ModelStore, plan: Plan) -> Section:
    """Latency of onnxruntime + the same postprocessing against ``detect`` on a frame."""
    loaded, model, params = load_runtime(store, DETECT_MODEL, plan.thread_params)
    engine = cast(YoloOnnxObjectDetector, loaded)
    settings = parse_params(YoloOnnxParams, params, DETECT_MODEL)
    path = find_model(model.path, settings.model_file)
    if path is None:
        raise RuntimeError(f"no .onnx in {model.path}")
    session = cpu_session(path, settings.threads)
    meta = session.get_inputs()[0]
    dtype = np.float16 if meta.type == "tensor(float16)" else np.float32
    image = detection_frame()
    frame = Frame(image)
    options = DetectOptions()
    # The raw side gets its tensor made once, before timing: a bare session.run.
    tensor, layout = model_input(image, engine.input_width, engine.input_height, dtype)
    output_name = session.get_outputs()[0].name

    def bare() -> tuple[float, int]:
        def run() -> int:
            output = session.run([output_name], {meta.name: tensor})[0]
            prediction = np.asarray(output, dtype=np.float32)[0]
            found = postprocess(
                prediction, layout, image.shape[1], image.shape[0], options, engine.labels, None
            )
            return len(found)

        return timed(run)

    def runtime() -> tuple[float, int]:
        seconds, found = timed(lambda: engine.detect(frame, options))
        return seconds, len(found)

    def preprocess() -> tuple[float, int]:
        seconds, _ = timed(
            lambda: model_input(image, engine.input_width, engine.input_height, dtype)
        )
        return seconds, 0

    progress(f"detect: {plan.fast_repetitions} rounds, {settings.threads or 'all'} thread(s)")
    try:
        runs = interleaved(
            {"raw": bare, "runtime": runtime, "preprocess": preprocess}, plan.fast_repetitions
        )
    finally:
        engine.close()
    name = "Detection YOLOv8 ONNX"
    counts = sorted({n for _, n in runs["raw"]} | {n for _, n in runs["runtime"]})
    section = Section()
    section.rows = [
        Row(
            name,
            "latency, 640x480 frame",
            "ms",
            stats([1000 * s for s, _ in runs["runtime"]]),
            stats([1000 * s for s, _ in runs["raw"]]),
            digits=1,
        ),
        Row(
            name,
            "of which letterbox + tensor (runtime only)",
            "ms",
            stats([1000 * s for s, _ in runs["preprocess"]]),
            digits=2,
        ),
    ]
    section.notes = [
        f"{name}: {model.id} ({engine.input_width}x{engine.input_height},"
        f" {np.dtype(dtype).name}); raw = session.run on a tensor made beforehand +"
        f" the engine's numpy postprocessing; detections per frame: {counts}."
    ]
    section.details = {"model": model.id, **{k: v for k, v in runs.items()}}
    return section
