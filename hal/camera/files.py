"""A camera that shows image files: one file, or every image in a folder in name order.

For demos, benchmarks and devices whose frames arrive as files (a motion daemon, a
webcam snapshot folder). Frames are decoded with the same limits as uploads.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

from hal.camera.base import paced
from hal.camera.frame import Frame
from hal.camera.images import ImageLimits, decode_image
from hal.errors import DeviceUnavailable

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".heic", ".heif"})
"""File names a folder camera shows."""


def is_image_path(path: Path) -> bool:
    """Whether ``path`` names an image file (by its suffix) or a folder."""
    return path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES


class ImageFileCamera:
    """Shows ``path`` (a file), or each image of ``path`` (a folder), looping."""

    def __init__(self, path: Path, limits: ImageLimits | None = None, *, loop: bool = True) -> None:
        self.device = str(path)
        self.path = path
        self.limits = limits or ImageLimits()
        self.loop = loop
        self._files = self._list(path)
        self._order = itertools.cycle(self._files) if loop else iter(self._files)
        self._first: Frame | None = None

    @staticmethod
    def _list(path: Path) -> list[Path]:
        if path.is_file():
            return [path]
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if found:
                return found
            raise DeviceUnavailable(f"camera {path}: the folder holds no images", device=str(path))
        raise DeviceUnavailable(f"camera {path}: no such file or folder", device=str(path))

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) of the first image."""
        if self._first is None:
            self._first = self._read(self._files[0])
        return self._first.width, self._first.height

    def _read(self, file: Path) -> Frame:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise DeviceUnavailable(f"camera {self.device}: cannot read {file}: {exc}") from exc
        decoded = decode_image(data, self.limits, source=str(file), field="device")
        return Frame(image=decoded.frame.image, timestamp=time.monotonic(), source=str(file))

    def capture(self) -> Frame:
        """The next image."""
        file = next(self._order, None)
        if file is None:
            raise DeviceUnavailable(f"camera {self.device}: no more images", device=self.device)
        return self._read(file)

    def frames(self, rate: float | None = None) -> Iterator[Frame]:
        """The images in turn, at most ``rate`` per second."""
        return paced(self.capture, rate)

    def close(self) -> None:
        """Nothing to release."""
