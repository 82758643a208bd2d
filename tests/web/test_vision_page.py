"""The camera and images page in headless Chromium on a live server with the real offline
vision models (PP-OCRv4 through RapidOCR, the fall-detection YOLOv8 that finds people, the
Qwen chat model for grounded answers): an uploaded sign's text is read and shown, the
people of a scene are drawn as boxes over it, a question about the sign is answered, the
library keeps, opens and deletes images, and a photo from the (fake) camera is looked at."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from runtime.testing.scenes import DEFAULT_FIGURES, people_scene, text_image
from tests.vision.pictures import encode
from tests.web.conftest import (
    MISSING_PAGE,
    VIEWPORTS,
    CheckPage,
    SignedInPage,
    WebApp,
    wait_mounted,
)

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

MODEL_MS = 120_000
"""How long a page may wait for a model's answer on a busy 2-core machine (a bound)."""
BOX_COLOURS = [(0xD7, 0x26, 0x3D), (0x1B, 0x99, 0x8B)]
"""The colours vision-canvas.js draws the first two boxes in."""


@pytest.fixture
def web_app(web_app_real: WebApp) -> WebApp:
    """This module's pages run on the real models."""
    return web_app_real


def upload(page: Page, name: str, data: bytes) -> None:
    page.locator("#vision-file").set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": data}]
    )


def coloured_pixels(page: Page, colour: tuple[int, int, int]) -> int:
    """How many pixels of the drawn canvas are (nearly) ``colour``."""
    shot = Image.open(io.BytesIO(page.locator("#vision-canvas").screenshot())).convert("RGB")
    pixels = np.asarray(shot).astype(int)
    return int((np.abs(pixels - np.array(colour)).sum(axis=2) < 30).sum())


def test_text_is_read_boxes_are_drawn_and_the_library_keeps_images(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    page = signed_in_page("ada")
    page.goto(web_app.url + "/#/vision")
    wait_mounted(page, "vision")
    expect(page.locator("#vision-library")).to_contain_text("No stored images.")

    sign = text_image(
        ["CLOSED ON SUNDAY"],
        font="DejaVuSans-Bold.ttf",
        size=56,
        foreground=(255, 255, 255),
        background=(160, 20, 20),
    )
    page.get_by_label("Keep it in my library").check()
    upload(page, "sign.png", encode(sign))
    expect(page.locator("#vision-text")).to_have_text("CLOSED ON SUNDAY", timeout=MODEL_MS)
    expect(page.locator("#vision-canvas")).to_have_attribute("data-lines", "1")
    expect(page.locator("#vision-library li[data-id]")).to_have_count(1)
    user = web_app.user("ada")
    [stored] = web_app.services.vision.library.list(user.id, 10).images

    page.get_by_label("Ask about the picture").fill("What does this sign say?")
    page.locator("#vision-ask").click()
    expect(page.locator("#vision-answer")).to_contain_text("CLOSED ON SUNDAY", timeout=MODEL_MS)
    page.locator("#vision-describe").click()
    expect(page.locator("#vision-answer")).to_have_attribute(
        "data-kind", "description", timeout=MODEL_MS
    )
    description = page.locator("#vision-answer").text_content() or ""
    assert len(description.split()) >= 3, description

    page.get_by_label("Keep it in my library").uncheck()
    scene, _ = people_scene()
    before = [coloured_pixels(page, colour) for colour in BOX_COLOURS]
    upload(page, "people.png", encode(scene))
    chips = page.locator("#vision-objects li")
    expect(chips).to_have_count(len(DEFAULT_FIGURES), timeout=MODEL_MS)
    for index in range(len(DEFAULT_FIGURES)):
        expect(chips.nth(index)).to_contain_text("person")
    canvas = page.locator("#vision-canvas")
    expect(canvas).to_have_attribute("data-boxes", str(len(DEFAULT_FIGURES)))
    drawn = [coloured_pixels(page, colour) for colour in BOX_COLOURS]
    assert all(count < 50 for count in before) and all(count > 200 for count in drawn), (
        before,
        drawn,
    )
    expect(page.locator("#vision-library li[data-id]")).to_have_count(1)
    check_page(page, "vision", allow=[MISSING_PAGE])

    tile = page.locator(f'#vision-library li[data-id="{stored.id}"]')
    expect(tile.locator("img")).to_have_js_property("complete", True)
    assert tile.locator("img").evaluate("img => img.naturalWidth") > 0
    tile.get_by_role("button", name="Open").click()
    expect(page.locator("#vision-text")).to_have_text("CLOSED ON SUNDAY", timeout=MODEL_MS)
    expect(canvas).to_have_attribute("data-boxes", "0")
    page.once("dialog", lambda dialog: dialog.accept())
    tile.get_by_role("button", name="Delete").click()
    expect(page.locator("#vision-library")).to_contain_text("No stored images.")
    assert web_app.services.vision.library.list(user.id, 10).images == []


def test_a_photo_from_the_camera_is_looked_at(
    web_app: WebApp, signed_in_page: SignedInPage, check_page: CheckPage
) -> None:
    page = signed_in_page("ada", "phone")
    page.goto(web_app.url + "/#/vision")
    wait_mounted(page, "vision")
    page.locator("#vision-camera").click()
    video = page.locator("#vision-video")
    expect(video).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('#vision-video').videoWidth > 0", timeout=MODEL_MS
    )
    page.locator("#vision-snap").click()
    findings = page.locator(".findings")
    expect(findings).to_have_attribute("data-ready", "1", timeout=MODEL_MS)
    size: Any = page.locator("#vision-canvas").evaluate("c => [c.width, c.height]")
    assert size[0] > 0 and size[1] > 0
    expect(page.locator("#vision-objects li").first).to_be_visible()
    page.locator("#vision-camera").click()  # closes it
    expect(video).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
    check_page(page, "vision-camera", allow=[MISSING_PAGE])
