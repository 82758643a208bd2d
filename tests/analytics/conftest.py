"""The chat environment (fake models behind a real manager) for the chat experiment."""

from tests.chat.conftest import chat_env

__all__ = ["chat_env"]
