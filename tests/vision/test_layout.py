"""Reading order, paragraphs, page turns and skew of recognised lines (pure)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.vision.layout import (
    RawLine,
    arrange,
    keep_confident,
    page_turns,
    rotate_points,
    rotate_points_back,
    skew_degrees,
)


def raw(
    text: str, x: float, y: float, width: float = 200, height: float = 30, confidence: float = 0.9
) -> RawLine:
    return RawLine(
        text, confidence, ((x, y), (x + width, y), (x + width, y + height), (x, y + height))
    )


def test_rows_read_top_to_bottom_and_left_to_right() -> None:
    layout = arrange(
        [
            raw("2.50", 300, 12),
            raw("TOTAL 3.70", 20, 100),
            raw("Bread", 20, 10),
            raw("Milk", 20, 50),
            raw("1.20", 300, 52),
        ]
    )
    assert [line.text for line in layout.lines] == ["Bread", "2.50", "Milk", "1.20", "TOTAL 3.70"]
    assert [line.order for line in layout.lines] == [0, 1, 2, 3, 4]
    assert layout.text == "Bread 2.50\nMilk 1.20\nTOTAL 3.70"
    assert layout.paragraphs == ("Bread 2.50 Milk 1.20 TOTAL 3.70",)


def test_a_wide_gap_starts_a_paragraph() -> None:
    layout = arrange(
        [raw("first line", 20, 10), raw("second line", 20, 45), raw("new para", 20, 130)]
    )
    assert layout.paragraphs == ("first line second line", "new para")
    assert layout.text == "first line\nsecond line\n\nnew para"
    assert [line.paragraph for line in layout.lines] == [0, 0, 1]


def test_columns_that_do_not_overlap_are_separate_paragraphs() -> None:
    layout = arrange([raw("left", 0, 0, width=100), raw("right", 400, 40, width=100)])
    assert layout.paragraphs == ("left", "right")


def test_blank_lines_are_dropped_and_nothing_is_empty() -> None:
    assert arrange([raw("  ", 0, 0)]).text == ""
    assert arrange([]).lines == ()


def test_a_tilted_page_is_levelled_before_rows_are_found() -> None:
    def tilted(text: str, x: float, y: float, degrees: float = 8.0) -> RawLine:
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        corners = ((x, y), (x + 400, y), (x + 400, y + 30), (x, y + 30))
        return RawLine(text, 0.9, tuple((px * c - py * s, px * s + py * c) for px, py in corners))

    lines = [tilted("one", 0, 100), tilted("two", 0, 140), tilted("three", 0, 180)]
    assert skew_degrees(lines) == pytest.approx(8.0, abs=0.01)
    assert arrange(lines).text == "one\ntwo\nthree"


@pytest.mark.parametrize(
    ("rotations", "turns"),
    [
        ([], 0),
        ([(0, 10)], 0),
        ([(180, 10), (0, 2)], 2),
        ([(90, 5), (90, 5), (270, 3)], 1),
        ([(270, 12)], 3),
    ],
)
def test_the_page_turns_with_most_of_its_text(rotations: list[tuple[int, int]], turns: int) -> None:
    assert page_turns(rotations) == turns


@given(
    turns=st.integers(0, 3),
    width=st.integers(1, 50),
    height=st.integers(1, 50),
    x=st.floats(0, 1),
    y=st.floats(0, 1),
)
def test_rotating_points_round_trips(
    turns: int, width: int, height: int, x: float, y: float
) -> None:
    point = ((x * width, y * height),)
    there = rotate_points(point, turns, width, height)
    back = rotate_points_back(there, turns, width, height)
    assert back[0] == pytest.approx(point[0])


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_points_follow_numpy_rotation(turns: int) -> None:
    image = np.zeros((4, 6), dtype=np.uint8)
    image[1, 4] = 1  # pixel centre (4.5, 1.5)
    rotated = np.rot90(image, turns)
    ((x, y),) = rotate_points(((4.5, 1.5),), turns, 6, 4)
    assert rotated[int(y), int(x)] == 1


def test_keep_confident_drops_and_scales() -> None:
    layout = arrange([raw("sure", 10, 10, confidence=0.9), raw("unsure", 10, 50, confidence=0.3)])
    kept = keep_confident(layout, 0.5, 2.0)
    assert kept.text == "sure"
    assert kept.lines[0].polygon[0] == (20.0, 20.0)


def test_rapidocr_lines_carry_how_they_were_turned() -> None:
    from runtime.ocr.rapidocr import kept_flips, lines_from_result

    wide = [[0, 0], [100, 0], [100, 20], [0, 20]]
    tall = [[0, 0], [20, 0], [20, 100], [0, 100]]
    result = [[wide, "kept", 0.9], [tall, "down", 0.8], [wide, "  ", 0.9]]
    # The recogniser read four crops; the third scored under text_score and was dropped.
    flips = kept_flips(
        [("0", 0.99), ("180", 0.95), ("180", 0.99), ("0", 0.5)], [0.9, 0.8, 0.2, 0.9], 0.5
    )
    assert flips == [False, True, False]
    lines = lines_from_result(result, flips)
    assert [(line.text, line.rotation) for line in lines] == [("kept", 0), ("down", 270)]
    assert kept_flips([("0", 0.9)], [], 0.5) is None
    assert [line.rotation for line in lines_from_result(result)] == [0, 90]
