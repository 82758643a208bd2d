"""Reading order and paragraphs of recognised text lines. Pure: no I/O, no clock.

OCR finds lines one box at a time; a receipt's "Milk" and "2.50" are two boxes on one
row. Lines are grouped into rows (their vertical extents overlap), rows are read top to
bottom and each row left to right, and rows close together that overlap horizontally
form a paragraph.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import median

Point = tuple[float, float]


@dataclass(frozen=True)
class TextLine:
    """One recognised line in reading order."""

    text: str
    """What it says."""
    confidence: float
    """Recognition confidence, 0..1."""
    polygon: tuple[Point, ...]
    """Corner points in image pixels, clockwise from the line's top-left."""
    order: int
    """Position in reading order (0 first)."""
    row: int
    """Row of the page it sits on (lines side by side share a row)."""
    paragraph: int
    """Paragraph it belongs to."""

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """x1, y1, x2, y2 enclosing the polygon."""
        return bounds(self.polygon)


@dataclass(frozen=True)
class TextLayout:
    """Recognised text, ordered and grouped."""

    lines: tuple[TextLine, ...]
    """Every line in reading order."""
    paragraphs: tuple[str, ...]
    """Each paragraph's text, its rows joined by spaces."""
    text: str
    """The whole text: rows on separate lines, a blank line between paragraphs."""


@dataclass(frozen=True)
class RawLine:
    """A line as the OCR engine gives it."""

    text: str
    confidence: float
    polygon: tuple[Point, ...]


def bounds(polygon: Sequence[Point]) -> tuple[float, float, float, float]:
    """The axis-aligned box around a polygon."""
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def _rows(lines: Sequence[RawLine]) -> list[list[RawLine]]:
    """Lines grouped into rows, top to bottom, each row left to right."""
    ordered = sorted(lines, key=lambda line: (bounds(line.polygon)[1], bounds(line.polygon)[0]))
    rows: list[list[RawLine]] = []
    extents: list[tuple[float, float]] = []
    for line in ordered:
        _, top, _, bottom = bounds(line.polygon)
        height = max(bottom - top, 1e-6)
        placed = False
        for index, (row_top, row_bottom) in enumerate(extents):
            overlap = min(bottom, row_bottom) - max(top, row_top)
            if overlap > 0.5 * min(height, row_bottom - row_top):
                rows[index].append(line)
                extents[index] = (min(top, row_top), max(bottom, row_bottom))
                placed = True
                break
        if not placed:
            rows.append([line])
            extents.append((top, bottom))
    order = sorted(range(len(rows)), key=lambda i: extents[i][0])
    return [sorted(rows[i], key=lambda line: bounds(line.polygon)[0]) for i in order]


def _row_box(row: Sequence[RawLine]) -> tuple[float, float, float, float]:
    boxes = [bounds(line.polygon) for line in row]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def skew_degrees(lines: Sequence[RawLine]) -> float:
    """The page's small tilt: the median direction of the lines' long edges, in degrees
    (0 for level text; only tilts under 20 degrees count)."""
    angles = []
    for line in lines:
        points = line.polygon
        edges = [(points[i], points[(i + 1) % len(points)]) for i in range(len(points))]
        (x0, y0), (x1, y1) = max(edges, key=lambda e: math.dist(e[0], e[1]))
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        angle = (angle + 90.0) % 180.0 - 90.0  # a direction, not a vector
        if abs(angle) < 20.0:
            angles.append(angle)
    return median(angles) if angles else 0.0


def _level(line: RawLine, degrees: float) -> RawLine:
    """The line with its polygon turned by ``-degrees`` about the origin."""
    if not degrees:
        return line
    c, s = math.cos(math.radians(-degrees)), math.sin(math.radians(-degrees))
    polygon = tuple((x * c - y * s, x * s + y * c) for x, y in line.polygon)
    return RawLine(line.text, line.confidence, polygon)


def arrange(lines: Sequence[RawLine]) -> TextLayout:
    """Lines in reading order, grouped into rows and paragraphs.

    A slightly tilted page is levelled first. A row starts a new paragraph when the gap
    above it is half a line wider than the narrowest gap between rows (and more than 0.6
    line heights), or when it does not overlap the previous row horizontally.
    """
    kept = [line for line in lines if line.text.strip()]
    if not kept:
        return _texts([])
    tilt = skew_degrees(kept)
    levelled = {id(line): _level(line, tilt) for line in kept}
    original = {id(levelled[id(line)]): line for line in kept}
    level_rows = _rows(list(levelled.values()))
    boxes = [_row_box(row) for row in level_rows]
    typical = median(box[3] - box[1] for box in boxes)
    gaps = [b[1] - a[3] for a, b in itertools.pairwise(boxes)]
    # A paragraph gap is wider than the narrowest gap between lines by half a line.
    narrowest = max(min(gaps), 0.0) if gaps else 0.0
    threshold = max(0.6 * typical, narrowest + 0.5 * typical)
    paragraph_of_row: list[int] = []
    paragraph = 0
    for index, box in enumerate(boxes):
        if index:
            above = boxes[index - 1]
            overlaps = min(box[2], above[2]) - max(box[0], above[0]) > 0
            if gaps[index - 1] > threshold or not overlaps:
                paragraph += 1
        paragraph_of_row.append(paragraph)
    ordered: list[TextLine] = []
    for row_index, row in enumerate(level_rows):
        for level_line in row:
            line = original[id(level_line)]
            ordered.append(
                TextLine(
                    text=line.text.strip(),
                    confidence=line.confidence,
                    polygon=line.polygon,
                    order=len(ordered),
                    row=row_index,
                    paragraph=paragraph_of_row[row_index],
                )
            )
    return _texts(ordered)


def rotate_points_back(
    polygon: Sequence[Point], quarter_turns: int, width: int, height: int
) -> tuple[Point, ...]:
    """Points found in ``np.rot90(image, quarter_turns)`` mapped back to ``image``
    (``width`` x ``height``), for quarter_turns 0..3 (counter-clockwise)."""
    turns = quarter_turns % 4
    mapped: list[Point] = []
    for x, y in polygon:
        if turns == 0:
            mapped.append((x, y))
        elif turns == 1:  # rotated[y', x'] = image[x', W - 1 - y']
            mapped.append((width - y, x))
        elif turns == 2:
            mapped.append((width - x, height - y))
        else:  # rotated[y', x'] = image[H - 1 - x', y']
            mapped.append((y, height - x))
    return tuple(mapped)


def rotate_points(
    polygon: Sequence[Point], quarter_turns: int, width: int, height: int
) -> tuple[Point, ...]:
    """Points of ``image`` (``width`` x ``height``) where they land in
    ``np.rot90(image, quarter_turns)``: the inverse of :func:`rotate_points_back`."""
    turns = quarter_turns % 4
    mapped: list[Point] = []
    for x, y in polygon:
        if turns == 0:
            mapped.append((x, y))
        elif turns == 1:
            mapped.append((y, width - x))
        elif turns == 2:
            mapped.append((width - x, height - y))
        else:
            mapped.append((height - y, x))
    return tuple(mapped)


def page_turns(rotations: Sequence[tuple[int, int]]) -> int:
    """Quarter turns (counter-clockwise) that set the page upright, from each line's
    (rotation in degrees clockwise, characters): the rotation of most of the text."""
    weight: dict[int, int] = {}
    for rotation, characters in rotations:
        weight[rotation % 360] = weight.get(rotation % 360, 0) + max(characters, 1)
    if not weight:
        return 0
    rotation = max(sorted(weight), key=lambda r: weight[r])
    return rotation // 90


def keep_confident(layout: TextLayout, min_confidence: float, scale: float) -> TextLayout:
    """The layout without lines read below ``min_confidence``, boxes multiplied by
    ``scale`` (working pixels to full-resolution pixels); the order found is kept."""
    kept = [line for line in layout.lines if line.confidence >= min_confidence]
    return _texts(
        [
            replace(
                line,
                order=index,
                polygon=tuple((round(x * scale, 1), round(y * scale, 1)) for x, y in line.polygon),
            )
            for index, line in enumerate(kept)
        ]
    )


def _texts(lines: Sequence[TextLine]) -> TextLayout:
    """A layout's paragraphs and text from its ordered lines."""
    paragraphs: dict[int, dict[int, list[str]]] = {}
    for line in lines:
        paragraphs.setdefault(line.paragraph, {}).setdefault(line.row, []).append(line.text)
    rows_by_paragraph = [
        [" ".join(words) for _, words in sorted(rows.items())]
        for _, rows in sorted(paragraphs.items())
    ]
    return TextLayout(
        lines=tuple(lines),
        paragraphs=tuple(" ".join(rows) for rows in rows_by_paragraph),
        text="\n\n".join("\n".join(rows) for rows in rows_by_paragraph),
    )
