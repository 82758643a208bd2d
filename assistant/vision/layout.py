"""Reading order and paragraphs of recognised text lines. Pure: no I/O, no clock.

OCR finds lines one box at a time; a receipt's "Milk" and "2.50" are two boxes on one
row. Lines are grouped into rows (their vertical extents overlap), rows are read top to
bottom and each row left to right, and rows close together that overlap horizontally
form a paragraph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


def arrange(lines: Sequence[RawLine], gap_ratio: float = 0.9) -> TextLayout:
    """Lines in reading order, grouped into rows and paragraphs.

    A row starts a new paragraph when the gap above it is more than ``gap_ratio`` times
    the typical line height, or when it does not overlap the previous row horizontally.
    """
    kept = [line for line in lines if line.text.strip()]
    if not kept:
        return TextLayout(lines=(), paragraphs=(), text="")
    rows = _rows(kept)
    heights = [box[3] - box[1] for box in (_row_box(row) for row in rows)]
    typical = median(heights) if heights else 1.0
    paragraph_of_row: list[int] = []
    paragraph = 0
    previous: tuple[float, float, float, float] | None = None
    for row in rows:
        box = _row_box(row)
        if previous is not None:
            gap = box[1] - previous[3]
            overlaps = min(box[2], previous[2]) - max(box[0], previous[0]) > 0
            if gap > gap_ratio * typical or not overlaps:
                paragraph += 1
        paragraph_of_row.append(paragraph)
        previous = box
    ordered: list[TextLine] = []
    for row_index, row in enumerate(rows):
        for line in row:
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
    row_texts = [" ".join(line.text.strip() for line in row) for row in rows]
    paragraphs: list[list[str]] = [[] for _ in range(paragraph + 1)]
    for row_index, text in enumerate(row_texts):
        paragraphs[paragraph_of_row[row_index]].append(text)
    return TextLayout(
        lines=tuple(ordered),
        paragraphs=tuple(" ".join(rows_of) for rows_of in paragraphs),
        text="\n\n".join("\n".join(rows_of) for rows_of in paragraphs),
    )


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


def reading_score(lines: Sequence[RawLine]) -> float:
    """How much confidently read text there is: the sum of confidence x characters."""
    return sum(line.confidence * len(line.text.strip()) for line in lines)


def looks_sideways(lines: Sequence[RawLine]) -> bool:
    """Most found text boxes are much taller than wide: the text likely runs vertically."""
    if not lines:
        return False
    tall = 0
    for line in lines:
        x1, y1, x2, y2 = bounds(line.polygon)
        if (y2 - y1) > 1.5 * (x2 - x1):
            tall += 1
    return tall * 2 > len(lines)
