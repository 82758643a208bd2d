"""An in-memory camera for tests, benchmarks and the CLI's ``--device fake``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from hal.camera.base import paced
from hal.camera.frame import Frame
from hal.errors import DeviceUnavailable


def pattern_image(width: int, height: int, index: int = 0) -> npt.NDArray[np.uint8]:
    """A deterministic colour gradient whose brightness band moves with ``index``."""
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[..., 0] = xs.astype(np.uint8)
    image[..., 1] = ys.astype(np.uint8)
    image[..., 2] = np.uint8((index * 37) % 256)
    return image


class FakeCamera:
    """Hands out the given images in turn (or a moving pattern), and records captures.

    ``fail_after`` frames, it behaves like a camera that was unplugged: every capture
    raises DeviceUnavailable. ``unplug()`` does the same at once.
    """

    def __init__(
        self,
        images: Sequence[npt.NDArray[np.uint8]] = (),
        *,
        size: tuple[int, int] = (320, 240),
        fail_after: int | None = None,
        device: str = "fake",
    ) -> None:
        self.device = device
        self._images = list(images)
        self._size = (self._images[0].shape[1], self._images[0].shape[0]) if images else size
        self._fail_after = fail_after
        self._counter = itertools.count()
        self.captured = 0
        """Frames handed out so far."""
        self.closed = False

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) of its frames."""
        return self._size

    def unplug(self) -> None:
        """From now on every capture fails as an unplugged camera's would."""
        self._fail_after = self.captured

    def capture(self) -> Frame:
        """The next image."""
        if self.closed:
            raise DeviceUnavailable(f"camera {self.device} is closed", device=self.device)
        if self._fail_after is not None and self.captured >= self._fail_after:
            raise DeviceUnavailable(
                f"camera {self.device} stopped delivering frames (unplugged?)", device=self.device
            )
        index = next(self._counter)
        if self._images:
            image = self._images[index % len(self._images)]
        else:
            image = pattern_image(self._size[0], self._size[1], index)
        self.captured += 1
        return Frame(image=image, timestamp=float(index), source=self.device)

    def frames(self, rate: float | None = None) -> Iterator[Frame]:
        """Images in turn, at most ``rate`` per second."""
        return paced(self.capture, rate)

    def close(self) -> None:
        """Mark it closed."""
        self.closed = True
