"""Cameras through OpenCV's ``VideoCapture``: USB and built-in cameras (V4L2), video
files and stream URLs.

A reader thread reads frames as the camera makes them and keeps only the newest, so a
capture never returns a frame that sat in a driver buffer. A video file is read at its
own frame rate, as a live camera would deliver it. When frames stop (the camera was
unplugged, the file or stream ended) captures raise DeviceUnavailable naming the device,
and a capture waits at most the read timeout.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hal.camera.base import CameraInfo, CameraOptions, paced
from hal.camera.frame import Frame
from hal.errors import CodecFailed, DeviceUnavailable

log = logging.getLogger(__name__)

_VIDEO_DEVICE = re.compile(r"^video(\d+)$")
_FILE_FPS_FALLBACK = 25.0


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise CodecFailed(
            "OpenCV is not installed; install the vision extra:"
            " pip install 'edge-assistant[vision]'"
        ) from exc
    _quiet(cv2)
    return cv2


def _quiet(cv2: Any) -> None:
    """Silence OpenCV's own logging: its failures reach the caller as our errors."""
    logging_module = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_module is not None and hasattr(logging_module, "setLogLevel"):
        logging_module.setLogLevel(logging_module.LOG_LEVEL_SILENT)


def device_source(device: str) -> int | str:
    """What ``VideoCapture`` opens for a device name: an index for ``0`` or
    ``/dev/video0``, else the path or URL as given."""
    if device.isdigit():
        return int(device)
    match = _VIDEO_DEVICE.match(Path(device).name) if device.startswith("/dev/") else None
    return int(match.group(1)) if match else device


def list_video_devices(sysfs: Path = Path("/sys/class/video4linux")) -> list[CameraInfo]:
    """The V4L2 capture devices, from sysfs (nothing is opened)."""
    if not sysfs.is_dir():
        return []
    found = []
    for entry in sorted(sysfs.iterdir(), key=lambda p: _index(p.name)):
        if not _VIDEO_DEVICE.match(entry.name):
            continue
        try:
            name = (entry / "name").read_text().strip()
        except OSError:
            name = entry.name
        # Many UVC cameras expose a second node for metadata; index 0 of a device is
        # the one that captures.
        try:
            index = int((entry / "index").read_text().strip())
        except (OSError, ValueError):
            index = 0
        if index == 0:
            found.append(CameraInfo(device=f"/dev/{entry.name}", name=name, backend="opencv"))
    return found


def _index(name: str) -> int:
    match = _VIDEO_DEVICE.match(name)
    return int(match.group(1)) if match else 1_000_000


class OpenCvCamera:
    """A camera (or video file, or stream) opened with ``cv2.VideoCapture``."""

    def __init__(
        self, device: str, capture: Any, options: CameraOptions, file_fps: float | None
    ) -> None:
        self.device = device
        self.options = options
        self._capture: Any = capture
        self._file_fps = file_fps
        self._condition = threading.Condition()
        self._latest: npt.NDArray[np.uint8] | None = None
        self._latest_at = 0.0
        self._sequence = 0
        self._taken = 0
        self._ended: str | None = None
        self._closing = threading.Event()
        self._size = self._negotiated_size()
        self._thread = threading.Thread(
            target=self._read_loop, name=f"camera {device}", daemon=True
        )
        self._thread.start()

    @classmethod
    def open(cls, device: str, options: CameraOptions | None = None) -> OpenCvCamera:
        """Open a camera by index (``0``), node (``/dev/video0``), video file or URL."""
        options = options or CameraOptions()
        cv2 = _cv2()
        source = device_source(device)
        is_file = isinstance(source, str) and Path(source).is_file()
        if device.startswith("/dev/") and not Path(device).exists():
            raise DeviceUnavailable(f"camera {device} does not exist", device=device)
        try:
            capture = cv2.VideoCapture(source)
        except cv2.error as exc:
            raise DeviceUnavailable(
                f"camera {device} cannot be opened: {exc}", device=device
            ) from exc
        if not capture.isOpened():
            capture.release()
            what = (
                "the file cannot be read as video" if is_file else "missing, busy or not a camera"
            )
            raise DeviceUnavailable(f"camera {device} cannot be opened ({what})", device=device)
        file_fps = None
        if is_file:
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            file_fps = fps if 0 < fps <= 240 else _FILE_FPS_FALLBACK
        else:
            # Keep the driver's queue short: the reader thread wants the newest frame.
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if options.width and options.height:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, options.width)
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, options.height)
            if options.fps:
                capture.set(cv2.CAP_PROP_FPS, options.fps)
        return cls(device, capture, options, file_fps)

    def _negotiated_size(self) -> tuple[int, int]:
        cv2 = _cv2()
        width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        wanted = (self.options.width, self.options.height)
        if wanted[0] and wanted[1]:
            if (width, height) != wanted:
                log.info(
                    "camera %s gives %dx%d for %dx%d; frames are resized",
                    self.device,
                    width,
                    height,
                    *wanted,
                )
            return wanted[0], wanted[1]
        return width, height

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) of the frames it delivers (the requested size, if any)."""
        return self._size

    def _read_loop(self) -> None:
        cv2 = _cv2()
        skipped = 0
        interval = 1.0 / self._file_fps if self._file_fps else 0.0
        next_at = time.monotonic()
        while not self._closing.is_set():
            try:
                ok, bgr = self._capture.read()
            except cv2.error as exc:
                self._end(f"stopped delivering frames ({exc})")
                return
            if not ok or bgr is None:
                self._end("stopped delivering frames (unplugged, or the video ended)")
                return
            if skipped < self.options.warmup_frames:
                skipped += 1
                continue
            rgb = self._to_rgb(cv2, bgr)
            with self._condition:
                self._latest, self._latest_at = rgb, time.monotonic()
                self._sequence += 1
                self._condition.notify_all()
            if interval:
                next_at += interval
                self._closing.wait(max(0.0, next_at - time.monotonic()))

    def _to_rgb(self, cv2: Any, bgr: Any) -> npt.NDArray[np.uint8]:
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        width, height = self._size
        if width and height and (bgr.shape[1], bgr.shape[0]) != (width, height):
            bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
        rgb: npt.NDArray[np.uint8] = np.ascontiguousarray(bgr[..., ::-1])
        return rgb

    def _end(self, reason: str) -> None:
        with self._condition:
            self._ended = reason
            self._condition.notify_all()

    def capture(self) -> Frame:
        """The newest frame not yet returned; waits at most the read timeout for one."""
        deadline = time.monotonic() + self.options.read_timeout_seconds
        with self._condition:
            while self._sequence <= self._taken:
                if self._closing.is_set():
                    raise DeviceUnavailable(f"camera {self.device} is closed", device=self.device)
                if self._ended is not None:
                    raise DeviceUnavailable(
                        f"camera {self.device} {self._ended}", device=self.device
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DeviceUnavailable(
                        f"camera {self.device} gave no frame within"
                        f" {self.options.read_timeout_seconds:g} s (busy or stalled)",
                        device=self.device,
                    )
                self._condition.wait(remaining)
            self._taken = self._sequence
            assert self._latest is not None
            return Frame(image=self._latest, timestamp=self._latest_at, source=self.device)

    def frames(self, rate: float | None = None) -> Iterator[Frame]:
        """New frames as they come, at most ``rate`` per second."""
        return paced(self.capture, rate)

    def close(self) -> None:
        """Stop the reader thread and release the device."""
        if self._closing.is_set():
            return
        self._closing.set()
        with self._condition:
            self._condition.notify_all()
        self._thread.join(timeout=self.options.read_timeout_seconds)
        if self._thread.is_alive():
            # Releasing under a read still in progress crashes some backends; the
            # process frees the device when it exits.
            log.warning("camera %s: the reader is stuck in a read; not released", self.device)
            return
        self._capture.release()

    def __enter__(self) -> OpenCvCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
