"""``assistant camera`` and ``assistant models export``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from assistant.cli import app
from assistant.cli.camera import NO_CAMERAS, camera_table
from hal.camera import CameraInfo
from hal.errors import DeviceUnavailable, UnsupportedMedia
from runtime.errors import EngineError

runner = CliRunner()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x480:rate=30:duration=0.5",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    return path


def test_snapshot_through_opencv_from_a_video_file(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "shot.jpg"
    result = runner.invoke(
        app,
        [
            "--data-dir",
            str(tmp_path),
            "camera",
            "snapshot",
            str(out),
            "--device",
            str(clip),
            "--size",
            "320x240",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "(320x240)" in result.output and " ".join(result.output.split()).startswith("saved")
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size == (320, 240)


def test_snapshot_from_the_fake_camera_as_png(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    result = runner.invoke(
        app,
        [
            "--data-dir",
            str(tmp_path),
            "camera",
            "snapshot",
            str(out),
            "--device",
            "fake",
            "--size",
            "64x48",
        ],
    )
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.size == (64, 48)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["snapshot", "x.gif", "--device", "fake"], UnsupportedMedia),
        (["snapshot", "x.jpg", "--device", "fake", "--size", "big"], UnsupportedMedia),
        (["snapshot", "x.jpg", "--device", "/dev/video61"], DeviceUnavailable),
        (["snapshot", "x.jpg", "--device", "picamera2:0"], DeviceUnavailable),
    ],
)
def test_snapshot_errors_are_clear(tmp_path: Path, args: list[str], error: type[Exception]) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "camera", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, error)


def test_camera_table() -> None:
    assert camera_table([]) == NO_CAMERAS
    table = camera_table([CameraInfo("/dev/video0", "Cam [bold]", "opencv")])
    assert not isinstance(table, str) and table.row_count == 1


def test_export_needs_an_ultralytics_model_and_names_the_extra(tmp_path: Path) -> None:
    weights = tmp_path / "yolo.pt"
    weights.write_bytes(b"not really torch")
    added = runner.invoke(
        app,
        [
            "--data-dir",
            str(tmp_path),
            "models",
            "add",
            str(weights),
            "--id",
            "mine:pt",
            "--capability",
            "detect",
            "--engine",
            "ultralytics",
        ],
    )
    assert added.exit_code == 0, added.output
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "models", "export", "mine:pt", str(tmp_path / "out.onnx")],
    )
    assert isinstance(result.exception, EngineError)
    assert "pip install 'edge-assistant[ultralytics]'" in str(result.exception)
