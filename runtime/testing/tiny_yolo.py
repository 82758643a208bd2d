"""A tiny, deterministic ONNX model shaped like a YOLOv8 detect export, for tests.

Input ``images [1, 3, 640, 640]`` (RGB, 0..1), output ``output0 [1, 4 + nc, 8400]``
(rows: centre x, centre y, width, height in input pixels, then one score per class),
``names`` metadata as Ultralytics writes it. It really looks at the image, in a way a
test can predict:

- anchors 0, 1 and 2 find pure red, green and blue pixels (a channel above both
  others; the grey letterbox border and white or black backgrounds have none). Each
  anchor's box is the rectangle with the same centre and spread as those pixels (exact
  for a filled axis-aligned rectangle), and its score for class 0, 1 or 2 is
  ``mass / (mass + 256)``, where ``mass`` counts those pixels in the input (a pure one
  counts 1, a paler one less): about 0.98 for a 100 x 100 square;
- the other 8397 anchors are seeded noise: boxes anywhere, every class score below
  ``NOISE_MAX_SCORE`` (0.2), under the usual 0.25 threshold.

So a red rectangle drawn on any image comes back as one ``person`` box (COCO class 0)
at the rectangle's place, through letterboxing and back; a channel-order or scaling
mistake moves or relabels it. About 0.7 MB; the same bytes on every run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

INPUT_SIZE = 640
"""Side of the square input."""
ANCHORS = 8400
"""Anchor columns of a 640 x 640 YOLOv8 head (80 x 80 + 40 x 40 + 20 x 20)."""
COLOUR_ANCHORS = 3
"""Anchors 0..2 look for red, green and blue."""
MASS_HALF_SCORE = 256.0
"""Pure-colour pixels (at input scale) that score 0.5."""
NOISE_MAX_SCORE = 0.2
"""Every noise anchor scores below this for every class."""
NOISE_MAX_SIDE = 160.0
"""Noise boxes are at most this wide and high (input pixels)."""
OPSET = 17
"""ONNX opset of the graph."""
IR_VERSION = 8
"""ONNX IR version (old enough for every onnxruntime the project supports)."""

COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip
"""The 80 COCO class names in Ultralytics order."""


def class_names(num_classes: int) -> tuple[str, ...]:
    """COCO names for the first classes, ``class<i>`` past the 80th."""
    return tuple(COCO_NAMES[i] if i < len(COCO_NAMES) else f"class{i}" for i in range(num_classes))


def names_metadata(names: tuple[str, ...]) -> str:
    """The ``names`` metadata value as Ultralytics writes it: ``{0: 'person', ...}``."""
    return repr(dict(enumerate(names)))


def noise_bytes(num_classes: int, seed: int) -> npt.NDArray[np.uint8]:
    """The seeded noise columns ``[1, 4 + nc, 8397]`` as bytes (scaled in the graph)."""
    rng = np.random.default_rng(seed)
    columns = ANCHORS - COLOUR_ANCHORS
    boxes = rng.integers(0, 256, size=(4, columns), dtype=np.uint8)
    # Cubed: most class scores near zero, a few close to the cap, like a real head.
    scores = np.floor(rng.random((num_classes, columns)) ** 3 * 255).astype(np.uint8)
    return np.concatenate((boxes, scores))[None]


def noise_scale(num_classes: int) -> npt.NDArray[np.float32]:
    """Per-row factors ``[1, 4 + nc, 1]`` that turn the noise bytes into values."""
    rows = [INPUT_SIZE / 255.0] * 2 + [NOISE_MAX_SIDE / 255.0] * 2
    rows += [NOISE_MAX_SCORE / 256.0] * num_classes
    return np.array(rows, dtype=np.float32).reshape(1, -1, 1)


def make_tiny_yolo(path: Path, num_classes: int = 80, seed: int = 0, half: bool = False) -> Path:
    """Write the tiny detector to ``path`` (same bytes for the same arguments); ``path``.

    ``half`` makes input and output float16, like an Ultralytics ``half=True`` export.
    """
    if num_classes < COLOUR_ANCHORS:
        raise ValueError(f"num_classes must be at least {COLOUR_ANCHORS}")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def constant(name: str, value: npt.NDArray[np.generic]) -> onnx.TensorProto:
        return numpy_helper.from_array(value, name=name)

    centres = np.arange(INPUT_SIZE, dtype=np.float32) + 0.5
    initializers = [
        constant("channels_r", np.array([0], np.int64)),
        constant("channels_g", np.array([1], np.int64)),
        constant("channels_b", np.array([2], np.int64)),
        constant("channels_end", np.array([3], np.int64)),
        constant("channel_axis", np.array([1], np.int64)),
        constant("axis_h", np.array([2], np.int64)),
        constant("axis_w", np.array([3], np.int64)),
        constant("axis_last", np.array([2], np.int64)),
        constant("grid", centres),
        constant("grid_squared", centres * centres),
        constant("epsilon", np.array(1e-6, np.float32)),
        constant("twelve", np.array(12.0, np.float32)),
        constant("half_mass", np.array(MASS_HALF_SCORE, np.float32)),
        constant("one_hot", np.eye(num_classes, COLOUR_ANCHORS, dtype=np.float32)[None]),
        constant("noise", noise_bytes(num_classes, seed)),
        constant("noise_scale", noise_scale(num_classes)),
    ]

    node = helper.make_node
    io_type = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    nodes = [
        node("Cast", ["images"], ["pixels"], to=TensorProto.FLOAT),
        # A channel's "pure colour" mask: how far it rises above the larger other one.
        node("Slice", ["pixels", "channels_r", "channels_g", "channel_axis"], ["r"]),
        node("Slice", ["pixels", "channels_g", "channels_b", "channel_axis"], ["g"]),
        node("Slice", ["pixels", "channels_b", "channels_end", "channel_axis"], ["b"]),
        node("Max", ["g", "b"], ["not_r"]),
        node("Max", ["r", "b"], ["not_g"]),
        node("Max", ["r", "g"], ["not_b"]),
        node("Concat", ["not_r", "not_g", "not_b"], ["others"], axis=1),
        node("Sub", ["pixels", "others"], ["excess"]),
        node("Relu", ["excess"], ["mask"]),  # [1, 3, H, W]
        # Mass and first and second moments along each axis, per channel: [1, 3].
        node("ReduceSum", ["mask", "axis_h"], ["columns"], keepdims=0),  # [1, 3, W]
        node("ReduceSum", ["mask", "axis_w"], ["rows"], keepdims=0),  # [1, 3, H]
        node("ReduceSum", ["columns", "axis_last"], ["mass"], keepdims=0),
        node("Mul", ["columns", "grid"], ["columns_x"]),
        node("Mul", ["columns", "grid_squared"], ["columns_xx"]),
        node("Mul", ["rows", "grid"], ["rows_y"]),
        node("Mul", ["rows", "grid_squared"], ["rows_yy"]),
        node("ReduceSum", ["columns_x", "axis_last"], ["sum_x"], keepdims=0),
        node("ReduceSum", ["columns_xx", "axis_last"], ["sum_xx"], keepdims=0),
        node("ReduceSum", ["rows_y", "axis_last"], ["sum_y"], keepdims=0),
        node("ReduceSum", ["rows_yy", "axis_last"], ["sum_yy"], keepdims=0),
        node("Add", ["mass", "epsilon"], ["safe_mass"]),
        node("Div", ["sum_x", "safe_mass"], ["centre_x"]),
        node("Div", ["sum_y", "safe_mass"], ["centre_y"]),
        node("Div", ["sum_xx", "safe_mass"], ["mean_xx"]),
        node("Div", ["sum_yy", "safe_mass"], ["mean_yy"]),
        node("Mul", ["centre_x", "centre_x"], ["centre_x_squared"]),
        node("Mul", ["centre_y", "centre_y"], ["centre_y_squared"]),
        node("Sub", ["mean_xx", "centre_x_squared"], ["variance_x"]),
        node("Sub", ["mean_yy", "centre_y_squared"], ["variance_y"]),
        # A filled rectangle of width w has variance w^2 / 12 along x.
        node("Mul", ["variance_x", "twelve"], ["width_squared"]),
        node("Mul", ["variance_y", "twelve"], ["height_squared"]),
        node("Relu", ["width_squared"], ["width_squared_positive"]),
        node("Relu", ["height_squared"], ["height_squared_positive"]),
        node("Sqrt", ["width_squared_positive"], ["width"]),
        node("Sqrt", ["height_squared_positive"], ["height"]),
        node("Add", ["mass", "half_mass"], ["mass_plus_half"]),
        node("Div", ["mass", "mass_plus_half"], ["score"]),
        # Columns for anchors 0..2: [1, 4 + nc, 3].
        node("Unsqueeze", ["centre_x", "channel_axis"], ["box_x"]),
        node("Unsqueeze", ["centre_y", "channel_axis"], ["box_y"]),
        node("Unsqueeze", ["width", "channel_axis"], ["box_w"]),
        node("Unsqueeze", ["height", "channel_axis"], ["box_h"]),
        node("Unsqueeze", ["score", "channel_axis"], ["score_row"]),
        node("Mul", ["one_hot", "score_row"], ["class_scores"]),
        node("Concat", ["box_x", "box_y", "box_w", "box_h", "class_scores"], ["found"], axis=1),
        # The noise columns, then everything side by side.
        node("Cast", ["noise"], ["noise_float"], to=TensorProto.FLOAT),
        node("Mul", ["noise_float", "noise_scale"], ["noise_values"]),
        node("Concat", ["found", "noise_values"], ["prediction"], axis=2),
        node("Cast", ["prediction"], ["output0"], to=io_type),
    ]
    image_shape = [1, 3, INPUT_SIZE, INPUT_SIZE]
    output_shape = [1, 4 + num_classes, ANCHORS]
    graph = helper.make_graph(
        nodes,
        "tiny_yolo",
        [helper.make_tensor_value_info("images", io_type, image_shape)],
        [helper.make_tensor_value_info("output0", io_type, output_shape)],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="edge-assistant tiny_yolo",
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
    )
    metadata = {
        "description": "Tiny deterministic YOLOv8-shaped test model (finds pure R/G/B areas)",
        "author": "edge-assistant",
        "task": "detect",
        "stride": "32",
        "batch": "1",
        "imgsz": f"[{INPUT_SIZE}, {INPUT_SIZE}]",
        "names": names_metadata(class_names(num_classes)),
        "seed": str(seed),
        "half": str(half),
    }
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString(deterministic=True))
    log.debug("wrote tiny YOLO (%d classes, seed %d) to %s", num_classes, seed, path)
    return path
