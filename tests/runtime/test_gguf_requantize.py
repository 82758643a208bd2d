"""A GGUF quantized again by llama.cpp's quantizer (the ``gguf-iq4nl`` converter)."""

from __future__ import annotations

from pathlib import Path

import gguf
import pytest

from runtime.convert import CONVERTERS
from runtime.convert.gguf_requantize import find_gguf, requantize_gguf
from runtime.errors import EngineError, UnsupportedInput
from runtime.llm.base import ChatMessage, GenerationOptions
from runtime.llm.llama_cpp import LlamaCppChatModel
from runtime.testing.tiny_gguf import make_tiny_gguf


def tensor_types(path: Path) -> set[str]:
    return {t.tensor_type.name for t in gguf.GGUFReader(path).tensors}


def test_a_model_folder_becomes_iq4_nl_that_loads_and_answers(tmp_path: Path) -> None:
    source = tmp_path / "source"
    make_tiny_gguf(source / "model.gguf")
    target = tmp_path / "fast" / "model.gguf"

    CONVERTERS["gguf-iq4nl"](source, target)

    assert "IQ4_NL" in tensor_types(target)
    assert "IQ4_NL" not in tensor_types(source / "model.gguf")
    assert target.stat().st_size < (source / "model.gguf").stat().st_size
    model = LlamaCppChatModel.load("tiny:fast", target.parent, {"context_length": 256})
    try:
        deltas = list(
            model.stream(
                [ChatMessage("user", "hi")], GenerationOptions(max_tokens=4, temperature=0.0)
            )
        )
    finally:
        model.close()
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.completion_tokens > 0


def test_the_same_source_gives_the_same_bytes(tmp_path: Path) -> None:
    source = make_tiny_gguf(tmp_path / "model.gguf")
    requantize_gguf(source, tmp_path / "a.gguf", threads=1)
    requantize_gguf(source, tmp_path / "b.gguf", threads=2)
    assert (tmp_path / "a.gguf").read_bytes() == (tmp_path / "b.gguf").read_bytes()


def test_q4_0_is_the_other_type(tmp_path: Path) -> None:
    source = make_tiny_gguf(tmp_path / "model.gguf")
    requantize_gguf(source, tmp_path / "q4.gguf", "q4_0")
    assert "Q4_0" in tensor_types(tmp_path / "q4.gguf")


def test_not_a_gguf_is_refused_before_llama_cpp_runs(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(UnsupportedInput, match="not a GGUF file"):
        requantize_gguf(text, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_a_broken_gguf_is_an_engine_error_with_llama_cpps_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(EngineError, match=r"could not quantize .*failed"):
        requantize_gguf(broken, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_unknown_type_is_refused(tmp_path: Path) -> None:
    source = make_tiny_gguf(tmp_path / "model.gguf")
    with pytest.raises(UnsupportedInput, match="unknown type 'q3_k'") as raised:
        requantize_gguf(source, tmp_path / "out.gguf", "q3_k")
    assert raised.value.field == "file_type"


@pytest.mark.parametrize("files", [(), ("a.gguf", "b.gguf")])
def test_a_folder_needs_exactly_one_gguf(tmp_path: Path, files: tuple[str, ...]) -> None:
    for name in files:
        (tmp_path / name).write_bytes(b"GGUF")
    with pytest.raises(UnsupportedInput, match=r"exactly one \.gguf"):
        find_gguf(tmp_path)


def test_a_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedInput, match="neither a GGUF file nor a model folder"):
        find_gguf(tmp_path / "nowhere")
