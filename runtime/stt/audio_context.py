"""Pure helpers shared by the Whisper engines: input samples, threads, window length, runaways.

Whisper's encoder always sees a 30 s window: 3000 mel frames, 1500 encoder positions
(50 per second). whisper.cpp can encode fewer positions (``audio_ctx``); for a 3 s
utterance that cuts the encoder work about six-fold. On 40 synthesised sentences of
2-12 s, tiny.en made no more word errors with the shortened window than with the full
one (8.3 % against 8.9 %).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from hal.audio import AudioChunk
from runtime.errors import UnsupportedInput
from runtime.stt.base import Segment

SAMPLE_RATE = 16_000
"""Whisper takes 16 kHz mono audio."""
MAX_DEFAULT_THREADS = 4
"""More threads rarely help Whisper's small matrices (whisper.cpp's own default)."""

FULL_AUDIO_CONTEXT = 1500
"""Encoder positions of Whisper's 30 s window."""
POSITIONS_PER_SECOND = FULL_AUDIO_CONTEXT / 30.0
"""Encoder positions per second of audio (one per 20 ms)."""
DEFAULT_MARGIN_POSITIONS = 64
"""Positions of trailing silence kept after the audio (about 1.3 s)."""
DEFAULT_MIN_POSITIONS = 192
"""Fewest positions ever encoded (3.84 s); at 128 tiny.en starts repeating itself."""
ROUND_TO_POSITIONS = 32
"""The count is rounded up to a multiple of this."""


def audio_context_positions(
    seconds: float,
    *,
    margin: int = DEFAULT_MARGIN_POSITIONS,
    minimum: int = DEFAULT_MIN_POSITIONS,
    full: int = FULL_AUDIO_CONTEXT,
) -> int:
    """Encoder positions to use for a clip of ``seconds`` (``full`` when it needs them all).

    ``ceil(seconds * 50) + margin``, rounded up to a multiple of 32, at least
    ``minimum``. A clip that does not fit in one window gets ``full``: whisper.cpp applies
    the same ``audio_ctx`` to every 30 s window.
    """
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"duration must be >= 0, got {seconds}")
    needed = math.ceil(seconds * POSITIONS_PER_SECOND) + margin
    rounded = -(-needed // ROUND_TO_POSITIONS) * ROUND_TO_POSITIONS
    positions = max(rounded, minimum)
    return full if positions >= full else positions


RUNAWAY_CHARS_PER_SECOND = 40.0
"""Faster than any speech (fast speech is about 20 characters per second)."""
RUNAWAY_SLACK_CHARS = 40
"""Allowance for very short clips."""


def looks_runaway(text: str, seconds: float) -> bool:
    """True when ``text`` is too long to have been said in ``seconds`` (a decoding loop)."""
    return len(text) > RUNAWAY_SLACK_CHARS + RUNAWAY_CHARS_PER_SECOND * seconds


def within_audio(segments: Iterable[Segment], seconds: float) -> tuple[Segment, ...]:
    """``segments`` with their times cut to ``[0, seconds]``, in order.

    Whisper times segments on its 30 s window, in 10 ms steps, and with a shortened
    window or trailing padding it can place the end of the last segment seconds after
    the audio ends (7.0 s for a 2.69 s clip); a segment never ends after the audio does.
    """
    bounded = []
    for segment in segments:
        start = min(max(segment.start, 0.0), seconds)
        end = min(max(segment.end, start), seconds)
        bounded.append(Segment(start=start, end=end, text=segment.text))
    return tuple(bounded)


def default_threads(cpu_count: int | None) -> int:
    """One thread per core, at most four (whisper.cpp's own default)."""
    return max(1, min(MAX_DEFAULT_THREADS, cpu_count or 1))


def pcm_samples(audio: AudioChunk) -> npt.NDArray[np.float32]:
    """Mono float32 samples of 16 kHz audio; anything else is refused."""
    if audio.rate != SAMPLE_RATE:
        raise UnsupportedInput(
            f"speech to text takes {SAMPLE_RATE} Hz audio, got {audio.rate} Hz", field="audio"
        )
    try:
        return np.ascontiguousarray(audio.samples(), dtype=np.float32)
    except ValueError as exc:
        raise UnsupportedInput(f"unsupported audio: {exc}", field="audio") from exc
