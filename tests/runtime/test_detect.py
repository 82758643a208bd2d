"""Object detection: YOLO output decoding, the ONNX engine on the tiny generated model and
the real fall detector, and the optional Ultralytics engine's missing-extra path."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hal.camera import Frame
from runtime.detect.base import Detection, DetectOptions
from runtime.detect.geometry import Letterbox
from runtime.detect.ultralytics import UltralyticsObjectDetector, export_to_onnx
from runtime.detect.yolo_onnx import (
    YoloOnnxObjectDetector,
    check_options,
    class_ids_for,
    decode_predictions,
    parse_names,
    postprocess,
)
from runtime.engines import load_engine
from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.testing.tiny_yolo import COCO_NAMES, NOISE_MAX_SCORE, make_tiny_yolo

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 255, 255)


def picture(
    size: tuple[int, int], shapes: list[tuple[tuple[int, int, int, int], tuple[int, int, int]]]
) -> Frame:
    """A white image with filled rectangles (x1, y1, x2, y2 inclusive, Pillow style)."""
    image = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(image)
    for box, colour in shapes:
        draw.rectangle(box, fill=colour)
    return Frame(np.asarray(image), source="test")


def assert_box(detection: Detection, expected: tuple[float, float, float, float]) -> None:
    # Bilinear resizing blurs the edges by about one source pixel at these scales.
    assert detection.box == pytest.approx(expected, abs=2.0)


# --- Pure decoding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{0: 'Normal', 1: 'Fall'}", ("Normal", "Fall")),
        ("{1: 'b', 0: 'a'}", ("a", "b")),
        ("['x', 'y']", ("x", "y")),
        ("{}", ()),
        (repr(dict(enumerate(COCO_NAMES))), COCO_NAMES),
    ],
)
def test_parse_names(text: str, expected: tuple[str, ...]) -> None:
    assert parse_names(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo pwned')",  # code is never run
        "{0: 'a', 2: 'c'}",  # a gap in the ids
        "{1: 'a'}",
        "{'0': 'a'}",
        "{True: 'a'}",
        "{0: 1}",
        "'person'",
        "[1, 2]",
        "{0: 'a'",
        "",
    ],
)
def test_parse_names_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="names"):
        parse_names(text)


@pytest.mark.parametrize(
    ("classes", "expected"),
    [((), None), (("car",), [2]), (("car", "person", "car"), [0, 2])],
)
def test_class_ids_for(classes: tuple[str, ...], expected: list[int] | None) -> None:
    ids = class_ids_for(("person", "bicycle", "car"), classes)
    assert (ids.tolist() if ids is not None else None) == expected


def test_class_ids_for_unknown_class() -> None:
    with pytest.raises(UnsupportedInput, match="unicorn") as caught:
        class_ids_for(("person",), ("unicorn",))
    assert caught.value.field == "classes"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (DetectOptions(confidence_threshold=-0.1), "confidence_threshold"),
        (DetectOptions(confidence_threshold=1.5), "confidence_threshold"),
        (DetectOptions(confidence_threshold=float("nan")), "confidence_threshold"),
        (DetectOptions(iou_threshold=2.0), "iou_threshold"),
        (DetectOptions(max_detections=0), "max_detections"),
    ],
)
def test_check_options_rejects(options: DetectOptions, field: str) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        check_options(options)
    assert caught.value.field == field


def head(*anchors: tuple[float, float, float, float, list[float]]) -> np.ndarray:
    """A ``[4 + nc, N]`` head output from (cx, cy, w, h, class scores) anchors."""
    return np.array([[*a[:4], *a[4]] for a in anchors], dtype=np.float32).T


def test_decode_predictions_takes_the_best_class_over_the_threshold() -> None:
    prediction = head(
        (50, 50, 20, 10, [0.1, 0.8, 0.3]),
        (10, 10, 4, 4, [0.2, 0.1, 0.0]),  # best class below the threshold
        (100, 60, 10, 10, [0.25, 0.0, 0.0]),  # exactly at the threshold: kept
    )
    boxes, scores, class_ids = decode_predictions(prediction, 0.25)
    np.testing.assert_allclose(boxes, [[40, 45, 60, 55], [95, 55, 105, 65]])
    np.testing.assert_allclose(scores, [0.8, 0.25])
    assert class_ids.tolist() == [1, 0]


IDENTITY = Letterbox(1.0, 0, 0, 640, 640, 640, 640)
LABELS = ("person", "bicycle", "car")


@pytest.mark.parametrize(
    ("options", "wanted", "expected"),
    [
        # Overlapping boxes of one class: the better one stays; other classes are kept.
        (DetectOptions(), None, [("bicycle", 0.9), ("person", 0.7), ("car", 0.3)]),
        (DetectOptions(max_detections=2), None, [("bicycle", 0.9), ("person", 0.7)]),
        (DetectOptions(confidence_threshold=0.5), None, [("bicycle", 0.9), ("person", 0.7)]),
        # A loose IoU threshold lets the overlapping person box through.
        (
            DetectOptions(iou_threshold=0.95),
            None,
            [("bicycle", 0.9), ("person", 0.7), ("person", 0.6), ("car", 0.3)],
        ),
        (DetectOptions(), np.array([0, 2]), [("person", 0.7), ("car", 0.3)]),
    ],
)
def test_postprocess_table(
    options: DetectOptions, wanted: np.ndarray | None, expected: list[tuple[str, float]]
) -> None:
    prediction = head(
        (100, 100, 50, 50, [0.7, 0.0, 0.0]),
        (102, 102, 50, 50, [0.6, 0.0, 0.0]),
        (100, 100, 50, 50, [0.0, 0.9, 0.0]),
        (400, 400, 20, 20, [0.0, 0.0, 0.3]),
        (500, 500, 20, 20, [0.0, 0.0, 0.1]),
    )
    found = postprocess(prediction, IDENTITY, 640, 640, options, LABELS, wanted)
    assert [(d.label, round(d.confidence, 3)) for d in found] == expected


def test_postprocess_maps_boxes_back_to_the_source() -> None:
    prediction = head((250, 290, 100, 100, [0.0, 0.0, 0.9]))
    layout = Letterbox(0.5, 0, 140, 640, 360, 640, 640)
    (found,) = postprocess(prediction, layout, 1280, 720, DetectOptions(), LABELS, None)
    assert (found.label, found.class_id) == ("car", 2)
    assert found.confidence == pytest.approx(0.9)
    assert found.box == (400.0, 200.0, 600.0, 400.0)


# --- The tiny generated model ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-yolo")
    make_tiny_yolo(folder / "tiny.onnx")
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> Iterator[YoloOnnxObjectDetector]:
    detector = YoloOnnxObjectDetector.load("tiny-yolo:test", tiny_dir, {"threads": 1})
    yield detector
    detector.close()


def test_tiny_model_is_deterministic_and_small(tmp_path: Path) -> None:
    first = make_tiny_yolo(tmp_path / "a.onnx")
    second = make_tiny_yolo(tmp_path / "b.onnx")
    other_seed = make_tiny_yolo(tmp_path / "c.onnx", seed=1)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(second.read_bytes()).hexdigest()
    assert digest != hashlib.sha256(other_seed.read_bytes()).hexdigest()
    assert 500_000 < first.stat().st_size < 1_500_000


def test_tiny_model_has_yolov8_shapes_and_coco_names(tiny: YoloOnnxObjectDetector) -> None:
    assert tiny.labels == COCO_NAMES
    assert (tiny.input_width, tiny.input_height) == (640, 640)


def test_tiny_model_finds_rectangles_with_labels_and_source_coordinates(
    tiny: YoloOnnxObjectDetector,
) -> None:
    frame = picture((1280, 720), [((400, 200, 599, 399), RED), ((900, 500, 1099, 649), GREEN)])
    red, green = tiny.detect(frame, DetectOptions())
    assert (red.label, red.class_id) == ("person", 0)
    assert_box(red, (400, 200, 600, 400))
    assert (green.label, green.class_id) == ("bicycle", 1)
    assert_box(green, (900, 500, 1100, 650))
    assert red.confidence > green.confidence > 0.9


@pytest.mark.parametrize(
    ("size", "rectangle", "expected"),
    [
        ((480, 640), (10, 300, 109, 419), (10, 300, 110, 420)),  # portrait: bars at the sides
        ((320, 200), (20, 20, 79, 59), (20, 20, 80, 60)),  # small image: scaled up
        ((640, 640), (0, 0, 99, 99), (0, 0, 100, 100)),  # no letterbox at all
    ],
)
def test_tiny_model_box_rescaling(
    tiny: YoloOnnxObjectDetector,
    size: tuple[int, int],
    rectangle: tuple[int, int, int, int],
    expected: tuple[float, float, float, float],
) -> None:
    (found,) = tiny.detect(picture(size, [(rectangle, BLUE)]), DetectOptions())
    assert found.label == "car"
    assert_box(found, expected)


def test_tiny_model_class_filter(tiny: YoloOnnxObjectDetector) -> None:
    frame = picture((640, 480), [((10, 10, 109, 109), RED), ((300, 300, 399, 399), BLUE)])
    assert [d.label for d in tiny.detect(frame, DetectOptions(classes=("car",)))] == ["car"]
    assert tiny.detect(frame, DetectOptions(classes=("dog",))) == []
    with pytest.raises(UnsupportedInput):
        tiny.detect(frame, DetectOptions(classes=("unicorn",)))


def test_tiny_model_nothing_to_find(tiny: YoloOnnxObjectDetector) -> None:
    assert tiny.detect(picture((300, 200), []), DetectOptions()) == []


def test_tiny_model_thresholds_and_limit(tiny: YoloOnnxObjectDetector) -> None:
    frame = picture((640, 640), [((100, 100, 199, 199), RED)])
    low = DetectOptions(confidence_threshold=0.05, iou_threshold=0.5, max_detections=50)
    found = tiny.detect(frame, low)
    assert len(found) == 50
    assert found[0].label == "person"
    assert found[0].confidence > 0.9
    assert all(d.confidence < NOISE_MAX_SCORE for d in found[1:])
    scores = [d.confidence for d in found]
    assert scores == sorted(scores, reverse=True)
    for d in found:
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 <= x2 <= 640
        assert 0 <= y1 <= y2 <= 640


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 4), np.uint8),
        np.zeros((100, 100, 3), np.float32),
    ],
)
def test_tiny_model_rejects_bad_images(tiny: YoloOnnxObjectDetector, image: Any) -> None:
    with pytest.raises(UnsupportedInput):
        tiny.detect(Frame(image), DetectOptions())


def test_half_precision_export(tmp_path: Path) -> None:
    make_tiny_yolo(tmp_path / "half.onnx", num_classes=3, half=True)
    detector = YoloOnnxObjectDetector.load("tiny-yolo:half", tmp_path, {})
    frame = picture((800, 600), [((100, 100, 299, 199), GREEN)])
    (found,) = detector.detect(frame, DetectOptions())
    assert detector.labels == ("person", "bicycle", "car")
    assert found.label == "bicycle"
    assert found.box == pytest.approx((100, 100, 300, 200), abs=3.0)


def test_labels_parameter_overrides_the_metadata(tmp_path: Path) -> None:
    make_tiny_yolo(tmp_path / "three.onnx", num_classes=3)
    labels = ["red thing", "green thing", "blue thing"]
    detector = YoloOnnxObjectDetector.load("tiny-yolo:3", tmp_path, {"labels": labels})
    (found,) = detector.detect(picture((200, 200), [((0, 0, 49, 49), RED)]), DetectOptions())
    assert found.label == "red thing"
    with pytest.raises(UnsupportedInput, match="labels"):
        YoloOnnxObjectDetector.load("tiny-yolo:3", tmp_path, {"labels": ["a", "b"]})


@pytest.mark.parametrize(
    "params",
    [{"nonsense": 1}, {"threads": -1}, {"labels": "person"}, {"input_size": 7}],
)
def test_bad_params(tiny_dir: Path, params: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedInput):
        YoloOnnxObjectDetector.load("tiny-yolo:test", tiny_dir, params)


def test_missing_model(tmp_path: Path, tiny_dir: Path) -> None:
    with pytest.raises(ModelNotInstalled):
        YoloOnnxObjectDetector.load("yolo11n:onnx", tmp_path, {})
    with pytest.raises(ModelNotInstalled):
        YoloOnnxObjectDetector.load("yolo11n:onnx", tiny_dir, {"model_file": "yolo11n.onnx"})


def test_several_models_need_model_file(tmp_path: Path) -> None:
    make_tiny_yolo(tmp_path / "a.onnx", num_classes=3)
    make_tiny_yolo(tmp_path / "b.onnx", num_classes=4)
    with pytest.raises(UnsupportedInput, match="model_file"):
        YoloOnnxObjectDetector.load("tiny-yolo:x", tmp_path, {})
    detector = YoloOnnxObjectDetector.load("tiny-yolo:x", tmp_path, {"model_file": "b.onnx"})
    assert len(detector.labels) == 4


@pytest.mark.parametrize(
    ("names", "expected"),
    [(None, ("class0", "class1", "class2")), ("{0: 'a', 1: 'b', 2: 'c'}", ("a", "b", "c"))],
)
def test_labels_without_or_with_other_metadata(
    tmp_path: Path, names: str | None, expected: tuple[str, ...]
) -> None:
    import onnx

    model = onnx.load(make_tiny_yolo(tmp_path / "m.onnx", num_classes=3))
    kept = [p for p in model.metadata_props if p.key != "names"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    if names is not None:
        model.metadata_props.add(key="names", value=names)
    onnx.save(model, tmp_path / "m.onnx")
    assert YoloOnnxObjectDetector.load("m:x", tmp_path, {}).labels == expected


@pytest.mark.parametrize(
    ("names", "message"),
    [("{0: 'a'}", "metadata names 1"), ("os.system('x')", "bad names metadata")],
)
def test_bad_names_metadata(tmp_path: Path, names: str, message: str) -> None:
    import onnx

    model = onnx.load(make_tiny_yolo(tmp_path / "m.onnx", num_classes=3))
    for prop in model.metadata_props:
        if prop.key == "names":
            prop.value = names
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(EngineError, match=message):
        YoloOnnxObjectDetector.load("m:x", tmp_path, {})


def test_not_an_onnx_model(tmp_path: Path) -> None:
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(EngineError, match=r"broken\.onnx"):
        YoloOnnxObjectDetector.load("broken:x", tmp_path, {})


def test_closed_detector(tiny_dir: Path) -> None:
    detector = YoloOnnxObjectDetector.load("tiny-yolo:test", tiny_dir, {})
    detector.close()
    with pytest.raises(EngineError, match="closed"):
        detector.detect(picture((64, 64), []), DetectOptions())


def test_engine_registry_loads_it(tiny_dir: Path) -> None:
    detector = load_engine("yolo_onnx", "tiny-yolo:test", tiny_dir, {})
    assert isinstance(detector, YoloOnnxObjectDetector)
    detector.close()


# --- The real fall detector (offline profile) --------------------------------------------


@pytest.mark.real_model
def test_fall_detector_runs(model_dir: Callable[[str], Path]) -> None:
    detector = YoloOnnxObjectDetector.load("yolov8-fall:fp16", model_dir("yolov8-fall:fp16"), {})
    try:
        assert detector.labels == ("Normal", "Fall")
        assert (detector.input_width, detector.input_height) == (640, 640)
        image = Image.new("RGB", (640, 480), (180, 200, 220))
        draw = ImageDraw.Draw(image)
        draw.ellipse((300, 80, 340, 120), fill=(230, 190, 160))  # a stick figure
        draw.rectangle((305, 120, 335, 260), fill=(40, 60, 160))
        draw.line((310, 260, 290, 400), fill=(30, 30, 30), width=12)
        draw.line((330, 260, 350, 400), fill=(30, 30, 30), width=12)
        frame = Frame(np.asarray(image))
        found = detector.detect(frame, DetectOptions())
        assert isinstance(found, list)
        assert all(d.label in detector.labels for d in found)
        # At a very low threshold something always comes out, inside the image.
        loose = detector.detect(frame, DetectOptions(confidence_threshold=0.001))
        assert loose
        for d in loose:
            assert 0 <= d.box[0] <= d.box[2] <= 640
            assert 0 <= d.box[1] <= d.box[3] <= 480
    finally:
        detector.close()


# --- The optional Ultralytics engine -----------------------------------------------------

ULTRALYTICS_INSTALLED = importlib.util.find_spec("ultralytics") is not None


@pytest.mark.skipif(ULTRALYTICS_INSTALLED, reason="the extra is installed: nothing is missing")
def test_ultralytics_missing_extra_names_the_install_command(tmp_path: Path) -> None:
    (tmp_path / "yolo11n.pt").write_bytes(b"weights")
    with pytest.raises(EngineError, match=r"pip install 'edge-assistant\[ultralytics\]'"):
        UltralyticsObjectDetector.load("yolo11n:pt", tmp_path, {})
    with pytest.raises(EngineError, match=r"pip install 'edge-assistant\[ultralytics\]'"):
        export_to_onnx(tmp_path / "yolo11n.pt", tmp_path / "yolo11n.onnx")


def test_ultralytics_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled):
        UltralyticsObjectDetector.load("yolo11n:pt", tmp_path, {})
    with pytest.raises(UnsupportedInput):
        export_to_onnx(tmp_path / "absent.pt", tmp_path / "out.onnx")
    with pytest.raises(UnsupportedInput):
        UltralyticsObjectDetector.load("yolo11n:pt", tmp_path, {"input_size": 1})
