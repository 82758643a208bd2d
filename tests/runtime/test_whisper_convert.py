"""CTranslate2 Whisper -> whisper.cpp ggml conversion."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from runtime.convert.ct2 import read_ct2_index
from runtime.convert.ggml import (
    GGML_TYPE_F16,
    GGML_TYPE_F32,
    GgmlIndex,
    GgmlWriter,
    WhisperHparams,
    ggml_type_for,
    mel_filterbank,
    read_ggml_index,
    whisper_tensor_names,
)
from runtime.convert.whisper_ggml import (
    TensorSource,
    convert_whisper_ct2_to_ggml,
    ct2_source,
    ggml_tensor_plan,
    ggml_vocabulary,
    split_rows,
    token_bytes,
    whisper_hparams,
)
from runtime.errors import UnsupportedInput

# --- mel filterbank ---------------------------------------------------------------------


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filterbank_has_whisper_shape_and_is_nonnegative(n_mels: int) -> None:
    filters = mel_filterbank(n_mels)
    assert filters.shape == (n_mels, 201)
    assert filters.dtype == np.float32
    assert (filters >= 0).all()
    assert (filters.sum(axis=1) > 0).all()


def test_mel_filterbank_matches_openai_values() -> None:
    # mel_filters.npz["mel_80"][0] (librosa 0.8, Slaney): one weight, on the 40 Hz bin.
    filters = mel_filterbank(80)
    assert filters[0, 1] == pytest.approx(0.02486259, rel=1e-6)
    assert np.count_nonzero(filters[0]) == 1


def test_mel_filterbank_matches_faster_whisper() -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    for n_mels in (80, 128):
        reference = FeatureExtractor.get_mel_filters(16_000, 400, n_mels)
        np.testing.assert_allclose(mel_filterbank(n_mels), reference, atol=1e-8)


def test_mel_filters_are_triangles_rising_in_frequency() -> None:
    filters = mel_filterbank(80)
    peaks = filters.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all()
    for row in filters:
        nonzero = np.flatnonzero(row)
        # One contiguous run that rises then falls.
        assert (np.diff(nonzero) == 1).all()
        top = int(row.argmax())
        assert (np.diff(row[nonzero[0] : top + 1]) >= 0).all()
        assert (np.diff(row[top : nonzero[-1] + 1]) <= 0).all()


def test_mel_filters_have_unit_area_above_one_kilohertz() -> None:
    # Slaney normalisation: each triangle integrates to 1 over Hz (bins are 40 Hz wide);
    # the narrow low filters are too coarsely sampled for the check.
    areas = mel_filterbank(80).sum(axis=1) * 40.0
    np.testing.assert_allclose(areas[30:], 1.0, rtol=0.1)


# --- names, types, header ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ggml_name", "source"),
    [
        ("encoder.positional_embedding", TensorSource("encoder/position_encodings/encodings")),
        ("encoder.conv1.weight", TensorSource("encoder/conv1/weight")),
        ("encoder.conv2.bias", TensorSource("encoder/conv2/bias")),
        (
            "encoder.blocks.0.attn.query.weight",
            TensorSource("encoder/layer_0/self_attention/linear_0/weight", 0, 3),
        ),
        (
            "encoder.blocks.0.attn.key.weight",
            TensorSource("encoder/layer_0/self_attention/linear_0/weight", 1, 3),
        ),
        (
            "encoder.blocks.0.attn.value.bias",
            TensorSource("encoder/layer_0/self_attention/linear_0/bias", 2, 3),
        ),
        (
            "encoder.blocks.0.attn.out.weight",
            TensorSource("encoder/layer_0/self_attention/linear_1/weight"),
        ),
        (
            "encoder.blocks.0.attn_ln.weight",
            TensorSource("encoder/layer_0/self_attention/layer_norm/gamma"),
        ),
        ("encoder.blocks.0.mlp.0.weight", TensorSource("encoder/layer_0/ffn/linear_0/weight")),
        ("encoder.blocks.0.mlp.2.bias", TensorSource("encoder/layer_0/ffn/linear_1/bias")),
        ("encoder.blocks.0.mlp_ln.bias", TensorSource("encoder/layer_0/ffn/layer_norm/beta")),
        ("encoder.ln_post.weight", TensorSource("encoder/layer_norm/gamma")),
        ("decoder.token_embedding.weight", TensorSource("decoder/embeddings/weight")),
        ("decoder.positional_embedding", TensorSource("decoder/position_encodings/encodings")),
        (
            "decoder.blocks.0.cross_attn.query.weight",
            TensorSource("decoder/layer_0/attention/linear_0/weight"),
        ),
        (
            "decoder.blocks.0.cross_attn.key.weight",
            TensorSource("decoder/layer_0/attention/linear_1/weight", 0, 2),
        ),
        (
            "decoder.blocks.0.cross_attn.value.weight",
            TensorSource("decoder/layer_0/attention/linear_1/weight", 1, 2),
        ),
        (
            "decoder.blocks.0.cross_attn.out.bias",
            TensorSource("decoder/layer_0/attention/linear_2/bias"),
        ),
        (
            "decoder.blocks.0.cross_attn_ln.bias",
            TensorSource("decoder/layer_0/attention/layer_norm/beta"),
        ),
        (
            "decoder.blocks.0.attn.key.weight",
            TensorSource("decoder/layer_0/self_attention/linear_0/weight", 1, 3),
        ),
        ("decoder.ln.weight", TensorSource("decoder/layer_norm/gamma")),
    ],
)
def test_tensor_plan_maps_names(ggml_name: str, source: TensorSource) -> None:
    assert dict(ggml_tensor_plan(1, 1))[ggml_name] == source


@pytest.mark.parametrize(("encoder_layers", "decoder_layers"), [(1, 1), (4, 4), (6, 6), (32, 4)])
def test_tensor_plan_counts_whisper_cpp_tensors(encoder_layers: int, decoder_layers: int) -> None:
    plan = ggml_tensor_plan(encoder_layers, decoder_layers)
    names = [name for name, _ in plan]
    assert len(names) == len(set(names))
    # 7 encoder stem/post + 15 per encoder block + 4 decoder stem/post + 24 per decoder block
    # (tiny: 167, base: 245 as in whisper.cpp's ggml-tiny.bin / ggml-base.bin).
    assert len(plan) == 7 + 15 * encoder_layers + 4 + 24 * decoder_layers
    assert not any(name.endswith("key.bias") for name in names)


@pytest.mark.parametrize(
    "name", ["encoder.blocks.0.attn.qkv.weight", "encoder.conv3.bias", "encoder.ln.gamma", "x"]
)
def test_ct2_source_refuses_names_whisper_cpp_does_not_load(name: str) -> None:
    with pytest.raises(UnsupportedInput, match=r"not a whisper\.cpp tensor"):
        ct2_source(name)


def test_the_ggml_writer_writes_what_the_reader_reads(tmp_path: Path) -> None:
    hparams = WhisperHparams(8, 6, 4, 2, 1, 5, 4, 2, 1, 3)
    names = whisper_tensor_names(1, 1)
    rng = np.random.default_rng(3)
    arrays = {
        name: rng.standard_normal((4, 2) if "weight" in name else (4,)).astype(np.float32)
        for name in names
    }
    path = tmp_path / "model.bin"
    with path.open("wb") as out:
        writer = GgmlWriter(out)
        writer.write_header(hparams, mel_filterbank(3), [b"a", b" b", b""])
        for name in names:
            writer.write_tensor(name, arrays[name])
    index = read_ggml_index(path)
    assert (index.hparams, index.n_mel_filters, index.n_tokens) == (hparams, (3, 201), 3)
    assert list(index.tensors) == names
    for name in ("encoder.blocks.0.attn.query.weight", "decoder.ln.bias"):
        expected_type = ggml_type_for(name, arrays[name].ndim)
        assert index.tensors[name].ggml_type == expected_type
        np.testing.assert_allclose(
            ggml_array(path, index, name), arrays[name], rtol=1e-3 if expected_type else 0
        )
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(UnsupportedInput, match=f"{path} is truncated"):
        read_ggml_index(path)


@pytest.mark.parametrize(
    ("name", "n_dims", "expected"),
    [
        ("encoder.blocks.0.attn.query.weight", 2, GGML_TYPE_F16),
        ("encoder.conv1.weight", 3, GGML_TYPE_F16),
        ("decoder.token_embedding.weight", 2, GGML_TYPE_F16),
        ("encoder.blocks.0.attn.query.bias", 1, GGML_TYPE_F32),
        ("decoder.ln.weight", 1, GGML_TYPE_F32),
        ("encoder.conv1.bias", 2, GGML_TYPE_F32),
        ("encoder.positional_embedding", 2, GGML_TYPE_F32),
        ("decoder.positional_embedding", 2, GGML_TYPE_F32),
    ],
)
def test_ggml_types_follow_whisper_cpp_converter(name: str, n_dims: int, expected: int) -> None:
    assert ggml_type_for(name, n_dims) == expected


@pytest.mark.parametrize(
    ("token", "raw"),
    [
        ("hello", b"hello"),
        ("Ġthe", b" the"),
        ("Ċ", b"\n"),
        ("âĢĻ", "\u2019".encode()),
        ("Ã©", "é".encode()),
        ("", b""),
    ],
)
def test_token_bytes_undo_gpt2_byte_mapping(token: str, raw: bytes) -> None:
    assert token_bytes(token) == raw


def test_vocabulary_stops_before_end_of_text() -> None:
    tokens = ["a", "Ġb", "", "<|endoftext|>", "<|startoftranscript|>", "<|0.00|>"]
    assert ggml_vocabulary(tokens) == [b"a", b" b", b""]


@pytest.mark.parametrize("tokens", [["a", "b"], ["a", "<|en|>"]])
def test_vocabulary_refuses_what_is_not_whisper(tokens: list[str]) -> None:
    with pytest.raises(UnsupportedInput):
        ggml_vocabulary(tokens)


def test_hparams_from_shapes() -> None:
    shapes = {
        "encoder/conv1/weight": (384, 80, 3),
        "encoder/position_encodings/encodings": (1500, 384),
        "decoder/position_encodings/encodings": (448, 384),
        "decoder/embeddings/weight": (51864, 384),
        **{f"encoder/layer_{i}/ffn/linear_0/weight": (1536, 384) for i in range(4)},
        **{f"decoder/layer_{i}/ffn/linear_0/weight": (1536, 384) for i in range(4)},
    }
    hparams = whisper_hparams(shapes, 6, 6)
    assert (hparams.n_vocab, hparams.n_audio_ctx, hparams.n_audio_state) == (51864, 1500, 384)
    assert (hparams.n_audio_layer, hparams.n_text_layer, hparams.n_mels) == (4, 4, 80)
    assert (hparams.n_text_ctx, hparams.n_text_state, hparams.n_audio_head) == (448, 384, 6)
    assert struct.unpack("<11i", hparams.pack())[-1] == 1


def test_hparams_refuse_gaps_in_layers() -> None:
    shapes = {"encoder/layer_0/x": (1,), "encoder/layer_2/x": (1,)}
    with pytest.raises(UnsupportedInput, match="numbered"):
        whisper_hparams(shapes, 1, 1)


@pytest.mark.parametrize(
    ("part", "parts", "rows"), [(0, 3, [0, 1]), (1, 3, [2, 3]), (1, 2, [3, 4, 5])]
)
def test_split_rows(part: int, parts: int, rows: list[int]) -> None:
    array = np.arange(6)
    assert split_rows(array, part, parts).tolist() == rows


def test_split_rows_refuses_uneven_cut() -> None:
    with pytest.raises(UnsupportedInput):
        split_rows(np.arange(5), 0, 3)


# --- conversion of a tiny CTranslate2 model written by CTranslate2 itself ----------------

D_MODEL, FFN, N_MELS, AUDIO_CTX, TEXT_CTX = 8, 16, 4, 6, 5
VOCABULARY = ["a", "b", "Ġc", "Ċ", "âĢĻ", "<|endoftext|>", "<|startoftranscript|>", "<|0.00|>"]


def _shape_for(name: str) -> tuple[int, ...]:
    d, vocab = D_MODEL, len(VOCABULARY)
    table: list[tuple[str, tuple[int, ...]]] = [
        ("encoder/conv1/weight", (d, N_MELS, 3)),
        ("encoder/conv2/weight", (d, d, 3)),
        ("encoder/position_encodings/encodings", (AUDIO_CTX, d)),
        ("decoder/position_encodings/encodings", (TEXT_CTX, d)),
        ("decoder/embeddings/weight", (vocab, d)),
        ("decoder/projection/weight", (vocab, d)),
        ("decoder/projection/bias", (vocab,)),
        ("self_attention/linear_0/weight", (3 * d, d)),
        ("self_attention/linear_0/bias", (3 * d,)),
        ("attention/linear_1/weight", (2 * d, d)),
        ("attention/linear_1/bias", (2 * d,)),
        ("ffn/linear_0/weight", (FFN, d)),
        ("ffn/linear_0/bias", (FFN,)),
        ("ffn/linear_1/weight", (d, FFN)),
        ("/weight", (d, d)),
    ]
    for suffix, shape in table:
        if name.endswith(suffix):
            return shape
    return (d,)


def write_tiny_ct2_whisper(folder: Path, quantization: str | None = None) -> None:
    """A two-layer Whisper in CTranslate2's format, saved by ctranslate2.specs."""
    from ctranslate2.specs import WhisperSpec, model_spec

    spec = WhisperSpec(1, 2, 1, 2)
    rng = np.random.default_rng(7)

    def fill(layer: object, name: str, value: object) -> None:
        attribute = name.rsplit("/", 1)[-1]
        # Biases and learned positions are optional in the spec but Whisper has them.
        wanted = value == model_spec.OPTIONAL and attribute in ("bias", "encodings")
        if value is None or (wanted and not name.startswith("decoder/projection")):
            array = rng.standard_normal(_shape_for(name)).astype(np.float32)
            setattr(layer, attribute, array)

    model_spec.visit_spec(spec, fill)
    spec.decoder.projection.weight = spec.decoder.embeddings.weight.copy()
    for layer in (*spec.encoder.layer, *spec.decoder.layer):
        layer.self_attention.linear[0].bias[D_MODEL : 2 * D_MODEL] = 0.0  # no key bias
    spec.register_vocabulary(VOCABULARY)
    spec.validate()
    spec.optimize(quantization=quantization)
    folder.mkdir(parents=True, exist_ok=True)
    spec.save(str(folder))


@pytest.fixture(scope="module")
def tiny_ct2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-ct2")
    write_tiny_ct2_whisper(folder, "float16")
    return folder


def ggml_array(path: Path, index: GgmlIndex, name: str) -> npt.NDArray[np.float32]:
    tensor = index.tensors[name]
    dtype = "<f2" if tensor.ggml_type == GGML_TYPE_F16 else "<f4"
    count = int(np.prod(tensor.shape))
    with path.open("rb") as stream:
        stream.seek(tensor.offset)
        data = np.frombuffer(stream.read(count * np.dtype(dtype).itemsize), dtype=dtype)
    return data.astype(np.float32).reshape(tensor.shape)


def ct2_array(folder: Path, name: str) -> npt.NDArray[np.float32]:
    index = read_ct2_index(folder / "model.bin")
    variable = index.variables[name]
    dtype = {0: "<f4", 4: "<f2"}[variable.dtype_id]
    with (folder / "model.bin").open("rb") as stream:
        stream.seek(variable.offset)
        data = np.frombuffer(stream.read(variable.num_bytes), dtype=dtype)
    return data.astype(np.float32).reshape(variable.shape)


def test_ct2_index_reads_ctranslate2_files(tiny_ct2: Path) -> None:
    index = read_ct2_index(tiny_ct2 / "model.bin")
    assert index.spec == "WhisperSpec"
    assert index.binary_version == 6
    assert index.variables["encoder/conv1/weight"].shape == (D_MODEL, N_MELS, 3)
    assert index.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}


def test_converts_tiny_model(tiny_ct2: Path, tmp_path: Path) -> None:
    target = tmp_path / "ggml-tiny-test.bin"
    calls: list[tuple[int, int]] = []
    convert_whisper_ct2_to_ggml(tiny_ct2, target, progress=lambda d, t: calls.append((d, t)))

    index = read_ggml_index(target)
    assert index.hparams.n_vocab == len(VOCABULARY)
    assert (index.hparams.n_audio_layer, index.hparams.n_text_layer) == (1, 1)
    assert (index.hparams.n_audio_head, index.hparams.n_mels) == (2, N_MELS)
    assert index.n_mel_filters == (N_MELS, 201)
    assert index.n_tokens == 5
    assert len(index.tensors) == len(ggml_tensor_plan(1, 1))
    assert calls == [(i, len(index.tensors)) for i in range(1, len(index.tensors) + 1)]
    assert index.tensors["encoder.conv1.bias"].shape == (D_MODEL, 1)
    assert index.tensors["encoder.conv1.bias"].ggml_type == GGML_TYPE_F32
    assert index.tensors["encoder.conv1.weight"].ggml_type == GGML_TYPE_F16
    assert index.tensors["decoder.ln.bias"].ggml_type == GGML_TYPE_F32
    assert [p.name for p in tmp_path.iterdir()] == [target.name]

    fused = ct2_array(tiny_ct2, "decoder/layer_0/self_attention/linear_0/weight")
    for part, name in enumerate(("query", "key", "value")):
        np.testing.assert_array_equal(
            ggml_array(target, index, f"decoder.blocks.0.attn.{name}.weight"),
            fused[part * D_MODEL : (part + 1) * D_MODEL],
        )
    cross = ct2_array(tiny_ct2, "decoder/layer_0/attention/linear_1/bias")
    np.testing.assert_array_equal(
        ggml_array(target, index, "decoder.blocks.0.cross_attn.value.bias"), cross[D_MODEL:]
    )
    np.testing.assert_array_equal(
        ggml_array(target, index, "encoder.ln_post.weight"),
        ct2_array(tiny_ct2, "encoder/layer_norm/gamma"),
    )


def test_header_and_vocabulary_bytes(tiny_ct2: Path, tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    convert_whisper_ct2_to_ggml(tiny_ct2, target)
    data = target.read_bytes()
    assert data[:4] == b"lmgg"  # 0x67676d6c little-endian
    header = struct.unpack("<11i", data[4:48])
    assert header == (8, AUDIO_CTX, D_MODEL, 2, 1, TEXT_CTX, D_MODEL, 2, 1, N_MELS, 1)
    assert struct.unpack("<ii", data[48:56]) == (N_MELS, 201)
    filters = np.frombuffer(data[56 : 56 + 4 * N_MELS * 201], dtype="<f4").reshape(N_MELS, 201)
    np.testing.assert_array_equal(filters, mel_filterbank(N_MELS))
    offset = 56 + 4 * N_MELS * 201
    (n_tokens,) = struct.unpack("<i", data[offset : offset + 4])
    offset += 4
    tokens = []
    for _ in range(n_tokens):
        (length,) = struct.unpack("<i", data[offset : offset + 4])
        tokens.append(data[offset + 4 : offset + 4 + length])
        offset += 4 + length
    assert tokens == [b"a", b"b", b" c", b"\n", "\u2019".encode()]


def test_conversion_is_deterministic(tiny_ct2: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    convert_whisper_ct2_to_ggml(tiny_ct2, first)
    convert_whisper_ct2_to_ggml(tiny_ct2, second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("quantization", ["int8", "int8_float32", "int16", "float32"])
def test_converts_quantised_and_other_float_models(quantization: str, tmp_path: Path) -> None:
    reference, quantised = tmp_path / "reference", tmp_path / quantization
    write_tiny_ct2_whisper(reference, "float32")
    write_tiny_ct2_whisper(quantised, quantization)
    convert_whisper_ct2_to_ggml(reference, tmp_path / "reference.bin")
    convert_whisper_ct2_to_ggml(quantised, tmp_path / "quantised.bin")
    expected, got = (
        read_ggml_index(tmp_path / "reference.bin"),
        read_ggml_index(tmp_path / "quantised.bin"),
    )
    for name in ("encoder.blocks.0.mlp.0.weight", "decoder.token_embedding.weight"):
        want = ggml_array(tmp_path / "reference.bin", expected, name)
        have = ggml_array(tmp_path / "quantised.bin", got, name)
        # int8 keeps 1/127 of each row's largest magnitude; f16 storage adds ~1e-3.
        tolerance = np.abs(want).max(axis=-1, keepdims=True) / 100 + 1e-2
        assert (np.abs(want - have) <= tolerance).all(), name


def _rewrite_as_bfloat16(folder: Path) -> None:
    # CTranslate2 needs torch to write bfloat16, so re-serialise its float32 file here
    # (model_spec.py _serialize: version, spec, revision, variables, aliases).
    path = folder / "model.bin"
    index = read_ct2_index(path)
    data = path.read_bytes()

    def string(text: str) -> bytes:
        return struct.pack("<H", len(text) + 1) + text.encode() + b"\0"

    out = [struct.pack("<I", 6), string("WhisperSpec"), struct.pack("<II", 3, len(index.variables))]
    for name, variable in index.variables.items():
        raw = data[variable.offset : variable.offset + variable.num_bytes]
        dtype_id = variable.dtype_id
        if dtype_id == 0 and variable.shape:
            floats = np.frombuffer(raw, dtype="<f4")
            raw = (floats.view("<u4") >> 16).astype("<u2").tobytes()
            dtype_id = 5
        out += [string(name), struct.pack("<B", len(variable.shape))]
        out += [struct.pack(f"<{len(variable.shape)}I", *variable.shape)]
        out += [struct.pack("<BI", dtype_id, len(raw)), raw]
    out.append(struct.pack("<I", len(index.aliases)))
    for alias, target in index.aliases.items():
        out += [string(alias), string(target)]
    path.write_bytes(b"".join(out))


def test_converts_bfloat16_models(tmp_path: Path) -> None:
    reference, bfloat16 = tmp_path / "reference", tmp_path / "bfloat16"
    write_tiny_ct2_whisper(reference, "float32")
    write_tiny_ct2_whisper(bfloat16, "float32")
    _rewrite_as_bfloat16(bfloat16)
    assert read_ct2_index(bfloat16 / "model.bin").variables["encoder/conv1/bias"].dtype_id == 5
    convert_whisper_ct2_to_ggml(reference, tmp_path / "reference.bin")
    convert_whisper_ct2_to_ggml(bfloat16, tmp_path / "bfloat16.bin")
    expected, got = (
        read_ggml_index(tmp_path / "reference.bin"),
        read_ggml_index(tmp_path / "bfloat16.bin"),
    )
    for name in ("encoder.conv1.bias", "decoder.blocks.0.attn.key.weight"):
        want = ggml_array(tmp_path / "reference.bin", expected, name)
        have = ggml_array(tmp_path / "bfloat16.bin", got, name)
        np.testing.assert_allclose(have, want, rtol=1e-2, atol=1e-2)


# --- refusals ---------------------------------------------------------------------------


def _copy_model(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


BreakModel = Callable[[Path], None]


def _truncate(folder: Path) -> None:
    data = (folder / "model.bin").read_bytes()
    (folder / "model.bin").write_bytes(data[: len(data) // 2])


def _bad_version(folder: Path) -> None:
    data = (folder / "model.bin").read_bytes()
    (folder / "model.bin").write_bytes(struct.pack("<I", 99) + data[4:])


def _other_spec(folder: Path) -> None:
    data = (folder / "model.bin").read_bytes()
    (folder / "model.bin").write_bytes(data.replace(b"WhisperSpec", b"WhisperSpeX", 1))


def _short_vocabulary(folder: Path) -> None:
    (folder / "vocabulary.json").write_text('["a", "b"]', encoding="utf-8")


def _no_vocabulary(folder: Path) -> None:
    (folder / "vocabulary.json").unlink()


def _no_model(folder: Path) -> None:
    (folder / "model.bin").unlink()


@pytest.mark.parametrize(
    ("break_model", "message"),
    [
        (_truncate, "truncated"),
        (_bad_version, "binary version 99"),
        (_other_spec, "WhisperSpeX"),
        (_short_vocabulary, "2 tokens"),
        (_no_vocabulary, "missing vocabulary.json or vocabulary.txt"),
        (_no_model, "missing model.bin"),
    ],
)
def test_refuses_what_is_not_a_ct2_whisper_model(
    tiny_ct2: Path, tmp_path: Path, break_model: BreakModel, message: str
) -> None:
    folder = _copy_model(tiny_ct2, tmp_path / "model")
    break_model(folder)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UnsupportedInput, match=message):
        convert_whisper_ct2_to_ggml(folder, out / "ggml.bin")
    assert list(out.iterdir()) == []


def test_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedInput, match="not a folder"):
        convert_whisper_ct2_to_ggml(tmp_path / "nothing", tmp_path / "ggml.bin")


def test_ggml_reader_refuses_truncated_files(tiny_ct2: Path, tmp_path: Path) -> None:
    target = tmp_path / "ggml.bin"
    convert_whisper_ct2_to_ggml(tiny_ct2, target)
    data = target.read_bytes()
    target.write_bytes(data[:-10])
    with pytest.raises(UnsupportedInput, match="truncated"):
        read_ggml_index(target)
    target.write_bytes(b"GGUF" + data[4:])
    with pytest.raises(UnsupportedInput, match="magic"):
        read_ggml_index(target)


# --- the real tiny.en model -------------------------------------------------------------


@pytest.mark.real_model
def test_converts_real_tiny_en_as_installed(
    model_dir: Callable[[str], Path], tmp_path: Path
) -> None:
    target = tmp_path / "ggml-tiny.en.bin"
    convert_whisper_ct2_to_ggml(model_dir("whisper:tiny.en-ct2"), target)
    index = read_ggml_index(target)
    assert index.hparams.n_vocab == 51864
    assert index.n_tokens == 50256
    assert not index.multilingual
    assert len(index.tensors) == 167
    installed = model_dir("whisper:tiny.en") / "ggml-tiny.en.bin"
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(installed.read_bytes()).hexdigest()


@pytest.mark.real_model
def test_converts_real_multilingual_base(model_dir: Callable[[str], Path], tmp_path: Path) -> None:
    target = tmp_path / "ggml-base.bin"
    convert_whisper_ct2_to_ggml(model_dir("whisper:base-ct2"), target)
    index = read_ggml_index(target)
    assert index.multilingual
    assert index.n_tokens == 50257  # the multilingual vocabulary has an empty token at 50256
    assert (index.hparams.n_audio_layer, index.hparams.n_audio_state) == (6, 512)
    assert len(index.tensors) == 245
