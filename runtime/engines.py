"""Which engine class serves which capability; engines are imported only when loaded."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from runtime.errors import EngineError, UnsupportedInput


class Capability(StrEnum):
    """What a model does."""

    LLM = "llm"
    VLM = "vlm"
    STT = "stt"
    TTS = "tts"
    MT = "mt"
    DETECT = "detect"
    OCR = "ocr"
    VAD = "vad"
    WAKE = "wake"


class Engine(Protocol):
    """What every loaded engine has, whatever its capability."""

    model_id: str

    def close(self) -> None:
        """Free the model."""
        ...


Handle = TypeVar("Handle")


def require_open(handle: Handle | None, model_id: str) -> Handle:
    """An engine's native handle, or ``EngineError`` once ``close()`` has dropped it."""
    if handle is None:
        raise EngineError(f"model {model_id!r} is closed")
    return handle


@dataclass(frozen=True)
class EngineSpec:
    """Where an engine lives and what it needs."""

    capability: Capability
    """The capability it serves."""
    target: str
    """``module:Class`` with a ``load(model_id, model_dir, params)`` classmethod."""
    extra: str
    """The package extra that installs its library."""
    remote: bool = False
    """Runs on another machine: no local memory, health-checked, with a local fallback."""


ENGINES: dict[str, EngineSpec] = {
    "llama_cpp": EngineSpec(Capability.LLM, "runtime.llm.llama_cpp:LlamaCppChatModel", "llm"),
    "llama_cpp_vlm": EngineSpec(
        Capability.VLM, "runtime.vlm.llama_cpp:LlamaCppVisionLanguageModel", "llm"
    ),
    "whispercpp": EngineSpec(
        Capability.STT, "runtime.stt.whispercpp:WhisperCppSpeechToText", "stt"
    ),
    "faster_whisper": EngineSpec(
        Capability.STT, "runtime.stt.faster_whisper:FasterWhisperSpeechToText", "stt"
    ),
    "piper": EngineSpec(Capability.TTS, "runtime.tts.piper:PiperTextToSpeech", "tts"),
    "espeak_ng": EngineSpec(Capability.TTS, "runtime.tts.espeak:EspeakTextToSpeech", "tts"),
    "ctranslate2": EngineSpec(Capability.MT, "runtime.mt.ctranslate2:CTranslate2Translator", "mt"),
    "yolo_onnx": EngineSpec(
        Capability.DETECT, "runtime.detect.yolo_onnx:YoloOnnxObjectDetector", "vision"
    ),
    "ultralytics": EngineSpec(
        Capability.DETECT, "runtime.detect.ultralytics:UltralyticsObjectDetector", "ultralytics"
    ),
    "rapidocr": EngineSpec(Capability.OCR, "runtime.ocr.rapidocr:RapidOcrTextRecognizer", "vision"),
    "silero": EngineSpec(Capability.VAD, "runtime.vad.silero:SileroVoiceActivityDetector", "audio"),
    "webrtcvad": EngineSpec(
        Capability.VAD, "runtime.vad.webrtc:WebRtcVoiceActivityDetector", "audio"
    ),
    "openwakeword": EngineSpec(
        Capability.WAKE, "runtime.wake.openwakeword:OpenWakeWordDetector", "audio"
    ),
    "openai": EngineSpec(
        Capability.LLM, "runtime.llm.openai_compat:OpenAICompatibleChatModel", "", remote=True
    ),
    "wyoming_stt": EngineSpec(
        Capability.STT, "runtime.stt.wyoming:WyomingSpeechToText", "", remote=True
    ),
    "wyoming_tts": EngineSpec(
        Capability.TTS, "runtime.tts.wyoming:WyomingTextToSpeech", "", remote=True
    ),
    "wyoming_wake": EngineSpec(
        Capability.WAKE, "runtime.wake.wyoming:WyomingWakeWord", "", remote=True
    ),
}


def engine_spec(engine: str) -> EngineSpec:
    """The spec of a known engine."""
    try:
        return ENGINES[engine]
    except KeyError as exc:
        known = ", ".join(sorted(ENGINES))
        raise UnsupportedInput(
            f"Unknown engine {engine!r}; known: {known}", field="engine"
        ) from exc


def is_remote(engine: str) -> bool:
    """Whether an engine runs on another machine (False for engines it does not know)."""
    spec = ENGINES.get(engine)
    return spec is not None and spec.remote


def load_engine(engine: str, model_id: str, model_dir: Path, params: Mapping[str, Any]) -> Engine:
    """Import the engine's module and load the model (blocking; call it off the event loop)."""
    spec = engine_spec(engine)
    module_name, _, class_name = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineError(
            f"The {engine} engine cannot be imported ({exc.name or exc}); install it with:"
            f" pip install 'edge-assistant[{spec.extra}]'",
            engine=engine,
        ) from exc
    cls = getattr(module, class_name)
    return cast(Engine, cls.load(model_id, model_dir, params))
