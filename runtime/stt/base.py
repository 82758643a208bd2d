"""The speech-to-text capability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hal.audio import AudioChunk


@dataclass(frozen=True)
class TranscribeOptions:
    """Options for one transcription."""

    language: str | None = None
    """ISO 639-1 code, or None to detect it."""
    initial_prompt: str | None = None
    """Text that primes vocabulary and style."""
    beam_size: int = 1
    """1 = greedy decoding."""
    shorten_audio_context: bool = True
    """Encode only as much of whisper's 30 s window as the clip needs (faster on short clips)."""
    task: str = "transcribe"
    """``transcribe`` (text in the language spoken) or ``translate`` (Whisper's own task:
    English text from speech in any language; multilingual models only)."""


@dataclass(frozen=True)
class Segment:
    """A timed piece of the transcript."""

    start: float
    """Seconds from the start of the audio."""
    end: float
    """Seconds from the start of the audio."""
    text: str
    """What was said."""


@dataclass(frozen=True)
class Transcript:
    """The result of a transcription."""

    text: str
    """The whole text, segments joined."""
    language: str
    """Language spoken (given or detected)."""
    language_probability: float
    """Confidence of the detection (1.0 when the language was given)."""
    segments: tuple[Segment, ...]
    """Timed segments."""
    duration: float
    """Seconds of audio transcribed."""
    language_probabilities: tuple[tuple[str, float], ...] = ()
    """The likeliest languages with their probabilities, likeliest first, when the
    language was detected (empty when it was given or the engine does not tell)."""


class SpeechToText(Protocol):
    """A loaded speech recogniser taking 16 kHz mono 16-bit audio."""

    model_id: str
    sample_rate: int

    def transcribe(self, audio: AudioChunk, options: TranscribeOptions) -> Transcript:
        """Transcribe one utterance or file."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


TASKS = ("transcribe", "translate")
"""What a Whisper model can be asked to do."""


def check_task(options: TranscribeOptions, model_id: str, *, multilingual: bool) -> None:
    """Raise UnsupportedInput for a task the model cannot do (translation needs a
    multilingual model: an English-only one only ever writes English it heard)."""
    from runtime.errors import UnsupportedInput

    if options.task not in TASKS:
        raise UnsupportedInput(f"task must be one of {', '.join(TASKS)}", field="task")
    if options.task == "translate" and not multilingual:
        raise UnsupportedInput(
            f"Model {model_id!r} is English only: speech translation needs a multilingual"
            " Whisper model (whisper:base, whisper:base-ct2)",
            field="task",
        )
