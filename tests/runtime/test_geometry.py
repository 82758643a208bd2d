"""Letterbox, box conversions, IoU and NMS: tables and invariants."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.detect.geometry import (
    PAD_VALUE,
    Letterbox,
    batched_nms,
    box_area,
    box_iou,
    check_image,
    letterbox,
    letterbox_layout,
    nms,
    resize_bilinear,
    top_k,
    unletterbox_boxes,
    xywh_to_xyxy,
)
from runtime.errors import UnsupportedInput


def boxes(*rows: tuple[float, float, float, float]) -> npt.NDArray[np.float32]:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        # Landscape: full width, bars above and below.
        ((1280, 720), (640, 640), Letterbox(0.5, 0, 140, 640, 360, 640, 640)),
        # Portrait: full height, bars left and right.
        ((480, 640), (640, 640), Letterbox(1.0, 80, 0, 480, 640, 640, 640)),
        # Already the right size: untouched.
        ((640, 640), (640, 640), Letterbox(1.0, 0, 0, 640, 640, 640, 640)),
        # Small images are scaled up (as Ultralytics does for inference).
        ((320, 160), (640, 640), Letterbox(2.0, 0, 160, 640, 320, 640, 640)),
        # An odd padding puts the extra row below (Ultralytics' rounding).
        ((640, 639), (640, 640), Letterbox(1.0, 0, 0, 640, 639, 640, 640)),
        ((640, 637), (640, 640), Letterbox(1.0, 0, 1, 640, 637, 640, 640)),
        # Non-square model input.
        ((1000, 1000), (320, 256), Letterbox(0.256, 32, 0, 256, 256, 320, 256)),
        # Extreme aspect: never thinner than one pixel.
        ((10000, 1), (640, 640), Letterbox(0.064, 0, 319, 640, 1, 640, 640)),
    ],
)
def test_letterbox_layout(
    source: tuple[int, int], target: tuple[int, int], expected: Letterbox
) -> None:
    assert letterbox_layout(*source, *target) == expected


@pytest.mark.parametrize("sizes", [(0, 10, 640, 640), (10, 0, 640, 640), (10, 10, 0, 640)])
def test_letterbox_layout_rejects_empty_sizes(sizes: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        letterbox_layout(*sizes)


def test_letterbox_pads_with_grey_and_places_the_image() -> None:
    image = np.zeros((720, 1280, 3), dtype=np.uint8)
    image[:, :, 0] = 255
    canvas, layout = letterbox(image)
    assert canvas.shape == (640, 640, 3)
    assert canvas.dtype == np.uint8
    assert (canvas[: layout.pad_top] == PAD_VALUE).all()
    assert (canvas[layout.pad_top + layout.resized_height :] == PAD_VALUE).all()
    inside = canvas[layout.pad_top : layout.pad_top + layout.resized_height]
    assert (inside[..., 0] == 255).all()
    assert (inside[..., 1:] == 0).all()


@pytest.mark.parametrize(
    ("image", "size", "expected"),
    [
        # Halving averages neighbouring pairs.
        ([[0, 100, 200, 250]], (2, 1), [[50, 225]]),
        # Doubling interpolates between pixel centres and clamps at the edges.
        ([[0, 100]], (4, 1), [[0, 25, 75, 100]]),
        # Same size: a copy.
        ([[7, 9]], (2, 1), [[7, 9]]),
    ],
)
def test_resize_bilinear_table(
    image: list[list[int]], size: tuple[int, int], expected: list[list[int]]
) -> None:
    pixels = np.array(image, dtype=np.uint8)[..., None]
    resized = resize_bilinear(pixels, *size)
    assert resized[..., 0].tolist() == expected


def test_resize_bilinear_matches_opencv() -> None:
    import cv2  # a RapidOCR dependency (vision extra); our resize itself needs none

    image = np.random.default_rng(1).integers(0, 256, (97, 211, 3), dtype=np.uint8)
    for width, height in ((64, 29), (300, 140), (211, 97), (500, 500)):
        ours = resize_bilinear(image, width, height).astype(int)
        theirs = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        assert np.abs(ours - theirs).max() <= 1


@pytest.mark.parametrize(
    ("model_boxes", "layout", "source", "expected"),
    [
        (
            boxes((200, 240, 300, 340)),
            Letterbox(0.5, 0, 140, 640, 360, 640, 640),
            (1280, 720),
            boxes((400, 200, 600, 400)),
        ),
        (
            boxes((80, 0, 560, 640)),
            Letterbox(1.0, 80, 0, 480, 640, 640, 640),
            (480, 640),
            boxes((0, 0, 480, 640)),
        ),
        # Boxes reaching into the padding are clipped to the image.
        (
            boxes((-10, 100, 700, 600)),
            Letterbox(0.5, 0, 140, 640, 360, 640, 640),
            (1280, 720),
            boxes((0, 0, 1280, 720)),
        ),
        (np.zeros((0, 4), np.float32), Letterbox(1.0, 0, 0, 1, 1, 1, 1), (1, 1), boxes()),
    ],
)
def test_unletterbox_boxes(
    model_boxes: np.ndarray, layout: Letterbox, source: tuple[int, int], expected: np.ndarray
) -> None:
    np.testing.assert_allclose(unletterbox_boxes(model_boxes, layout, *source), expected)


@given(
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
    corners=st.tuples(*(st.floats(0.0, 1.0) for _ in range(4))),
)
def test_unletterbox_inverts_letterbox(
    width: int, height: int, corners: tuple[float, float, float, float]
) -> None:
    layout = letterbox_layout(width, height)
    x1, x2 = sorted((corners[0] * width, corners[2] * width))
    y1, y2 = sorted((corners[1] * height, corners[3] * height))
    source = boxes((x1, y1, x2, y2))
    offset = np.array([layout.pad_left, layout.pad_top] * 2, dtype=np.float32)
    model = (source * layout.scale + offset).astype(np.float32)
    back = unletterbox_boxes(model, layout, width, height)
    np.testing.assert_allclose(back, source, atol=1e-3 * max(width, height))


@pytest.mark.parametrize(
    ("xywh", "xyxy"),
    [
        ((50, 50, 20, 10), (40, 45, 60, 55)),
        ((0, 0, 0, 0), (0, 0, 0, 0)),
        ((320.5, 100, 1, 3), (320, 98.5, 321, 101.5)),
    ],
)
def test_xywh_to_xyxy(
    xywh: tuple[float, float, float, float], xyxy: tuple[float, float, float, float]
) -> None:
    np.testing.assert_allclose(xywh_to_xyxy(boxes(xywh)), boxes(xyxy))


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150),
        ((0, 0, 10, 10), (10, 0, 20, 10), 0.0),  # touching
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),
        ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100),  # inside
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # empty boxes: no division by zero
    ],
)
def test_box_iou_table(first: Any, second: Any, expected: float) -> None:
    assert box_iou(boxes(first), boxes(second))[0, 0] == pytest.approx(expected)
    assert box_iou(boxes(second), boxes(first))[0, 0] == pytest.approx(expected)


def test_box_iou_shape_and_area() -> None:
    assert box_iou(boxes((0, 0, 1, 1), (0, 0, 2, 2)), boxes((0, 0, 1, 1))).shape == (2, 1)
    np.testing.assert_allclose(box_area(boxes((0, 0, 2, 3), (5, 5, 4, 4))), [6, 0])


@pytest.mark.parametrize(
    ("rows", "scores", "threshold", "expected"),
    [
        # Heavy overlap: only the best survives.
        ([(0, 0, 10, 10), (1, 1, 11, 11), (0, 0, 10, 9)], [0.9, 0.8, 0.7], 0.5, [0]),
        # Disjoint boxes all survive, best first.
        ([(0, 0, 10, 10), (20, 20, 30, 30), (40, 40, 50, 50)], [0.2, 0.9, 0.5], 0.5, [1, 2, 0]),
        # IoU exactly at the threshold is kept (suppression needs more than it).
        ([(0, 0, 10, 10), (5, 0, 15, 10)], [0.9, 0.8], 1 / 3, [0, 1]),
        ([(0, 0, 10, 10), (5, 0, 15, 10)], [0.9, 0.8], 0.3, [0]),
        # A suppressed box does not suppress others (greedy, not transitive).
        ([(0, 0, 10, 10), (6, 0, 16, 10), (12, 0, 22, 10)], [0.9, 0.8, 0.7], 0.2, [0, 2]),
        # Equal scores: input order decides.
        ([(0, 0, 10, 10), (0, 0, 10, 10)], [0.5, 0.5], 0.5, [0]),
        ([], [], 0.5, []),
    ],
)
def test_nms_table(
    rows: list[tuple[float, float, float, float]],
    scores: list[float],
    threshold: float,
    expected: list[int],
) -> None:
    kept = nms(boxes(*rows), np.array(scores, np.float32), threshold)
    assert kept.tolist() == expected


def test_batched_nms_keeps_overlapping_boxes_of_other_classes() -> None:
    rows = boxes((0, 0, 10, 10), (1, 1, 11, 11), (0, 0, 10, 10), (30, 30, 40, 40))
    scores = np.array([0.6, 0.9, 0.8, 0.1], np.float32)
    class_ids = np.array([0, 0, 1, 0], np.int64)
    assert batched_nms(rows, scores, class_ids, 0.5).tolist() == [1, 2, 3]
    assert batched_nms(boxes(), np.zeros(0, np.float32), np.zeros(0, np.int64), 0.5).size == 0


@pytest.mark.parametrize(
    ("scores", "k", "expected"),
    [([0.1, 0.9, 0.5], 2, [1, 2]), ([0.1, 0.9], 5, [1, 0]), ([0.3], 0, []), ([], 3, [])],
)
def test_top_k(scores: list[float], k: int, expected: list[int]) -> None:
    assert top_k(np.array(scores, np.float32), k).tolist() == expected


def test_top_k_rejects_negative_k() -> None:
    with pytest.raises(ValueError, match="negative"):
        top_k(np.zeros(2, np.float32), -1)


@st.composite
def scored_boxes(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    count = draw(st.integers(0, 40))
    coordinate = st.floats(0, 200, allow_nan=False, width=32)
    side = st.floats(0, 100, allow_nan=False, width=32)
    rows = []
    for _ in range(count):
        x, y, w, h = draw(coordinate), draw(coordinate), draw(side), draw(side)
        rows.append((x, y, x + w, y + h))
    scores = draw(st.lists(st.floats(0, 1, width=32), min_size=count, max_size=count))
    class_ids = draw(st.lists(st.integers(0, 2), min_size=count, max_size=count))
    return (boxes(*rows), np.array(scores, np.float32), np.array(class_ids, np.int64))


@settings(max_examples=200, deadline=None)
@given(data=scored_boxes(), threshold=st.floats(0.0, 1.0))
def test_batched_nms_invariants(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: float
) -> None:
    rows, scores, class_ids = data
    kept = batched_nms(rows, scores, class_ids, threshold)
    # A subset of the input, each box at most once.
    assert len(set(kept.tolist())) == len(kept)
    assert all(0 <= i < len(rows) for i in kept.tolist())
    # Best first.
    assert (np.diff(scores[kept]) <= 0).all()
    # Within a class, no two kept boxes overlap more than the threshold.
    for class_id in np.unique(class_ids[kept]):
        same = kept[class_ids[kept] == class_id]
        iou = box_iou(rows[same], rows[same])
        np.fill_diagonal(iou, 0.0)
        assert (iou <= threshold + 1e-6).all()
    # The best box of every class present is always kept.
    for class_id in np.unique(class_ids):
        members = np.flatnonzero(class_ids == class_id)
        assert scores[members].max() in scores[kept[class_ids[kept] == class_id]]


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((10, 0, 3), np.uint8),
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros(30, np.uint8),
        "not an image",
        None,
    ],
)
def test_check_image_rejects_non_images(image: Any) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        check_image(image)
    assert caught.value.field == "image"


def test_check_image_accepts_rgb() -> None:
    image = np.zeros((2, 3, 3), np.uint8)
    assert check_image(image) is image
