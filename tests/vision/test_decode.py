"""Decoding uploads: formats, orientation, colour, limits and broken files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hal.camera.images import (
    ImageLimits,
    decode_image,
    encode_jpeg,
    replace_jpeg_exif,
    strip_gps,
    thumbnail_jpeg,
)
from hal.errors import MediaTooLarge, UnreadableMedia, UnsupportedFormat
from tests.vision.pictures import (
    canvas,
    encode,
    exif_photo,
    gif_huge_header,
    gps_of,
    png_bomb,
    truncated,
    with_rectangle,
)

LIMITS = ImageLimits()
RED_BOX = (40, 20, 100, 60)


@pytest.mark.parametrize(
    ("fmt", "media_type", "options"),
    [
        ("PNG", "image/png", {}),
        ("JPEG", "image/jpeg", {"quality": 95}),
        ("WEBP", "image/webp", {"lossless": True}),
        ("BMP", "image/bmp", {}),
        ("GIF", "image/gif", {}),
    ],
)
def test_each_format_decodes_to_rgb(fmt: str, media_type: str, options: dict[str, object]) -> None:
    image = with_rectangle(canvas(160, 90), RED_BOX)
    decoded = decode_image(encode(image, fmt, **options), LIMITS)
    assert decoded.media_type == media_type
    assert decoded.frame.image.shape == (90, 160, 3)
    assert (decoded.width, decoded.height) == (160, 90)
    red = decoded.frame.image[40, 70]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_heic_decodes_through_pillow_heif() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.fromarray(with_rectangle(canvas(128, 96), RED_BOX)).save(buffer, "HEIF", quality=95)
    decoded = decode_image(buffer.getvalue(), LIMITS)
    assert decoded.media_type == "image/heic"
    assert decoded.frame.image[40, 70, 0] > 180


def test_gif_reads_its_first_frame() -> None:
    first = Image.fromarray(with_rectangle(canvas(64, 64), (0, 0, 64, 64), (255, 0, 0)))
    second = Image.fromarray(with_rectangle(canvas(64, 64), (0, 0, 64, 64), (0, 0, 255)))
    buffer = io.BytesIO()
    first.save(buffer, "GIF", save_all=True, append_images=[second], duration=100)
    pixel = decode_image(buffer.getvalue(), LIMITS).frame.image[32, 32]
    assert pixel[0] > 200 and pixel[2] < 60


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied(orientation: int) -> None:
    upright = with_rectangle(canvas(300, 200), (10, 10, 60, 40))
    decoded = decode_image(exif_photo(upright, orientation), LIMITS)
    assert (decoded.width, decoded.height) == (300, 200)
    assert decoded.orientation == orientation
    pixels = decoded.frame.image
    assert pixels.shape == (200, 300, 3)
    assert pixels[25, 35, 0] > 200 and pixels[25, 35, 1] < 80  # the red corner is top-left
    assert pixels[150, 250, 1] > 200  # elsewhere stays white


def test_transparency_is_composited_over_white() -> None:
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[:10, :, :] = (0, 0, 255, 255)  # opaque blue top half, transparent bottom half
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    pixels = decode_image(buffer.getvalue(), LIMITS).frame.image
    assert tuple(pixels[5, 5]) == (0, 0, 255)
    assert tuple(pixels[15, 5]) == (255, 255, 255)


def test_sixteen_bit_greyscale_is_scaled_to_eight() -> None:
    values = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, "PNG")
    pixels = decode_image(buffer.getvalue(), LIMITS).frame.image
    assert pixels.shape == (8, 8, 3)
    assert pixels[0, 0, 0] == 0 and pixels[7, 7, 0] == 255


def test_large_images_are_scaled_down_for_the_models() -> None:
    image = with_rectangle(canvas(4000, 1000), (2000, 500, 2400, 900))
    decoded = decode_image(encode(image, "JPEG", quality=90), ImageLimits(working_side=1000))
    assert (decoded.width, decoded.height) == (4000, 1000)
    assert max(decoded.frame.image.shape[:2]) <= 1000
    assert decoded.scale == pytest.approx(4000 / decoded.frame.width)


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"", UnreadableMedia, "empty"),
        (b"hello, I am text", UnreadableMedia, "not an image"),
        (
            b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
            UnreadableMedia,
            "not an image",
        ),
        (png_bomb(), MediaTooLarge, "pixels"),
        (gif_huge_header(), MediaTooLarge, "pixels"),
    ],
    ids=["zero-bytes", "text", "png-signature-then-html", "png-bomb", "gif-huge-header"],
)
def test_bad_images_are_refused_with_the_reason(
    data: bytes, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        decode_image(data, LIMITS)
    assert words in str(caught.value)
    assert getattr(caught.value, "field", None) == "image"


def test_a_bomb_is_refused_before_its_pixels_are_decoded() -> None:
    # 10 gigapixels of zeros in a few kilobytes: decoding it would need 10 GB. A
    # smaller one (under Pillow's own limit) is refused by ours, naming its size.
    bomb = png_bomb(100_000, 100_000)
    assert len(bomb) < 200_000
    with pytest.raises(MediaTooLarge, match="billions of pixels"):
        decode_image(bomb, LIMITS)
    with pytest.raises(MediaTooLarge, match="10000x10000"):
        decode_image(png_bomb(10_000, 10_000), ImageLimits(max_pixels=50_000_000))


def test_a_truncated_jpeg_is_refused() -> None:
    photo = encode(with_rectangle(canvas(400, 300), RED_BOX), "JPEG", quality=90)
    with pytest.raises(UnreadableMedia, match="damaged or incomplete"):
        decode_image(truncated(photo, 0.6), LIMITS)


def test_too_many_bytes_is_refused_before_opening() -> None:
    with pytest.raises(MediaTooLarge, match="bytes"):
        decode_image(b"\xff\xd8\xff" + b"\x00" * 5000, ImageLimits(max_bytes=1024))


def test_a_jpeg_with_a_zip_appended_decodes_as_the_jpeg() -> None:
    photo = encode(with_rectangle(canvas(64, 64), RED_BOX), "JPEG", quality=95)
    polyglot = photo + b"PK\x03\x04" + b"\x00" * 100
    assert decode_image(polyglot, LIMITS).media_type == "image/jpeg"


def test_heic_without_its_codec_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    import hal.camera.images as images

    monkeypatch.setattr(images, "heif_available", lambda: False)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    with pytest.raises(UnsupportedFormat, match="pillow-heif"):
        decode_image(heic, LIMITS)


def test_gps_is_stripped_losslessly_from_jpeg() -> None:
    photo = exif_photo(with_rectangle(canvas(200, 100), RED_BOX), orientation=6, gps=True)
    assert gps_of(photo)
    stripped = strip_gps(photo, LIMITS)
    assert gps_of(stripped) == {}
    before, after = decode_image(photo, LIMITS), decode_image(stripped, LIMITS)
    assert after.orientation == 6  # the rest of EXIF stays
    assert np.array_equal(before.frame.image, after.frame.image)  # pixels untouched


def test_gps_is_stripped_from_png() -> None:
    image = Image.fromarray(canvas(32, 32))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (1.0, 2.0, 3.0)}
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif.tobytes())
    assert gps_of(buffer.getvalue())
    assert gps_of(strip_gps(buffer.getvalue(), LIMITS)) == {}


def test_an_image_without_gps_is_kept_byte_for_byte() -> None:
    photo = exif_photo(canvas(64, 48), orientation=1)
    assert strip_gps(photo, LIMITS) == photo


def test_replace_jpeg_exif_refuses_other_files() -> None:
    with pytest.raises(ValueError, match="JPEG"):
        replace_jpeg_exif(b"\x89PNG....", b"")


def test_thumbnail_is_upright_and_small() -> None:
    photo = exif_photo(canvas(1200, 600), orientation=6)
    with Image.open(io.BytesIO(thumbnail_jpeg(photo, 256, LIMITS))) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (256, 128)


def test_encode_jpeg_round_trips() -> None:
    image = with_rectangle(canvas(64, 32), RED_BOX)
    assert decode_image(encode_jpeg(image), LIMITS).frame.image.shape == (32, 64, 3)
