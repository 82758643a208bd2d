"""Conversation history: list, read, rename and delete a user's stored conversations.

Turns write the history (``ChatService``); everything else a user does with it is here,
for the HTTP API and the CLI alike.
"""

from __future__ import annotations

from assistant.chat import store
from assistant.errors import InvalidInput, NotFound
from assistant.store import Database

MAX_TITLE_CHARS = 200
"""Longest conversation title."""


class HistoryService:
    """A user's conversations and their messages; nobody sees another user's."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def conversations(
        self, user_id: str, *, limit: int = 50, before: str | None = None
    ) -> list[store.Conversation]:
        """The user's conversations, most recently active first."""
        with self.db.read() as conn:
            cursor = None
            if before is not None:
                anchor = store.get_conversation(conn, before, user_id)
                if anchor is None:
                    raise NotFound("No such conversation (the `before` cursor)")
                cursor = (anchor.updated_at, anchor.id)
            return store.list_conversations(conn, user_id, limit, cursor)

    def conversation(self, user_id: str, conversation_id: str) -> store.Conversation:
        """One of the user's conversations."""
        with self.db.read() as conn:
            found = store.get_conversation(conn, conversation_id, user_id)
        if found is None:
            raise NotFound("No such conversation")
        return found

    def history(
        self, user_id: str, conversation_id: str, *, before: str | None = None, limit: int = 50
    ) -> list[store.Message]:
        """Messages newest first, older than the ``before`` message id."""
        with self.db.read() as conn:
            if store.get_conversation(conn, conversation_id, user_id) is None:
                raise NotFound("No such conversation")
            before_seq = None
            if before is not None:
                anchor = store.get_message(conn, before, conversation_id)
                if anchor is None:
                    raise NotFound("No such message in this conversation (the `before` cursor)")
                before_seq = anchor.seq
            return store.page_of_messages(conn, conversation_id, before_seq, limit)

    def rename(self, user_id: str, conversation_id: str, title: str) -> store.Conversation:
        """Give a conversation a new title (whitespace runs become one space)."""
        title = " ".join(title.split())
        if not 1 <= len(title) <= MAX_TITLE_CHARS:
            raise InvalidInput(f"A title has 1 to {MAX_TITLE_CHARS} characters", field="title")
        with self.db.write() as conn:
            if store.get_conversation(conn, conversation_id, user_id) is None:
                raise NotFound("No such conversation")
            store.update_conversation(conn, conversation_id, title=title)
        return self.conversation(user_id, conversation_id)

    def delete_conversation(self, user_id: str, conversation_id: str) -> int:
        """Delete a conversation, its messages and its summary; messages deleted."""
        with self.db.write() as conn:
            deleted = store.delete_conversation(conn, conversation_id, user_id)
        if deleted < 0:
            raise NotFound("No such conversation")
        return deleted

    def delete_all(self, user_id: str) -> tuple[int, int]:
        """Delete all of a user's history; (conversations, messages) deleted."""
        with self.db.write() as conn:
            return store.delete_all_conversations(conn, user_id)

    def last_user_message(self, user_id: str, conversation_id: str) -> store.Message:
        """The newest user message (what "regenerate" sends again)."""
        for message in self.history(user_id, conversation_id, limit=4):
            if message.role == "user":
                return message
        raise NotFound("This conversation has no user message to answer again")
