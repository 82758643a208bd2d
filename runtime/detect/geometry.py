"""Image and box geometry for vision engines: the image check, letterbox and its
inverse, IoU, class-aware NMS, top-k.

Pure numpy: no I/O, no clock, no native library. Boxes are ``[N, 4]`` float arrays of
``x1, y1, x2, y2`` in pixels unless a name says ``xywh`` (centre x, centre y, width,
height, the layout YOLO heads emit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from runtime.errors import UnsupportedInput

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]

PAD_VALUE = 114
"""Grey used by Ultralytics to fill the letterbox borders."""


def check_image(image: Any) -> npt.NDArray[np.uint8]:
    """The frame's pixels if they are a non-empty H x W x 3 uint8 array, else UnsupportedInput."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise UnsupportedInput("the image must be a uint8 array", field="image")
    if image.ndim != 3 or image.shape[2] != 3:
        raise UnsupportedInput(
            f"the image must be height x width x 3 (RGB), not {image.shape}", field="image"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise UnsupportedInput("the image is empty (zero width or height)", field="image")
    return image


@dataclass(frozen=True)
class Letterbox:
    """Where a source image sits inside the model's padded input."""

    scale: float
    """Model-input pixels per source pixel (the same on both axes)."""
    pad_left: int
    """Columns of padding left of the resized image."""
    pad_top: int
    """Rows of padding above the resized image."""
    resized_width: int
    """Width of the resized image before padding."""
    resized_height: int
    """Height of the resized image before padding."""
    width: int
    """Width of the model input."""
    height: int
    """Height of the model input."""


def letterbox_layout(
    source_width: int, source_height: int, width: int = 640, height: int = 640
) -> Letterbox:
    """Fit ``source`` inside ``width`` x ``height`` keeping its aspect, centred (Ultralytics)."""
    if min(source_width, source_height, width, height) <= 0:
        raise ValueError("image and target sizes must be positive")
    scale = min(width / source_width, height / source_height)
    resized_width = min(width, max(1, round(source_width * scale)))
    resized_height = min(height, max(1, round(source_height * scale)))
    # Ultralytics rounds the two halves of an odd padding this way; matching it keeps
    # boxes identical to theirs.
    pad_left = round((width - resized_width) / 2 - 0.1)
    pad_top = round((height - resized_height) / 2 - 0.1)
    return Letterbox(
        scale=scale,
        pad_left=pad_left,
        pad_top=pad_top,
        resized_width=resized_width,
        resized_height=resized_height,
        width=width,
        height=height,
    )


def resize_bilinear(image: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """``image`` (H x W x C) resized with bilinear interpolation, pixel centres aligned.

    Matches OpenCV's ``INTER_LINEAR`` to within rounding, without needing OpenCV.
    """
    source_height, source_width = image.shape[:2]
    if (source_width, source_height) == (width, height):
        return image.copy()
    x0, x1, wx = _sample_positions(source_width, width)
    y0, y1, wy = _sample_positions(source_height, height)
    # Rows first, converting only the rows that are sampled: about 3x faster than
    # converting the whole image when shrinking a camera frame.
    top = image[y0].astype(np.float32)
    rows = top + (image[y1].astype(np.float32) - top) * wy[:, None, None]
    left = rows[:, x0]
    resized = left + (rows[:, x1] - left) * wx[None, :, None]
    np.rint(resized, out=resized)
    result: npt.NDArray[np.uint8] = np.clip(resized, 0, 255, out=resized).astype(np.uint8)
    return result


def _sample_positions(source: int, target: int) -> tuple[IndexArray, IndexArray, FloatArray]:
    """For each target pixel: the two source pixels around it and the weight of the second."""
    centres = (np.arange(target, dtype=np.float32) + 0.5) * (source / target) - 0.5
    centres = np.clip(centres, 0.0, source - 1)
    first = np.floor(centres).astype(np.int64)
    second = np.minimum(first + 1, source - 1)
    weight: FloatArray = (centres - first).astype(np.float32)
    return first, second, weight


def letterbox(
    image: npt.NDArray[np.uint8], width: int = 640, height: int = 640, fill: int = PAD_VALUE
) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """``image`` (H x W x 3) resized into ``width`` x ``height``, the rest filled with ``fill``."""
    layout = letterbox_layout(image.shape[1], image.shape[0], width, height)
    canvas = np.full((height, width, image.shape[2]), fill, dtype=np.uint8)
    resized = resize_bilinear(image, layout.resized_width, layout.resized_height)
    top, left = layout.pad_top, layout.pad_left
    canvas[top : top + layout.resized_height, left : left + layout.resized_width] = resized
    return canvas, layout


def unletterbox_boxes(
    boxes: FloatArray, layout: Letterbox, source_width: int, source_height: int
) -> FloatArray:
    """Boxes in model-input pixels mapped back to the source image, clipped to it."""
    offset = np.array(
        [layout.pad_left, layout.pad_top, layout.pad_left, layout.pad_top], dtype=np.float32
    )
    mapped = (np.asarray(boxes, dtype=np.float32).reshape(-1, 4) - offset) / layout.scale
    limits = np.array([source_width, source_height, source_width, source_height], np.float32)
    result: FloatArray = np.clip(mapped, 0.0, limits).astype(np.float32)
    return result


def xywh_to_xyxy(boxes: FloatArray) -> FloatArray:
    """Centre-size boxes to corner boxes."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    half = boxes[:, 2:4] / 2.0
    result: FloatArray = np.concatenate((boxes[:, 0:2] - half, boxes[:, 0:2] + half), axis=1)
    return result


def box_area(boxes: FloatArray) -> FloatArray:
    """Areas of corner boxes (zero for inverted ones)."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    widths = np.clip(boxes[:, 2] - boxes[:, 0], 0.0, None)
    heights = np.clip(boxes[:, 3] - boxes[:, 1], 0.0, None)
    result: FloatArray = widths * heights
    return result


def box_iou(first: FloatArray, second: FloatArray) -> FloatArray:
    """Intersection over union of every box in ``first`` with every box in ``second``."""
    a = np.asarray(first, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(second, dtype=np.float32).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    sides = np.clip(bottom_right - top_left, 0.0, None)
    intersection = sides[..., 0] * sides[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - intersection
    iou = np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0.0)
    result: FloatArray = iou.astype(np.float32)
    return result


def order_by_score(scores: FloatArray) -> IndexArray:
    """Indices from the best score to the worst; ties keep input order."""
    order: IndexArray = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
    return order.astype(np.int64)


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> IndexArray:
    """Greedy non-maximum suppression: indices kept, best score first.

    A box is dropped when its IoU with a better kept box is above ``iou_threshold``.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    remaining = order_by_score(scores)
    kept: list[int] = []
    while remaining.size:
        best = int(remaining[0])
        kept.append(best)
        rest = remaining[1:]
        overlaps = box_iou(boxes[best : best + 1], boxes[rest])[0]
        remaining = rest[overlaps <= iou_threshold]
    return np.array(kept, dtype=np.int64)


def batched_nms(
    boxes: FloatArray, scores: FloatArray, class_ids: IndexArray, iou_threshold: float
) -> IndexArray:
    """Class-aware NMS: boxes of different classes never suppress each other.

    Indices kept, best score first.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    class_ids = np.asarray(class_ids, dtype=np.int64).reshape(-1)
    kept = [
        members[nms(boxes[members], scores[members], iou_threshold)]
        for members in (np.flatnonzero(class_ids == c) for c in np.unique(class_ids))
    ]
    if not kept:
        return np.zeros(0, dtype=np.int64)
    merged = np.sort(np.concatenate(kept))
    result: IndexArray = merged[order_by_score(scores[merged])]
    return result


def top_k(scores: FloatArray, k: int) -> IndexArray:
    """Indices of the ``k`` best scores, best first (fewer if there are fewer)."""
    if k < 0:
        raise ValueError("k must not be negative")
    return order_by_score(scores)[:k]
