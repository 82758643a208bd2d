"""Adaptive end of turn: the rules on partial transcripts, as a table.

The transcripts are what users say and what whisper tiny writes for speech cut at a pause
(its punctuation included: a clip cut after "for" often comes back as "Set a timer for.").
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assistant.voice.endofturn import (
    EndOfTurnOptions,
    TurnCompleteness,
    judge,
    required_silence,
)

COMPLETE = TurnCompleteness.COMPLETE
INCOMPLETE = TurnCompleteness.INCOMPLETE
UNSURE = TurnCompleteness.UNSURE

JUDGEMENTS = [
    # Trailing conjunctions, prepositions, articles, fillers: more is coming.
    ("Set a timer for", INCOMPLETE),
    ("Set a timer for.", INCOMPLETE),
    ("Remind me to call", INCOMPLETE),
    ("Remind me to call.", INCOMPLETE),
    ("Remind me", INCOMPLETE),
    ("Tell me.", INCOMPLETE),
    ("Add milk, eggs and", INCOMPLETE),
    ("What is the", INCOMPLETE),
    ("What is the weather in", INCOMPLETE),
    ("I want to", INCOMPLETE),
    ("I want", INCOMPLETE),
    ("I would like", INCOMPLETE),
    ("Send a message to Anna saying", INCOMPLETE),
    ("Turn off the lights because", INCOMPLETE),
    ("Play some music by", INCOMPLETE),
    ("Wake me up at", INCOMPLETE),
    ("How far is it from London to", INCOMPLETE),
    ("Um", INCOMPLETE),
    ("Uh.", INCOMPLETE),
    ("So, um,", INCOMPLETE),
    ("Can you", INCOMPLETE),
    ("Could you tell me the", INCOMPLETE),
    ("Turn on", INCOMPLETE),
    ("Translate good morning into", INCOMPLETE),
    # A final comma, dash or ellipsis.
    ("Add milk, eggs,", INCOMPLETE),
    ("Remind me to call my sister...", INCOMPLETE),
    ("What is the weather like -", INCOMPLETE),
    ("Turn off the lights\u2026", INCOMPLETE),
    # Complete requests and questions.
    ("Set a timer for twenty minutes.", COMPLETE),
    ("Set a timer for 20 minutes.", COMPLETE),
    ("Wake me up at 6:30.", COMPLETE),
    ("Wake me up at half past six.", COMPLETE),
    ("Remind me to call my sister tomorrow at noon.", COMPLETE),
    ("What is the weather like", COMPLETE),
    ("What's the weather like in Paris this weekend?", COMPLETE),
    ("What time is it?", COMPLETE),
    ("What time is it in Tokyo", COMPLETE),
    ("Turn off the lights in the kitchen.", COMPLETE),
    ("Tell me a joke about cats", COMPLETE),
    ("Give me a call", COMPLETE),
    ("Turn it on", COMPLETE),
    ("Play some music, please", COMPLETE),
    ("Stop.", COMPLETE),
    ("Cancel", COMPLETE),
    ("Thank you.", COMPLETE),
    ("Never mind", COMPLETE),
    ("Why?", COMPLETE),
    ("Ten!", COMPLETE),
    # Too short or unclear: the fixed tail.
    ("", UNSURE),
    ("   ", UNSURE),
    ("[BLANK_AUDIO]", UNSURE),
    ("(coughs)", UNSURE),
    ("In Paris.", UNSURE),
    ("Hey", UNSURE),
    ("Add milk, eggs", UNSURE),
    ("Add milk, eggs.", UNSURE),
    ("Turn the lights on.", UNSURE),
]

WHISPER_TINY = [
    # What whisper.cpp tiny.en wrote for the pause set's clips cut at their pause (Piper
    # and espeak-ng, python -m benchmarks.voice --endpointing), and the rules' verdict.
    # Cut after a conjunction:
    ("Call my sister and...", INCOMPLETE),
    ("I am cold so.", INCOMPLETE),
    ("Remind me to buy flowers because...", INCOMPLETE),
    ("Tell me the news, but...", INCOMPLETE),
    ("Set an alarm for 7 and", INCOMPLETE),
    ("Set an alarm for 7 ends.", INCOMPLETE),  # "and" heard as "ends"
    ("What is the weather to be end?", INCOMPLETE),
    ("Turn off the lights in.", INCOMPLETE),
    ("Turn off the light send.", INCOMPLETE),
    ("What is the weather today in?", INCOMPLETE),
    # ...where whisper lost the "and": nothing is left to tell.
    ("What is the weather today?", COMPLETE),
    ("Send a message to Tomin.", COMPLETE),
    ("Advil, Edmund", UNSURE),
    ("Add milk", UNSURE),
    # Cut mid-clause:
    ("Set a timer for.", INCOMPLETE),
    ("Set a timer for it.", INCOMPLETE),  # an "it" of whisper's own
    ("Remind me too.", INCOMPLETE),  # "to" as "too"
    ("What time does this?", INCOMPLETE),  # "the" as "this"
    ("What is the?", INCOMPLETE),
    ("What is that?", UNSURE),  # "the" as "that", or a question
    ("How far is it from London to?", INCOMPLETE),
    ("Translate, good morning into!", INCOMPLETE),
    ("Send the message to Anna saying.", INCOMPLETE),
    ("Wake me up,", INCOMPLETE),
    ("I want to...", INCOMPLETE),
    ("Can you tell me", INCOMPLETE),
    ("[", UNSURE),
    # Cut after "um" or "uh" (whisper tiny leaves most fillers out, or hears a word):
    ("Set a timer for um.", INCOMPLETE),
    ("Set a timer for 'um'.", INCOMPLETE),
    ("Play 'em.", INCOMPLETE),
    ("add-um", INCOMPLETE),
    ("Set a timer for room", COMPLETE),
    ("Remind me to us.", COMPLETE),
    ("Adam.", UNSURE),
    # Cut after a subordinate clause:
    ("If it rains tomorrow.", INCOMPLETE),
    ("Once the washing machine stops,", INCOMPLETE),
    ("as soon as the timer ends.", INCOMPLETE),
    ("After dinner.", INCOMPLETE),
    ("Since you are awake.", INCOMPLETE),
    # Complete, before a pause and more of it:
    ("Turn off the lights.", COMPLETE),
    ("Set a timer for 10 minutes", COMPLETE),
    ("What is the weather like?", COMPLETE),
    ("Remind me to call my sister.", COMPLETE),
    # After the last word (whisper tiny sometimes writes it all twice):
    ("Wake me up at half past six. Wake me up at half past six.", COMPLETE),
    ("What time is it? In Tokyo. What time is it? In Tokyo.", COMPLETE),
    ("After dinner, remind me to call my brother.", COMPLETE),
    ("Translate good morning into, German.", UNSURE),  # reads as a list: "milk, eggs"
    ("Set a timer for 10 minutes, further.", UNSURE),
    ("(sings)", UNSURE),
]


@pytest.mark.parametrize(("transcript", "expected"), JUDGEMENTS + WHISPER_TINY)
def test_judge(transcript: str, expected: TurnCompleteness) -> None:
    assert judge(transcript) is expected


PAUSE_SET = yaml.safe_load((Path(__file__).parent / "data" / "pauses.yaml").read_text())["turns"]
KINDS = {"conjunction", "mid-clause", "clauses", "complete", "filler"}


@pytest.mark.parametrize("item", PAUSE_SET, ids=lambda item: item["text"])
def test_the_pause_set_as_written_is_judged_as_labelled(item: dict[str, str]) -> None:
    """The words before the pause tell what the speaker's pause is; all of them, complete."""
    before, after = (part.strip() for part in item["text"].split("|"))
    assert item["kind"] in KINDS
    expected = COMPLETE if item["kind"] == "complete" else INCOMPLETE
    assert judge(before) is expected
    assert judge(f"{before} {after}") is COMPLETE


OPTIONS = EndOfTurnOptions(
    speculate_after_seconds=0.2,
    complete_silence_seconds=0.4,
    unsure_silence_seconds=0.8,
    incomplete_silence_seconds=1.3,
)


@pytest.mark.parametrize(
    ("transcript", "seconds"),
    [("What time is it?", 0.4), ("Set a timer for", 1.3), ("Hey", 0.8), ("", 0.8)],
)
def test_required_silence(transcript: str, seconds: float) -> None:
    assert required_silence(transcript, OPTIONS) == seconds


@pytest.mark.parametrize("transcript", ["What time is it?", "Set a timer for", "Hey"])
def test_without_adaptation_every_turn_gets_the_fixed_tail(transcript: str) -> None:
    fixed = EndOfTurnOptions(adaptive=False, unsure_silence_seconds=0.8)
    assert required_silence(transcript, fixed) == 0.8


@pytest.mark.parametrize(
    "values",
    [
        {"complete_silence_seconds": -0.1},
        {"speculate_after_seconds": float("nan")},
        {"complete_silence_seconds": 0.9},  # longer than the unsure tail
        {"incomplete_silence_seconds": 0.5},  # shorter than the unsure tail
        {"speculate_after_seconds": 0.5},  # after the complete tail
    ],
)
def test_bad_options(values: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="seconds"):
        EndOfTurnOptions(**values)  # type: ignore[arg-type]
