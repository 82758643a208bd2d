"""OCR: RapidOCR's arguments and results, and the real PP-OCRv4 models on rendered text."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from hal.camera import Frame
from runtime.engines import load_engine
from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.ocr.base import OcrLine
from runtime.ocr.rapidocr import (
    CLASSIFIER_FILE,
    DETECTION_FILE,
    RECOGNITION_FILE,
    RapidOcrParams,
    RapidOcrTextRecognizer,
    lines_from_result,
    rapidocr_arguments,
)

MODEL_ID = "rapidocr:ppocrv4"


def rendered(lines: list[str], size: tuple[int, int] = (900, 160)) -> Frame:
    """Black text on white, one line every 70 px, in Pillow's built-in font (no system fonts)."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    for row, text in enumerate(lines):
        draw.text((20, 15 + 70 * row), text, fill="black", font=font)
    return Frame(np.asarray(image), source="rendered")


# --- Pure helpers ------------------------------------------------------------------------


def test_rapidocr_arguments_point_only_into_the_model_folder(tmp_path: Path) -> None:
    arguments = rapidocr_arguments(tmp_path, RapidOcrParams(threads=2, use_cls=False))
    assert arguments["det_model_path"] == str(tmp_path / DETECTION_FILE)
    assert arguments["rec_model_path"] == str(tmp_path / RECOGNITION_FILE)
    assert arguments["cls_model_path"] == str(tmp_path / CLASSIFIER_FILE)
    assert arguments["intra_op_num_threads"] == 2
    assert arguments["use_cls"] is False
    assert arguments["det_limit_type"] == "max"
    paths = [value for key, value in arguments.items() if key.endswith("_path")]
    assert len(paths) == 3
    assert all(Path(path).parent == tmp_path for path in paths)


@pytest.mark.parametrize(
    ("params", "limit_type", "side", "threads"),
    [
        (RapidOcrParams(), "max", 736, -1),
        (RapidOcrParams(upscale_shorter_side=736, threads=1), "min", 736, 1),
        (RapidOcrParams(upscale_shorter_side=320), "min", 320, -1),
    ],
)
def test_rapidocr_arguments_table(
    params: RapidOcrParams, limit_type: str, side: int, threads: int
) -> None:
    arguments = rapidocr_arguments(Path("/models"), params)
    assert arguments["det_limit_type"] == limit_type
    assert arguments["det_limit_side_len"] == side
    assert arguments["intra_op_num_threads"] == threads


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, []),
        ([], []),
        (
            [[[[1, 2], [30, 2], [30, 12], [1, 12]], "Hi", 0.97]],
            [OcrLine("Hi", 0.97, ((1.0, 2.0), (30.0, 2.0), (30.0, 12.0), (1.0, 12.0)))],
        ),
        # Scores are clipped into [0, 1] and numpy values become plain floats.
        (
            [[np.zeros((4, 2), np.float32), "x", np.float32(1.2)]],
            [OcrLine("x", 1.0, ((0.0, 0.0),) * 4)],
        ),
        # Blank readings are no lines.
        ([[np.zeros((4, 2), np.float32), "  ", 0.68]], []),
    ],
)
def test_lines_from_result(result: Any, expected: list[OcrLine]) -> None:
    lines = lines_from_result(result)
    assert lines == expected
    assert all(type(line.confidence) is float for line in lines)


@pytest.mark.parametrize(
    "params",
    [
        {"nonsense": True},
        {"text_score": 1.5},
        {"box_threshold": -0.1},
        {"unclip_ratio": 0},
        {"upscale_shorter_side": 5},
        {"threads": -1},
    ],
)
def test_bad_params(tmp_path: Path, params: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedInput):
        RapidOcrTextRecognizer.load(MODEL_ID, tmp_path, params)


def test_missing_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match="'rapidocr:ppocrv4' is not installed"):
        RapidOcrTextRecognizer.load(MODEL_ID, tmp_path, {})


# --- The real PP-OCRv4 models ------------------------------------------------------------


@pytest.fixture(scope="module")
def ocr(model_dir: Callable[[str], Path]) -> Iterator[RapidOcrTextRecognizer]:
    recognizer = RapidOcrTextRecognizer.load(MODEL_ID, model_dir(MODEL_ID), {})
    yield recognizer
    recognizer.close()


@pytest.mark.real_model
def test_reads_two_lines_top_to_bottom(ocr: RapidOcrTextRecognizer) -> None:
    lines = ocr.recognize(rendered(["Hello World", "Edge assistant 2026"]))
    assert [line.text.lower().split() for line in lines] == [
        ["hello", "world"],
        ["edge", "assistant", "2026"],
    ]
    first, second = lines
    assert all(line.confidence > 0.8 for line in lines)
    assert len(first.box) == 4
    # Clockwise from the top-left corner, inside the image, first line above the second.
    (x1, y1), (x2, _), (_, y3), _ = first.box
    assert 0 <= x1 < x2 <= 900
    assert 0 <= y1 < y3 <= 160
    assert max(y for _, y in first.box) <= min(y for _, y in second.box) + 5


@pytest.mark.real_model
def test_upside_down_text_with_the_angle_classifier(ocr: RapidOcrTextRecognizer) -> None:
    frame = rendered(["Edge assistant 2026"], size=(900, 90))
    flipped = Frame(np.ascontiguousarray(frame.image[::-1, ::-1]))
    (line,) = ocr.recognize(flipped)
    assert line.text.lower().split() == ["edge", "assistant", "2026"]


@pytest.mark.real_model
def test_empty_image_has_no_lines(ocr: RapidOcrTextRecognizer) -> None:
    assert ocr.recognize(Frame(np.full((200, 300, 3), 255, np.uint8))) == []
    assert ocr.recognize(Frame(np.zeros((1, 1, 3), np.uint8))) == []


@pytest.mark.real_model
@pytest.mark.parametrize(
    "image",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((0, 100, 3), np.uint8),
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 3), np.float64),
        "hello.png",
    ],
)
def test_rejects_non_images(ocr: RapidOcrTextRecognizer, image: Any) -> None:
    with pytest.raises(UnsupportedInput):
        ocr.recognize(Frame(image))


@pytest.mark.real_model
def test_text_score_parameter(model_dir: Callable[[str], Path]) -> None:
    strict = RapidOcrTextRecognizer.load(MODEL_ID, model_dir(MODEL_ID), {"text_score": 1.0})
    try:
        assert strict.recognize(rendered(["Hello World"])) == []
    finally:
        strict.close()


@pytest.mark.real_model
def test_loads_from_any_folder_through_the_registry(
    model_dir: Callable[[str], Path], tmp_path: Path
) -> None:
    # The files are used where the model store put them, under the manifest names.
    for name in (DETECTION_FILE, RECOGNITION_FILE, CLASSIFIER_FILE):
        shutil.copy(model_dir(MODEL_ID) / name, tmp_path / name)
    recognizer = load_engine("rapidocr", MODEL_ID, tmp_path, {"use_cls": False, "threads": 1})
    assert isinstance(recognizer, RapidOcrTextRecognizer)
    (tmp_path / CLASSIFIER_FILE).unlink()
    with pytest.raises(ModelNotInstalled):
        RapidOcrTextRecognizer.load(MODEL_ID, tmp_path, {})
    recognizer.close()
    with pytest.raises(EngineError, match="closed"):
        recognizer.recognize(rendered(["x"]))


@pytest.mark.real_model
def test_corrupt_model_is_a_backend_error(model_dir: Callable[[str], Path], tmp_path: Path) -> None:
    for name in (DETECTION_FILE, RECOGNITION_FILE, CLASSIFIER_FILE):
        shutil.copy(model_dir(MODEL_ID) / name, tmp_path / name)
    (tmp_path / DETECTION_FILE).write_bytes(b"not onnx")
    with pytest.raises(EngineError):
        RapidOcrTextRecognizer.load(MODEL_ID, tmp_path, {})
