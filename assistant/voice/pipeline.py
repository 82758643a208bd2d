"""The voice pipeline: wake word, listen, transcribe, think, speak; with barge-in.

Two sides, as Home Assistant's assist pipeline separates the input stream from a
pipeline run:

- the input side (``assistant.voice.listener``) reads the microphone all the time: it
  waits for the wake word or a press, listens with the VAD until the command ends, and
  interrupts the reply when the wake word, speech or a press says so (barge-in). It is
  one explicit state machine whose states hold their own data;
- the turn side (``assistant.voice.turn``) answers one command in its own task: speech
  to text, the chat stream, sentence by sentence text to speech, the speaker. With
  ``speculate_after_seconds`` it also transcribes (and answers, unheard) a command while
  the silence that may end it runs, so the reply is under way when the end is certain.

Both report through one ``Runs`` (``assistant.voice.runs``): every step is a timed event
(``assistant.voice.events``) sent to one callback. A failing stage becomes an ``error``
event and the pipeline waits again; only a misconfigured microphone stream or a wake
word/VAD engine that keeps failing ends ``run``.

Engines are borrowed through ``EngineSource``s (``lambda: manager.use(model_id)`` or
``held(engine)``): the wake-word detector and the VAD for the whole of ``run``, speech
to text per transcription, text to speech per reply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from assistant.errors import Conflict, InvalidInput
from assistant.voice.engines import (
    Chat,
    EngineSource,
    EventCallback,
    SpeculativeChat,
    Warm,
    held,
)
from assistant.voice.events import (
    EngineFallback,
    ListenTrigger,
    PipelineStage,
    RunOutcome,
    StageFailed,
    SttStart,
)
from assistant.voice.listener import Listener
from assistant.voice.listening import PushToTalk
from assistant.voice.options import PipelineOptions
from assistant.voice.runs import Runs, new_run_id
from assistant.voice.state import PipelineState
from assistant.voice.turn import Turn, TurnRunner, VoiceOptionsSource
from assistant.voice.voices import LanguageVoices
from hal.audio import AudioChunk, Speaker
from runtime.stt.base import SpeechToText
from runtime.tts.base import TextToSpeech
from runtime.vad.base import VoiceActivityDetector
from runtime.vad.framing import check_format
from runtime.wake.base import WakeWordDetector

__all__ = ["PipelineState", "TurnResult", "VoicePipeline", "held"]


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


class VoicePipeline:
    """Wake word -> VAD -> STT -> chat -> sentence TTS -> speaker, with barge-in."""

    def __init__(
        self,
        *,
        vad: EngineSource[VoiceActivityDetector],
        stt: EngineSource[SpeechToText],
        tts: EngineSource[TextToSpeech],
        chat: Chat,
        speaker: Speaker,
        wake: EngineSource[WakeWordDetector] | None = None,
        on_event: EventCallback | None = None,
        options: PipelineOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        conversation_id: str | None = None,
        new_run_id: Callable[[], str] = new_run_id,
        voice: VoiceOptionsSource | None = None,
        languages: LanguageVoices | None = None,
        speculative_chat: SpeculativeChat | None = None,
        warm: Warm | None = None,
    ) -> None:
        """``speculative_chat``: chat turns on a command not yet over (with
        ``options.speculate_after_seconds``), stored only once confirmed; None: only the
        transcription is speculated. ``warm``: loads the models and primes the chat
        model's prompt cache when the wake word is heard or push-to-talk pressed."""
        options = options or PipelineOptions()
        if wake is None and not options.push_to_talk:
            raise InvalidInput(
                "the voice pipeline needs a wake-word detector unless push_to_talk is on",
                field="wake",
            )
        self._options = options
        self._vad_source = vad
        self._wake_source = wake
        self._runs = Runs(on_event, clock, new_run_id, conversation_id)
        self._turns = TurnRunner(
            self._runs,
            stt=stt,
            tts=tts,
            chat=chat,
            speaker=speaker,
            options=options,
            voice=voice,
            languages=languages,
            speculative_chat=speculative_chat,
            warm=warm,
        )
        self._button = PushToTalk()
        self._running = False
        self._listener: Listener | None = None
        self._single: Turn | None = None

    @property
    def options(self) -> PipelineOptions:
        """How it listens and answers."""
        return self._options

    async def report_fallback(self, requested: str, used: str, reason: str) -> None:
        """Tell the listeners that a local model stands in for a remote engine that is down
        (in the current run, or on its own between runs)."""
        runs = self._runs
        run_id = runs.current.id if runs.current is not None else runs.new_id()
        await runs.emit(
            EngineFallback(
                run_id=run_id, timestamp=runs.clock(), requested=requested, used=used, reason=reason
            )
        )

    @property
    def conversation_id(self) -> str | None:
        """The chat conversation the turns continue (set by the chat service's answer)."""
        return self._runs.conversation_id

    @conversation_id.setter
    def conversation_id(self, value: str | None) -> None:
        self._runs.conversation_id = value

    @property
    def state(self) -> PipelineState:
        """Where the pipeline is now."""
        if self._listener is not None:
            return self._listener.phase
        if self._single is not None:
            return self._single.phase
        return PipelineState.IDLE

    # Controls -------------------------------------------------------------------------

    def start_listening(self) -> None:
        """Push-to-talk pressed: listen now (interrupting a reply); takes effect on the next
        microphone chunk. Call on the event loop."""
        self._button.pressed = True

    def stop_listening(self) -> None:
        """Push-to-talk released: the command is over. Call on the event loop."""
        self._button.released = True

    # Running --------------------------------------------------------------------------

    async def run(self, mic_chunks: AsyncIterable[AudioChunk]) -> None:
        """Serve turns from a microphone stream until it ends (or this is cancelled).

        The chunks must be 16-bit mono PCM at the VAD's rate. When the stream ends, a
        command being spoken is answered and a reply being spoken is finished first.
        """
        self._enter()
        try:
            async with AsyncExitStack() as stack:
                vad = await stack.enter_async_context(self._vad_source())
                wake = None
                if self._wake_source is not None:
                    wake = await stack.enter_async_context(self._wake_source())
                listener = Listener(self._runs, self._turns, self._options, vad, wake, self._button)
                self._listener = listener
                try:
                    await listener.start()
                    async for chunk in mic_chunks:
                        check_format(chunk, vad.sample_rate, "microphone audio")
                        await listener.feed(chunk)
                    await listener.finish()
                finally:
                    # Before the engines go back: nothing may use them after this.
                    await listener.stop()
        finally:
            self._listener = None
            self._running = False

    async def run_once(self, audio: AudioChunk) -> TurnResult:
        """One turn from a whole recording (no wake word, no VAD): transcribe, answer, speak."""
        self._enter()
        runs = self._runs
        try:
            run = await runs.start(PipelineStage.STT)
            await runs.emit(
                SttStart(
                    **runs.meta(run), trigger=ListenTrigger.AUDIO, language=self._options.language
                )
            )
            turn = self._single = self._turns.start(run, audio)
            try:
                await asyncio.wait({turn.task})
            finally:
                await self._turns.cancel(turn)
        finally:
            if runs.current is not None:
                await runs.end(runs.current, RunOutcome.CANCELLED)
            self._single = None
            self._running = False
        outcome = turn.outcome or RunOutcome.INTERRUPTED
        return TurnResult(run.id, outcome, run.transcript, run.reply, run.failure)

    def _enter(self) -> None:
        if self._running:
            raise Conflict("the voice pipeline is already running")
        self._running = True
        self._button.pressed = self._button.released = False
