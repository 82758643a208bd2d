"""Where a voice pipeline is, as its owner sees it."""

from __future__ import annotations

from enum import StrEnum


class PipelineState(StrEnum):
    """Where the pipeline is."""

    IDLE = "idle"
    """Not running."""
    WAITING = "waiting"
    """For the wake word (or a press)."""
    LISTENING = "listening"
    """To a command, until the VAD hears its end."""
    TRANSCRIBING = "transcribing"
    """Speech to text."""
    THINKING = "thinking"
    """The chat service is answering; nothing spoken yet."""
    SPEAKING = "speaking"
    """The reply is playing (and may still be generated)."""
    FOLLOW_UP = "follow-up"
    """Listening without the wake word for a while after a reply."""
