"""The input side of the voice pipeline: the microphone stream, the wake word, the VAD,
push-to-talk and barge-in, as one explicit state machine fed one chunk at a time.

Each state holds its own data::

    Waiting(run?) ──wake word / press──> Listening(window) ──end of speech──> Responding(turn)
      ^    ^                               |  ^   ^                               |   |   |
      |    └──────────no speech────────────┘  |   └───wake word / speech / press──┘   |   |
      |                                       └───────reply spoken, follow-up on──────┘   |
      └──────────────────────────turn over otherwise──────────────────────────────────────┘

``Waiting`` holds the open wake-word run (none in push-to-talk mode, where the press
starts one); ``Listening`` a listening window (its segmenter, the VAD over its audio, the
audio since it opened); ``Responding`` the turn that answers (a task of the turn side,
``assistant.voice.turn``) and, with barge-in on speech, a monitor that listens over the
reply; while it listens, once the silence after speech reaches the end of turn's
``speculate_after_seconds``, a speculation of the turn side transcribes (and answers,
unheard) the command so far, its transcript sets the silence that ends the command
(adaptive end of turn, ``assistant.voice.endofturn``), and the turn adopts it when the
command ends (or it is dropped when speech resumes). The wake word and a press also warm
the models. Only this machine changes state; a turn's task only ends its own run and leaves
its outcome, which the next chunk acts on. A failing wake word or VAD is reported as the
run's error and the machine waits again; too many failures in a row end it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.errors import BackendError
from assistant.ring import AudioRing
from assistant.voice.endofturn import required_silence
from assistant.voice.events import (
    ErrorCode,
    ListenTrigger,
    PipelineStage,
    RunOutcome,
    SttStart,
    SttVadEnd,
    SttVadStart,
    WakeWordEnd,
    WakeWordStart,
)
from assistant.voice.listening import (
    BargeInMonitor,
    ListeningWindow,
    PushToTalk,
    SpeechFrames,
    WakeWatch,
)
from assistant.voice.options import PipelineOptions
from assistant.voice.runs import Run, Runs, StageFailure
from assistant.voice.segmenter import SegmenterOutcome, VoiceCommandSegmenter
from assistant.voice.state import PipelineState
from assistant.voice.turn import Speculative, Turn, TurnRunner
from hal.audio import AudioChunk
from runtime.vad.base import VoiceActivityDetector
from runtime.wake.base import WakeDetection, WakeWordDetector

log = logging.getLogger(__name__)

_EPSILON = 1e-6
"""Slack for comparing positions that are sums of float frame lengths."""


@dataclass
class Stopped:
    """Not running."""


@dataclass
class Waiting:
    """For the wake word or a press."""

    run: Run | None
    """The open wake-word run; None in push-to-talk mode (a press starts a run) and once
    the microphone has ended."""


@dataclass
class Listening:
    """To a command, until the segmenter (or a release) ends it."""

    window: ListeningWindow
    """What is heard."""
    speculative: Speculative | None = None
    """The command so far, transcribed (and answered, unheard) while the silence that may
    end it runs; None before that silence or with speculation off."""


@dataclass
class Responding:
    """A turn answers (transcribing, thinking, speaking)."""

    turn: Turn
    """The turn under way."""
    monitor: BargeInMonitor | None
    """Listens for speech over the reply (barge-in on speech), else None."""


InputState = Stopped | Waiting | Listening | Responding
"""Where the input side is."""


class Listener:
    """Feeds the microphone through the states; starts turns and barges in on them."""

    def __init__(
        self,
        runs: Runs,
        turns: TurnRunner,
        options: PipelineOptions,
        vad: VoiceActivityDetector,
        wake: WakeWordDetector | None,
        button: PushToTalk,
    ) -> None:
        self.runs = runs
        self.turns = turns
        self.options = options
        self.vad = vad
        self.button = button
        """Presses and releases from ``start_listening``/``stop_listening``."""
        self.state: InputState = Stopped()
        """Where it is."""
        self.closing = False
        """The microphone ended (or the pipeline stops): no new run starts."""
        self._wake = WakeWatch(wake) if wake is not None else None
        self._failures = 0
        self._chunks = 0
        extra = options.barge_in_speech_seconds if options.barge_in_on_speech else 0.0
        self._ring = AudioRing(options.pre_roll_seconds + extra)

    @property
    def phase(self) -> PipelineState:
        """The pipeline's state as its owner sees it."""
        state = self.state
        if isinstance(state, Waiting):
            return PipelineState.WAITING
        if isinstance(state, Listening):
            window = state.window
            if window.follow_up and window.announced is None:
                return PipelineState.FOLLOW_UP
            return PipelineState.LISTENING
        if isinstance(state, Responding):
            return state.turn.phase
        return PipelineState.IDLE

    # The stream ------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin waiting (the microphone opens)."""
        await self._wait()

    async def feed(self, chunk: AudioChunk) -> None:
        """One microphone chunk (16-bit mono at the VAD's rate)."""
        state = self.state
        if isinstance(state, Responding) and state.turn.task.done():
            # The turn has ended its run; what is listened for next is decided here.
            outcome = state.turn.outcome
            if outcome is None:  # playback stopped from outside: the reply is over
                outcome = RunOutcome.INTERRUPTED
            await self._after_turn(outcome)
        index = self._chunks
        self._chunks += 1
        state = self.state
        if isinstance(state, Waiting):
            await self._feed_waiting(state, chunk, index)
        elif isinstance(state, Listening):
            self.button.pressed = False  # already listening
            await self._feed_listening(state, chunk)
        elif isinstance(state, Responding):
            await self._feed_responding(state, chunk, index)
        self._ring.push(chunk)

    async def finish(self) -> None:
        """The microphone ended: answer a command in progress, let a reply finish."""
        self.closing = True
        state = self.state
        if isinstance(state, Listening):
            window = state.window
            if window.segmenter.in_command or (window.keep_all and window.audio):
                await self._end_command(window)
        state = self.state
        if isinstance(state, Responding):
            await asyncio.wait({state.turn.task})

    async def stop(self) -> None:
        """Stop whatever runs and end the open run (before the engines go back)."""
        self.closing = True
        state = self.state
        if isinstance(state, Responding):
            await self.turns.cancel(state.turn)
        elif isinstance(state, Listening):
            await self._drop_speculation(state)
        await self.turns.close()
        if self.runs.current is not None:
            await self.runs.end(self.runs.current, RunOutcome.CANCELLED)
        self.state = Stopped()

    # The states ------------------------------------------------------------------------

    async def _feed_waiting(self, state: Waiting, chunk: AudioChunk, index: int) -> None:
        if self.button.take_press():
            self.turns.warm()
            if state.run is not None and state.run.stage is PipelineStage.WAKE_WORD:
                # The press ends the wake-word stage without a wake word.
                await self.runs.emit(
                    WakeWordEnd(**self.runs.meta(state.run), word=None, score=None)
                )
            await self._listen(ListenTrigger.PUSH_TO_TALK, [*self._ring.chunks(), chunk], state.run)
            return
        if self._wake is None or self.options.push_to_talk:
            return
        try:
            detection = await self._wake.detect(chunk, index)
            self._failures = 0
        except Exception as exc:
            await self._fail(
                state.run, StageFailure(PipelineStage.WAKE_WORD, ErrorCode.WAKE_WORD_FAILED, exc)
            )
            return
        if detection is None or self.state is not state:
            return
        self.turns.warm()
        if state.run is not None:
            await self.runs.emit(
                WakeWordEnd(**self.runs.meta(state.run), word=detection.word, score=detection.score)
            )
        await self._listen(ListenTrigger.WAKE_WORD, _after(chunk, detection.timestamp), state.run)

    async def _feed_listening(self, state: Listening, chunk: AudioChunk) -> None:
        window = state.window
        if self.button.take_release():
            await self._end_command(window)
            return
        window.audio += chunk.audio
        try:
            probabilities = await window.speech.probabilities(chunk)
        except Exception as exc:
            await self._fail(window.run, StageFailure(PipelineStage.STT, ErrorCode.VAD_FAILED, exc))
            return
        if probabilities:
            self._failures = 0
        if self.state is not state:
            return
        segmenter = window.segmenter
        for probability in probabilities:
            more = segmenter.process(
                window.speech.frame_seconds, probability >= self.options.vad_threshold
            )
            start = segmenter.command_start_seconds
            if start is not None and window.announced != start:
                window.announced = start
                await self.runs.emit(
                    SttVadStart(**self.runs.meta(window.run), offset_seconds=start)
                )
            if not more:
                await self._end_command(window)
                return
        window.trim(self.options.pre_roll_seconds)
        await self._speculate(state)

    async def _speculate(self, state: Listening) -> None:
        """Start a speculation once the silence after speech reaches
        ``speculate_after_seconds``; drop it when speech resumes for real (a burst too short
        to restart the silence count only asks for a second transcription at the end)."""
        end_of_turn = self.options.end_of_turn
        if not end_of_turn.speculate:
            return
        after = end_of_turn.speculate_after_seconds
        window = state.window
        segmenter = window.segmenter
        speech_end = segmenter.speech_end_seconds
        silence = segmenter.trailing_silence_seconds
        speculative = state.speculative
        if speculative is not None:
            if speech_end is None or not segmenter.in_command:
                await self._drop_speculation(state)  # the command was noise after all
            elif speech_end > speculative.speech_end_seconds + _EPSILON:
                speculative.retranscribe = True
                if silence > 0 and silence + _EPSILON < after:
                    await self._drop_speculation(state)  # the silence count started again
            return
        if speech_end is None or not segmenter.in_command or silence + _EPSILON < after:
            return
        audio = window.utterance(self.options.pre_roll_seconds)

        def judge(text: str) -> None:
            """The transcript says how much silence should end this command."""
            if end_of_turn.adaptive and self.state is state and not segmenter.finished:
                segmenter.require_silence(required_silence(text, end_of_turn))

        state.speculative = await self.turns.speculate(window.run, audio, speech_end, judge)

    async def _drop_speculation(self, state: Listening) -> None:
        speculative, state.speculative = state.speculative, None
        if speculative is not None:
            await self.turns.drop(speculative)

    async def _feed_responding(self, state: Responding, chunk: AudioChunk, index: int) -> None:
        if self.button.take_press():
            await self._barge_in(
                state, ListenTrigger.PUSH_TO_TALK, None, [*self._ring.chunks(), chunk]
            )
            return
        self.button.released = False
        if self._wake is not None and self.options.barge_in_on_wake:
            try:
                detection = await self._wake.detect(chunk, index)
                self._failures = 0
            except Exception as exc:
                # The turn goes on; only a detector that keeps failing stops the pipeline.
                log.warning("wake-word detection failed during a reply: %s", exc)
                self._count_failure(exc)
                detection = None
            if detection is not None:
                await self._barge_in(
                    state, ListenTrigger.WAKE_WORD, detection, _after(chunk, detection.timestamp)
                )
                return
        monitor = state.monitor
        if monitor is None:
            return
        try:
            probabilities = await monitor.speech.probabilities(chunk)
        except Exception as exc:
            log.warning("speech detection failed during a reply: %s", exc)
            self._count_failure(exc)
            return
        if probabilities:
            self._failures = 0
        for probability in probabilities:
            monitor.segmenter.process(
                monitor.speech.frame_seconds, probability >= self.options.vad_threshold
            )
        if monitor.segmenter.in_command and self.state is state:
            await self._barge_in(state, ListenTrigger.SPEECH, None, [*self._ring.chunks(), chunk])

    # Transitions -----------------------------------------------------------------------

    async def _wait(self) -> None:
        """Back to waiting for the wake word (a new run) or a press."""
        self.state = Waiting(None)
        if self.closing or self.options.push_to_talk:
            return
        run = await self.runs.start(PipelineStage.WAKE_WORD)
        self.state = Waiting(run)
        await self.runs.emit(WakeWordStart(**self.runs.meta(run)))

    async def _listen(
        self, trigger: ListenTrigger, seed: Iterable[AudioChunk], run: Run | None
    ) -> None:
        """Open a listening window (in ``run``, or a new one) and feed it ``seed``."""
        if run is None:
            run = await self.runs.start(PipelineStage.STT)
        run.stage = PipelineStage.STT
        follow_up = trigger is ListenTrigger.FOLLOW_UP
        options = self.options
        window_seconds = options.follow_up_seconds if follow_up else options.listen_seconds
        window = ListeningWindow(
            run=run,
            segmenter=VoiceCommandSegmenter(options.segmenter_options(window_seconds)),
            speech=SpeechFrames(self.vad),
            rate=self.vad.sample_rate,
            keep_all=trigger is ListenTrigger.PUSH_TO_TALK,
            follow_up=follow_up,
        )
        state = Listening(window)
        self.state = state
        self.button.released = False
        await self.runs.emit(
            SttStart(**self.runs.meta(run), trigger=trigger, language=options.language)
        )
        for chunk in seed:
            if self.state is not state:
                break
            await self._feed_listening(state, chunk)

    async def _end_command(self, window: ListeningWindow) -> None:
        """The listening window closed: answer the command, or go back to waiting."""
        run, segmenter = window.run, window.segmenter
        audio = window.utterance(self.options.pre_roll_seconds)
        speculative = None
        state = self.state
        if isinstance(state, Listening) and state.window is window:
            speculative, state.speculative = state.speculative, None
        speech_end = segmenter.speech_end_seconds
        if speculative is not None and (
            speech_end is None or speech_end > speculative.speech_end_seconds + _EPSILON
        ):
            speculative.retranscribe = True
        if segmenter.outcome is SegmenterOutcome.NO_SPEECH or audio.frames == 0:
            if speculative is not None:
                await self.turns.drop(speculative)
            await self.runs.end(run, RunOutcome.NO_SPEECH)
            await self._wait()
            return
        position = segmenter.position_seconds
        await self.runs.emit(
            SttVadEnd(
                **self.runs.meta(run),
                offset_seconds=position,
                speech_end_seconds=position if speech_end is None else speech_end,
                timed_out=segmenter.outcome is SegmenterOutcome.MAX_LENGTH,
            )
        )
        turn = self.turns.start(run, audio, speculative)
        monitor = None
        if self.options.barge_in_on_speech:
            monitor = BargeInMonitor(
                VoiceCommandSegmenter(self.options.barge_in_segmenter_options()),
                SpeechFrames(self.vad),
            )
        self.state = Responding(turn, monitor)

    async def _barge_in(
        self,
        state: Responding,
        trigger: ListenTrigger,
        detection: WakeDetection | None,
        seed: Sequence[AudioChunk],
    ) -> None:
        """Interrupt the turn (if it still runs) and listen again, in a new run."""
        turn = state.turn
        if not turn.run.ended:
            log.info("barge-in (%s): interrupting run %s", trigger, turn.run.id)
            await self.turns.interrupt(turn)
        else:
            await asyncio.wait({turn.task})  # it is only reporting its end
        self.state = Waiting(None)
        run = None
        if trigger is ListenTrigger.WAKE_WORD and detection is not None:
            run = await self.runs.start(PipelineStage.WAKE_WORD)
            self.state = Waiting(run)
            await self.runs.emit(WakeWordStart(**self.runs.meta(run)))
            await self.runs.emit(
                WakeWordEnd(**self.runs.meta(run), word=detection.word, score=detection.score)
            )
        await self._listen(trigger, seed, run)

    async def _after_turn(self, outcome: RunOutcome) -> None:
        if outcome is RunOutcome.COMPLETED and self.options.follow_up_seconds > 0:
            run = await self.runs.start(PipelineStage.STT)
            await self._listen(ListenTrigger.FOLLOW_UP, (), run)
        else:
            await self._wait()

    async def _fail(self, run: Run | None, failure: StageFailure) -> None:
        """A wake-word or VAD failure: report it, end the run, wait again."""
        if isinstance(self.state, Listening):
            await self._drop_speculation(self.state)
        if run is None:
            run = await self.runs.start(failure.stage)
        await self.runs.fail(run, failure)
        await self.runs.end(run, RunOutcome.ERROR)
        self._count_failure(failure)
        await self._wait()

    def _count_failure(self, error: Exception) -> None:
        self._failures += 1
        if self._failures >= self.options.max_consecutive_errors:
            raise BackendError(
                f"the voice pipeline stopped after {self._failures} failures in a row: {error}"
            ) from error


def _after(chunk: AudioChunk, timestamp: float) -> list[AudioChunk]:
    """The part of ``chunk`` after stream time ``timestamp`` (the audio after a wake word)."""
    frame_bytes = chunk.width * chunk.channels
    skip = round((timestamp - chunk.timestamp) * chunk.rate)
    skip = min(max(skip, 0), chunk.frames)
    rest = chunk.audio[skip * frame_bytes :]
    if not rest:
        return []
    return [
        AudioChunk(
            audio=rest,
            rate=chunk.rate,
            width=chunk.width,
            channels=chunk.channels,
            timestamp=chunk.timestamp + skip / chunk.rate,
        )
    ]
