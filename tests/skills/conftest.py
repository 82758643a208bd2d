"""Fixtures of the skills tests: the chat service on fake models (tests/chat)."""

from tests.chat.conftest import chat_env

__all__ = ["chat_env"]
