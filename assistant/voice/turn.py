"""The turn side of the voice pipeline: a command's audio to a spoken reply.

One turn runs in its own task, so the input side can interrupt it: speech to text, then
the chat stream, whose text goes through a sentence splitter and a queue to the
synthesizer, whose audio goes through a second queue to the speaker, so sentence n+1 is
synthesized while sentence n plays (Home Assistant's pipeline run, with chat in place of
intent and TTS streamed sentence by sentence).

Speech to text is borrowed per transcription and text to speech per reply, and each is
called off the event loop; a cancelled call waits for its thread before the engine goes
back (engines are not thread-safe). A turn ends its own run unless it was interrupted
before it could.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from assistant.chat.models import ChatRequest, TurnDelta, TurnDone, TurnStarted
from assistant.streaming import close_stream
from assistant.threads import next_or_none, off_loop
from assistant.voice.engines import Chat, EngineSource
from assistant.voice.events import (
    ChatEnd,
    ChatProgress,
    ChatStart,
    ErrorCode,
    PipelineStage,
    RunOutcome,
    SkillChosen,
    SttEnd,
    TtsAudio,
    TtsEnd,
    TtsStart,
)
from assistant.voice.options import PipelineOptions
from assistant.voice.runs import Run, Runs, StageFailure
from assistant.voice.sentences import SentenceSplitter
from assistant.voice.state import PipelineState
from assistant.voice.voices import LanguageVoices
from hal.audio import AudioChunk, Speaker
from runtime.stt.base import SpeechToText, TranscribeOptions
from runtime.tts.base import SynthesisOptions, TextToSpeech

log = logging.getLogger(__name__)


VoiceOptionsSource = Callable[[], Awaitable[SynthesisOptions]]
"""Reads the synthesis options of a reply when it starts to be spoken (a voice loop reads
the user's speaking rate preference, which "speak slower" may have just changed)."""


@dataclass(frozen=True)
class Sentence:
    """A piece of the reply to speak."""

    text: str
    """What to say."""
    language: str | None = None
    """Its language when it is not the conversation's (a skill's translation), spoken in
    that language's voice; None: the reply's voice."""


class _PlaybackStopped(Exception):
    """The speaker was stopped by someone else: the rest of the turn is moot."""


@dataclass
class Turn:
    """One turn under way: its run and the task that answers it."""

    run: Run
    """The run it finishes."""
    task: asyncio.Task[None] = field(init=False)
    """Transcribes, answers, speaks, ends the run."""
    phase: PipelineState = PipelineState.TRANSCRIBING
    """Transcribing, thinking or speaking."""
    outcome: RunOutcome | None = None
    """How its run ended, for the input side's next state; None if it was interrupted."""


class TurnRunner:
    """Answers commands: STT -> chat -> sentence TTS -> speaker, one task per turn."""

    def __init__(
        self,
        runs: Runs,
        *,
        stt: EngineSource[SpeechToText],
        tts: EngineSource[TextToSpeech],
        chat: Chat,
        speaker: Speaker,
        options: PipelineOptions,
        voice: VoiceOptionsSource | None = None,
        languages: LanguageVoices | None = None,
    ) -> None:
        self.runs = runs
        self.options = options
        self._voice = voice
        self._languages = languages
        self._stt_source = stt
        self._tts_source = tts
        self._chat = chat
        self._speaker = speaker

    def start(self, run: Run, audio: AudioChunk) -> Turn:
        """Answer ``audio`` in a new task (it starts at the next await)."""
        turn = Turn(run)
        turn.task = asyncio.get_running_loop().create_task(
            self._take(turn, audio), name=f"voice-turn-{run.id}"
        )
        return turn

    async def interrupt(self, turn: Turn) -> None:
        """Barge-in: stop the speaker, cancel the turn, end its run as interrupted."""
        turn.run.interrupted = True
        self._speaker.stop()
        turn.task.cancel()
        await asyncio.wait({turn.task})
        await self.runs.end(turn.run, RunOutcome.INTERRUPTED)  # if cancelled before it began

    async def cancel(self, turn: Turn) -> None:
        """The pipeline stops: cancel the turn if it still runs; its run ends as cancelled."""
        if not turn.task.done():
            self._speaker.stop()
            turn.task.cancel()
            await asyncio.wait({turn.task})
        await self.runs.end(turn.run, RunOutcome.CANCELLED)

    async def _take(self, turn: Turn, audio: AudioChunk) -> None:
        """The turn's task: respond, end the run, leave the outcome for the input side."""
        run = turn.run
        try:
            outcome = await self._respond(turn, audio)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            outcome = RunOutcome.INTERRUPTED if run.interrupted else RunOutcome.CANCELLED
        except StageFailure as failure:
            outcome = await self._failed(run, failure)
        except Exception as exc:  # a bug must not end the pipeline: report it as the stage's
            log.exception("voice turn %s failed", run.id)
            code = {
                PipelineStage.STT: ErrorCode.STT_FAILED,
                PipelineStage.TTS: ErrorCode.TTS_FAILED,
            }.get(run.stage, ErrorCode.CHAT_FAILED)
            outcome = await self._failed(run, StageFailure(run.stage, code, exc))
        if run.interrupted:
            outcome = RunOutcome.INTERRUPTED
        if run.ended:
            return
        await self.runs.end(run, outcome)
        if outcome is not RunOutcome.INTERRUPTED:
            turn.outcome = outcome

    async def _failed(self, run: Run, failure: StageFailure) -> RunOutcome:
        if run.interrupted:
            return RunOutcome.INTERRUPTED
        await self.runs.fail(run, failure)
        return RunOutcome.ERROR

    async def _respond(self, turn: Turn, audio: AudioChunk) -> RunOutcome:
        run = turn.run
        turn.phase = PipelineState.TRANSCRIBING
        run.stage = PipelineStage.STT
        text = await self._transcribe(run, audio)
        run.transcript = text
        turn.phase = PipelineState.THINKING
        run.stage = PipelineStage.CHAT
        completed = await self._converse_and_speak(turn, text)
        return RunOutcome.COMPLETED if completed else RunOutcome.INTERRUPTED

    async def _transcribe(self, run: Run, audio: AudioChunk) -> str:
        options = TranscribeOptions(language=self.options.language)
        try:
            async with self._stt_source() as stt:
                transcript = await off_loop(stt.transcribe, audio, options)
        except Exception as exc:
            raise StageFailure(PipelineStage.STT, ErrorCode.STT_FAILED, exc) from exc
        text = transcript.text.strip()
        if not text:
            raise StageFailure(
                PipelineStage.STT, ErrorCode.STT_NO_TEXT, "No words were recognised."
            )
        await self.runs.emit(
            SttEnd(
                **self.runs.meta(run),
                text=text,
                language=transcript.language,
                audio_seconds=audio.seconds,
            )
        )
        return text

    async def _converse_and_speak(self, turn: Turn, text: str) -> bool:
        """Stream the reply into TTS and the speaker; False if playback was stopped."""
        run = turn.run
        sentences: asyncio.Queue[Sentence | None] = asyncio.Queue()
        chunks: asyncio.Queue[AudioChunk | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._synthesize(run, sentences, chunks))
                playing = group.create_task(self._play(turn, chunks))
                await self._converse(run, text, sentences)
        except BaseExceptionGroup as errors:
            self._speaker.stop()
            leaves = _leaves(errors)
            failures = [e for e in leaves if isinstance(e, StageFailure)]
            if failures:
                raise failures[0] from None
            if all(isinstance(e, _PlaybackStopped) for e in leaves):
                return False
            raise leaves[0] from None
        return playing.result()

    async def _converse(
        self, run: Run, text: str, sentences: asyncio.Queue[Sentence | None]
    ) -> None:
        runs = self.runs
        request = ChatRequest(
            text=text,
            conversation_id=runs.conversation_id,
            model=self.options.chat_model,
            options=self.options.chat_options,
            source="voice",
            language=self.options.language,
        )
        await runs.emit(
            ChatStart(**runs.meta(run), text=text, conversation_id=runs.conversation_id)
        )
        splitter = SentenceSplitter(self.options.sentences)
        parts: list[str] = []
        done: TurnDone | None = None
        stream = self._chat(request)
        try:
            async for event in stream:
                if isinstance(event, TurnStarted):
                    runs.conversation_id = event.conversation_id
                elif isinstance(event, TurnDelta):
                    parts.append(event.text)
                    await runs.emit(ChatProgress(**runs.meta(run), text=event.text))
                    if event.language is not None:  # a skill's translation: its own voice
                        sentences.put_nowait(Sentence(event.text, event.language))
                        continue
                    for sentence in splitter.push(event.text):
                        sentences.put_nowait(Sentence(sentence))
                elif isinstance(event, TurnDone):
                    done = event
                    runs.conversation_id = event.conversation_id
        except Exception as exc:
            raise StageFailure(PipelineStage.CHAT, ErrorCode.CHAT_FAILED, exc) from exc
        finally:
            await close_stream(stream)
        if (rest := splitter.flush()) is not None:
            sentences.put_nowait(Sentence(rest))
        sentences.put_nowait(None)
        reply = done.text if done is not None else "".join(parts)
        run.reply = reply
        if done is not None and done.skill is not None:
            skill = done.skill
            await runs.emit(
                SkillChosen(
                    **runs.meta(run),
                    name=skill.name,
                    intent=skill.intent,
                    stage=skill.stage,
                    confidence=skill.confidence,
                    arguments=dict(skill.arguments),
                    question=skill.question,
                )
            )
        await runs.emit(
            ChatEnd(
                **runs.meta(run),
                conversation_id=runs.conversation_id,
                text=reply,
                finish_reason=done.finish_reason if done is not None else "stop",
            )
        )

    async def _synthesize(
        self,
        run: Run,
        sentences: asyncio.Queue[Sentence | None],
        chunks: asyncio.Queue[AudioChunk | None],
    ) -> None:
        """Producer: each sentence to speech, chunk by chunk, into the speaker's queue."""
        try:
            async with AsyncExitStack() as stack:
                tts: TextToSpeech | None = None
                voice = self.options.voice
                index = 0
                while (sentence := await sentences.get()) is not None:
                    if self._voice is not None and index == 0:
                        voice = await self._voice()  # read per reply: it may have changed
                    if sentence.language is not None and self._languages is not None:
                        source, options = await off_loop(
                            self._languages.for_language, sentence.language, voice
                        )
                        async with source() as other:
                            await self._speak_sentence(
                                run, other, index, sentence.text, chunks, options
                            )
                    else:
                        if tts is None:
                            tts = await stack.enter_async_context(self._tts_source())
                        await self._speak_sentence(run, tts, index, sentence.text, chunks, voice)
                    index += 1
        except Exception as exc:
            raise StageFailure(PipelineStage.TTS, ErrorCode.TTS_FAILED, exc) from exc
        finally:
            chunks.put_nowait(None)

    async def _speak_sentence(
        self,
        run: Run,
        tts: TextToSpeech,
        index: int,
        sentence: str,
        chunks: asyncio.Queue[AudioChunk | None],
        voice: SynthesisOptions,
    ) -> None:
        runs = self.runs
        await runs.emit(TtsStart(**runs.meta(run), sentence=index, text=sentence))
        audio = await off_loop(tts.synthesize, sentence, voice)
        seconds = 0.0
        try:
            while (chunk := await off_loop(next_or_none, audio)) is not None:
                seconds += chunk.seconds
                chunks.put_nowait(chunk)
                await runs.emit(
                    TtsAudio(
                        **runs.meta(run),
                        sentence=index,
                        audio_seconds=chunk.seconds,
                        rate=chunk.rate,
                    )
                )
        finally:
            close = getattr(audio, "close", None)
            if close is not None:
                close()
        await runs.emit(TtsEnd(**runs.meta(run), sentence=index, audio_seconds=seconds))

    async def _play(self, turn: Turn, chunks: asyncio.Queue[AudioChunk | None]) -> bool:
        """Consumer: the speaker plays the chunks as they come."""

        async def audio() -> AsyncIterator[AudioChunk]:
            while (chunk := await chunks.get()) is not None:
                turn.phase = PipelineState.SPEAKING
                yield chunk

        try:
            completed = await self._speaker.play(audio())
        except Exception as exc:
            raise StageFailure(PipelineStage.TTS, ErrorCode.PLAYBACK_FAILED, exc) from exc
        if not completed:
            raise _PlaybackStopped
        return True


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(_leaves(error))
        else:
            found.append(error)
    return found
