"""Translate: "how do you say 'thank you' in Spanish", "translate I love you to Italian".

The phrase is translated by the translation service (its cache, history and engines:
a translation model when one serves the pair, else the chat model) from the language of
the request into the named language. The answer is written with the target language
named, and spoken as the translation alone, in the target language's voice
(``SkillAnswer.language``).

Two families of templates fill different slots: the explicit ones ("translate X into Y",
"how do you say X in Y") fill ``translate_language``, where a language the assistant does
not know is asked back ("I don't know the language 'Klingon'..."); the loose
"what is X in Y" fills ``translate_question_language``, and a Y that is no language
("what is the time in Tokyo") is not a translation at all: the request goes to chat.
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem
from assistant.skills.parse import parse_language
from assistant.translate.models import TranslateRequest
from assistant.translate.service import TranslateService
from runtime.mt.languages import LANGUAGE_NAMES


def _words(text: str, sep: str | None = None) -> frozenset[str]:
    """The words of a table written as one string."""
    return frozenset(text.split(sep))


TEXT_SLOT = "translate_text"
LANGUAGE_SLOT = "translate_language"
"""The target of an explicit request: an unknown language is asked back."""
LINK_SLOT = "translate_link"
"""The word between the phrase and the language in "translate X into Y" (default: in)."""
LOOSE_LANGUAGE_SLOT = "translate_question_language"
"""The target of "what is X in Y": when Y is no language, the request is not a translation."""

_REFERENCE_HEADS = _words("this that it these those them the my your our")
_REFERENCE_NOUNS = _words(
    "code file files text page pages sentence message email document program script"
    " function app website article paragraph"
)
"""A phrase that points at something not in the request ("translate this code to Rust")
is no phrase to translate: chat, which sees the conversation, answers it."""
_PROGRAMMING = _words(
    (
        "rust, python, java, javascript, typescript, go, golang, c, c++, cpp, c#, csharp,"
        " kotlin, swift, ruby, php, perl, scala, haskell, sql, html, css, bash, shell, lua,"
        " dart, elixir, erlang, julia, r, matlab, fortran, cobol, assembly, binary, hex,"
        " hexadecimal, decimal, morse, morse code, json, yaml, xml, emoji, emojis, pig latin,"
        " markdown, base64, roman numerals"
    ),
    ", ",
)
"""Targets that are not spoken languages ("translate this code to Rust")."""
_NOT_LANGUAGE_HEADS = _words(
    "a an the my your his her our their this that one person public private writing words word code"
)
"""A target that starts so is a manner, not a language ("say hello in a whisper")."""
_LINKS = frozenset(("in", "into", "to"))
_EDGES = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e`.,!?;: "
MAX_TEXT_CHARS = 500


def clean_phrase(raw: str) -> str:
    """The phrase without the quotes and punctuation around it."""
    return raw.strip().strip(_EDGES).strip()


def is_reference(phrase: str) -> bool:
    """Whether the phrase points at something else instead of being the words ("this",
    "that code", "the text")."""
    words = phrase.lower().split()
    if not words:
        return True
    if len(words) == 1:
        return words[0] in _REFERENCE_HEADS
    return len(words) <= 3 and words[0] in _REFERENCE_HEADS and words[-1] in _REFERENCE_NOUNS


def language_named(raw: str) -> str | None:
    """The ISO 639-1 code of a language name ("Spanish", "in French please"), else None."""
    words = clean_phrase(raw).lower().split()
    if words and words[-1] == "please":
        words = words[:-1]
    return parse_language(" ".join(words)) if words else None


def may_be_language(raw: str) -> bool:
    """Whether an unknown target still looks like a language name worth asking about
    ("Klingon", "Elvish"), not a manner or a programming language."""
    words = clean_phrase(raw).lower().split()
    if not words or len(words) > 2:
        return False
    if " ".join(words) in _PROGRAMMING or words[0] in _NOT_LANGUAGE_HEADS:
        return False
    return all(word.isalpha() for word in words)


def split_target(text: str, link: str, target: str) -> tuple[str, str]:
    """Gives back words the target wildcard took from the phrase: with ``text`` "I want",
    ``link`` "to" and ``target`` "go home to Italian", the phrase is "I want to go home"
    and the target "Italian" (the last "to", "into" or "in" followed by a language)."""
    words = target.split()
    for index in range(len(words) - 1, 0, -1):
        if words[index - 1].lower() in _LINKS and language_named(" ".join(words[index:])):
            phrase = " ".join([text, link, *words[: index - 1]])
            return phrase, " ".join(words[index:])
    return text, target


class TranslateSkill:
    """Says a phrase in another language, in that language's voice."""

    name = "translate"
    summary = "Translate a word or phrase into another language and say it in that language"

    def __init__(self, translate: TranslateService) -> None:
        self.translate = translate

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """The phrase and the target language's code; a language the explicit templates
        name that nobody knows is asked back, a loose one declines."""
        if intent != "translate.say":
            return None
        explicit = LANGUAGE_SLOT in slots
        raw_target = slots.get(LANGUAGE_SLOT if explicit else LOOSE_LANGUAGE_SLOT, "")
        text = clean_phrase(slots.get(TEXT_SLOT, ""))
        target = language_named(raw_target)
        if target is None:
            link = slots.get(LINK_SLOT, "in").strip() or "in"
            text, raw_target = split_target(text, link, clean_phrase(raw_target))
            text = clean_phrase(text)
            target = language_named(raw_target)
        if not text or is_reference(text) or len(text) > MAX_TEXT_CHARS:
            return None
        if target is None:
            name = clean_phrase(raw_target)
            if not explicit or not may_be_language(name):
                return None
            question = (
                f"I don't know the language '{name}'. Which language should I translate into?"
            )
            raise SlotProblem(question, question, slot=LANGUAGE_SLOT)
        source = context.language.split("-")[0].lower() or "auto"
        if source == target:
            source = "auto"  # "how do you say merci in English": the phrase is foreign
        return SkillCall(self.name, intent, {"text": text, "target": target, "source": source})

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Translate the phrase; the translation service's errors (a pair no installed
        model serves, no model at all) propagate."""
        text = str(call.arguments["text"])
        target = str(call.arguments["target"])
        source = str(call.arguments.get("source") or "auto")
        request = TranslateRequest(texts=(text,), target=target, source=source)
        kind = "voice" if context.source == "voice" else "text"  # the history's two kinds
        (result,) = await self.translate.translate(context.user_id, request, kind=kind)
        translated = result.translated.strip()
        name = LANGUAGE_NAMES.get(target, target)
        written = f'In {name}, "{text}" is: {translated}'
        return SkillAnswer(
            written,
            translated,
            language=target,
            data={
                "text": text,
                "translated": translated,
                "source": result.source,
                "target": target,
                "engine": result.engine,
                "model": result.model,
            },
        )
