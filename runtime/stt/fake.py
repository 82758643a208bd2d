"""A speech recogniser for tests, benchmarks and demos: no weights, same Protocol."""

from __future__ import annotations

import time
from collections.abc import Callable

from hal.audio import AudioChunk
from runtime.stt.base import TranscribeOptions, Transcript


class FakeSpeechToText:
    """Answers each transcription with the next line of a script; the last line repeats.

    An exception in the script is raised instead of answering (a failing engine). With
    ``seconds``, each call takes that long through ``sleep`` (a manual clock's
    ``advance`` keeps tests deterministic).
    """

    def __init__(
        self,
        *script: str | Exception,
        model_id: str = "fake-stt:1",
        language: str = "en",
        seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model_id = model_id
        self.sample_rate = 16_000
        self.script = list(script) or ["hello"]
        """What is still to be answered, in order."""
        self.language = language
        """Language of every transcript."""
        self.seconds = seconds
        """Time each transcription takes."""
        self.sleep = sleep
        self.heard: list[AudioChunk] = []
        """Every utterance it was given."""
        self.options: list[TranscribeOptions] = []
        """The options of every call."""
        self.closed = False

    def transcribe(self, audio: AudioChunk, options: TranscribeOptions) -> Transcript:
        """The script's next answer, as a transcript as long as ``audio``."""
        self.heard.append(audio)
        self.options.append(options)
        if self.seconds:
            self.sleep(self.seconds)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return Transcript(answer, self.language, 1.0, (), audio.seconds)

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True
