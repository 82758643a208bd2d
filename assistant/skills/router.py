"""The skill router: a request is matched against the skills before the chat model.

    text -> templates (hassil) ──match──> skill.match -> skill.run -> SkillReply
                │ no template
                └─> model stage (optional: the chat model chooses under a JSON grammar,
                    above a confidence threshold) ──> the same
                │ nothing applies, or the skill declines / is turned off
                └─> None: the chat model answers

The chat service asks ``answer`` first on every turn (HTTP, WebSocket, voice, Wyoming, the
CLI go through it), stores the exchange with the ``skill`` field, and streams the spoken
or the written answer. A slot that cannot be used is answered with a question, never a
silent fall to chat; an error a skill raises on purpose (no such timer, no camera, a
missing model) is answered with what went wrong and what to do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from assistant.chat.models import ChatRequest, SkillReply, SkillUse
from assistant.chat.speculation import SpeculationRefused
from assistant.clock import Clock, system_clock
from assistant.problems import OWN_ERRORS, explain
from assistant.profile import ProfileService
from assistant.skills.base import (
    Skill,
    SkillAnswer,
    SkillCall,
    SkillContext,
    SlotProblem,
    Stage,
    side_effect_free,
)
from assistant.skills.templates import Recognized, Templates
from runtime.events import NO_EVENTS, Emitter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentSpec:
    """An intent as the model stage is told about it."""

    intent: str
    """``<skill>.<action>``."""
    description: str
    """What the skill does (its summary)."""
    slots: tuple[str, ...]
    """The names of the slots its templates fill."""
    examples: tuple[str, ...]
    """Example sentences."""


@dataclass(frozen=True)
class Choice:
    """The model stage's pick."""

    intent: str
    """The intent chosen."""
    slots: Mapping[str, str]
    """Raw slot texts."""
    confidence: float
    """The model's probability of that intent (0..1)."""


class IntentChooser(Protocol):
    """The second stage: phrasing the templates miss (the chat model under a grammar)."""

    async def choose(self, text: str, specs: Sequence[IntentSpec]) -> Choice | None:
        """The intent the text asks for, or None (ordinary chat, or not confident)."""
        ...


@dataclass(frozen=True)
class SkillInfo:
    """A skill as ``GET /api/v1/skills`` lists it."""

    name: str
    """Its name (the key of ``disabled_skills``)."""
    summary: str
    """What it does."""
    intents: tuple[str, ...]
    """Its intents."""
    examples: Mapping[str, tuple[str, ...]]
    """Example sentences per language."""
    enabled: bool
    """False when the user turned it off."""


@dataclass(frozen=True)
class Picked:
    """The skill that takes a request, with its call, or the question a slot raised."""

    skill: Skill
    """The skill."""
    call: SkillCall
    """What it matched (no arguments when it asks back)."""
    problem: SlotProblem | None
    """The question to ask instead of running; None: run the call."""


class SkillRouter:
    """Recognises requests and runs the skill that owns them (``ChatService.skills``)."""

    def __init__(
        self,
        skills: Sequence[Skill],
        templates: Templates,
        profile: ProfileService,
        *,
        chooser: IntentChooser | None = None,
        enabled: bool = True,
        clock: Clock = system_clock,
        events: Emitter = NO_EVENTS,
    ) -> None:
        self.enabled = enabled
        """False: skills are off on this device (``skills.enabled``); chat answers all."""
        self.skills = {skill.name: skill for skill in skills}
        self.templates = templates
        self.profile = profile
        self.chooser = chooser
        """The model stage; None: templates only (``skills.model_stage = false``)."""
        self.clock = clock
        self.events = events

    async def answer(
        self, user_id: str, request: ChatRequest, *, speculative: bool = False
    ) -> SkillReply | None:
        """A skill's reply to the request, or None to let the chat model answer.

        ``speculative``: the request may yet be withdrawn (a voice loop guessing the end
        of a command): a skill that acts is not run (``SpeculationRefused``); asking back
        and skills that declare ``side_effect_free`` go ahead.
        """
        started = time.perf_counter()
        text = request.text.strip()
        language = request.language or "en"
        if language not in self.templates.languages or len(text) > 300:
            return None  # no templates for the language; a long text is not a command
        profile = await asyncio.to_thread(self.profile.get_profile, user_id)
        preferences = await asyncio.to_thread(self.profile.get_preferences, user_id)
        disabled = set(preferences.preferences.disabled_skills)
        context = SkillContext(
            user_id=user_id,
            now=self.clock(),
            time_zone=profile.time_zone or "UTC",
            language=language,
            source=request.source,
            images=request.images,
            conversation_id=request.conversation_id,
        )
        picked = self.pick(text, context, disabled)
        if picked is None and self.chooser is not None:
            choice = await self.chooser.choose(text, self.specs(language, disabled))
            if choice is not None:
                found = Recognized(choice.intent, choice.slots)
                picked = self._match(found, context, "model", choice.confidence)
        if picked is None:
            return None
        skill, call, problem = picked.skill, picked.call, picked.problem
        if speculative and problem is None and not side_effect_free(skill):
            raise SpeculationRefused(skill.name)
        error: str | None = None
        try:
            if problem is not None:
                raise problem
            answer = await skill.run(call, context)
        except SlotProblem as asked:
            answer = SkillAnswer(asked.written, asked.spoken, question=True)
            error = asked.code
        except OWN_ERRORS as exc:
            said = explain(exc)
            answer = SkillAnswer(said.detail, exc.detail, data={"error": said.code})
            error = said.code
        return self._reply(user_id, request, skill, call, answer, error, started)

    def pick(
        self, text: str, context: SkillContext, disabled: set[str] | frozenset[str] = frozenset()
    ) -> Picked | None:
        """The template stage with the skills' ``match``: the first reading a skill takes
        (or asks back about), best first; None when every skill declines. Pure."""
        for found in self.recognize_all(text, context.language, disabled):
            picked = self._match(found, context, "template", 1.0)
            if picked is not None:
                return picked
        return None

    def _match(
        self, found: Recognized, context: SkillContext, stage: Stage, confidence: float
    ) -> Picked | None:
        """The owning skill's typing of a reading; None when it declines."""
        skill = self.skills[found.intent.split(".", 1)[0]]
        try:
            call = skill.match(found.intent, found.slots, context)
        except SlotProblem as problem:
            bare = SkillCall(skill.name, found.intent, {}, stage, confidence)
            return Picked(skill, bare, problem)
        if call is None:
            log.info("skill %s declined %s", skill.name, found.intent)
            return None
        return Picked(skill, replace(call, stage=stage, confidence=confidence), None)

    def _reply(
        self,
        user_id: str,
        request: ChatRequest,
        skill: Skill,
        call: SkillCall,
        answer: SkillAnswer,
        error: str | None,
        started: float,
    ) -> SkillReply:
        """The reply of a skill that answered, logged and counted."""
        stage, confidence = call.stage, call.confidence
        reply = SkillReply(
            use=SkillUse(
                name=skill.name,
                intent=call.intent,
                stage=stage,
                confidence=round(confidence, 4),
                arguments=dict(call.arguments),
                question=answer.question,
                data=dict(answer.data),
            ),
            written=answer.written,
            spoken=answer.spoken,
            language=answer.language,
        )
        milliseconds = round((time.perf_counter() - started) * 1000, 2)
        log.info(
            "skill %s chose %s (%s stage, confidence %.2f) with %s%s in %.1f ms",
            skill.name,
            call.intent,
            stage,
            confidence,
            dict(call.arguments),
            " and asked back" if answer.question else "",
            milliseconds,
        )
        self.events.emit(
            "skill.answer",
            {
                "skill": skill.name,
                "intent": call.intent,
                "stage": stage,
                "confidence": round(confidence, 4),
                "question": answer.question,
                "error": error,
                "source": request.source,
                "total_ms": milliseconds,
            },
            user_id=user_id,
        )
        return reply

    def recognize(
        self, text: str, language: str = "en", disabled: frozenset[str] | set[str] = frozenset()
    ) -> Recognized | None:
        """The template stage alone: the best reading by a skill that is on, or None (the
        skill's ``match`` may still decline it)."""
        return next(self.recognize_all(text, language, disabled), None)

    def recognize_all(
        self, text: str, language: str = "en", disabled: frozenset[str] | set[str] = frozenset()
    ) -> Iterator[Recognized]:
        """The template readings by skills that are on, best first; the others are only
        looked for when the caller asks for more (a skill declined the best)."""

        def usable(found: Recognized) -> bool:
            name = found.intent.split(".", 1)[0]
            return name in self.skills and name not in disabled

        best = self.templates.recognize(text, language)
        if best is None:
            return
        if usable(best):
            yield best
        for other in self.templates.alternatives(text, language):
            if other != best and usable(other):
                yield other

    def specs(
        self, language: str, disabled: set[str] | frozenset[str] = frozenset()
    ) -> list[IntentSpec]:
        """What the model stage is told about each intent of the skills that are on."""
        specs = []
        for intent in self.templates.intents(language):
            name = intent.split(".", 1)[0]
            skill = self.skills.get(name)
            if skill is None or name in disabled:
                continue
            specs.append(
                IntentSpec(
                    intent=intent,
                    description=skill.summary,
                    slots=self.templates.slots(intent, language),
                    examples=self.templates.examples(intent, language),
                )
            )
        return specs

    def catalogue(self, user_id: str) -> list[SkillInfo]:
        """Every skill with its intents and examples, and whether the user has it on."""
        disabled = set(self.profile.get_preferences(user_id).preferences.disabled_skills)
        infos = []
        for name, skill in sorted(self.skills.items()):
            intents = tuple(
                i
                for language in self.templates.languages
                for i in self.templates.intents(language)
                if i.split(".", 1)[0] == name
            )
            examples = {
                language: tuple(
                    e
                    for intent in self.templates.intents(language)
                    if intent.split(".", 1)[0] == name
                    for e in self.templates.examples(intent, language)
                )
                for language in self.templates.languages
            }
            infos.append(
                SkillInfo(
                    name=name,
                    summary=skill.summary,
                    intents=tuple(dict.fromkeys(intents)),
                    examples=examples,
                    enabled=name not in disabled,
                )
            )
        return infos
