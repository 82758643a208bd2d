"""A tiny, deterministic CTranslate2 translator for tests (it translates into nonsense).

``make_tiny_ct2_translator`` writes a Transformer with seeded random weights (numpy only, no
torch) and SentencePiece models trained on a small generated corpus, in the layout the
translation engine reads:

- ``style="nllb"``: ``model.bin``, ``config.json``, ``shared_vocabulary.json`` (SentencePiece
  pieces plus FLORES-200 language tokens, as NLLB-200 has them) and
  ``sentencepiece.bpe.model``;
- ``style="marian"``: ``model.bin``, ``config.json``, ``shared_vocabulary.json``,
  ``source.spm`` and ``target.spm`` (an opus-mt pair, no language tokens).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

TINY_LANGUAGES = ("eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn")
"""The FLORES-200 language tokens of the tiny NLLB-style model."""

MODEL_DIMENSION = 32
"""Width of the residual stream."""
FEED_FORWARD_DIMENSION = 64
"""Width of the feed-forward layers."""
HEAD_COUNT = 2
"""Attention heads."""
LAYER_COUNT = 1
"""Encoder and decoder layers each."""
SENTENCEPIECE_VOCABULARY = 160
"""Pieces per SentencePiece model."""

_ENGLISH = (
    "the cat sat on the mat",
    "a small dog runs in the park",
    "we read books at night",
    "my friend likes green tea",
    "the weather is cold today",
    "they walk to school every morning",
    "she plays music with her brother",
    "this house has a red door",
)
_FRENCH = (
    "le chat est sur le tapis",
    "un petit chien court dans le parc",
    "nous lisons des livres le soir",
    "mon ami aime le thé vert",
    "il fait froid aujourd'hui",
    "ils marchent à l'école chaque matin",
    "elle joue de la musique avec son frère",
    "cette maison a une porte rouge",
)


def tiny_corpus(seed: int, lines: tuple[str, ...], count: int = 200) -> list[str]:
    """Sentences made by shuffling the words of ``lines``; the same for the same seed."""
    rng = np.random.default_rng(seed)
    words = sorted({word for line in lines for word in line.split()})
    corpus = list(lines)
    for _ in range(count - len(lines)):
        length = int(rng.integers(3, 9))
        corpus.append(" ".join(words[int(i)] for i in rng.integers(0, len(words), length)))
    return corpus


def train_sentencepiece(corpus: list[str], vocab_size: int = SENTENCEPIECE_VOCABULARY) -> bytes:
    """A BPE SentencePiece model trained on ``corpus`` (single-threaded: deterministic)."""
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def pieces(model: bytes) -> list[str]:
    """The pieces of a SentencePiece model after its ``<unk>``, ``<s>`` and ``</s>``."""
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_proto=model)
    return [processor.id_to_piece(i) for i in range(3, processor.get_piece_size())]


def make_tiny_ct2_translator(directory: Path, seed: int = 0, style: str = "nllb") -> Path:
    """Write the tiny translator into ``directory`` (created; must not hold a model yet)."""
    if style not in ("nllb", "marian"):
        raise ValueError(f"unknown style {style!r}; use 'nllb' or 'marian'")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if style == "nllb":
        model = train_sentencepiece(tiny_corpus(seed, _ENGLISH + _FRENCH, 400))
        (directory / "sentencepiece.bpe.model").write_bytes(model)
        # NLLB-200's order: fairseq specials, the pieces, the language tokens, <mask>.
        tokens = ["<s>", "<pad>", "</s>", "<unk>", *pieces(model), *TINY_LANGUAGES, "<mask>"]
        unwanted = {"<s>", "<pad>", "<unk>", "<mask>", *TINY_LANGUAGES}
    else:
        source = train_sentencepiece(tiny_corpus(seed, _ENGLISH))
        target = train_sentencepiece(tiny_corpus(seed + 1, _FRENCH))
        (directory / "source.spm").write_bytes(source)
        (directory / "target.spm").write_bytes(target)
        tokens = ["</s>", "<unk>", *dict.fromkeys([*pieces(source), *pieces(target)])]
        # Only target pieces may come out of the decoder.
        output_pieces = set(pieces(target))
        unwanted = {piece for piece in tokens[2:] if piece not in output_pieces}
    spec = _transformer_spec(style, seed, tokens, unwanted)
    spec.register_source_vocabulary(tokens)
    spec.register_target_vocabulary(tokens)
    # NLLB and opus-mt both start decoding from </s>; Marian has no <s>.
    specials = {"unk": "<unk>", "eos": "</s>", "decoder_start": "</s>"}
    specials["bos"] = "<s>" if style == "nllb" else "</s>"
    for role, text in specials.items():
        setattr(spec.config, f"{role}_token", text)
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(directory))
    log.debug("wrote tiny %s translator to %s", style, directory)
    return directory


def _transformer_spec(style: str, seed: int, tokens: list[str], unwanted: set[str]) -> Any:
    from ctranslate2.specs import common_spec, transformer_spec

    marian = style == "marian"
    spec = transformer_spec.TransformerSpec.from_config(
        LAYER_COUNT,
        HEAD_COUNT,
        pre_norm=not marian,  # NLLB is pre-norm; Marian is post-norm
        activation=common_spec.Activation.SWISH if marian else common_spec.Activation.RELU,
    )
    rng = np.random.default_rng(seed)
    width, ffn, vocab_size = MODEL_DIMENSION, FEED_FORWARD_DIMENSION, len(tokens)

    def array(*shape: int, scale: float = 1.0) -> npt.NDArray[np.float32]:
        values: npt.NDArray[np.float32] = (rng.standard_normal(shape) * scale).astype(np.float32)
        return values

    def linear(layer: Any, outputs: int, inputs: int) -> None:
        layer.weight = array(outputs, inputs, scale=inputs**-0.5)
        layer.bias = array(outputs, scale=0.02)

    def norm(layer: Any) -> None:
        layer.gamma = np.ones(width, np.float32)
        layer.beta = np.zeros(width, np.float32)

    # One embedding shared by encoder, decoder and output projection, as NLLB and opus-mt.
    embeddings = array(vocab_size, width, scale=width**-0.5)
    spec.encoder.embeddings[0].weight = embeddings
    spec.decoder.embeddings.weight = embeddings
    spec.decoder.projection.weight = embeddings
    for stack in (spec.encoder, spec.decoder):
        if hasattr(stack, "layer_norm"):
            norm(stack.layer_norm)
        for layer in stack.layer:
            norm(layer.self_attention.layer_norm)
            linear(layer.self_attention.linear[0], 3 * width, width)
            linear(layer.self_attention.linear[1], width, width)
            if hasattr(layer, "attention"):
                norm(layer.attention.layer_norm)
                linear(layer.attention.linear[0], width, width)
                linear(layer.attention.linear[1], 2 * width, width)
                linear(layer.attention.linear[2], width, width)
            norm(layer.ffn.layer_norm)
            linear(layer.ffn.linear_0, ffn, width)
            linear(layer.ffn.linear_1, width, ffn)
    # Keep unwanted tokens out of the output, and discourage ending at once.
    bias = np.array(
        [-10.0 if piece in unwanted else -2.0 if piece == "</s>" else 0.0 for piece in tokens],
        np.float32,
    )
    spec.decoder.projection.bias = bias
    if marian:
        spec.decoder.start_from_zero_embedding = True
    return spec
