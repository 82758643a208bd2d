"""Encoded test images: photos with EXIF orientation and GPS, bombs, broken files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import numpy.typing as npt
from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def canvas(
    width: int, height: int, colour: tuple[int, int, int] = (255, 255, 255)
) -> npt.NDArray[np.uint8]:
    """A plain RGB image."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = colour
    return image


def with_rectangle(
    image: npt.NDArray[np.uint8],
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int] = (255, 0, 0),
) -> npt.NDArray[np.uint8]:
    """A copy with a filled rectangle (x1, y1, x2, y2) in ``colour``."""
    drawn = image.copy()
    x1, y1, x2, y2 = box
    drawn[y1:y2, x1:x2] = colour
    return drawn


def encode(image: npt.NDArray[np.uint8], fmt: str = "PNG", **options: object) -> bytes:
    """The image encoded by Pillow."""
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_photo(
    upright: npt.NDArray[np.uint8], orientation: int = 6, gps: bool = False, quality: int = 95
) -> bytes:
    """A JPEG as a phone writes it: pixels stored as the sensor saw them, and the EXIF
    orientation that turns them upright (6: the stored image must turn 90 clockwise)."""
    stored = Image.fromarray(upright, "RGB")
    undo = {
        1: None,
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,  # stored = upright turned 90 counter-clockwise
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    if undo is not None:
        stored = stored.transpose(undo)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "TestCam"  # Make
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def gps_of(data: bytes) -> dict[int, object]:
    """The GPS block of an encoded image (empty when it has none)."""
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(GPS_IFD))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG whose header declares a huge canvas (the rows would all be zeros)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def gif_huge_header(width: int = 60_000, height: int = 60_000) -> bytes:
    """A GIF of a few bytes declaring a huge screen and image."""
    screen = (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x80\x00\x00"
        + b"\x00\x00\x00\xff\xff\xff"
    )
    descriptor = b"," + struct.pack("<HHHH", 0, 0, width, height) + b"\x00"
    return screen + descriptor + b"\x02\x02\x44\x01\x00;"


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first part of an encoded file."""
    return data[: int(len(data) * keep)]
