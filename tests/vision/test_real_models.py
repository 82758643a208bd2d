"""The vision API on the real offline models: PP-OCRv4 (RapidOCR), the fall-detection
YOLOv8 (it finds people) and the Qwen chat model for grounded words.

One app for the module: the models load once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.auth import PasswordHasher
from assistant.services import build_services
from assistant.vision.facts import ImageFacts
from assistant.vision.grounding import Seen, invented
from runtime.testing.scenes import DEFAULT_FIGURES, box_iou, people_scene, rotated, text_image
from server.app import create_app
from tests.conftest import Accounts, real_settings
from tests.vision.pictures import encode, exif_photo

pytestmark = [pytest.mark.real_model, pytest.mark.slow]

Client = TestClient[Any]
V = "/api/v1/vision"
IMAGE = {"Content-Type": "image/png"}
MIN_CHARACTER_ACCURACY = 0.9


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, dict[str, str]]]:
    """The app on the real models, and a signed-in user's headers."""
    settings = real_settings(tmp_path_factory.mktemp("vision-real"))
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    with TestClient(create_app(settings, services)) as client:
        yield client, Accounts(client, services).register("ann")
    services.close()


def accuracy(read: str, truth: str) -> float:
    """Character accuracy of a reading, whitespace and line breaks aside."""
    return difflib.SequenceMatcher(None, " ".join(read.split()), " ".join(truth.split())).ratio()


OCR_CASES = [
    # (id, lines, font, size, foreground, background, degrees counter-clockwise)
    ("street-sign", ["MAIN STREET"], "DejaVuSans-Bold.ttf", 64, (255, 255, 255), (20, 90, 40), 0),
    (
        "sign-tilted",
        ["Platform 4", "Trains to Leeds"],
        "DejaVuSans.ttf",
        44,
        (250, 250, 250),
        (20, 40, 120),
        7,
    ),
    (
        "receipt",
        ["CORNER SHOP", "Bread 2.50", "Milk 1.20", "Apples 3.10"],
        "DejaVuSansMono.ttf",
        26,
        (20, 20, 20),
        (250, 250, 245),
        0,
    ),
    (
        "receipt-sideways",
        ["Coffee 3.40", "Cake 2.80"],
        "DejaVuSansMono.ttf",
        30,
        (20, 20, 20),
        (250, 250, 245),
        90,
    ),
    (
        "document-serif",
        ["Dear customer,", "your parcel arrives on Monday.", "", "Kind regards"],
        "DejaVuSerif.ttf",
        28,
        (30, 30, 30),
        (255, 255, 255),
        0,
    ),
    (
        "document-upside-down",
        ["Meeting moved to room 12", "at three o'clock"],
        "DejaVuSerif.ttf",
        32,
        (30, 30, 30),
        (255, 255, 255),
        180,
    ),
    (
        "label-270",
        ["Keep refrigerated"],
        "DejaVuSansCondensed-Bold.ttf",
        40,
        (10, 10, 10),
        (240, 230, 200),
        270,
    ),
    (
        "small-print",
        ["Terms and conditions apply", "See website for details"],
        "DejaVuSans.ttf",
        18,
        (40, 40, 40),
        (255, 255, 255),
        0,
    ),
    (
        "light-on-dark",
        ["NO PARKING", "Fire lane"],
        "DejaVuSans-Bold.ttf",
        52,
        (240, 240, 240),
        (25, 25, 30),
        -5,
    ),
]


@pytest.mark.parametrize(
    ("lines", "font", "size", "foreground", "background", "degrees"),
    [case[1:] for case in OCR_CASES],
    ids=[case[0] for case in OCR_CASES],
)
def test_ocr_reads_rendered_text(
    real: tuple[Client, dict[str, str]],
    lines: list[str],
    font: str,
    size: int,
    foreground: tuple[int, int, int],
    background: tuple[int, int, int],
    degrees: int,
) -> None:
    client, headers = real
    image = text_image(lines, font=font, size=size, foreground=foreground, background=background)
    if degrees:
        image = rotated(image, degrees, background)
    response = client.post(f"{V}/ocr", content=encode(image), headers={**headers, **IMAGE})
    assert response.status_code == 200, response.text
    body = response.json()
    truth = "\n".join(line for line in lines if line)
    assert accuracy(body["text"], truth) >= MIN_CHARACTER_ACCURACY, body["text"]
    if degrees in (90, 180, 270):
        assert (
            body["rotation"] == (360 - degrees) % 360
        )  # turned counter-clockwise = text turned clockwise the other way
    if "" in lines:
        assert len(body["paragraphs"]) == 2


def test_the_real_detector_finds_the_people_where_they_stand(
    real: tuple[Client, dict[str, str]],
) -> None:
    client, headers = real
    picture, boxes = people_scene()
    body = client.post(f"{V}/detect", content=encode(picture), headers={**headers, **IMAGE}).json()
    people = [o for o in body["objects"] if o["noun"] == "person"]
    assert len(people) == len(DEFAULT_FIGURES)
    for drawn in boxes:
        best = max(box_iou(tuple(o["box"]), drawn) for o in people)  # type: ignore[arg-type]
        assert best >= 0.6, (drawn, people)


def test_real_boxes_are_upright_on_a_rotated_photo(real: tuple[Client, dict[str, str]]) -> None:
    client, headers = real
    picture, boxes = people_scene()
    body = client.post(
        f"{V}/detect", content=exif_photo(picture, orientation=8), headers={**headers, **IMAGE}
    ).json()
    assert (body["image"]["width"], body["image"]["height"]) == (640, 640)
    people = [tuple(o["box"]) for o in body["objects"] if o["noun"] == "person"]
    assert len(people) == 2
    for drawn in boxes:
        assert max(box_iou(box, drawn) for box in people) >= 0.6  # type: ignore[arg-type]


def test_grounded_vqa_reads_a_sign(real: tuple[Client, dict[str, str]]) -> None:
    client, headers = real
    sign = text_image(
        ["CLOSED ON SUNDAY"],
        font="DejaVuSans-Bold.ttf",
        size=56,
        foreground=(255, 255, 255),
        background=(160, 20, 20),
    )
    body = client.post(
        f"{V}/vqa",
        files={"file": ("sign.png", encode(sign), "image/png")},
        data={"question": "What does this sign say?"},
        headers=headers,
    ).json()
    assert body["method"] == "grounded"
    assert "closed on sunday" in " ".join(body["answer"].lower().split())
    assert body["text"] == "CLOSED ON SUNDAY"


def test_grounded_vqa_counts_people(real: tuple[Client, dict[str, str]]) -> None:
    client, headers = real
    picture, _ = people_scene()
    body = client.post(
        f"{V}/vqa?question=How%20many%20people%20are%20in%20the%20picture%3F",
        content=encode(picture),
        headers={**headers, **IMAGE},
    ).json()
    assert body["method"] == "grounded" and body["counts"] == {"person": 2}
    words = body["answer"].lower()
    assert "2" in words or "two" in words


def test_analyze_describes_without_inventing(real: tuple[Client, dict[str, str]]) -> None:
    client, headers = real
    picture, _ = people_scene()
    body = client.post(f"{V}/analyze", content=encode(picture), headers={**headers, **IMAGE}).json()
    assert body["counts"] == {"person": 2} and body["grounded"] is True
    assert body["description"]
    facts = ImageFacts(
        **{k: v for k, v in body["facts"].items() if k not in ("lighting", "colours")}, colours=()
    )
    seen = Seen(counts=body["counts"], text=body["text"], facts=facts)
    assert invented(body["description"], seen) == []
    assert (
        body["models"]["detect"] == "yolov8-fall:fp16"
        and body["models"]["ocr"] == "rapidocr:ppocrv4"
    )


def test_an_unanswerable_count_says_so(real: tuple[Client, dict[str, str]]) -> None:
    client, headers = real
    picture, _ = people_scene()
    body = client.post(
        f"{V}/vqa?question=How%20many%20dogs%20are%20there%3F",
        content=encode(picture),
        headers={**headers, **IMAGE},
    ).json()
    assert body["source"] == "facts" and "does not recognise dogs" in body["answer"]
