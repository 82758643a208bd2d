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

Speculation: while the silence that may end a command runs, the input side can ask for
a ``Speculative`` turn on what was said so far (``speculate``). It transcribes that
clip and, when a speculative chat is given, starts the chat turn on the transcript
under a ``Speculation`` gate (``assistant.chat.speculation``): the reply is generated
and held in a queue, nothing is stored and nothing is played. When the command ends,
``start`` adopts it: with no speech after the clip its transcript stands in for the
final one (one transcription in all); with speech after it the command is transcribed
again and the speculation kept only if the words are the same. A kept chat turn is
confirmed (stored as any other) and its held reply spoken; a dropped one is cancelled,
which closes its stream unconfirmed. Nothing of a speculation reaches the speaker
before the command is over.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.chat.models import ChatRequest, TurnDelta, TurnDone, TurnEvent, TurnStarted
from assistant.chat.speculation import Speculation, SpeculationRefused
from assistant.streaming import close_stream
from assistant.threads import next_or_none, off_loop
from assistant.voice.engines import Chat, EngineSource, SpeculativeChat, Warm
from assistant.voice.events import (
    ChatEnd,
    ChatProgress,
    ChatStart,
    ErrorCode,
    PipelineStage,
    RunOutcome,
    SkillChosen,
    SpeculationOutcome,
    SttEnd,
    SttSpeculation,
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
from runtime.stt.base import SpeechToText, TranscribeOptions, Transcript
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
class Speculative:
    """A command transcribed (and answered, unheard) before it is known to be over."""

    run: Run
    """The run of the listening window it belongs to."""
    audio: AudioChunk
    """The clip transcribed: the command so far."""
    speech_end_seconds: float
    """Where the clip's last speech ended (seconds of audio since listening began)."""
    task: asyncio.Task[None] = field(init=False)
    """Transcribes the clip, then runs the speculative chat turn into ``events``."""
    transcribed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once transcription is over (``transcript`` None if it failed)."""
    transcript: Transcript | None = None
    """The clip's transcript (text stripped), once there is one."""
    gate: Speculation | None = None
    """The chat turn's gate, once one runs on the transcript."""
    events: asyncio.Queue[TurnEvent | BaseException | None] = field(default_factory=asyncio.Queue)
    """The chat turn's events as they come, held until the command is over; then an
    exception if it failed (``SpeculationRefused``: a skill that acts would answer) and
    None at its end."""
    first_sentence: str | None = None
    """The reply's first sentence, once the held reply has one."""
    first_audio: asyncio.Task[list[AudioChunk]] | None = None
    """Synthesises ``first_sentence`` into a buffer (played only if the turn is kept)."""
    retranscribe: bool = False
    """Speech came after the clip: the command must be transcribed again and compared."""
    released: bool = False
    """Its task has been cancelled or adopted for good."""

    @property
    def text(self) -> str | None:
        """The clip's words, or None before (or without) a transcript."""
        return self.transcript.text if self.transcript is not None else None


@dataclass
class Turn:
    """One turn under way: its run and the task that answers it."""

    run: Run
    """The run it finishes."""
    speculative: Speculative | None = None
    """The speculation it adopts (transcript, chat turn under way), if any."""
    task: asyncio.Task[None] = field(init=False)
    """Transcribes, answers, speaks, ends the run."""
    phase: PipelineState = PipelineState.TRANSCRIBING
    """Transcribing, thinking or speaking."""
    outcome: RunOutcome | None = None
    """How its run ended, for the input side's next state; None if it was interrupted."""


class _FirstSentence:
    """Finds the first sentence of a held reply as its events come, as the turn's splitter
    will (none for a skill's translation: that is spoken in its own voice)."""

    def __init__(self, options: PipelineOptions) -> None:
        self._splitter = SentenceSplitter(options.sentences)
        self._found = False

    def take(self, event: TurnEvent) -> str | None:
        """The first sentence, the once that ``event`` completes it."""
        if self._found:
            return None
        if isinstance(event, TurnDelta):
            if event.language is not None:
                self._found = True
                return None
            first = next(iter(self._splitter.push(event.text)), None)
        elif isinstance(event, TurnDone):
            first = self._splitter.flush()  # a reply shorter than a sentence
        else:
            return None
        self._found = first is not None
        return first


def same_words(first: str, second: str) -> bool:
    """Whether two transcripts say the same words (case, punctuation and spacing aside)."""
    return _words(first) == _words(second)


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.casefold()).replace("'", "").split()


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
        speculative_chat: SpeculativeChat | None = None,
        warm: Warm | None = None,
    ) -> None:
        self.runs = runs
        self.options = options
        self._voice = voice
        self._languages = languages
        self._stt_source = stt
        self._tts_source = tts
        self._chat = chat
        self._speculative_chat = speculative_chat
        self._speaker = speaker
        self._warm = warm
        self._warming: asyncio.Task[None] | None = None

    def start(self, run: Run, audio: AudioChunk, speculative: Speculative | None = None) -> Turn:
        """Answer ``audio`` in a new task (it starts at the next await), adopting the
        speculation made on the same command, if any."""
        turn = Turn(run, speculative)
        turn.task = asyncio.get_running_loop().create_task(
            self._take(turn, audio), name=f"voice-turn-{run.id}"
        )
        return turn

    # Pre-warming ------------------------------------------------------------------------

    def warm(self) -> None:
        """Load the models and prime the chat model's prompt cache in the background
        (the wake word was heard, or push-to-talk pressed); once at a time."""
        if self._warm is None or (self._warming is not None and not self._warming.done()):
            return
        self._warming = asyncio.get_running_loop().create_task(
            self._warm_up(self._warm), name="voice-warm"
        )

    async def _warm_up(self, warm: Warm) -> None:
        try:
            await warm(self.runs.conversation_id)
        except Exception:  # the turn loads what it needs itself; warming is a head start
            log.warning("warming the voice models failed", exc_info=True)

    async def close(self) -> None:
        """Stop warming (the pipeline stops); the models it holds are freed first."""
        task, self._warming = self._warming, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    # Speculation ----------------------------------------------------------------------

    async def speculate(
        self,
        run: Run,
        audio: AudioChunk,
        speech_end_seconds: float,
        on_text: Callable[[str], None] | None = None,
    ) -> Speculative:
        """Transcribe ``audio`` (the command so far) and answer it unheard, in a task;
        ``on_text`` gets the transcript as soon as it is there (adaptive end of turn)."""
        speculative = Speculative(run, audio, speech_end_seconds)
        await self._report(speculative, SpeculationOutcome.STARTED)
        speculative.task = asyncio.get_running_loop().create_task(
            self._speculate(speculative, on_text), name=f"voice-speculation-{run.id}"
        )
        return speculative

    async def drop(self, speculative: Speculative) -> None:
        """Throw a speculation away (speech resumed; the window closed): its transcription
        is waited for, its chat turn closed unconfirmed (nothing stored)."""
        await self._release(speculative)
        await self._report(speculative, SpeculationOutcome.DROPPED)

    async def _release(self, speculative: Speculative) -> None:
        speculative.released = True
        await _cancel(speculative.task)
        if speculative.first_audio is not None:  # read once the task can start no more
            await _cancel(speculative.first_audio)

    async def _report(
        self, speculative: Speculative, outcome: SpeculationOutcome, *, retranscribed: bool = False
    ) -> None:
        await self.runs.emit(
            SttSpeculation(
                **self.runs.meta(speculative.run),
                outcome=outcome,
                speech_end_seconds=speculative.speech_end_seconds,
                text=speculative.text,
                chat=speculative.gate is not None,
                retranscribed=retranscribed,
            )
        )

    async def _speculate(
        self, speculative: Speculative, on_text: Callable[[str], None] | None
    ) -> None:
        """The speculation's task: transcribe, then run the chat turn into the queue."""
        try:
            transcript = await self._stt(speculative.audio)
        except Exception as exc:  # the final transcription will say what is wrong
            log.info("speculative transcription failed: %s", exc)
            return
        finally:
            speculative.transcribed.set()
        text = transcript.text.strip()
        speculative.transcript = Transcript(
            text,
            transcript.language,
            transcript.language_probability,
            transcript.segments,
            transcript.duration,
            transcript.language_probabilities,
        )
        if not text:
            return
        if on_text is not None:
            on_text(text)
        if self._speculative_chat is None:
            return
        gate = speculative.gate = Speculation()
        stream = self._speculative_chat(self._request(text), gate)
        first = _FirstSentence(self.options)
        try:
            async for event in stream:
                speculative.events.put_nowait(event)
                if (sentence := first.take(event)) is not None:
                    speculative.first_sentence = sentence
                    speculative.first_audio = asyncio.get_running_loop().create_task(
                        self._presynthesize(sentence),
                        name=f"voice-first-sentence-{speculative.run.id}",
                    )
        except SpeculationRefused as refused:  # a skill that acts: it runs once certain
            speculative.gate = None
            speculative.events.put_nowait(refused)
        except Exception as exc:  # handed to the turn that adopts it (or nobody)
            speculative.events.put_nowait(exc)
        finally:
            await close_stream(stream)
        speculative.events.put_nowait(None)

    async def _presynthesize(self, text: str) -> list[AudioChunk]:
        """The first sentence of a held reply as speech, into a buffer (never played here)."""
        voice = await self._voice() if self._voice is not None else self.options.voice
        made: list[AudioChunk] = []
        async with self._tts_source() as tts:
            # The first audio of the reply: the chat model waits while it is made.
            audio = await off_loop(tts.synthesize, text, replace(voice, urgent=True))
            try:
                while (chunk := await off_loop(next_or_none, audio)) is not None:
                    made.append(chunk)
            finally:
                close = getattr(audio, "close", None)
                if close is not None:
                    close()
        return made

    async def _adopt(
        self, turn: Turn, speculative: Speculative, audio: AudioChunk
    ) -> tuple[str | None, bool]:
        """The command's transcript (None: not transcribed yet) and whether the
        speculation holds (a hit: its chat turn goes on) or not (a miss: released)."""
        run = turn.run
        await speculative.transcribed.wait()
        transcript = speculative.transcript
        if transcript is None or not transcript.text:
            await self._release(speculative)
            await self._report(speculative, SpeculationOutcome.MISS)
            return None, False
        if not speculative.retranscribe:
            await self._report(speculative, SpeculationOutcome.HIT)
            await self.runs.emit(
                SttEnd(
                    **self.runs.meta(run),
                    text=transcript.text,
                    language=transcript.language,
                    audio_seconds=audio.seconds,
                )
            )
            return transcript.text, True
        final = await self._transcribe(run, audio)
        if same_words(final, transcript.text):
            await self._report(speculative, SpeculationOutcome.HIT, retranscribed=True)
            return transcript.text, True  # the words the chat turn under way answers
        await self._release(speculative)
        await self._report(speculative, SpeculationOutcome.MISS, retranscribed=True)
        return final, False

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
            try:
                outcome = await self._respond(turn, audio)
            finally:
                if turn.speculative is not None:
                    # A kept chat turn that is cut short is closed as any other stream.
                    await self._release(turn.speculative)
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
        speculative = turn.speculative
        text: str | None = None
        if speculative is not None:
            text, kept = await self._adopt(turn, speculative, audio)
            if not kept:
                speculative = None
        if text is None:
            text = await self._transcribe(run, audio)
        run.transcript = text
        turn.phase = PipelineState.THINKING
        run.stage = PipelineStage.CHAT
        completed = await self._converse_and_speak(turn, text, speculative)
        return RunOutcome.COMPLETED if completed else RunOutcome.INTERRUPTED

    async def _stt(self, audio: AudioChunk) -> Transcript:
        options = TranscribeOptions(language=self.options.language)
        async with self._stt_source() as stt:
            return await off_loop(stt.transcribe, audio, options)

    async def _transcribe(self, run: Run, audio: AudioChunk) -> str:
        try:
            transcript = await self._stt(audio)
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

    async def _converse_and_speak(
        self, turn: Turn, text: str, speculative: Speculative | None = None
    ) -> bool:
        """Stream the reply into TTS and the speaker; False if playback was stopped."""
        run = turn.run
        sentences: asyncio.Queue[Sentence | None] = asyncio.Queue()
        chunks: asyncio.Queue[AudioChunk | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._synthesize(run, sentences, chunks, speculative))
                playing = group.create_task(self._play(turn, chunks))
                await self._converse(run, text, sentences, speculative)
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

    def _request(self, text: str) -> ChatRequest:
        return ChatRequest(
            text=text,
            conversation_id=self.runs.conversation_id,
            model=self.options.chat_model,
            options=self.options.chat_options,
            source="voice",
            language=self.options.language,
        )

    async def _chat_events(
        self, request: ChatRequest, speculative: Speculative | None
    ) -> AsyncIterator[TurnEvent]:
        """The chat turn's events: the speculative turn's, confirmed now, when one runs on
        these words (and no skill that acts refused it); else a new turn's."""
        if speculative is not None and speculative.gate is not None:
            speculative.gate.confirm()
            while (item := await speculative.events.get()) is not None:
                if isinstance(item, SpeculationRefused):
                    break  # nothing ran: the turn runs now that the words are certain
                if isinstance(item, BaseException):
                    raise item
                yield item
            else:
                return
        stream = self._chat(request)
        try:
            async for event in stream:
                yield event
        finally:
            await close_stream(stream)

    async def _converse(
        self,
        run: Run,
        text: str,
        sentences: asyncio.Queue[Sentence | None],
        speculative: Speculative | None = None,
    ) -> None:
        runs = self.runs
        request = self._request(text)
        await runs.emit(
            ChatStart(**runs.meta(run), text=text, conversation_id=runs.conversation_id)
        )
        splitter = SentenceSplitter(self.options.sentences)
        parts: list[str] = []
        done: TurnDone | None = None
        stream = self._chat_events(request, speculative)
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
        speculative: Speculative | None = None,
    ) -> None:
        """Producer: each sentence to speech, chunk by chunk, into the speaker's queue (the
        first from the speculation's buffer when it made that sentence already)."""
        try:
            async with AsyncExitStack() as stack:
                tts: TextToSpeech | None = None
                voice = self.options.voice
                index = 0
                while (sentence := await sentences.get()) is not None:
                    if self._voice is not None and index == 0:
                        voice = await self._voice()  # read per reply: it may have changed
                    if index == 0 and await self._play_presynthesized(
                        run, sentence, chunks, speculative
                    ):
                        index += 1
                        continue
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

    async def _play_presynthesized(
        self,
        run: Run,
        sentence: Sentence,
        chunks: asyncio.Queue[AudioChunk | None],
        speculative: Speculative | None,
    ) -> bool:
        """Queue the speculation's first sentence, made while the silence ran, if it is
        this sentence; False when there is none to use (it is synthesised as usual)."""
        if speculative is None or speculative.first_audio is None or sentence.language:
            return False
        if sentence.text != speculative.first_sentence:
            return False
        try:
            made = await speculative.first_audio
        except Exception as exc:  # made again the usual way, which reports a failure
            log.info("the speculative first sentence could not be synthesised: %s", exc)
            return False
        runs = self.runs
        await runs.emit(TtsStart(**runs.meta(run), sentence=0, text=sentence.text))
        for chunk in made:
            chunks.put_nowait(chunk)
            await runs.emit(
                TtsAudio(**runs.meta(run), sentence=0, audio_seconds=chunk.seconds, rate=chunk.rate)
            )
        seconds = sum(chunk.seconds for chunk in made)
        await runs.emit(TtsEnd(**runs.meta(run), sentence=0, audio_seconds=seconds))
        return True

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
        # The first piece is waited for (the chat model yields the cores); later ones are
        # made while it plays.
        audio = await off_loop(tts.synthesize, sentence, replace(voice, urgent=index == 0))
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


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` if it still runs and wait until it has ended."""
    if not task.done():
        task.cancel()
        await asyncio.wait({task})


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(_leaves(error))
        else:
            found.append(error)
    return found
