"""llama.cpp vision-language model: the pieces that need no multimodal GGUF, file checks, and
the error a wrong projector gives. No multimodal GGUF is installable offline (MODELS.md)."""

from __future__ import annotations

import base64
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.llm.base import GenerationOptions
from runtime.testing.tiny_gguf import make_tiny_gguf
from runtime.vlm.llama_cpp import (
    HANDLERS,
    MAX_IMAGE_BYTES,
    LlamaCppVisionLanguageModel,
    handler_class_name,
    image_data_uri,
    image_media_type,
    missing_files,
    question_messages,
)

OPTIONS = GenerationOptions(temperature=0.0, max_tokens=8)


def encoded(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buffer, image_format)
    return buffer.getvalue()


# --- pure pieces -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "class_name"),
    [
        ("llava-1.5", "Llava15ChatHandler"),
        ("moondream", "MoondreamChatHandler"),
        ("qwen2.5-vl", "Qwen25VLChatHandler"),
        ("minicpm-v-2.6", "MiniCPMv26ChatHandler"),
        ("mtmd", "MTMDChatHandler"),
    ],
)
def test_handler_class_name(handler: str, class_name: str) -> None:
    assert handler_class_name(handler) == class_name


def test_every_handler_exists_in_llama_cpp_python() -> None:
    from llama_cpp import llama_chat_format

    for class_name in HANDLERS.values():
        assert callable(getattr(llama_chat_format, class_name)), class_name


def test_unknown_handler_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="moondream"):
        handler_class_name("gpt-4-vision")


@pytest.mark.parametrize(
    ("image_format", "media_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("BMP", "image/bmp")],
)
def test_image_media_type_of_real_images(image_format: str, media_type: str) -> None:
    assert image_media_type(encoded(image_format)) == media_type


@pytest.mark.parametrize("data", [b"", b"hello", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"\x89PN"])
def test_image_media_type_of_other_bytes(data: bytes) -> None:
    assert image_media_type(data) is None


def test_image_data_uri_round_trips() -> None:
    png = encoded("PNG")
    uri = image_data_uri(png)
    header, _, payload = uri.partition(",")
    assert header == "data:image/png;base64"
    assert base64.b64decode(payload) == png


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_IMAGE_BYTES],
)
def test_image_data_uri_rejects(data: bytes) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        image_data_uri(data)
    assert caught.value.field == "image"


def test_question_messages_put_the_image_before_the_question() -> None:
    messages = question_messages("data:image/png;base64,AAAA", "What is this?")
    assert messages == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "What is this?"},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ((), ["model.gguf", "mmproj.gguf"]),
        (("model.gguf",), ["mmproj.gguf"]),
        (("mmproj.gguf",), ["model.gguf"]),
        (("model.gguf", "mmproj.gguf"), []),
    ],
)
def test_missing_files(tmp_path: Path, present: tuple[str, ...], missing: list[str]) -> None:
    for name in present:
        (tmp_path / name).write_bytes(b"GGUF")
    assert missing_files(tmp_path) == missing


# --- loading -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_gguf(tmp_path_factory.mktemp("tiny-vlm") / "model.gguf")


def test_missing_projector_is_not_installed(tmp_path: Path, tiny_gguf: Path) -> None:
    shutil.copy(tiny_gguf, tmp_path / "model.gguf")
    with pytest.raises(ModelNotInstalled) as caught:
        LlamaCppVisionLanguageModel.load("moondream:2", tmp_path, {"handler": "moondream"})
    assert caught.value.model_id == "moondream:2"
    assert caught.value.model_id == "moondream:2"


def test_missing_language_model_is_not_installed(tmp_path: Path, tiny_gguf: Path) -> None:
    shutil.copy(tiny_gguf, tmp_path / "mmproj.gguf")
    with pytest.raises(ModelNotInstalled):
        LlamaCppVisionLanguageModel.load("moondream:2", tmp_path, {})


@pytest.mark.parametrize(
    "params",
    [{"handler": "gpt-4-vision"}, {"context_length": 10}, {"threads": -1}, {"mmproj": "x"}],
)
def test_bad_params_are_invalid_input(tmp_path: Path, params: dict[str, object]) -> None:
    with pytest.raises(UnsupportedInput):
        LlamaCppVisionLanguageModel.load("moondream:2", tmp_path, params)


@pytest.fixture
def wrong_projector(tmp_path: Path, tiny_gguf: Path) -> Iterator[LlamaCppVisionLanguageModel]:
    # A text-only GGUF in the projector's place: it loads, but libmtmd refuses it.
    shutil.copy(tiny_gguf, tmp_path / "model.gguf")
    shutil.copy(tiny_gguf, tmp_path / "mmproj.gguf")
    model = LlamaCppVisionLanguageModel.load(
        "tiny:vlm", tmp_path, {"handler": "llava-1.5", "context_length": 512}
    )
    yield model
    model.close()


def test_a_projector_that_is_not_one_is_a_backend_error(
    wrong_projector: LlamaCppVisionLanguageModel,
) -> None:
    with pytest.raises(EngineError, match="mtmd"):
        list(wrong_projector.answer(encoded("PNG"), "What colour is it?", OPTIONS))
    # The failure released the model: the next call fails the same way, not as "busy".
    with pytest.raises(EngineError, match="mtmd"):
        list(wrong_projector.answer(encoded("JPEG"), "What colour is it?", OPTIONS))


def test_bad_input_raises_before_streaming(wrong_projector: LlamaCppVisionLanguageModel) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        wrong_projector.answer(b"GIF8", "What is it?", OPTIONS)
    assert caught.value.field == "image"
    with pytest.raises(UnsupportedInput) as caught:
        wrong_projector.answer(encoded("PNG"), "  ", OPTIONS)
    assert caught.value.field == "question"
    with pytest.raises(UnsupportedInput) as caught:
        wrong_projector.answer(encoded("PNG"), "What?", GenerationOptions(max_tokens=0))
    assert caught.value.field == "max_tokens"


def test_closed_model_refuses_work(wrong_projector: LlamaCppVisionLanguageModel) -> None:
    wrong_projector.close()
    with pytest.raises(EngineError):
        wrong_projector.answer(encoded("PNG"), "What is it?", OPTIONS)
