"""The voice pipeline: wake word, listen, transcribe, think, speak; with barge-in.

An explicit state machine over one microphone stream::

    WAITING ──wake word / start_listening()──> LISTENING ──end of speech──> TRANSCRIBING
       ^  ^                                     ^   |                            |
       |  └────────no speech────────────────────┼───┘                            v
       |                                        |                           THINKING
       |       FOLLOW_UP ──speech──> LISTENING  |                     (chat streams; the
       |          ^   |                         |                      first sentence goes
       └─no speech┼───┘                         |                      to TTS at once)
                  |                             |                            |
                  └──────reply spoken─────── SPEAKING <──first audio────────┘
                                                |
                     wake word / speech / start_listening() while TRANSCRIBING, THINKING
                     or SPEAKING: stop the speaker, cancel the turn, listen again (barge-in)

The microphone is read all the time: the turn (speech to text, the chat stream, text to
speech, playback) runs in its own task, so the wake word can interrupt it. Inside a turn
three parts run at once: the chat stream feeds a sentence splitter whose sentences go
through a queue to the synthesizer, whose audio goes through a second queue to the
speaker, so sentence n+1 is synthesized while sentence n plays.

Engines are borrowed through ``EngineSource``s (``lambda: manager.use(model_id)`` or
``held(engine)``) and called off the event loop; a cancelled call waits for its thread
before the engine goes back, because engines are not thread-safe. The wake-word detector
and the VAD are borrowed for the whole of ``run``; speech to text per transcription, text
to speech per reply.

Every step is reported as a timed event (``assistant.voice.events``) to one callback.
A failing stage becomes an ``error`` event and the pipeline waits again; only a
misconfigured microphone stream or a wake word/VAD engine that keeps failing ends ``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import uuid
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ParamSpec, Protocol, TypeAlias, TypedDict, TypeVar

from assistant.chat.models import ChatRequest, TurnDelta, TurnDone, TurnEvent, TurnStarted
from assistant.errors import BackendError, Conflict, InvalidInput
from assistant.problems import OWN_ERRORS, explain
from assistant.voice.events import (
    ChatDelta,
    ChatEnd,
    ChatStart,
    ErrorCode,
    ListenTrigger,
    PipelineEvent,
    PipelineStage,
    RunEnd,
    RunOutcome,
    RunStart,
    StageFailed,
    SttEnd,
    SttStart,
    SttVadEnd,
    SttVadStart,
    TtsAudio,
    TtsEnd,
    TtsStart,
    WakeWordEnd,
    WakeWordStart,
)
from assistant.voice.segmenter import SegmenterOptions, SegmenterOutcome, VoiceCommandSegmenter
from assistant.voice.sentences import SentenceSplitter, SplitterOptions
from hal.audio import AudioChunk
from runtime.llm.base import GenerationOptions
from runtime.stt.base import TranscribeOptions, Transcript
from runtime.tts.base import SynthesisOptions
from runtime.vad.framing import PcmFramer, check_format
from runtime.wake.base import WakeDetection

log = logging.getLogger(__name__)

T = TypeVar("T")
E = TypeVar("E")
P = ParamSpec("P")


# Dependencies -----------------------------------------------------------------------


class WakeDetector(Protocol):
    """Spots the wake word in a stream (``runtime.wake`` engines are ones)."""

    def process(self, chunk: AudioChunk) -> WakeDetection | None:
        """Feed audio; a detection when the wake word ends in it."""
        ...

    def reset(self) -> None:
        """Forget buffered audio (the stream was interrupted)."""
        ...


class SpeechDetector(Protocol):
    """Speech probability per fixed-size frame (``runtime.vad`` engines are ones)."""

    @property
    def sample_rate(self) -> int:
        """Rate of the frames (and of the microphone)."""
        ...

    @property
    def frame_samples(self) -> int:
        """Samples per frame."""
        ...

    def probability(self, frame: AudioChunk) -> float:
        """Probability in [0, 1] that the frame holds speech."""
        ...

    def reset(self) -> None:
        """Forget the recurrent state (new stream)."""
        ...


class Transcriber(Protocol):
    """Speech to text (``runtime.stt`` engines are ones)."""

    def transcribe(self, audio: AudioChunk, options: TranscribeOptions) -> Transcript:
        """Transcribe one utterance."""
        ...


class Synthesizer(Protocol):
    """Text to speech (``runtime.tts`` engines are ones)."""

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak ``text``, chunk by chunk."""
        ...


class AudioOutput(Protocol):
    """Where replies are played (``hal.audio.Speaker`` is one)."""

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        """Play chunks as they arrive; False if ``stop`` cut it short."""
        ...

    def stop(self) -> None:
        """Stop the current playback at once."""
        ...


EngineSource: TypeAlias = Callable[[], AbstractAsyncContextManager[E]]
"""Lends an engine for a while: ``lambda: manager.use(model_id)``, or ``held(engine)``."""
Chat: TypeAlias = Callable[[ChatRequest], AsyncIterator[TurnEvent]]
"""One chat turn as a stream: ``functools.partial(chat_service.stream, user_id)``."""
EventCallback: TypeAlias = Callable[[PipelineEvent], Awaitable[None] | None]
"""Receives every event, in order (a plain function or a coroutine function)."""


def held(engine: E) -> EngineSource[E]:
    """An engine source that always lends the same, already loaded engine."""

    @asynccontextmanager
    async def lend() -> AsyncIterator[E]:
        yield engine

    return lend


# Settings and state -----------------------------------------------------------------


@dataclass(frozen=True)
class PipelineSettings:
    """How the voice pipeline listens, answers and lets itself be interrupted."""

    push_to_talk: bool = False
    """Wait for ``start_listening()`` (a button) instead of the wake word."""
    listen_seconds: float = 8.0
    """After the wake word or a press, how long to wait for speech to start (a press held
    longer with nothing the VAD calls speech ends as no-speech)."""
    speech_seconds: float = 0.2
    """Speech needed before a command counts as started (debounce)."""
    silence_seconds: float = 0.8
    """Silence that ends a command."""
    min_speech_seconds: float = 0.3
    """Commands with less speech are dropped as noise."""
    max_utterance_seconds: float = 15.0
    """Longest command; it is cut there and transcribed."""
    reset_seconds: float = 0.3
    """Pause that forgets speech too short to start a command (see the segmenter)."""
    pre_roll_seconds: float = 0.4
    """Audio kept before the detected start of speech (and before a press)."""
    vad_threshold: float = 0.5
    """Speech probability from which a VAD frame counts as speech."""
    follow_up_seconds: float = 5.0
    """After a reply, listen this long without the wake word; 0 turns it off."""
    barge_in_on_wake: bool = True
    """The wake word while thinking or speaking interrupts and listens again."""
    barge_in_on_speech: bool = False
    """Any speech while thinking or speaking interrupts (needs echo cancellation or a
    headset: otherwise the assistant interrupts itself)."""
    barge_in_speech_seconds: float = 0.5
    """Speech that counts as barge-in when ``barge_in_on_speech`` is on."""
    language: str | None = None
    """Language of the user's speech (ISO 639-1); None: detect."""
    voice: SynthesisOptions = field(default_factory=SynthesisOptions)
    """Speaking rate and speaker of the replies."""
    chat_model: str | None = None
    """Chat model; None lets the chat service route."""
    chat_options: GenerationOptions = field(default_factory=GenerationOptions)
    """Sampling and length of replies."""
    sentences: SplitterOptions = field(default_factory=SplitterOptions)
    """Shortest and longest piece of a reply sent to TTS at once."""
    max_consecutive_errors: int = 5
    """Wake-word or VAD failures in a row after which ``run`` gives up."""

    def __post_init__(self) -> None:
        for name in (
            "listen_seconds",
            "speech_seconds",
            "silence_seconds",
            "min_speech_seconds",
            "max_utterance_seconds",
            "reset_seconds",
            "pre_roll_seconds",
            "follow_up_seconds",
            "barge_in_speech_seconds",
        ):
            if not getattr(self, name) >= 0:
                raise InvalidInput(f"{name} must not be negative", field=name)
        for name in ("listen_seconds", "max_utterance_seconds"):
            if getattr(self, name) == 0:
                raise InvalidInput(f"{name} must be positive", field=name)
        if not 0.0 <= self.vad_threshold <= 1.0:
            raise InvalidInput("vad_threshold must be between 0 and 1", field="vad_threshold")
        if self.max_consecutive_errors < 1:
            raise InvalidInput(
                "max_consecutive_errors must be at least 1", field="max_consecutive_errors"
            )

    def segmenter_options(self, window_seconds: float | None) -> SegmenterOptions:
        """Segmenter timing for a listening window (None: no limit on waiting)."""
        return SegmenterOptions(
            speech_seconds=self.speech_seconds,
            silence_seconds=self.silence_seconds,
            min_speech_seconds=self.min_speech_seconds,
            max_command_seconds=self.max_utterance_seconds,
            no_speech_seconds=window_seconds,
            reset_seconds=self.reset_seconds,
        )


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


@dataclass(frozen=True)
class TurnResult:
    """What ``run_once`` did."""

    run_id: str
    """The run's id (its events carry it)."""
    outcome: RunOutcome
    """How it ended."""
    transcript: str | None
    """What was heard; None if transcription failed."""
    reply: str | None
    """What was answered; None if the chat did not finish."""
    error: StageFailed | None
    """The failure, if a stage failed."""


# Internals --------------------------------------------------------------------------


class _StageFailure(Exception):
    """A stage failed: becomes an ``error`` event."""

    def __init__(self, stage: PipelineStage, code: ErrorCode, error: BaseException | str) -> None:
        if isinstance(error, OWN_ERRORS):
            problem = explain(error)
            message, cause = problem.detail, problem.code
        elif isinstance(error, BaseException):
            message, cause = f"{type(error).__name__}: {error}", None
        else:
            message, cause = error, None
        super().__init__(message)
        self.stage, self.code, self.message, self.cause = stage, code, message, cause


class _PlaybackStopped(Exception):
    """The speaker was stopped by someone else: the rest of the turn is moot."""


@dataclass
class _Run:
    id: str
    stage: PipelineStage = PipelineStage.WAKE_WORD
    interrupted: bool = False
    transcript: str | None = None
    reply: str | None = None
    failure: StageFailed | None = None


@dataclass
class _Turn:
    run: _Run
    task: asyncio.Task[None] | None = None
    live: bool = True
    """Its run has not ended yet."""
    outcome: RunOutcome | None = None
    """How its run ended, for the next state; None if it was interrupted."""


@dataclass
class _Listening:
    """One listening window: the segmenter and the audio since the window opened."""

    run: _Run
    segmenter: VoiceCommandSegmenter
    framer: PcmFramer
    rate: int
    keep_all: bool
    """Keep every sample (push-to-talk: the user decides what is speech)."""
    audio: bytearray = field(default_factory=bytearray)
    dropped_seconds: float = 0.0
    """Seconds of the window trimmed off the front of ``audio``."""
    announced: float | None = None
    """Command start reported with ``stt-vad-start``."""

    def trim(self, pre_roll_seconds: float) -> None:
        """Forget audio that cannot belong to a command any more (while none started)."""
        if self.keep_all or self.segmenter.in_command:
            return
        start = self.segmenter.candidate_start_seconds
        anchor = self.segmenter.position_seconds if start is None else start
        samples = round((anchor - pre_roll_seconds - self.dropped_seconds) * self.rate)
        if samples >= self.rate:  # trim in steps of a second or more, not every chunk
            del self.audio[: samples * 2]
            self.dropped_seconds += samples / self.rate

    def utterance(self, pre_roll_seconds: float) -> AudioChunk:
        """The command: from its start less the pre-roll to the latest sample."""
        start = None if self.keep_all else self.segmenter.candidate_start_seconds
        samples = 0
        if start is not None:
            samples = max(0, round((start - pre_roll_seconds - self.dropped_seconds) * self.rate))
        offset = min(samples * 2, len(self.audio))
        return AudioChunk(audio=bytes(self.audio[offset:]), rate=self.rate)


class _Ring:
    """The latest few seconds of microphone audio."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._chunks: deque[AudioChunk] = deque()
        self._total = 0.0

    def push(self, chunk: AudioChunk) -> None:
        if self.seconds <= 0:
            return
        self._chunks.append(chunk)
        self._total += chunk.seconds
        while self._chunks and self._total - self._chunks[0].seconds >= self.seconds:
            self._total -= self._chunks.popleft().seconds

    def chunks(self) -> list[AudioChunk]:
        return list(self._chunks)


class _Meta(TypedDict):
    run_id: str
    timestamp: float


@dataclass
class _Monitor:
    """Speech detection while a turn runs (barge-in on speech)."""

    segmenter: VoiceCommandSegmenter
    framer: PcmFramer


async def _off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking engine call in a thread; if cancelled, wait for the thread first.

    The engine is not thread-safe: its lease must not end while the thread still uses it.
    """
    worker = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        while not worker.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({worker})
        if not worker.cancelled():
            worker.exception()  # retrieved: the cancellation wins
        raise


async def _close_stream(stream: object) -> None:
    """Close an async generator left suspended (a cancelled chat stream)."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # the chat's own clean-up failing must not hide the turn's end
            log.exception("closing the chat stream failed")


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(_leaves(error))
        else:
            found.append(error)
    return found


def _probabilities(vad: SpeechDetector, frames: Sequence[AudioChunk], reset: bool) -> list[float]:
    if reset:
        vad.reset()
    return [vad.probability(frame) for frame in frames]


def _next_chunk(chunks: Iterator[AudioChunk]) -> AudioChunk | None:
    return next(chunks, None)


def _new_run_id() -> str:
    return uuid.uuid4().hex


# The pipeline -----------------------------------------------------------------------


class VoicePipeline:
    """Wake word -> VAD -> STT -> chat -> sentence TTS -> speaker, as one state machine."""

    def __init__(
        self,
        *,
        vad: EngineSource[SpeechDetector],
        stt: EngineSource[Transcriber],
        tts: EngineSource[Synthesizer],
        chat: Chat,
        speaker: AudioOutput,
        wake: EngineSource[WakeDetector] | None = None,
        on_event: EventCallback | None = None,
        settings: PipelineSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        conversation_id: str | None = None,
        new_run_id: Callable[[], str] = _new_run_id,
    ) -> None:
        self.settings = settings or PipelineSettings()
        """How it listens and answers."""
        if wake is None and not self.settings.push_to_talk:
            raise InvalidInput(
                "the voice pipeline needs a wake-word detector unless push_to_talk is on",
                field="wake",
            )
        self.conversation_id = conversation_id
        """The chat conversation the turns continue (set by the chat service's answer)."""
        self._vad_source = vad
        self._stt_source = stt
        self._tts_source = tts
        self._wake_source = wake
        self._chat = chat
        self._speaker = speaker
        self._on_event = on_event
        self._clock = clock
        self._new_run_id = new_run_id
        self._state = PipelineState.IDLE
        self._running = False
        self._closing = False
        self._wake: WakeDetector | None = None
        self._vad: SpeechDetector | None = None
        self._wake_continuous = False
        self._wake_heard = False
        self._vad_stale = True
        self._run: _Run | None = None
        self._turn: _Turn | None = None
        self._listening: _Listening | None = None
        self._monitor: _Monitor | None = None
        self._press = False
        self._release = False
        self._failures = 0
        extra = self.settings.barge_in_speech_seconds if self.settings.barge_in_on_speech else 0
        self._ring = _Ring(self.settings.pre_roll_seconds + extra)

    @property
    def state(self) -> PipelineState:
        """Where the pipeline is now."""
        return self._state

    # Controls -------------------------------------------------------------------------

    def start_listening(self) -> None:
        """Push-to-talk pressed: listen now (interrupting a reply); takes effect on the next
        microphone chunk. Call on the event loop."""
        self._press = True

    def stop_listening(self) -> None:
        """Push-to-talk released: the command is over. Call on the event loop."""
        self._release = True

    # Running --------------------------------------------------------------------------

    async def run(self, mic_chunks: AsyncIterable[AudioChunk]) -> None:
        """Serve turns from a microphone stream until it ends (or this is cancelled).

        The chunks must be 16-bit mono PCM at the VAD's rate. When the stream ends, a
        command being spoken is answered and a reply being spoken is finished first.
        """
        self._enter()
        try:
            async with AsyncExitStack() as stack:
                vad = self._vad = await stack.enter_async_context(self._vad_source())
                if self._wake_source is not None:
                    self._wake = await stack.enter_async_context(self._wake_source())
                try:
                    await self._wait()
                    async for chunk in mic_chunks:
                        check_format(chunk, vad.sample_rate, "microphone audio")
                        await self._feed(chunk)
                    await self._finish_input()
                finally:
                    # Before the engines go back: nothing may use them after this.
                    await self._shutdown()
        finally:
            self._vad = self._wake = None
            self._running = False

    async def run_once(self, audio: AudioChunk) -> TurnResult:
        """One turn from a whole recording (no wake word, no VAD): transcribe, answer, speak."""
        self._enter()
        self._closing = True
        run = await self._start_run(PipelineStage.STT)
        await self._emit(
            SttStart(
                **self._meta(run),
                trigger=ListenTrigger.AUDIO,
                language=self.settings.language,
            )
        )
        turn = self._start_turn(run, audio)
        assert turn.task is not None
        try:
            await asyncio.wait({turn.task})
        finally:
            await self._shutdown()
            self._running = False
        outcome = turn.outcome or RunOutcome.INTERRUPTED
        return TurnResult(run.id, outcome, run.transcript, run.reply, run.failure)

    def _enter(self) -> None:
        if self._running:
            raise Conflict("the voice pipeline is already running")
        self._running = True
        self._closing = False
        self._press = self._release = False
        self._failures = 0

    async def _finish_input(self) -> None:
        """The microphone ended: answer a command in progress, let a reply finish."""
        self._closing = True
        listening = self._listening
        if (
            listening is not None
            and self._state is PipelineState.LISTENING
            and (listening.segmenter.in_command or (listening.keep_all and listening.audio))
        ):
            await self._end_command(listening)
        turn = self._turn
        if turn is not None and turn.task is not None:
            await asyncio.wait({turn.task})

    async def _shutdown(self) -> None:
        """Stop whatever runs and end the current run."""
        self._closing = True
        turn = self._turn
        if turn is not None and turn.task is not None and not turn.task.done():
            self._speaker.stop()
            turn.task.cancel()
            await asyncio.wait({turn.task})
        if turn is not None and turn.live:
            turn.live = False
            await self._end_run(turn.run, RunOutcome.CANCELLED)
        if self._run is not None:
            await self._end_run(self._run, RunOutcome.CANCELLED)
        self._turn = None
        self._listening = self._monitor = None
        self._state = PipelineState.IDLE

    # The microphone loop --------------------------------------------------------------

    async def _feed(self, chunk: AudioChunk) -> None:
        turn = self._turn
        if turn is not None and turn.task is not None and turn.task.done():
            # Only this loop changes what is listened for: the turn task just ends its run.
            self._turn = None
            if turn.outcome is not None and not self._closing:
                await self._after_turn(turn.outcome)
        self._wake_heard = False
        state = self._state
        if state is PipelineState.WAITING:
            await self._feed_waiting(chunk)
        elif state in (PipelineState.LISTENING, PipelineState.FOLLOW_UP):
            self._press = False  # already listening
            await self._feed_listening(chunk)
        else:
            await self._feed_responding(chunk)
        # A detector that missed a chunk holds stale audio: it is reset before its next one.
        self._wake_continuous = self._wake_heard
        self._ring.push(chunk)

    async def _feed_waiting(self, chunk: AudioChunk) -> None:
        if self._take_press():
            await self._pre_empt_wake_word()
            await self._listen(ListenTrigger.PUSH_TO_TALK, [*self._ring.chunks(), chunk])
            return
        if self._wake is None or self.settings.push_to_talk:
            return
        try:
            detection = await self._detect_wake(chunk)
        except Exception as exc:
            await self._fail_waiting(
                _StageFailure(PipelineStage.WAKE_WORD, ErrorCode.WAKE_WORD_FAILED, exc)
            )
            return
        if detection is None or self._state is not PipelineState.WAITING:
            return
        run = self._run
        if run is not None:
            await self._emit(
                WakeWordEnd(
                    **self._meta(run),
                    word=detection.word,
                    score=detection.score,
                )
            )
        await self._listen(ListenTrigger.WAKE_WORD, _after(chunk, detection.timestamp))

    async def _feed_listening(self, chunk: AudioChunk) -> None:
        listening = self._listening
        assert listening is not None and self._vad is not None
        if self._release:
            self._release = False
            await self._end_command(listening)
            return
        listening.audio += chunk.audio
        frames = listening.framer.push(chunk)
        try:
            probabilities = await self._speech_probabilities(frames)
        except Exception as exc:
            await self._fail_waiting(_StageFailure(PipelineStage.STT, ErrorCode.VAD_FAILED, exc))
            return
        if self._listening is not listening:
            return
        segmenter = listening.segmenter
        frame_seconds = listening.framer.frame_samples / listening.rate
        for probability in probabilities:
            more = segmenter.process(frame_seconds, probability >= self.settings.vad_threshold)
            start = segmenter.command_start_seconds
            if start is not None and listening.announced != start:
                listening.announced = start
                self._state = PipelineState.LISTENING
                await self._emit(SttVadStart(**self._meta(listening.run), offset_seconds=start))
            if not more:
                await self._end_command(listening)
                return
        listening.trim(self.settings.pre_roll_seconds)

    async def _feed_responding(self, chunk: AudioChunk) -> None:
        if self._take_press():
            await self._barge_in(ListenTrigger.PUSH_TO_TALK, None, [*self._ring.chunks(), chunk])
            return
        self._release = False
        if self._wake is not None and self.settings.barge_in_on_wake:
            try:
                detection = await self._detect_wake(chunk)
            except Exception as exc:
                # The turn goes on; only a detector that keeps failing stops the pipeline.
                log.warning("wake-word detection failed during a reply: %s", exc)
                self._count_failure(exc)
                detection = None
            if detection is not None:
                await self._barge_in(
                    ListenTrigger.WAKE_WORD, detection, _after(chunk, detection.timestamp)
                )
                return
        monitor = self._monitor
        if monitor is not None and self._vad is not None:
            frames = monitor.framer.push(chunk)
            try:
                probabilities = await self._speech_probabilities(frames)
            except Exception as exc:
                log.warning("speech detection failed during a reply: %s", exc)
                self._count_failure(exc)
                return
            frame_seconds = monitor.framer.frame_samples / monitor.framer.rate
            for probability in probabilities:
                monitor.segmenter.process(frame_seconds, probability >= self.settings.vad_threshold)
            if monitor.segmenter.in_command and self._monitor is monitor:
                await self._barge_in(ListenTrigger.SPEECH, None, [*self._ring.chunks(), chunk])

    async def _speech_probabilities(self, frames: Sequence[AudioChunk]) -> list[float]:
        """VAD over whole frames (the VAD is reset first when a new stretch begins)."""
        vad = self._vad
        assert vad is not None
        if not frames:
            return []
        reset, self._vad_stale = self._vad_stale, False
        probabilities = await _off_loop(_probabilities, vad, frames, reset)
        self._failures = 0
        return probabilities

    async def _detect_wake(self, chunk: AudioChunk) -> WakeDetection | None:
        wake = self._wake
        assert wake is not None
        if not self._wake_continuous:
            await _off_loop(wake.reset)
            self._wake_continuous = True
        detection = await _off_loop(wake.process, chunk)
        self._wake_heard = True
        self._failures = 0
        return detection

    def _take_press(self) -> bool:
        pressed, self._press = self._press, False
        return pressed

    # Transitions ----------------------------------------------------------------------

    async def _wait(self) -> None:
        """Back to waiting for the wake word (a new run) or a press."""
        self._listening = self._monitor = None
        self._state = PipelineState.WAITING
        if self._closing or self.settings.push_to_talk:
            return
        run = await self._start_run(PipelineStage.WAKE_WORD)
        await self._emit(WakeWordStart(**self._meta(run)))

    async def _pre_empt_wake_word(self) -> None:
        """A press while waiting for the wake word ends the wake-word stage without one."""
        run = self._run
        if run is not None and run.stage is PipelineStage.WAKE_WORD:
            await self._emit(WakeWordEnd(**self._meta(run), word=None, score=None))

    async def _listen(self, trigger: ListenTrigger, seed: Iterable[AudioChunk]) -> None:
        """Open a listening window (in the current run, or a new one) and feed it ``seed``."""
        vad = self._vad
        assert vad is not None
        run = self._run or await self._start_run(PipelineStage.STT)
        run.stage = PipelineStage.STT
        follow_up = trigger is ListenTrigger.FOLLOW_UP
        window = self.settings.follow_up_seconds if follow_up else self.settings.listen_seconds
        push_to_talk = trigger is ListenTrigger.PUSH_TO_TALK
        self._vad_stale = True
        self._state = PipelineState.FOLLOW_UP if follow_up else PipelineState.LISTENING
        listening = _Listening(
            run=run,
            segmenter=VoiceCommandSegmenter(self.settings.segmenter_options(window)),
            framer=PcmFramer(vad.frame_samples, vad.sample_rate),
            rate=vad.sample_rate,
            keep_all=push_to_talk,
        )
        self._listening, self._monitor = listening, None
        self._release = False
        await self._emit(
            SttStart(**self._meta(run), trigger=trigger, language=self.settings.language)
        )
        for chunk in seed:
            if self._listening is not listening:
                break
            await self._feed_listening(chunk)

    async def _end_command(self, listening: _Listening) -> None:
        """The listening window closed: answer the command, or go back to waiting."""
        self._listening = None
        run, segmenter = listening.run, listening.segmenter
        audio = listening.utterance(self.settings.pre_roll_seconds)
        if segmenter.outcome is SegmenterOutcome.NO_SPEECH or audio.frames == 0:
            await self._end_run(run, RunOutcome.NO_SPEECH)
            await self._wait()
            return
        position = segmenter.position_seconds
        speech_end = segmenter.speech_end_seconds
        await self._emit(
            SttVadEnd(
                **self._meta(run),
                offset_seconds=position,
                speech_end_seconds=position if speech_end is None else speech_end,
                timed_out=segmenter.outcome is SegmenterOutcome.MAX_LENGTH,
            )
        )
        self._start_turn(run, audio)

    def _start_turn(self, run: _Run, audio: AudioChunk) -> _Turn:
        self._state = PipelineState.TRANSCRIBING
        turn = _Turn(run)
        self._turn = turn
        turn.task = asyncio.get_running_loop().create_task(
            self._take_turn(turn, audio), name=f"voice-turn-{run.id}"
        )
        vad = self._vad
        if self.settings.barge_in_on_speech and vad is not None:
            self._monitor = _Monitor(
                VoiceCommandSegmenter(
                    SegmenterOptions(
                        speech_seconds=self.settings.barge_in_speech_seconds,
                        reset_seconds=self.settings.reset_seconds,
                        max_command_seconds=None,
                        no_speech_seconds=None,
                    )
                ),
                PcmFramer(vad.frame_samples, vad.sample_rate),
            )
            self._vad_stale = True
        return turn

    async def _barge_in(
        self, trigger: ListenTrigger, detection: WakeDetection | None, seed: Sequence[AudioChunk]
    ) -> None:
        """Interrupt the turn (if it still runs) and listen again, in a new run."""
        turn, self._turn = self._turn, None
        if turn is not None and turn.task is not None:
            if turn.live:
                log.info("barge-in (%s): interrupting run %s", trigger, turn.run.id)
                await self._interrupt(turn)
            else:
                await asyncio.wait({turn.task})  # it is only reporting its end
        self._state = PipelineState.WAITING
        if trigger is ListenTrigger.WAKE_WORD and detection is not None:
            run = await self._start_run(PipelineStage.WAKE_WORD)
            await self._emit(WakeWordStart(**self._meta(run)))
            await self._emit(
                WakeWordEnd(**self._meta(run), word=detection.word, score=detection.score)
            )
        await self._listen(trigger, seed)

    async def _interrupt(self, turn: _Turn) -> None:
        turn.run.interrupted = True
        self._speaker.stop()
        assert turn.task is not None
        turn.task.cancel()
        await asyncio.wait({turn.task})
        if turn.live:  # cancelled before it could end its run
            turn.live = False
            await self._end_run(turn.run, RunOutcome.INTERRUPTED)

    async def _after_turn(self, outcome: RunOutcome) -> None:
        if outcome is RunOutcome.COMPLETED and self.settings.follow_up_seconds > 0:
            await self._start_run(PipelineStage.STT)
            await self._listen(ListenTrigger.FOLLOW_UP, ())
        else:
            await self._wait()

    async def _fail_waiting(self, failure: _StageFailure) -> None:
        """A wake-word or VAD failure: report it, end the run, wait again."""
        run = self._run or await self._start_run(failure.stage)
        await self._report(run, failure)
        await self._end_run(run, RunOutcome.ERROR)
        self._count_failure(failure)
        await self._wait()

    def _count_failure(self, error: Exception) -> None:
        self._failures += 1
        if self._failures >= self.settings.max_consecutive_errors:
            raise BackendError(
                f"the voice pipeline stopped after {self._failures} failures in a row: {error}"
            ) from error

    # The turn -------------------------------------------------------------------------

    async def _take_turn(self, turn: _Turn, audio: AudioChunk) -> None:
        """A turn in its own task: respond, end the run, move to the next state."""
        run = turn.run
        try:
            outcome = await self._respond(run, audio)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            outcome = RunOutcome.INTERRUPTED if run.interrupted else RunOutcome.CANCELLED
        except _StageFailure as failure:
            outcome = await self._failed(run, failure)
        except Exception as exc:  # a bug must not end the pipeline: report it as the stage's
            log.exception("voice turn %s failed", run.id)
            code = {
                PipelineStage.STT: ErrorCode.STT_FAILED,
                PipelineStage.TTS: ErrorCode.TTS_FAILED,
            }.get(run.stage, ErrorCode.CHAT_FAILED)
            outcome = await self._failed(run, _StageFailure(run.stage, code, exc))
        if run.interrupted:
            outcome = RunOutcome.INTERRUPTED
        if not turn.live:
            return
        turn.live = False
        await self._end_run(run, outcome)
        if outcome is not RunOutcome.INTERRUPTED:
            turn.outcome = outcome  # the microphone loop moves on from it

    async def _failed(self, run: _Run, failure: _StageFailure) -> RunOutcome:
        if run.interrupted:
            return RunOutcome.INTERRUPTED
        await self._report(run, failure)
        return RunOutcome.ERROR

    async def _respond(self, run: _Run, audio: AudioChunk) -> RunOutcome:
        self._state = PipelineState.TRANSCRIBING
        run.stage = PipelineStage.STT
        text = await self._transcribe(run, audio)
        run.transcript = text
        self._state = PipelineState.THINKING
        run.stage = PipelineStage.CHAT
        completed = await self._converse_and_speak(run, text)
        return RunOutcome.COMPLETED if completed else RunOutcome.INTERRUPTED

    async def _transcribe(self, run: _Run, audio: AudioChunk) -> str:
        options = TranscribeOptions(language=self.settings.language)
        try:
            async with self._stt_source() as stt:
                transcript = await _off_loop(stt.transcribe, audio, options)
        except Exception as exc:
            raise _StageFailure(PipelineStage.STT, ErrorCode.STT_FAILED, exc) from exc
        text = transcript.text.strip()
        if not text:
            raise _StageFailure(
                PipelineStage.STT, ErrorCode.STT_NO_TEXT, "No words were recognised."
            )
        await self._emit(
            SttEnd(
                **self._meta(run),
                text=text,
                language=transcript.language,
                audio_seconds=audio.seconds,
            )
        )
        return text

    async def _converse_and_speak(self, run: _Run, text: str) -> bool:
        """Stream the reply into TTS and the speaker; False if playback was stopped."""
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        chunks: asyncio.Queue[AudioChunk | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._synthesize(run, sentences, chunks))
                playing = group.create_task(self._play(run, chunks))
                await self._converse(run, text, sentences)
        except BaseExceptionGroup as errors:
            self._speaker.stop()
            leaves = _leaves(errors)
            failures = [e for e in leaves if isinstance(e, _StageFailure)]
            if failures:
                raise failures[0] from None
            if all(isinstance(e, _PlaybackStopped) for e in leaves):
                return False
            raise leaves[0] from None
        return playing.result()

    async def _converse(self, run: _Run, text: str, sentences: asyncio.Queue[str | None]) -> None:
        request = ChatRequest(
            text=text,
            conversation_id=self.conversation_id,
            model=self.settings.chat_model,
            options=self.settings.chat_options,
            source="voice",
        )
        await self._emit(
            ChatStart(
                **self._meta(run),
                text=text,
                conversation_id=self.conversation_id,
            )
        )
        splitter = SentenceSplitter(self.settings.sentences)
        parts: list[str] = []
        done: TurnDone | None = None
        stream = self._chat(request)
        try:
            async for event in stream:
                if isinstance(event, TurnStarted):
                    self.conversation_id = event.conversation_id
                elif isinstance(event, TurnDelta):
                    parts.append(event.text)
                    await self._emit(ChatDelta(**self._meta(run), text=event.text))
                    for sentence in splitter.push(event.text):
                        sentences.put_nowait(sentence)
                elif isinstance(event, TurnDone):
                    done = event
                    self.conversation_id = event.conversation_id
        except Exception as exc:
            raise _StageFailure(PipelineStage.CHAT, ErrorCode.CHAT_FAILED, exc) from exc
        finally:
            await _close_stream(stream)
        if (rest := splitter.flush()) is not None:
            sentences.put_nowait(rest)
        sentences.put_nowait(None)
        reply = done.text if done is not None else "".join(parts)
        run.reply = reply
        await self._emit(
            ChatEnd(
                **self._meta(run),
                conversation_id=self.conversation_id,
                text=reply,
                finish_reason=done.finish_reason if done is not None else "stop",
            )
        )

    async def _synthesize(
        self,
        run: _Run,
        sentences: asyncio.Queue[str | None],
        chunks: asyncio.Queue[AudioChunk | None],
    ) -> None:
        """Producer: each sentence to speech, chunk by chunk, into the speaker's queue."""
        try:
            async with AsyncExitStack() as stack:
                tts: Synthesizer | None = None
                index = 0
                while (sentence := await sentences.get()) is not None:
                    if tts is None:
                        tts = await stack.enter_async_context(self._tts_source())
                    await self._speak_sentence(run, tts, index, sentence, chunks)
                    index += 1
        except Exception as exc:
            raise _StageFailure(PipelineStage.TTS, ErrorCode.TTS_FAILED, exc) from exc
        finally:
            chunks.put_nowait(None)

    async def _speak_sentence(
        self,
        run: _Run,
        tts: Synthesizer,
        index: int,
        sentence: str,
        chunks: asyncio.Queue[AudioChunk | None],
    ) -> None:
        await self._emit(TtsStart(**self._meta(run), sentence=index, text=sentence))
        audio = await _off_loop(tts.synthesize, sentence, self.settings.voice)
        seconds = 0.0
        try:
            while (chunk := await _off_loop(_next_chunk, audio)) is not None:
                seconds += chunk.seconds
                chunks.put_nowait(chunk)
                await self._emit(
                    TtsAudio(
                        **self._meta(run),
                        sentence=index,
                        audio_seconds=chunk.seconds,
                        rate=chunk.rate,
                    )
                )
        finally:
            close = getattr(audio, "close", None)
            if close is not None:
                close()
        await self._emit(TtsEnd(**self._meta(run), sentence=index, audio_seconds=seconds))

    async def _play(self, run: _Run, chunks: asyncio.Queue[AudioChunk | None]) -> bool:
        """Consumer: the speaker plays the chunks as they come."""

        async def audio() -> AsyncIterator[AudioChunk]:
            while (chunk := await chunks.get()) is not None:
                if self._turn is not None and self._turn.run is run:
                    self._state = PipelineState.SPEAKING
                yield chunk

        try:
            completed = await self._speaker.play(audio())
        except Exception as exc:
            raise _StageFailure(PipelineStage.TTS, ErrorCode.PLAYBACK_FAILED, exc) from exc
        if not completed:
            raise _PlaybackStopped
        return True

    # Events ---------------------------------------------------------------------------

    def _meta(self, run: _Run) -> _Meta:
        """The fields every event of ``run`` carries, stamped now."""
        return {"run_id": run.id, "timestamp": self._clock()}

    async def _start_run(self, stage: PipelineStage) -> _Run:
        run = _Run(id=self._new_run_id(), stage=stage)
        self._run = run
        await self._emit(
            RunStart(
                **self._meta(run),
                start_stage=stage,
                conversation_id=self.conversation_id,
            )
        )
        return run

    async def _end_run(self, run: _Run, outcome: RunOutcome) -> None:
        if self._run is run:
            self._run = None
        await self._emit(RunEnd(**self._meta(run), outcome=outcome))

    async def _report(self, run: _Run, failure: _StageFailure) -> None:
        log.warning("voice run %s: %s failed: %s", run.id, failure.stage, failure.message)
        event = StageFailed(
            **self._meta(run),
            stage=failure.stage,
            code=failure.code,
            message=failure.message,
            cause=failure.cause,
        )
        run.failure = event
        await self._emit(event)

    async def _emit(self, event: PipelineEvent) -> None:
        if self._on_event is None:
            return
        try:
            result = self._on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:  # a broken listener must not break the pipeline
            log.exception("voice event listener failed on %s", event.type)


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
