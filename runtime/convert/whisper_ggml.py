"""Convert a CTranslate2 Whisper model (faster-whisper layout) to whisper.cpp's ggml format.

numpy only: the CTranslate2 ``model.bin`` is read by ``runtime.convert.ct2``, each
tensor whisper.cpp loads is taken from its CTranslate2 variable (renamed, and cut out of
the fused attention projections: ``ct2_source``), and ``runtime.convert.ggml`` writes
the file as whisper.cpp's ``models/convert-pt-to-ggml.py`` would.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from runtime.convert.ct2 import Ct2Index, Ct2Reader, read_ct2_index
from runtime.convert.ggml import GgmlWriter, WhisperHparams, mel_filterbank, whisper_tensor_names
from runtime.errors import UnsupportedInput
from runtime.files import atomic_write

log = logging.getLogger(__name__)

CT2_SPEC_NAME = "WhisperSpec"

ProgressCallback = Callable[[int, int], None]


# --- where each whisper.cpp tensor comes from ---------------------------------------------


@dataclass(frozen=True)
class TensorSource:
    """Where one whisper.cpp tensor comes from in the CTranslate2 model."""

    ct2_name: str
    """CTranslate2 variable name (``encoder/layer_0/self_attention/linear_0/weight``)."""
    part: int = 0
    """Which of ``parts`` equal row blocks to take (CTranslate2 fuses q/k/v)."""
    parts: int = 1
    """Into how many equal row blocks the variable is cut."""


_STEMS = {
    "encoder.positional_embedding": "encoder/position_encodings/encodings",
    "decoder.positional_embedding": "decoder/position_encodings/encodings",
    "decoder.token_embedding.weight": "decoder/embeddings/weight",
}
"""Tensors outside the blocks that are not a weight/bias pair."""
_SCOPES = {"conv1": "conv1", "conv2": "conv2", "ln_post": "layer_norm", "ln": "layer_norm"}
"""Modules outside the blocks: ggml name -> CTranslate2 scope under the side."""
# Inside a block: ggml module -> (CTranslate2 scope under the layer, part, parts).
# Self-attention fuses q, k, v in linear_0 (3 row blocks), output in linear_1.
# Cross-attention has q in linear_0, k and v fused in linear_1 (2 blocks), output in
# linear_2. The key bias block is never taken: Whisper has none (CTranslate2 stores
# zeros), whisper.cpp has no tensor for one, and softmax ignores it anyway (it adds the
# same number to every score of a query).
_BLOCK_SCOPES: dict[str, tuple[str, int, int]] = {
    "attn.query": ("self_attention/linear_0", 0, 3),
    "attn.key": ("self_attention/linear_0", 1, 3),
    "attn.value": ("self_attention/linear_0", 2, 3),
    "attn.out": ("self_attention/linear_1", 0, 1),
    "attn_ln": ("self_attention/layer_norm", 0, 1),
    "cross_attn.query": ("attention/linear_0", 0, 1),
    "cross_attn.key": ("attention/linear_1", 0, 2),
    "cross_attn.value": ("attention/linear_1", 1, 2),
    "cross_attn.out": ("attention/linear_2", 0, 1),
    "cross_attn_ln": ("attention/layer_norm", 0, 1),
    "mlp.0": ("ffn/linear_0", 0, 1),
    "mlp.2": ("ffn/linear_1", 0, 1),
    "mlp_ln": ("ffn/layer_norm", 0, 1),
}
_NORM_ATTRIBUTES = {"weight": "gamma", "bias": "beta"}
_GGML_NAME = re.compile(r"^(encoder|decoder)\.(?:blocks\.(\d+)\.)?(.+)\.(weight|bias)$")


def ct2_source(name: str) -> TensorSource:
    """Where the whisper.cpp tensor ``name`` comes from in a CTranslate2 Whisper model."""
    if name in _STEMS:
        return TensorSource(_STEMS[name])
    match = _GGML_NAME.match(name)
    if match is None:
        raise UnsupportedInput(f"{name} is not a whisper.cpp tensor name")
    side, block, module, attribute = match.groups()
    try:
        if block is None:
            scope, part, parts = f"{side}/{_SCOPES[module]}", 0, 1
        else:
            where, part, parts = _BLOCK_SCOPES[module]
            scope = f"{side}/layer_{block}/{where}"
    except KeyError as exc:
        raise UnsupportedInput(f"{name} is not a whisper.cpp tensor name") from exc
    if scope.endswith("layer_norm"):
        attribute = _NORM_ATTRIBUTES[attribute]
    return TensorSource(f"{scope}/{attribute}", part, parts)


def ggml_tensor_plan(n_audio_layer: int, n_text_layer: int) -> list[tuple[str, TensorSource]]:
    """Every tensor whisper.cpp loads, in file order, with its CTranslate2 source."""
    return [(name, ct2_source(name)) for name in whisper_tensor_names(n_audio_layer, n_text_layer)]


def split_rows(array: npt.NDArray[Any], part: int, parts: int) -> npt.NDArray[Any]:
    """Row block ``part`` of ``parts`` equal blocks along the first axis."""
    rows = array.shape[0]
    if rows % parts:
        raise UnsupportedInput(f"cannot cut {rows} rows into {parts} equal parts")
    size = rows // parts
    return array[part * size : (part + 1) * size]


# --- header and vocabulary ----------------------------------------------------------------


_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/")


def whisper_hparams(
    shapes: Mapping[str, tuple[int, ...]], encoder_heads: int, decoder_heads: int
) -> WhisperHparams:
    """The header from the CTranslate2 variable shapes and head counts."""
    layers: dict[str, set[int]] = {"encoder": set(), "decoder": set()}
    for name in shapes:
        match = _LAYER.match(name)
        if match:
            layers[match.group(1)].add(int(match.group(2)))
    for side, found in layers.items():
        if found != set(range(len(found))):
            raise UnsupportedInput(f"{side} layers are not numbered 0..n-1: {sorted(found)}")
    try:
        conv1 = shapes["encoder/conv1/weight"]
        embeddings = shapes["decoder/embeddings/weight"]
        return WhisperHparams(
            n_vocab=embeddings[0],
            n_audio_ctx=shapes["encoder/position_encodings/encodings"][0],
            n_audio_state=conv1[0],
            n_audio_head=encoder_heads,
            n_audio_layer=len(layers["encoder"]),
            n_text_ctx=shapes["decoder/position_encodings/encodings"][0],
            n_text_state=embeddings[1],
            n_text_head=decoder_heads,
            n_text_layer=len(layers["decoder"]),
            n_mels=conv1[1],
        )
    except (KeyError, IndexError) as exc:
        raise UnsupportedInput(f"not a CTranslate2 Whisper model: no usable {exc}") from exc


@cache
def _byte_decoder() -> dict[str, int]:
    # GPT-2's reversible byte <-> printable character table (openai/gpt-2 encoder.py).
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars, strict=True)}


def token_bytes(token: str) -> bytes:
    """The raw bytes of one byte-level BPE token as stored in ``vocabulary.txt``."""
    decoder = _byte_decoder()
    try:
        return bytes(decoder[char] for char in token)
    except KeyError as exc:
        raise UnsupportedInput(f"vocabulary token {token!r} is not byte-level BPE") from exc


def ggml_vocabulary(tokens: list[str]) -> list[bytes]:
    """The ordinary tokens whisper.cpp reads from the file: all before ``<|endoftext|>``.

    whisper.cpp names the special and timestamp tokens itself from their ids, as with the
    files made by its own converter.
    """
    try:
        end = tokens.index("<|endoftext|>")
    except ValueError as exc:
        raise UnsupportedInput("vocabulary.txt has no <|endoftext|> token") from exc
    return [token_bytes(token) for token in tokens[:end]]


# --- the conversion -----------------------------------------------------------------------


VOCABULARY_FILES = ("vocabulary.json", "vocabulary.txt")
"""CTranslate2 writes the JSON list since 3.x; older conversions have one token a line."""


def _check_source(source_dir: Path) -> tuple[Path, Path]:
    if not source_dir.is_dir():
        raise UnsupportedInput(f"{source_dir} is not a folder", field="source_dir")
    model_bin = source_dir / "model.bin"
    vocabularies = [source_dir / name for name in VOCABULARY_FILES]
    missing = [] if model_bin.is_file() else ["model.bin"]
    if not any(p.is_file() for p in vocabularies):
        missing.append(" or ".join(VOCABULARY_FILES))
    if missing:
        raise UnsupportedInput(
            f"{source_dir} is not a CTranslate2 Whisper model (faster-whisper layout):"
            f" missing {', '.join(missing)}",
            field="source_dir",
        )
    return model_bin, next(p for p in vocabularies if p.is_file())


def _read_vocabulary(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            tokens = json.loads(text)
        except ValueError as exc:
            raise UnsupportedInput(f"{path} is not valid JSON") from exc
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise UnsupportedInput(f"{path} is not a list of tokens")
        return tokens
    # One token per line; byte-level BPE never contains a raw newline, but other
    # characters that str.splitlines() would break on (U+0085...) can occur.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _check_projection(reader: Ct2Reader, index: Ct2Index) -> None:
    # whisper.cpp ties the output projection to the token embedding, like Whisper.
    name = "decoder/projection/weight"
    if index.aliases.get(name) == "decoder/embeddings/weight" or not reader.has(name):
        return
    if not np.array_equal(reader.floats(name), reader.floats("decoder/embeddings/weight")):
        raise UnsupportedInput("the model's output projection is not tied to its token embedding")


def convert_whisper_ct2_to_ggml(
    source_dir: Path, target: Path, *, progress: ProgressCallback | None = None
) -> None:
    """Write ``target`` (a whisper.cpp ggml model) from a CTranslate2 Whisper folder.

    ``source_dir`` holds ``model.bin`` and ``vocabulary.txt`` (or ``.json``) as
    faster-whisper uses them.
    The file appears atomically; the same input gives the same bytes. ``progress`` is
    called with (tensors written, tensors in all) after each tensor.
    """
    model_bin, vocabulary_txt = _check_source(source_dir)
    index = read_ct2_index(model_bin)
    if index.spec != CT2_SPEC_NAME:
        raise UnsupportedInput(
            f"{source_dir} holds a CTranslate2 {index.spec or 'unnamed'} model,"
            f" not {CT2_SPEC_NAME}",
            field="source_dir",
        )
    reader = Ct2Reader(model_bin, index)
    try:
        shapes = {name: v.shape for name, v in index.variables.items()}
        prescaled = sorted(name for name in shapes if name.endswith("/queries_scale"))
        if prescaled:
            raise UnsupportedInput(f"{prescaled[0]}: pre-scaled attention is not supported")
        hparams = whisper_hparams(
            shapes, reader.scalar("encoder/num_heads"), reader.scalar("decoder/num_heads")
        )
        tokens = _read_vocabulary(vocabulary_txt)
        if len(tokens) != hparams.n_vocab:
            raise UnsupportedInput(
                f"{vocabulary_txt.name} has {len(tokens)} tokens but the model {hparams.n_vocab}"
            )
        vocabulary = ggml_vocabulary(tokens)
        _check_projection(reader, index)
        plan = ggml_tensor_plan(hparams.n_audio_layer, hparams.n_text_layer)
        log.info(
            "Converting %s to %s: %d tensors, %d tokens", source_dir, target, len(plan), len(tokens)
        )
        with atomic_write(target) as out:
            writer = GgmlWriter(out)
            writer.write_header(hparams, mel_filterbank(hparams.n_mels), vocabulary)
            for done, (name, source) in enumerate(plan, start=1):
                data = split_rows(reader.floats(source.ct2_name), source.part, source.parts)
                if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                    data = data.reshape(-1, 1)  # whisper.cpp's conv biases are 2-D
                writer.write_tensor(name, data)
                if progress is not None:
                    progress(done, len(plan))
    finally:
        reader.close()
