"""The end-of-speech segmenter: tables of VAD patterns, and invariants under hypothesis."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.voice.segmenter import SegmenterOptions, SegmenterOutcome, VoiceCommandSegmenter

CHUNK = 0.1
OPTIONS = SegmenterOptions(
    speech_seconds=0.3,
    silence_seconds=0.5,
    min_speech_seconds=0.5,
    max_command_seconds=2.0,
    no_speech_seconds=1.0,
    reset_seconds=0.2,
)


def feed(segmenter: VoiceCommandSegmenter, pattern: str, chunk: float = CHUNK) -> int:
    """Feed ``S`` (speech) and ``_`` (silence) chunks until it stops; chunks consumed."""
    for index, mark in enumerate(pattern):
        if not segmenter.process(chunk, mark == "S"):
            return index + 1
    return len(pattern)


@pytest.mark.parametrize(
    ("pattern", "consumed", "outcome", "start", "speech_end"),
    [
        # Silence only: the wait for a command times out at no_speech_seconds.
        ("_" * 20, 10, SegmenterOutcome.NO_SPEECH, None, None),
        # A command, then silence_seconds of silence.
        ("SSSSSS" + "_" * 10, 11, SegmenterOutcome.SPEECH_ENDED, 0.0, 0.6),
        # Gaps shorter than reset_seconds do not break the debounce run.
        ("S_S_S_SS" + "_" * 10, 13, SegmenterOutcome.SPEECH_ENDED, 0.0, 0.8),
        # Runs of speech shorter than speech_seconds, forgotten after reset_seconds.
        ("SS__SS__SS__" + "_" * 10, 10, SegmenterOutcome.NO_SPEECH, None, None),
        # Speech starting late still counts if the command starts within the window.
        ("_____SSSSSS" + "_" * 10, 16, SegmenterOutcome.SPEECH_ENDED, 0.5, 1.1),
        # A run of speech under way when the window closes is not a command.
        ("_________SSSSSS", 10, SegmenterOutcome.NO_SPEECH, None, None),
        # A short blip in the trailing silence does not restart the silence count...
        ("SSSSSS___S__" + "_" * 10, 12, SegmenterOutcome.SPEECH_ENDED, 0.0, 1.0),
        # ...speech of reset_seconds or more does.
        ("SSSSSS___SS" + "_" * 10, 16, SegmenterOutcome.SPEECH_ENDED, 0.0, 1.1),
        # Longer than max_command_seconds: cut there.
        ("S" * 30, 20, SegmenterOutcome.MAX_LENGTH, 0.0, 2.0),
    ],
)
def test_patterns(
    pattern: str,
    consumed: int,
    outcome: SegmenterOutcome,
    start: float | None,
    speech_end: float | None,
) -> None:
    segmenter = VoiceCommandSegmenter(OPTIONS)
    assert feed(segmenter, pattern) == consumed
    assert segmenter.outcome is outcome
    assert segmenter.finished
    assert segmenter.timed_out == (outcome is not SegmenterOutcome.SPEECH_ENDED)
    assert segmenter.position_seconds == pytest.approx(consumed * CHUNK)
    assert segmenter.command_start_seconds == (None if start is None else pytest.approx(start))
    assert segmenter.speech_end_seconds == (
        None if speech_end is None else pytest.approx(speech_end)
    )


def test_too_little_speech_is_dropped_as_noise() -> None:
    segmenter = VoiceCommandSegmenter(replace(OPTIONS, no_speech_seconds=3.0))
    # 0.3 s of speech starts a command, but 0.5 s are needed to keep it.
    assert feed(segmenter, "SSS_____") == 8
    assert not segmenter.finished
    assert not segmenter.in_command
    assert segmenter.dropped == 1
    # A real command afterwards is found.
    assert feed(segmenter, "SSSSS_____") == 10
    assert segmenter.outcome is SegmenterOutcome.SPEECH_ENDED
    assert segmenter.command_start_seconds == pytest.approx(0.8)


def test_states_are_observable_while_it_runs() -> None:
    segmenter = VoiceCommandSegmenter(OPTIONS)

    def started_and_in_command() -> tuple[bool, bool]:
        return segmenter.speech_started, segmenter.in_command

    assert started_and_in_command() == (False, False)
    segmenter.process(CHUNK, True)
    assert started_and_in_command() == (True, False)
    assert segmenter.candidate_start_seconds == 0.0
    segmenter.process(CHUNK, True)
    segmenter.process(CHUNK, True)
    assert started_and_in_command() == (True, True)
    assert segmenter.speech_total_seconds == pytest.approx(0.3)


def test_no_limits() -> None:
    options = SegmenterOptions(max_command_seconds=None, no_speech_seconds=None)
    segmenter = VoiceCommandSegmenter(options)
    assert feed(segmenter, "_" * 1000) == 1000
    assert not segmenter.finished
    assert feed(segmenter, "S" * 1000) == 1000
    assert segmenter.in_command and not segmenter.finished


def test_reset_starts_again() -> None:
    segmenter = VoiceCommandSegmenter(OPTIONS)
    feed(segmenter, "SSSSSS" + "_" * 10)
    assert segmenter.finished
    assert not segmenter.process(CHUNK, True)  # stays finished until reset
    segmenter.reset()
    assert (segmenter.finished, segmenter.position_seconds) == (False, 0.0)
    assert (segmenter.command_start_seconds, segmenter.dropped) == (None, 0)
    assert feed(segmenter, "SSSSSS" + "_" * 10) == 11


@pytest.mark.parametrize(
    "values",
    [
        {"speech_seconds": -0.1},
        {"silence_seconds": -1},
        {"max_command_seconds": 0},
        {"no_speech_seconds": -5},
    ],
)
def test_bad_options(values: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="seconds"):
        SegmenterOptions(**values)


def test_negative_chunk_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        VoiceCommandSegmenter().process(-0.1, True)


# Invariants -------------------------------------------------------------------------

# Durations that are exact in binary (multiples of 1/64 s), so sums carry no rounding.
durations = st.integers(min_value=1, max_value=16).map(lambda n: n / 64)
chunks = st.lists(st.tuples(durations, st.booleans()), max_size=200)
options = st.builds(
    SegmenterOptions,
    speech_seconds=st.integers(0, 32).map(lambda n: n / 64),
    silence_seconds=st.integers(1, 64).map(lambda n: n / 64),
    min_speech_seconds=st.integers(0, 64).map(lambda n: n / 64),
    max_command_seconds=st.one_of(st.none(), st.integers(16, 640).map(lambda n: n / 64)),
    no_speech_seconds=st.one_of(st.none(), st.integers(16, 640).map(lambda n: n / 64)),
    reset_seconds=st.integers(0, 32).map(lambda n: n / 64),
)


@settings(max_examples=300, deadline=None)
@given(options=options, chunks=chunks)
def test_invariants(options: SegmenterOptions, chunks: list[tuple[float, bool]]) -> None:
    segmenter = VoiceCommandSegmenter(options)
    fed = 0.0
    last_speech = False
    for seconds, speech in chunks:
        more = segmenter.process(seconds, speech)
        if segmenter.finished:
            assert not more
            fed += seconds
            last_speech = speech
            break
        assert more
        fed += seconds
        # While it runs, the limits hold.
        if segmenter.in_command:
            start = segmenter.command_start_seconds
            assert start is not None
            assert segmenter.speech_end_seconds is not None
            assert start <= segmenter.speech_end_seconds <= segmenter.position_seconds
            if options.max_command_seconds is not None:
                assert segmenter.position_seconds - start < options.max_command_seconds
        elif options.no_speech_seconds is not None:
            assert segmenter.position_seconds < options.no_speech_seconds
    assert segmenter.position_seconds == fed  # exact: the durations are binary fractions
    outcome = segmenter.outcome
    if outcome is SegmenterOutcome.SPEECH_ENDED:
        assert not last_speech  # silence ends a command, never speech
        assert segmenter.speech_total_seconds >= options.min_speech_seconds
        assert segmenter.speech_end_seconds is not None
        assert segmenter.speech_end_seconds < segmenter.position_seconds
        if options.reset_seconds == 0:  # every speech chunk restarts the silence count
            trailing = segmenter.position_seconds - segmenter.speech_end_seconds
            assert trailing >= options.silence_seconds
    elif outcome is SegmenterOutcome.NO_SPEECH:
        assert options.no_speech_seconds is not None
        assert not segmenter.in_command
        assert segmenter.position_seconds >= options.no_speech_seconds
    elif outcome is SegmenterOutcome.MAX_LENGTH:
        assert options.max_command_seconds is not None
        start = segmenter.command_start_seconds
        assert start is not None
        assert segmenter.position_seconds - start >= options.max_command_seconds
    # Once finished, nothing changes until reset.
    if segmenter.finished:
        before = (segmenter.outcome, segmenter.position_seconds, segmenter.command_start_seconds)
        assert not segmenter.process(1.0, True)
        assert not segmenter.process(1.0, False)
        after = (segmenter.outcome, segmenter.position_seconds, segmenter.command_start_seconds)
        assert after == before


@settings(max_examples=200, deadline=None)
@given(options=options, first=chunks, second=chunks)
def test_reset_equals_new(
    options: SegmenterOptions, first: list[tuple[float, bool]], second: list[tuple[float, bool]]
) -> None:
    used = VoiceCommandSegmenter(options)
    for seconds, speech in first:
        used.process(seconds, speech)
    used.reset()
    fresh = VoiceCommandSegmenter(options)
    for seconds, speech in second:
        assert used.process(seconds, speech) == fresh.process(seconds, speech)
        assert vars(used) == vars(fresh)


@settings(max_examples=200, deadline=None)
@given(chunks=chunks)
def test_silence_never_starts_a_command(chunks: list[tuple[float, bool]]) -> None:
    segmenter = VoiceCommandSegmenter(OPTIONS)
    for seconds, _ in chunks:
        segmenter.process(seconds, False)
        assert not segmenter.in_command
    assert segmenter.outcome in (None, SegmenterOutcome.NO_SPEECH)
