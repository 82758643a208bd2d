"""Text to speech with Piper voices (``piper-tts``: VITS on onnxruntime, espeak-ng phonemes).

Piper phonemizes the whole text with espeak-ng, which also finds the sentence ends, then
runs the voice once per sentence; ``synthesize()`` hands each sentence's audio on as soon
as it is made, so playback can start after the first sentence.

While it computes a sentence it tells the thread policy (``share_cpu``), so the chat
model, still writing the rest of the reply, decodes on the cores Piper leaves free; a
synthesis marked urgent (a reply's first piece, which someone is waiting to hear) makes
the chat model wait between tokens until it is made, so the voice has every core. Other
syntheses run on the cores the policy gives them: onnxruntime's threads wait for each
other at every step, so on 2 cores beside one busy process a short sentence took about
380 ms on both and 240 ms on one. An onnxruntime session's threads are fixed when it is
made, so the voice is opened again on fewer threads the first time the policy asks for
fewer (about the voice's size in memory once more).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hal.audio import AudioChunk
from runtime.cpu import MAX_STEP_WAIT_SECONDS, ThreadPolicy
from runtime.engines import require_open
from runtime.errors import EngineError, ModelLoadFailed, ModelNotInstalled, UnsupportedInput
from runtime.onnx import cpu_session
from runtime.params import parse_params
from runtime.tts.base import SynthesisOptions

if TYPE_CHECKING:
    from piper import PiperVoice
    from piper.config import SynthesisConfig

log = logging.getLogger(__name__)

MIN_RATE = 0.25
"""Slowest speaking rate accepted."""
MAX_RATE = 4.0
"""Fastest speaking rate accepted."""


@dataclass(frozen=True)
class PiperParams:
    """Load-time parameters of a Piper voice."""

    voice: str | None = None
    """File name of the voice (``en_US-joe-medium.onnx``) when the folder holds several."""
    length_scale: float | None = None
    """Phoneme duration at rate 1.0 (> 1 slower); None: the voice's own (usually 1.0)."""
    noise_scale: float | None = None
    """Generator noise (expressiveness); 0 is flat and repeatable (on one thread count: the
    samples differ in the last bit between counts); None: the voice's own."""
    noise_w_scale: float | None = None
    """Phoneme-duration noise; 0 gives the same timing every run; None: the voice's own."""
    normalize_audio: bool = True
    """Scale each sentence to full range (Piper's default)."""
    volume: float = 1.0
    """Multiplier on the samples after normalising (clipped to full range)."""
    sentence_silence_seconds: float = 0.0
    """Silence appended to each sentence's chunk (a pause between sentences)."""
    threads: int = 0
    """onnxruntime intra-op threads; 0: every core for a reply's first piece, otherwise as
    many as the thread policy leaves."""

    def __post_init__(self) -> None:
        if self.length_scale is not None and not (
            math.isfinite(self.length_scale) and self.length_scale > 0
        ):
            raise ValueError("length_scale must be positive")
        for name in ("noise_scale", "noise_w_scale"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be zero or positive")
        if not (math.isfinite(self.volume) and self.volume > 0):
            raise ValueError("volume must be positive")
        if not 0.0 <= self.sentence_silence_seconds <= 5.0:
            raise ValueError("sentence_silence_seconds must be between 0 and 5")
        if self.threads < 0:
            raise ValueError("threads must be 0 (all cores) or positive")


def check_options(options: SynthesisOptions, num_speakers: int) -> None:
    """Raise UnsupportedInput for a rate or speaker the voice cannot honour."""
    if not (math.isfinite(options.rate) and MIN_RATE <= options.rate <= MAX_RATE):
        raise UnsupportedInput(f"rate must be between {MIN_RATE} and {MAX_RATE}", field="rate")
    speaker = options.speaker_id
    if speaker is None:
        return
    if num_speakers <= 1 and speaker != 0:
        raise UnsupportedInput("this voice has a single speaker (id 0)", field="speaker_id")
    if num_speakers > 1 and not 0 <= speaker < num_speakers:
        raise UnsupportedInput(
            f"speaker_id must be between 0 and {num_speakers - 1}", field="speaker_id"
        )


def length_scale_for(rate: float, base_length_scale: float) -> float:
    """Piper's ``length_scale`` for a speaking ``rate`` (twice as fast: half as long)."""
    return base_length_scale / rate


def find_voice(model_dir: Path, voice: str | None) -> Path | None:
    """The voice's ``.onnx`` in ``model_dir`` (its ``.onnx.json`` beside it), if there is one.

    Raises UnsupportedInput when several voices are there and ``voice`` does not pick one.
    """
    if voice is not None:
        path = model_dir / voice
        return path if path.is_file() else None
    voices = sorted(p for p in model_dir.glob("*.onnx") if p.is_file())
    if len(voices) > 1:
        names = ", ".join(p.name for p in voices)
        raise UnsupportedInput(
            f"several voices in {model_dir} ({names}); set `voice`", field="voice"
        )
    return voices[0] if voices else None


class PiperTextToSpeech:
    """A loaded Piper voice."""

    def __init__(
        self,
        model_id: str,
        params: PiperParams,
        voice: PiperVoice,
        *,
        open_session: Callable[[int], Any] | None = None,
    ) -> None:
        """``voice`` runs on every core (or the ``threads`` parameter's count);
        ``open_session(threads)`` opens its model on fewer (None: ``voice`` always)."""
        self.model_id = model_id
        self.params = params
        self.sample_rate: int = voice.config.sample_rate
        self.num_speakers: int = voice.config.num_speakers
        self._voice: PiperVoice | None = voice
        self._open_session = open_session
        self._fewer: dict[int, PiperVoice] = {}
        self._fewer_lock = threading.Lock()
        self._policy = ThreadPolicy()

    def share_cpu(self, policy: ThreadPolicy) -> None:
        """Choose threads with ``policy`` (the model manager's) and report the time spent
        synthesising to it."""
        self._policy = policy

    @classmethod
    def load(cls, model_id: str, model_dir: Path, params: Mapping[str, Any]) -> PiperTextToSpeech:
        """Open the voice (``*.onnx`` plus ``*.onnx.json``) in ``model_dir``."""
        parsed = parse_params(PiperParams, params, model_id)
        model_path = find_voice(model_dir, parsed.voice)
        if model_path is None:
            raise ModelNotInstalled(model_id)
        config_path = model_path.with_name(model_path.name + ".json")
        if not config_path.is_file():
            raise ModelNotInstalled(model_id)

        from piper import PiperVoice
        from piper.config import PiperConfig

        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadFailed(f"{config_path.name} is not a Piper voice config: {exc}") from exc
        session = cpu_session(model_path, parsed.threads)
        log.info("loaded Piper voice %s (%d Hz)", model_path.name, config.sample_rate)
        return cls(
            model_id,
            parsed,
            PiperVoice(session=session, config=config),
            open_session=lambda threads: cpu_session(model_path, threads),
        )

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[AudioChunk]:
        """Speak ``text``: one 16-bit mono chunk per sentence, as each is made.

        Options are checked at once; the voice runs as the iterator is consumed.
        """
        voice = require_open(self._voice, self.model_id)
        check_options(options, self.num_speakers)
        return self._chunks(voice, text, self._synthesis_config(voice, options), options.urgent)

    def close(self) -> None:
        """Drop the voice."""
        self._voice = None
        with self._fewer_lock:
            self._fewer.clear()

    def _synthesis_config(self, voice: PiperVoice, options: SynthesisOptions) -> SynthesisConfig:
        from piper.config import SynthesisConfig

        base = self.params.length_scale or voice.config.length_scale
        return SynthesisConfig(
            speaker_id=options.speaker_id,
            length_scale=length_scale_for(options.rate, base),
            noise_scale=self.params.noise_scale,
            noise_w_scale=self.params.noise_w_scale,
            normalize_audio=self.params.normalize_audio,
            volume=self.params.volume,
        )

    def _chunks(
        self, voice: PiperVoice, text: str, config: SynthesisConfig, urgent: bool
    ) -> Iterator[AudioChunk]:
        silence = b"\x00\x00" * round(self.params.sentence_silence_seconds * self.sample_rate)
        voice = self._on_threads_now(voice, urgent)
        sentences = iter(voice.synthesize(text, syn_config=config))
        elapsed = 0.0
        step_wait = MAX_STEP_WAIT_SECONDS  # the first sentence lets a token under way end
        while True:
            try:
                with self._policy.activity.busy(self.model_id, urgent=urgent, step_wait=step_wait):
                    sentence = next(sentences, None)
                step_wait = 0.0  # later ones (and the end) would wait for the next token
                audio = None if sentence is None else sentence.audio_int16_bytes + silence
            except Exception as exc:  # espeak-ng and onnxruntime raise plain exceptions
                raise EngineError(f"Piper synthesis failed: {exc}") from exc
            if audio is None:
                return
            chunk = AudioChunk(audio=audio, rate=self.sample_rate, timestamp=elapsed)
            elapsed += chunk.seconds
            yield chunk

    def _on_threads_now(self, voice: PiperVoice, urgent: bool) -> PiperVoice:
        """``voice``, or the same voice on the fewer threads the policy leaves it now.

        Urgent work keeps every core (the others wait for it), and so does a voice whose
        ``threads`` parameter fixes the count. Should the voice fail to open again (out of
        memory), it speaks on every core as before.
        """
        if urgent or self.params.threads or self._open_session is None:
            return voice
        threads = self._policy.threads(self.model_id)
        if threads >= self._policy.cpu_count:
            return voice
        with self._fewer_lock:
            fewer = self._fewer.get(threads)
            if fewer is None:
                try:
                    session = self._open_session(threads)
                except ModelLoadFailed as exc:
                    log.warning("%s: speaking on every core: %s", self.model_id, exc.detail)
                    return voice
                fewer = self._fewer[threads] = replace(voice, session=session)
                log.info("%s: opened again on %d thread(s)", self.model_id, threads)
        return fewer
