"""Facts about an image measured from its pixels: brightness, contrast, sharpness, and
its dominant colours by name. Pure numpy: no I/O, no clock, deterministic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_SIDE = 256
"""Images are measured on a copy at most this many pixels a side."""
BLUR_THRESHOLD = 60.0
"""Below this variance of the Laplacian (on the sample) an image counts as blurry."""

NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "dark grey": (64, 64, 64),
    "grey": (128, 128, 128),
    "light grey": (192, 192, 192),
    "white": (255, 255, 255),
    "red": (200, 30, 30),
    "dark red": (120, 20, 20),
    "orange": (240, 140, 30),
    "brown": (120, 75, 40),
    "yellow": (235, 220, 50),
    "olive": (128, 128, 0),
    "green": (40, 160, 60),
    "dark green": (20, 80, 30),
    "teal": (0, 128, 128),
    "cyan": (60, 210, 220),
    "light blue": (140, 190, 235),
    "blue": (40, 80, 200),
    "navy": (20, 30, 100),
    "purple": (120, 50, 150),
    "pink": (240, 150, 190),
    "magenta": (220, 40, 180),
    "beige": (225, 210, 170),
}
"""Colour names and a typical sRGB value of each."""


@dataclass(frozen=True)
class Colour:
    """One dominant colour."""

    name: str
    """Nearest named colour."""
    hex: str
    """The cluster's mean colour, ``#rrggbb``."""
    fraction: float
    """Share of the image's pixels, 0..1."""


@dataclass(frozen=True)
class ImageFacts:
    """What the pixels say about an image."""

    width: int
    """Pixels across (full resolution, upright)."""
    height: int
    """Pixels down."""
    brightness: float
    """Mean luma, 0 (black) .. 1 (white)."""
    contrast: float
    """Standard deviation of luma, 0..0.5."""
    sharpness: float
    """Variance of the Laplacian of the luma (0..255 scale) on a small copy."""
    blurry: bool
    """Sharpness is below BLUR_THRESHOLD."""
    colours: tuple[Colour, ...]
    """Dominant colours, largest share first."""

    @property
    def lighting(self) -> str:
        """``dark``, ``dim``, ``normal`` or ``bright``."""
        if self.brightness < 0.2:
            return "dark"
        if self.brightness < 0.4:
            return "dim"
        return "bright" if self.brightness > 0.8 else "normal"


def sample(image: npt.NDArray[np.uint8], side: int = SAMPLE_SIDE) -> npt.NDArray[np.uint8]:
    """Every n-th pixel so that the copy is at most ``side`` a side (cheap, deterministic)."""
    step = max(1, int(np.ceil(max(image.shape[:2]) / side)))
    return image[::step, ::step]


def luma(image: npt.NDArray[np.uint8] | npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rec. 601 luma, 0..255."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    result: npt.NDArray[np.float32] = image.astype(np.float32) @ weights
    return result


def laplacian_variance(grey: npt.NDArray[np.float32]) -> float:
    """Variance of the 4-neighbour Laplacian: low for blurred images."""
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    centre = grey[1:-1, 1:-1]
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * centre
    return float(laplacian.var())


def dominant_colours(
    image: npt.NDArray[np.uint8], count: int = 3, iterations: int = 8
) -> tuple[Colour, ...]:
    """The ``count`` main colours by k-means on a small sample (seeded by quantiles of
    luma, so the same image always gives the same answer)."""
    pixels = sample(image, 64).reshape(-1, 3).astype(np.float32)
    if pixels.size == 0:
        return ()
    order = np.argsort(luma(pixels[None])[0], kind="stable")
    seeds = order[np.linspace(0, len(order) - 1, count).astype(int)]
    centres = pixels[seeds].copy()
    for _ in range(iterations):
        distances = ((pixels[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        assignment = distances.argmin(axis=1)
        for k in range(count):
            members = pixels[assignment == k]
            if len(members):
                centres[k] = members.mean(axis=0)
    distances = ((pixels[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    assignment = distances.argmin(axis=1)
    shares = np.bincount(assignment, minlength=count) / len(pixels)
    found: dict[str, Colour] = {}
    for k in np.argsort(-shares, kind="stable"):
        if shares[k] < 0.02:
            continue
        centre = np.clip(np.rint(centres[k]), 0, 255).astype(int)
        name = colour_name(int(centre[0]), int(centre[1]), int(centre[2]))
        previous = found.get(name)
        fraction = float(shares[k]) + (previous.fraction if previous else 0.0)
        hex_value = previous.hex if previous else "#{:02x}{:02x}{:02x}".format(*centre)
        found[name] = Colour(name=name, hex=hex_value, fraction=round(fraction, 3))
    return tuple(sorted(found.values(), key=lambda c: -c.fraction))


def colour_name(red: int, green: int, blue: int) -> str:
    """The nearest named colour (by distance in sRGB weighted for the eye)."""
    weights = np.array([2.0, 4.0, 3.0])
    target = np.array([red, green, blue], dtype=np.float64)
    best = min(
        NAMED_COLOURS.items(),
        key=lambda item: float((((np.array(item[1]) - target) ** 2) * weights).sum()),
    )
    return best[0]


def measure(image: npt.NDArray[np.uint8], width: int, height: int) -> ImageFacts:
    """The facts of an RGB image; ``width`` and ``height`` are its full-resolution size."""
    small = sample(image)
    grey = luma(small)
    sharpness = laplacian_variance(grey)
    return ImageFacts(
        width=width,
        height=height,
        brightness=round(float(grey.mean()) / 255.0, 3),
        contrast=round(float(grey.std()) / 255.0, 3),
        sharpness=round(sharpness, 1),
        blurry=sharpness < BLUR_THRESHOLD,
        colours=dominant_colours(image),
    )
