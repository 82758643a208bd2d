"""OCR: RapidOCR alone (with the engine's arguments) against the engine."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from benchmarks.common import Row, interleaved, progress
from benchmarks.engines.base import Plan, Section, load_runtime, stats, timed
from hal.camera import Frame
from runtime.modelstore import ModelStore
from runtime.ocr.rapidocr import RapidOcrParams, RapidOcrTextRecognizer, rapidocr_arguments
from runtime.params import parse_params

OCR_MODEL = "rapidocr:ppocrv4"
OCR_LINES = ("Invoice 2024-117: three items, paid by card", "Total due 148.50 EUR by 30 June")
"""The two lines rendered for OCR."""
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def ocr_image() -> npt.NDArray[np.uint8]:
    """A 900x160 RGB image with two lines of dark text on white."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 160), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 40) if FONT.is_file() else ImageFont.load_default(40)
    for index, line in enumerate(OCR_LINES):
        draw.text((24, 20 + 64 * index), line, fill=(20, 20, 20), font=font)
    return np.asarray(image, dtype=np.uint8)


def bench_ocr(store: ModelStore, plan: Plan) -> Section:
    """Latency of RapidOCR alone (the engine's arguments) against the engine."""
    loaded, model, params = load_runtime(store, OCR_MODEL, plan.thread_params)
    engine = cast(RapidOcrTextRecognizer, loaded)
    from rapidocr_onnxruntime import RapidOCR

    raw = RapidOCR(
        **rapidocr_arguments(model.path, parse_params(RapidOcrParams, params, OCR_MODEL))
    )
    rgb = ocr_image()
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    frame = Frame(rgb)

    def bare() -> tuple[float, str]:
        seconds, (result, _elapsed) = timed(lambda: raw(bgr))
        return seconds, " / ".join(str(line[1]) for line in result or ())

    def runtime() -> tuple[float, str]:
        seconds, lines = timed(lambda: engine.recognize(frame))
        return seconds, " / ".join(line.text for line in lines)

    progress(f"ocr: {plan.repetitions} rounds")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.repetitions)
    finally:
        engine.close()
    texts = {text for _, text in runs["runtime"]} | {text for _, text in runs["raw"]}
    section = Section()
    section.rows = [
        Row(
            "OCR RapidOCR",
            "latency, 900x160 two-line image",
            "ms",
            stats([1000 * s for s, _ in runs["runtime"]]),
            stats([1000 * s for s, _ in runs["raw"]]),
            digits=1,
        )
    ]
    section.notes = [
        f"OCR RapidOCR: {model.id}; the same text on both sides: "
        f"{'yes' if len(texts) == 1 else 'NO'} ({sorted(texts)[0]!r})."
    ]
    section.details = {"model": model.id, "raw": runs["raw"], "runtime": runs["runtime"]}
    return section
