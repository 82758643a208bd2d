"""The camera capability: one Protocol, its options, and the pacing every camera shares.

    Camera.capture()      the newest frame (waits at most the read timeout)
    Camera.frames(rate)   frames at most ``rate`` per second, until closed
    Camera.resolution     (width, height) the camera delivers
    Camera.close()        release the device

A missing, busy or unplugged camera raises ``hal.errors.DeviceUnavailable`` naming the
device; reads never hang past ``CameraOptions.read_timeout_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from hal.camera.frame import Frame
from hal.errors import UnsupportedMedia


@dataclass(frozen=True)
class CameraOptions:
    """How to open a camera."""

    width: int | None = None
    """Requested width in pixels (None: the camera's default)."""
    height: int | None = None
    """Requested height in pixels (None: the camera's default)."""
    fps: float | None = None
    """Requested frame rate (None: the camera's default)."""
    warmup_frames: int = 5
    """Frames discarded after opening (auto exposure and white balance settle)."""
    read_timeout_seconds: float = 5.0
    """Longest wait for a frame before the camera counts as gone."""

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and not 16 <= value <= 8192:
                raise UnsupportedMedia(f"{name} must be between 16 and 8192 pixels", field=name)
        if self.fps is not None and not 0 < self.fps <= 240:
            raise UnsupportedMedia("fps must be between 0 and 240", field="fps")
        if self.warmup_frames < 0:
            raise UnsupportedMedia("warmup_frames must not be negative", field="warmup_frames")
        if not 0 < self.read_timeout_seconds <= 600:
            raise UnsupportedMedia(
                "read_timeout_seconds must be between 0 and 600", field="read_timeout_seconds"
            )


@dataclass(frozen=True)
class CameraInfo:
    """A camera the system offers."""

    device: str
    """What to pass as ``--device`` (``/dev/video0``, ``picamera2:0``)."""
    name: str
    """The driver's name for it."""
    backend: str
    """``opencv`` or ``picamera2``."""


class Camera(Protocol):
    """An open camera."""

    device: str
    """The device it was opened as (named in errors)."""

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) of the frames it delivers."""
        ...

    def capture(self) -> Frame:
        """The newest frame; DeviceUnavailable when none comes within the read timeout."""
        ...

    def frames(self, rate: float | None = None) -> Iterator[Frame]:
        """Frames as they come, at most ``rate`` per second (None: as fast as they come)."""
        ...

    def close(self) -> None:
        """Release the device (idempotent)."""
        ...


def parse_size(text: str) -> tuple[int, int]:
    """``640x480`` as (640, 480); UnsupportedMedia naming ``size`` otherwise."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise UnsupportedMedia(f"size must look like 640x480, not {text!r}", field="size")
    return int(width), int(height)


def paced(
    capture: Callable[[], Frame],
    rate: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Frame]:
    """Frames from ``capture`` at most ``rate`` per second, forever (the caller stops)."""
    if rate is not None and not rate > 0:
        raise UnsupportedMedia("rate must be positive", field="rate")
    interval = 0.0 if rate is None else 1.0 / rate
    next_at = clock()
    while True:
        wait = next_at - clock()
        if wait > 0:
            sleep(wait)
        next_at = max(next_at + interval, clock())
        yield capture()
