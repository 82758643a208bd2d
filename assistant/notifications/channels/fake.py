"""A channel that records what it is asked to send and answers from a script (tests, the
benchmark, trying the outbox without a desktop or a push service)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from assistant.notifications.channels.base import Feedback, Outcome, Outgoing
from assistant.notifications.models import ChannelState


@dataclass
class RecordingChannel:
    """Records every message; answers with the scripted outcomes in order, then ``sent``."""

    name: str = "desktop"
    target_kind: str | None = None
    available: bool = True
    reason: str = "recording"
    script: deque[Outcome] = field(default_factory=deque)
    """Outcomes to answer with, first to last."""
    sent: list[Outgoing] = field(default_factory=list)
    """Every message, in order."""
    feedback: Feedback | None = None
    """The dispatcher's callback, to play a person clicking."""

    async def start(self, feedback: Feedback) -> ChannelState:
        self.feedback = feedback
        return self.state()

    def state(self) -> ChannelState:
        return ChannelState(self.name, self.available, self.reason)

    async def send(self, message: Outgoing) -> Outcome:
        self.sent.append(message)
        if self.script:
            return self.script.popleft()
        return Outcome("sent", remote_id=str(len(self.sent)))

    async def close(self) -> None:
        return None
