"""Audio conversion on PCM bytes and numpy samples: formats, channels, rate, levels.

Pure functions and small stateful converters: no I/O, no clock, numpy only.

Samples are float32 in [-1, 1], shaped ``(frames,)`` for mono or ``(frames, channels)``.
PCM is little-endian, signed for every width (as in :class:`AudioChunk`; 8-bit WAV's
unsigned bytes are turned signed by the WAV reader).

Resampling is band-limited interpolation with a Kaiser-windowed sinc kernel (the method of
libsamplerate and resampy): each output sample is a weighted sum of the ``2 * K`` input
samples around its position, with the kernel's cut-off at the lower of the two Nyquist
frequencies. Kernels are tabulated per phase (exactly for rational ratios with up to
4096 phases, which covers every common pair of rates; nearest of 4096 otherwise), each
phase when an output frame first needs it, so the work is bounded by the output's
length. :class:`Resampler` keeps its state between chunks, so a stream resampled chunk
by chunk equals the whole signal resampled at once. Rates outside
``MIN_SAMPLE_RATE``..``MAX_SAMPLE_RATE`` are refused: a file header claiming one is lying,
and the kernel of an absurd ratio would not fit in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import gcd

import numpy as np
import numpy.typing as npt

from hal.audio.chunk import AudioChunk
from hal.errors import UnsupportedMedia

Samples = npt.NDArray[np.float32]
"""Float samples in [-1, 1]: ``(frames,)`` mono or ``(frames, channels)``."""

MIN_SAMPLE_RATE = 1_000
"""Lowest sample rate taken (telephony's 8 kHz and below, with room to spare)."""
MAX_SAMPLE_RATE = 768_000
"""Highest sample rate taken (the fastest audio interfaces sold)."""
MAX_PHASES = 4096
"""Phases tabulated per kernel; ratios needing more use the nearest of these."""
BLOCK_VALUES = 1 << 21
"""Gathered input values per vectorised step (8 MB of float32: bounds a step's memory)."""

_INT_DTYPES: dict[int, str] = {1: "<i1", 2: "<i2", 4: "<i4"}


# --- sample formats -------------------------------------------------------------------------


def pcm_to_float(audio: bytes, width: int = 2, channels: int = 1) -> Samples:
    """Interleaved signed PCM to float32 samples shaped ``(frames, channels)``.

    Widths 1, 2, 3 (packed 24-bit) and 4 bytes; a trailing partial frame is ignored.
    """
    if width not in (1, 2, 3, 4):
        raise UnsupportedMedia(f"unsupported sample width {width} bytes", field="width")
    if channels < 1:
        raise UnsupportedMedia("channels must be at least 1", field="channels")
    frame_bytes = width * channels
    usable = len(audio) - len(audio) % frame_bytes
    raw = memoryview(audio)[:usable]
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
    else:
        ints = np.frombuffer(raw, dtype=np.dtype(_INT_DTYPES[width]))
    scale = np.float64(2 ** (8 * width - 1))
    floats = (ints.astype(np.float64) / scale).astype(np.float32)
    return floats.reshape(-1, channels)


def float_to_pcm(samples: Samples, width: int = 2) -> bytes:
    """Float samples (any shape, interleaved row-major) to signed little-endian PCM.

    Values are rounded and clipped to the integer range, so -1.0 maps to the most negative
    integer and +1.0 to the most positive one.
    """
    if width not in (1, 2, 3, 4):
        raise UnsupportedMedia(f"unsupported sample width {width} bytes", field="width")
    scale = float(2 ** (8 * width - 1))
    flat = np.nan_to_num(np.asarray(samples, dtype=np.float64).reshape(-1))
    ints = np.clip(np.rint(flat * scale), -scale, scale - 1).astype(np.int64)
    if width == 3:
        unsigned = (ints & 0xFFFFFF).astype(np.uint32)
        packed = np.stack(
            [(unsigned & 0xFF), (unsigned >> 8) & 0xFF, (unsigned >> 16) & 0xFF], axis=1
        ).astype(np.uint8)
        return packed.tobytes()
    return ints.astype(_INT_DTYPES[width]).tobytes()


def as_frames(samples: Samples) -> Samples:
    """``samples`` shaped ``(frames, channels)`` (a 1-D array becomes one channel)."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    if array.ndim != 2:
        raise UnsupportedMedia("samples must be 1-D or (frames, channels)", field="audio")
    return array


def mix_channels(frames: Samples, channels: int) -> Samples:
    """``(frames, n)`` samples as ``(frames, channels)``.

    Down to mono averages; mono up duplicates; any other change goes through mono.
    """
    frames = as_frames(frames)
    have = frames.shape[1]
    if channels < 1:
        raise UnsupportedMedia("channels must be at least 1", field="channels")
    if have == channels:
        return frames
    mono = frames if have == 1 else frames.mean(axis=1, keepdims=True, dtype=np.float32)
    return np.repeat(mono, channels, axis=1) if channels > 1 else mono


# --- resampling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResamplerQuality:
    """Kernel of the band-limited resampler."""

    zero_crossings: int = 16
    """Sinc zero crossings on each side of the centre (longer: sharper, slower)."""
    rolloff: float = 0.94
    """Cut-off as a fraction of the lower Nyquist frequency (leaves room for the transition)."""
    kaiser_beta: float = 8.6
    """Kaiser window shape (8.6: about 80 dB stop-band attenuation)."""


DEFAULT_QUALITY = ResamplerQuality()
"""Transparent for speech and music at 16-48 kHz."""
FAST_QUALITY = ResamplerQuality(zero_crossings=8, rolloff=0.9, kaiser_beta=6.0)
"""Half the work, about 60 dB attenuation: live capture on small boards."""


def plausible_sample_rate(rate: int) -> bool:
    """Whether ``rate`` is a sample rate real audio is recorded or played at."""
    return MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE


def check_sample_rate(rate: int, *, field: str = "rate") -> int:
    """``rate`` if plausible, else ``UnsupportedMedia`` naming it and the range."""
    if not plausible_sample_rate(rate):
        raise UnsupportedMedia(
            f"{rate} Hz is not a supported sample rate ({MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)",
            field=field,
        )
    return rate


def resampled_length(frames: int, from_rate: int, to_rate: int) -> int:
    """Frames that ``frames`` input frames become: ``ceil(frames * to_rate / from_rate)``."""
    return -(-frames * to_rate // from_rate)


class _Kernel:
    """Per-phase tap weights ``(2K,)`` of the band-limited kernel, made on first use.

    A phase's weights are computed when an output frame first needs it, so a short
    signal at an odd ratio (4096 phases of thousands of taps) costs what its few output
    frames need, not the whole table.
    """

    def __init__(self, up: int, down: int, phases: int, quality: ResamplerQuality) -> None:
        self.cutoff = min(1.0, up / down) * quality.rolloff
        """Cut-off as a fraction of the input's Nyquist frequency."""
        self.half = math.ceil(quality.zero_crossings / self.cutoff)
        """Half-width ``K`` of the kernel in input samples."""
        self.phases = phases
        """Phases of the table."""
        self._beta = quality.kaiser_beta
        self._rows: dict[int, npt.NDArray[np.float32]] = {}

    @property
    def rows_made(self) -> int:
        """Phases computed so far."""
        return len(self._rows)

    def weights(self, phase: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Tap weights ``(len(phase), 2K)`` of each output frame's phase."""
        used, where = np.unique(phase, return_inverse=True)
        missing = [int(p) for p in used if int(p) not in self._rows]
        if missing:
            for p, row in zip(missing, self._make(np.array(missing)), strict=True):
                self._rows[p] = row
        table = np.stack([self._rows[int(p)] for p in used])
        return table[where.reshape(-1)]

    def _make(self, phases: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        half, cutoff = self.half, self.cutoff
        fraction = phases.astype(np.float64)[:, None] / self.phases
        # Tap m reads input (base - K + 1 + m): its distance from the output position.
        distance = (half - 1 - np.arange(2 * half, dtype=np.float64))[None, :] + fraction
        ratio = np.clip(distance / half, -1.0, 1.0)
        window = np.i0(self._beta * np.sqrt(1.0 - ratio**2)) / np.i0(self._beta)
        weights = cutoff * np.sinc(cutoff * distance) * window
        weights /= weights.sum(axis=1, keepdims=True)  # unity gain at DC for every phase
        return weights.astype(np.float32)


class Resampler:
    """Band-limited sample-rate conversion of a stream, chunk by chunk.

    ``process`` returns every output frame whose input neighbourhood has arrived (it holds
    back about ``zero_crossings`` input frames); ``flush`` ends the stream and returns the
    rest, for ``ceil(n_in * to_rate / from_rate)`` frames in total. Output frame ``n`` is
    the signal at time ``n / to_rate``: there is no delay to compensate.
    """

    def __init__(
        self,
        from_rate: int,
        to_rate: int,
        channels: int = 1,
        quality: ResamplerQuality = DEFAULT_QUALITY,
    ) -> None:
        check_sample_rate(from_rate)
        check_sample_rate(to_rate)
        if channels < 1:
            raise UnsupportedMedia("channels must be at least 1", field="channels")
        self.from_rate = from_rate
        """Input sample rate."""
        self.to_rate = to_rate
        """Output sample rate."""
        self.channels = channels
        """Channels of the input and output."""
        common = gcd(from_rate, to_rate)
        self._up = to_rate // common
        self._down = from_rate // common
        self._phases = min(self._up, MAX_PHASES)
        self._identity = from_rate == to_rate
        self._kernel: _Kernel | None = None
        self._half = 0
        if not self._identity:
            self._kernel = _Kernel(self._up, self._down, self._phases, quality)
            self._half = self._kernel.half
        # The buffer holds input frames from absolute index `_start`; K zeros precede input 0.
        self._buffer = np.zeros((self._half, channels), dtype=np.float32)
        self._start = -self._half
        self._consumed = 0
        self._produced = 0
        self._finished = False

    @property
    def delay_frames(self) -> int:
        """Input frames held back until the frames after them arrive."""
        return self._half

    @property
    def kernel_phases_made(self) -> int:
        """Kernel phases computed so far (never more than the output frames made)."""
        return self._kernel.rows_made if self._kernel is not None else 0

    def process(self, samples: Samples) -> Samples:
        """Resample the next input frames; the output frames now complete."""
        if self._finished:
            raise RuntimeError("resampler already flushed")
        frames = self._check(samples)
        if self._identity:
            self._consumed += len(frames)
            self._produced += len(frames)
            return self._shaped(frames.copy(), samples)
        self._buffer = np.concatenate([self._buffer, frames])
        self._consumed += len(frames)
        # Output n needs input up to base(n) + K (+1 when phases are rounded up).
        margin = self._half + (0 if self._phases == self._up else 1)
        last_base = self._consumed - 1 - margin
        end = ((last_base + 1) * self._up + self._down - 1) // self._down if last_base >= 0 else 0
        return self._shaped(self._compute(max(end, self._produced)), samples)

    def flush(self) -> Samples:
        """End of stream: the remaining output frames (input is padded with zeros)."""
        if self._finished:
            raise RuntimeError("resampler already flushed")
        self._finished = True
        total = resampled_length(self._consumed, self.from_rate, self.to_rate)
        if self._identity:
            return np.zeros((0, self.channels), dtype=np.float32)
        pad = np.zeros((self._half + 2, self.channels), dtype=np.float32)
        self._buffer = np.concatenate([self._buffer, pad])
        return self._compute(total)

    def _check(self, samples: Samples) -> Samples:
        frames = as_frames(samples)
        if frames.shape[1] != self.channels:
            raise UnsupportedMedia(
                f"expected {self.channels} channel(s), got {frames.shape[1]}", field="channels"
            )
        return frames

    def _shaped(self, out: Samples, like: Samples) -> Samples:
        return out.reshape(-1) if np.asarray(like).ndim == 1 else out

    def _compute(self, end: int) -> Samples:
        """Output frames ``[_produced, end)``; drops buffered input no longer needed."""
        assert self._kernel is not None
        pieces: list[Samples] = []
        taps = np.arange(2 * self._half, dtype=np.int64)
        block = max(256, BLOCK_VALUES // (2 * self._half * self.channels))
        for block_start in range(self._produced, end, block):
            n = np.arange(block_start, min(end, block_start + block), dtype=np.int64)
            position = n * self._down
            base, remainder = np.divmod(position, self._up)
            if self._phases == self._up:
                phase = remainder
            else:
                phase = np.rint(remainder * (self._phases / self._up)).astype(np.int64)
                base += phase // self._phases
                phase %= self._phases
            index = (base - self._half + 1 - self._start)[:, None] + taps[None, :]
            gathered = self._buffer[index]  # (block, 2K, channels)
            pieces.append(np.einsum("bk,bkc->bc", self._kernel.weights(phase), gathered))
        self._produced = max(self._produced, end)
        # Keep the input from the first tap of the next output frame onwards.
        next_base = (self._produced * self._down) // self._up
        keep_from = next_base - self._half
        drop = max(0, min(keep_from - self._start, len(self._buffer)))
        if drop:
            self._buffer = self._buffer[drop:]
            self._start += drop
        if not pieces:
            return np.zeros((0, self.channels), dtype=np.float32)
        return np.concatenate(pieces).astype(np.float32, copy=False)


def resample(
    samples: Samples,
    from_rate: int,
    to_rate: int,
    quality: ResamplerQuality = DEFAULT_QUALITY,
) -> Samples:
    """Band-limited resampling of a whole signal (``(frames,)`` or ``(frames, channels)``)."""
    array = np.asarray(samples, dtype=np.float32)
    channels = 1 if array.ndim == 1 else array.shape[1]
    resampler = Resampler(from_rate, to_rate, channels, quality)
    head = resampler.process(array)
    tail = resampler.flush()
    out = np.concatenate([as_frames(head), tail])
    return out.reshape(-1) if array.ndim == 1 else out


# --- chunks ---------------------------------------------------------------------------------


def chunk_frames(chunk: AudioChunk) -> Samples:
    """A chunk's samples as float32 ``(frames, channels)``."""
    return pcm_to_float(chunk.audio, chunk.width, chunk.channels)


def chunk_from_frames(
    frames: Samples, rate: int, width: int = 2, timestamp: float = 0.0
) -> AudioChunk:
    """A chunk from float samples (``(frames,)`` is mono)."""
    array = as_frames(frames)
    return AudioChunk(
        audio=float_to_pcm(array, width),
        rate=rate,
        width=width,
        channels=array.shape[1],
        timestamp=timestamp,
    )


def convert(chunk: AudioChunk, rate: int, channels: int = 1, width: int = 2) -> AudioChunk:
    """One chunk (a whole signal) in another rate, channel count and sample width."""
    if (chunk.rate, chunk.channels, chunk.width) == (rate, channels, width):
        return chunk
    frames = mix_channels(chunk_frames(chunk), channels)
    if chunk.rate != rate:
        frames = resample(frames, chunk.rate, rate)
    return chunk_from_frames(frames, rate, width, chunk.timestamp)


class ChunkConverter:
    """Converts a stream of chunks to one format (rate, channels, width), keeping state.

    Output timestamps count output frames from the first input chunk's timestamp. A change
    of input rate or channel count mid-stream flushes the resampler and starts a new one.
    """

    def __init__(
        self,
        rate: int,
        channels: int = 1,
        width: int = 2,
        quality: ResamplerQuality = DEFAULT_QUALITY,
    ) -> None:
        self.rate = rate
        """Output sample rate."""
        self.channels = channels
        """Output channels."""
        self.width = width
        """Output bytes per sample."""
        self._quality = quality
        self._resampler: Resampler | None = None
        self._source: tuple[int, int] | None = None
        self._origin: float | None = None
        self._frames_out = 0

    def convert(self, chunk: AudioChunk) -> AudioChunk:
        """The converted audio now available (may be empty while the resampler fills)."""
        if self._origin is None:
            self._origin = chunk.timestamp
        pending = b""
        if self._source != (chunk.rate, chunk.channels):
            pending = self.flush().audio if self._source is not None else b""
            self._source = (chunk.rate, chunk.channels)
            self._resampler = Resampler(chunk.rate, self.rate, self.channels, self._quality)
        assert self._resampler is not None
        frames = self._resampler.process(mix_channels(chunk_frames(chunk), self.channels))
        return self._emit(pending + float_to_pcm(frames, self.width))

    def flush(self) -> AudioChunk:
        """End of stream: the audio the resampler held back."""
        audio = b""
        if self._resampler is not None:
            audio = float_to_pcm(self._resampler.flush(), self.width)
            self._resampler = None
            self._source = None
        return self._emit(audio)

    def _emit(self, audio: bytes) -> AudioChunk:
        timestamp = (self._origin or 0.0) + self._frames_out / self.rate
        self._frames_out += len(audio) // (self.width * self.channels)
        return AudioChunk(audio, self.rate, self.width, self.channels, timestamp)


# --- levels and normalisation ---------------------------------------------------------------


def _mono(samples: Samples | AudioChunk) -> npt.NDArray[np.float64]:
    if isinstance(samples, AudioChunk):
        return chunk_frames(samples).astype(np.float64).reshape(-1)
    return np.asarray(samples, dtype=np.float64).reshape(-1)


def amplitude_to_dbfs(amplitude: float) -> float:
    """``20 log10(amplitude)``; -inf for zero."""
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def dbfs_to_amplitude(dbfs: float) -> float:
    """Inverse of :func:`amplitude_to_dbfs`."""
    return float(10.0 ** (dbfs / 20.0))


def peak_dbfs(samples: Samples | AudioChunk) -> float:
    """Largest absolute sample in dBFS (-inf for silence or no samples)."""
    values = _mono(samples)
    return amplitude_to_dbfs(float(np.max(np.abs(values)))) if values.size else -math.inf


def rms_dbfs(samples: Samples | AudioChunk) -> float:
    """Root mean square in dBFS (a full-scale square wave is 0, a full-scale sine -3.01)."""
    values = _mono(samples)
    return amplitude_to_dbfs(float(np.sqrt(np.mean(values**2)))) if values.size else -math.inf


@dataclass(frozen=True)
class Levels:
    """Peak and RMS level of some audio."""

    peak_dbfs: float
    """Largest absolute sample, dBFS."""
    rms_dbfs: float
    """Root mean square, dBFS."""


def levels(samples: Samples | AudioChunk) -> Levels:
    """Peak and RMS levels (what a level meter shows)."""
    return Levels(peak_dbfs(samples), rms_dbfs(samples))


def loudest_window_dbfs(samples: Samples | AudioChunk, rate: int, window_ms: int = 30) -> float:
    """RMS in dBFS of the loudest ``window_ms`` window (hops of half a window)."""
    values = _mono(samples)
    window = max(1, rate * window_ms // 1000)
    if values.size <= window:
        return rms_dbfs(values.astype(np.float32))
    hop = max(1, window // 2)
    energy = np.concatenate([[0.0], np.cumsum(values**2)])
    starts = np.arange(0, values.size - window + 1, hop)
    means = (energy[starts + window] - energy[starts]) / window
    return amplitude_to_dbfs(float(np.sqrt(max(float(means.max()), 0.0))))


DEFAULT_SILENCE_DBFS = -50.0
"""Below this, even the loudest 30 ms of a recording counts as silence."""


def is_silent(
    audio: AudioChunk | Samples,
    threshold_dbfs: float = DEFAULT_SILENCE_DBFS,
    *,
    rate: int | None = None,
    window_ms: int = 30,
) -> bool:
    """True when no ``window_ms`` window of the audio reaches ``threshold_dbfs`` RMS.

    A window, not the whole clip: a short word in a long quiet recording is not silence.
    Audio shorter than one window (empty, or a few samples) holds no window at all, so
    it is silent: nothing that short can be a word. ``rate`` is needed for bare samples
    (taken from a chunk).
    """
    if isinstance(audio, AudioChunk):
        rate = audio.rate
    if rate is None:
        raise ValueError("rate is required for bare samples")
    frames = audio.frames if isinstance(audio, AudioChunk) else len(as_frames(audio))
    if frames < max(1, rate * window_ms // 1000):
        return True
    return loudest_window_dbfs(audio, rate, window_ms) < threshold_dbfs


def normalize_peak(samples: Samples, target_dbfs: float = -1.0) -> Samples:
    """Scale so the largest absolute sample is at ``target_dbfs`` (silence is unchanged)."""
    array = np.asarray(samples, dtype=np.float32)
    peak = float(np.max(np.abs(array))) if array.size else 0.0
    if peak == 0.0:
        return array.copy()
    return (array * np.float32(dbfs_to_amplitude(target_dbfs) / peak)).astype(np.float32)


def normalize_loudness(
    samples: Samples, target_dbfs: float = -20.0, *, peak_limit_dbfs: float = -1.0
) -> Samples:
    """Scale so the RMS level is ``target_dbfs``, but never push a peak over the limit.

    The gain is the smaller of the one reaching the target and the one putting the peak at
    ``peak_limit_dbfs``, so very peaky audio ends quieter than the target rather than
    clipped. Silence is returned unchanged.
    """
    array = np.asarray(samples, dtype=np.float32)
    values = array.astype(np.float64)
    rms = float(np.sqrt(np.mean(values**2))) if values.size else 0.0
    if rms == 0.0:
        return array.copy()
    peak = float(np.max(np.abs(values)))
    gain = min(dbfs_to_amplitude(target_dbfs) / rms, dbfs_to_amplitude(peak_limit_dbfs) / peak)
    return (array * np.float32(gain)).astype(np.float32)
