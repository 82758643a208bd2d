"""Speech to text with whisper.cpp (through pywhispercpp) on a ggml Whisper model."""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hal.audio import AudioChunk
from runtime.convert.ggml import read_ggml_index
from runtime.cpu import ThreadPolicy
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled, UnsupportedInput
from runtime.params import parse_params
from runtime.stt.audio_context import (
    DEFAULT_MARGIN_POSITIONS,
    DEFAULT_MIN_POSITIONS,
    FULL_AUDIO_CONTEXT,
    SAMPLE_RATE,
    audio_context_positions,
    default_threads,
    looks_runaway,
    pcm_samples,
    within_audio,
)
from runtime.stt.base import Segment, TranscribeOptions, Transcript, check_task

log = logging.getLogger(__name__)


class WhisperCppModel(Protocol):
    """What the engine uses of ``pywhispercpp.model.Model`` (tests inject a fake)."""

    def transcribe(self, media: npt.NDArray[np.float32], **params: Any) -> Sequence[Any]:
        """Run whisper_full; segments with ``t0``/``t1`` (10 ms units) and ``text``."""
        ...

    def available_languages(self) -> list[str]:
        """Language codes whisper.cpp knows."""
        ...

    def auto_detect_language(
        self,
        media: npt.NDArray[np.float32],
        offset_ms: int | None = None,
        n_threads: int | None = None,
    ) -> tuple[tuple[str, Any], Mapping[str, Any]]:
        """(best language, probability), and every language's probability."""
        ...


TEMPERATURE_INCREMENT = 0.2
"""whisper.cpp's default: retry a failed window at temperature 0.2, 0.4 ... 1.0."""
BLANK_MARKER = "[BLANK_AUDIO]"
"""What whisper.cpp writes for a window with no speech."""


@dataclass(frozen=True)
class WhisperCppParams:
    """Load-time settings of a whisper.cpp model."""

    model_file: str = ""
    """Name of the ggml file in the model folder; empty = the only ``ggml-*.bin`` there."""
    threads: int = 0
    """CPU threads; 0 = chosen for each transcription by the thread policy (every core
    nothing else is using, at most 4)."""
    audio_context_margin: int = DEFAULT_MARGIN_POSITIONS
    """Encoder positions (50 per second) kept after the audio when shortening the window."""
    min_audio_context: int = DEFAULT_MIN_POSITIONS
    """Fewest encoder positions ever used when shortening the window."""

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ValueError("threads must be >= 0")
        if self.audio_context_margin < 0:
            raise ValueError("audio_context_margin must be >= 0")
        if not 0 < self.min_audio_context <= FULL_AUDIO_CONTEXT:
            raise ValueError(f"min_audio_context must be in 1..{FULL_AUDIO_CONTEXT}")
        if "/" in self.model_file or self.model_file.startswith("."):
            raise ValueError("model_file must be a plain file name")


def find_model_file(model_dir: Path, name: str) -> Path | None:
    """The ggml file in ``model_dir``: ``name`` if given, else the only ``ggml-*.bin``."""
    if name:
        path = model_dir / name
        return path if path.is_file() else None
    found = sorted(p for p in model_dir.glob("ggml-*.bin") if p.is_file())
    return found[0] if len(found) == 1 else None


class WhisperCppSpeechToText:
    """A ggml Whisper model run by whisper.cpp; one transcription at a time."""

    sample_rate: int = SAMPLE_RATE

    def __init__(
        self,
        model_id: str,
        model: WhisperCppModel,
        *,
        multilingual: bool,
        audio_context: int,
        params: WhisperCppParams,
        threads: int,
    ) -> None:
        self.model_id = model_id
        self._model: WhisperCppModel | None = model
        self._multilingual = multilingual
        self._full_context = audio_context
        self._params = params
        self._threads = threads
        self._policy = ThreadPolicy()
        self._lock = threading.Lock()

    def share_cpu(self, policy: ThreadPolicy) -> None:
        """Choose threads with ``policy`` (the model manager's, which knows our other
        engines) and report this engine's transcriptions to it."""
        self._policy = policy

    def _threads_now(self) -> int:
        """Threads for the next whisper.cpp call. Its threads meet at a barrier after every
        step, so one that loses its core stalls the rest: on 2 cores beside one busy
        process, a 2.6 s question took 3.5-9 s on 2 threads and 0.33 s on 1."""
        if self._params.threads:
            return self._threads
        return min(self._threads, self._policy.threads(self.model_id))

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> WhisperCppSpeechToText:
        """Load the ggml model in ``model_dir``."""
        parsed = parse_params(WhisperCppParams, params, model_id)
        path = find_model_file(model_dir, parsed.model_file)
        if path is None:
            raise ModelNotInstalled(model_id)
        try:
            index = read_ggml_index(path)
        except UnsupportedInput as exc:
            # pywhispercpp hands back a context even when whisper.cpp failed to load the
            # file, and using it crashes the process: refuse bad files before.
            raise ModelLoadFailed(f"Model {model_id!r}: {exc.detail}") from exc
        threads = parsed.threads or default_threads(os.cpu_count())
        from pywhispercpp.model import Model

        # pywhispercpp silences whisper.cpp's load report by pointing file descriptor 2 at
        # /dev/null for the duration of the load (process-wide, a fraction of a second).
        # whisper_log_set with a Python callback is not an option: in a trial the binding
        # called it without holding the GIL and the interpreter aborted at exit.
        try:
            model = Model(
                str(path),
                # With flash attention whisper.cpp pads the cross-attention window to a
                # multiple of 256 positions (GGML_PAD(n_audio_ctx, 256) in
                # whisper_build_graph_decoder) and never clears the pad: after a call
                # with a shortened window, later results (even with the full window, and
                # the language detection) depend on what was transcribed before. Seen
                # with whisper.cpp 1.8 in pywhispercpp 1.5.1. Without it, results are
                # reproducible; a full window is about a third slower, a shortened one
                # is as fast.
                context_params={"flash_attn": False},
                redirect_whispercpp_logs_to=None,
                n_threads=threads,
                print_progress=False,
                print_realtime=False,
                print_timestamps=False,
            )
        except (RuntimeError, OSError, ValueError, TypeError) as exc:
            raise ModelLoadFailed(f"Model {model_id!r}: whisper.cpp could not load {path}") from exc
        log.info(
            "Loaded %s from %s (%s, %d threads)",
            model_id,
            path,
            "multilingual" if index.multilingual else "English only",
            threads,
        )
        return cls(
            model_id,
            model,
            multilingual=index.multilingual,
            audio_context=index.hparams.n_audio_ctx,
            params=parsed,
            threads=threads,
        )

    def transcribe(self, audio: AudioChunk, options: TranscribeOptions) -> Transcript:
        """Transcribe one utterance (or a longer file, in 30 s windows)."""
        samples = pcm_samples(audio)
        seconds = samples.size / SAMPLE_RATE
        if options.beam_size < 1:
            raise UnsupportedInput("beam_size must be >= 1", field="beam_size")
        check_task(options, self.model_id, multilingual=self._multilingual)
        with self._lock, self._policy.activity.busy(self.model_id):
            model = require_open(self._model, self.model_id)
            threads = self._threads_now()
            language, probability, ranked = self._language(
                model, samples, options.language, threads
            )
            if samples.size == 0:
                return Transcript("", language, probability, (), 0.0, ranked)
            detected = self._multilingual and options.language is None
            positions = self._full_context
            # After whisper.cpp has detected the language on a shortened window, a
            # transcription on a shortened window often comes back empty (seen with
            # whisper.cpp 1.8.x through pywhispercpp 1.5.1); with the full window it
            # does not. So a clip whose language is detected is transcribed whole.
            if options.shorten_audio_context and not detected:
                positions = audio_context_positions(
                    seconds,
                    margin=self._params.audio_context_margin,
                    minimum=self._params.min_audio_context,
                    full=self._full_context,
                )
            segments = self._run(model, samples, language, options, positions, threads)
            if positions < self._full_context and looks_runaway(_join(segments), seconds):
                log.warning(
                    "%s: output runs away with %d encoder positions for %.1f s; retrying with all",
                    self.model_id,
                    positions,
                    seconds,
                )
                segments = self._run(model, samples, language, options, self._full_context, threads)
        segments = within_audio(segments, seconds)
        return Transcript(
            text=_join(segments),
            language=language,
            language_probability=probability,
            language_probabilities=ranked,
            segments=segments,
            duration=seconds,
        )

    def close(self) -> None:
        """Free the whisper.cpp context."""
        with self._lock:
            # pywhispercpp frees the context when the Model object goes away.
            self._model = None

    def _language(
        self,
        model: WhisperCppModel,
        samples: npt.NDArray[np.float32],
        language: str | None,
        threads: int,
    ) -> tuple[str, float, tuple[tuple[str, float], ...]]:
        if not self._multilingual:
            if language not in (None, "en"):
                raise UnsupportedInput(
                    f"Model {self.model_id!r} is English only; cannot transcribe {language!r}",
                    field="language",
                )
            return "en", 1.0, ()
        if language is not None:
            if language not in model.available_languages():
                raise UnsupportedInput(f"unknown language {language!r}", field="language")
            return language, 1.0, ()
        if samples.size == 0:
            return "und", 0.0, ()
        # whisper.cpp encodes the detection window with the previous call's audio_ctx (the
        # full 30 s on the first call, and after any detection: see transcribe()).
        try:
            _, probabilities = model.auto_detect_language(samples, n_threads=threads)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise EngineError(f"Model {self.model_id!r}: language detection failed") from exc
        best = max(probabilities, key=lambda code: float(probabilities[code]))
        score = float(probabilities[best])
        if not score > 0.0:
            raise EngineError(f"Model {self.model_id!r}: language detection failed")
        ranked = sorted(probabilities, key=lambda code: float(probabilities[code]), reverse=True)
        top = tuple((str(code), float(probabilities[code])) for code in ranked[:10])
        return best, score, top

    def _run(
        self,
        model: WhisperCppModel,
        samples: npt.NDArray[np.float32],
        language: str,
        options: TranscribeOptions,
        positions: int,
        threads: int,
    ) -> tuple[Segment, ...]:
        # pywhispercpp's native module (no type stubs) holds the decoding strategy enum.
        pw = importlib.import_module("_pywhispercpp")
        shortened = positions < self._full_context
        strategy = pw.whisper_sampling_strategy
        decoding: dict[str, Any] = (
            {
                "strategy": strategy.WHISPER_SAMPLING_BEAM_SEARCH,
                "beam_search": {"beam_size": options.beam_size, "patience": -1.0},
            }
            if options.beam_size > 1
            else {"strategy": strategy.WHISPER_SAMPLING_GREEDY}
        )
        # pywhispercpp keeps parameters across calls, so every one that varies is set.
        try:
            found = model.transcribe(
                samples,
                language=language,
                detect_language=False,
                translate=options.task == "translate",
                initial_prompt=options.initial_prompt or "",
                # 0 = whisper.cpp's full window.
                audio_ctx=positions if shortened else 0,
                # A shortened window that fails is retried whole (see looks_runaway) rather
                # than resampled at rising temperatures, which takes seconds and rarely helps.
                temperature_inc=0.0 if shortened else TEMPERATURE_INCREMENT,
                n_threads=threads,
                no_context=True,
                **decoding,
            )
        except (RuntimeError, ValueError, TypeError) as exc:
            raise EngineError(f"Model {self.model_id!r}: whisper.cpp failed: {exc}") from exc
        return _segments(found)


def _segments(found: Sequence[Any]) -> tuple[Segment, ...]:
    # whisper.cpp times segments in hundredths of a second.
    return tuple(
        Segment(start=s.t0 / 100.0, end=s.t1 / 100.0, text=s.text.strip())
        for s in found
        if s.text.strip() and s.text.strip() != BLANK_MARKER
    )


def _join(segments: Sequence[Segment]) -> str:
    return " ".join(s.text for s in segments)
