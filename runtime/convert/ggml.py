"""whisper.cpp's ggml Whisper file: its header, its tensors, a writer and a reader.

The file is what whisper.cpp's ``models/convert-pt-to-ggml.py`` writes::

    int32 magic "ggml", 11 int32 hparams (the last is ftype: 1 = mostly f16)
    int32 n_mels, int32 n_freqs, float32 filters[n_mels][n_freqs]
    int32 n_tokens, then per token: int32 length, bytes
    per tensor: int32 n_dims, int32 name length, int32 type (0 = f32, 1 = f16),
                int32 dims (innermost first), name bytes, data

The tensors carry the names of OpenAI's checkpoint (``whisper_tensor_names``), and the
mel filterbank is computed with librosa's Slaney formula, as OpenAI's
``mel_filters.npz``. Only float files (f32/f16) are written or read.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from runtime.convert.binary import read_exact, read_int
from runtime.errors import UnsupportedInput

GGML_MAGIC = 0x67676D6C
"""``ggml`` in ASCII, read as a little-endian int32 by whisper.cpp."""
GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1

SAMPLE_RATE = 16_000
N_FFT = 400

MULTILINGUAL_VOCABULARY = 51865
"""whisper.cpp's rule: a vocabulary this large or larger knows languages beyond English."""


# --- the mel filterbank -------------------------------------------------------------------


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


# --- header and tensor names --------------------------------------------------------------


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


def whisper_tensor_names(n_audio_layer: int, n_text_layer: int) -> list[str]:
    """Every tensor whisper.cpp loads from a Whisper model, in file order."""
    names = ["encoder.positional_embedding", *_pair("encoder.conv1"), *_pair("encoder.conv2")]
    for index in range(n_audio_layer):
        names += _block("encoder", index)
    names += _pair("encoder.ln_post")
    names += ["decoder.positional_embedding", "decoder.token_embedding.weight"]
    for index in range(n_text_layer):
        names += _block("decoder", index)
    names += _pair("decoder.ln")
    return names


def _pair(module: str) -> list[str]:
    return [f"{module}.weight", f"{module}.bias"]


def _attention(module: str) -> list[str]:
    # Whisper's key projection has no bias, and whisper.cpp has no tensor for one.
    return [
        *_pair(f"{module}.query"),
        f"{module}.key.weight",
        *_pair(f"{module}.value"),
        *_pair(f"{module}.out"),
    ]


def _block(side: str, index: int) -> list[str]:
    block = f"{side}.blocks.{index}"
    names = [*_attention(f"{block}.attn"), *_pair(f"{block}.attn_ln")]
    if side == "decoder":
        names += [*_attention(f"{block}.cross_attn"), *_pair(f"{block}.cross_attn_ln")]
    return [
        *names,
        *_pair(f"{block}.mlp.0"),
        *_pair(f"{block}.mlp.2"),
        *_pair(f"{block}.mlp_ln"),
    ]


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


# --- writing ------------------------------------------------------------------------------


class GgmlWriter:
    """Writes a ggml Whisper file in order: ``write_header`` once, then each tensor."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write_header(
        self,
        hparams: WhisperHparams,
        filters: npt.NDArray[np.float32],
        vocabulary: Sequence[bytes],
    ) -> None:
        """Magic, hparams, the mel filterbank and the ordinary tokens' bytes."""
        out = self._out
        out.write(struct.pack("<i", GGML_MAGIC))
        out.write(hparams.pack())
        out.write(struct.pack("<ii", *filters.shape))
        out.write(filters.astype("<f4").tobytes())
        out.write(struct.pack("<i", len(vocabulary)))
        for token in vocabulary:
            out.write(struct.pack("<i", len(token)))
            out.write(token)

    def write_tensor(self, name: str, data: npt.NDArray[np.generic]) -> None:
        """One tensor record, stored as ``ggml_type_for(name, data.ndim)``."""
        ggml_type = ggml_type_for(name, data.ndim)
        dtype = "<f2" if ggml_type == GGML_TYPE_F16 else "<f4"
        encoded = name.encode("utf-8")
        self._out.write(struct.pack("<iii", data.ndim, len(encoded), ggml_type))
        self._out.write(struct.pack(f"<{data.ndim}i", *reversed(data.shape)))
        self._out.write(encoded)
        self._out.write(np.ascontiguousarray(data, dtype=dtype).tobytes())


# --- reading ------------------------------------------------------------------------------


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
        return self.hparams.n_vocab >= MULTILINGUAL_VOCABULARY


_GGML_ITEM_BYTES = {GGML_TYPE_F32: 4, GGML_TYPE_F16: 2}


def read_ggml_index(path: Path) -> GgmlIndex:
    """Walk a ggml Whisper file; raise UnsupportedInput unless it is complete and well formed.

    Only float (f32/f16) files, as ``GgmlWriter`` and whisper.cpp's converter write them;
    quantised files are refused.
    """
    what = str(path)
    with path.open("rb") as stream:
        if read_int(stream, "<I", what) != GGML_MAGIC:
            raise UnsupportedInput(f"{path} is not a ggml file (bad magic)")
        hparams = WhisperHparams(*struct.unpack("<11i", read_exact(stream, 44, what)))
        n_mels, n_freqs = struct.unpack("<ii", read_exact(stream, 8, what))
        if n_mels <= 0 or n_freqs <= 0:
            raise UnsupportedInput(f"{path}: bad mel filterbank shape {n_mels}x{n_freqs}")
        stream.seek(4 * n_mels * n_freqs, os.SEEK_CUR)
        n_tokens = read_int(stream, "<i", what)
        for _ in range(n_tokens):
            stream.seek(read_int(stream, "<i", what), os.SEEK_CUR)
        tensors: dict[str, GgmlTensor] = {}
        while header := stream.read(12):
            if len(header) != 12:
                raise UnsupportedInput(f"{path} is truncated")
            n_dims, name_length, ggml_type = struct.unpack("<iii", header)
            if not 1 <= n_dims <= 4 or ggml_type not in _GGML_ITEM_BYTES:
                raise UnsupportedInput(
                    f"{path}: unsupported tensor record ({n_dims}-d, {ggml_type=})"
                )
            dims = struct.unpack(f"<{n_dims}i", read_exact(stream, 4 * n_dims, what))
            name = read_exact(stream, name_length, what).decode("utf-8", errors="replace")
            offset = stream.tell()
            size = int(np.prod(dims, dtype=np.int64)) * _GGML_ITEM_BYTES[ggml_type]
            stream.seek(size, os.SEEK_CUR)
            tensors[name] = GgmlTensor(tuple(reversed(dims)), ggml_type, offset)
        end = stream.tell()
    if end > path.stat().st_size:
        raise UnsupportedInput(f"{path} is truncated")
    expected = set(whisper_tensor_names(hparams.n_audio_layer, hparams.n_text_layer))
    if set(tensors) != expected:
        missing = sorted(expected - set(tensors))[:3]
        raise UnsupportedInput(f"{path} is not a complete Whisper model (missing {missing})")
    return GgmlIndex(hparams, (n_mels, n_freqs), n_tokens, tensors)
