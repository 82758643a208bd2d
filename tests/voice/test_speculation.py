"""Speculation: the command transcribed and answered, unheard, while the silence that may
end it runs; and the models warmed when the wake word is heard.

The pipeline runs over the package's fake VAD, wake word, STT and voice (symbolic audio,
as in test_pipeline) and the real chat service on fake models behind a real model
manager (tests/chat), so what is stored, what the model was asked and whether its lease
was given back are the service's own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.chat.models import ChatRequest, TurnDone, TurnEvent
from assistant.chat.speculation import Speculation, SpeculationRefused
from assistant.clock import ManualAsyncClock
from assistant.skills.base import SkillAnswer, SkillCall, SkillContext
from assistant.skills.router import SkillRouter
from assistant.skills.templates import Templates
from assistant.voice.endofturn import EndOfTurnOptions
from assistant.voice.engines import held
from assistant.voice.events import (
    RunOutcome,
    SpeculationOutcome,
    SttSpeculation,
    SttVadEnd,
    TtsStart,
)
from assistant.voice.options import PipelineOptions
from assistant.voice.pipeline import VoicePipeline
from assistant.voice.runs import Runs
from assistant.voice.turn import TurnRunner, same_words
from hal.audio import AudioChunk
from runtime.llm.base import ChatMessage
from runtime.stt.fake import FakeSpeechToText
from runtime.vad.fake import FakeVoiceActivityDetector
from runtime.wake.fake import FakeWakeWordDetector
from tests.chat.conftest import ChatEnv, chat_env, echo_said
from tests.voice.test_pipeline import (
    WAKE,
    LoggedTts,
    Recorder,
    RecordingSpeaker,
    Step,
    ended,
    microphone,
    silence,
    speech,
    wake,
)

__all__ = ["chat_env"]

SPECULATE = PipelineOptions(
    follow_up_seconds=0, end_of_turn=EndOfTurnOptions(adaptive=False, speculate_after_seconds=0.2)
)
"""Speculation from 0.2 s of silence; every command ends at 0.8 s (adaptive off)."""


class Loop:
    """A pipeline over fake engines and the real chat service of ``chat_env``."""

    def __init__(
        self,
        env: ChatEnv,
        *answers: str,
        options: PipelineOptions = SPECULATE,
        push_to_talk: bool = False,
    ) -> None:
        self.env = env
        self.user = env.user("ada")
        self.clock = ManualAsyncClock(start=100.0, jump=True)
        self.log: list[str] = []
        self.stt = FakeSpeechToText(*answers, seconds=0.1, sleep=self.clock.advance)
        self.tts = LoggedTts(self.clock, self.log)
        self.speaker = RecordingSpeaker()
        self.recorder = Recorder()
        self.warmed: list[str | None] = []
        chat = env.chat

        def plain(request: ChatRequest) -> AsyncIterator[TurnEvent]:
            return chat.stream(self.user, request)

        def speculative(request: ChatRequest, gate: Speculation) -> AsyncIterator[TurnEvent]:
            return chat.stream(self.user, request, speculation=gate)

        async def warm(conversation_id: str | None) -> None:
            self.warmed.append(conversation_id)
            await chat.warm(self.user, conversation_id, spoken=True)

        counter = iter(range(1, 1000))
        if push_to_talk:
            options = replace(options, push_to_talk=True)
        self.pipeline = VoicePipeline(
            vad=held(FakeVoiceActivityDetector(frame_samples=800)),
            stt=held(self.stt),
            tts=held(self.tts),
            chat=plain,
            speculative_chat=speculative,
            warm=warm,
            speaker=self.speaker,
            wake=None if push_to_talk else held(FakeWakeWordDetector(word="hey", marker=WAKE)),
            on_event=self.recorder,
            options=options,
            clock=self.clock,
            new_run_id=lambda: f"run-{next(counter)}",
        )

    async def run(self, script: Sequence[Step]) -> Recorder:
        await asyncio.wait_for(self.pipeline.run(microphone(script)), timeout=20)
        return self.recorder

    def speculations(self) -> list[tuple[str, str | None, bool]]:
        """(outcome, text, retranscribed) of every speculation event, in order."""
        return [
            (str(e.outcome), e.text, e.retranscribed)
            for e in self.recorder.events
            if isinstance(e, SttSpeculation)
        ]

    def stored(self) -> list[tuple[str, str]]:
        """Every stored message (role, text as written), oldest first."""
        with self.env.services.db.read() as conn:
            rows = conn.all("SELECT role, content FROM messages ORDER BY created_at, seq")
        return [(row["role"], row["content"]) for row in rows]

    def model_busy(self) -> bool:
        return any(m.in_use for m in self.env.chat.manager.status())

    def asked(self) -> list[str]:
        """The last user message of every generation of the chat model, as said."""
        engine = self.env.engines["fake:big"]
        return [echo_said(call).removeprefix("You said: ") for call in engine.calls]


def until(condition: Callable[[], bool]) -> Callable[[], Awaitable[None]]:
    """A script step: wait (the event loop runs) until ``condition`` holds."""

    async def wait() -> None:
        async def poll() -> None:
            # The conditions are fake engines' records, written in worker threads.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.005)

        await asyncio.wait_for(poll(), timeout=10)

    return wait


def speculated(loop: Loop, outcome: SpeculationOutcome, count: int = 1) -> Callable[[], bool]:
    def seen() -> bool:
        found = [
            e
            for e in loop.recorder.events
            if isinstance(e, SttSpeculation) and e.outcome is outcome
        ]
        return len(found) >= count

    return seen


def generated(loop: Loop, count: int = 1) -> Callable[[], bool]:
    """The chat model has finished ``count`` generations."""

    def done() -> bool:
        engine = loop.env.engines.get("fake:big")
        return engine is not None and len(engine.finishes) >= count

    return done


# Hits ---------------------------------------------------------------------------------


async def test_a_hit_reuses_the_transcript_and_the_chat_turn(chat_env: ChatEnv) -> None:
    loop = Loop(chat_env, "what time is it")
    await loop.run(
        [
            *wake(),
            *speech(5),
            *silence(3),
            until(generated(loop)),  # the reply is ready, unheard, before the end
            lambda: assert_silent(loop),
            *silence(6),
            ended(loop.recorder, RunOutcome.COMPLETED),
        ]
    )
    assert len(loop.stt.heard) == 1  # the speculative clip was the only transcription
    assert loop.asked() == ["what time is it"]  # one generation: the speculative one, kept
    assert loop.speculations() == [
        ("started", None, False),
        ("hit", "what time is it", False),
    ]
    assert said(loop) == "You said: what time is it"
    assert [e.text for e in loop.recorder.events if e.type == "stt-end"] == ["what time is it"]
    assert loop.stored() == [
        ("user", "what time is it"),
        ("assistant", "You said: what time is it"),
    ]
    assert not loop.model_busy()


def spoken(loop: Loop) -> list[str]:
    """The pieces of replies that went to the speaker (``tts-start``), in order."""
    return [e.text for e in loop.recorder.events if isinstance(e, TtsStart)]


def said(loop: Loop) -> str:
    """Everything the speaker was given to say, joined (however the reply was cut)."""
    return " ".join(spoken(loop))


def assert_silent(loop: Loop) -> None:
    """Nothing of a speculation is played or stored before the end (its first piece may be
    synthesised into a buffer already)."""
    assert loop.speaker.chunks == [] and spoken(loop) == []
    assert loop.stored() == []


async def test_speech_that_resumes_drops_the_speculation_and_its_reply_is_never_spoken(
    chat_env: ChatEnv,
) -> None:
    loop = Loop(chat_env, "what time", "what time is it in Paris")
    await loop.run(
        [
            *wake(),
            *speech(5),
            *silence(3),
            until(generated(loop)),  # the stale reply is ready and held
            *speech(5),
            *silence(3),
            until(generated(loop, 2)),
            *silence(6),
            ended(loop.recorder, RunOutcome.COMPLETED),
        ]
    )
    assert loop.speculations() == [
        ("started", None, False),
        ("dropped", "what time", False),
        ("started", None, False),
        ("hit", "what time is it in Paris", False),
    ]
    assert loop.asked() == ["what time", "what time is it in Paris"]
    assert said(loop) == "You said: what time is it in Paris"  # never the stale one
    assert loop.stored() == [
        ("user", "what time is it in Paris"),
        ("assistant", "You said: what time is it in Paris"),
    ]
    assert not loop.model_busy()


async def test_a_command_fed_at_once_still_uses_its_speculation(
    chat_env: ChatEnv,
) -> None:
    loop = Loop(chat_env, "what time is it")
    await loop.run([*wake(), *speech(5), *silence(8), ended(loop.recorder, RunOutcome.COMPLETED)])
    assert [outcome for outcome, _, _ in loop.speculations()] == ["started", "hit"]
    assert len(loop.stt.heard) == 1
    assert loop.asked() == ["what time is it"]
    assert loop.stored() == [
        ("user", "what time is it"),
        ("assistant", "You said: what time is it"),
    ]


async def test_speculation_off_transcribes_once_at_the_end(chat_env: ChatEnv) -> None:
    off = replace(SPECULATE, end_of_turn=replace(SPECULATE.end_of_turn, speculate=False))
    loop = Loop(chat_env, "what time is it", options=off)
    await loop.run([*wake(), *speech(5), *silence(8), ended(loop.recorder, RunOutcome.COMPLETED)])
    assert loop.speculations() == []
    assert [round(a.seconds, 2) for a in loop.stt.heard] == [1.3]
    assert said(loop) == "You said: what time is it"


async def test_a_press_released_in_the_silence_uses_the_speculation(chat_env: ChatEnv) -> None:
    loop = Loop(chat_env, "what time is it", push_to_talk=True)
    await loop.run(
        [
            loop.pipeline.start_listening,
            *silence(1),
            *speech(5),
            *silence(3),
            until(generated(loop)),
            loop.pipeline.stop_listening,
            *silence(1),
            ended(loop.recorder, RunOutcome.COMPLETED),
        ]
    )
    assert loop.warmed == [None]  # the press warmed the models
    assert [outcome for outcome, _, _ in loop.speculations()] == ["started", "hit"]
    assert len(loop.stt.heard) == 1
    assert said(loop) == "You said: what time is it"


def heard(messages: Sequence[ChatMessage]) -> str:
    """A reply of two sentences, the first naming what was asked."""
    asked = echo_said(messages).removeprefix("You said: ")
    return f"Heard {asked}. Anything else?"


async def test_the_first_sentence_is_made_while_the_silence_runs_and_played_after_it(
    chat_env: ChatEnv,
) -> None:
    chat_env.replies["fake:big"] = heard
    loop = Loop(chat_env, "what time is it")

    def nothing_played() -> None:
        assert loop.speaker.chunks == [] and spoken(loop) == []

    await loop.run(
        [
            *wake(),
            *speech(5),
            *silence(3),
            until(lambda: any(line.startswith("tts:Heard") for line in loop.log)),  # held
            nothing_played,
            *silence(6),
            ended(loop.recorder, RunOutcome.COMPLETED),
        ]
    )
    # Each sentence synthesised once: the first from the speculation's buffer.
    assert said(loop) == "Heard what time is it. Anything else?"
    assert loop.tts.texts == spoken(loop)
    assert len(loop.speaker.chunks) == len(spoken(loop))


async def test_a_dropped_speculations_first_sentence_is_never_played(chat_env: ChatEnv) -> None:
    chat_env.replies["fake:big"] = heard
    loop = Loop(chat_env, "what time", "what time is it in Paris")
    await loop.run(
        [
            *wake(),
            *speech(5),
            *silence(3),
            until(lambda: any(line.startswith("tts:Heard") for line in loop.log)),  # stale, held
            *speech(5),
            *silence(8),
            ended(loop.recorder, RunOutcome.COMPLETED),
        ]
    )
    assert said(loop) == "Heard what time is it in Paris. Anything else?"
    assert len(loop.speaker.chunks) == len(spoken(loop))
    assert [outcome for outcome, _, _ in loop.speculations()] == [
        "started",
        "dropped",
        "started",
        "hit",
    ]


# The turn side: transcribed again when speech came after the clip -----------------------


class TurnRig:
    """A ``TurnRunner`` on its own: speculate on a clip, then adopt it."""

    def __init__(self, env: ChatEnv, *answers: str) -> None:
        self.loop = Loop(env, *answers)
        loop = self.loop
        self.runs = Runs(loop.recorder, loop.clock)
        chat = env.chat
        self.turns = TurnRunner(
            self.runs,
            stt=held(loop.stt),
            tts=held(loop.tts),
            chat=lambda request: chat.stream(loop.user, request),
            speculative_chat=lambda request, gate: chat.stream(
                loop.user, request, speculation=gate
            ),
            speaker=loop.speaker,
            options=SPECULATE,
        )

    async def answer(self, *, retranscribe: bool) -> None:
        from assistant.voice.events import PipelineStage

        run = await self.runs.start(PipelineStage.STT)
        clip = AudioChunk(b"\1\0" * 8000, 16_000)
        speculative = await self.turns.speculate(run, clip, 0.5)
        await until(generated(self.loop))()
        speculative.retranscribe = retranscribe
        turn = self.turns.start(run, AudioChunk(b"\1\0" * 16000, 16_000), speculative)
        await asyncio.wait_for(turn.task, 10)


async def test_the_same_words_heard_again_keep_the_speculative_reply(chat_env: ChatEnv) -> None:
    rig = TurnRig(chat_env, "What time is it?", "what time is it")
    await rig.answer(retranscribe=True)
    loop = rig.loop
    assert len(loop.stt.heard) == 2  # the clip, then the whole command
    assert loop.speculations() == [("started", None, False), ("hit", "What time is it?", True)]
    assert loop.asked() == ["What time is it?"]  # the generation was kept
    assert loop.stored() == [
        ("user", "What time is it?"),
        ("assistant", "You said: What time is it?"),
    ]


async def test_other_words_heard_again_restart_the_turn_cleanly(chat_env: ChatEnv) -> None:
    rig = TurnRig(chat_env, "what time", "what time is it in Paris")
    await rig.answer(retranscribe=True)
    loop = rig.loop
    assert loop.speculations() == [("started", None, False), ("miss", "what time", True)]
    assert loop.asked() == ["what time", "what time is it in Paris"]
    assert said(loop) == "You said: what time is it in Paris"
    assert loop.stored() == [
        ("user", "what time is it in Paris"),
        ("assistant", "You said: what time is it in Paris"),
    ]
    assert not loop.model_busy()


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("What time is it?", "what time is it", True),
        ("  What's   the time. ", "whats the time", True),
        ("what time", "what time is it", False),
        ("", "", True),
    ],
)
def test_same_words(first: str, second: str, same: bool) -> None:
    assert same_words(first, second) is same


# Skills --------------------------------------------------------------------------------

SENTENCES = """
language: en
intents:
  alarm.set:
    data:
      - sentences:
          - "ring the bell"
  clock.tell:
    data:
      - sentences:
          - "tell the hour"
"""


class AlarmSkill:
    """Acts: rings a bell (counts the rings)."""

    name = "alarm"
    summary = "Rings a bell."

    def __init__(self) -> None:
        self.rings = 0

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        return SkillCall(self.name, intent)

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        self.rings += 1
        return SkillAnswer("Rung.", "Rung the bell.")


class ClockSkill:
    """Only tells: declares itself side-effect-free."""

    name = "clock"
    summary = "Tells the hour."
    side_effect_free = True

    def __init__(self) -> None:
        self.told = 0

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        return SkillCall(self.name, intent)

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        self.told += 1
        return SkillAnswer("Noon.", "It is noon.")


@pytest.fixture
def skills(chat_env: ChatEnv, tmp_path: Path) -> tuple[AlarmSkill, ClockSkill]:
    folder = tmp_path / "sentences" / "en"
    folder.mkdir(parents=True)
    (folder / "test.yaml").write_text(SENTENCES)
    alarm, clock = AlarmSkill(), ClockSkill()
    profile = chat_env.services.profile
    templates = Templates.load(tmp_path / "sentences")
    chat_env.chat.skills = SkillRouter([alarm, clock], templates, profile)
    return alarm, clock


async def test_a_skill_that_acts_refuses_to_be_speculated(
    chat_env: ChatEnv, skills: tuple[AlarmSkill, ClockSkill]
) -> None:
    alarm, _ = skills
    user = chat_env.user("ada")
    stream = chat_env.chat.stream(
        user, ChatRequest("ring the bell", source="voice"), speculation=Speculation()
    )
    with pytest.raises(SpeculationRefused):
        await anext(stream)
    assert alarm.rings == 0


async def test_a_skill_that_acts_runs_once_and_only_after_the_end_of_the_command(
    chat_env: ChatEnv, skills: tuple[AlarmSkill, ClockSkill]
) -> None:
    alarm, _ = skills
    loop = Loop(chat_env, "ring the bell")

    def not_rung() -> None:
        assert alarm.rings == 0

    await loop.run(
        [
            *wake(),
            *speech(5),
            *silence(3),
            until(speculated(loop, SpeculationOutcome.STARTED)),
            until(lambda: len(loop.stt.heard) == 1),
            *silence(1),
            not_rung,
            *silence(5),
            ended(loop.recorder, RunOutcome.COMPLETED),
        ]
    )
    assert alarm.rings == 1
    assert [outcome for outcome, _, _ in loop.speculations()] == ["started", "hit"]
    assert said(loop) == "Rung the bell."
    assert loop.stored() == [("user", "ring the bell"), ("assistant", "Rung.")]


async def test_a_side_effect_free_skill_answers_speculatively_stored_on_confirmation(
    chat_env: ChatEnv, skills: tuple[AlarmSkill, ClockSkill]
) -> None:
    _, clock = skills
    user = chat_env.user("ada")
    gate = Speculation()
    stream = chat_env.chat.stream(
        user, ChatRequest("tell the hour", source="voice"), speculation=gate
    )
    pending = asyncio.ensure_future(anext(stream))
    await until(lambda: clock.told == 1)()
    await asyncio.sleep(0.05)
    assert not pending.done()  # held until confirmed
    with chat_env.services.db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM messages") == 0
    gate.confirm()
    events = [await pending] + [event async for event in stream]
    assert isinstance(events[-1], TurnDone) and events[-1].text == "Noon."
    with chat_env.services.db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM messages") == 2


# Nothing stored, nothing held -----------------------------------------------------------


async def test_a_speculative_turn_closed_unconfirmed_stores_nothing(chat_env: ChatEnv) -> None:
    user = chat_env.user("ada")
    stream = chat_env.chat.stream(
        user, ChatRequest("hello there", source="voice"), speculation=Speculation()
    )
    events = [await anext(stream) for _ in range(3)]  # started and two deltas
    assert len(events) == 3
    await stream.aclose()
    with chat_env.services.db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM messages") == 0
        assert conn.scalar("SELECT count(*) FROM conversations") == 0
    assert not any(m.in_use for m in chat_env.chat.manager.status())


async def test_stopping_mid_speculation_leaves_no_model_held_and_a_later_turn_goes_on(
    chat_env: ChatEnv,
) -> None:
    loop = Loop(chat_env, "tell me a long story")
    await chat_env.chat.warm(loop.user)  # loads the model, so the test can hold it
    engine = chat_env.engines["fake:big"]
    engine.hold_after = 3  # the speculative generation stops there until it is cancelled
    forever = asyncio.Event()
    running = asyncio.ensure_future(
        loop.pipeline.run(microphone([*wake(), *speech(5), *silence(3), forever.wait]))
    )
    await until(engine.holding.is_set)()
    running.cancel()
    await asyncio.wait({running})
    assert not loop.model_busy()
    assert [outcome for outcome, _, _ in loop.speculations()] == ["started", "dropped"]
    assert engine.wait_for_finishes(1) == [("cancelled", 3)]
    assert loop.stored() == []
    # A later turn goes through on the same model.
    engine.hold_after = None
    _, done = await asyncio.wait_for(
        chat_env.chat.reply(loop.user, ChatRequest("again", source="voice")), 10
    )
    assert done.text == "You said: again"


# Pre-warming ----------------------------------------------------------------------------


async def test_the_wake_word_warms_the_models_and_primes_the_conversation(
    chat_env: ChatEnv,
) -> None:
    loop = Loop(chat_env, "what time is it", "and the date")
    await loop.run(
        [
            *wake(),
            *speech(5),
            *silence(8),
            ended(loop.recorder, RunOutcome.COMPLETED),
            *wake(),
            *speech(5),
            *silence(8),
            ended(loop.recorder, RunOutcome.COMPLETED, 2),
        ]
    )
    conversation = loop.pipeline.conversation_id
    assert conversation is not None
    assert loop.warmed == [None, conversation]
    engine = chat_env.engines["fake:big"]
    first, second = engine.prefilled
    # The system prompt, the turns so far and the time stamp the next request will carry.
    assert [m.role for m in first] == ["system", "user"]
    assert [m.role for m in second] == ["system", "user", "assistant", "user"]
    assert echo_said([second[1]]) == "You said: what time is it"
    assert re.fullmatch(r"\(Sent [^)]*\) ", second[-1].content)


async def test_warm_primes_the_prompt_prefix_of_the_next_turn(chat_env: ChatEnv) -> None:
    user = chat_env.user("ada")
    _, done = await chat_env.chat.reply(user, ChatRequest("hello", source="voice"))
    tokens = await chat_env.chat.warm(user, done.conversation_id, spoken=True)
    engine = chat_env.engines["fake:big"]
    [prefix] = engine.prefilled
    assert tokens == engine.count_tokens(prefix) - 4  # the open message has no end
    await chat_env.chat.reply(
        user, ChatRequest("again", conversation_id=done.conversation_id, source="voice")
    )
    # The warmed messages are exactly how the next turn's prompt starts: its request
    # goes on from the warmed time stamp.
    *before, opened = prefix
    sent = engine.calls[-1]
    assert sent[: len(before)] == before
    assert sent[len(before)].content == opened.content + "again"
    assert not any(m.in_use for m in chat_env.chat.manager.status())


async def test_a_warm_up_cancelled_half_way_leaves_the_model_loaded_and_free(
    chat_env: ChatEnv,
) -> None:
    user = chat_env.user("ada")
    warming = asyncio.ensure_future(chat_env.chat.warm(user, spoken=True))
    await asyncio.sleep(0)
    warming.cancel()
    await asyncio.wait({warming})
    status = chat_env.chat.manager.status()
    assert all(not m.in_use for m in status)
    _, done = await chat_env.chat.reply(user, ChatRequest("hello"))
    assert done.text == "You said: hello"


# Adaptive end of turn ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "tail"),
    [("what time is it", 0.4), ("remind me to", 1.3), ("In Paris.", 0.8)],
    ids=["complete", "incomplete", "unsure"],
)
async def test_the_speculative_transcript_chooses_the_silence_that_ends_the_command(
    chat_env: ChatEnv, said: str, tail: float
) -> None:
    adaptive = replace(SPECULATE, end_of_turn=EndOfTurnOptions(speculate_after_seconds=0.2))
    loop = Loop(chat_env, said, options=adaptive)
    await loop.run(
        [
            *wake(),
            *speech(5),
            *silence(3),
            until(generated(loop)),  # the transcript has been judged
            *silence(15),
            ended(loop.recorder, RunOutcome.COMPLETED),
        ]
    )
    [end] = [e for e in loop.recorder.events if isinstance(e, SttVadEnd)]
    assert end.offset_seconds - end.speech_end_seconds == pytest.approx(tail)
    assert [outcome for outcome, _, _ in loop.speculations()] == ["started", "hit"]
