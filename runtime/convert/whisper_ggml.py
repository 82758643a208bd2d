"""Convert a CTranslate2 Whisper model (faster-whisper layout) to whisper.cpp's ggml format.

numpy only: CTranslate2's ``model.bin`` is parsed here (the layout written by
``ctranslate2/specs/model_spec.py`` ``_serialize``), the tensors are renamed and split
into the names of OpenAI's checkpoint that whisper.cpp expects, the mel filterbank is
computed (librosa's Slaney formula, as OpenAI's ``mel_filters.npz``), and the file is
written the way whisper.cpp's ``models/convert-pt-to-ggml.py`` writes it:

    int32 magic "ggml", 11 int32 hparams (the last is ftype: 1 = mostly f16)
    int32 n_mels, int32 n_freqs, float32 filters[n_mels][n_freqs]
    int32 n_tokens, then per token: int32 length, bytes
    per tensor: int32 n_dims, int32 name length, int32 type (0 = f32, 1 = f16),
                int32 dims (innermost first), name bytes, data
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from runtime.errors import UnsupportedInput
from runtime.files import atomic_write

log = logging.getLogger(__name__)

GGML_MAGIC = 0x67676D6C
"""``ggml`` in ASCII, read as a little-endian int32 by whisper.cpp."""
GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1

SAMPLE_RATE = 16_000
N_FFT = 400

CT2_SPEC_NAME = "WhisperSpec"
CT2_BINARY_VERSIONS = (4, 5, 6)
"""Versions with a dtype id per variable (4+); 6 is current as of CTranslate2 4.x."""

# Order of the DataType enum in CTranslate2's include/ctranslate2/types.h.
_CT2_DTYPES: dict[int, str] = {
    0: "<f4",
    1: "<i1",
    2: "<i2",
    3: "<i4",
    4: "<f2",
    5: "<u2",  # bfloat16: widened to float32 by _as_float32
}
_CT2_BFLOAT16 = 5

ProgressCallback = Callable[[int, int], None]


# --- pure parts -------------------------------------------------------------------------


def mel_filterbank(
    n_mels: int = 80, *, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE
) -> npt.NDArray[np.float32]:
    """Slaney-style mel filters, shape ``(n_mels, n_fft // 2 + 1)``, as Whisper uses.

    The same formula as ``librosa.filters.mel(sr, n_fft, n_mels)`` (Slaney mel scale,
    Slaney area normalisation) that produced OpenAI's ``mel_filters.npz``.
    """
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mels = np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), n_mels + 2)
    mel_freqs = _mel_to_hz(mels)
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, np.newaxis] - fft_freqs[np.newaxis, :]
    lower = -ramps[:-2] / widths[:-1, np.newaxis]
    upper = ramps[2:] / widths[1:, np.newaxis]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, np.newaxis]
    return weights.astype(np.float32)


_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = float(np.log(6.4) / 27.0)


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return _MIN_LOG_MEL + float(np.log(hz / _MIN_LOG_HZ)) / _LOG_STEP


def _mel_to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = _F_SP * mels
    logarithmic = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mels - _MIN_LOG_MEL))
    return np.where(mels >= _MIN_LOG_MEL, logarithmic, linear)


@dataclass(frozen=True)
class TensorSource:
    """Where one whisper.cpp tensor comes from in the CTranslate2 model."""

    ct2_name: str
    """CTranslate2 variable name (``encoder/layer_0/self_attention/linear_0/weight``)."""
    part: int = 0
    """Which of ``parts`` equal row blocks to take (CTranslate2 fuses q/k/v)."""
    parts: int = 1
    """Into how many equal row blocks the variable is cut."""


def _linear(ggml: str, ct2: str, part: int = 0, parts: int = 1) -> list[tuple[str, TensorSource]]:
    return [
        (f"{ggml}.weight", TensorSource(f"{ct2}/weight", part, parts)),
        (f"{ggml}.bias", TensorSource(f"{ct2}/bias", part, parts)),
    ]


def _norm(ggml: str, ct2: str) -> list[tuple[str, TensorSource]]:
    return [
        (f"{ggml}.weight", TensorSource(f"{ct2}/gamma")),
        (f"{ggml}.bias", TensorSource(f"{ct2}/beta")),
    ]


def _attention(ggml: str, ct2: str, *, cross: bool) -> list[tuple[str, TensorSource]]:
    # Self-attention: q, k, v fused in linear_0 (3 row blocks), output in linear_1.
    # Cross-attention: q in linear_0, k and v fused in linear_1 (2 blocks), output in
    # linear_2. The key bias block is left out: Whisper has none (CTranslate2 stores
    # zeros), whisper.cpp has no tensor for one, and softmax ignores it anyway (it adds
    # the same number to every score of a query).
    if cross:
        query, key, value = (
            (f"{ct2}/linear_0", 0, 1),
            (f"{ct2}/linear_1", 0, 2),
            (f"{ct2}/linear_1", 1, 2),
        )
        out = f"{ct2}/linear_2"
    else:
        fused = f"{ct2}/linear_0"
        query, key, value = (fused, 0, 3), (fused, 1, 3), (fused, 2, 3)
        out = f"{ct2}/linear_1"
    key_layer, key_part, key_parts = key
    return [
        *_linear(f"{ggml}.query", *query),
        (f"{ggml}.key.weight", TensorSource(f"{key_layer}/weight", key_part, key_parts)),
        *_linear(f"{ggml}.value", *value),
        *_linear(f"{ggml}.out", out),
    ]


def _block(side: str, index: int) -> list[tuple[str, TensorSource]]:
    ggml, ct2 = f"{side}.blocks.{index}", f"{side}/layer_{index}"
    tensors = [
        *_attention(f"{ggml}.attn", f"{ct2}/self_attention", cross=False),
        *_norm(f"{ggml}.attn_ln", f"{ct2}/self_attention/layer_norm"),
    ]
    if side == "decoder":
        tensors += [
            *_attention(f"{ggml}.cross_attn", f"{ct2}/attention", cross=True),
            *_norm(f"{ggml}.cross_attn_ln", f"{ct2}/attention/layer_norm"),
        ]
    return [
        *tensors,
        *_linear(f"{ggml}.mlp.0", f"{ct2}/ffn/linear_0"),
        *_linear(f"{ggml}.mlp.2", f"{ct2}/ffn/linear_1"),
        *_norm(f"{ggml}.mlp_ln", f"{ct2}/ffn/layer_norm"),
    ]


def ggml_tensor_plan(n_audio_layer: int, n_text_layer: int) -> list[tuple[str, TensorSource]]:
    """Every tensor whisper.cpp loads, in file order, with its CTranslate2 source."""
    plan = [
        ("encoder.positional_embedding", TensorSource("encoder/position_encodings/encodings")),
        *_linear("encoder.conv1", "encoder/conv1"),
        *_linear("encoder.conv2", "encoder/conv2"),
    ]
    for index in range(n_audio_layer):
        plan += _block("encoder", index)
    plan += _norm("encoder.ln_post", "encoder/layer_norm")
    plan += [
        ("decoder.positional_embedding", TensorSource("decoder/position_encodings/encodings")),
        ("decoder.token_embedding.weight", TensorSource("decoder/embeddings/weight")),
    ]
    for index in range(n_text_layer):
        plan += _block("decoder", index)
    plan += _norm("decoder.ln", "decoder/layer_norm")
    return plan


_F32_NAMES = frozenset(
    {
        "encoder.conv1.bias",
        "encoder.conv2.bias",
        "encoder.positional_embedding",
        "decoder.positional_embedding",
    }
)


def ggml_type_for(name: str, n_dims: int) -> int:
    """f16 for matrices and conv kernels, f32 for vectors, conv biases and positions.

    The rule of whisper.cpp's ``convert-pt-to-ggml.py``: whisper.cpp allocates these
    tensors with these types and rejects a file whose sizes differ.
    """
    if n_dims < 2 or name in _F32_NAMES:
        return GGML_TYPE_F32
    return GGML_TYPE_F16


@dataclass(frozen=True)
class WhisperHparams:
    """The eleven integers of a ggml Whisper header."""

    n_vocab: int
    """Tokens, special and timestamp tokens included (51864 English-only, 51865+ multilingual)."""
    n_audio_ctx: int
    """Encoder positions (1500 for 30 s)."""
    n_audio_state: int
    """Encoder width."""
    n_audio_head: int
    """Encoder attention heads."""
    n_audio_layer: int
    """Encoder blocks."""
    n_text_ctx: int
    """Decoder positions (448)."""
    n_text_state: int
    """Decoder width."""
    n_text_head: int
    """Decoder attention heads."""
    n_text_layer: int
    """Decoder blocks."""
    n_mels: int
    """Mel bins of the input (80, or 128 for large-v3)."""
    ftype: int = GGML_TYPE_F16
    """1 = matrices stored as f16."""

    def pack(self) -> bytes:
        """The header integers as whisper.cpp reads them (after the magic)."""
        return struct.pack(
            "<11i",
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        )


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


def split_rows(array: npt.NDArray[Any], part: int, parts: int) -> npt.NDArray[Any]:
    """Row block ``part`` of ``parts`` equal blocks along the first axis."""
    rows = array.shape[0]
    if rows % parts:
        raise UnsupportedInput(f"cannot cut {rows} rows into {parts} equal parts")
    size = rows // parts
    return array[part * size : (part + 1) * size]


# --- CTranslate2 model.bin ------------------------------------------------------------


@dataclass(frozen=True)
class Ct2Variable:
    """One variable's place in a CTranslate2 ``model.bin``."""

    name: str
    """Scoped name."""
    shape: tuple[int, ...]
    """Dimensions, outermost first."""
    dtype_id: int
    """CTranslate2 DataType id."""
    offset: int
    """Byte offset of the data in the file."""
    num_bytes: int
    """Byte length of the data."""


@dataclass(frozen=True)
class Ct2Index:
    """The table of contents of a CTranslate2 ``model.bin``."""

    spec: str
    """Spec class name (``WhisperSpec``)."""
    binary_version: int
    """Serialisation version."""
    variables: dict[str, Ct2Variable]
    """Stored variables by name."""
    aliases: dict[str, str]
    """Alias name -> variable name (e.g. the tied output projection)."""


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise UnsupportedInput("CTranslate2 model.bin is truncated")
    return data


def _read_uint(stream: BinaryIO, fmt: str) -> int:
    (value,) = struct.unpack(fmt, _read(stream, struct.calcsize(fmt)))
    return int(value)


def _read_string(stream: BinaryIO) -> str:
    # uint16 length counting a trailing NUL, then the bytes.
    length = _read_uint(stream, "<H")
    raw = _read(stream, length)
    try:
        return raw.rstrip(b"\0").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedInput("CTranslate2 model.bin has a name that is not UTF-8") from exc


def read_ct2_index(path: Path) -> Ct2Index:
    """Parse the table of contents of ``model.bin`` without loading the tensors."""
    with path.open("rb") as stream:
        version = _read_uint(stream, "<I")
        if version not in CT2_BINARY_VERSIONS:
            raise UnsupportedInput(
                f"{path}: CTranslate2 binary version {version} is not supported"
                f" (supported: {', '.join(map(str, CT2_BINARY_VERSIONS))})"
            )
        spec = _read_string(stream)
        _read_uint(stream, "<I")  # spec revision
        variables: dict[str, Ct2Variable] = {}
        for _ in range(_read_uint(stream, "<I")):
            name = _read_string(stream)
            rank = _read_uint(stream, "<B")
            shape = struct.unpack(f"<{rank}I", _read(stream, 4 * rank))
            dtype_id = _read_uint(stream, "<B")
            num_bytes = _read_uint(stream, "<I")
            if dtype_id not in _CT2_DTYPES:
                raise UnsupportedInput(f"{path}: variable {name} has unknown dtype id {dtype_id}")
            offset = stream.tell()
            stream.seek(num_bytes, os.SEEK_CUR)
            variables[name] = Ct2Variable(name, tuple(shape), dtype_id, offset, num_bytes)
        aliases: dict[str, str] = {}
        for _ in range(_read_uint(stream, "<I")):
            alias = _read_string(stream)
            aliases[alias] = _read_string(stream)
        end = stream.tell()
        stream.seek(0, os.SEEK_END)
        if stream.tell() < end or (variables and _data_end(variables) > stream.tell()):
            raise UnsupportedInput(f"{path}: CTranslate2 model.bin is truncated")
    return Ct2Index(spec=spec, binary_version=version, variables=variables, aliases=aliases)


def _data_end(variables: Mapping[str, Ct2Variable]) -> int:
    return max(v.offset + v.num_bytes for v in variables.values())


class _Ct2Reader:
    """Reads variables of a parsed ``model.bin`` as float32 (dequantising int8/int16)."""

    def __init__(self, path: Path, index: Ct2Index) -> None:
        self._index = index
        self._data: npt.NDArray[np.uint8] = np.memmap(path, dtype=np.uint8, mode="r")

    def raw(self, name: str) -> npt.NDArray[np.generic]:
        variable = self._index.variables[self._index.aliases.get(name, name)]
        dtype = np.dtype(_CT2_DTYPES[variable.dtype_id])
        count = variable.num_bytes // dtype.itemsize
        if count != int(np.prod(variable.shape, dtype=np.int64)):
            raise UnsupportedInput(
                f"variable {name}: {variable.num_bytes} bytes for {variable.shape}"
            )
        chunk = self._data[variable.offset : variable.offset + variable.num_bytes]
        array = np.frombuffer(chunk, dtype=dtype).reshape(variable.shape)
        if variable.dtype_id == _CT2_BFLOAT16:
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array

    def has(self, name: str) -> bool:
        return name in self._index.variables or name in self._index.aliases

    def scalar(self, name: str) -> int:
        if not self.has(name):
            raise UnsupportedInput(f"not a CTranslate2 Whisper model: no variable {name}")
        return int(self.raw(name).reshape(-1)[0])

    def floats(self, name: str) -> npt.NDArray[np.float32] | npt.NDArray[np.float16]:
        """The variable as a float array; quantised weights are scaled back."""
        if not self.has(name):
            raise UnsupportedInput(f"not a CTranslate2 Whisper model: no variable {name}")
        array = self.raw(name)
        if np.issubdtype(array.dtype, np.floating):
            return array  # type: ignore[return-value]
        scale_name = f"{name}_scale"
        if not self.has(scale_name):
            raise UnsupportedInput(f"variable {name} is {array.dtype} without {scale_name}")
        if self.has(f"{name}_zero"):
            raise UnsupportedInput(
                f"variable {name}: zero-point (AWQ) quantisation is not supported"
            )
        # CTranslate2 quantises as round(weight * scale): one scale per output row for
        # int8, one for the whole matrix for int16.
        scale = self.raw(scale_name).astype(np.float32)
        if scale.size == array.shape[0] and scale.size > 1:
            scale = scale.reshape((-1,) + (1,) * (array.ndim - 1))
        return (array.astype(np.float32) / scale).astype(np.float32)

    def close(self) -> None:
        # The mapping goes when the last array made from it does.
        self._data = np.empty(0, dtype=np.uint8)


# --- ggml files -------------------------------------------------------------------------


@dataclass(frozen=True)
class GgmlTensor:
    """One tensor record of a ggml Whisper file."""

    shape: tuple[int, ...]
    """Dimensions, outermost first (the file stores them innermost first)."""
    ggml_type: int
    """0 = f32, 1 = f16."""
    offset: int
    """Byte offset of the data."""


@dataclass(frozen=True)
class GgmlIndex:
    """The table of contents of a ggml Whisper file."""

    hparams: WhisperHparams
    """Header integers."""
    n_mel_filters: tuple[int, int]
    """Shape of the stored mel filterbank."""
    n_tokens: int
    """Tokens stored in the file (whisper.cpp names the rest)."""
    tensors: dict[str, GgmlTensor]
    """Tensors by name, in file order."""

    @property
    def multilingual(self) -> bool:
        """Whether the model knows languages other than English (whisper.cpp's rule)."""
        return self.hparams.n_vocab >= 51865


_GGML_ITEM_BYTES = {GGML_TYPE_F32: 4, GGML_TYPE_F16: 2}


def read_ggml_index(path: Path) -> GgmlIndex:
    """Walk a ggml Whisper file; raise UnsupportedInput unless it is complete and well formed.

    Only float (f32/f16) files, as this module writes and whisper.cpp's converter does;
    quantised files are refused.
    """
    with path.open("rb") as stream:
        if _read_uint(stream, "<I") != GGML_MAGIC:
            raise UnsupportedInput(f"{path} is not a ggml file (bad magic)")
        hparams = WhisperHparams(*struct.unpack("<11i", _read(stream, 44)))
        n_mels, n_freqs = struct.unpack("<ii", _read(stream, 8))
        if n_mels <= 0 or n_freqs <= 0:
            raise UnsupportedInput(f"{path}: bad mel filterbank shape {n_mels}x{n_freqs}")
        stream.seek(4 * n_mels * n_freqs, os.SEEK_CUR)
        n_tokens = _read_uint(stream, "<i")
        for _ in range(n_tokens):
            stream.seek(_read_uint(stream, "<i"), os.SEEK_CUR)
        tensors: dict[str, GgmlTensor] = {}
        while header := stream.read(12):
            if len(header) != 12:
                raise UnsupportedInput(f"{path} is truncated")
            n_dims, name_length, ggml_type = struct.unpack("<iii", header)
            if not 1 <= n_dims <= 4 or ggml_type not in _GGML_ITEM_BYTES:
                raise UnsupportedInput(
                    f"{path}: unsupported tensor record ({n_dims}-d, {ggml_type=})"
                )
            dims = struct.unpack(f"<{n_dims}i", _read(stream, 4 * n_dims))
            name = _read(stream, name_length).decode("utf-8", errors="replace")
            offset = stream.tell()
            size = int(np.prod(dims, dtype=np.int64)) * _GGML_ITEM_BYTES[ggml_type]
            stream.seek(size, os.SEEK_CUR)
            tensors[name] = GgmlTensor(tuple(reversed(dims)), ggml_type, offset)
        end = stream.tell()
    if end > path.stat().st_size:
        raise UnsupportedInput(f"{path} is truncated")
    expected = {name for name, _ in ggml_tensor_plan(hparams.n_audio_layer, hparams.n_text_layer)}
    if set(tensors) != expected:
        missing = sorted(expected - set(tensors))[:3]
        raise UnsupportedInput(f"{path} is not a complete Whisper model (missing {missing})")
    return GgmlIndex(hparams, (n_mels, n_freqs), n_tokens, tensors)


# --- conversion -------------------------------------------------------------------------


def _tensor_record(name: str, data: npt.NDArray[np.generic], ggml_type: int) -> Iterator[bytes]:
    dtype = "<f2" if ggml_type == GGML_TYPE_F16 else "<f4"
    encoded = name.encode("utf-8")
    yield struct.pack("<iii", data.ndim, len(encoded), ggml_type)
    yield struct.pack(f"<{data.ndim}i", *reversed(data.shape))
    yield encoded
    yield np.ascontiguousarray(data, dtype=dtype).tobytes()


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


def _check_projection(reader: _Ct2Reader, index: Ct2Index) -> None:
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
    reader = _Ct2Reader(model_bin, index)
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
            out.write(struct.pack("<i", GGML_MAGIC))
            out.write(hparams.pack())
            filters = mel_filterbank(hparams.n_mels)
            out.write(struct.pack("<ii", *filters.shape))
            out.write(filters.astype("<f4").tobytes())
            out.write(struct.pack("<i", len(vocabulary)))
            for token in vocabulary:
                out.write(struct.pack("<i", len(token)))
                out.write(token)
            for done, (name, source) in enumerate(plan, start=1):
                data = split_rows(reader.floats(source.ct2_name), source.part, source.parts)
                if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                    data = data.reshape(-1, 1)
                for chunk in _tensor_record(name, data, ggml_type_for(name, data.ndim)):
                    out.write(chunk)
                if progress is not None:
                    progress(done, len(plan))
    finally:
        reader.close()
