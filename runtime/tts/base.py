"""The text-to-speech capability."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from hal.audio import AudioChunk


@dataclass(frozen=True)
class SynthesisOptions:
    """Options for one synthesis."""

    speaker_id: int | None = None
    """Speaker of a multi-speaker voice."""
    rate: float = 1.0
    """Speaking rate: 1.0 normal, 1.5 faster, 0.75 slower."""
    language: str | None = None
    """ISO 639-1 code to speak in, for voices that speak many (espeak-ng); a one-language
    voice ignores it."""
    urgent: bool = False
    """Someone is waiting for this audio now (a spoken reply's first piece): engines that
    share the thread policy wait while it is made (``runtime.cpu``)."""


class TextToSpeech(Protocol):
    """A loaded voice."""

    model_id: str
    sample_rate: int

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak ``text``: one 16-bit mono chunk per sentence, as each is made."""
        ...

    def close(self) -> None:
        """Free the voice."""
        ...
