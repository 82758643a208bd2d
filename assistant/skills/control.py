"""Assistant control: "stop", "never mind", louder and quieter, faster and slower.

The volume is the device's (``hal.audio.volume.OutputVolume``, applied by the speaker of
the voice loop), on a 0-10 scale in speech ("set the volume to 5") or in percent
("volume 50 percent"); the speaking rate is the user's ``speaking_rate`` preference
(0.5 to 2.0), which the voice loop reads for every reply. "Stop" and "never mind" say
nothing at all: the answer's spoken text is empty.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from assistant.profile import ProfileService
from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem
from assistant.skills.parse import parse_number
from hal.audio.volume import OutputVolume

RATE_STEP = 0.1
"""How much "speak faster"/"slower" change the speaking rate."""
RATE_MIN = 0.5
"""The slowest speaking rate (the preference's lower bound)."""
RATE_MAX = 2.0
"""The fastest speaking rate (the preference's upper bound)."""

_PERCENT = re.compile(r"\s*(%|percent|per cent)\s*$", re.IGNORECASE)
_PLEASE = re.compile(r"^\s*please\b|\bplease\s*$", re.IGNORECASE)
_WORDS = {"max": 10.0, "maximum": 10.0, "full": 10.0, "min": 0.0, "minimum": 0.0, "off": 0.0}
_INTENTS = (
    "control.stop",
    "control.cancel",
    "control.louder",
    "control.quieter",
    "control.volume",
    "control.faster",
    "control.slower",
)
_NO_SPEAKER_WRITTEN = (
    "The volume can only be changed where the assistant speaks: this request did not come"
    " through a device with a speaker."
)
_NO_SPEAKER_SPOKEN = "I can only change the volume on the device I speak from."


def volume_level(text: str, *, percent: bool = False) -> tuple[float, str]:
    """A spoken volume as a level 0..1 and the scale it was said on (``ten`` or
    ``percent``): "5" -> (0.5, "ten"), "50 percent" -> (0.5, "percent"), "max" -> (1.0,
    "ten"); ``percent``: the number was said with "percent" already taken off. SlotProblem
    when it is no number or out of range. Pure."""
    raw = _PLEASE.sub("", str(text)).strip()
    suffix = _PERCENT.search(raw)
    percent = percent or suffix is not None
    number_text = raw[: suffix.start()] if suffix else raw
    value = _WORDS.get(number_text.strip().lower())
    if value is None:
        value = parse_number(number_text)
    if value is None:
        raise SlotProblem(
            f"I did not understand the volume {raw!r}: say a number from 0 to 10.",
            "What volume do you want, from 0 to 10?",
            slot="control_level",
        )
    if percent:
        if not 0 <= value <= 100:
            raise SlotProblem(
                "The volume goes from 0 to 100 percent: what level do you want?",
                slot="control_level",
            )
        return round(value / 100, 2), "percent"
    if not 0 <= value <= 10:
        raise SlotProblem(
            "The volume goes from 0 to 10: what level do you want?", slot="control_level"
        )
    return round(value / 10, 2), "ten"


def describe_level(level: float, scale: str = "ten") -> str:
    """A level as said back: "7" on the 0-10 scale (one decimal when needed), "55 percent"."""
    if scale == "percent":
        return f"{round(level * 100)} percent"
    tenths = round(level * 10, 1)
    return f"{tenths:g}"


class ControlSkill:
    """Stop, never mind, the output volume and the speaking rate."""

    name = "control"
    summary = "Stop talking, never mind, louder or quieter, speak faster or slower."

    def __init__(self, profile: ProfileService, volume: OutputVolume | None) -> None:
        self.profile = profile
        """Where the speaking rate preference lives."""
        self.volume = volume
        """The device's output volume; None where nothing speaks on this device. Changed
        only while a speaker plays at it (``in_use``: ``assistant talk`` runs in this
        process); otherwise the answer says the volume belongs to the speaking device."""

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """Every control intent is taken; only ``control.volume`` has a slot to type."""
        if intent not in _INTENTS:
            return None
        arguments: dict[str, Any] = {}
        if intent == "control.volume":
            if "control_percent" in slots:
                level, scale = volume_level(slots["control_percent"], percent=True)
            else:
                said = slots.get("control_level", slots.get("control_amount", ""))
                level, scale = volume_level(said)
            arguments = {"level": level, "scale": scale}
        return SkillCall(skill=self.name, intent=intent, arguments=arguments)

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Stop, change the volume or the rate, and say so in as few words as possible."""
        action = call.intent.removeprefix("control.")
        if action in ("stop", "cancel"):
            return SkillAnswer(written="Stopped.", spoken="", data={"action": action})
        if action in ("faster", "slower"):
            return await self._rate(
                context.user_id, RATE_STEP if action == "faster" else -RATE_STEP
            )
        return self._volume(action, call.arguments)

    def _volume(self, action: str, arguments: Mapping[str, Any]) -> SkillAnswer:
        volume = self.volume
        if volume is None or not volume.in_use:
            return SkillAnswer(written=_NO_SPEAKER_WRITTEN, spoken=_NO_SPEAKER_SPOKEN)
        before = volume.level
        scale = "ten"
        if action == "louder":
            if before >= 1.0:
                return _level_answer(before, "That's as loud as I go.")
            level = volume.up()
        elif action == "quieter":
            if before <= 0.0:
                return _level_answer(before, "The volume is already off.")
            level = volume.down()
        else:
            scale = str(arguments.get("scale", "ten"))
            level = volume.set(float(arguments["level"]))
        said = f"Volume {describe_level(level, scale)}."
        return _level_answer(level, said)

    async def _rate(self, user_id: str, step: float) -> SkillAnswer:
        stored = await asyncio.to_thread(self.profile.get_preferences, user_id)
        current = stored.preferences.speaking_rate
        wanted = round(min(RATE_MAX, max(RATE_MIN, current + step)), 2)
        if wanted == round(current, 2):
            limit = "faster" if step > 0 else "slower"
            said = f"I can't speak any {limit}."
            return SkillAnswer(
                written=f"{said[:-1]}: the speaking rate is at its limit, {current:g}.",
                spoken=said,
                data={"speaking_rate": current},
            )
        await asyncio.to_thread(self.profile.patch_preferences, user_id, {"speaking_rate": wanted})
        return SkillAnswer(
            written=f"Okay. Speaking rate {wanted:g}.",
            spoken="Okay.",
            data={"speaking_rate": wanted},
        )


def _level_answer(level: float, said: str) -> SkillAnswer:
    return SkillAnswer(written=said, spoken=said, data={"volume": level})
