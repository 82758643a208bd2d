"""Generated pictures with known content, for vision tests and benchmarks.

- :func:`people_scene`: shaded mannequins standing in a room (a wall, a floor, camera
  noise), and the box each was drawn in. Flat cut-out figures are not people to a
  detector trained on photographs; lit, rounded limbs are (the registry-shipped fall
  detector finds these at about 0.7-0.8).
- :func:`text_image`: text rendered by Pillow in a chosen font, size and colours, for
  OCR (signs, receipts, documents).

Deterministic: the same arguments give the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"))
"""Where the DejaVu fonts (Debian ``fonts-dejavu-core``) are looked for."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Figure:
    """One mannequin: where it stands and how it looks."""

    x: float
    """Centre x in pixels."""
    top: float
    """Top of the head in pixels."""
    height: float
    """Head to toe in pixels."""
    shirt: tuple[int, int, int] = (50, 80, 170)
    pants: tuple[int, int, int] = (45, 45, 60)
    skin: tuple[int, int, int] = (225, 175, 145)
    hair: tuple[int, int, int] = (40, 30, 20)


_LIGHT = np.array([-0.5, -0.4, 0.77], dtype=np.float32) / np.linalg.norm([-0.5, -0.4, 0.77])


class _Canvas:
    """A float RGB image with a depth buffer, for drawing shaded capsules."""

    def __init__(self, width: int, height: int) -> None:
        self.image = np.zeros((height, width, 3), dtype=np.float32)
        self.depth = np.full((height, width), -1.0, dtype=np.float32)
        self.ys, self.xs = np.mgrid[0:height, 0:width].astype(np.float32)

    def capsule(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        radii: tuple[float, float],
        colour: tuple[int, int, int],
        depth: float,
    ) -> None:
        """A rounded limb from ``start`` to ``end``, lit from the upper left."""
        x0, y0 = start
        dx, dy = end[0] - x0, end[1] - y0
        length2 = dx * dx + dy * dy or 1.0
        t = np.clip(((self.xs - x0) * dx + (self.ys - y0) * dy) / length2, 0.0, 1.0)
        cx, cy = x0 + t * dx, y0 + t * dy
        radius = radii[0] + (radii[1] - radii[0]) * t
        nx, ny = (self.xs - cx) / radius, (self.ys - cy) / radius
        nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
        shade = np.clip(nx * _LIGHT[0] + ny * _LIGHT[1] + nz * _LIGHT[2], 0.0, 1.0) * 0.75 + 0.25
        mask = (nx * nx + ny * ny < 1.0) & (depth >= self.depth)
        for channel in range(3):
            self.image[..., channel] = np.where(
                mask, colour[channel] * shade, self.image[..., channel]
            )
        self.depth[mask] = depth


def _mannequin(canvas: _Canvas, figure: Figure) -> Box:
    """Draw one standing figure; the box it fills."""
    unit = figure.height / 8.0  # artists' "heads": a body is eight heads tall
    cx, top = figure.x, figure.top
    shoulder, hip, knee, foot = (top + unit * k for k in (1.45, 4.0, 5.9, 7.8))
    half_width = unit * 0.95
    for side in (-1, 1):
        canvas.capsule(
            (cx + side * unit * 0.45, hip),
            (cx + side * unit * 0.5, knee),
            (unit * 0.42, unit * 0.34),
            figure.pants,
            1,
        )
        canvas.capsule(
            (cx + side * unit * 0.5, knee),
            (cx + side * unit * 0.55, foot - unit * 0.15),
            (unit * 0.34, unit * 0.26),
            figure.pants,
            1,
        )
        canvas.capsule(
            (cx + side * unit * 0.55, foot - unit * 0.1),
            (cx + side * unit * 0.85, foot - unit * 0.05),
            (unit * 0.18, unit * 0.16),
            (25, 25, 25),
            2,
        )
    canvas.capsule(
        (cx, shoulder + unit * 0.2), (cx, hip - unit * 0.3), (half_width * 0.95, unit * 0.8),
        figure.shirt, 2,
    )  # fmt: skip
    canvas.capsule(
        (cx - half_width * 0.55, shoulder + unit * 0.15),
        (cx + half_width * 0.55, shoulder + unit * 0.15),
        (unit * 0.45, unit * 0.45),
        figure.shirt,
        2,
    )
    for side in (-1, 1):
        sx = cx + side * half_width
        elbow = (sx + side * unit * 0.25, top + unit * 3.0)
        wrist = (sx + side * unit * 0.3, top + unit * 4.0)
        canvas.capsule(
            (sx, shoulder + unit * 0.2), elbow, (unit * 0.3, unit * 0.26), figure.shirt, 3
        )
        canvas.capsule(elbow, wrist, (unit * 0.24, unit * 0.2), figure.skin, 3)
        canvas.capsule(
            wrist, (wrist[0], top + unit * 4.35), (unit * 0.2, unit * 0.17), figure.skin, 3
        )
    canvas.capsule(
        (cx, top + unit * 0.9), (cx, shoulder), (unit * 0.22, unit * 0.24), figure.skin, 2.5
    )
    canvas.capsule(
        (cx, top + unit * 0.45), (cx, top + unit * 0.6), (unit * 0.42, unit * 0.38), figure.skin, 3
    )
    canvas.capsule(
        (cx - unit * 0.05, top + unit * 0.3), (cx + unit * 0.05, top + unit * 0.3),
        (unit * 0.44, unit * 0.44), figure.hair, 2.9,
    )  # fmt: skip
    return (cx - half_width - unit * 0.6, top - unit * 0.14, cx + half_width + unit * 0.6, foot)


DEFAULT_FIGURES = (
    Figure(x=200, top=90, height=400),
    Figure(
        x=450, top=140, height=340, shirt=(170, 50, 45), pants=(35, 55, 95), skin=(160, 110, 80)
    ),
)
"""Two people of different sizes and colours, for a 640 x 640 room."""


def people_scene(
    figures: Sequence[Figure] = DEFAULT_FIGURES,
    size: tuple[int, int] = (640, 640),
    seed: int = 0,
) -> tuple[npt.NDArray[np.uint8], list[Box]]:
    """A room with the figures standing in it (RGB), and each figure's box."""
    width, height = size
    canvas = _Canvas(width, height)
    canvas.image[:] = (190, 185, 175)
    canvas.image[int(height * 0.69) :] = (110, 90, 70)
    boxes = [_mannequin(canvas, figure) for figure in figures]
    noisy = canvas.image + np.random.default_rng(seed).normal(0.0, 4.0, canvas.image.shape)
    picture = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    picture = picture.filter(ImageFilter.GaussianBlur(1.2))
    return np.asarray(picture, dtype=np.uint8), boxes


def font_path(name: str = "DejaVuSans.ttf") -> Path:
    """A TrueType font file by name (Debian's fonts-dejavu-core)."""
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"font {name} not found in {', '.join(map(str, FONT_DIRS))}; install fonts-dejavu-core"
    )


def text_image(
    lines: Sequence[str],
    *,
    font: str = "DejaVuSans.ttf",
    size: int = 40,
    foreground: tuple[int, int, int] = (20, 20, 20),
    background: tuple[int, int, int] = (250, 250, 245),
    margin: int = 40,
    line_spacing: float = 1.5,
    paragraph_gap: float = 1.0,
) -> npt.NDArray[np.uint8]:
    """Lines of text rendered on a plain background (an empty line starts a paragraph)."""
    face = ImageFont.truetype(str(font_path(font)), size)
    widths = [int(face.getbbox(line)[2]) if line else 0 for line in lines]
    step = round(size * line_spacing)
    extra = sum(round(size * paragraph_gap) for line in lines if not line)
    width = max(widths, default=0) + 2 * margin
    height = step * sum(1 for line in lines if line) + extra + 2 * margin
    picture = Image.new("RGB", (max(width, 64), max(height, 64)), background)
    draw = ImageDraw.Draw(picture)
    y = margin
    for line in lines:
        if not line:
            y += round(size * paragraph_gap)
            continue
        draw.text((margin, y), line, font=face, fill=foreground)
        y += step
    return np.asarray(picture, dtype=np.uint8)


def rotated(
    image: npt.NDArray[np.uint8], degrees: float, fill: tuple[int, int, int]
) -> npt.NDArray[np.uint8]:
    """The image turned ``degrees`` counter-clockwise (the canvas grows to fit)."""
    picture = Image.fromarray(image, "RGB").rotate(
        degrees, expand=True, fillcolor=fill, resample=Image.Resampling.BICUBIC
    )
    return np.asarray(picture, dtype=np.uint8)


def box_iou(first: Box, second: Box) -> float:
    """Intersection over union of two boxes."""
    left, top = max(first[0], second[0]), max(first[1], second[1])
    right, bottom = min(first[2], second[2]), min(first[3], second[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    area = (first[2] - first[0]) * (first[3] - first[1]) + (second[2] - second[0]) * (
        second[3] - second[1]
    )
    return inter / (area - inter) if area > inter else 0.0
