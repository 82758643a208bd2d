"""Encoded images in and out: decoding with limits, EXIF orientation, GPS stripping,
JPEG encoding and thumbnails (Pillow).

Uploads are not trusted by their first bytes: an image is opened (which reads only its
header), its declared size is checked against the limits before one pixel is decoded
(a 50 kB PNG can declare a 100,000 x 100,000 canvas), and only then is it decoded. Every
decoded image becomes a :class:`Frame`: RGB, upright (EXIF orientation applied), alpha
composited over white, and at most ``ImageLimits.working_side`` pixels a side, with the
full upright size kept so that boxes can be mapped back to it.
"""

from __future__ import annotations

import functools
import io
import logging
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from hal.camera.frame import Frame
from hal.errors import MediaTooLarge, UnreadableMedia, UnsupportedFormat

log = logging.getLogger(__name__)

MEDIA_TYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "GIF": "image/gif",
    "HEIF": "image/heic",
}
"""Pillow's format names of the images read here, and their media types."""

GPS_IFD = 0x8825
"""The EXIF tag of the GPS information block."""
ORIENTATION = 0x0112
"""The EXIF orientation tag."""
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"hevm", b"mif1", b"msf1", b"avif")


@dataclass(frozen=True)
class ImageLimits:
    """What an encoded image may be."""

    max_bytes: int = 20_000_000
    """Largest encoded image."""
    max_pixels: int = 50_000_000
    """Largest canvas (width x height), checked before decoding."""
    working_side: int = 2048
    """Decoded images larger than this a side are scaled down for the models."""


@dataclass(frozen=True)
class DecodedImage:
    """An encoded image, decoded for the models."""

    frame: Frame
    """Upright RGB pixels, at most ``working_side`` a side."""
    width: int
    """Width of the upright image at full resolution."""
    height: int
    """Height of the upright image at full resolution."""
    format: str
    """Pillow's format name (``JPEG``, ``PNG``...)."""
    orientation: int
    """EXIF orientation applied (1: none)."""
    has_gps: bool
    """The file carries an EXIF GPS block."""

    @property
    def media_type(self) -> str:
        """The image's media type."""
        return MEDIA_TYPES[self.format]

    @property
    def scale(self) -> float:
        """Full-resolution pixels per working pixel (1.0 when not scaled down)."""
        return self.width / self.frame.width


@functools.cache
def heif_available() -> bool:
    """Whether HEIC/HEIF images can be decoded (the ``pillow-heif`` plugin is installed;
    it is registered with Pillow the first time)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def is_heif(data: bytes) -> bool:
    """Whether the bytes are an ISO-BMFF HEIF/HEIC/AVIF file (by its ``ftyp`` box)."""
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _formats() -> list[str]:
    names = [name for name in MEDIA_TYPES if name != "HEIF"]
    return [*names, "HEIF"] if heif_available() else names


def open_image(data: bytes, limits: ImageLimits, field: str = "image") -> Image.Image:
    """The image opened (header read, pixels not yet decoded), within the limits.

    UnreadableMedia for empty, corrupt or non-image bytes; UnsupportedFormat for HEIC
    without its codec; MediaTooLarge over the byte or pixel limits.
    """
    if not data:
        raise UnreadableMedia("The image is empty (zero bytes)", field=field)
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"The image is {len(data):,} bytes; at most {limits.max_bytes:,} are accepted",
            field=field,
        )
    formats = _formats()
    if is_heif(data) and "HEIF" not in formats:
        raise UnsupportedFormat(
            "HEIC/HEIF images cannot be read here (pillow-heif is not installed);"
            " send JPEG, PNG, WebP, BMP or GIF",
            field=field,
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice its limit, raises) about huge canvases; the
            # limit checked below is ours, and is stricter.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as exc:
        names = "JPEG, PNG, WebP, BMP, GIF" + (" or HEIC" if "HEIF" in formats else "")
        raise UnreadableMedia(
            f"The data is not an image in a format read here ({names})", field=field
        ) from exc
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(
            f"The image declares a canvas of billions of pixels; at most"
            f" {limits.max_pixels:,} pixels are accepted",
            field=field,
        ) from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise UnreadableMedia(f"The image header is damaged ({exc})", field=field) from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise UnreadableMedia(f"The image declares a {width}x{height} canvas", field=field)
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"The image is {width}x{height} pixels ({width * height:,}); at most"
            f" {limits.max_pixels:,} pixels are accepted",
            field=field,
        )
    return image


def decode_image(
    data: bytes, limits: ImageLimits, source: str = "", field: str = "image"
) -> DecodedImage:
    """Decode an encoded image into an upright RGB frame for the models."""
    image = open_image(data, limits, field)
    try:
        return _decode(image, limits, source)
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        # Pillow reports damaged data as OSError ("image file is truncated"),
        # SyntaxError ("broken PNG file"), ValueError or EOFError.
        raise UnreadableMedia(f"The image is damaged or incomplete ({exc})", field=field) from exc
    finally:
        image.close()


def _decode(image: Image.Image, limits: ImageLimits, source: str) -> DecodedImage:
    image_format = str(image.format)
    exif = image.getexif()
    orientation = int(exif.get(ORIENTATION, 1) or 1)
    has_gps = bool(exif.get_ifd(GPS_IFD)) if GPS_IFD in exif else False
    swapped = orientation in (5, 6, 7, 8)
    width, height = (image.height, image.width) if swapped else image.size
    if image_format == "JPEG" and max(image.size) > limits.working_side:
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: several times faster for photos.
        image.draft("RGB", (limits.working_side, limits.working_side))
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    rgb = to_rgb(upright)
    if max(rgb.size) > limits.working_side:
        rgb.thumbnail((limits.working_side, limits.working_side), Image.Resampling.BILINEAR)
    pixels: npt.NDArray[np.uint8] = np.asarray(rgb, dtype=np.uint8)
    return DecodedImage(
        frame=Frame(image=pixels, source=source),
        width=width,
        height=height,
        format=image_format,
        orientation=orientation,
        has_gps=has_gps,
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB: transparency composited over white, 16-bit and float
    greyscale scaled to 0..255, CMYK and palettes converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = float(values.max()) or 1.0
        scaled = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def frame_from_rgb(pixels: npt.NDArray[np.uint8], source: str = "") -> DecodedImage:
    """A camera frame (already RGB and upright) as a decoded image."""
    frame = Frame(image=pixels, source=source)
    return DecodedImage(
        frame=frame,
        width=frame.width,
        height=frame.height,
        format="JPEG",
        orientation=1,
        has_gps=False,
    )


def encode_jpeg(pixels: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    """RGB pixels as a JPEG file."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=quality, optimize=False)
    return buffer.getvalue()


def thumbnail_jpeg(data: bytes, side: int, limits: ImageLimits) -> bytes:
    """An upright JPEG thumbnail at most ``side`` pixels a side of an encoded image."""
    image = open_image(data, limits)
    try:
        image.draft("RGB", (side, side))
        upright = ImageOps.exif_transpose(image) or image
        rgb = to_rgb(upright)
        rgb.thumbnail((side, side), Image.Resampling.LANCZOS)
        return encode_jpeg(np.asarray(rgb, dtype=np.uint8), quality=85)
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise UnreadableMedia(f"The image is damaged or incomplete ({exc})") from exc
    finally:
        image.close()


def strip_gps(data: bytes, limits: ImageLimits) -> bytes:
    """The image without its EXIF GPS block; the same bytes when it has none.

    JPEG is rewritten without re-encoding (only the EXIF segment changes); PNG and WebP
    are saved again (PNG losslessly, WebP at high quality), keeping the rest of EXIF.
    """
    image = open_image(data, limits)
    try:
        exif = image.getexif()
        if GPS_IFD not in exif:
            return data
        del exif[GPS_IFD]
        if image.format == "JPEG":
            return replace_jpeg_exif(data, exif.tobytes())
        image.load()
        buffer = io.BytesIO()
        options: dict[str, object] = {"exif": exif.tobytes()}
        if image.format == "WEBP":
            options["quality"] = 95
        image.save(buffer, str(image.format), **options)
        return buffer.getvalue()
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise UnreadableMedia(f"The image is damaged or incomplete ({exc})") from exc
    finally:
        image.close()


def replace_jpeg_exif(data: bytes, exif: bytes) -> bytes:
    """The JPEG with its EXIF (APP1) segment's payload replaced by ``exif``."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    out = bytearray(data[:2])
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("JPEG segment marker expected")
        marker = data[position + 1]
        if marker in (0xDA, 0xD9):  # start of scan: the rest is image data
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segment = data[position : position + 2 + length]
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00":
            payload = b"Exif\x00\x00" + exif
            if len(payload) + 2 > 0xFFFF:
                raise ValueError("EXIF block too large for one JPEG segment")
            segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
        out += segment
        position += 2 + length
    out += data[position:]
    return bytes(out)
