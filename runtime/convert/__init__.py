"""Model converters, by the name the manifest uses (``kind = "convert"`` sources)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def _whisper_ct2_to_ggml(source: Path, target: Path) -> None:
    from runtime.convert.whisper_ggml import convert_whisper_ct2_to_ggml

    convert_whisper_ct2_to_ggml(source, target)


def _gguf_iq4nl(source: Path, target: Path) -> None:
    from runtime.convert.gguf_requantize import requantize_gguf

    requantize_gguf(source, target, "iq4_nl")


CONVERTERS: dict[str, Callable[[Path, Path], None]] = {
    "whisper-ct2-to-ggml": _whisper_ct2_to_ggml,
    "gguf-iq4nl": _gguf_iq4nl,
}
