"""Stored history: appending messages, and the history service the API and CLI share."""

from __future__ import annotations

import pytest

from assistant.chat import store
from assistant.chat.history import HistoryService
from assistant.chat.models import Timings, TurnUsage
from assistant.errors import InvalidInput, NotFound
from assistant.services import Services


def test_appended_messages_take_the_next_place_and_update_the_conversation(
    services: Services,
) -> None:
    ada = services.auth.create_user("ada", "correct horse battery").id
    with services.db.write() as conn:
        store.insert_conversation(conn, "c1", ada, 1_000)
        question = store.append_message(
            conn,
            "c1",
            store.NewMessage(id="m1", role="user", content="hi", source="text", created_at=2_000),
        )
        answer = store.append_message(
            conn,
            "c1",
            store.NewMessage(
                id="m2",
                role="assistant",
                content="hello",
                source="text",
                created_at=3_000,
                model="fake:1",
                usage=TurnUsage(prompt_tokens=7, completion_tokens=2, cached_prompt_tokens=3),
                timings=Timings(queue_seconds=0.25, first_token_seconds=0.5, total_seconds=1.75),
                finish_reason="stop",
            ),
        )
    assert (question.seq, answer.seq) == (1, 2)
    assert (question.model, question.prompt_tokens, question.total_ms) == (None, None, None)
    history = HistoryService(services.db)
    conversation = history.conversation(ada, "c1")
    assert (conversation.message_count, conversation.updated_at) == (2, 3_000)
    newest, oldest = history.history(ada, "c1")
    assert newest == answer and oldest == question
    assert (newest.prompt_tokens, newest.completion_tokens, newest.cached_tokens) == (7, 2, 3)
    assert (newest.queue_ms, newest.first_token_ms, newest.total_ms) == (250, 500, 1750)
    assert history.last_user_message(ada, "c1") == question


def test_history_belongs_to_its_user_and_titles_are_checked(services: Services) -> None:
    ada = services.auth.create_user("ada", "correct horse battery").id
    bob = services.auth.create_user("bob", "correct horse battery").id
    with services.db.write() as conn:
        store.insert_conversation(conn, "c1", ada, 1_000)
    history = HistoryService(services.db)
    for read in (
        lambda: history.conversation(bob, "c1"),
        lambda: history.history(bob, "c1"),
        lambda: history.rename(bob, "c1", "mine"),
        lambda: history.delete_conversation(bob, "c1"),
        lambda: history.last_user_message(ada, "c1"),  # no user message yet
    ):
        with pytest.raises(NotFound):
            read()
    with pytest.raises(InvalidInput) as untitled:
        history.rename(ada, "c1", "   ")
    assert untitled.value.field == "title"
    assert history.delete_all(bob) == (0, 0)
    assert history.delete_all(ada) == (1, 0)
