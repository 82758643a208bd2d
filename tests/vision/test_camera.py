"""The camera HAL: OpenCV on a real video file, the file camera, the fake, picamera2."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hal.camera import CameraOptions, open_camera
from hal.camera.base import paced, parse_size
from hal.camera.fake import FakeCamera
from hal.camera.files import ImageFileCamera
from hal.camera.opencv import OpenCvCamera, device_source, list_video_devices
from hal.camera.picamera import Picamera2Camera, list_picameras
from hal.errors import DeviceUnavailable, UnsupportedMedia
from tests.vision.pictures import canvas, encode, with_rectangle

FRAMES = 12


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-frame 320x240 video at 30 fps made by ffmpeg: each frame a number on a test
    pattern, so consecutive frames differ."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc=size=320x240:rate=30:duration={FRAMES / 30}",
            "-pix_fmt", "yuv420p", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def test_opencv_reads_a_video_file_like_a_camera(video: Path) -> None:
    with OpenCvCamera.open(str(video), CameraOptions(warmup_frames=2)) as camera:
        assert camera.resolution == (320, 240)
        first = camera.capture()
        second = camera.capture()
    assert first.image.shape == (240, 320, 3) and first.image.dtype == np.uint8
    assert first.source == str(video)
    assert second.timestamp > first.timestamp
    assert not np.array_equal(first.image, second.image)  # a newer frame, never the same


def test_opencv_frames_are_rgb(video: Path) -> None:
    with OpenCvCamera.open(str(video), CameraOptions(warmup_frames=0)) as camera:
        frame = camera.capture()
    # ffmpeg's testsrc has a white-ish and coloured bars; channel order: compare with
    # OpenCV's own BGR read of the same frame.
    import cv2

    capture = cv2.VideoCapture(str(video))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    assert np.array_equal(frame.image, bgr[..., ::-1])


def test_opencv_resizes_to_the_requested_size(video: Path) -> None:
    options = CameraOptions(width=160, height=120, warmup_frames=0)
    with OpenCvCamera.open(str(video), options) as camera:
        assert camera.resolution == (160, 120)
        assert camera.capture().image.shape == (120, 160, 3)


def test_frames_stop_with_an_error_naming_the_device(video: Path) -> None:
    camera = OpenCvCamera.open(str(video), CameraOptions(warmup_frames=0))
    try:
        seen = 0
        with pytest.raises(DeviceUnavailable, match="stopped delivering frames") as caught:
            for _ in camera.frames():
                seen += 1
        assert str(video) in str(caught.value)
        assert 1 <= seen <= FRAMES
    finally:
        camera.close()


class _StalledCapture:
    """A VideoCapture whose reads block, like a camera that stopped answering."""

    def __init__(self) -> None:
        self.release_reads = threading.Event()
        self.released = False

    def get(self, prop: int) -> float:
        return 0.0

    def read(self) -> tuple[bool, Any]:
        self.release_reads.wait(10)
        return False, None

    def release(self) -> None:
        self.released = True


def test_a_stalled_camera_times_out_instead_of_hanging() -> None:
    capture = _StalledCapture()
    camera = OpenCvCamera("/dev/video7", capture, CameraOptions(read_timeout_seconds=0.2), None)
    with pytest.raises(DeviceUnavailable, match=r"/dev/video7 gave no frame within 0\.2 s"):
        camera.capture()
    capture.release_reads.set()
    camera.close()
    assert capture.released


def test_a_missing_device_is_named() -> None:
    with pytest.raises(DeviceUnavailable, match="/dev/video63 does not exist"):
        OpenCvCamera.open("/dev/video63")


def test_an_unreadable_file_is_not_a_camera(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(DeviceUnavailable, match="cannot be opened"):
        OpenCvCamera.open(str(bad))


@pytest.mark.parametrize(
    ("device", "source"),
    [
        ("0", 0),
        ("2", 2),
        ("/dev/video3", 3),
        ("rtsp://cam.local/stream", "rtsp://cam.local/stream"),
        ("clip.mp4", "clip.mp4"),
    ],
)
def test_device_names(device: str, source: int | str) -> None:
    assert device_source(device) == source


def test_video_devices_are_listed_from_sysfs(tmp_path: Path) -> None:
    for name, label, index in (
        ("video0", "HD Webcam", "0"),
        ("video1", "HD Webcam", "1"),
        ("video2", "USB Cam", "0"),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "name").write_text(label + "\n")
        (tmp_path / name / "index").write_text(index + "\n")
    found = list_video_devices(tmp_path)
    assert [(c.device, c.name) for c in found] == [
        ("/dev/video0", "HD Webcam"),
        ("/dev/video2", "USB Cam"),
    ]
    assert list_video_devices(tmp_path / "absent") == []


def test_picamera2_absent_is_a_clear_error() -> None:
    with pytest.raises(DeviceUnavailable, match="python3-picamera2") as caught:
        Picamera2Camera.open("picamera2:0")
    assert caught.value.fields["device"] == "picamera2:0"
    assert list_picameras() == []


def test_open_camera_by_name(tmp_path: Path, video: Path) -> None:
    picture = tmp_path / "still.png"
    picture.write_bytes(encode(canvas(64, 48)))
    assert isinstance(open_camera("fake"), FakeCamera)
    assert isinstance(open_camera(str(picture)), ImageFileCamera)
    assert isinstance(open_camera(str(tmp_path)), ImageFileCamera)
    camera = open_camera(str(video), CameraOptions(warmup_frames=0))
    try:
        assert isinstance(camera, OpenCvCamera)
    finally:
        camera.close()
    with pytest.raises(DeviceUnavailable, match="picamera2"):
        open_camera("picamera2:1")


def test_file_camera_shows_a_folder_in_name_order_and_loops(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes(encode(canvas(40, 30, (0, 0, 255))))
    (tmp_path / "a.jpg").write_bytes(encode(canvas(40, 30, (255, 0, 0)), "JPEG"))
    (tmp_path / "notes.txt").write_text("ignored")
    camera = ImageFileCamera(tmp_path)
    assert camera.resolution == (40, 30)
    colours = [
        tuple(frame.image[15, 20]) for frame, _ in zip(camera.frames(), range(3), strict=False)
    ]
    assert colours[0][0] > 200 and colours[1][2] > 200 and colours[2][0] > 200


def test_file_camera_without_images_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable, match="no images"):
        ImageFileCamera(tmp_path)
    with pytest.raises(DeviceUnavailable, match="no such file"):
        ImageFileCamera(tmp_path / "missing")


def test_fake_camera_records_and_unplugs() -> None:
    red = with_rectangle(canvas(32, 32), (0, 0, 32, 32))
    camera = FakeCamera([red])
    assert camera.resolution == (32, 32)
    assert np.array_equal(camera.capture().image, red)
    camera.unplug()
    with pytest.raises(DeviceUnavailable, match="stopped delivering frames"):
        camera.capture()
    assert camera.captured == 1


def test_fake_camera_pattern_moves() -> None:
    camera = FakeCamera(size=(64, 48))
    first, second = camera.capture(), camera.capture()
    assert first.image.shape == (48, 64, 3)
    assert not np.array_equal(first.image, second.image)


def test_paced_frames_wait_for_their_slot() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    frames: Iterator[int] = paced(lambda: 1, rate=4.0, clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type,return-value]
    assert [next(frames) for _ in range(3)] == [1, 1, 1]
    assert slept == [0.25, 0.25]
    with pytest.raises(UnsupportedMedia, match="rate"):
        next(paced(lambda: 1, rate=0.0))  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(("text", "size"), [("640x480", (640, 480)), ("1280X720", (1280, 720))])
def test_sizes_parse(text: str, size: tuple[int, int]) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["640", "640x", "axb", "640*480"])
def test_bad_sizes_name_the_option(text: str) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        parse_size(text)
    assert caught.value.field == "size"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"width": 8}, "width"),
        ({"fps": 0}, "fps"),
        ({"read_timeout_seconds": 0}, "read_timeout_seconds"),
    ],
)
def test_bad_camera_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        CameraOptions(**options)
    assert caught.value.field == field
