"""Speech to text with faster-whisper on a CTranslate2 Whisper model."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hal.audio import AudioChunk
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled, UnsupportedInput
from runtime.params import parse_params
from runtime.stt.audio_context import SAMPLE_RATE, default_threads, pcm_samples, within_audio
from runtime.stt.base import Segment, TranscribeOptions, Transcript, check_task

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
"""The faster-whisper layout; without tokenizer.json faster-whisper would download one."""
COMPUTE_TYPES = frozenset(
    {
        "default",
        "auto",
        "int8",
        "int8_float32",
        "int8_float16",
        "int8_bfloat16",
        "int16",
        "float16",
        "bfloat16",
        "float32",
    }
)


@dataclass(frozen=True)
class FasterWhisperParams:
    """Load-time settings of a faster-whisper model."""

    compute_type: str = "int8"
    """CTranslate2 weight type in memory (int8 is fastest on CPUs)."""
    cpu_threads: int = 0
    """CPU threads; 0 = one per core, at most 4."""
    vad_filter: bool = False
    """Cut silence with faster-whisper's Silero VAD first (off: the pipeline has its own)."""

    def __post_init__(self) -> None:
        if self.compute_type not in COMPUTE_TYPES:
            raise ValueError(
                f"compute_type must be one of {', '.join(sorted(COMPUTE_TYPES))},"
                f" not {self.compute_type!r}"
            )
        if self.cpu_threads < 0:
            raise ValueError("cpu_threads must be >= 0")


TOP_LANGUAGES = 10
"""Detected languages kept in a transcript (likeliest first)."""


class FasterWhisperSpeechToText:
    """A CTranslate2 Whisper model run by faster-whisper; one transcription at a time.

    The encoder always sees a 30 s window (CTranslate2 takes no shorter one), so
    ``TranscribeOptions.shorten_audio_context`` has no effect here.
    """

    sample_rate: int = SAMPLE_RATE

    def __init__(self, model_id: str, model: WhisperModel, params: FasterWhisperParams) -> None:
        self.model_id = model_id
        self._model: WhisperModel | None = model
        self._params = params
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> FasterWhisperSpeechToText:
        """Load the CTranslate2 model folder ``model_dir``."""
        parsed = parse_params(FasterWhisperParams, params, model_id)
        if not all((model_dir / name).is_file() for name in MODEL_FILES):
            raise ModelNotInstalled(model_id)
        threads = parsed.cpu_threads or default_threads(os.cpu_count())
        from faster_whisper import WhisperModel

        try:
            model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type=parsed.compute_type,
                cpu_threads=threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelLoadFailed(f"Model {model_id!r}: faster-whisper could not load it") from exc
        log.info(
            "Loaded %s from %s (%s, %d threads)", model_id, model_dir, parsed.compute_type, threads
        )
        return cls(model_id, model, parsed)

    def transcribe(self, audio: AudioChunk, options: TranscribeOptions) -> Transcript:
        """Transcribe one utterance (or a longer file, in 30 s windows)."""
        samples = pcm_samples(audio)
        seconds = samples.size / SAMPLE_RATE
        if options.beam_size < 1:
            raise UnsupportedInput("beam_size must be >= 1", field="beam_size")
        with self._lock:
            model = require_open(self._model, self.model_id)
            languages = model.supported_languages
            check_task(options, self.model_id, multilingual=model.model.is_multilingual)
            if options.language is not None and options.language not in languages:
                raise UnsupportedInput(
                    f"Model {self.model_id!r} cannot transcribe {options.language!r}",
                    field="language",
                )
            if samples.size == 0:
                language = options.language or (languages[0] if len(languages) == 1 else "und")
                return Transcript("", language, 1.0 if language != "und" else 0.0, (), 0.0)
            try:
                found, info = model.transcribe(
                    samples,
                    language=options.language,
                    task=options.task,
                    beam_size=options.beam_size,
                    initial_prompt=options.initial_prompt,
                    vad_filter=self._params.vad_filter,
                )
                # The segments come from a generator: decoding happens while it is read.
                segments = within_audio(_segments(found), seconds)
            except (RuntimeError, ValueError) as exc:
                raise EngineError(f"Model {self.model_id!r}: faster-whisper failed") from exc
        return Transcript(
            text=" ".join(s.text for s in segments),
            language=info.language,
            language_probability=float(info.language_probability),
            language_probabilities=tuple(
                (str(code), float(p)) for code, p in (info.all_language_probs or ())[:TOP_LANGUAGES]
            ),
            segments=segments,
            duration=seconds,
        )

    def close(self) -> None:
        """Free the CTranslate2 model."""
        with self._lock:
            self._model = None


def _segments(found: Iterable[Any]) -> tuple[Segment, ...]:
    segments = []
    for segment in found:
        text = segment.text.strip()
        if text:
            segments.append(Segment(start=float(segment.start), end=float(segment.end), text=text))
    return tuple(segments)
