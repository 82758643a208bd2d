"""Translate with CTranslate2: NLLB-200 (many languages) and Marian/opus-mt (one pair).

``style="nllb"``: the source is ``[source code] + pieces + ["</s>"]`` and decoding starts
from the target prefix ``[target code]`` (FLORES-200 codes such as ``eng_Latn``); one
``sentencepiece.bpe.model`` serves both sides. ``style="marian"``: ``source.spm`` and
``target.spm`` tokenize each side and there are no language tokens; the model translates
the one pair named by the ``source_language`` and ``target_language`` parameters.

Scores are average log-probabilities per generated token (end token included, target prefix
excluded), recovered from CTranslate2's length-normalised hypothesis scores.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled, UnsupportedInput
from runtime.mt.base import TranslateOptions, Translation
from runtime.mt.languages import is_flores_code, to_flores
from runtime.params import parse_params

log = logging.getLogger(__name__)

STYLES = ("nllb", "marian")
"""Model families the engine knows."""

MODEL_FILES: dict[str, tuple[str, ...]] = {
    "nllb": ("model.bin", "config.json", "sentencepiece.bpe.model"),
    "marian": ("model.bin", "config.json", "source.spm", "target.spm"),
}
"""Files each style needs in the model folder."""

VOCABULARY_FILES = (
    "shared_vocabulary.json",
    "shared_vocabulary.txt",
    "source_vocabulary.json",
    "source_vocabulary.txt",
)
"""Where CTranslate2 converters write the (source) vocabulary, newest layout first."""

END_OF_SENTENCE = "</s>"
"""End of sentence in NLLB and Marian vocabularies."""


@dataclass(frozen=True)
class CTranslate2TranslatorParams:
    """Load-time parameters of a CTranslate2 translator."""

    style: str = "nllb"
    """``nllb`` (FLORES-200 language tokens) or ``marian`` (one opus-mt pair)."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``auto``."""
    compute_type: str = "default"
    """Weight type at run time (``default`` keeps the converted one, e.g. int8)."""
    threads: int = 0
    """Intra-op threads; 0 uses every core."""
    max_batch_size: int = 32
    """Sentences translated together; longer batches are split."""
    source_language: str | None = None
    """Marian only: the pair's source language code."""
    target_language: str | None = None
    """Marian only: the pair's target language code."""

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown style {self.style!r}; use nllb or marian")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError("device must be cpu, cuda or auto")
        if self.threads < 0:
            raise ValueError("threads must be 0 (all cores) or positive")
        if self.max_batch_size < 1:
            raise ValueError("max_batch_size must be positive")
        if self.style == "marian" and not (self.source_language and self.target_language):
            raise ValueError("a marian model needs source_language and target_language")


class SentencePieceTokenizer(Protocol):
    """The part of ``sentencepiece.SentencePieceProcessor`` the engine uses."""

    def encode(self, input: Any, *, out_type: Any) -> Any:
        """Pieces of each text (``out_type=str``)."""
        ...

    def decode(self, input: Any) -> Any:
        """Text of a list of pieces."""
        ...


def language_tokens(vocabulary: Sequence[str]) -> tuple[str, ...]:
    """The FLORES-200 language tokens of an NLLB vocabulary, in vocabulary order."""
    return tuple(token for token in vocabulary if is_flores_code(token))


def resolve_language(code: str, languages: Sequence[str], field: str) -> str:
    """The model's code for ``code`` (its own code, an ISO 639-1 code or a BCP 47 tag)."""
    if code in languages:
        return code
    flores = to_flores(code)
    for language in languages:
        if flores is not None and to_flores(language) == flores:
            return language
    shown = ", ".join(languages[:8]) + (", ..." if len(languages) > 8 else "")
    raise UnsupportedInput(
        f"language {code!r} is not supported by this model ({shown})", field=field
    )


def validate_translate_options(options: TranslateOptions) -> None:
    """Raise UnsupportedInput for options CTranslate2 cannot honour."""
    if options.beam_size < 1:
        raise UnsupportedInput("beam_size must be at least 1", field="beam_size")
    if options.max_decoding_length < 1:
        raise UnsupportedInput(
            "max_decoding_length must be at least 1", field="max_decoding_length"
        )


def hypothesis_pieces(tokens: Sequence[str], prefix: Sequence[str]) -> list[str]:
    """The translated pieces: target prefix and end token removed."""
    pieces = list(tokens)
    if prefix and pieces[: len(prefix)] == list(prefix):
        pieces = pieces[len(prefix) :]
    if pieces and pieces[-1] == END_OF_SENTENCE:
        pieces.pop()
    return pieces


def per_token_score(score: float, hypothesis_length: int, prefix_length: int) -> float:
    """Average log-probability per generated token from a CTranslate2 hypothesis score.

    With ``length_penalty=1`` CTranslate2 divides the summed log-probabilities of the
    generated tokens by the whole hypothesis length, forced target prefix included; the
    prefix tokens are not generated, so they are taken back out of the divisor.
    """
    total = score * hypothesis_length
    return total / max(hypothesis_length - prefix_length, 1)


def read_vocabulary(model_dir: Path) -> list[str] | None:
    """The source vocabulary a converter wrote, or None if there is none."""
    for name in VOCABULARY_FILES:
        path = model_dir / name
        if path.is_file():
            if name.endswith(".json"):
                tokens: list[str] = json.loads(path.read_text(encoding="utf-8"))
                return tokens
            return path.read_text(encoding="utf-8").splitlines()
    return None


class CTranslate2Translator:
    """A CTranslate2 sequence-to-sequence translator with SentencePiece tokenizers."""

    def __init__(
        self,
        model_id: str,
        translator: Any,
        source_tokenizer: SentencePieceTokenizer,
        target_tokenizer: SentencePieceTokenizer,
        *,
        style: str,
        languages: tuple[str, ...],
        max_batch_size: int = 32,
    ) -> None:
        self.model_id = model_id
        self.languages = languages
        self._translator: Any = translator
        self._source_tokenizer = source_tokenizer
        self._target_tokenizer = target_tokenizer
        self._style = style
        self.style = style
        """``nllb`` (every pair of ``languages``) or ``marian`` (``languages[0]`` to ``[1]``)."""
        self._max_batch_size = max_batch_size

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> CTranslate2Translator:
        """Load a converted model folder (``model.bin``, ``config.json``, tokenizer files)."""
        parsed = parse_params(CTranslate2TranslatorParams, params, model_id)
        model_dir = Path(model_dir)
        missing = [name for name in MODEL_FILES[parsed.style] if not (model_dir / name).is_file()]
        if missing:
            log.warning("model %s lacks %s in %s", model_id, ", ".join(missing), model_dir)
            raise ModelNotInstalled(model_id)
        if parsed.style == "nllb":
            vocabulary = read_vocabulary(model_dir)
            if vocabulary is None:
                raise ModelNotInstalled(model_id)
            languages = language_tokens(vocabulary)
            if not languages:
                raise ModelLoadFailed(f"model {model_id!r} has no FLORES-200 language tokens")
            tokenizer_files = ("sentencepiece.bpe.model", "sentencepiece.bpe.model")
        else:
            assert parsed.source_language and parsed.target_language
            languages = (parsed.source_language, parsed.target_language)
            tokenizer_files = ("source.spm", "target.spm")
        import ctranslate2
        import sentencepiece

        try:
            translator = ctranslate2.Translator(
                str(model_dir),
                device=parsed.device,
                compute_type=parsed.compute_type,
                inter_threads=1,
                intra_threads=parsed.threads or os.cpu_count() or 1,
            )
            source, target = (
                sentencepiece.SentencePieceProcessor(model_file=str(model_dir / name))
                for name in tokenizer_files
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelLoadFailed(f"CTranslate2 could not load {model_id!r}: {exc}") from exc
        log.info("loaded %s (%s, %d languages)", model_id, parsed.style, len(languages))
        return cls(
            model_id,
            translator,
            source,
            target,
            style=parsed.style,
            languages=languages,
            max_batch_size=parsed.max_batch_size,
        )

    def translate_batch(
        self, texts: Sequence[str], source: str, target: str, options: TranslateOptions
    ) -> list[Translation]:
        """Translate sentences; language codes may be the model's or ISO 639-1."""
        validate_translate_options(options)
        if self._style == "nllb":
            source_code = resolve_language(source, self.languages, "source")
            target_code = resolve_language(target, self.languages, "target")
            source_prefix, target_prefix = [source_code], [target_code]
        else:
            resolve_language(source, self.languages[:1], "source")
            resolve_language(target, self.languages[1:], "target")
            source_prefix, target_prefix = [], []
        if not texts:
            return []
        translator = require_open(self._translator, self.model_id)
        pieces: list[list[str]] = self._source_tokenizer.encode(list(texts), out_type=str)
        if options.source_context and options.target_context:
            # The context goes before each sentence on the source side, and its translation
            # is forced as the start of the output, which hypothesis_pieces then cuts off.
            context: list[str] = self._source_tokenizer.encode(options.source_context, out_type=str)
            pieces = [[*context, *sentence] for sentence in pieces]
            target_prefix = [
                *target_prefix,
                *self._target_tokenizer.encode(options.target_context, out_type=str),
            ]
        batch = [[*source_prefix, *sentence, END_OF_SENTENCE] for sentence in pieces]
        try:
            results = translator.translate_batch(
                batch,
                target_prefix=[target_prefix] * len(batch) if target_prefix else None,
                beam_size=options.beam_size,
                max_decoding_length=options.max_decoding_length + len(target_prefix),
                max_batch_size=self._max_batch_size,
                length_penalty=1.0,
                return_scores=True,
                return_end_token=True,
            )
        except (RuntimeError, ValueError) as exc:
            raise EngineError(f"CTranslate2 failed to translate: {exc}") from exc
        translations = []
        for result in results:
            tokens = list(result.hypotheses[0])
            text = str(self._target_tokenizer.decode(hypothesis_pieces(tokens, target_prefix)))
            score = per_token_score(float(result.scores[0]), len(tokens), len(target_prefix))
            translations.append(Translation(text=text, score=score))
        return translations

    def close(self) -> None:
        """Free the model."""
        self._translator = None
