"""Grounded words: facts given to the chat model, checks on what it writes (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.vision.facts import ImageFacts, colour_name, laplacian_variance, luma, measure
from assistant.vision.grounding import (
    Seen,
    accepts,
    expectation,
    facts_lines,
    invented,
    plain_description,
    plural,
    singular,
)

FACTS = ImageFacts(
    width=640, height=480, brightness=0.5, contrast=0.2, sharpness=300.0, blurry=False, colours=()
)


def seen(
    counts: dict[str, int] | None = None, text: str = "", nouns: tuple[str, ...] = ("person", "car")
) -> Seen:
    return Seen(counts=counts or {}, text=text, facts=FACTS, detector_nouns=nouns)


@pytest.mark.parametrize(
    ("description", "strays"),
    [
        ("Two people stand in a bright room.", []),
        ("A man and a woman stand next to each other.", []),
        ("A dog sits beside two people.", ["dog"]),
        ("Cars and a bus drive past.", ["bus"]),
        ("A sign reads EXIT above the door.", []),
        ("The picture shows a bright green wall.", []),
    ],
)
def test_invented_objects_are_found(description: str, strays: list[str]) -> None:
    assert invented(description, seen({"person": 2, "car": 3}, text="EXIT")) == strays


def test_words_in_the_text_may_be_named() -> None:
    assert invented("The sign says DOG PARK.", seen(text="DOG PARK")) == []


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("people", "person"),
        ("cars", "car"),
        ("buses", "bus"),
        ("knives", "knife"),
        ("glass", "glass"),
    ],
)
def test_singular(word: str, base: str) -> None:
    assert singular(word) == base


@pytest.mark.parametrize(
    ("noun", "count", "text"),
    [("person", 1, "1 person"), ("person", 3, "3 people"), ("bus", 2, "2 buses")],
)
def test_plural(noun: str, count: int, text: str) -> None:
    assert plural(noun, count) == text


def test_counting_questions_are_decided_by_the_facts() -> None:
    facts = seen({"person": 2})
    expected = expectation("How many people are in the picture?", facts)
    assert expected is not None and expected.kind == "count"
    assert expected.answer == "I see 2 people."
    assert accepts(expected, "There are two people in the picture.")
    assert accepts(expected, "I count 2.")
    assert not accepts(expected, "There are three people.")


def test_counting_nothing() -> None:
    expected = expectation("how many cars do you see", seen({"person": 1}))
    assert expected is not None and expected.answer == "I see no cars."
    assert accepts(expected, "There are no cars.")


def test_a_count_the_detector_cannot_make_is_unanswerable() -> None:
    expected = expectation("How many dogs are there?", seen({"person": 1}, nouns=("person",)))
    assert expected is not None and expected.kind == "unanswerable"
    assert "does not recognise dogs" in expected.answer and "person" in expected.answer
    assert not accepts(expected, "Two dogs.")


def test_reading_questions_are_checked_against_the_text() -> None:
    expected = expectation("What does this sign say?", seen(text="MAIN\nSTREET"))
    assert expected is not None and expected.kind == "text"
    assert expected.answer == 'It says: "MAIN STREET".'
    assert accepts(expected, 'The sign says "Main Street".')
    assert not accepts(expected, "It says STOP.")
    nothing = expectation("What is written here?", seen())
    assert nothing is not None and nothing.kind == "unanswerable"


def test_other_questions_go_to_the_model() -> None:
    assert expectation("Is it daytime?", seen()) is None


def test_facts_and_plain_description_say_only_what_was_seen() -> None:
    facts = seen({"person": 2}, text="EXIT")
    lines = facts_lines(facts)
    assert "Objects detected: 2 people." in lines
    assert 'Text in the image: "EXIT".' in lines
    description = plain_description(facts)
    assert description.startswith("The picture shows 2 people.")
    assert invented(description, facts) == []
    assert plain_description(seen()).startswith("No objects the detector knows")


def test_measured_facts() -> None:
    black = np.zeros((64, 64, 3), np.uint8)
    white = np.full((64, 64, 3), 255, np.uint8)
    assert measure(black, 64, 64).brightness == 0.0 and measure(black, 64, 64).lighting == "dark"
    assert measure(white, 64, 64).brightness == 1.0 and measure(white, 64, 64).lighting == "bright"
    board = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    sharp = np.repeat(board[..., None], 3, axis=2)
    assert not measure(sharp, 64, 64).blurry
    assert measure(np.full((64, 64, 3), 128, np.uint8), 64, 64).blurry


def test_dominant_colours_are_named() -> None:
    image = np.zeros((60, 60, 3), np.uint8)
    image[:, :40] = (200, 30, 30)
    image[:, 40:] = (40, 80, 200)
    colours = measure(image, 60, 60).colours
    assert [c.name for c in colours] == ["red", "blue"]
    assert colours[0].fraction == pytest.approx(2 / 3, abs=0.05)
    assert colour_name(250, 250, 250) == "white"


def test_laplacian_of_a_flat_image_is_zero() -> None:
    assert laplacian_variance(luma(np.full((10, 10, 3), 7, np.uint8))) == 0.0
