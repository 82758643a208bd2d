"""Runs and their events: what both sides of the pipeline report through.

A run is one turn from its trigger to its end (``run-start`` ... ``run-end``). The input
side starts runs (waiting for the wake word, listening) and the turn side finishes them
(transcribing, answering, speaking); both report through one ``Runs``, which stamps every
event with the run's id and the pipeline's clock and hands it to the one callback.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from assistant.problems import OWN_ERRORS, explain
from assistant.voice.engines import EventCallback
from assistant.voice.events import (
    ErrorCode,
    PipelineEvent,
    PipelineStage,
    RunEnd,
    RunOutcome,
    RunStart,
    StageFailed,
)

log = logging.getLogger(__name__)


@dataclass
class Run:
    """One run while it lasts."""

    id: str
    """Carried by each of its events."""
    stage: PipelineStage = PipelineStage.WAKE_WORD
    """The stage it is in."""
    interrupted: bool = False
    """Barge-in cut it short."""
    ended: bool = False
    """``run-end`` has been reported (nothing more may be)."""
    transcript: str | None = None
    """What was heard, once transcribed."""
    reply: str | None = None
    """What was answered, once the chat finished."""
    failure: StageFailed | None = None
    """The failure reported, if a stage failed."""


class StageFailure(Exception):
    """A stage failed: becomes an ``error`` event (its message from the one classifier)."""

    def __init__(self, stage: PipelineStage, code: ErrorCode, error: BaseException | str) -> None:
        if isinstance(error, OWN_ERRORS):
            problem = explain(error)
            message, cause = problem.detail, problem.code
        elif isinstance(error, BaseException):
            message, cause = f"{type(error).__name__}: {error}", None
        else:
            message, cause = error, None
        super().__init__(message)
        self.stage = stage
        """Which stage."""
        self.code = code
        """What failed."""
        self.message = message
        """Human-readable detail."""
        self.cause = cause
        """The code of our own error that caused it, if it was one."""


class _Meta(TypedDict):
    run_id: str
    timestamp: float


def new_run_id() -> str:
    """A random run id."""
    return uuid.uuid4().hex


class Runs:
    """Starts and ends runs and reports their events, in order, to one callback."""

    def __init__(
        self,
        on_event: EventCallback | None,
        clock: Callable[[], float],
        new_id: Callable[[], str] = new_run_id,
        conversation_id: str | None = None,
    ) -> None:
        self.on_event = on_event
        """The callback (None: nobody listens)."""
        self.clock = clock
        """Monotonic seconds for the timestamps."""
        self.new_id = new_id
        self.conversation_id = conversation_id
        """The chat conversation the runs continue (set by the chat service's answer)."""
        self.current: Run | None = None
        """The run started last, until it ends (at most one is open at a time)."""

    def meta(self, run: Run) -> _Meta:
        """The fields every event of ``run`` carries, stamped now."""
        return {"run_id": run.id, "timestamp": self.clock()}

    async def start(self, stage: PipelineStage) -> Run:
        """A new run, reported with ``run-start``."""
        run = Run(id=self.new_id(), stage=stage)
        self.current = run  # before its first event: whoever stops the pipeline ends it
        await self.emit(
            RunStart(**self.meta(run), start_stage=stage, conversation_id=self.conversation_id)
        )
        return run

    async def end(self, run: Run, outcome: RunOutcome) -> None:
        """Report the end of ``run`` (once: a run already ended stays as it ended)."""
        if run.ended:
            return
        run.ended = True
        if self.current is run:
            self.current = None
        await self.emit(RunEnd(**self.meta(run), outcome=outcome))

    async def fail(self, run: Run, failure: StageFailure) -> None:
        """Report a stage's failure (the ``error`` event before ``run-end``)."""
        log.warning("voice run %s: %s failed: %s", run.id, failure.stage, failure.message)
        event = StageFailed(
            **self.meta(run),
            stage=failure.stage,
            code=failure.code,
            message=failure.message,
            cause=failure.cause,
        )
        run.failure = event
        await self.emit(event)

    async def emit(self, event: PipelineEvent) -> None:
        """Hand ``event`` to the callback; a failing callback is logged, not raised."""
        if self.on_event is None:
            return
        try:
            result = self.on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a broken listener must not break the pipeline
            log.exception("voice event listener failed on %s", event.type)
