"""SQL of the chat service; every function takes an open connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant.chat.models import Timings, TurnUsage
from assistant.clock import to_ms
from assistant.store import Connection


@dataclass(frozen=True)
class Conversation:
    """A conversation row."""

    id: str
    user_id: str
    title: str
    model: str | None
    summary: str | None
    summary_through_seq: int
    message_count: int
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class Message:
    """A stored message."""

    id: str
    conversation_id: str
    seq: int
    role: str
    content: str
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None
    queue_ms: int | None
    first_token_ms: int | None
    total_ms: int | None
    finish_reason: str | None
    source: str | None
    created_at: int
    skill: str | None = None
    """The skill that gave a reply (SkillUse as JSON); None for the chat model's."""


@dataclass(frozen=True)
class NewMessage:
    """A message to append: what a ``Message`` holds but its place in the conversation."""

    id: str
    role: str
    """user or assistant."""
    content: str
    source: str | None
    """Which face the turn came through."""
    created_at: int
    """Unix milliseconds."""
    model: str | None = None
    """The model that wrote a reply."""
    usage: TurnUsage | None = None
    """Tokens of a reply."""
    timings: Timings | None = None
    """Where the time of a reply went."""
    finish_reason: str | None = None
    """How a reply ended: stop, length, cancelled or error."""
    skill: str | None = None
    """The skill that gave a reply (SkillUse as JSON)."""


_CONVERSATION = (
    "id, user_id, title, model, summary, summary_through_seq, message_count, created_at, updated_at"
)
_MESSAGE = (
    "id, conversation_id, seq, role, content, model, prompt_tokens, completion_tokens,"
    " cached_tokens, queue_ms, first_token_ms, total_ms, finish_reason, source, created_at,"
    " skill"
)


def insert_conversation(conn: Connection, conversation_id: str, user_id: str, now: int) -> None:
    conn.execute(
        "INSERT INTO conversations (id, user_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (conversation_id, user_id, now, now),
    )


def get_conversation(conn: Connection, conversation_id: str, user_id: str) -> Conversation | None:
    row = conn.one(
        f"SELECT {_CONVERSATION} FROM conversations WHERE id = ? AND user_id = ?",
        (conversation_id, user_id),
    )
    return None if row is None else Conversation(**row)


def list_conversations(
    conn: Connection, user_id: str, limit: int, before: tuple[int, str] | None
) -> list[Conversation]:
    if before is None:
        rows = conn.all(
            f"SELECT {_CONVERSATION} FROM conversations WHERE user_id = ?"
            " ORDER BY updated_at DESC, id DESC LIMIT ?",
            (user_id, limit),
        )
    else:
        rows = conn.all(
            f"SELECT {_CONVERSATION} FROM conversations WHERE user_id = ?"
            " AND (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?",
            (user_id, *before, limit),
        )
    return [Conversation(**row) for row in rows]


def update_conversation(conn: Connection, conversation_id: str, **columns: Any) -> None:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(
        f"UPDATE conversations SET {assignments} WHERE id = ?",
        (*columns.values(), conversation_id),
    )


def delete_conversation(conn: Connection, conversation_id: str, user_id: str) -> int:
    """Delete one conversation; the number of messages deleted with it (-1 if none)."""
    row = conn.one(
        "SELECT message_count FROM conversations WHERE id = ? AND user_id = ?",
        (conversation_id, user_id),
    )
    if row is None:
        return -1
    conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
    return int(row["message_count"])


def delete_all_conversations(conn: Connection, user_id: str) -> tuple[int, int]:
    """Delete every conversation of a user; (conversations, messages) deleted."""
    row = conn.one(
        "SELECT count(*) AS conversations, coalesce(sum(message_count), 0) AS messages"
        " FROM conversations WHERE user_id = ?",
        (user_id,),
    )
    assert row is not None
    conn.execute("DELETE FROM conversations WHERE user_id = ?", (user_id,))
    return int(row["conversations"]), int(row["messages"])


def messages(conn: Connection, conversation_id: str, after_seq: int = 0) -> list[Message]:
    """Messages in order, after a sequence number."""
    rows = conn.all(
        f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq",
        (conversation_id, after_seq),
    )
    return [Message(**row) for row in rows]


def page_of_messages(
    conn: Connection, conversation_id: str, before_seq: int | None, limit: int
) -> list[Message]:
    """Newest first, older than ``before_seq``."""
    rows = conn.all(
        f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = ? AND seq < ?"
        " ORDER BY seq DESC LIMIT ?",
        (conversation_id, before_seq if before_seq is not None else 2**62, limit),
    )
    return [Message(**row) for row in rows]


def get_message(conn: Connection, message_id: str, conversation_id: str) -> Message | None:
    row = conn.one(
        f"SELECT {_MESSAGE} FROM messages WHERE id = ? AND conversation_id = ?",
        (message_id, conversation_id),
    )
    return None if row is None else Message(**row)


def last_seq(conn: Connection, conversation_id: str) -> int:
    return int(
        conn.scalar(
            "SELECT coalesce(max(seq), 0) FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        )
    )


def insert_message(conn: Connection, message: Message) -> None:
    conn.execute(
        f"INSERT INTO messages ({_MESSAGE}) VALUES ({', '.join('?' * 16)})",
        (
            message.id,
            message.conversation_id,
            message.seq,
            message.role,
            message.content,
            message.model,
            message.prompt_tokens,
            message.completion_tokens,
            message.cached_tokens,
            message.queue_ms,
            message.first_token_ms,
            message.total_ms,
            message.finish_reason,
            message.source,
            message.created_at,
            message.skill,
        ),
    )


def append_message(conn: Connection, conversation_id: str, new: NewMessage) -> Message:
    """Store a message after the conversation's last one; the conversation's message
    count and last activity follow."""
    usage, timings = new.usage, new.timings
    message = Message(
        id=new.id,
        conversation_id=conversation_id,
        seq=last_seq(conn, conversation_id) + 1,
        role=new.role,
        content=new.content,
        model=new.model,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        cached_tokens=usage.cached_prompt_tokens if usage else None,
        queue_ms=to_ms(timings.queue_seconds) if timings else None,
        first_token_ms=to_ms(timings.first_token_seconds) if timings else None,
        total_ms=to_ms(timings.total_seconds) if timings else None,
        finish_reason=new.finish_reason,
        source=new.source,
        created_at=new.created_at,
        skill=new.skill,
    )
    insert_message(conn, message)
    update_conversation(conn, conversation_id, updated_at=new.created_at)
    recount(conn, conversation_id)
    return message


def delete_messages_from(conn: Connection, conversation_id: str, seq: int) -> int:
    """Delete a message and everything after it; how many."""
    conn.execute(
        "DELETE FROM messages WHERE conversation_id = ? AND seq >= ?", (conversation_id, seq)
    )
    return conn.changes()


def recount(conn: Connection, conversation_id: str) -> None:
    conn.execute(
        "UPDATE conversations SET message_count ="
        " (SELECT count(*) FROM messages WHERE conversation_id = ?) WHERE id = ?",
        (conversation_id, conversation_id),
    )
