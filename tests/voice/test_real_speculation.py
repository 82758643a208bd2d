"""Speculation on the real offline models: a spoken question answered right, through the
speculative transcript and the chat turn started on it while the silence ran."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from assistant.auth import PasswordHasher
from assistant.services import Services, build_services
from assistant.voice.events import (
    PipelineEvent,
    RunEnd,
    RunOutcome,
    SpeculationOutcome,
    SttEnd,
    SttSpeculation,
    TtsStart,
)
from assistant.voice.options import PipelineOptions
from hal.audio import AudioChunk
from hal.audio.fake import FakeSpeaker
from runtime.llm.base import GenerationOptions
from tests.conftest import real_settings
from tests.voice.speech import chunk_of, pieces, say, silence

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = real_settings(Path(tmp_path_factory.mktemp("voice-speculation")))
    built = build_services(settings, hasher=PasswordHasher.fast_for_tests())
    yield built
    built.close()


async def test_a_spoken_question_is_answered_right_through_the_speculation(
    services: Services,
) -> None:
    user_id = services.auth.create_user("ada", "correct horse battery").id
    question = chunk_of(
        silence(0.8), say("Hey Jarvis!"), silence(0.8),
        say("What is the capital of France?"), silence(2.0),
    )  # fmt: skip
    events: list[PipelineEvent] = []
    # Greedy: the answer is checked, not the sampler's luck (at the default temperature
    # the 0.5B model says Paris about 19 times in 20, "London" once in a while).
    greedy = GenerationOptions(max_tokens=48, temperature=0.0)
    options = PipelineOptions(follow_up_seconds=0, chat_options=greedy)
    assert options.end_of_turn.speculate  # on by default
    pipeline = await services.loops.pipeline(
        user_id, FakeSpeaker(), options, on_event=events.append
    )

    async def microphone() -> AsyncIterator[AudioChunk]:
        # In real time, so the speculation runs while the silence does.
        for piece in pieces(question):
            yield piece
            await asyncio.sleep(piece.seconds)

    await asyncio.wait_for(pipeline.run(microphone()), 180)

    # The question's run completed; on a quick machine the reply ends before the
    # microphone does, and a second run (waiting for the wake word again) ends with it.
    [end] = [e for e in events if isinstance(e, RunEnd) and e.outcome is RunOutcome.COMPLETED]
    events = [e for e in events if e.run_id == end.run_id]
    speculations = [e for e in events if isinstance(e, SttSpeculation)]
    assert speculations[0].outcome is SpeculationOutcome.STARTED
    [used] = [e for e in speculations if e.outcome is SpeculationOutcome.HIT]
    assert used.text is not None and "capital of france" in used.text.lower()
    assert used.chat  # the reply was started on the speculative transcript, and kept
    [heard] = [e for e in events if isinstance(e, SttEnd)]
    assert heard.text == used.text
    said = " ".join(e.text for e in events if isinstance(e, TtsStart))
    assert "paris" in said.lower()
    # The turn was stored once, as any other.
    conversation = pipeline.conversation_id
    assert conversation is not None
    newest_first = services.history.history(user_id, conversation)
    assert [m.role for m in newest_first] == ["assistant", "user"]
    assert "paris" in newest_first[0].content.lower()
    assert not any(m.in_use for m in services.manager.status())
