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


# Required silence (adaptive end of turn) ---------------------------------------------


def feed_requiring(
    segmenter: VoiceCommandSegmenter, pattern: str, requests: dict[int, float | None]
) -> int:
    """Like ``feed``, calling ``require_silence(requests[i])`` before chunk ``i``."""
    for index, mark in enumerate(pattern):
        if index in requests:
            segmenter.require_silence(requests[index])
        if not segmenter.process(CHUNK, mark == "S"):
            return index + 1
    return len(pattern)


@pytest.mark.parametrize(
    ("pattern", "requests", "consumed", "speech_end"),
    [
        # No request: the options' 0.5 s.
        ("SSSSSS" + "_" * 10, {}, 11, 0.6),
        # Asked for less after 0.2 s of silence: it ends at 0.3 s.
        ("SSSSSS" + "_" * 10, {8: 0.3}, 9, 0.6),
        # Asked for more: it waits 0.9 s.
        ("SSSSSS" + "_" * 12, {8: 0.9}, 15, 0.6),
        # Asked for less than the silence already has: the next chunk ends it...
        ("SSSSSS" + "_" * 10, {10: 0.2}, 11, 0.6),
        # ...even when that chunk is speech (it is not part of the command).
        ("SSSSSS____S" + "_" * 10, {10: 0.2}, 11, 0.6),
        # Asked for before the pause: it holds for the silence after it.
        ("SSSSSS" + "_" * 10, {3: 0.2}, 8, 0.6),
        # None goes back to the options' silence.
        ("SSSSSS" + "_" * 10, {7: 0.9, 8: None}, 11, 0.6),
        # Speech that restarts the count forgets the request: 0.5 s after the second part.
        ("SSSSSS__SSS" + "_" * 10, {7: 1.0}, 16, 1.1),
        ("SSSSSS__SSS" + "_" * 10, {7: 0.3}, 16, 1.1),
        # A blip shorter than reset_seconds does not.
        ("SSSSSS__S" + "_" * 10, {7: 0.4}, 11, 0.9),
        # A request made during a blip waits for the blip to end.
        ("SSSSSS___S" + "_" * 10, {10: 0.2}, 11, 1.0),
    ],
)
def test_required_silence(
    pattern: str, requests: dict[int, float | None], consumed: int, speech_end: float
) -> None:
    segmenter = VoiceCommandSegmenter(replace(OPTIONS, max_command_seconds=None))
    assert feed_requiring(segmenter, pattern, requests) == consumed
    assert segmenter.outcome is SegmenterOutcome.SPEECH_ENDED
    assert segmenter.speech_end_seconds == pytest.approx(speech_end)


def test_trailing_silence_is_what_counts_towards_the_end() -> None:
    segmenter = VoiceCommandSegmenter(replace(OPTIONS, silence_seconds=2.0))
    trailing = []
    for mark in "__SSSS___S__SSS_":
        segmenter.process(CHUNK, mark == "S")
        trailing.append(round(segmenter.trailing_silence_seconds, 6))
    # Nothing before the command and while speech goes on; a blip (the lone S) does not
    # restart the count; speech of reset_seconds does.
    assert trailing == [
        *[0.0] * 6,
        0.1, 0.2, 0.3, 0.0, 0.4, 0.5, 0.0, 0.0, 0.0, 0.1,
    ]  # fmt: skip


def test_the_request_is_forgotten_by_reset_and_by_noise() -> None:
    segmenter = VoiceCommandSegmenter(replace(OPTIONS, no_speech_seconds=None))
    assert segmenter.required_silence_seconds == OPTIONS.silence_seconds
    segmenter.require_silence(1.5)
    assert segmenter.required_silence_seconds == 1.5
    segmenter.reset()
    assert segmenter.required_silence_seconds == OPTIONS.silence_seconds
    # 0.3 s of speech is a command, too short to keep: dropped after its 0.2 s silence.
    feed(segmenter, "SSS_")
    segmenter.require_silence(0.2)
    assert feed(segmenter, "_") == 1
    assert segmenter.dropped == 1 and not segmenter.in_command
    assert segmenter.required_silence_seconds == OPTIONS.silence_seconds


def test_a_negative_silence_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        VoiceCommandSegmenter().require_silence(-0.1)


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


requests = st.one_of(st.none(), st.integers(0, 96).map(lambda n: n / 64))


@settings(max_examples=300, deadline=None)
@given(
    options=options,
    chunks=st.lists(st.tuples(durations, st.booleans(), st.booleans(), requests), max_size=200),
)
def test_required_silence_invariants(
    options: SegmenterOptions, chunks: list[tuple[float, bool, bool, float | None]]
) -> None:
    segmenter = VoiceCommandSegmenter(options)
    for seconds, speech, ask, request in chunks:
        if ask:
            segmenter.require_silence(request)
        required, trailing = segmenter.required_silence_seconds, segmenter.trailing_silence_seconds
        was_in_command = segmenter.in_command
        if not segmenter.process(seconds, speech):
            break
        # A command still going on has not had the silence it requires.
        if segmenter.in_command and segmenter.trailing_silence_seconds:
            assert segmenter.trailing_silence_seconds < segmenter.required_silence_seconds
        # A silence that already had what was asked for ends the command (or drops it).
        if was_in_command and trailing and trailing >= required:
            assert not segmenter.in_command
    if segmenter.outcome is SegmenterOutcome.SPEECH_ENDED:
        assert segmenter.speech_total_seconds >= options.min_speech_seconds
        assert segmenter.speech_end_seconds is not None
        assert segmenter.speech_end_seconds < segmenter.position_seconds
