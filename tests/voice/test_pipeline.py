"""The voice pipeline with fake engines, a scripted microphone and a recording speaker.

Audio in these tests is symbolic: a 0.1 s chunk of constant samples, 0 for silence,
1000 for speech and 2000 for the wake word (which the fake VAD also calls speech). The
microphone script can wait for an event between chunks, so each test is deterministic.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Sequence,
)
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pytest

from assistant.chat.models import (
    ChatRequest,
    ContextFlags,
    SkillUse,
    Timings,
    TurnDelta,
    TurnDone,
    TurnEvent,
    TurnStarted,
    TurnUsage,
)
from assistant.clock import ManualAsyncClock, ManualClock
from assistant.errors import BackendError, Conflict, InvalidInput
from assistant.voice.engines import EngineSource, EventCallback, held
from assistant.voice.events import (
    PipelineEvent,
    PipelineEventType,
    RunEnd,
    RunOutcome,
    RunStart,
    SkillChosen,
    StageFailed,
    StageLatencies,
    SttStart,
    SttVadEnd,
    TtsAudio,
    WakeWordEnd,
    stage_latencies,
    strip_timestamps,
)
from assistant.voice.options import BargeIn, PipelineOptions
from assistant.voice.pipeline import PipelineState, VoicePipeline
from assistant.voice.turn import VoiceOptionsSource
from assistant.voice.voices import LanguageVoices, VoiceChoice
from hal.audio import AudioChunk
from hal.audio.fake import FakeSpeaker
from hal.audio.playback import Playback
from runtime.errors import EngineError, UnsupportedInput
from runtime.stt.base import TranscribeOptions
from runtime.stt.fake import FakeSpeechToText
from runtime.tts.base import SynthesisOptions, TextToSpeech
from runtime.tts.fake import FakeTextToSpeech
from runtime.vad.fake import FakeVoiceActivityDetector
from runtime.wake.fake import WAKE_SAMPLE, FakeWakeWordDetector

RATE = 16_000
CHUNK_SAMPLES = 1_600
SILENCE, SPEECH, WAKE = 0, 1_000, WAKE_SAMPLE


def chunk(value: int, count: int = 1) -> list[AudioChunk]:
    """``count`` chunks of 0.1 s of constant samples."""
    audio = np.full(CHUNK_SAMPLES, value, dtype="<i2").tobytes()
    return [AudioChunk(audio=audio, rate=RATE) for _ in range(count)]


def silence(count: int = 1) -> list[AudioChunk]:
    return chunk(SILENCE, count)


def speech(count: int = 1) -> list[AudioChunk]:
    return chunk(SPEECH, count)


def wake() -> list[AudioChunk]:
    return chunk(WAKE)


COMMAND = [*speech(5), *silence(8)]
"""0.5 s of speech, then the 0.8 s of silence that ends it."""


# Fakes ------------------------------------------------------------------------------


class LoggedTts(FakeTextToSpeech):
    """The package's fake voice, writing what it is asked into a shared log."""

    def __init__(self, clock: ManualClock, log: list[str]) -> None:
        super().__init__(seconds=0.05, sleep=clock.advance)
        self.log = log

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        self.log.append(f"tts:{text}")
        yield from super().synthesize(text, options)


class RecordingSpeaker:
    """Plays instantly, records what it got; ``stop()`` ends the current playback."""

    name = "recording"

    def __init__(self) -> None:
        self.chunks: list[AudioChunk] = []
        self.plays = 0
        self.stops = 0
        self.stopped_while_playing = 0
        self.playing = False
        self._stop = asyncio.Event()

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        self.plays += 1
        self.playing = True
        self._stop.clear()
        try:
            async for item in chunks:
                if self._stop.is_set():
                    return False
                self.chunks.append(item)
            return not self._stop.is_set()
        finally:
            self.playing = False

    def stop(self) -> None:
        self.stops += 1
        self.stopped_while_playing += self.playing
        self._stop.set()

    async def close(self) -> None:
        """Nothing to release."""


Reply = Callable[[ChatRequest], AsyncIterator[TurnEvent]]


def scripted(*deltas: str, conversation: str = "conv-1") -> Reply:
    """A chat turn that streams ``deltas`` without pausing."""

    async def reply(request: ChatRequest) -> AsyncIterator[TurnEvent]:
        conversation_id = request.conversation_id or conversation
        yield TurnStarted(conversation_id, "user-1", "fake:1", "test", ContextFlags())
        for delta in deltas:
            yield TurnDelta(delta)
        yield TurnDone(
            conversation_id, "reply-1", "".join(deltas), "stop", TurnUsage(3, 5), Timings()
        )

    return reply


class FakeChat:
    """Serves one scripted reply per request; records requests and closed streams."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[ChatRequest] = []

    def __call__(self, request: ChatRequest) -> AsyncIterator[TurnEvent]:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request)


class Recorder:
    """The event callback: keeps every event and lets the microphone wait for one."""

    def __init__(self) -> None:
        self.events: list[PipelineEvent] = []
        self._arrived = asyncio.Event()

    def __call__(self, event: PipelineEvent) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(self, predicate: Callable[[PipelineEvent], bool]) -> PipelineEvent:
        async def seen() -> PipelineEvent:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(seen(), timeout=5)

    def runs(self) -> list[str]:
        return list(dict.fromkeys(event.run_id for event in self.events))

    def of(self, run_id: str) -> list[PipelineEvent]:
        return [event for event in self.events if event.run_id == run_id]

    def types(self, run_id: str) -> list[str]:
        return [str(event.type) for event in self.of(run_id)]


Step = AudioChunk | Callable[[], Awaitable[Any] | None]


async def microphone(script: Sequence[Step]) -> AsyncIterator[AudioChunk]:
    """Yields the chunks with stream timestamps; runs the actions between them."""
    timestamp = 0.0
    for step in script:
        if isinstance(step, AudioChunk):
            yield replace(step, timestamp=timestamp)
            timestamp += step.seconds
        else:
            result = step()
            if inspect.isawaitable(result):
                await result


def ended(recorder: Recorder, outcome: RunOutcome, count: int = 1) -> Callable[[], Awaitable[Any]]:
    """A script step: wait until ``count`` runs have ended with ``outcome``."""

    async def wait() -> None:
        async def enough() -> None:
            while (
                sum(isinstance(e, RunEnd) and e.outcome is outcome for e in recorder.events) < count
            ):
                await recorder.wait_for(lambda e: isinstance(e, RunEnd))
                await asyncio.sleep(0)

        await asyncio.wait_for(enough(), timeout=5)

    return wait


class Rig:
    """A pipeline over the package's fake engines (a 0.3 s STT, a 0.05 s voice)."""

    def __init__(
        self,
        *replies: Reply,
        answers: tuple[str | Exception, ...] = (),
        options: PipelineOptions | None = None,
        with_wake: bool = True,
        tts_fails: bool = False,
        on_event: EventCallback | None = None,
        speaker: Literal["recording", "fake", "realtime"] = "recording",
        voice: VoiceOptionsSource | None = None,
        languages: LanguageVoices | None = None,
        speculate: bool = False,
    ) -> None:
        """``speculate``: transcribe while the silence runs, as by default (off here: these
        tests count transcriptions and events; tests/voice/test_speculation.py has it on)."""
        options = options or PipelineOptions(follow_up_seconds=0)
        options = replace(options, end_of_turn=replace(options.end_of_turn, speculate=speculate))
        # Engines move the clock by hand; a real-time speaker sleeps on it (jumping ahead).
        self.clock = ManualAsyncClock(start=100.0, jump=True)
        self.log: list[str] = []
        self.vad = FakeVoiceActivityDetector(frame_samples=800)
        self.wake = FakeWakeWordDetector(word="hey_test", marker=WAKE)
        self.stt = FakeSpeechToText(
            *(answers or ("what time is it",)), seconds=0.3, sleep=self.clock.advance
        )
        self.tts = LoggedTts(self.clock, self.log)
        if tts_fails:
            self.tts.fail_with = EngineError("the voice broke")
        self.chat = FakeChat(*(replies or (scripted("Hello there, ", "friend. How ", "are you?"),)))
        self.speaker: RecordingSpeaker | FakeSpeaker = RecordingSpeaker()
        if speaker == "fake":  # stops at once, even while it waits for audio
            self.speaker = FakeSpeaker()
        elif speaker == "realtime":
            self.speaker = FakeSpeaker(realtime=True, sleep=self.clock.sleep)
        self.recorder = Recorder()
        counter = iter(range(1, 1000))
        self.pipeline = VoicePipeline(
            vad=held(self.vad),
            stt=held(self.stt),
            tts=held(self.tts),
            chat=self.chat,
            speaker=self.speaker,
            wake=held(self.wake) if with_wake else None,
            on_event=on_event or self.recorder,
            options=options,
            clock=self.clock,
            new_run_id=lambda: f"run-{next(counter)}",
            voice=voice,
            languages=languages,
        )

    async def run(self, script: Sequence[Step]) -> Recorder:
        await asyncio.wait_for(self.pipeline.run(microphone(script)), timeout=8)
        return self.recorder


def snapshot(events: list[PipelineEvent]) -> list[dict[str, Any]]:
    """Events without timestamps, floats rounded (sums of 0.05 s frames)."""
    return [
        {k: round(v, 3) if isinstance(v, float) else v for k, v in item.items()}
        for item in strip_timestamps(events)
    ]


# A normal turn ----------------------------------------------------------------------


async def test_a_turn_from_wake_word_to_spoken_reply() -> None:
    rig = Rig()
    recorder = rig.recorder
    await rig.run([*silence(3), *wake(), *COMMAND, ended(recorder, RunOutcome.COMPLETED)])

    assert snapshot(recorder.events) == [
        {"type": "run-start", "run_id": "run-1", "start_stage": "wake-word",
         "conversation_id": None},
        {"type": "wake-word-start", "run_id": "run-1"},
        {"type": "wake-word-end", "run_id": "run-1", "word": "hey_test", "score": 0.9},
        {"type": "stt-start", "run_id": "run-1", "trigger": "wake-word", "language": None},
        {"type": "stt-vad-start", "run_id": "run-1", "offset_seconds": 0.0},
        {
            "type": "stt-vad-end",
            "run_id": "run-1",
            "offset_seconds": 1.3,
            "speech_end_seconds": 0.5,
            "timed_out": False,
        },
        {
            "type": "stt-end",
            "run_id": "run-1",
            "text": "what time is it",
            "language": "en",
            "audio_seconds": 1.3,
        },
        {"type": "chat-start", "run_id": "run-1", "text": "what time is it",
         "conversation_id": None},
        {"type": "chat-delta", "run_id": "run-1", "text": "Hello there, "},
        {"type": "chat-delta", "run_id": "run-1", "text": "friend. How "},
        {"type": "chat-delta", "run_id": "run-1", "text": "are you?"},
        {
            "type": "chat-end",
            "run_id": "run-1",
            "conversation_id": "conv-1",
            "text": "Hello there, friend. How are you?",
            "finish_reason": "stop",
        },
        {"type": "tts-start", "run_id": "run-1", "sentence": 0, "text": "Hello there, friend."},
        {"type": "tts-audio", "run_id": "run-1", "sentence": 0, "audio_seconds": 0.1,
         "rate": 22050},
        {"type": "tts-end", "run_id": "run-1", "sentence": 0, "audio_seconds": 0.1},
        {"type": "tts-start", "run_id": "run-1", "sentence": 1, "text": "How are you?"},
        {"type": "tts-audio", "run_id": "run-1", "sentence": 1, "audio_seconds": 0.1,
         "rate": 22050},
        {"type": "tts-end", "run_id": "run-1", "sentence": 1, "audio_seconds": 0.1},
        {"type": "run-end", "run_id": "run-1", "outcome": "completed"},
    ]  # fmt: skip
    # What the engines and the speaker got.
    assert [round(a.seconds, 3) for a in rig.stt.heard] == [1.3]
    assert rig.stt.options == [TranscribeOptions(language=None)]
    assert rig.tts.texts == ["Hello there, friend.", "How are you?"]
    assert len(rig.speaker.chunks) == 2
    assert rig.chat.requests[0].source == "voice"
    assert rig.pipeline.conversation_id == "conv-1"
    assert rig.pipeline.state is PipelineState.IDLE
    # Every event is JSON as it is.
    json.dumps([event.to_dict() for event in recorder.events])


async def test_timestamps_come_from_the_injected_clock() -> None:
    rig = Rig()
    recorder = rig.recorder
    await rig.run([*wake(), *COMMAND, ended(recorder, RunOutcome.COMPLETED)])
    latencies = stage_latencies(recorder.events, "run-1")
    # The fakes move the clock: STT 0.3 s, TTS 0.05 s per sentence; nothing else does.
    assert latencies.to_dict() == pytest.approx(
        {
            "wake_to_speech_end_seconds": 0.0,
            "vad_tail_seconds": 0.8,
            "stt_seconds": 0.3,
            "chat_first_delta_seconds": 0.0,
            "chat_first_sentence_seconds": 0.0,
            "tts_first_chunk_seconds": 0.05,
            "speech_end_to_first_audio_seconds": 0.35,
            "total_seconds": 0.4,
        }
    )
    times = [event.timestamp for event in recorder.events]
    assert times == sorted(times)
    assert times[0] == 100.0


async def test_a_reply_played_in_real_time_ends_the_run_once_it_has_played() -> None:
    rig = Rig(speaker="realtime")
    recorder = rig.recorder
    await rig.run([*wake(), *COMMAND, ended(recorder, RunOutcome.COMPLETED)])
    assert isinstance(rig.speaker, FakeSpeaker)
    assert rig.speaker.records() == [Playback(0.0, pytest.approx(0.2), 2, True)]
    latencies = stage_latencies(recorder.events, "run-1")
    # 0.3 s of STT, 0.05 s per sentence of TTS, and the 0.2 s the speaker took to play.
    assert latencies.total_seconds == pytest.approx(0.6)
    assert latencies.speech_end_to_first_audio_seconds == pytest.approx(0.35)


async def test_playback_stopped_from_outside_ends_the_turn_and_the_pipeline_waits_again() -> None:
    closed: list[str] = []
    rig = Rig(endless("This reply goes on and on.", closed), scripted("Quiet now."), speaker="fake")
    recorder = rig.recorder

    async def stop_the_speaker() -> None:
        await recorder.wait_for(lambda e: isinstance(e, TtsAudio))
        rig.speaker.stop()  # a "be quiet" button, not the pipeline

    def waiting() -> None:
        assert rig.pipeline.state is PipelineState.WAITING

    await rig.run(
        [
            *wake(),
            *COMMAND,
            stop_the_speaker,
            ended(recorder, RunOutcome.INTERRUPTED),
            *silence(1),
            waiting,
            *wake(),
            *COMMAND,
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )
    assert closed == ["what time is it"]
    assert recorder.of("run-1")[-1].to_dict()["outcome"] == "interrupted"
    # The next chunk finds the turn over and waits for the wake word again.
    assert recorder.types("run-2")[:3] == ["run-start", "wake-word-start", "wake-word-end"]
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"


async def test_speech_starts_at_the_first_sentence_not_at_the_end_of_the_reply() -> None:
    log: list[str] = []

    def slow_reply(recorder: Recorder) -> Reply:
        async def reply(request: ChatRequest) -> AsyncIterator[TurnEvent]:
            yield TurnStarted("conv-1", "user-1", "fake:1", "test", ContextFlags())
            for delta in ("The first sentence is here. ", "The second one "):
                log.append(f"delta:{delta}")
                yield TurnDelta(delta)
            # The rest of the reply only comes once the first sentence's audio is on its
            # way to the speaker; a pipeline that waited for the whole reply would time
            # out here (and the turn would end in a chat error).
            await asyncio.wait_for(recorder.wait_for(lambda e: isinstance(e, TtsAudio)), timeout=3)
            log.append("delta:last")
            yield TurnDelta("follows later.")
            yield TurnDone("conv-1", "r", "...", "stop", TurnUsage(1, 1), Timings())

        return reply

    rig = Rig(scripted())
    rig.tts.log = log
    rig.chat.replies = [slow_reply(rig.recorder)]
    await rig.run([*wake(), *COMMAND, ended(rig.recorder, RunOutcome.COMPLETED)])

    assert log.index("tts:The first sentence is here.") < log.index("delta:last")
    assert rig.tts.texts == ["The first sentence is here.", "The second one follows later."]
    # The first is waited for (urgent: the chat model yields the cores), the second is
    # made while the first plays.
    assert [o.urgent for o in rig.tts.options] == [True, False]
    types = rig.recorder.types("run-1")
    assert types.index("tts-audio") < types.index("chat-end")
    assert "error" not in types


# Barge-in ---------------------------------------------------------------------------


def endless(first_sentence: str, closed: list[str]) -> Reply:
    """A reply that says one sentence, then thinks for ever (until it is closed)."""

    async def reply(request: ChatRequest) -> AsyncIterator[TurnEvent]:
        try:
            yield TurnStarted("conv-1", "user-1", "fake:1", "test", ContextFlags())
            yield TurnDelta(first_sentence + " And")
            await asyncio.Event().wait()
            yield TurnDelta("never")
        finally:
            closed.append(request.text)

    return reply


async def test_the_wake_word_interrupts_the_reply() -> None:
    closed: list[str] = []
    rig = Rig(
        endless("This reply goes on and on.", closed),
        scripted("Sure, stopped."),
        answers=("tell me a story", "stop"),
    )
    recorder = rig.recorder

    def speaking() -> Callable[[], Awaitable[Any]]:
        async def wait() -> None:
            await recorder.wait_for(lambda e: isinstance(e, TtsAudio))
            assert rig.pipeline.state is PipelineState.SPEAKING

        return wait

    await rig.run(
        [
            *wake(),
            *COMMAND,
            speaking(),
            *silence(2),
            *wake(),  # barge-in
            *COMMAND,
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )

    assert recorder.runs() == ["run-1", "run-2"]
    first = recorder.types("run-1")
    assert first[-1] == "run-end"
    assert recorder.of("run-1")[-1] == RunEnd(
        run_id="run-1", timestamp=recorder.of("run-1")[-1].timestamp, outcome=RunOutcome.INTERRUPTED
    )
    assert "chat-end" not in first and "error" not in first
    # The playback was stopped and the generation cancelled (its stream closed).
    assert rig.speaker.stopped_while_playing >= 1
    assert closed == ["tell me a story"]
    # A new run started at the wake word and answered the new command.
    assert recorder.types("run-2") == [
        "run-start",
        "wake-word-start",
        "wake-word-end",
        "stt-start",
        "stt-vad-start",
        "stt-vad-end",
        "stt-end",
        "chat-start",
        "chat-delta",
        "chat-end",
        "tts-start",
        "tts-audio",
        "tts-end",
        "run-end",
    ]
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"
    # Same conversation: the interrupted turn had already named it.
    assert [r.conversation_id for r in rig.chat.requests] == [None, "conv-1"]


async def test_speech_interrupts_the_reply_when_enabled() -> None:
    closed: list[str] = []
    rig = Rig(
        endless("This reply goes on and on.", closed),
        scripted("Okay then, I will stop."),
        answers=("tell me a story", "stop it"),
        options=PipelineOptions(
            follow_up_seconds=0, barge_in=BargeIn.SPEECH, barge_in_speech_seconds=0.3
        ),
    )
    recorder = rig.recorder
    await rig.run(
        [
            *wake(),
            *COMMAND,
            lambda: recorder.wait_for(lambda e: isinstance(e, TtsAudio)),
            *silence(2),
            *COMMAND,  # no wake word: the user just talks over the reply
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )
    assert closed == ["tell me a story"]
    assert recorder.of("run-1")[-1].to_dict()["outcome"] == "interrupted"
    second = recorder.of("run-2")
    assert isinstance(second[0], RunStart) and second[0].start_stage == "stt"
    assert isinstance(second[1], SttStart) and second[1].trigger == "speech"
    assert "wake-word-end" not in recorder.types("run-2")
    # The speech that barged in is the start of the new command (the ring buffer).
    # All 0.5 s of it, behind 0.4 s of pre-roll and before the 0.8 s of silence that ended it.
    heard = rig.stt.heard[1]
    assert heard.seconds == pytest.approx(1.7)
    assert np.count_nonzero(np.frombuffer(heard.audio, dtype="<i2")) == 5 * CHUNK_SAMPLES
    assert second[-1].to_dict()["outcome"] == "completed"


async def test_speech_does_not_interrupt_by_default() -> None:
    rig = Rig(scripted("A reply that is long enough."), answers=("hello",))
    recorder = rig.recorder
    await rig.run(
        [*wake(), *COMMAND, *speech(10), *silence(2), ended(recorder, RunOutcome.COMPLETED)]
    )
    assert [e.to_dict()["outcome"] for e in recorder.events if isinstance(e, RunEnd)] == [
        "completed",
        "cancelled",
    ]


# Follow-up, push-to-talk, timeouts --------------------------------------------------


async def test_follow_up_window_needs_no_wake_word() -> None:
    rig = Rig(
        scripted("It is noon, friend."),
        scripted("You are welcome."),
        answers=("what time is it", "thanks"),
        options=PipelineOptions(follow_up_seconds=1.0),
    )
    recorder = rig.recorder

    def follow_up() -> None:
        assert rig.pipeline.state is PipelineState.FOLLOW_UP

    await rig.run(
        [
            *wake(),
            *COMMAND,
            ended(recorder, RunOutcome.COMPLETED),
            *silence(1),  # the window opens with the next chunk
            follow_up,
            *COMMAND,  # answered without the wake word
            ended(recorder, RunOutcome.COMPLETED, count=2),
            *silence(1),
            follow_up,
            *silence(10),  # nobody speaks: the window closes
            *silence(2),
        ]
    )
    assert recorder.types("run-2")[:5] == [
        "run-start",
        "stt-start",
        "stt-vad-start",
        "stt-vad-end",
        "stt-end",
    ]
    start = recorder.of("run-2")[1]
    assert isinstance(start, SttStart) and start.trigger == "follow-up"
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"
    assert rig.chat.requests[1].conversation_id == "conv-1"
    assert recorder.types("run-3") == ["run-start", "stt-start", "run-end"]
    assert recorder.of("run-3")[-1].to_dict()["outcome"] == "no-speech"
    # Then back to the wake word.
    assert recorder.types("run-4") == ["run-start", "wake-word-start", "run-end"]


async def test_no_speech_after_the_wake_word_goes_back_to_waiting() -> None:
    rig = Rig(options=PipelineOptions(follow_up_seconds=0, listen_seconds=1.0))
    recorder = rig.recorder
    await rig.run([*wake(), *silence(12), *wake(), *COMMAND, ended(recorder, RunOutcome.COMPLETED)])
    assert recorder.types("run-1") == [
        "run-start",
        "wake-word-start",
        "wake-word-end",
        "stt-start",
        "run-end",
    ]
    assert recorder.of("run-1")[-1].to_dict()["outcome"] == "no-speech"
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"
    assert len(rig.stt.heard) == 1


async def test_push_to_talk_keeps_the_pre_roll() -> None:
    rig = Rig(
        options=PipelineOptions(push_to_talk=True, follow_up_seconds=0, pre_roll_seconds=0.4),
        with_wake=False,
    )
    recorder = rig.recorder
    pipeline = rig.pipeline
    await rig.run(
        [
            *silence(5),
            *speech(1),  # said just before the button went down
            pipeline.start_listening,
            *speech(3),
            pipeline.stop_listening,
            *silence(1),  # the release takes effect here; this chunk is not part of it
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )
    assert recorder.types("run-1")[:6] == [
        "run-start",
        "stt-start",
        "stt-vad-start",
        "stt-vad-end",
        "stt-end",
        "chat-start",
    ]
    start = recorder.of("run-1")[1]
    assert isinstance(start, SttStart) and start.trigger == "push-to-talk"
    heard = rig.stt.heard[0]
    # 0.4 s of pre-roll (three chunks of silence and the early speech) plus 0.3 s.
    assert heard.seconds == pytest.approx(0.7)
    assert np.count_nonzero(np.frombuffer(heard.audio, dtype="<i2")) == 4 * CHUNK_SAMPLES
    vad_end = recorder.of("run-1")[3]
    assert isinstance(vad_end, SttVadEnd) and not vad_end.timed_out
    # Push-to-talk mode has no wake-word stage and no run while it waits.
    assert "wake-word-start" not in [str(e.type) for e in recorder.events]
    assert recorder.runs() == ["run-1"]


async def test_push_to_talk_pre_empts_the_wake_word_and_can_barge_in() -> None:
    closed: list[str] = []
    rig = Rig(endless("This reply goes on and on.", closed), scripted("Fine, I will stop."))
    recorder = rig.recorder
    pipeline = rig.pipeline
    await rig.run(
        [
            *silence(2),
            pipeline.start_listening,
            *COMMAND,
            lambda: recorder.wait_for(lambda e: isinstance(e, TtsAudio)),
            pipeline.start_listening,  # the button during the reply
            *COMMAND,
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )
    first = recorder.of("run-1")
    assert recorder.types("run-1")[:4] == [
        "run-start",
        "wake-word-start",
        "wake-word-end",
        "stt-start",
    ]
    assert isinstance(first[2], WakeWordEnd) and first[2].word is None
    assert first[-1].to_dict()["outcome"] == "interrupted"
    assert closed == ["what time is it"]
    assert recorder.types("run-2")[:2] == ["run-start", "stt-start"]
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"


async def test_a_command_cut_at_the_longest_utterance() -> None:
    rig = Rig(options=PipelineOptions(follow_up_seconds=0, max_utterance_seconds=1.0))
    recorder = rig.recorder
    await rig.run([*wake(), *speech(15), ended(recorder, RunOutcome.COMPLETED)])
    vad_end = next(e for e in recorder.events if isinstance(e, SttVadEnd))
    assert vad_end.timed_out
    assert rig.stt.heard[0].seconds == pytest.approx(1.0)


async def test_a_command_under_way_when_the_microphone_ends_is_answered() -> None:
    rig = Rig()
    recorder = await rig.run([*wake(), *speech(5), *silence(2)])
    assert recorder.types("run-1")[-1] == "run-end"
    assert recorder.of("run-1")[-1].to_dict()["outcome"] == "completed"
    assert rig.stt.heard[0].seconds == pytest.approx(0.7)
    assert recorder.runs() == ["run-1"]  # no new run once the microphone has ended


# Errors -----------------------------------------------------------------------------


async def test_a_failing_transcription_is_reported_and_the_next_turn_works() -> None:
    rig = Rig(answers=(EngineError("whisper crashed"), "what time is it"))
    recorder = rig.recorder
    await rig.run(
        [
            *wake(),
            *COMMAND,
            ended(recorder, RunOutcome.ERROR),
            *wake(),
            *COMMAND,
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )
    failed = [e for e in recorder.events if isinstance(e, StageFailed)]
    assert [strip_timestamps([e])[0] for e in failed] == [
        {
            "type": "error",
            "run_id": "run-1",
            "stage": "stt",
            "code": "stt-failed",
            "message": "whisper crashed",
            "cause": "backend-error",
        }
    ]
    assert recorder.types("run-1")[-2:] == ["error", "run-end"]
    assert recorder.of("run-1")[-1].to_dict()["outcome"] == "error"
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"


async def test_nothing_recognised_is_an_error_of_its_own() -> None:
    rig = Rig(answers=("  ",))
    recorder = rig.recorder
    await rig.run([*wake(), *COMMAND, ended(recorder, RunOutcome.ERROR)])
    failed = next(e for e in recorder.events if isinstance(e, StageFailed))
    assert (failed.stage, failed.code, failed.cause) == ("stt", "stt-no-text-recognized", None)
    assert rig.chat.requests == []


async def test_a_failing_chat_is_reported_and_the_next_turn_works() -> None:
    async def broken(request: ChatRequest) -> AsyncIterator[TurnEvent]:
        yield TurnStarted("conv-1", "user-1", "fake:1", "test", ContextFlags())
        yield TurnDelta("I was about to say something. ")
        raise RuntimeError("llama.cpp fell over")

    rig = Rig(broken, scripted("Now it works again."))
    recorder = rig.recorder
    await rig.run(
        [
            *wake(),
            *COMMAND,
            ended(recorder, RunOutcome.ERROR),
            *wake(),
            *COMMAND,
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )
    failed = next(e for e in recorder.events if isinstance(e, StageFailed))
    assert (failed.stage, failed.code) == ("chat", "chat-failed")
    assert failed.message == "RuntimeError: llama.cpp fell over"
    assert "chat-end" not in recorder.types("run-1")
    assert rig.speaker.stops >= 1
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"
    assert rig.tts.texts[-1] == "Now it works again."


async def test_a_failing_voice_cancels_the_chat() -> None:
    closed: list[str] = []
    rig = Rig(endless("This sentence cannot be spoken.", closed), tts_fails=True)
    recorder = rig.recorder
    await rig.run([*wake(), *COMMAND, ended(recorder, RunOutcome.ERROR), *silence(1)])
    failed = next(e for e in recorder.events if isinstance(e, StageFailed))
    assert (failed.stage, failed.code, failed.cause) == ("tts", "tts-failed", "backend-error")
    assert closed == ["what time is it"]  # the generation was stopped, not left running
    assert recorder.types("run-1")[-2:] == ["error", "run-end"]
    assert recorder.types("run-2") == ["run-start", "wake-word-start", "run-end"]


async def test_a_broken_wake_word_engine_is_reported_then_gives_up() -> None:
    rig = Rig(options=PipelineOptions(follow_up_seconds=0, max_consecutive_errors=3))
    rig.wake.fail_with = EngineError("the wake-word model broke")
    with pytest.raises(BackendError, match="3 failures in a row"):
        await rig.run(silence(10))
    failed = [e for e in rig.recorder.events if isinstance(e, StageFailed)]
    assert [(e.stage, e.code) for e in failed] == [("wake-word", "wake-word-failed")] * 3
    assert [e.to_dict()["outcome"] for e in rig.recorder.events if isinstance(e, RunEnd)] == [
        "error",
        "error",
        "error",
    ]


async def test_a_broken_vad_is_reported_as_an_stt_error() -> None:
    rig = Rig()
    recorder = rig.recorder

    def break_vad() -> None:
        rig.vad.fail_with = EngineError("the VAD broke")

    def mend_vad() -> None:
        rig.vad.fail_with = None

    await rig.run(
        [
            *wake(),
            break_vad,
            *speech(1),
            mend_vad,
            *wake(),
            *COMMAND,
            ended(recorder, RunOutcome.COMPLETED),
        ]
    )
    failed = next(e for e in recorder.events if isinstance(e, StageFailed))
    assert (failed.run_id, failed.stage, failed.code) == ("run-1", "stt", "stt-vad-failed")
    assert recorder.of("run-2")[-1].to_dict()["outcome"] == "completed"


async def test_a_broken_event_listener_does_not_stop_the_pipeline() -> None:
    seen: list[PipelineEvent] = []

    async def listener(event: PipelineEvent) -> None:
        seen.append(event)
        if event.type is PipelineEventType.CHAT_DELTA:
            raise RuntimeError("the websocket went away")

    rig = Rig(on_event=listener)
    await rig.pipeline.run(microphone([*wake(), *COMMAND]))
    assert [e.to_dict()["outcome"] for e in seen if isinstance(e, RunEnd)] == ["completed"]


# File mode, configuration -----------------------------------------------------------


async def test_run_once_answers_a_recording() -> None:
    rig = Rig(options=PipelineOptions(voice=SynthesisOptions(rate=1.25), language="en"))
    audio = AudioChunk(audio=b"".join(c.audio for c in speech(10)), rate=RATE)
    result = await rig.pipeline.run_once(audio)
    assert result.outcome is RunOutcome.COMPLETED
    assert result.transcript == "what time is it"
    assert result.reply == "Hello there, friend. How are you?"
    assert result.error is None
    assert rig.stt.heard == [audio]
    assert rig.stt.options == [TranscribeOptions(language="en")]
    assert rig.tts.options[0].rate == 1.25
    assert rig.recorder.types(result.run_id) == [
        "run-start",
        "stt-start",
        "stt-end",
        "chat-start",
        "chat-delta",
        "chat-delta",
        "chat-delta",
        "chat-end",
        "tts-start",
        "tts-audio",
        "tts-end",
        "tts-start",
        "tts-audio",
        "tts-end",
        "run-end",
    ]
    # A second turn continues the conversation.
    await rig.pipeline.run_once(audio)
    assert [r.conversation_id for r in rig.chat.requests] == [None, "conv-1"]


async def test_the_voice_options_are_read_again_for_every_reply() -> None:
    rates = iter([1.0, 1.3])
    reads = 0

    async def voice() -> SynthesisOptions:
        nonlocal reads
        reads += 1
        return SynthesisOptions(rate=next(rates))

    rig = Rig(voice=voice)
    audio = AudioChunk(audio=b"".join(c.audio for c in speech(10)), rate=RATE)
    await rig.pipeline.run_once(audio)
    await rig.pipeline.run_once(audio)
    assert reads == 2  # once per reply, not per sentence
    assert [o.rate for o in rig.tts.options] == [1.0, 1.0, 1.3, 1.3]


async def test_a_skill_answer_in_another_language_is_spoken_in_its_voice() -> None:
    """A translation skill's answer: the skill event, then the translation spoken by the
    voice of its language at the reply's rate; the rest of the reply in the usual voice."""
    spanish = FakeTextToSpeech("piper:es_ES-fake")
    usual: list[str] = []

    async def reply(request: ChatRequest) -> AsyncIterator[TurnEvent]:
        yield TurnStarted("conv-1", "user-1", "", "skill:translate", ContextFlags())
        yield TurnDelta("gracias", language="es")
        use = SkillUse("translate", "translate.say", "template", 1.0, {"target": "es"})
        yield TurnDone(
            "conv-1",
            "reply-1",
            "In Spanish: gracias",
            "stop",
            TurnUsage(0, 0),
            Timings(),
            skill=use,
        )

    def choose(language: str) -> VoiceChoice:
        return VoiceChoice("piper:es_ES-fake", language, fallback=False)

    def lend(model_id: str) -> EngineSource[TextToSpeech]:
        usual.append(model_id)
        return held(spanish)

    languages = LanguageVoices(choose, lend, held(FakeTextToSpeech()), language="en")
    options = PipelineOptions(voice=SynthesisOptions(rate=1.2), language="en")
    rig = Rig(reply, options=options, languages=languages)
    audio = AudioChunk(audio=b"".join(c.audio for c in speech(10)), rate=RATE)
    result = await rig.pipeline.run_once(audio)
    assert result.outcome is RunOutcome.COMPLETED
    assert spanish.texts == ["gracias"] and rig.tts.texts == [] and usual == ["piper:es_ES-fake"]
    # The first (here the only) piece is urgent: the chat model yields the cores for it.
    assert spanish.options == [SynthesisOptions(rate=1.2, language="es", urgent=True)]
    [skill] = [e for e in rig.recorder.events if isinstance(e, SkillChosen)]
    assert (skill.name, skill.intent, skill.stage, skill.arguments) == (
        "translate",
        "translate.say",
        "template",
        {"target": "es"},
    )


async def test_run_once_reports_a_failure() -> None:
    rig = Rig(answers=(EngineError("no"),))
    result = await rig.pipeline.run_once(AudioChunk(audio=b"\x00\x01" * 1600, rate=RATE))
    assert result.outcome is RunOutcome.ERROR
    assert result.error is not None and result.error.code == "stt-failed"
    assert result.transcript is None and result.reply is None


async def test_the_microphone_must_match_the_vad() -> None:
    rig = Rig()
    wrong = AudioChunk(audio=b"\x00\x00" * 800, rate=8_000)
    with pytest.raises(UnsupportedInput, match="16000 Hz"):
        await rig.pipeline.run(microphone([wrong]))
    assert rig.recorder.types("run-1") == ["run-start", "wake-word-start", "run-end"]
    assert rig.pipeline.state is PipelineState.IDLE


async def test_one_run_at_a_time() -> None:
    rig = Rig()
    gate = asyncio.Event()

    async def mic() -> AsyncIterator[AudioChunk]:
        await gate.wait()
        yield silence(1)[0]

    running = asyncio.create_task(rig.pipeline.run(mic()))
    await rig.recorder.wait_for(lambda e: isinstance(e, RunStart))
    with pytest.raises(Conflict):
        await rig.pipeline.run(microphone([]))
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert rig.recorder.types("run-1")[-1] == "run-end"
    assert rig.pipeline.state is PipelineState.IDLE


def test_a_wake_word_detector_is_needed_without_push_to_talk() -> None:
    with pytest.raises(InvalidInput, match="wake"):
        VoicePipeline(
            vad=held(FakeVoiceActivityDetector()),
            stt=held(object()),  # type: ignore[arg-type]
            tts=held(object()),  # type: ignore[arg-type]
            chat=FakeChat(scripted()),
            speaker=RecordingSpeaker(),
        )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"silence_seconds": -1}, "silence_seconds"),
        ({"max_utterance_seconds": 0}, "max_utterance_seconds"),
        ({"vad_threshold": 1.5}, "vad_threshold"),
        ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
    ],
)
def test_bad_settings(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        PipelineOptions(**values)
    assert raised.value.field == field


# Latencies from events --------------------------------------------------------------


def test_stage_latencies_of_a_synthetic_run() -> None:
    def at(t: float) -> dict[str, Any]:
        return {"run_id": "r", "timestamp": t}

    from assistant.voice import events as ev

    events: list[PipelineEvent] = [
        ev.RunStart(**at(0.0), start_stage=ev.PipelineStage.WAKE_WORD, conversation_id=None),
        ev.WakeWordStart(**at(0.0)),
        ev.WakeWordEnd(**at(10.0), word="hey", score=0.8),
        ev.SttStart(**at(10.0), trigger=ev.ListenTrigger.WAKE_WORD, language=None),
        ev.SttVadStart(**at(10.5), offset_seconds=0.4),
        ev.SttVadEnd(**at(12.0), offset_seconds=2.0, speech_end_seconds=1.3, timed_out=False),
        ev.SttEnd(**at(12.4), text="hi", language="en", audio_seconds=2.0),
        ev.ChatStart(**at(12.4), text="hi", conversation_id=None),
        ev.ChatProgress(**at(12.7), text="Hello"),
        ev.ChatProgress(**at(12.8), text=" you."),
        ev.TtsStart(**at(13.0), sentence=0, text="Hello you."),
        ev.ChatEnd(**at(13.1), conversation_id="c", text="Hello you.", finish_reason="stop"),
        ev.TtsAudio(**at(13.25), sentence=0, audio_seconds=1.0, rate=22050),
        ev.TtsEnd(**at(13.3), sentence=0, audio_seconds=1.0),
        ev.RunEnd(**at(15.0), outcome=ev.RunOutcome.COMPLETED),
        ev.RunStart(run_id="other", timestamp=16.0, start_stage=ev.PipelineStage.STT,
                    conversation_id="c"),
    ]  # fmt: skip
    latencies = stage_latencies(events)
    assert latencies.to_dict() == pytest.approx(
        {
            "wake_to_speech_end_seconds": 2.0,
            "vad_tail_seconds": 0.7,
            "stt_seconds": 0.4,
            "chat_first_delta_seconds": 0.3,
            "chat_first_sentence_seconds": 0.6,
            "tts_first_chunk_seconds": 0.25,
            "speech_end_to_first_audio_seconds": 1.25,
            "total_seconds": 5.0,
        }
    )
    # A run that stopped early has no later stages; a run with no wake word counts from
    # the start of listening.
    partial = stage_latencies(
        [
            ev.RunStart(**at(0.0), start_stage=ev.PipelineStage.STT, conversation_id=None),
            ev.SttStart(**at(1.0), trigger=ev.ListenTrigger.FOLLOW_UP, language=None),
            ev.RunEnd(**at(4.0), outcome=ev.RunOutcome.NO_SPEECH),
        ]
    )
    assert partial == StageLatencies(total_seconds=3.0)
    assert stage_latencies([]) == StageLatencies()
