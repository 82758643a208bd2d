"""The list and note skills end to end through ``POST /api/v1/chat/message``: the router
over every shipped template, the real list service, and fake chat models for what the
skills leave to chat."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.services import Services
from assistant.settings import Settings
from assistant.skills.lists import ListSkill, NoteSkill
from assistant.skills.router import SkillRouter
from assistant.skills.templates import Templates
from server.app import create_app
from tests.chat.conftest import ChatEnv, chat_env
from tests.conftest import Accounts

__all__ = ["chat_env"]

Client = TestClient[Any]


@pytest.fixture
def client(settings: Settings, services: Services, chat_env: ChatEnv) -> Iterator[Client]:
    """The app with the list and note skills in front of chat on fake models."""
    router = SkillRouter(
        [ListSkill(services.lists), NoteSkill(services.lists)],
        Templates.load(),
        services.profile,
        clock=chat_env.chat.clock,
    )
    chat_env.chat.skills = router
    replaced = dataclasses.replace(services, chat=chat_env.chat, skills=router)
    with TestClient(app=create_app(settings, replaced)) as test_client:
        yield test_client


def say(client: Client, headers: dict[str, str], text: str) -> dict[str, Any]:
    answer = client.post("/api/v1/chat/message", json={"text": text}, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_shopping_list_through_chat(client: Client, services: Services) -> None:
    ada = Accounts(client, services).register("ada")
    reply = say(client, ada, "add milk to the shopping list")
    assert reply["text"] == "Added milk to your shopping list."
    assert reply["skill"]["name"] == "list" and reply["skill"]["intent"] == "list.add"
    assert reply["skill"]["arguments"] == {"list": "shopping", "items": ["milk"]}
    say(client, ada, "put eggs and bread on my shopping list")
    assert say(client, ada, "add Milk to my shopping list")["text"] == (
        "Milk is already on your shopping list."
    )
    reply = say(client, ada, "what's on my shopping list")
    assert reply["text"] == "You have 3 things on your shopping list:\n- milk\n- eggs\n- bread"
    # The companion app sees what was said.
    items = client.get("/api/v1/lists/shopping", headers=ada).json()["items"]
    assert [i["text"] for i in items] == ["milk", "eggs", "bread"]
    say(client, ada, "take the milk off the shopping list")
    assert say(client, ada, "clear the shopping list")["text"] == (
        "Cleared your shopping list: 2 items removed."
    )
    assert client.get("/api/v1/lists", headers=ada).json()["lists"][0]["items"] == 0


def test_notes_through_chat(client: Client, services: Services) -> None:
    ada = Accounts(client, services).register("ada")
    reply = say(client, ada, "note that the code is 1234")
    assert reply["text"] == "Noted: The code is 1234." and reply["skill"]["name"] == "note"
    assert say(client, ada, "read my notes")["text"] == "You have one note:\n- The code is 1234"
    notes = client.get("/api/v1/lists/notes", headers=ada).json()["items"]
    assert [n["text"] for n in notes] == ["The code is 1234"]


def test_an_unknown_list_is_an_answer(client: Client, services: Services) -> None:
    ada = Accounts(client, services).register("ada")
    reply = say(client, ada, "what's on my camping list")
    assert reply["text"] == "You don't have a camping list." and reply["skill"]["name"] == "list"


@pytest.mark.parametrize(
    "text",
    [
        "add 2 and 2",
        "what should I put on a shopping list for a party",
        "note the difference between a and b",
        "I have a list of questions",
    ],
)
def test_near_misses_are_chat(client: Client, services: Services, text: str) -> None:
    ada = Accounts(client, services).register("ada")
    reply = say(client, ada, text)
    assert reply["skill"] is None
    assert client.get("/api/v1/lists", headers=ada).json() == {"lists": []}
