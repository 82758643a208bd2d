"""Build the skills and their router from the services they act through."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.clock import Clock, system_clock
from assistant.lists.service import ListService
from assistant.profile import ProfileService
from assistant.skills.base import Skill
from assistant.skills.control import ControlSkill
from assistant.skills.lists import ListSkill, NoteSkill
from assistant.skills.look import LookSkill
from assistant.skills.reminder import ReminderSkill
from assistant.skills.router import IntentChooser, SkillRouter
from assistant.skills.templates import Templates, shipped
from assistant.skills.time import TimeSkill
from assistant.skills.timer import TimerSkill
from assistant.skills.translate import TranslateSkill
from assistant.timers.service import TimerService
from assistant.translate.service import TranslateService
from assistant.vision.service import VisionService
from hal.audio.volume import OutputVolume
from runtime.events import NO_EVENTS, Emitter


@dataclass(frozen=True)
class SkillServices:
    """The services the skills act through."""

    profile: ProfileService
    """Preferences (speaking rate, disabled skills) and the user's time zone."""
    vision: VisionService
    """Detection, OCR and grounded descriptions of the camera's picture or an image."""
    translate: TranslateService
    """Translation ("how do you say thank you in Spanish")."""
    timers: TimerService
    """Timers and reminders (stored, fired by the scheduler)."""
    lists: ListService
    """The user's lists and notes."""
    volume: OutputVolume | None = None
    """The device's output volume (louder, quieter); None where nothing speaks here."""


def build_skills(services: SkillServices) -> list[Skill]:
    """Every skill, with its services injected."""
    return [
        TimeSkill(),
        TimerSkill(services.timers),
        ReminderSkill(services.timers),
        LookSkill(services.vision),
        TranslateSkill(services.translate),
        ListSkill(services.lists),
        NoteSkill(services.lists),
        ControlSkill(services.profile, services.volume),
    ]


def build_router(
    services: SkillServices,
    *,
    templates: Templates | None = None,
    chooser: IntentChooser | None = None,
    enabled: bool = True,
    clock: Clock = system_clock,
    events: Emitter = NO_EVENTS,
) -> SkillRouter:
    """The router over every skill and the templates that ship with the package."""
    return SkillRouter(
        build_skills(services),
        templates or shipped(),
        services.profile,
        chooser=chooser,
        enabled=enabled,
        clock=clock,
        events=events,
    )
