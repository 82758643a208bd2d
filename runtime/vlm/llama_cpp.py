"""Answer questions about images with a multimodal GGUF and its projector (llama-cpp-python).

The language model (``model.gguf``) and the vision projector (``mmproj.gguf``) are loaded
through one of llama-cpp-python's multimodal chat handlers, chosen by the ``handler``
parameter; the handler renders the model family's prompt format, encodes the image with
libmtmd and evaluates it in the context before the reply streams out.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.engines import require_open
from runtime.errors import (
    EngineError,
    ModelLoadFailed,
    ModelNotInstalled,
    ResourceExhausted,
    UnsupportedInput,
)
from runtime.llm.base import ChatDelta, GenerationOptions, Usage
from runtime.llm.llama_cpp import default_threads, open_llama, validate_options
from runtime.params import parse_params

log = logging.getLogger(__name__)

MODEL_FILE = "model.gguf"
"""The language model inside the model folder."""
PROJECTOR_FILE = "mmproj.gguf"
"""The vision projector (CLIP/SigLIP encoder) inside the model folder."""

HANDLERS: dict[str, str] = {
    "gemma-4": "Gemma4ChatHandler",
    "llama-3-vision-alpha": "Llama3VisionAlphaChatHandler",
    "llava-1.5": "Llava15ChatHandler",
    "llava-1.6": "Llava16ChatHandler",
    "minicpm-v-2.6": "MiniCPMv26ChatHandler",
    "moondream": "MoondreamChatHandler",
    "mtmd": "MTMDChatHandler",
    "nanollava": "NanoLlavaChatHandler",
    "obsidian": "ObsidianChatHandler",
    "qwen2.5-vl": "Qwen25VLChatHandler",
}
"""``handler`` names -> chat handler classes in ``llama_cpp.llama_chat_format``.

``mtmd`` renders the GGUF's own chat template; the others carry their family's format.
"""

IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
"""Leading bytes of the encodings libmtmd (stb_image) decodes, and their media types."""

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Largest encoded image accepted."""


@dataclass(frozen=True)
class LlamaCppVisionLanguageParams:
    """Load-time parameters of a llama.cpp vision-language model."""

    handler: str = "llava-1.5"
    """The model family's chat handler; see ``HANDLERS``."""
    context_length: int = 4096
    """Tokens of context; image embeddings take hundreds of them."""
    threads: int = 0
    """CPU threads; 0 picks ``runtime.llm.llama_cpp.default_threads()``."""
    batch_size: int = 512
    """Prompt tokens evaluated per llama_decode call."""
    gpu_layers: int = 0
    """Layers offloaded to a GPU (-1 for all)."""
    flash_attention: bool = False
    """Use flash attention."""
    seed: int | None = None
    """Default sampling seed when a request sets none (None: random)."""

    def __post_init__(self) -> None:
        handler_class_name(self.handler)
        if self.context_length < 64:
            raise ValueError("context_length must be at least 64")
        if self.threads < 0:
            raise ValueError("threads must be 0 (automatic) or positive")
        if self.batch_size < 1:
            raise ValueError("batch_size must be positive")
        if self.gpu_layers < -1:
            raise ValueError("gpu_layers must be -1 (all), 0 or positive")
        if self.seed is not None and not 0 <= self.seed < 0xFFFFFFFF:
            raise ValueError("seed must be between 0 and 2**32 - 2")


def handler_class_name(handler: str) -> str:
    """The llama-cpp-python class behind a handler name; ValueError for unknown names."""
    try:
        return HANDLERS[handler]
    except KeyError:
        known = ", ".join(sorted(HANDLERS))
        raise ValueError(f"unknown handler {handler!r}; known: {known}") from None


def image_media_type(image: bytes) -> str | None:
    """The media type of an encoded image from its leading bytes, or None if unsupported."""
    for signature, media_type in IMAGE_SIGNATURES:
        if image.startswith(signature):
            return media_type
    return None


def image_data_uri(image: bytes) -> str:
    """The image as a ``data:`` URI; UnsupportedInput if it is empty, too big or not an image."""
    if not image:
        raise UnsupportedInput("the image is empty", field="image")
    if len(image) > MAX_IMAGE_BYTES:
        raise UnsupportedInput(
            f"the image has {len(image)} bytes; at most {MAX_IMAGE_BYTES} are accepted",
            field="image",
        )
    media_type = image_media_type(image)
    if media_type is None:
        raise UnsupportedInput("the image is not a PNG, JPEG, GIF or BMP file", field="image")
    return f"data:{media_type};base64,{base64.b64encode(image).decode('ascii')}"


def question_messages(data_uri: str, question: str) -> list[dict[str, Any]]:
    """The OpenAI-style message list the multimodal chat handlers read."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_uri}},
                {"type": "text", "text": question},
            ],
        }
    ]


def missing_files(model_dir: Path) -> list[str]:
    """Names of the files this engine needs that are not in ``model_dir``."""
    return [name for name in (MODEL_FILE, PROJECTOR_FILE) if not (model_dir / name).is_file()]


class LlamaCppVisionLanguageModel:
    """A multimodal GGUF plus projector on llama.cpp; one answer at a time per instance."""

    def __init__(self, model_id: str, llama: Any, params: LlamaCppVisionLanguageParams) -> None:
        self.model_id = model_id
        self._llama: Any = llama
        self._params = params
        self._busy = threading.Lock()

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> LlamaCppVisionLanguageModel:
        """Load ``model.gguf`` and ``mmproj.gguf`` from ``model_dir``."""
        parsed = parse_params(LlamaCppVisionLanguageParams, params, model_id)
        model_dir = Path(model_dir)
        missing = missing_files(model_dir)
        if missing:
            log.warning("model %s lacks %s in %s", model_id, ", ".join(missing), model_dir)
            raise ModelNotInstalled(model_id)
        import llama_cpp
        from llama_cpp import llama_chat_format

        handler_type = getattr(llama_chat_format, handler_class_name(parsed.handler))
        threads = parsed.threads or default_threads(os.cpu_count())
        try:
            handler = handler_type(clip_model_path=str(model_dir / PROJECTOR_FILE), verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadFailed(f"llama.cpp could not load {model_id!r}: {exc}") from exc
        llama = open_llama(
            llama_cpp, model_id, model_dir / MODEL_FILE, parsed, threads, chat_handler=handler
        )
        log.info("loaded %s (handler %s, %d threads)", model_id, parsed.handler, threads)
        return cls(model_id, llama, parsed)

    def answer(
        self,
        image: bytes,
        question: str,
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """Stream an answer; bad input raises here, before the first delta."""
        started = time.perf_counter()
        validate_options(options)
        if not question.strip():
            raise UnsupportedInput("the question is empty", field="question")
        messages = question_messages(image_data_uri(image), question)
        llama = require_open(self._llama, self.model_id)
        return self._stream(llama, messages, options, cancel, started)

    def close(self) -> None:
        """Free the model, its context and the projector."""
        llama, self._llama = self._llama, None
        if llama is not None:
            llama.close()

    def _stream(
        self,
        llama: Any,
        messages: list[dict[str, Any]],
        options: GenerationOptions,
        cancel: threading.Event | None,
        started: float,
    ) -> Iterator[ChatDelta]:
        if not self._busy.acquire(blocking=False):
            raise ResourceExhausted(f"model {self.model_id!r} is busy with another answer")
        try:
            seed = options.seed if options.seed is not None else self._params.seed
            progress = _Progress(last_at=started)
            if cancel is not None and cancel.is_set():
                progress.finish = "cancelled"
            else:
                yield from self._chunks(llama, messages, options, seed, cancel, progress)
            first = progress.first_at if progress.first_at is not None else progress.last_at
            usage = Usage(
                prompt_tokens=progress.prompt_tokens,
                completion_tokens=progress.pieces,
                prompt_seconds=first - started,
                generation_seconds=progress.last_at - first,
            )
            yield ChatDelta("", finish_reason=progress.finish, usage=usage)
        finally:
            self._busy.release()

    def _chunks(
        self,
        llama: Any,
        messages: list[dict[str, Any]],
        options: GenerationOptions,
        seed: int | None,
        cancel: threading.Event | None,
        progress: _Progress,
    ) -> Iterator[ChatDelta]:
        try:
            chunks = llama.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                top_p=options.top_p,
                top_k=options.top_k,
                repeat_penalty=options.repeat_penalty,
                stop=list(options.stop),
                seed=seed,
            )
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    text = choice["delta"].get("content") or ""
                    if text:
                        progress.last_at = time.perf_counter()
                        if progress.first_at is None:
                            progress.first_at = progress.last_at
                            # The prompt (text and image embeddings) is evaluated by now.
                            progress.prompt_tokens = llama.n_tokens
                        progress.pieces += 1
                        yield ChatDelta(text)
                    if choice["finish_reason"] is not None:
                        progress.finish = choice["finish_reason"]
                        return
                    if cancel is not None and cancel.is_set():
                        progress.finish = "cancelled"
                        return
            finally:
                chunks.close()
        except (ValueError, RuntimeError) as exc:
            raise EngineError(f"llama.cpp failed to answer: {exc}") from exc


@dataclass
class _Progress:
    """Mutable counters of one answer."""

    last_at: float
    """perf_counter() of the latest text piece."""
    first_at: float | None = None
    """perf_counter() of the first text piece."""
    prompt_tokens: int = 0
    """Context tokens (text and image) evaluated before the first piece."""
    pieces: int = 0
    """Text pieces streamed (about one per generated token)."""
    finish: str = "length"
    """Why the answer ended."""
