"""Opening a camera by name, and listing the cameras the system has."""

from __future__ import annotations

from pathlib import Path

from hal.camera.base import Camera, CameraInfo, CameraOptions
from hal.camera.fake import FakeCamera
from hal.camera.files import IMAGE_SUFFIXES, ImageFileCamera
from hal.camera.opencv import OpenCvCamera, list_video_devices
from hal.camera.picamera import PREFIX, Picamera2Camera, list_picameras

DEVICE_HELP = (
    "0 or /dev/video0 (USB/built-in, OpenCV), picamera2:0 (Raspberry Pi camera module),"
    " a video file or stream URL (OpenCV), an image file or folder, or fake"
)
"""What a camera device may be, for help texts."""


def open_camera(device: str, options: CameraOptions | None = None) -> Camera:
    """Open the camera ``device`` names (see DEVICE_HELP)."""
    options = options or CameraOptions()
    if device == "fake":
        size = (options.width or 320, options.height or 240)
        return FakeCamera(size=size)
    if device.startswith(PREFIX):
        return Picamera2Camera.open(device, options)
    path = Path(device)
    if path.is_dir() or (path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()):
        return ImageFileCamera(path)
    return OpenCvCamera.open(device, options)


def list_cameras() -> list[CameraInfo]:
    """Cameras the system offers: V4L2 devices and Raspberry Pi camera modules."""
    return [*list_video_devices(), *list_picameras()]
