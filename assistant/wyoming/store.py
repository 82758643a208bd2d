"""SQL of the Wyoming service: Home Assistant's conversation ids and ours."""

from __future__ import annotations

from assistant.store import Connection


def conversation_for(db: Connection, user_id: str, external_id: str) -> str | None:
    """Our conversation for an external conversation id, if one was started."""
    value = db.scalar(
        "SELECT conversation_id FROM wyoming_conversations WHERE user_id = ? AND external_id = ?",
        (user_id, external_id),
    )
    return None if value is None else str(value)


def remember_conversation(
    db: Connection, user_id: str, external_id: str, conversation_id: str, now_ms: int
) -> None:
    """Map an external conversation id to ours (replacing a mapping to a deleted one)."""
    db.execute(
        "INSERT INTO wyoming_conversations (user_id, external_id, conversation_id, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (user_id, external_id)"
        " DO UPDATE SET conversation_id = excluded.conversation_id",
        (user_id, external_id, conversation_id, now_ms),
    )
