"""The control skill: its templates, its slots, and what it changes and says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from hassil import Intents, recognize

from assistant.services import Services
from assistant.skills.base import Skill, SkillCall, SkillContext, SlotProblem
from assistant.skills.control import ControlSkill, describe_level, volume_level
from hal.audio.fake import FakeSpeaker
from hal.audio.volume import OutputVolume, VolumeSpeaker

SENTENCES = Path(__file__).parents[2] / "assistant/skills/sentences/en/control.yaml"
INTENTS = Intents.from_dict(yaml.safe_load(SENTENCES.read_text()))
CONTEXT = SkillContext(user_id="u", now=0.0)


def recognised(text: str) -> tuple[str, dict[str, str]] | None:
    result = recognize(text, INTENTS)
    if result is None or result.intent is None:
        return None
    return result.intent.name, {k: str(v.text or v.value) for k, v in result.entities.items()}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("stop", "control.stop"),
        ("Stop!", "control.stop"),
        ("stop talking", "control.stop"),
        ("please stop", "control.stop"),
        ("be quiet", "control.stop"),
        ("shut up", "control.stop"),
        ("okay stop", "control.stop"),
        ("that's enough", "control.stop"),
        ("stop the alarm", "control.stop"),
        ("never mind", "control.cancel"),
        ("Nevermind.", "control.cancel"),
        ("cancel", "control.cancel"),
        ("cancel that", "control.cancel"),
        ("forget it", "control.cancel"),
        ("louder", "control.louder"),
        ("a bit louder please", "control.louder"),
        ("turn it up", "control.louder"),
        ("turn up the volume", "control.louder"),
        ("speak up", "control.louder"),
        ("volume up", "control.louder"),
        ("quieter", "control.quieter"),
        ("turn the volume down", "control.quieter"),
        ("turn it down a bit", "control.quieter"),
        ("volume down", "control.quieter"),
        ("could you speak more quietly", "control.quieter"),
        ("set the volume to 5", "control.volume"),
        ("set the volume to five", "control.volume"),
        ("volume 50 percent", "control.volume"),
        ("volume seven", "control.volume"),
        ("set the volume to 15", "control.volume"),
        ("speak faster", "control.faster"),
        ("talk a little quicker", "control.faster"),
        ("faster please", "control.faster"),
        ("talk slower", "control.slower"),
        ("slow down", "control.slower"),
        ("could you speak a bit slower please", "control.slower"),
    ],
)
def test_commands_are_recognised(text: str, intent: str) -> None:
    found = recognised(text)
    assert found is not None and found[0] == intent


@pytest.mark.parametrize(
    "text",
    [
        "stop the war",
        "how do I stop smoking",
        "turn up the heat in the story",
        "speak faster than light",
        "never mind the bollocks album",
        "stop the timer",
        "cancel the timer",
        "what's the volume of a sphere",
        "volume of a cube",
        "volume 150",
        "louder than words",
        "why do people talk faster when nervous",
        "slow down the video",
        "shut up and dance",
        "quiet places to visit in Paris",
        "forget it ever happened",
        "speak up for yourself",
    ],
)
def test_near_misses_stay_chat(text: str) -> None:
    assert recognised(text) is None


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("set the volume to 5", {"control_level": "5"}),
        ("put the volume at seven", {"control_level": "seven"}),
        ("set the volume to 40 percent", {"control_level": "40 percent"}),
        ("volume 50 percent", {"control_percent": "50"}),
        ("volume to three", {"control_amount": "three"}),
    ],
)
def test_the_level_is_the_slot(text: str, slots: dict[str, str]) -> None:
    assert recognised(text) == ("control.volume", slots)


@pytest.mark.parametrize(
    ("said", "percent", "level", "scale"),
    [
        ("5", False, 0.5, "ten"),
        ("five", False, 0.5, "ten"),
        ("0", False, 0.0, "ten"),
        ("10", False, 1.0, "ten"),
        ("seven and a half", False, 0.75, "ten"),
        ("max", False, 1.0, "ten"),
        ("5 please", False, 0.5, "ten"),
        ("50 percent", False, 0.5, "percent"),
        ("50%", False, 0.5, "percent"),
        ("fifty", True, 0.5, "percent"),
        ("100", True, 1.0, "percent"),
    ],
)
def test_volume_levels(said: str, percent: bool, level: float, scale: str) -> None:
    assert volume_level(said, percent=percent) == (level, scale)


@pytest.mark.parametrize(
    ("said", "percent", "question"),
    [
        ("15", False, "from 0 to 10"),
        ("eleven", False, "from 0 to 10"),
        ("-1", False, "from 0 to 10"),
        ("150", True, "0 to 100 percent"),
        ("150 percent", False, "0 to 100 percent"),
        ("banana", False, "did not understand"),
        ("", False, "did not understand"),
    ],
)
def test_a_level_out_of_range_or_not_a_number_is_asked_back(
    said: str, percent: bool, question: str
) -> None:
    with pytest.raises(SlotProblem) as raised:
        volume_level(said, percent=percent)
    assert question in raised.value.written
    assert raised.value.slot == "control_level"
    assert raised.value.spoken


@pytest.mark.parametrize(
    ("level", "scale", "said"),
    [(0.7, "ten", "7"), (0.75, "ten", "7.5"), (0.0, "ten", "0"), (0.55, "percent", "55 percent")],
)
def test_levels_are_said_back_on_the_scale_they_were_asked_on(
    level: float, scale: str, said: str
) -> None:
    assert describe_level(level, scale) == said


# Running ------------------------------------------------------------------------------


@pytest.fixture
def user_id(services: Services) -> str:
    return services.auth.create_user("ada", "correct horse battery").id


def speaking(volume: OutputVolume) -> OutputVolume:
    """``volume`` with a speaker playing at it, as in ``assistant talk``."""
    VolumeSpeaker(FakeSpeaker(), volume)
    return volume


def skill(services: Services, volume: OutputVolume | None) -> ControlSkill:
    built = ControlSkill(services.profile, volume)
    protocol: Skill = built
    assert protocol.name == "control"
    return built


async def answer(
    control: ControlSkill, user_id: str, intent: str, slots: dict[str, str] | None = None
) -> Any:
    context = SkillContext(user_id=user_id, now=0.0, source="voice")
    call = control.match(intent, slots or {}, context)
    assert isinstance(call, SkillCall) and call.skill == "control" and call.intent == intent
    return await control.run(call, context)


def test_intents_of_other_skills_are_declined(services: Services) -> None:
    assert skill(services, OutputVolume()).match("timer.start", {}, CONTEXT) is None


@pytest.mark.parametrize("intent", ["control.stop", "control.cancel"])
async def test_stop_and_never_mind_say_nothing(
    services: Services, user_id: str, intent: str
) -> None:
    said = await answer(skill(services, OutputVolume()), user_id, intent)
    assert said.spoken == ""
    assert said.written == "Stopped."
    assert not said.question


@pytest.mark.parametrize(
    ("start", "intent", "level", "spoken"),
    [
        (0.6, "control.louder", 0.7, "Volume 7."),
        (1.0, "control.louder", 1.0, "That's as loud as I go."),
        (0.6, "control.quieter", 0.5, "Volume 5."),
        (0.0, "control.quieter", 0.0, "The volume is already off."),
    ],
)
async def test_louder_and_quieter_step_the_volume(
    services: Services, user_id: str, start: float, intent: str, level: float, spoken: str
) -> None:
    volume = speaking(OutputVolume(start))
    said = await answer(skill(services, volume), user_id, intent)
    assert volume.level == level
    assert said.spoken == said.written == spoken
    assert said.data == {"volume": level}


@pytest.mark.parametrize(
    ("slots", "level", "spoken"),
    [
        ({"control_level": "3"}, 0.3, "Volume 3."),
        ({"control_amount": "ten"}, 1.0, "Volume 10."),
        ({"control_percent": "55"}, 0.55, "Volume 55 percent."),
        ({"control_level": "25 percent"}, 0.25, "Volume 25 percent."),
    ],
)
async def test_the_volume_is_set(
    services: Services, user_id: str, slots: dict[str, str], level: float, spoken: str
) -> None:
    volume = speaking(OutputVolume())
    said = await answer(skill(services, volume), user_id, "control.volume", slots)
    assert volume.level == level
    assert said.spoken == spoken


def test_a_bad_level_is_a_question_not_a_change(services: Services) -> None:
    volume = OutputVolume(0.4)
    with pytest.raises(SlotProblem):
        skill(services, volume).match("control.volume", {"control_level": "15"}, CONTEXT)
    assert volume.level == 0.4


@pytest.mark.parametrize("intent", ["control.louder", "control.quieter", "control.volume"])
@pytest.mark.parametrize("volume", [None, OutputVolume(0.5)], ids=["none", "no-speaker"])
async def test_without_a_local_speaker_the_volume_cannot_change(
    services: Services, user_id: str, intent: str, volume: OutputVolume | None
) -> None:
    slots = {"control_level": "3"} if intent == "control.volume" else {}
    said = await answer(skill(services, volume), user_id, intent, slots)
    assert "where the assistant speaks" in said.written
    assert said.spoken == "I can only change the volume on the device I speak from."
    assert volume is None or volume.level == 0.5


async def test_a_closed_speaker_no_longer_holds_the_volume(
    services: Services, user_id: str
) -> None:
    volume = OutputVolume(0.5)
    speaker = VolumeSpeaker(FakeSpeaker(), volume)
    assert volume.in_use
    await speaker.close()
    await speaker.close()  # twice counts once
    assert not volume.in_use
    said = await answer(skill(services, volume), user_id, "control.louder")
    assert said.data == {} and volume.level == 0.5


async def test_the_speaking_rate_steps_in_the_preferences(services: Services, user_id: str) -> None:
    control = skill(services, OutputVolume())
    said = await answer(control, user_id, "control.faster")
    assert said.spoken == "Okay."
    assert services.profile.get_preferences(user_id).preferences.speaking_rate == 1.1
    await answer(control, user_id, "control.slower")
    await answer(control, user_id, "control.slower")
    assert services.profile.get_preferences(user_id).preferences.speaking_rate == 0.9


@pytest.mark.parametrize(
    ("rate", "intent", "spoken"),
    [
        (2.0, "control.faster", "I can't speak any faster."),
        (0.5, "control.slower", "I can't speak any slower."),
    ],
)
async def test_at_a_limit_the_rate_stays_and_it_says_so(
    services: Services, user_id: str, rate: float, intent: str, spoken: str
) -> None:
    services.profile.patch_preferences(user_id, {"speaking_rate": rate})
    said = await answer(skill(services, OutputVolume()), user_id, intent)
    assert said.spoken == spoken
    assert "limit" in said.written
    assert services.profile.get_preferences(user_id).preferences.speaking_rate == rate


async def test_steps_near_a_limit_stop_at_it(services: Services, user_id: str) -> None:
    services.profile.patch_preferences(user_id, {"speaking_rate": 1.95})
    await answer(skill(services, OutputVolume()), user_id, "control.faster")
    assert services.profile.get_preferences(user_id).preferences.speaking_rate == 2.0
