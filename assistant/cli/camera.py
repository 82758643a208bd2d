"""``assistant camera``: list the cameras, and take a snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from PIL import Image
from rich.table import Table

from assistant.cli.common import console, plain, state
from hal.camera import CameraInfo, CameraOptions, list_cameras, open_camera
from hal.camera.base import parse_size
from hal.camera.open import DEVICE_HELP
from hal.errors import UnsupportedMedia

app = typer.Typer(help="Cameras: list them, take a snapshot.", no_args_is_help=True)

NO_CAMERAS = (
    "No cameras found (no /dev/video* capture device, and no Raspberry Pi camera module"
    " through picamera2). A video file, an image folder or `fake` work as --device too."
)
SNAPSHOT_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}


def camera_table(found: list[CameraInfo]) -> Table | str:
    """The cameras as a table (a message when there are none)."""
    if not found:
        return NO_CAMERAS
    table = Table()
    table.add_column("device", no_wrap=True)
    table.add_column("name", overflow="fold")  # driver names: any text
    table.add_column("backend", no_wrap=True)
    for camera in found:
        table.add_row(plain(camera.device), plain(camera.name), plain(camera.backend))
    return table


@app.command("list")
def list_command() -> None:
    """List the cameras: V4L2 devices (USB, built-in) and Raspberry Pi camera modules."""
    found = camera_table(list_cameras())
    console.print(found, highlight=False, markup=False) if isinstance(
        found, str
    ) else console.print(found)


@app.command("snapshot")
def snapshot(
    ctx: typer.Context,
    output: Annotated[Path, typer.Argument(help="Image file to write: .jpg, .png, .webp or .bmp.")],
    device: Annotated[
        str | None,
        typer.Option(
            "--device", "-d", help=f"Camera: {DEVICE_HELP}. Default: vision.camera_device."
        ),
    ] = None,
    size: Annotated[
        str | None, typer.Option("--size", help="Resolution to ask for, such as 1280x720.")
    ] = None,
    warmup: Annotated[
        int, typer.Option("--warmup", min=0, help="Frames to discard while exposure settles.")
    ] = 5,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for a frame.")
    ] = 5.0,
) -> None:
    """Capture one frame from a camera and save it."""
    image_format = SNAPSHOT_FORMATS.get(output.suffix.lower())
    if image_format is None:
        raise UnsupportedMedia(
            f"Cannot tell the image format from {output.name!r}; use .jpg, .png, .webp or .bmp",
            field="output",
        )
    settings = state(ctx).settings().vision
    width, height = parse_size(size) if size else (settings.camera_width, settings.camera_height)
    chosen = device or settings.camera_device
    options = CameraOptions(
        width=width, height=height, warmup_frames=warmup, read_timeout_seconds=timeout
    )
    camera = open_camera(chosen, options)
    try:
        frame = camera.capture()
    finally:
        camera.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame.image, "RGB").save(output, image_format)
    console.print(
        f"saved {output} ({frame.width}x{frame.height}) from {chosen}",
        highlight=False,
        markup=False,
    )
