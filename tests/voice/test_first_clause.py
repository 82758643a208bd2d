"""A voice reply starts speaking with its first clause (the pipeline's default splitter)."""

from __future__ import annotations

from assistant.voice.events import RunOutcome
from assistant.voice.options import FIRST_CLAUSE_WORDS, PipelineOptions
from assistant.voice.sentences import SplitterOptions
from hal.audio import AudioChunk
from tests.voice.test_pipeline import RATE, Rig, scripted, speech


def test_voice_replies_cut_their_first_clause_by_default() -> None:
    assert PipelineOptions().sentences == SplitterOptions(first_clause_words=FIRST_CLAUSE_WORDS)


async def answer(options: PipelineOptions) -> list[str]:
    reply = scripted("For dinner tonight", ", you could cook a ", "hearty stew. ", "Enjoy it!")
    rig = Rig(reply, options=options)
    audio = AudioChunk(audio=b"".join(c.audio for c in speech(10)), rate=RATE)
    result = await rig.pipeline.run_once(audio)
    assert result.outcome is RunOutcome.COMPLETED
    return rig.tts.texts


async def test_the_first_clause_is_spoken_on_its_own() -> None:
    texts = await answer(PipelineOptions(follow_up_seconds=0))
    assert texts == ["For dinner tonight,", "you could cook a hearty stew.", "Enjoy it!"]


async def test_whole_first_sentences_when_turned_off() -> None:
    whole = PipelineOptions(follow_up_seconds=0, sentences=SplitterOptions())
    texts = await answer(whole)
    assert texts == ["For dinner tonight, you could cook a hearty stew.", "Enjoy it!"]
