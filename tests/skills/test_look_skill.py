"""The look skill: its templates through hassil, its slot typing, and its answers from the
vision service (scripted OCR and the tiny YOLO; the real offline models below)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from assistant.skills.base import SkillCall, SkillContext, SlotProblem
from assistant.skills.look import (
    NO_IMAGE,
    LookSkill,
    count_answer,
    counted_noun,
    object_words,
    read_answer,
    unknown_answer,
)
from assistant.vision.facts import ImageFacts
from assistant.vision.grounding import Seen, invented
from assistant.vision.service import ImageSource, VisionDefaults
from runtime.detect.base import DetectOptions
from runtime.errors import ModelNotInstalled
from runtime.testing.scenes import people_scene, text_image
from runtime.testing.tiny_yolo import make_tiny_yolo
from tests.conftest import real_settings
from tests.skills.sentences import recognise
from tests.vision.conftest import Rig, line, make_rig
from tests.vision.pictures import encode

CONTEXT = SkillContext(user_id="ann", now=1_700_000_000.0)


def understand(text: str, skill: LookSkill, context: SkillContext = CONTEXT) -> SkillCall | None:
    """What the router would run for ``text``: a template, then the skill's ``match``."""
    found = recognise(text)
    if found is None or not found[0].startswith("look."):
        return None
    intent, slots = found
    return skill.match(intent, slots, context)


@pytest.fixture(scope="module")
def tiny_yolo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-yolo")
    make_tiny_yolo(folder / "model.onnx")
    return folder


@pytest.fixture
def rig(services: Services, tiny_yolo_dir: Path) -> Rig:
    return make_rig(services, tiny_yolo_dir)


@pytest.fixture
def user(services: Services) -> SkillContext:
    account = services.auth.create_user("ann", "correct horse battery")
    return SkillContext(user_id=account.id, now=1_700_000_000.0)


MATCHES = [
    # describe: the phrasings and paraphrases
    ("what do you see", "look.describe", {}),
    ("What do you see?", "look.describe", {}),
    ("what can you see right now", "look.describe", {}),
    ("what's in front of you", "look.describe", {}),
    ("what is in front of me", "look.describe", {}),
    ("describe what you see", "look.describe", {}),
    ("please describe what you can see", "look.describe", {}),
    ("look around", "look.describe", {}),
    ("take a look around", "look.describe", {}),
    ("describe this picture", "look.describe", {}),
    ("what's in this photo", "look.describe", {}),
    ("tell me what you see", "look.describe", {}),
    # count
    ("how many people are there", "look.count", {"object": "people"}),
    ("How many cars can you see?", "look.count", {"object": "cars"}),
    ("count the chairs", "look.count", {"object": "chairs"}),
    ("how many dogs do you see", "look.count", {"object": "dogs"}),
    ("how many people are in front of you", "look.count", {"object": "people"}),
    ("how many bottles are in the picture", "look.count", {"object": "bottles"}),
    ("count all the red cars", "look.count", {"object": "red cars"}),
    ("please count the people in front of you", "look.count", {"object": "people"}),
    # read
    ("read this", "look.read", {}),
    ("read this to me", "look.read", {}),
    ("Read this to me, please.", "look.read", {}),
    ("what does the sign say", "look.read", {}),
    ("what does this say", "look.read", {}),
    ("read the text", "look.read", {}),
    ("read me the sign", "look.read", {}),
    ("can you read this for me", "look.read", {}),
    ("what is written on the label", "look.read", {}),
    ("read out the menu", "look.read", {}),
    ("what does that label say", "look.read", {}),
]


@pytest.mark.parametrize(("text", "intent", "arguments"), MATCHES, ids=[m[0] for m in MATCHES])
def test_requests_are_recognised_with_typed_arguments(
    rig: Rig, text: str, intent: str, arguments: dict[str, str]
) -> None:
    call = understand(text, LookSkill(rig.vision))
    assert call is not None, text
    assert (call.skill, call.intent, dict(call.arguments)) == ("look", intent, arguments)


NEAR_MISSES = [
    "what do you see in me",
    "I see what you mean",
    "how many people live in Tokyo",
    "read me a story",
    "what does the word serendipity mean",
    "count the days until Christmas",
    "how many days are there",
    "count to ten",
    "how many languages are there",
    "what do you see as the main risk",
    "what does it mean",
    "look at this from my side",
    "read my emails",
    "what's in front of us in the schedule",
    "how many people are there in the world",
    "can you see the future",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay_chat(rig: Rig, text: str) -> None:
    assert understand(text, LookSkill(rig.vision)) is None


def test_a_number_is_no_thing_to_count(rig: Rig) -> None:
    with pytest.raises(SlotProblem) as raised:
        understand("how many 25 are there", LookSkill(rig.vision))
    assert raised.value.slot == "look_object"
    assert raised.value.spoken == "What should I count?"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("the chairs", ("chairs",)),
        ("all the red cars", ("red", "cars")),
        ("people", ("people",)),
        ("days until Christmas", None),
        ("minutes", None),
        ("the", None),
        ("big old red wooden chairs", None),
    ],
)
def test_object_words(raw: str, words: tuple[str, ...] | None) -> None:
    assert object_words(raw) == words


NOUNS = ["person", "car", "bus", "teddy bear", "bear", "knife", "chair"]


@pytest.mark.parametrize(
    ("words", "noun"),
    [
        (("people",), "person"),
        (("persons",), "person"),
        (("men",), "person"),
        (("cars",), "car"),
        (("red", "cars"), "car"),
        (("buses",), "bus"),
        (("teddy", "bears"), "teddy bear"),
        (("bears",), "bear"),
        (("knives",), "knife"),
        (("chair",), "chair"),
        (("dogs",), None),
        (("glasses",), None),
    ],
)
def test_asked_words_name_a_detector_noun(words: tuple[str, ...], noun: str | None) -> None:
    assert counted_noun(words, NOUNS) == noun


@pytest.mark.parametrize(
    ("noun", "count", "written", "spoken"),
    [
        ("person", 0, "I don't see any people.", "I don't see any people."),
        ("person", 1, "I see 1 person.", "I see one person."),
        ("person", 2, "I see 2 people.", "I see two people."),
        ("bus", 3, "I see 3 buses.", "I see three buses."),
        ("car", 14, "I see 14 cars.", "I see 14 cars."),
    ],
)
def test_count_answers(noun: str, count: int, written: str, spoken: str) -> None:
    assert count_answer(noun, count) == (written, spoken)


def test_what_the_detector_knows_is_listed_when_short() -> None:
    assert unknown_answer("dogs", ["person", "person"]) == (
        "I can't count dogs: the object detector here recognises only people."
    )
    assert unknown_answer("dogs", ["car", "bus", "bear"]).endswith("only bears, buses, cars.")
    many = unknown_answer("unicorns", [f"thing{i}" for i in range(10)])
    assert many.endswith("(it knows 10 kinds of things, such as thing0s, thing1s, thing2s).")


def test_read_answers_quote_when_written_and_say_it_as_is() -> None:
    assert read_answer("MAIN STREET\n") == ('It says: "MAIN STREET"', "MAIN STREET")
    assert read_answer("  ")[0] == "I can't find any text to read in the picture."


# Answers from the vision service (tiny YOLO, scripted OCR and chat) ----------------------


async def test_reading_an_attached_image_reads_it_not_the_camera(
    rig: Rig, user: SkillContext
) -> None:
    rig.ocr.lines = [line("Trains to Leeds", 20, 80), line("Platform 4", 20, 20)]
    context = SkillContext(
        user_id=user.user_id, now=user.now, images=(encode(np.zeros((64, 64, 3), np.uint8)),)
    )
    answer = await LookSkill(rig.vision).run(SkillCall("look", "look.read"), context)
    assert answer.written == 'It says: "Platform 4\nTrains to Leeds"'
    assert answer.spoken == "Platform 4\nTrains to Leeds"
    assert answer.data["image"] == "upload"
    assert rig.cameras == []  # an attached image wins over the camera


async def test_reading_from_the_camera(rig: Rig, user: SkillContext) -> None:
    rig.ocr.lines = [line("EXIT", 10, 10)]
    answer = await LookSkill(rig.vision).run(SkillCall("look", "look.read"), user)
    assert (answer.written, answer.spoken) == ('It says: "EXIT"', "EXIT")
    assert answer.data["image"] == "camera" and len(rig.cameras) == 1
    assert rig.cameras[0].closed  # released after the one frame


async def test_no_text_is_said_plainly(rig: Rig, user: SkillContext) -> None:
    answer = await LookSkill(rig.vision).run(SkillCall("look", "look.read"), user)
    assert answer.spoken == "I can't find any text to read in the picture."


async def test_no_camera_and_no_image_is_an_answer(
    services: Services, rig: Rig, user: SkillContext
) -> None:
    rig.vision.open_camera = None
    skill = LookSkill(rig.vision)
    for intent, arguments in (
        ("look.describe", {}),
        ("look.read", {}),
        ("look.count", {"object": "people"}),
    ):
        answer = await skill.run(SkillCall("look", intent, arguments), user)
        assert answer.written == NO_IMAGE and "no camera" in answer.spoken
    assert rig.ocr.frames == []


async def test_an_unplugged_camera_is_an_answer(rig: Rig, user: SkillContext) -> None:
    rig.unplugged = True
    answer = await LookSkill(rig.vision).run(SkillCall("look", "look.describe"), user)
    assert answer.spoken == "I can't see anything: the camera is not available."
    assert "Attach a photo" in answer.written


async def test_a_missing_model_propagates(services: Services, rig: Rig, user: SkillContext) -> None:
    rig.vision.defaults = VisionDefaults(ocr_model="rapidocr:ppocrv4")  # not installed
    with pytest.raises(ModelNotInstalled) as raised:
        await LookSkill(rig.vision).run(SkillCall("look", "look.read"), user)
    assert raised.value.model_id == "rapidocr:ppocrv4"


async def test_counting_follows_the_detector_and_its_label_nouns(
    rig: Rig, user: SkillContext
) -> None:
    skill = LookSkill(rig.vision)
    picture = encode(np.full((240, 320, 3), 128, np.uint8))
    context = SkillContext(user_id=user.user_id, now=user.now, images=(picture,))
    answer = await skill.run(SkillCall("look", "look.count", {"object": "people"}), context)
    detected = await rig.vision.detect(user.user_id, ImageSource(data=picture), DetectOptions())
    people = [o for o in detected.objects if o.noun == "person"]
    assert answer.data["count"] == len(people) and answer.data["noun"] == "person"
    assert answer.written == count_answer("person", len(people))[0]
    unknown = await skill.run(SkillCall("look", "look.count", {"object": "unicorns"}), context)
    assert unknown.data["count"] is None
    assert unknown.written.startswith("I can't count unicorns: the object detector here")
    assert "does not recognise them (it knows 80 kinds of things, such as " in unknown.written


async def test_a_label_noun_names_what_the_detector_calls_otherwise(
    services: Services, tiny_yolo_dir: Path, user: SkillContext
) -> None:
    rig = make_rig(services, tiny_yolo_dir, label_nouns={"person": "pedestrian"})
    answer = await LookSkill(rig.vision).run(
        SkillCall("look", "look.count", {"object": "pedestrians"}), user
    )
    assert answer.data["noun"] == "pedestrian"
    missing = await LookSkill(rig.vision).run(
        SkillCall("look", "look.count", {"object": "people"}), user
    )
    assert missing.data["count"] is None and "does not recognise them" in missing.written


async def test_describing_is_grounded_in_what_was_seen(rig: Rig, user: SkillContext) -> None:
    rig.ocr.lines = [line("OPEN", 10, 10)]
    rig.say("A grey picture with a dog and the word OPEN.")  # the dog was never seen
    answer = await LookSkill(rig.vision).run(SkillCall("look", "look.describe"), user)
    assert answer.data["description_source"] == "facts"
    assert "dog" not in answer.written and '"OPEN"' in answer.written
    assert answer.spoken == answer.written
    rig.say("A plain grey picture with the word OPEN on it.")
    kept = await LookSkill(rig.vision).run(SkillCall("look", "look.describe"), user)
    assert (kept.written, kept.data["description_source"]) == (
        "A plain grey picture with the word OPEN on it.",
        "model",
    )


# The real offline models: the fall detector, PP-OCRv4, the chat model ---------------------


@pytest.fixture(scope="module")
def real_look(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LookSkill, SkillContext, Path]]:
    """The skill over the real vision service, its camera a file the tests write."""
    folder = tmp_path_factory.mktemp("look-real")
    camera_file = folder / "camera.png"
    camera_file.write_bytes(encode(np.zeros((32, 32, 3), np.uint8)))
    settings = real_settings(folder, vision={"camera_device": str(camera_file)})
    services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    user = services.auth.create_user("ann", "correct horse battery")
    yield LookSkill(services.vision), SkillContext(user_id=user.id, now=1.0), camera_file
    services.close()


@pytest.mark.real_model
@pytest.mark.slow
async def test_real_reading_of_a_sign_through_the_file_camera(
    real_look: tuple[LookSkill, SkillContext, Path],
) -> None:
    skill, context, camera_file = real_look
    sign = text_image(
        ["PLATFORM 4", "Trains to Leeds"],
        font="DejaVuSans-Bold.ttf",
        size=52,
        foreground=(250, 250, 250),
        background=(20, 40, 120),
    )
    camera_file.write_bytes(encode(sign))
    call = understand("what does the sign say", skill, context)
    assert call is not None
    answer = await skill.run(call, context)
    assert answer.data["image"] == "camera"
    assert " ".join(answer.spoken.split()).lower() == "platform 4 trains to leeds"
    assert answer.written.startswith('It says: "') and answer.written.endswith('"')


@pytest.mark.real_model
@pytest.mark.slow
async def test_real_counting_and_describing_of_people_in_an_attached_picture(
    real_look: tuple[LookSkill, SkillContext, Path],
) -> None:
    skill, context, _ = real_look
    picture, _ = people_scene()
    attached = SkillContext(user_id=context.user_id, now=context.now, images=(encode(picture),))
    count = understand("how many people are there", skill, attached)
    assert count is not None
    answer = await skill.run(count, attached)
    assert (answer.written, answer.spoken) == ("I see 2 people.", "I see two people.")
    dogs = await skill.run(SkillCall("look", "look.count", {"object": "dogs"}), attached)
    assert dogs.data["count"] is None and "recognises only people" in dogs.written
    describe = understand("what do you see", skill, attached)
    assert describe is not None
    description = await skill.run(describe, attached)
    assert description.data["counts"] == {"person": 2}
    assert description.written and invented(description.written, _seen(description.data)) == []


def _seen(data: Mapping[str, Any]) -> Seen:
    """What the description may name: the counts and text the skill answered from."""
    facts = ImageFacts(1, 1, 0.5, 0.1, 100.0, False, ())
    return Seen(counts=data["counts"], text=str(data["text"]), facts=facts)
