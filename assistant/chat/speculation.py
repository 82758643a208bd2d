"""Speculative turns: a turn started before its request is certain, kept only if confirmed.

A voice loop hears the end of a command some hundreds of milliseconds before it may call
the command over (the silence could still be a pause). It can start the turn on what was
said so far, with a ``Speculation`` passed to ``ChatService.stream``: the reply is
generated and streamed as usual, but nothing is stored (neither the request nor the
reply, nor a summary) and no skill that acts is run until ``confirm()``. Closing the
stream before that drops the turn without a trace; the model is released as on any
early close.

    stream(request, speculation) ──deltas──> (held by the caller, not shown)
        confirm() ──> the request and the reply are stored, TurnDone comes
        close the stream unconfirmed ──> nothing was stored
"""

from __future__ import annotations

import asyncio


class SpeculationRefused(Exception):
    """The turn cannot be speculated: a skill that acts (sets a timer, adds to a list)
    would answer it. Run it again, unspeculated, once the request is certain."""

    def __init__(self, skill: str) -> None:
        super().__init__(f"the {skill} skill acts: it runs only once the request is certain")
        self.skill = skill
        """The skill that would have answered."""


class Speculation:
    """The gate of a speculative turn: open until the request is confirmed."""

    def __init__(self) -> None:
        self._confirmed = asyncio.Event()

    @property
    def confirmed(self) -> bool:
        """The request is certain: the turn is stored as any other."""
        return self._confirmed.is_set()

    def confirm(self) -> None:
        """The request is certain (call on the event loop)."""
        self._confirmed.set()

    async def wait(self) -> None:
        """Until ``confirm()``."""
        await self._confirmed.wait()
