"""Raspberry Pi camera modules through picamera2 (libcamera).

picamera2 is not on PyPI for every platform: Raspberry Pi OS ships it as the Debian
package ``python3-picamera2``. Without it, opening such a camera is a clear error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from hal.camera.base import CameraInfo, CameraOptions, paced
from hal.camera.frame import Frame
from hal.errors import DeviceUnavailable

log = logging.getLogger(__name__)

PREFIX = "picamera2:"
"""Devices named ``picamera2:N`` open camera module N."""
INSTALL_HINT = "sudo apt install python3-picamera2 (Raspberry Pi OS)"


def _picamera2_class(device: str) -> Any:
    try:
        from picamera2 import Picamera2
    except ImportError as exc:
        raise DeviceUnavailable(
            f"camera {device} needs picamera2, which is not installed; install it with:"
            f" {INSTALL_HINT}",
            device=device,
        ) from exc
    return Picamera2


def list_picameras() -> list[CameraInfo]:
    """The camera modules libcamera sees (none when picamera2 is not installed)."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        return []
    return [
        CameraInfo(
            device=f"{PREFIX}{i}", name=str(info.get("Model", "camera")), backend="picamera2"
        )
        for i, info in enumerate(Picamera2.global_camera_info())
    ]


class Picamera2Camera:
    """A Raspberry Pi camera module."""

    def __init__(self, device: str, camera: Any, size: tuple[int, int]) -> None:
        self.device = device
        self._camera: Any | None = camera
        self._size = size

    @classmethod
    def open(cls, device: str, options: CameraOptions | None = None) -> Picamera2Camera:
        """Open ``picamera2:N`` and start it in RGB at the requested size."""
        options = options or CameraOptions()
        index_text = device.removeprefix(PREFIX) or "0"
        if not index_text.isdigit():
            raise DeviceUnavailable(f"camera {device}: expected picamera2:N", device=device)
        picamera2 = _picamera2_class(device)
        size = (options.width or 1280, options.height or 720)
        try:
            camera = picamera2(int(index_text))
            config = camera.create_still_configuration(main={"format": "RGB888", "size": size})
            camera.configure(config)
            camera.start()
            for _ in range(options.warmup_frames):
                camera.capture_array("main")
        except (RuntimeError, IndexError, OSError) as exc:
            raise DeviceUnavailable(
                f"camera {device} cannot be opened: {exc}", device=device
            ) from exc
        return cls(device, camera, size)

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) it was configured for."""
        return self._size

    def capture(self) -> Frame:
        """A new frame."""
        if self._camera is None:
            raise DeviceUnavailable(f"camera {self.device} is closed", device=self.device)
        try:
            # picamera2's "RGB888" is BGR in memory order (libcamera's naming).
            bgr = self._camera.capture_array("main")
        except (RuntimeError, OSError) as exc:
            raise DeviceUnavailable(
                f"camera {self.device} stopped delivering frames: {exc}", device=self.device
            ) from exc
        rgb = np.ascontiguousarray(bgr[..., 2::-1], dtype=np.uint8)
        return Frame(image=rgb, timestamp=time.monotonic(), source=self.device)

    def frames(self, rate: float | None = None) -> Iterator[Frame]:
        """New frames, at most ``rate`` per second."""
        return paced(self.capture, rate)

    def close(self) -> None:
        """Stop and release the camera."""
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.stop()
            camera.close()
