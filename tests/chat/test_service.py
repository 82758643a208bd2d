"""The chat service with fake models: turns, memory, summaries, edits, cancellation, isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from assistant.chat.models import ChatRequest, TurnDelta, TurnDone, TurnEvent, TurnStarted
from assistant.chat.service import FallbackModels
from assistant.clock import ManualClock
from assistant.errors import InvalidInput, NotFound, PayloadTooLarge
from assistant.problems import explain
from assistant.profile import UsageMetric
from assistant.profile.models import ProfileFields
from assistant.services import Services, suggested_model
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled
from runtime.llm.base import ChatMessage, GenerationOptions
from runtime.manifest import Manifest, load_manifest
from tests.chat.conftest import ChatEnv


async def collect(env: ChatEnv, user: str, request: ChatRequest) -> list[TurnEvent]:
    return [event async for event in env.chat.stream(user, request)]


async def test_a_turn_streams_and_is_stored(chat_env: ChatEnv) -> None:
    ada = chat_env.user("ada")
    events = await collect(chat_env, ada, ChatRequest(text="Hello there, assistant"))
    started, *deltas, done = events
    assert isinstance(started, TurnStarted) and isinstance(done, TurnDone)
    assert all(isinstance(d, TurnDelta) for d in deltas)
    assert "".join(d.text for d in deltas) == done.text == "You said: Hello there, assistant"
    assert started.model == "fake:big" and "default" in started.route_reason
    assert done.finish_reason == "stop"
    assert done.usage.completion_tokens == 5
    conversation = chat_env.history.conversation(ada, done.conversation_id)
    assert conversation.title == "Hello there, assistant"
    history = chat_env.history.history(ada, done.conversation_id)
    assert [(m.role, m.content) for m in history] == [
        ("assistant", done.text),
        ("user", "Hello there, assistant"),
    ]
    assert history[0].model == "fake:big" and history[0].finish_reason == "stop"
    stats = chat_env.services.profile.stats(ada)
    assert stats.totals[UsageMetric.CHAT_TURNS.value] == 1
    assert stats.totals[UsageMetric.COMPLETION_TOKENS.value] == 5


async def test_the_model_sees_the_conversation_and_the_profile(
    chat_env: ChatEnv, clock: ManualClock
) -> None:
    ada = chat_env.user("ada")
    chat_env.services.profile.patch_preferences(ada, {"assistant_name": "Jarvis"})
    chat_env.services.profile.update_profile(
        ada, ProfileFields(time_zone="Europe/Paris"), replace=False
    )
    _, first = await chat_env.chat.reply(ada, ChatRequest(text="My name is Ada."))
    clock.advance(3 * 3600 + 60)  # a long pause
    await chat_env.chat.reply(
        ada, ChatRequest(text="What is my name?", conversation_id=first.conversation_id)
    )
    before, sent = chat_env.engines["fake:big"].calls[-2:]
    assert [m.role for m in sent] == ["system", "user", "assistant", "user"]
    assert "You are Jarvis" in sent[0].content
    # Each user message carries the local time it was sent; the model sees it.
    assert sent[1].content == "(Sent Friday 15 January 2027, 9:00 AM.) My name is Ada."
    assert sent[3].content == "(Sent 12:01 PM.) What is my name?"  # the same day
    # Nothing the model saw before changed: the whole earlier prompt is a cache hit.
    assert sent[: len(before)] == before


async def test_other_users_conversations_are_not_found(chat_env: ChatEnv) -> None:
    ada, bob = chat_env.user("ada"), chat_env.user("bob")
    _, done = await chat_env.chat.reply(ada, ChatRequest(text="secret"))
    with pytest.raises(NotFound):
        await chat_env.chat.reply(bob, ChatRequest(text="hi", conversation_id=done.conversation_id))
    with pytest.raises(NotFound):
        chat_env.history.history(bob, done.conversation_id)
    with pytest.raises(NotFound):
        chat_env.history.delete_conversation(bob, done.conversation_id)
    with pytest.raises(NotFound):
        chat_env.history.rename(bob, done.conversation_id, "mine now")
    assert chat_env.history.conversations(bob) == []


async def test_edit_and_resend_replaces_the_tail(chat_env: ChatEnv) -> None:
    ada = chat_env.user("ada")
    _, first = await chat_env.chat.reply(ada, ChatRequest(text="one"))
    cid = first.conversation_id
    await chat_env.chat.reply(ada, ChatRequest(text="two", conversation_id=cid))
    second_user = chat_env.history.last_user_message(ada, cid)
    _, edited = await chat_env.chat.reply(
        ada, ChatRequest(text="two, edited", conversation_id=cid, replace_message_id=second_user.id)
    )
    contents = [m.content for m in reversed(chat_env.history.history(ada, cid))]
    assert contents == ["one", "You said: one", "two, edited", "You said: two, edited"]
    assert chat_env.history.conversation(ada, cid).message_count == 4
    with pytest.raises(NotFound):
        await chat_env.chat.reply(
            ada, ChatRequest(text="x", conversation_id=cid, replace_message_id=edited.message_id)
        )


async def test_long_conversations_are_summarised_not_truncated(chat_env: ChatEnv) -> None:
    chat_env.context_length["fake:big"] = 200

    def reply(messages: list[ChatMessage]) -> str:
        if "Summarise the conversation" in messages[0].content:
            return "SUMMARY: Ada likes tea and lives in Paris."
        return "fine " * 10

    chat_env.replies["fake:big"] = reply
    ada = chat_env.user("ada")
    cid = None
    flags = []
    for i in range(8):
        started, done = await chat_env.chat.reply(
            ada,
            ChatRequest(
                text=f"fact number {i}: " + "word " * 10,
                conversation_id=cid,
                options=GenerationOptions(max_tokens=20),
            ),
        )
        cid = done.conversation_id
        flags.append(started.flags)
    assert any(f.summarized for f in flags)
    assert flags[-1].summary_used and flags[-1].dropped_turns > 0
    conversation = chat_env.history.conversation(ada, cid)  # type: ignore[arg-type]
    assert conversation.summary == "SUMMARY: Ada likes tea and lives in Paris."
    assert conversation.message_count == 16  # nothing deleted from the history
    last_prompt = chat_env.engines["fake:big"].calls[-1]
    assert "SUMMARY: Ada likes tea" in last_prompt[0].content
    assert chat_env.engines["fake:big"].count_tokens(last_prompt) + 20 <= 200


async def test_bad_messages(chat_env: ChatEnv) -> None:
    ada = chat_env.user("ada")
    with pytest.raises(InvalidInput, match="empty"):
        await chat_env.chat.reply(ada, ChatRequest(text="   "))
    chat_env.context_length["fake:big"] = 100
    with pytest.raises(PayloadTooLarge, match="whole context is 100"):
        await chat_env.chat.reply(ada, ChatRequest(text="word " * 500))
    with pytest.raises(PayloadTooLarge, match="limit"):
        await chat_env.chat.reply(ada, ChatRequest(text="x" * 40_000))
    assert chat_env.history.conversations(ada) == []


async def test_missing_models_name_the_pull_command(chat_env: ChatEnv) -> None:
    ada = chat_env.user("ada")
    with pytest.raises(ModelNotInstalled) as named:
        await chat_env.chat.reply(ada, ChatRequest(text="hi", model="nope:1"))
    assert "Install it with: assistant models pull nope:1" in explain(named.value).detail
    chat_env.catalogue.models.clear()
    with pytest.raises(ModelNotInstalled) as any_chat_model:
        await chat_env.chat.reply(ada, ChatRequest(text="hi"))
    assert "(or any chat model: `assistant models list`)" in explain(any_chat_model.value).detail
    with pytest.raises(ModelNotInstalled, match="moondream2"):
        await chat_env.chat.reply(ada, ChatRequest(text="what is this?", images=(b"png",)))


async def test_a_model_of_another_kind_is_not_a_chat_model(chat_env: ChatEnv) -> None:
    chat_env.catalogue.models["voice:1"] = (Capability.TTS, 10)
    with pytest.raises(InvalidInput, match="voice:1 is a tts model, not a chat model"):
        await chat_env.chat.reply(chat_env.user("ada"), ChatRequest(text="hi", model="voice:1"))


def test_the_hint_says_whether_a_requested_model_can_be_pulled(client: Any, accounts: Any) -> None:
    """The real store knows its manifest: only catalogue models get `models pull`."""
    headers = accounts.register("ada")
    unknown = client.post(
        "/api/v1/chat/message", json={"text": "hi", "model": "x:1"}, headers=headers
    ).json()
    assert unknown["extra"]["install_command"].startswith("assistant models add PATH --id x:1")
    known = client.post(
        "/api/v1/chat/message",
        json={"text": "hi", "model": "qwen2.5-coder:0.5b-q4"},
        headers=headers,
    ).json()
    assert known["extra"]["install_command"] == "assistant models pull qwen2.5-coder:0.5b-q4"


@pytest.mark.parametrize(
    ("fallbacks", "images", "model_id", "command"),
    [
        (
            FallbackModels(chat="mine:chat", vision="mine:eyes"),
            False,
            "mine:chat",
            "assistant models pull mine:chat (or any chat model: `assistant models list`)",
        ),
        (
            FallbackModels(chat="mine:chat", vision="mine:eyes"),
            True,
            "mine:eyes",
            "assistant models pull mine:eyes (or any vision model: `assistant models list`)",
        ),
        (
            FallbackModels(chat=None, vision="mine:eyes"),
            False,
            "",
            "assistant models add PATH --id NAME:TAG --capability llm --engine ENGINE",
        ),
        (
            FallbackModels(),
            True,
            "",
            "assistant models add PATH --id NAME:TAG --capability vlm --engine ENGINE",
        ),
    ],
)
async def test_with_no_model_installed_the_suggestion_comes_from_the_manifest(
    chat_env: ChatEnv, fallbacks: FallbackModels, images: bool, model_id: str, command: str
) -> None:
    ada = chat_env.user("ada")
    chat_env.catalogue.models.clear()
    chat = chat_env.chat
    chat.fallbacks = fallbacks
    request = ChatRequest(text="what is this?", images=(b"png",) if images else ())
    with pytest.raises(ModelNotInstalled) as missing:
        await chat.reply(ada, request)
    problem = explain(missing.value)
    assert (problem.status, problem.code) == (503, "model-not-installed")
    assert missing.value.model_id == model_id
    assert problem.extra["install_command"] == command
    if not model_id:
        kind = "vision" if images else "chat"
        assert problem.detail.startswith(
            f"No {kind} model is installed, and the model catalogue has none to pull"
        )


@pytest.mark.parametrize(
    ("profile", "capability", "suggested"),
    [
        ("offline", Capability.LLM, "qwen2.5-coder:0.5b-iq4nl"),  # the profile's own
        ("laptop", Capability.LLM, "qwen2.5:3b-instruct-q4km"),
        ("laptop", Capability.VLM, "moondream2:f16"),
        ("offline", Capability.VLM, "moondream2:f16"),  # none in the profile: the catalogue's
        ("no-such-profile", Capability.LLM, "qwen2.5-coder:0.5b-q4"),  # the catalogue's first
    ],
)
def test_suggested_models_come_from_the_active_profile_then_the_catalogue(
    profile: str, capability: Capability, suggested: str
) -> None:
    assert suggested_model(load_manifest(), profile, capability) == suggested


def test_a_manifest_without_the_capability_suggests_nothing() -> None:
    shipped = load_manifest()
    chat_only = Manifest(
        models={k: v for k, v in shipped.models.items() if v.capability is Capability.LLM}
    )
    assert suggested_model(chat_only, "offline", Capability.VLM) is None
    assert suggested_model(chat_only, "offline", Capability.LLM) == "qwen2.5-coder:0.5b-q4"


def test_build_services_wires_the_suggestions_and_the_history(services: Services) -> None:
    assert services.chat.fallbacks == FallbackModels(
        chat="qwen2.5-coder:0.5b-iq4nl", vision="moondream2:f16"
    )
    assert services.history.db is services.db


async def test_stopping_early_cancels_within_a_token_and_keeps_the_partial_reply(
    chat_env: ChatEnv,
) -> None:
    chat_env.replies["fake:big"] = lambda messages: " ".join(f"w{i}" for i in range(200))
    ada = chat_env.user("ada")
    stream = chat_env.chat.stream(ada, ChatRequest(text="talk a lot"))
    started = await anext(stream)
    assert isinstance(started, TurnStarted)
    for _ in range(3):
        assert isinstance(await anext(stream), TurnDelta)
    await stream.aclose()
    engine = chat_env.engines["fake:big"]
    assert engine.generated_after_cancel <= 1
    history = chat_env.history.history(ada, started.conversation_id)
    assert history[0].role == "assistant"
    assert history[0].finish_reason == "cancelled"
    assert history[0].content.startswith("w0 w1 w2")
    assert len(history[0].content.split()) < 200
    # The model is free again: the next turn runs at once.
    chat_env.replies["fake:big"] = lambda messages: "done"
    await asyncio.wait_for(
        chat_env.chat.reply(
            ada, ChatRequest(text="again", conversation_id=started.conversation_id)
        ),
        5,
    )


async def test_conversations_listing_paging_and_deletion(chat_env: ChatEnv) -> None:
    ada = chat_env.user("ada")
    ids = []
    for i in range(3):
        _, done = await chat_env.chat.reply(ada, ChatRequest(text=f"topic {i}"))
        ids.append(done.conversation_id)
    listed = chat_env.history.conversations(ada, limit=2)
    assert [c.id for c in listed] == [ids[2], ids[1]]
    assert [c.id for c in chat_env.history.conversations(ada, limit=2, before=listed[-1].id)] == [
        ids[0]
    ]
    cid = ids[0]
    for i in range(3):
        await chat_env.chat.reply(ada, ChatRequest(text=f"more {i}", conversation_id=cid))
    page = chat_env.history.history(ada, cid, limit=3)
    assert [m.content for m in page] == ["You said: more 2", "more 2", "You said: more 1"]
    older = chat_env.history.history(ada, cid, limit=3, before=page[-1].id)
    assert [m.content for m in older] == ["more 1", "You said: more 0", "more 0"]
    renamed = chat_env.history.rename(ada, cid, "  My   topic ")
    assert renamed.title == "My topic"
    assert chat_env.history.delete_conversation(ada, cid) == 8
    with pytest.raises(NotFound):
        chat_env.history.history(ada, cid)
    assert chat_env.history.delete_all(ada) == (2, 4)
    assert chat_env.history.conversations(ada) == []


async def test_many_users_at_once_share_the_model_fairly(chat_env: ChatEnv) -> None:
    users = [chat_env.user(f"user{i}") for i in range(5)]
    results = await asyncio.gather(
        *(chat_env.chat.reply(u, ChatRequest(text=f"hello from {u}")) for u in users)
    )
    for user, (_, done) in zip(users, results, strict=True):
        assert done.text == f"You said: hello from {user}"


async def test_routing_uses_preferences_and_candidates(chat_env: ChatEnv) -> None:
    ada = chat_env.user("ada")
    chat_env.services.profile.patch_preferences(ada, {"preferred_model": "fake:small"})
    started, _ = await chat_env.chat.reply(ada, ChatRequest(text="Tell me something?"))
    assert (started.model, started.route_reason) == ("fake:small", "your preferred model")
    chat_env.catalogue.models["vision:1"] = (Capability.VLM, 1000)
    assert {c.id for c in chat_env.chat.candidates() if c.vision} == {"vision:1"}


async def test_usage_is_counted_once_per_turn_however_it_ends(chat_env: ChatEnv) -> None:
    ada = chat_env.user("ada")
    chat_env.replies["fake:big"] = lambda messages: " ".join(f"w{i}" for i in range(50))

    def totals() -> tuple[int, int]:
        counted = chat_env.services.profile.stats(ada).totals
        return (
            counted[UsageMetric.CHAT_TURNS.value],
            counted[UsageMetric.COMPLETION_TOKENS.value],
        )

    await chat_env.chat.reply(ada, ChatRequest(text="talk"))
    assert totals() == (1, 50)
    # Stateless completions count the same way, the engine's numbers when it gives them...
    deltas = chat_env.chat.complete(
        ada, "fake:big", [ChatMessage("user", "talk")], GenerationOptions()
    )
    assert [d async for d in deltas][-1].finish_reason == "stop"
    assert totals() == (2, 100)
    # ...and what was generated when the caller leaves before the engine's last word.
    deltas = chat_env.chat.complete(
        ada, "fake:big", [ChatMessage("user", "talk")], GenerationOptions()
    )
    for _ in range(3):
        assert (await anext(deltas)).text
    await deltas.aclose()  # type: ignore[attr-defined]
    assert totals() == (3, 103)
    stream = chat_env.chat.stream(ada, ChatRequest(text="talk"))
    assert isinstance(await anext(stream), TurnStarted)
    for _ in range(4):
        assert isinstance(await anext(stream), TurnDelta)
    await stream.aclose()
    assert totals() == (4, 107)
