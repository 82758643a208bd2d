"""The contract every skill keeps: what it is told, what it matches, what it answers.

A request (typed, spoken, Wyoming ``handle``) is first recognised against the sentence
templates of every skill (``assistant/skills/sentences/<language>/<skill>.yaml``, hassil's
template language), or, for phrasing the templates miss, chosen by the chat model under a
JSON grammar. Either way the recogniser yields an intent name (``"<skill>.<action>"``) and
the raw text of each slot. The skill that owns the intent then:

1. ``match``: turns the raw slot texts into typed arguments (a ``SkillCall``), declines
   with None (the request goes to ordinary chat), or raises ``SlotProblem`` with the
   question to ask back ("How long should the timer run?");
2. ``run``: acts (starts the timer, reads the camera, translates) and answers with a
   written and a spoken text.

Skills are plain classes built with their services injected; they never import the
server, and ``match`` is pure (no I/O, no clock: the context carries the time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from assistant.errors import AssistantError

Stage = Literal["template", "model"]
"""Which stage recognised a request: a sentence template, or the chat model's choice."""


@dataclass(frozen=True)
class SkillContext:
    """What a skill knows about the request it serves."""

    user_id: str
    """Who asked."""
    now: float
    """Seconds since the epoch when the request came in (the service clock)."""
    time_zone: str = "UTC"
    """The user's IANA time zone (from their profile), used for "at 6 pm", "tomorrow"."""
    language: str = "en"
    """The language of the request (ISO 639-1)."""
    source: str = "text"
    """The face it came through: text, voice, wyoming."""
    images: tuple[bytes, ...] = ()
    """Encoded images attached to a typed request (the look skill reads these first)."""
    conversation_id: str | None = None
    """The conversation it belongs to, when there is one."""


@dataclass(frozen=True)
class SkillCall:
    """A recognised request, with its arguments typed by the skill's ``match``."""

    skill: str
    """The skill's name (``timer``)."""
    intent: str
    """The intent recognised (``timer.start``)."""
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """Typed arguments, JSON-serialisable (numbers, strings, booleans, lists, None)."""
    stage: Stage = "template"
    """Which stage recognised it (the router sets it)."""
    confidence: float = 1.0
    """1.0 for a template match; the model's probability for the model stage."""


@dataclass(frozen=True)
class SkillAnswer:
    """What a skill says back."""

    written: str
    """The answer shown in chat and apps (plain text)."""
    spoken: str
    """The answer said aloud (no symbols a voice would read badly)."""
    language: str | None = None
    """The language of ``spoken`` when it is not the request's (a translation is spoken
    in the target language's voice); None: the request's language."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Structured result for apps (a timer's id and end time, a list's items)."""
    question: bool = False
    """True when the answer asks back (a slot could not be understood) instead of acting."""


class SlotProblem(AssistantError):
    """A slot was recognised but cannot be used ("banana minutes", "25 o'clock").

    Raised by ``Skill.match``; the router answers with ``written``/``spoken`` as a
    question and never falls back to chat silently.
    """

    code = "skill-slot"
    title = "Could not understand part of the request"

    def __init__(self, written: str, spoken: str | None = None, *, slot: str) -> None:
        super().__init__(written, slot=slot)
        self.written = written
        """The question to show."""
        self.spoken = spoken or written
        """The question to say."""
        self.slot = slot
        """The slot that could not be used."""


class Skill(Protocol):
    """One thing the assistant can do. Its intents are ``<name>.<action>`` in the sentence
    files; its dependencies come through its constructor."""

    name: str
    """Short id, the prefix of its intents (``timer``); also the preference key to turn
    it off (``disabled_skills``)."""
    summary: str
    """One line: what it does (listed by ``GET /api/v1/skills``, told to the model stage)."""

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """Type the raw slot texts of a recognised intent; None declines (the request goes
        to chat); ``SlotProblem`` asks back. Pure: no I/O, no clock."""
        ...

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Do it and say what was done. Domain errors (not found, invalid input) propagate;
        the router turns them into an answer the user can act on."""
        ...


def side_effect_free(skill: Skill) -> bool:
    """Whether ``skill`` declares (``side_effect_free = True``, a class attribute) that
    running it changes nothing (it tells the time): such a skill may answer a request that
    is not yet certain (a voice loop's speculative turn). Skills that act do not declare
    it, and neither do those that only read but are slow or costly (the camera)."""
    return getattr(skill, "side_effect_free", False) is True
