"""The skill router and its place in a chat turn, with a small skill of the test's own."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.chat.models import ChatRequest, TurnDelta, TurnDone, TurnStarted
from assistant.errors import NotFound
from assistant.services import Services
from assistant.settings import Settings
from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem
from assistant.skills.router import Choice, IntentSpec, SkillRouter
from assistant.skills.templates import Templates
from server.app import create_app
from tests.chat.conftest import ChatEnv
from tests.conftest import Accounts

Client = TestClient[Any]

SENTENCES = """
language: en
intents:
  echo.say:
    data:
      - sentences:
          - "echo {echo_words}"
  echo.fail:
    data:
      - sentences:
          - "find the {echo_thing}"
lists:
  echo_words:
    wildcard: true
  echo_thing:
    wildcard: true
examples:
  echo.say: ["echo hello"]
"""


class EchoSkill:
    """Says back what follows "echo"; declines "echo nothing"; asks back on "echo banana"."""

    name = "echo"
    summary = "Repeats what you say."

    def __init__(self) -> None:
        self.contexts: list[SkillContext] = []

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        if intent == "echo.fail":
            return SkillCall(self.name, intent, {"thing": slots["echo_thing"]})
        words = slots["echo_words"]
        if words == "nothing":
            return None
        if words == "banana":
            raise SlotProblem("What should I echo?", "What should I say?", slot="echo_words")
        return SkillCall(self.name, intent, {"words": words})

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        self.contexts.append(context)
        if call.intent == "echo.fail":
            raise NotFound(f"There is no {call.arguments['thing']}.")
        words = call.arguments["words"]
        return SkillAnswer(f"“{words}”", words, data={"length": len(words)})


class ScriptedChooser:
    """The model stage, scripted: picks ``echo.say`` for texts starting with "please"."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, list[str]]] = []

    async def choose(self, text: str, specs: Sequence[IntentSpec]) -> Choice | None:
        self.asked.append((text, [s.intent for s in specs]))
        if text.startswith("please"):
            return Choice("echo.say", {"echo_words": text.removeprefix("please ")}, 0.97)
        return None


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    folder = tmp_path / "sentences" / "en"
    folder.mkdir(parents=True)
    (folder / "echo.yaml").write_text(SENTENCES)
    return Templates.load(tmp_path / "sentences")


@pytest.fixture
def skill() -> EchoSkill:
    return EchoSkill()


@pytest.fixture
def router(services: Services, templates: Templates, skill: EchoSkill) -> SkillRouter:
    return SkillRouter([skill], templates, services.profile, clock=services.chat.clock)


@pytest.fixture
def user(services: Services) -> str:
    return services.auth.create_user("ada", "correct horse battery").id


async def test_template_match_runs_the_skill(
    router: SkillRouter, skill: EchoSkill, user: str
) -> None:
    reply = await router.answer(user, ChatRequest(text="Echo hello world!", source="voice"))
    assert reply is not None
    assert (reply.written, reply.spoken) == ("“hello world”", "hello world")
    use = reply.use
    assert (use.name, use.intent, use.stage, use.confidence) == ("echo", "echo.say", "template", 1)
    assert use.arguments == {"words": "hello world"} and use.data == {"length": 11}
    assert skill.contexts[0].user_id == user and skill.contexts[0].source == "voice"
    assert skill.contexts[0].time_zone == "UTC"


@pytest.mark.parametrize(
    "text",
    ["tell me a story", "echo nothing", "", "echo " + "word " * 100],
    ids=["no template", "declined", "empty", "too long for a command"],
)
async def test_what_no_skill_takes_goes_to_chat(router: SkillRouter, user: str, text: str) -> None:
    assert await router.answer(user, ChatRequest(text=text or " ")) is None


async def test_a_bad_slot_is_asked_back(router: SkillRouter, user: str) -> None:
    reply = await router.answer(user, ChatRequest(text="echo banana"))
    assert reply is not None and reply.use.question
    assert (reply.written, reply.spoken) == ("What should I echo?", "What should I say?")


async def test_an_error_of_the_skill_is_answered(router: SkillRouter, user: str) -> None:
    reply = await router.answer(user, ChatRequest(text="find the unicorn"))
    assert reply is not None and not reply.use.question
    assert reply.written == "There is no unicorn." and reply.use.data == {"error": "not-found"}


async def test_a_disabled_skill_leaves_the_turn_to_chat(
    router: SkillRouter, services: Services, user: str
) -> None:
    services.profile.patch_preferences(user, {"disabled_skills": ["echo"]})
    assert await router.answer(user, ChatRequest(text="echo hi")) is None
    assert [s.enabled for s in router.catalogue(user)] == [False]


async def test_the_model_stage_takes_what_templates_miss(
    services: Services, templates: Templates, skill: EchoSkill, user: str
) -> None:
    chooser = ScriptedChooser()
    router = SkillRouter([skill], templates, services.profile, chooser=chooser)
    reply = await router.answer(user, ChatRequest(text="please say cheese"))
    assert reply is not None
    assert (reply.use.stage, reply.use.confidence, reply.spoken) == ("model", 0.97, "say cheese")
    assert await router.answer(user, ChatRequest(text="tell me a story")) is None
    assert chooser.asked[0][1] == ["echo.fail", "echo.say"]
    # A template match never asks the model.
    await router.answer(user, ChatRequest(text="echo hi"))
    assert len(chooser.asked) == 2


def test_catalogue_and_specs(router: SkillRouter, user: str) -> None:
    [info] = router.catalogue(user)
    assert (info.name, info.intents, info.enabled) == ("echo", ("echo.fail", "echo.say"), True)
    assert info.examples == {"en": ("echo hello",)}
    specs = {s.intent: s for s in router.specs("en")}
    assert specs["echo.say"].slots == ("echo_words",)
    assert specs["echo.say"].description == "Repeats what you say."


def test_two_files_may_not_define_the_same_list(tmp_path: Path) -> None:
    folder = tmp_path / "en"
    folder.mkdir()
    (folder / "a.yaml").write_text(SENTENCES)
    (folder / "b.yaml").write_text("lists:\n  echo_words:\n    wildcard: true\n")
    with pytest.raises(ValueError, match="echo_words"):
        Templates.load(tmp_path)


def test_the_shipped_templates_load() -> None:
    templates = Templates.load()
    assert "en" in templates.languages


# The turn: stored with its skill, streamed spoken or written --------------------------


@pytest.fixture
def chat(chat_env: ChatEnv, router: SkillRouter) -> ChatEnv:
    chat_env.chat.skills = router
    return chat_env


async def test_a_skill_turn_is_stored_and_streamed(chat: ChatEnv) -> None:
    user = chat.user("ada")
    events = [
        e async for e in chat.chat.stream(user, ChatRequest(text="echo hi there", source="voice"))
    ]
    started, delta, done = events
    assert isinstance(started, TurnStarted) and started.route_reason == "skill:echo"
    assert isinstance(delta, TurnDelta) and delta.text == "hi there"
    assert isinstance(done, TurnDone) and done.text == "“hi there”"
    assert done.skill is not None and done.skill.intent == "echo.say"
    # The chat model was never asked; the next chat turn sees the exchange.
    follow = ChatRequest(text="what did you say?", conversation_id=done.conversation_id)
    answer = [e async for e in chat.chat.stream(user, follow)][-1]
    assert isinstance(answer, TurnDone) and answer.skill is None
    history = chat.chat.db  # the stored messages
    with history.read() as conn:
        rows = conn.all("SELECT role, content, skill FROM messages ORDER BY seq")
    assert [r["role"] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert json.loads(rows[1]["skill"])["arguments"] == {"words": "hi there"}
    assert rows[3]["skill"] is None


async def test_skills_false_always_chats(chat: ChatEnv) -> None:
    user = chat.user("ada")
    request = ChatRequest(text="echo hi", skills=False)
    done = [e async for e in chat.chat.stream(user, request)][-1]
    assert isinstance(done, TurnDone) and done.skill is None


@pytest.fixture
def client(settings: Settings, services: Services, chat: ChatEnv) -> Iterator[Client]:
    skills = chat.chat.skills
    assert isinstance(skills, SkillRouter)
    replaced = dataclasses.replace(services, chat=chat.chat, skills=skills)
    with TestClient(app=create_app(settings, replaced)) as test_client:
        yield test_client


def test_the_api_shows_the_skill(client: Client, services: Services) -> None:
    ada = Accounts(client, services).register("ada")
    reply = client.post("/api/v1/chat/message", json={"text": "echo hi"}, headers=ada).json()
    assert reply["skill"]["name"] == "echo" and reply["skill"]["stage"] == "template"
    assert reply["text"] == "“hi”" and reply["route_reason"] == "skill:echo"
    page = client.get(
        "/api/v1/chat/history",
        params={"conversation_id": reply["conversation_id"]},
        headers=ada,
    ).json()
    stored = {m["role"]: m["skill"] for m in page["messages"]}
    assert stored["user"] is None and stored["assistant"]["arguments"] == {"words": "hi"}
    skills = client.get("/api/v1/skills", headers=ada).json()
    assert skills["enabled"] is True
    assert skills["skills"][0]["name"] == "echo"
    assert skills["skills"][0]["examples"] == {"en": ["echo hello"]}
    chatted = client.post(
        "/api/v1/chat/message", json={"text": "echo hi", "skills": False}, headers=ada
    ).json()
    assert chatted["skill"] is None


def test_settings_turn_the_model_stage_and_the_skills_on_and_off(tmp_path: Path) -> None:
    from assistant.auth import PasswordHasher
    from assistant.services import build_services
    from assistant.skills.model_stage import ModelStage

    hasher = PasswordHasher.fast_for_tests()
    on = Settings.load(data_dir=tmp_path / "on", skills={"model_stage": True, "model": "m:1"})
    built = build_services(on, hasher=hasher)
    try:
        assert isinstance(built.skills.chooser, ModelStage)
        assert built.skills.chooser.model_id == "m:1"
        assert built.chat.skills is built.skills
    finally:
        built.close()
    off = Settings.load(data_dir=tmp_path / "off", skills={"enabled": False})
    built = build_services(off, hasher=hasher)
    try:
        assert built.skills.chooser is None and built.chat.skills is None
        assert not built.skills.enabled
    finally:
        built.close()


def test_templates_are_parsed_when_loaded_not_on_the_first_request(
    templates: Templates,
) -> None:
    # hassil parses an intent's sentences on first use (a cached property): the first
    # spoken request of a process would pay for every skill's (about 50-100 ms).
    parsed = [
        "sentences" in vars(data)
        for language in templates.languages
        for intent in templates._intents[language].intents.values()
        for data in intent.data
    ]
    assert parsed and all(parsed)
