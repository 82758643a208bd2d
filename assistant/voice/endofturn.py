"""Adaptive end of turn: how much silence ends a spoken command, from what was said so far.

Pure: rules on the partial transcript, no model, no clock. The listener transcribes the
audio so far once the silence after speech reaches ``speculate_after_seconds``; ``judge``
reads that transcript and ``required_silence`` turns the judgement into the silence the
segmenter should wait for (``VoiceCommandSegmenter.require_silence``):

- COMPLETE (a whole command or question: "set a timer for ten minutes", "what time is it
  in Tokyo?") ends after ``complete_silence_seconds``;
- INCOMPLETE (it trails off: "remind me to", "add milk, eggs and", "um") waits
  ``incomplete_silence_seconds``;
- UNSURE (too short, or nothing tells) keeps the fixed tail, ``unsure_silence_seconds``.

Whisper writes punctuation, and on audio cut in mid-sentence whisper tiny often still
ends with a period ("Set a timer for." is common), so a final period proves nothing; a
final comma or ellipsis does mean more is coming, and the words decide the rest. No
end-of-turn classifier small enough for this machine is published on the package
registries (pip, npm, apt), so these are rules, table-tested in
``tests/voice/test_endofturn.py`` on what whisper tiny really wrote for clips cut at
their pauses (``python -m benchmarks.voice --endpointing``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class TurnCompleteness(StrEnum):
    """What a partial transcript says about the turn."""

    COMPLETE = "complete"
    """A whole command or question: a short silence ends it."""
    INCOMPLETE = "incomplete"
    """It trails off (a conjunction, a preposition, a filler): wait longer."""
    UNSURE = "unsure"
    """Too short or unclear: the fixed tail."""


@dataclass(frozen=True)
class EndOfTurnOptions:
    """Silences of the adaptive end of turn, in seconds of audio.

    Chosen on the labelled pause set of ``python -m benchmarks.voice --endpointing`` (45
    requests paused after a conjunction, mid-clause, after a subordinate clause, after a
    filler, or complete and continued after a pause; 0.3-1.2 s pauses; Piper and
    espeak-ng, in silence and over noise: 1080 turns; Silero VAD; whisper.cpp tiny.en),
    sweeping the complete and incomplete tails over the same transcripts. Fixed 0.8 s cut
    off 372 of the 1080 with an end-of-turn delay of 858 ms p50; complete 0.4 s /
    incomplete 1.3 s cut off 342 at 474 ms p50 with the transcript in hand at once, and
    314 at 476 ms with whisper's real time (159 ms p50 on a quiet machine, inside the
    0.3 s between speculating and the complete tail).
    """

    adaptive: bool = True
    """Judge the partial transcript; False: every command ends after the unsure tail."""
    speculate: bool = True
    """Transcribe the command so far once its silence reaches ``speculate_after_seconds``
    (and answer it, unheard, so the reply is under way when the end is certain); False:
    only once it has ended (``adaptive`` then has nothing to judge: the unsure tail)."""
    speculate_after_seconds: float = 0.1
    """Silence after speech from which the audio so far is transcribed and judged (and
    answered): the transcript, the reply's first words and their speech are on the way to
    the first audio, so the sooner the better; a pause between words that long starts a
    try that speech dropping in again throws away (whisper tiny's ~0.2 s of CPU while the
    speaker talks on). Measured: 0.1 s brought the first audio about 100 ms sooner than
    0.2 s (``python -m benchmarks.voice``)."""
    complete_silence_seconds: float = 0.4
    """Silence that ends a command the transcript shows complete. Measured: 0.35 s cut off
    31 more turns of the set than 0.4 s for 64 ms less delay; 0.45 s 35 fewer for 64 ms
    more; a speaker who pauses longer than this after a whole sentence ("turn off the
    lights ... in the kitchen") is cut off there."""
    unsure_silence_seconds: float = 0.8
    """Silence that ends a command when the transcript does not tell (today's fixed
    tail, ``silence_seconds``)."""
    incomplete_silence_seconds: float = 1.3
    """Silence that ends a command that trails off ("and", "to the", "um"). Measured:
    1.0 s cut off 92 more turns of the set (its 1.2 s pauses), 1.5 s 7 fewer."""

    def __post_init__(self) -> None:
        names = (
            "speculate_after_seconds",
            "complete_silence_seconds",
            "unsure_silence_seconds",
            "incomplete_silence_seconds",
        )
        for name in names:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative")
        values = [getattr(self, name) for name in names]
        if values != sorted(values):
            raise ValueError(
                "the silences must grow: speculate_after_seconds <= complete_silence_seconds"
                " <= unsure_silence_seconds <= incomplete_silence_seconds"
            )


def required_silence(transcript: str, options: EndOfTurnOptions) -> float:
    """Silence that should end the command whose audio so far reads ``transcript``."""
    if not options.adaptive:
        return options.unsure_silence_seconds
    return {
        TurnCompleteness.COMPLETE: options.complete_silence_seconds,
        TurnCompleteness.INCOMPLETE: options.incomplete_silence_seconds,
        TurnCompleteness.UNSURE: options.unsure_silence_seconds,
    }[judge(transcript)]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words after which a sentence cannot end: conjunctions, prepositions, articles,
# determiners, auxiliaries, subject pronouns, and the fillers of someone thinking ("em":
# whisper tiny writes a trailing "um" as "'em").
# Words that end sentences as often as not ("that", "it", "before", "more") are left out.
_TRAILING = _words(
    """
    and or but so because nor yet than then plus also either whether if unless
    until while when where whereas although though as which who whom whose
    the a an my your his its our their every each
    to of for with from about into onto at in by under between through during without
    within against towards toward near via per
    um uh er erm uhm hmm mm ah eh well em
    is are was were be been am does can could will would shall should may might must
    has had
    i we they he she let's
    what's where's who's how's there's it's that's i'm i'd i'll we're they're
    very really quite just
    """
)
_DETERMINERS = _words("the a an my your his her its our their this that some any")
# Verbs that need an object or a clause after them when they are the last word:
# "remind me to call", not "remind me".
_WANTING = _words(
    """
    want wanna need love tell remind show give send set add put make call text play
    turn switch find search look get bring take translate convert book buy order start
    schedule create write read spell ask saying asking telling called named
    """
)
# Words that open a subordinate clause: "if it rains tomorrow" waits for its main clause.
_SUBORDINATING = _words("if when whenever once before after while unless although though since as")
_AUXILIARIES = _words("is are was were am do does did can could will would shall should may might")
# Words that open a main clause after a subordinate one: an order or a question.
_MAIN_CLAUSE = _words(
    """
    what where who how why which remind tell turn switch play add send set call text find
    search show give put make translate book order schedule create write read spell ask
    wake stop lock open close let please
    """
)
_OBJECTS = _words("it them this that these those him her us me")
# Last words that finish a request whatever came before.
_FINISHING = _words(
    """
    please thanks now today tonight tomorrow yesterday morning afternoon evening night
    noon midnight o'clock oclock am pm minutes minute hours hour seconds second days
    day weeks week months month years year again too
    """
)
# Whole turns that are complete alone.
_ALONE = _words(
    """
    stop cancel pause resume continue next previous skip yes no yeah yep nope okay ok
    sure thanks hello hi goodbye bye louder quieter help repeat
    """
) | {"thank you", "never mind", "no thanks", "no thank you", "stop it", "shut up"}
_NUMBER = re.compile(
    r"^(\d+([.:,]\d+)*(%|st|nd|rd|th|s)?|zero|one|two|three|four|five|six|seven|eight|nine|"
    r"ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|"
    r"half|quarter|dozen)$"
)
_WORD = re.compile(r"[a-z0-9]+(?:['.:,][a-z0-9]+)*%?")
_SHORTEST = 3
"""Words a turn needs before rules call it complete (shorter: unsure unless alone)."""


@dataclass(frozen=True)
class _Heard:
    """A partial transcript, normalised for the rules."""

    text: str
    """Lower case, with whisper's bracketed sound marks taken out."""
    words: tuple[str, ...]

    @property
    def last(self) -> str:
        return self.words[-1]

    @property
    def before(self) -> str:
        return self.words[-2] if len(self.words) > 1 else ""


def _trails_off(heard: _Heard) -> bool:
    if heard.last == "like":  # "what is the weather like" is whole; "I would like" is not
        return heard.words[0] not in ("what", "what's", "how")
    if heard.last in _TRAILING:
        return True
    if heard.last in _WANTING:  # "I want", "remind me to call"; not "give me a call"
        return heard.before not in _DETERMINERS
    return (
        (heard.last == "me" and heard.before in _WANTING)  # "remind me", "tell me"
        or (heard.last == "you" and heard.before in ("can", "could", "would", "will", "do"))
        or (heard.last == "on" and heard.before in _WANTING)  # "turn on"
    )


def _misheard_trailing(heard: _Heard) -> bool:
    """How whisper tiny writes a trailing function word it heard cut off (measured on the
    pause set): "to" as "too", "the" as "that" after "does", "for" with an "it" of its
    own, "and" as "end"."""
    last, before = heard.last, heard.before
    return (
        (last in ("too", "two") and before in ("me", "want", "need", "going", "have"))
        or (last == "it" and before in ("for", "at", "from", "into"))
        or (last in ("this", "that", "it") and before in ("does", "do", "did"))
        or (last == "end" and before not in _DETERMINERS)
        or (last == "ends" and bool(_NUMBER.match(before)))
    )


def _garbled(heard: _Heard) -> bool:
    """A short question that ends in "that" ("what is that?"): as often whisper tiny's
    rendering of a cut-off "the" ("what is the...") as a question."""
    return len(heard.words) <= 3 and heard.last in ("that", "this")


def _subordinate_only(heard: _Heard) -> bool:
    """A subordinate clause without its main one: "if it rains tomorrow"."""
    words = heard.words
    return (
        words[0] in _SUBORDINATING
        and "," not in heard.text
        and not (len(words) > 1 and words[1] in _AUXILIARIES)  # "when is my meeting"
        and not _MAIN_CLAUSE & set(words[2:])
    )


def _finishes(heard: _Heard) -> bool:
    """Ends as requests end: "?", "!", a number or a time, "please", "tomorrow"."""
    last = heard.last
    return (
        heard.text.endswith(("?", "!"))
        or last in _FINISHING
        or bool(_NUMBER.match(last))
        or (last == "on" and heard.before in _OBJECTS)  # "turn it on"
    )


def _may_go_on(heard: _Heard) -> bool:
    """A list item ("add milk, eggs"), a final "on" ("the meeting on"), or too short."""
    if "," in heard.text:
        item = heard.text.rsplit(",", 1)[1].split()
        if len(item) <= 2 and not {"and", "or"} & set(item):
            return True
    return heard.last == "on" or len(heard.words) < _SHORTEST


_RULES: tuple[tuple[Callable[[_Heard], bool], TurnCompleteness], ...] = (
    (lambda heard: " ".join(heard.words) in _ALONE, TurnCompleteness.COMPLETE),
    (_trails_off, TurnCompleteness.INCOMPLETE),
    (_misheard_trailing, TurnCompleteness.INCOMPLETE),
    (_subordinate_only, TurnCompleteness.INCOMPLETE),
    (_garbled, TurnCompleteness.UNSURE),
    (_finishes, TurnCompleteness.COMPLETE),
    (_may_go_on, TurnCompleteness.UNSURE),
)
"""The first rule that holds decides; a turn no rule holds for is complete."""


def judge(transcript: str) -> TurnCompleteness:
    """What ``transcript`` (a partial transcript, punctuation and all) says about the turn.

    INCOMPLETE when it trails off: a final comma, dash or ellipsis, a last word that
    cannot end a sentence ("and", "to", "the", "um", "I want", "remind me"), or a
    subordinate clause without its main one ("if it rains tomorrow"). COMPLETE when a
    lone word is a whole request ("stop"), when its end finishes a request (a number or a
    time, "please", "tomorrow"), when whisper wrote "?" or "!", or when it has a few words
    and ends in a content word. UNSURE when it is too short to tell, a list that may go on
    ("milk, eggs"), or ends in an "on" that may be a preposition.
    """
    text = transcript.strip().lower().replace("\u2019", "'").replace("\u2026", "...")
    # Whisper marks sounds it does not transcribe in brackets: "[BLANK_AUDIO]", "(coughs)".
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", text).strip()
    # Whisper tiny often writes a whole clip twice ("Wake me up at six. Wake me up at six.").
    sentences = [part.strip() for part in re.findall(r"[^.?!]+[.?!]*", text)]
    text = " ".join(dict.fromkeys(part for part in sentences if part))
    if text.endswith((",", "-", "\u2014", "...", ";", ":")):
        return TurnCompleteness.INCOMPLETE
    words = tuple(word.rstrip(".,") for word in _WORD.findall(text))
    if not words:
        return TurnCompleteness.UNSURE
    heard = _Heard(text, words)
    for holds, verdict in _RULES:
        if holds(heard):
            return verdict
    return TurnCompleteness.COMPLETE
