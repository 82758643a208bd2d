"""How one voice pipeline (or dictation) listens, answers and lets itself be interrupted.

The one typed path from a setting to the pipeline: ``VoiceSettings`` (file, environment)
-> ``VoiceSettings.pipeline_options()`` -> ``PipelineOptions`` -> ``VoicePipeline``. Each
knob has one default: the listening timing is the segmenter's (``SegmenterOptions``),
the rest is here, and the settings take theirs from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from assistant.errors import InvalidInput
from assistant.voice.endofturn import EndOfTurnOptions
from assistant.voice.segmenter import SegmenterOptions
from assistant.voice.sentences import SplitterOptions
from runtime.llm.base import GenerationOptions
from runtime.tts.base import SynthesisOptions

_SEGMENTER = SegmenterOptions()
"""The segmenter's defaults: the listening timing of the pipeline starts from them."""
FIRST_CLAUSE_WORDS = 4
"""A spoken reply starts with its first clause (a comma, a colon) or its first 4 words,
unless its first sentence ends sooner: Piper's first audio grows with the words it is
given, and the model writes 4 words sooner than a sentence (``benchmarks.tts_chunking``)."""


class BargeIn(StrEnum):
    """What interrupts a reply (a push-to-talk press always does)."""

    WAKE = "wake"
    """The wake word."""
    SPEECH = "speech"
    """Any speech, the wake word included (needs echo cancellation or a headset:
    otherwise the assistant interrupts itself)."""
    OFF = "off"
    """Nothing but a press."""


@dataclass(frozen=True)
class PipelineOptions:
    """Per-run options of the voice pipeline (and of dictation, which listens alike)."""

    push_to_talk: bool = False
    """Wait for ``start_listening()`` (a button) instead of the wake word."""
    listen_seconds: float | None = _SEGMENTER.no_speech_seconds
    """After the wake word or a press, how long to wait for speech to start (a press held
    longer with nothing the VAD calls speech ends as no-speech); None: no limit."""
    speech_seconds: float = _SEGMENTER.speech_seconds
    """Speech needed before a command counts as started (debounce)."""
    silence_seconds: float = _SEGMENTER.silence_seconds
    """Silence that ends a command (with an adaptive end of turn: when its transcript does
    not tell whether it is complete)."""
    min_speech_seconds: float = _SEGMENTER.min_speech_seconds
    """Commands with less speech are dropped as noise."""
    max_utterance_seconds: float | None = _SEGMENTER.max_command_seconds
    """Longest command; it is cut there and transcribed. None: no limit."""
    reset_seconds: float = _SEGMENTER.reset_seconds
    """Pause that forgets speech too short to start a command (see the segmenter)."""
    pre_roll_seconds: float = 0.4
    """Audio kept before the detected start of speech (and before a press)."""
    vad_threshold: float = 0.5
    """Speech probability from which a VAD frame counts as speech."""
    follow_up_seconds: float = 5.0
    """After a reply, listen this long without the wake word; 0 turns it off."""
    barge_in: BargeIn = BargeIn.WAKE
    """What interrupts a reply while it is thought or spoken."""
    barge_in_speech_seconds: float = 0.5
    """Speech that counts as barge-in when ``barge_in`` is ``speech``."""
    language: str | None = None
    """Language of the user's speech (ISO 639-1); None: detect (a voice loop fills it in
    from the user's preferences)."""
    voice: SynthesisOptions = field(default_factory=SynthesisOptions)
    """Speaking rate and speaker of the replies."""
    chat_model: str | None = None
    """Chat model; None lets the chat service route."""
    chat_options: GenerationOptions = field(
        default_factory=lambda: GenerationOptions(max_tokens=256)
    )
    """Sampling and length of replies (spoken replies are kept short)."""
    sentences: SplitterOptions = field(
        default_factory=lambda: SplitterOptions(first_clause_words=FIRST_CLAUSE_WORDS)
    )
    """Shortest and longest piece of a reply sent to TTS at once; the first piece is a
    clause of at most ``FIRST_CLAUSE_WORDS`` words, so speech starts sooner."""
    max_consecutive_errors: int = 5
    """Wake-word or VAD failures in a row after which ``run`` gives up."""
    end_of_turn: EndOfTurnOptions = field(
        default_factory=lambda: EndOfTurnOptions(unsure_silence_seconds=_SEGMENTER.silence_seconds)
    )
    """Adaptive end of turn: the silence that ends a command from its partial transcript
    (its ``unsure_silence_seconds`` is ``silence_seconds`` when built from settings)."""

    def __post_init__(self) -> None:
        for name in (
            "speech_seconds",
            "silence_seconds",
            "min_speech_seconds",
            "reset_seconds",
            "pre_roll_seconds",
            "follow_up_seconds",
            "barge_in_speech_seconds",
        ):
            if not getattr(self, name) >= 0:
                raise InvalidInput(f"{name} must not be negative", field=name)
        for name in ("listen_seconds", "max_utterance_seconds"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InvalidInput(f"{name} must be positive", field=name)
        if not 0.0 <= self.vad_threshold <= 1.0:
            raise InvalidInput("vad_threshold must be between 0 and 1", field="vad_threshold")
        if self.max_consecutive_errors < 1:
            raise InvalidInput(
                "max_consecutive_errors must be at least 1", field="max_consecutive_errors"
            )

    @property
    def barge_in_on_wake(self) -> bool:
        """The wake word interrupts a reply."""
        return self.barge_in is BargeIn.WAKE

    @property
    def barge_in_on_speech(self) -> bool:
        """Any speech interrupts a reply."""
        return self.barge_in is BargeIn.SPEECH

    def segmenter_options(self, window_seconds: float | None) -> SegmenterOptions:
        """Segmenter timing for a listening window (None: no limit on waiting)."""
        return SegmenterOptions(
            speech_seconds=self.speech_seconds,
            silence_seconds=self.silence_seconds,
            min_speech_seconds=self.min_speech_seconds,
            max_command_seconds=self.max_utterance_seconds,
            no_speech_seconds=window_seconds,
            reset_seconds=self.reset_seconds,
        )

    def barge_in_segmenter_options(self) -> SegmenterOptions:
        """Segmenter timing that tells speech over a reply (barge-in on speech)."""
        return SegmenterOptions(
            speech_seconds=self.barge_in_speech_seconds,
            reset_seconds=self.reset_seconds,
            max_command_seconds=None,
            no_speech_seconds=None,
        )


@dataclass(frozen=True)
class AlertOptions:
    """How a fired timer or reminder is announced on the speaker (``Announcer``)."""

    repeats: int = 3
    """Times the chime and the spoken alert are played, unless stopped sooner."""
    pause_seconds: float = 2.0
    """Silence between two repeats."""
    poll_seconds: float = 0.1
    """While the voice loop listens or answers, how often to look whether it is done."""

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise InvalidInput("repeats must be at least 1", field="repeats")
        if not self.pause_seconds >= 0:
            raise InvalidInput("pause_seconds must not be negative", field="pause_seconds")
        if not self.poll_seconds > 0:
            raise InvalidInput("poll_seconds must be positive", field="poll_seconds")
