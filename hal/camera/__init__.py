"""Cameras: OpenCV/V4L2, picamera2, image files and a fake."""

from hal.camera.frame import Frame

__all__ = ["Frame"]
