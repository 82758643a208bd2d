"""What every engine benchmark shares.

The plan, a section of results, the engine as the model manager loads it, timing, and
the spoken clip the audio benchmarks feed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import Row, Stats
from hal.audio import AudioChunk
from runtime.engines import Engine, load_engine
from runtime.modelstore import InstalledModel, ModelStore

SPEECH_TEXT = (
    "Please remind me to call the plumber tomorrow at nine thirty,"
    " and add milk, eggs and coffee to the shopping list."
)
"""About six seconds of espeak-ng speech."""


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    repetitions: int
    """Measured rounds of the slow engines (LLM, STT, TTS, OCR)."""
    fast_repetitions: int
    """Measured rounds of the fast ones (detection, VAD, wake word)."""
    llm_max_tokens: int
    """Tokens generated per LLM run."""
    threads: int | None
    """Threads for both sides; None: each engine's default, set explicitly on both."""
    workdir: Path
    """Scratch folder (generated audio)."""

    @classmethod
    def make(
        cls,
        *,
        quick: bool,
        repetitions: int | None = None,
        max_tokens: int | None = None,
        threads: int | None = None,
        workdir: Path,
    ) -> Plan:
        """The full plan, or the quick one for smoke runs; explicit values win."""
        slow = repetitions or (2 if quick else 6)
        fast = repetitions or (3 if quick else 15)
        return cls(slow, fast, max_tokens or (24 if quick else 200), threads, workdir)

    @property
    def thread_params(self) -> dict[str, int]:
        """Engine parameters that set ``--threads`` (none: the engine's own default)."""
        return {"threads": self.threads} if self.threads else {}


@dataclass
class Section:
    """What one group measured."""

    rows: list[Row] = field(default_factory=list)
    """Table rows."""
    notes: list[str] = field(default_factory=list)
    """Lines printed under the table (method, sanity checks)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Raw measurements for the JSON output."""


def load_runtime(
    store: ModelStore, model_id: str, overrides: Mapping[str, Any]
) -> tuple[Engine, InstalledModel, dict[str, Any]]:
    """The engine as the model manager loads it, with ``overrides`` on the installed params."""
    model = store.require(model_id)
    params = {**model.params, **overrides}
    return load_engine(model.engine, model_id, model.path, params), model, params


def seconds_since(started: float) -> float:
    """Seconds elapsed since ``started`` (a perf_counter value)."""
    return time.perf_counter() - started


def stats(values: Sequence[float], *, higher_is_better: bool = False) -> Stats:
    """Shorthand for Stats.of."""
    return Stats.of(values, higher_is_better=higher_is_better)


def speech_clip(workdir: Path, text: str = SPEECH_TEXT) -> AudioChunk:
    """``text`` spoken by espeak-ng, as 16 kHz mono 16-bit audio (needs espeak-ng and sox)."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise RuntimeError("the speech benchmarks need espeak-ng and sox (apt-get install)")
    spoken, converted = workdir / "speech.wav", workdir / "speech16.wav"
    subprocess.run([espeak, "-w", str(spoken), text], check=True, capture_output=True)
    subprocess.run(
        [sox, str(spoken), "-r", "16000", "-c", "1", "-b", "16", str(converted)],
        check=True,
        capture_output=True,
    )
    with wave.open(str(converted), "rb") as handle:
        return AudioChunk(audio=handle.readframes(handle.getnframes()), rate=handle.getframerate())


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = call()
    return seconds_since(started), result


def frames_of(clip: AudioChunk, samples: int) -> list[AudioChunk]:
    """``clip`` cut into whole frames of ``samples`` (the tail dropped)."""
    size = samples * clip.width
    return [
        AudioChunk(audio=clip.audio[start : start + size], rate=clip.rate)
        for start in range(0, len(clip.audio) - size + 1, size)
    ]
