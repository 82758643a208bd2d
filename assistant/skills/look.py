"""Look and read: what the camera (or an attached picture) shows, how many of a thing are
in it, and what its text says.

Every answer comes from the vision service's grounded paths: a description from
``analyze`` (the chat model's words kept only when every object they name was detected,
else words written from the facts), a count from the detector's boxes of the named
thing (its labels put into words by the settings' ``label_nouns``, so the fall
detector's ``Normal`` counts as a person), and reading from the OCR's text in reading
order. The image is the first one attached to a typed request, else a frame from the
device camera; with neither, the answer says so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem
from assistant.vision import grounding
from assistant.vision.service import ImageSource, OcrOptions, VisionService
from hal.errors import DeviceUnavailable
from runtime.detect.base import DetectOptions

log = logging.getLogger(__name__)


def _words(text: str, sep: str | None = None) -> frozenset[str]:
    """The words of a table written as one string."""
    return frozenset(text.split(sep))


_DETERMINERS = _words("the all a an any of my your these those some")
_NOT_THINGS = _words(
    "second seconds minute minutes hour hours day days week weeks month months year years"
    " time times calorie calories word words letter letters language languages country"
    " countries planet planets"
)
"""Things a camera cannot count ("how many days are there"): such questions go to chat."""
_RELATIONS = _words("to until till from since before after between in on of for per")
"""Words that make a phrase more than a thing ("count the days until Christmas")."""
_NUMBER_WORDS = tuple("no one two three four five six seven eight nine ten eleven twelve".split())  # noqa: SIM905
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")

MAX_LISTED = 6
"""A detector knowing more kinds of things than this is not read out in full."""
NO_IMAGE = (
    "I can't see anything: this device has no camera, and no picture came with the request."
    " Attach a photo and ask again."
)


def object_words(raw: str) -> tuple[str, ...] | None:
    """The words naming what to count ("the red cars" -> ("red", "cars")); None when the
    phrase is no thing a camera sees ("days until Christmas"). Pure."""
    words = _WORD.findall(raw.lower())
    while words and words[0] in _DETERMINERS:
        words = words[1:]
    if not words or len(words) > 3:
        return None
    if any(word in _RELATIONS for word in words) or words[-1] in _NOT_THINGS:
        return None
    return tuple(words)


def _singulars(word: str) -> set[str]:
    """Forms a plural may stand for: grounding's table first, then a stripped ``s``."""
    forms = {word, grounding.concept(word)}
    if word.endswith("es") and word[:-2].endswith(("s", "x", "ch", "sh")):
        forms.add(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
    return forms


def _phrases(words: tuple[str, ...]) -> set[str]:
    """The phrase with its last word in every form a plural may stand for."""
    return {" ".join((*words[:-1], form)) for form in _singulars(words[-1])}


def counted_noun(words: tuple[str, ...], nouns: Iterable[str]) -> str | None:
    """The detector noun the asked words name ("cars" -> "car", "people" -> "person",
    "teddy bears" -> "teddy bear", "red cars" -> "car"), or None when the detector knows
    no such thing. The whole phrase is tried before its last word. Pure."""
    known = [(noun, _phrases(tuple(noun.lower().split()))) for noun in nouns if noun.strip()]
    for wanted in (_phrases(words), _singulars(words[-1])):
        for noun, forms in known:
            if forms & wanted:
                return noun
    return None


def spelled(count: int) -> str:
    """A count as a voice says it (words up to twelve)."""
    return _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)


def count_answer(noun: str, count: int) -> tuple[str, str]:
    """(written, spoken) for ``count`` of ``noun``: "I see 2 people." / "I see two people.\""""
    if count == 0:
        many = grounding.plural(noun, 2)[2:]
        sentence = f"I don't see any {many}."
        return sentence, sentence
    phrase = grounding.plural(noun, count)
    word = phrase.split(" ", 1)[1]
    return f"I see {count} {word}.", f"I see {spelled(count)} {word}."


def unknown_answer(asked: str, nouns: Iterable[str]) -> str:
    """Why a thing cannot be counted: the detector does not know it (and what it knows)."""
    known = sorted({grounding.plural(noun, 2)[2:] for noun in nouns})
    if len(known) > MAX_LISTED:
        return (
            f"I can't count {asked}: the object detector here does not recognise them"
            f" (it knows {len(known)} kinds of things, such as {', '.join(known[:3])})."
        )
    listed = ", ".join(known) if known else "nothing"
    return f"I can't count {asked}: the object detector here recognises only {listed}."


def read_answer(text: str) -> tuple[str, str]:
    """(written, spoken) for text read from a picture: quoted when written, as is when
    spoken; a clear answer when there is none."""
    text = text.strip()
    if not text:
        sentence = "I can't find any text to read in the picture."
        return sentence, sentence
    return f'It says: "{text}"', text


class LookSkill:
    """Describes, counts and reads what the camera or an attached picture shows."""

    name = "look"
    summary = (
        "Describe what the camera (or an attached picture) shows, count people or things"
        " in it, or read its text aloud"
    )

    def __init__(self, vision: VisionService) -> None:
        self.vision = vision

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """look.describe and look.read take no slots; look.count names what to count."""
        if intent in ("look.describe", "look.read"):
            return SkillCall(self.name, intent, {})
        if intent != "look.count":
            return None
        raw = slots.get("look_object", "").strip()
        if raw and not re.search(r"[a-zA-Z]", raw):
            raise SlotProblem(
                f"I can count people or things, not {raw!r}. What should I count?",
                "What should I count?",
                slot="look_object",
            )
        words = object_words(raw)
        if words is None:
            return None
        return SkillCall(self.name, intent, {"object": " ".join(words)})

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Take the image, ask the vision service, answer from what it found."""
        if context.images:
            source = ImageSource(data=context.images[0])
        elif self.vision.open_camera is not None:
            source = ImageSource(camera=True)
        else:
            return SkillAnswer(NO_IMAGE, NO_IMAGE, data={"image": None})
        try:
            if call.intent == "look.count":
                return await self._count(str(call.arguments["object"]), source, context)
            if call.intent == "look.read":
                return await self._read(source, context)
            return await self._describe(source, context)
        except DeviceUnavailable as exc:
            log.info("look: the camera is unavailable: %s", exc.detail)
            written = (
                "I can't see anything: the camera is not available"
                f" ({exc.detail}). Attach a photo and ask again."
            )
            spoken = "I can't see anything: the camera is not available."
            return SkillAnswer(written, spoken, data={"image": None})

    async def _describe(self, source: ImageSource, context: SkillContext) -> SkillAnswer:
        analysis = await self.vision.analyze(context.user_id, source, DetectOptions())
        data: dict[str, Any] = {
            "image": analysis.detection.image.source,
            "counts": dict(analysis.counts),
            "text": analysis.ocr.layout.text,
            "description_source": analysis.description_source,
        }
        return SkillAnswer(analysis.description, analysis.description, data=data)

    async def _count(self, asked: str, source: ImageSource, context: SkillContext) -> SkillAnswer:
        result = await self.vision.detect(context.user_id, source, DetectOptions())
        aliases = self.vision.defaults.label_nouns
        nouns = list(dict.fromkeys(grounding.nouns_of(result.labels, aliases).values()))
        noun = counted_noun(tuple(asked.split()), nouns)
        data: dict[str, Any] = {"image": result.image.source, "object": asked}
        if noun is None:
            sentence = unknown_answer(asked, nouns)
            return SkillAnswer(sentence, sentence, data={**data, "count": None})
        count = sum(1 for found in result.objects if found.noun == noun)
        written, spoken = count_answer(noun, count)
        boxes = [list(found.box) for found in result.objects if found.noun == noun]
        return SkillAnswer(
            written, spoken, data={**data, "noun": noun, "count": count, "boxes": boxes}
        )

    async def _read(self, source: ImageSource, context: SkillContext) -> SkillAnswer:
        result = await self.vision.ocr(context.user_id, source, OcrOptions())
        written, spoken = read_answer(result.layout.text)
        data = {
            "image": result.image.source,
            "text": result.layout.text,
            "paragraphs": list(result.layout.paragraphs),
        }
        return SkillAnswer(written, spoken, data=data)
