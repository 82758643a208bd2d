"""Cameras: OpenCV/V4L2, picamera2, image files and a fake."""

from hal.camera.base import Camera, CameraInfo, CameraOptions
from hal.camera.frame import Frame
from hal.camera.open import list_cameras, open_camera

__all__ = ["Camera", "CameraInfo", "CameraOptions", "Frame", "list_cameras", "open_camera"]
