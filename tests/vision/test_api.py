"""``/api/v1/vision`` over the tiny YOLO, a scripted OCR and a scripted chat model."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image

from assistant.services import Services
from hal.camera.images import ImageLimits
from tests.vision.conftest import DETECTOR, OCR, Rig, line, make_rig
from tests.vision.pictures import (
    canvas,
    encode,
    exif_photo,
    gps_of,
    png_bomb,
    truncated,
    with_rectangle,
)

Client = TestClient[Any]
Users = Callable[[str], dict[str, str]]
V = "/api/v1/vision"
IMAGE = {"Content-Type": "image/png"}
# The tiny YOLO sees pure red as COCO class 0 (person) and pure green as 1 (bicycle).
SCENE_BOX = (300, 200, 460, 360)


def scene() -> bytes:
    image = with_rectangle(canvas(800, 600), SCENE_BOX, (255, 0, 0))
    return encode(with_rectangle(image, (40, 40, 140, 140), (0, 255, 0)))


def close_to(box: list[float], expected: tuple[float, ...], tolerance: float = 6.0) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected, strict=True))


def test_detect_a_raw_upload(vision_client: Client, users: Users) -> None:
    headers = users("ann")
    response = vision_client.post(
        f"{V}/detect", content=scene(), headers={**headers, "Content-Type": "image/png"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    labels = [o["label"] for o in body["objects"]]
    assert sorted(labels) == ["bicycle", "person"]
    person = next(o for o in body["objects"] if o["label"] == "person")
    assert close_to(person["box"], SCENE_BOX)
    assert close_to(person["box_normalized"], (300 / 800, 200 / 600, 460 / 800, 360 / 600), 0.01)
    assert body["counts"] == {"person": 1, "bicycle": 1}
    assert body["image"] == {
        "width": 800,
        "height": 600,
        "source": "upload",
        "id": None,
        "media_type": "image/png",
        "orientation": 1,
    }


def test_detect_filters_by_class_score_and_count(vision_client: Client, users: Users) -> None:
    headers = users("ann")
    only = vision_client.post(
        f"{V}/detect",
        files={"file": ("s.png", scene(), "image/png")},
        data={"classes": "person"},
        headers=headers,
    )
    assert [o["label"] for o in only.json()["objects"]] == ["person"]
    one = vision_client.post(
        f"{V}/detect?max_results=1", content=scene(), headers={**headers, **IMAGE}
    )
    assert len(one.json()["objects"]) == 1
    none = vision_client.post(
        f"{V}/detect?min_score=0.999", content=scene(), headers={**headers, **IMAGE}
    )
    assert none.json()["objects"] == []
    unknown = vision_client.post(
        f"{V}/detect?classes=unicorn", content=scene(), headers={**headers, **IMAGE}
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "classes"
    bad = vision_client.post(
        f"{V}/detect",
        files={"file": ("s.png", scene(), "image/png")},
        data={"min_score": "2"},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "min_score"


def test_boxes_come_back_in_upright_full_resolution_coordinates(
    settings: Any, services: Services, tiny_yolo_dir: Path
) -> None:
    """A phone photo stored sideways with EXIF orientation 6, larger than the models'
    working size: the box is where the object is in the upright, full-size picture."""
    import dataclasses

    from server.app import create_app
    from tests.conftest import Accounts

    rig = make_rig(services, tiny_yolo_dir, limits=ImageLimits(working_side=640))
    upright = with_rectangle(canvas(2400, 1600), (1500, 300, 1900, 700))
    photo = exif_photo(upright, orientation=6)
    with TestClient(
        create_app(settings, dataclasses.replace(services, vision=rig.vision))
    ) as client:
        headers = Accounts(client, services).register("ann")
        response = client.post(
            f"{V}/detect", content=photo, headers={**headers, "Content-Type": "image/jpeg"}
        )
    body = response.json()
    assert body["image"]["width"] == 2400 and body["image"]["orientation"] == 6
    (person,) = body["objects"]
    assert close_to(person["box"], (1500, 300, 1900, 700), tolerance=20)


def test_annotate_answers_the_image_with_boxes(vision_client: Client, users: Users) -> None:
    headers = users("ann")
    for response in (
        vision_client.post(
            f"{V}/detect?annotate=true", content=scene(), headers={**headers, **IMAGE}
        ),
        vision_client.post(
            f"{V}/detect", content=scene(), headers={**headers, **IMAGE, "Accept": "image/jpeg"}
        ),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-objects"] == "2"
        with Image.open(io.BytesIO(response.content)) as drawn:
            assert drawn.size == (800, 600)
            assert drawn.getpixel((300, 250))[0] > 200  # the box's red outline


def test_ocr_orders_lines_and_groups_paragraphs(
    vision_client: Client, users: Users, rig: Rig
) -> None:
    rig.ocr.lines = [
        line("TOTAL 3.70", 20, 200),
        line("Bread", 20, 10, width=100),
        line("2.50", 300, 12, width=60),
        line("Milk", 20, 50, width=80, confidence=0.4),
    ]
    headers = users("ann")
    response = vision_client.post(
        f"{V}/ocr?languages=en", content=scene(), headers={**headers, **IMAGE}
    )
    body = response.json()
    assert body["text"] == "Bread 2.50\nMilk\n\nTOTAL 3.70"
    assert body["paragraphs"] == ["Bread 2.50 Milk", "TOTAL 3.70"]
    assert [ln["order"] for ln in body["lines"]] == [0, 1, 2, 3]
    assert body["lines"][0]["box"][0] == [20.0, 10.0]
    assert body["notes"] == [] and body["rotation"] == 0
    confident = vision_client.post(
        f"{V}/ocr",
        json={"image": base64.b64encode(scene()).decode(), "min_confidence": 0.5},
        headers=headers,
    )
    assert "Milk" not in confident.json()["text"]
    other = vision_client.post(
        f"{V}/ocr?languages=ja", content=scene(), headers={**headers, **IMAGE}
    )
    assert other.json()["notes"] == [f"{rig.ocr.model_id} reads en, zh; text in ja may be misread"]


def test_analyze_keeps_a_grounded_description(
    vision_client: Client, users: Users, rig: Rig
) -> None:
    rig.ocr.lines = [line("EXIT", 500, 50)]
    rig.say("One person stands near a bicycle under an EXIT sign.")
    body = vision_client.post(
        f"{V}/analyze", content=scene(), headers={**users("ann"), **IMAGE}
    ).json()
    assert body["description"] == "One person stands near a bicycle under an EXIT sign."
    assert body["description_source"] == "model" and body["grounded"] is True
    assert body["counts"] == {"person": 1, "bicycle": 1}
    assert body["text"] == "EXIT"
    assert body["facts"]["width"] == 800 and body["facts"]["colours"][0]["name"] == "white"
    facts = rig.chat.calls[-1][-1].content
    assert "Objects detected: 1 bicycle, 1 person." in facts and '"EXIT"' in facts


def test_analyze_never_names_an_object_nobody_saw(
    vision_client: Client, users: Users, rig: Rig
) -> None:
    rig.say("A dog and a cat play next to a person and a bicycle.")
    body = vision_client.post(
        f"{V}/analyze", content=scene(), headers={**users("ann"), **IMAGE}
    ).json()
    assert body["description_source"] == "facts"
    assert "dog" not in body["description"] and "cat" not in body["description"]
    assert body["description"].startswith("The picture shows 1 bicycle, 1 person.")


def test_vqa_counts_are_checked_against_the_detector(
    vision_client: Client, users: Users, rig: Rig
) -> None:
    headers = users("ann")
    rig.say("There are three people.")
    wrong = vision_client.post(
        f"{V}/vqa",
        files={"file": ("s.png", scene(), "image/png")},
        data={"question": "How many people are in the picture?"},
        headers=headers,
    ).json()
    assert wrong == {**wrong, "answer": "I see 1 person.", "method": "grounded", "source": "facts"}
    rig.say("There is one person.")
    right = vision_client.post(
        f"{V}/vqa?question=How%20many%20people%3F", content=scene(), headers={**headers, **IMAGE}
    ).json()
    assert right["answer"] == "There is one person." and right["source"] == "model"
    assert right["counts"] == {"person": 1, "bicycle": 1}


def test_vqa_reads_signs_and_says_when_the_facts_do_not_tell(
    vision_client: Client, users: Users, rig: Rig
) -> None:
    headers = users("ann")
    rig.ocr.lines = [line("NO", 100, 100, width=80), line("ENTRY", 200, 100, width=120)]
    rig.say("It says STOP.")
    sign = vision_client.post(
        f"{V}/vqa",
        json={"image": base64.b64encode(scene()).decode(), "question": "What does this sign say?"},
        headers=headers,
    ).json()
    assert sign["answer"] == 'It says: "NO ENTRY".' and sign["source"] == "facts"
    rig.say("A dog runs past.")
    odd = vision_client.post(
        f"{V}/vqa?question=What%20is%20happening%3F", content=scene(), headers={**headers, **IMAGE}
    ).json()
    assert odd["answer"].startswith("The picture's facts do not tell.")


def test_vqa_uses_a_vision_language_model_when_installed(
    settings: Any, services: Services, tiny_yolo_dir: Path
) -> None:
    import dataclasses

    from server.app import create_app
    from tests.conftest import Accounts

    rig = make_rig(services, tiny_yolo_dir, vlm=True)
    with TestClient(
        create_app(settings, dataclasses.replace(services, vision=rig.vision))
    ) as client:
        headers = Accounts(client, services).register("ann")
        body = client.post(
            f"{V}/vqa?question=What%20is%20it%3F", content=scene(), headers={**headers, **IMAGE}
        ).json()
    assert (
        body["method"] == "vlm"
        and body["answer"] == "It is a red square."
        and body["model"] == rig.vlm.model_id
    )
    image, question = rig.vlm.questions[0]
    assert question == "What is it?" and image.startswith(b"\xff\xd8")


def test_the_camera_is_a_source(vision_client: Client, users: Users, rig: Rig) -> None:
    rig.camera_images[:] = [with_rectangle(canvas(320, 240), (100, 60, 200, 160))]
    headers = users("ann")
    body = vision_client.post(f"{V}/detect?source=camera&store=true", headers=headers).json()
    assert body["image"]["source"] == "camera" and body["objects"][0]["label"] == "person"
    assert body["image"]["id"] is not None  # kept as a JPEG in the store
    assert rig.cameras[-1].closed  # released after the call
    rig.unplugged = True
    gone = vision_client.post(f"{V}/ocr", json={"source": "camera"}, headers=headers)
    assert gone.status_code == 503 and gone.json()["code"] == "hardware-unavailable"
    assert "fake" in gone.json()["detail"]


def test_stored_images_are_sources_and_private(vision_client: Client, users: Users) -> None:
    ann, bob = users("ann"), users("bob")
    stored = vision_client.post(
        f"{V}/images", content=scene(), headers={**ann, "Content-Type": "image/png"}
    )
    assert stored.status_code == 201
    image_id = stored.json()["id"]
    assert stored.headers["location"] == f"{V}/images/{image_id}"
    again = vision_client.post(
        f"{V}/images", files={"file": ("s.png", scene(), "image/png")}, headers=ann
    )
    assert again.status_code == 200 and again.json()["id"] == image_id
    used = vision_client.post(f"{V}/detect?image_id={image_id}", headers=ann).json()
    assert used["image"]["source"] == "stored" and used["image"]["id"] == image_id
    for method, path in (
        ("post", f"{V}/detect?image_id={image_id}"),
        ("get", f"{V}/images/{image_id}"),
        ("get", f"{V}/images/{image_id}/thumbnail"),
        ("delete", f"{V}/images/{image_id}"),
    ):
        assert getattr(vision_client, method)(path, headers=bob).status_code == 404, path
    assert vision_client.get(f"{V}/images", headers=bob).json() == {
        "images": [],
        "next_cursor": None,
    }


def test_image_bytes_thumbnails_etags_and_delete(vision_client: Client, users: Users) -> None:
    ann = users("ann")
    photo = exif_photo(canvas(1000, 500), orientation=6, gps=True)
    stored = vision_client.post(f"{V}/images", content=photo, headers={**ann, **IMAGE}).json()
    assert stored["gps_kept"] is False and (stored["width"], stored["height"]) == (1000, 500)
    original = vision_client.get(stored["url"], headers=ann)
    assert original.headers["content-type"] == "image/jpeg"
    assert original.headers["etag"] == f'"{stored["sha256"]}"'
    assert gps_of(original.content) == {}
    assert (
        vision_client.get(
            stored["url"], headers={**ann, "If-None-Match": original.headers["etag"]}
        ).status_code
        == 304
    )
    thumb = vision_client.get(stored["thumbnail_url"], headers=ann)
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert small.size == (256, 128)
    kept = vision_client.post(
        f"{V}/images?keep_gps=true", content=photo, headers={**ann, **IMAGE}
    ).json()
    assert kept["gps_kept"] is True and gps_of(vision_client.get(kept["url"], headers=ann).content)
    page = vision_client.get(f"{V}/images?limit=1", headers=ann).json()
    assert [i["id"] for i in page["images"]] == [kept["id"]] and page["next_cursor"] == kept["id"]
    assert vision_client.delete(stored["url"], headers=ann).status_code == 204
    assert vision_client.get(stored["url"], headers=ann).status_code == 404


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"hello", "text/plain", 415, "unsupported-media-type"),
        (b"%PDF-1.4", "application/pdf", 415, "unsupported-media-type"),
        (b"not an image at all", "image/png", 400, "unreadable-media"),
        (png_bomb(), "image/png", 413, "payload-too-large"),
        (truncated(encode(canvas(400, 300), "JPEG")), "image/jpeg", 400, "unreadable-media"),
        (b"\x89PNG\r\n\x1a\n<svg onload=alert(1)>", "image/png", 400, "unreadable-media"),
        (b"", "image/png", 422, "invalid-input"),
    ],
    ids=["text", "pdf", "garbage", "bomb", "truncated-jpeg", "png-svg-polyglot", "empty-body"],
)
def test_bad_uploads_are_problems_naming_the_field(
    vision_client: Client, users: Users, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = vision_client.post(
        f"{V}/detect", content=content, headers={**users("ann"), "Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.json()["field"] == "file"


def test_a_zero_byte_file_in_a_form_is_unreadable(vision_client: Client, users: Users) -> None:
    response = vision_client.post(
        f"{V}/ocr", files={"file": ("empty.png", b"", "image/png")}, headers=users("ann")
    )
    assert response.status_code == 400 and "empty" in response.json()["detail"]


def test_sources_are_exclusive_and_urls_off(vision_client: Client, users: Users) -> None:
    headers = users("ann")
    both = vision_client.post(
        f"{V}/detect?source=camera", content=scene(), headers={**headers, **IMAGE}
    )
    assert both.status_code == 422 and "one image source" in both.json()["detail"]
    url = vision_client.post(
        f"{V}/detect", json={"url": "https://example.com/a.jpg"}, headers=headers
    )
    assert url.status_code == 422 and url.json()["field"] == "url" and "off" in url.json()["detail"]
    unknown = vision_client.post(f"{V}/detect", json={"colour": "red"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "colour"
    not_base64 = vision_client.post(f"{V}/detect", json={"image": "%%%"}, headers=headers)
    assert not_base64.status_code == 422 and not_base64.json()["field"] == "image"


def test_vision_calls_are_counted_in_stats_and_analytics(
    vision_client: Client, users: Users, rig: Rig
) -> None:
    headers = users("ann")
    vision_client.post(f"{V}/detect", content=scene(), headers={**headers, **IMAGE})
    vision_client.post(f"{V}/ocr", content=scene(), headers={**headers, **IMAGE})
    vision_client.post(
        f"{V}/detect", content=b"junk", headers={**headers, **IMAGE}
    )  # refused: not counted
    stats = vision_client.get("/api/v1/profile/stats", headers=headers).json()
    assert stats["totals"]["vision_calls"] == 2
    calls = rig.events.named("vision.call")
    assert [(c["kind"], c["model"]) for c in calls] == [("detect", DETECTOR), ("ocr", OCR)]
    assert all(c["total_ms"] > 0 for c in calls)


def test_vision_needs_sign_in(vision_client: Client) -> None:
    assert vision_client.post(f"{V}/detect", content=scene()).status_code == 401


def test_a_body_must_say_what_it_is(vision_client: Client, users: Users) -> None:
    headers = users("ann")
    untyped = vision_client.post(f"{V}/detect", content=scene(), headers=headers)
    assert untyped.status_code == 415 and "Content-Type: image/jpeg" in untyped.json()["detail"]
    octets = vision_client.post(
        f"{V}/detect",
        content=scene(),
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert octets.status_code == 200
