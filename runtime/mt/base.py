"""The machine-translation capability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TranslateOptions:
    """Options for one batch."""

    beam_size: int = 4
    """Beam width; 1 is greedy."""
    max_decoding_length: int = 256
    """Most tokens per translated sentence."""
    source_context: str | None = None
    """Text that came before the batch's sentences, in the source language: engines that
    can read it put it before each sentence (so pronouns and terms stay consistent)."""
    target_context: str | None = None
    """The translation of ``source_context``: forced as the start of each output, then cut
    from it (CTranslate2's target prefix)."""


@dataclass(frozen=True)
class Translation:
    """One translated sentence."""

    text: str
    """The translation."""
    score: float
    """Average log-probability per token (higher is more confident)."""


class Translator(Protocol):
    """A loaded translation model."""

    model_id: str
    languages: tuple[str, ...]

    def translate_batch(
        self, texts: Sequence[str], source: str, target: str, options: TranslateOptions
    ) -> list[Translation]:
        """Translate sentences from ``source`` to ``target`` (the model's language codes)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
