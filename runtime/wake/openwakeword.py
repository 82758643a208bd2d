"""Wake-word spotting with openWakeWord's ONNX models on onnxruntime.

openWakeWord runs three models in a stream of 80 ms frames (1280 samples at 16 kHz):

1. ``melspectrogram.onnx`` turns the frame plus 480 samples of the previous audio into
   8 frames of 32 mel bands, rescaled by ``x / 10 + 2`` (the transform that brings the ONNX
   port close to Google's TensorFlow ``speech_embedding`` front end);
2. ``embedding_model.onnx`` turns the latest 76 mel frames (about 775 ms) into one
   96-value embedding, so one embedding per 80 ms frame (a stride of 8 mel frames);
3. one classifier per wake word scores the latest 16 embeddings (about 1.3 s) in [0, 1].

The ``openwakeword`` package itself is not used: it pulls ``tflite-runtime``, which crashes
with numpy 2. The buffers mirror its ``AudioFeatures`` streaming path: the mel buffer
starts as ones, the embedding history starts as embeddings of low noise (seeded here, so
runs repeat) and the first frames after a reset are ignored while real audio fills it.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hal.audio import AudioChunk
from runtime.engines import require_open
from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.onnx import cpu_session
from runtime.params import parse_params
from runtime.vad.framing import PcmFramer
from runtime.wake.base import WakeDetection

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""The rate every openWakeWord model expects."""
FRAME_SAMPLES = 1280
"""Samples per streaming step (80 ms)."""
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
"""Seconds per streaming step."""
MEL_CONTEXT_SAMPLES = 480
"""Previous samples fed again to the mel model so its 25 ms windows span frame edges."""
MEL_BANDS = 32
"""Mel bands per mel frame."""
EMBEDDING_WINDOW = 76
"""Mel frames per embedding."""
EMBEDDING_SIZE = 96
"""Values per embedding."""
DEFAULT_CLASSIFIER_WINDOW = 16
"""Embeddings per classifier input when its ONNX input shape does not say."""
WARMUP_FRAMES = 5
"""Frames after a reset whose scores are ignored (openWakeWord zeroes them too)."""
MELSPEC_FILE = "melspectrogram.onnx"
"""The mel-spectrogram model's file name."""
EMBEDDING_FILE = "embedding_model.onnx"
"""The speech-embedding model's file name."""

_CLASSIFIER_FILE = re.compile(r"^(?P<word>[a-z0-9_]+?)(?:_v\d+(?:\.\d+)*)?\.onnx$")
_NOISE_SEED = 20_240_601


def word_from_filename(name: str) -> str | None:
    """The wake word a classifier file holds (``hey_jarvis_v0.1.onnx`` -> ``hey_jarvis``).

    None for the shared feature models and for anything that is not an ONNX file.
    """
    if name in (MELSPEC_FILE, EMBEDDING_FILE):
        return None
    match = _CLASSIFIER_FILE.match(name)
    return match.group("word") if match else None


def normalize_word(word: str) -> str:
    """Canonical spelling of a wake word (``Hey-Jarvis`` and ``hey jarvis`` -> ``hey_jarvis``)."""
    return re.sub(r"[\s-]+", "_", word.strip().lower())


def transform_melspectrogram(raw: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """openWakeWord's rescaling of the ONNX mel model's output to (frames, 32)."""
    spec = np.asarray(raw, dtype=np.float32).reshape(-1, MEL_BANDS)
    return (spec / 10.0 + 2.0).astype(np.float32)


def refractory_frames(seconds: float) -> int:
    """Frames to stay quiet after a detection for ``seconds`` of audio."""
    return max(0, math.ceil(round(seconds / FRAME_SECONDS, 6)))


class WakeTrigger:
    """Turns per-frame scores into detections: threshold, patience, warm-up and refractory.

    Pure: feed it one score per word per frame, in stream order. A word fires once its score
    has been at or over ``threshold`` for ``patience`` consecutive frames; then every word
    stays quiet for ``refractory`` frames (one utterance fires once) and must build its
    patience again.
    """

    def __init__(
        self,
        threshold: float,
        patience: int,
        refractory: int,
        warmup: int = WARMUP_FRAMES,
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        self.threshold = threshold
        self.thresholds = dict(thresholds or {})
        self.patience = patience
        self.refractory = refractory
        self.warmup = warmup
        self._streaks: dict[str, int] = {}
        self._quiet = warmup

    def update(self, scores: Mapping[str, float]) -> tuple[str, float] | None:
        """The (word, score) that fires on this frame, if any (the highest score wins ties)."""
        if self._quiet > 0:
            self._quiet -= 1
            self._streaks.clear()
            return None
        fired: tuple[str, float] | None = None
        for word, score in scores.items():
            over = score >= self.thresholds.get(word, self.threshold)
            streak = self._streaks.get(word, 0) + 1 if over else 0
            self._streaks[word] = streak
            if streak >= self.patience and (fired is None or score > fired[1]):
                fired = (word, score)
        if fired is not None:
            self._quiet = self.refractory
            self._streaks.clear()
        return fired

    def reset(self) -> None:
        """Back to the state after construction (warm-up included)."""
        self._streaks.clear()
        self._quiet = self.warmup


@dataclass(frozen=True)
class OpenWakeWordParams:
    """Parameters of the openWakeWord detector."""

    words: tuple[str, ...] = ()
    """Wake words to listen for (``hey_jarvis``...); empty: every classifier of the model."""
    threshold: float = 0.5
    """Score in (0, 1) a frame must reach."""
    patience: int = 1
    """Consecutive 80 ms frames at or over the threshold before a detection."""
    refractory_seconds: float = 2.0
    """Audio after a detection during which nothing fires (one utterance, one detection)."""
    threads: int = 1
    """onnxruntime intra-op threads per model (the models are small: 1 is usually best)."""
    word_thresholds: Mapping[str, float] = field(default_factory=dict)
    """Overrides of ``threshold`` for single words."""

    def __post_init__(self) -> None:
        # TOML and JSON give lists and tables: store canonical words in a tuple.
        words: Any = self.words
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise ValueError("words must be a list of strings")
        unique = dict.fromkeys(normalize_word(w) for w in words)
        object.__setattr__(self, "words", tuple(unique))
        object.__setattr__(
            self,
            "word_thresholds",
            {normalize_word(w): float(t) for w, t in dict(self.word_thresholds).items()},
        )
        for value in (self.threshold, *self.word_thresholds.values()):
            if not 0.0 < value < 1.0:
                raise ValueError("thresholds must be between 0 and 1 (exclusive)")
        if self.patience < 1:
            raise ValueError("patience must be at least 1 frame")
        if self.refractory_seconds < 0:
            raise ValueError("refractory_seconds must not be negative")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")


@dataclass(frozen=True)
class _Classifier:
    word: str
    session: onnxruntime.InferenceSession
    window: int


@dataclass(frozen=True)
class _Models:
    melspec: onnxruntime.InferenceSession
    embedding: onnxruntime.InferenceSession
    classifiers: tuple[_Classifier, ...]


class OpenWakeWordDetector:
    """Streaming wake-word detector over 16 kHz mono 16-bit audio."""

    def __init__(
        self,
        model_id: str,
        params: OpenWakeWordParams,
        models: _Models,
        initial_history: npt.NDArray[np.float32],
    ) -> None:
        self.model_id = model_id
        self.words: tuple[str, ...] = tuple(c.word for c in models.classifiers)
        self.params = params
        self._models: _Models | None = models
        self._history_length = max(c.window for c in models.classifiers)
        self._framer = PcmFramer(FRAME_SAMPLES, SAMPLE_RATE)
        self._trigger = WakeTrigger(
            threshold=params.threshold,
            patience=params.patience,
            refractory=refractory_frames(params.refractory_seconds),
            thresholds=params.word_thresholds,
        )
        self._initial_history = initial_history
        self._context = np.zeros(0, dtype=np.float32)
        self._mel = np.ones((EMBEDDING_WINDOW, MEL_BANDS), dtype=np.float32)
        self._history = initial_history.copy()
        self.last_scores: dict[str, float] = {}
        """Each word's score on the latest frame (for meters and tuning)."""

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> OpenWakeWordDetector:
        """Open the feature models and the chosen words' classifiers in ``model_dir``."""
        parsed = parse_params(OpenWakeWordParams, params, model_id)
        for name in (MELSPEC_FILE, EMBEDDING_FILE):
            if not (model_dir / name).is_file():
                raise ModelNotInstalled(model_id)
        available = {
            word: path
            for path in sorted(model_dir.glob("*.onnx"))
            if (word := word_from_filename(path.name)) is not None
        }
        if not available:
            raise ModelNotInstalled(model_id)
        chosen = parsed.words or tuple(available)
        missing = [w for w in (*chosen, *parsed.word_thresholds) if w not in available]
        if missing:
            raise UnsupportedInput(
                f"Model {model_id!r} has no wake word {missing[0]!r};"
                f" it has: {', '.join(available)}",
                field="words",
            )
        melspec = cpu_session(model_dir / MELSPEC_FILE, parsed.threads)
        embedding = cpu_session(model_dir / EMBEDDING_FILE, parsed.threads)
        classifiers = []
        for word in chosen:
            session = cpu_session(available[word], parsed.threads)
            shape = session.get_inputs()[0].shape
            window = shape[1] if len(shape) == 3 and isinstance(shape[1], int) else None
            classifiers.append(
                _Classifier(word=word, session=session, window=window or DEFAULT_CLASSIFIER_WINDOW)
            )
        models = _Models(melspec, embedding, tuple(classifiers))
        history = _noise_history(models, max(c.window for c in classifiers))
        detector = cls(model_id, parsed, models, history)
        log.info("loaded wake words %s from %s", ", ".join(detector.words), model_dir)
        return detector

    def process(self, chunk: AudioChunk) -> WakeDetection | None:
        """Feed any amount of audio; the first detection it completes, if any."""
        models = require_open(self._models, self.model_id)
        detection: WakeDetection | None = None
        for frame in self._framer.push(chunk):
            scores = self._score_frame(models, np.frombuffer(frame.audio, dtype="<i2"))
            self.last_scores = scores
            fired = self._trigger.update(scores)
            if fired is not None and detection is None:
                word, score = fired
                detection = WakeDetection(
                    word=word, score=score, timestamp=frame.timestamp + FRAME_SECONDS
                )
                log.info("wake word %s (score %.3f) at %.2f s", word, score, detection.timestamp)
        return detection

    def reset(self) -> None:
        """Forget buffered audio, features and scores."""
        self._framer.reset()
        self._trigger.reset()
        self._context = np.zeros(0, dtype=np.float32)
        self._mel = np.ones((EMBEDDING_WINDOW, MEL_BANDS), dtype=np.float32)
        self._history = self._initial_history.copy()
        self.last_scores = {}

    def fork(self) -> OpenWakeWordDetector:
        """A detector with fresh stream state sharing these onnxruntime sessions (which
        may run from several threads), for another stream at the same time."""
        models = require_open(self._models, self.model_id)
        return OpenWakeWordDetector(self.model_id, self.params, models, self._initial_history)

    def close(self) -> None:
        """Drop the onnxruntime sessions."""
        self._models = None

    def _score_frame(self, models: _Models, pcm: npt.NDArray[np.int16]) -> dict[str, float]:
        audio = np.concatenate((self._context, pcm.astype(np.float32)))
        self._context = audio[-MEL_CONTEXT_SAMPLES:]
        mel = transform_melspectrogram(_run(models.melspec, audio[None]))
        self._mel = np.vstack((self._mel, mel))[-EMBEDDING_WINDOW:]
        embedding = _run(models.embedding, self._mel[None, :, :, None]).reshape(1, -1)
        self._history = np.vstack((self._history, embedding))[-self._history_length :]
        scores = {}
        for classifier in models.classifiers:
            output = _run(classifier.session, self._history[-classifier.window :][None])
            scores[classifier.word] = float(output.reshape(-1)[0])
        return scores


def _noise_history(models: _Models, length: int) -> npt.NDArray[np.float32]:
    """Embeddings of seeded low noise, as openWakeWord primes its feature buffer."""
    frames = EMBEDDING_WINDOW + (length - 1) * 8
    noise = np.random.default_rng(_NOISE_SEED).integers(-1000, 1000, (frames + 3) * 160)
    mel = transform_melspectrogram(_run(models.melspec, noise.astype(np.float32)[None]))
    starts = range(0, len(mel) - EMBEDDING_WINDOW + 1, 8)
    windows = np.stack([mel[i : i + EMBEDDING_WINDOW] for i in starts])
    embeddings = _run(models.embedding, windows[..., None])
    return embeddings.reshape(len(windows), EMBEDDING_SIZE)[-length:]


def _run(session: onnxruntime.InferenceSession, value: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    feed = {session.get_inputs()[0].name: value.astype(np.float32)}
    try:
        outputs = session.run(None, feed)
    except Exception as exc:  # onnxruntime's errors derive from Exception only
        raise EngineError(f"openWakeWord inference failed: {exc}") from exc
    return np.asarray(outputs[0], dtype=np.float32)
