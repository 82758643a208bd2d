"""Words grounded in what the models saw: the facts a chat model is given, the checks on
what it writes, and the plain answers used when it strays. Pure: no I/O, no clock.

A small chat model asked to describe a picture from a list of facts will sometimes add
an object that is not in the list ("a dog"). The description of ``/analyze`` is kept
only if every object noun it uses was seen by the detector (or is in the OCR text);
otherwise the plain description written from the facts is used. Answers to "how many
X" and "what does it say" are checked against the counts and the text the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.vision.facts import ImageFacts


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


OBJECT_NOUNS: frozenset[str] = _words(
    "person people man men woman women child children kid kids boy girl baby human bicycle "
    "bike car cars motorcycle motorbike airplane plane bus train truck boat ship hydrant "
    "bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella handbag "
    "suitcase frisbee skis snowboard ball kite skateboard surfboard racket bottle cup fork "
    "knife spoon bowl banana apple sandwich broccoli carrot pizza donut cake chair couch "
    "sofa bed toilet tv television laptop computer keyboard phone microwave oven toaster "
    "sink refrigerator fridge book clock vase scissors teddy toothbrush tree building house "
    "animal vehicle flower lamp pet "
)
"""Nouns of things a description might name (COCO's classes and common words for
them): any of these in a description must have been seen."""

PERSON_WORDS = _words(
    "person people man men woman women child children kid kids boy girl baby human"
)
"""Words that all mean "a person was seen"."""

_IRREGULAR_PLURALS = {
    "people": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "knives": "knife",
    "buses": "bus",
    "glasses": "glass",
    "benches": "bench",
    "sandwiches": "sandwich",
    "couches": "couch",
    "boxes": "box",
    "skis": "skis",
}
_WORD = re.compile(r"[a-z]+")
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve".split()  # noqa: SIM905
)
_HOW_MANY = re.compile(r"\bhow\s+many\s+([a-z]+(?:\s+[a-z]+)?)", re.IGNORECASE)
_READ_TEXT = re.compile(
    r"\b(what\s+does\s+.*\b(say|read)|what\s+is\s+written|what\s+.*\btext\b|read\s+(it|the|this))",
    re.IGNORECASE,
)


def singular(word: str) -> str:
    """A noun's singular, for the nouns in OBJECT_NOUNS."""
    word = word.lower()
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and word[:-1] in OBJECT_NOUNS:
        return word[:-1]
    return word


def concept(word: str) -> str:
    """What a noun stands for when checking it: every person word is ``person``."""
    base = singular(word)
    return "person" if base in PERSON_WORDS else base


@dataclass(frozen=True)
class Seen:
    """Everything the models saw in one image, in words."""

    counts: Mapping[str, int]
    """Objects per noun (``{"person": 2}``), after mapping detector labels to nouns."""
    text: str
    """The OCR text (empty when none)."""
    facts: ImageFacts
    """What the pixels say."""
    detector_nouns: tuple[str, ...] = ()
    """Every noun the detector could report (to say what it cannot see)."""

    def concepts(self) -> set[str]:
        """Concepts that may be named: seen objects and words in the text."""
        seen = {concept(noun) for noun, count in self.counts.items() if count > 0}
        seen |= {concept(word) for word in _WORD.findall(self.text.lower())}
        return seen


def plural(noun: str, count: int) -> str:
    """``1 person``, ``2 people``, ``3 cars``."""
    if count == 1:
        return f"1 {noun}"
    irregular = {value: key for key, value in _IRREGULAR_PLURALS.items()}
    word = irregular.get(noun) or (
        noun + "es" if noun.endswith(("s", "x", "ch", "sh")) else noun + "s"
    )
    return f"{count} {word}"


def facts_lines(seen: Seen) -> list[str]:
    """The facts, one per line, as the chat model is given them."""
    facts = seen.facts
    lines = [f"Image size: {facts.width}x{facts.height} pixels."]
    if seen.counts:
        objects = ", ".join(plural(noun, n) for noun, n in sorted(seen.counts.items()))
        lines.append(f"Objects detected: {objects}.")
    else:
        lines.append("Objects detected: none.")
    if seen.text.strip():
        quoted = seen.text.strip().replace("\n\n", " / ").replace("\n", " / ")
        lines.append(f'Text in the image: "{quoted}".')
    else:
        lines.append("Text in the image: none.")
    lines.append(
        f"Lighting: {facts.lighting} (brightness {facts.brightness:.2f});"
        f" {'blurry' if facts.blurry else 'sharp'}."
    )
    if facts.colours:
        colours = ", ".join(c.name for c in facts.colours)
        lines.append(f"Main colours: {colours}.")
    return lines


DESCRIBE_SYSTEM = (
    "You describe pictures for a person who cannot see them, using ONLY the facts given."
    " Never mention an object that is not listed in the facts. Write one or two short"
    " sentences."
)
ANSWER_SYSTEM = (
    "You answer questions about a picture using ONLY the facts given about it. If the"
    " facts do not answer the question, say that the picture's facts do not tell."
    " Answer in one short sentence."
)


def describe_messages(seen: Seen) -> list[tuple[str, str]]:
    """(role, content) messages asking for a description from the facts."""
    facts = "\n".join(facts_lines(seen))
    return [("system", DESCRIBE_SYSTEM), ("user", f"Facts:\n{facts}\n\nDescribe the picture.")]


def answer_messages(seen: Seen, question: str) -> list[tuple[str, str]]:
    """(role, content) messages asking the question about the facts."""
    facts = "\n".join(facts_lines(seen))
    return [("system", ANSWER_SYSTEM), ("user", f"Facts:\n{facts}\n\nQuestion: {question}")]


def invented(text: str, seen: Seen) -> list[str]:
    """Object nouns in ``text`` that nothing saw (empty when the text is grounded)."""
    allowed = seen.concepts()
    words = _WORD.findall(text.lower())
    named = {
        concept(word) for word in words if singular(word) in OBJECT_NOUNS or word in OBJECT_NOUNS
    }
    return sorted(named - allowed)


def plain_description(seen: Seen) -> str:
    """A description written from the facts alone."""
    facts = seen.facts
    parts = []
    if seen.counts:
        objects = ", ".join(plural(noun, n) for noun, n in sorted(seen.counts.items()))
        parts.append(f"The picture shows {objects}.")
    else:
        parts.append("No objects the detector knows are in the picture.")
    if seen.text.strip():
        parts.append(f'It contains the text "{_one_line(seen.text)}".')
    look = f"It is {facts.lighting} and {'blurry' if facts.blurry else 'sharp'}"
    if facts.colours:
        look += f", mostly {', '.join(c.name for c in facts.colours[:2])}"
    parts.append(look + ".")
    return " ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Expectation:
    """What a correct answer to a question must contain, when the facts decide it."""

    kind: str
    """``count``, ``text`` or ``unanswerable``."""
    answer: str
    """The plain answer from the facts."""
    must_contain: tuple[str, ...] = ()
    """Any one of these in the model's answer makes it acceptable (empty: the model's
    answer is never accepted)."""


def expectation(question: str, seen: Seen) -> Expectation | None:
    """What the facts say the answer is, for questions they decide (None otherwise)."""
    how_many = _HOW_MANY.search(question)
    if how_many:
        words = how_many.group(1).lower().split()
        asked = [w for w in words if singular(w) in OBJECT_NOUNS or w in OBJECT_NOUNS]
        if asked:
            noun = concept(asked[0])
            known = {concept(n) for n in seen.detector_nouns}
            if noun not in known:
                listed = ", ".join(sorted(known)) or "nothing"
                return Expectation(
                    kind="unanswerable",
                    answer=(
                        f"I cannot tell: the object detector does not recognise {asked[0]};"
                        f" it knows only: {listed}."
                    ),
                )
            count = sum(n for key, n in seen.counts.items() if concept(key) == noun)
            spelled = _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)
            options = (str(count), spelled) + (("no ", "none", "zero") if count == 0 else ())
            answer = (
                f"I see {plural(noun, count)}." if count else f"I see no {plural(noun, 2)[2:]}."
            )
            return Expectation(kind="count", answer=answer, must_contain=options)
    if _READ_TEXT.search(question):
        text = _one_line(seen.text)
        if not text:
            return Expectation(kind="unanswerable", answer="I cannot find any text in the picture.")
        return Expectation(kind="text", answer=f'It says: "{text}".', must_contain=(text,))
    return None


def accepts(expected: Expectation, answer: str) -> bool:
    """Whether the model's answer agrees with what the facts decide."""
    if not expected.must_contain:
        return False
    folded = _fold(answer)
    if expected.kind == "count":
        words = set(_WORD.findall(answer.lower())) | set(re.findall(r"\d+", answer))
        return any(option.strip() in words for option in expected.must_contain)
    return any(_fold(option) in folded for option in expected.must_contain)


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def nouns_of(labels: Iterable[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """The noun for each detector label: its alias if set, else the label itself."""
    return {label: aliases.get(label, label).lower() for label in labels}


def count_by(values: Sequence[str]) -> dict[str, int]:
    """How often each value occurs, in first-seen order."""
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
