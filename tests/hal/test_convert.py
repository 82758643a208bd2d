"""Sample formats, channel mixing, band-limited resampling, levels and normalisation."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.audio import AudioChunk
from hal.audio.convert import (
    ChunkConverter,
    Resampler,
    chunk_frames,
    convert,
    float_to_pcm,
    is_silent,
    levels,
    loudest_window_dbfs,
    mix_channels,
    normalize_loudness,
    normalize_peak,
    pcm_to_float,
    peak_dbfs,
    resample,
    resampled_length,
    rms_dbfs,
)
from hal.errors import UnsupportedMedia


def sine(
    frequency: float, rate: int, seconds: float, amplitude: float = 0.5
) -> npt.NDArray[np.float32]:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def dominant_frequency(samples: npt.NDArray[np.float32], rate: int) -> float:
    """Peak of the windowed spectrum, refined by parabolic interpolation."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + offset) * rate / len(samples))


# --- sample formats -------------------------------------------------------------------------


@given(st.lists(st.integers(-32768, 32767), max_size=200))
def test_int16_round_trips_exactly(values: list[int]) -> None:
    pcm = np.array(values, dtype="<i2").tobytes()
    assert float_to_pcm(pcm_to_float(pcm, 2, 1), 2) == pcm


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_width_round_trips(width: int) -> None:
    top = 2 ** (8 * width - 1)
    values = np.array([-top, -1, 0, 1, top - 1], dtype=np.int64)
    floats = values / top
    pcm = float_to_pcm(floats.astype(np.float32), width)
    assert len(pcm) == 5 * width
    back = pcm_to_float(pcm, width, 1).reshape(-1)
    assert np.allclose(back, floats, atol=2.0 / 2**24)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, 32767), (-1.0, -32768), (2.5, 32767), (-7.0, -32768), (0.5, 16384)],
)
def test_float_to_pcm_rounds_and_clips(value: float, expected: int) -> None:
    pcm = float_to_pcm(np.array([value], dtype=np.float32), 2)
    assert int(np.frombuffer(pcm, "<i2")[0]) == expected


def test_pcm_to_float_rejects_odd_widths_and_drops_partial_frames() -> None:
    with pytest.raises(UnsupportedMedia):
        pcm_to_float(b"\x00" * 10, 5, 1)
    assert pcm_to_float(b"\x00" * 9, 2, 2).shape == (2, 2)


@pytest.mark.parametrize(
    ("frames", "channels", "expected"),
    [
        ([[0.2, 0.4]], 1, [[0.3]]),
        ([[0.5]], 2, [[0.5, 0.5]]),
        ([[0.1, 0.2, 0.3]], 2, [[0.2, 0.2]]),
        ([[0.1, 0.3]], 2, [[0.1, 0.3]]),
    ],
)
def test_mix_channels(
    frames: list[list[float]], channels: int, expected: list[list[float]]
) -> None:
    out = mix_channels(np.array(frames, dtype=np.float32), channels)
    assert np.allclose(out, expected)


# --- resampling -----------------------------------------------------------------------------

RATE_PAIRS = [
    (44_100, 16_000),
    (48_000, 16_000),
    (22_050, 16_000),
    (8_000, 16_000),
    (16_000, 48_000),
    (16_000, 22_050),
    (16_000, 24_000),
    (44_100, 16_001),  # no small ratio: nearest of 4096 phases
]


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
@pytest.mark.parametrize("frequency", [440.0, 3000.0])
def test_resample_keeps_a_sines_frequency_and_length(
    from_rate: int, to_rate: int, frequency: float
) -> None:
    x = sine(frequency, from_rate, 0.5)
    y = resample(x, from_rate, to_rate)
    assert len(y) == resampled_length(len(x), from_rate, to_rate)
    assert abs(len(y) - len(x) * to_rate / from_rate) < 1
    assert dominant_frequency(y, to_rate) == pytest.approx(frequency, abs=0.5)
    # Against the ideal sine at the new rate, away from the edges: -60 dB or better.
    ideal = sine(frequency, to_rate, len(y) / to_rate)
    middle = slice(to_rate // 20, len(y) - to_rate // 20)
    error = np.sqrt(np.mean((y[middle] - ideal[middle]) ** 2)) / np.sqrt(np.mean(ideal**2))
    assert 20 * math.log10(error) < -60


@pytest.mark.parametrize("frequency", [9_000.0, 12_000.0, 20_000.0])
def test_downsampling_removes_what_the_new_rate_cannot_hold(frequency: float) -> None:
    y = resample(sine(frequency, 44_100, 0.5), 44_100, 16_000)
    assert rms_dbfs(y[800:-800]) < -70  # would alias back into the band without the filter


def test_resample_identity_is_a_copy() -> None:
    x = sine(440, 16_000, 0.1)
    assert np.array_equal(resample(x, 16_000, 16_000), x)


@settings(max_examples=25, deadline=None)
@given(
    pair=st.sampled_from(RATE_PAIRS),
    cuts=st.lists(st.integers(1, 3000), min_size=1, max_size=12),
)
def test_chunked_resampling_equals_whole(pair: tuple[int, int], cuts: list[int]) -> None:
    from_rate, to_rate = pair
    x = np.random.default_rng(len(cuts)).uniform(-0.5, 0.5, sum(cuts)).astype(np.float32)
    whole = resample(x, from_rate, to_rate)
    resampler = Resampler(from_rate, to_rate)
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(resampler.process(x[start : start + cut]))
        start += cut
    pieces.append(resampler.flush().reshape(-1))
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-6)


def test_resample_keeps_channels_apart() -> None:
    stereo = np.stack([sine(300, 48_000, 0.3), sine(1000, 48_000, 0.3)], axis=1)
    out = resample(stereo, 48_000, 16_000)
    assert out.shape == (4800, 2)
    assert dominant_frequency(out[:, 0], 16_000) == pytest.approx(300, abs=0.5)
    assert dominant_frequency(out[:, 1], 16_000) == pytest.approx(1000, abs=0.5)


def test_resampler_refuses_bad_rates() -> None:
    with pytest.raises(UnsupportedMedia):
        Resampler(0, 16_000)


@pytest.mark.parametrize(("from_rate", "to_rate"), [(4_000_037, 16_000), (16_000, 0xFFFFFFFF)])
def test_resampler_refuses_implausible_rates_naming_them(from_rate: int, to_rate: int) -> None:
    bad = from_rate if from_rate > 16_000 else to_rate
    with pytest.raises(UnsupportedMedia, match=f"{bad} Hz is not a supported sample rate"):
        Resampler(from_rate, to_rate)


def test_the_resamplers_work_is_bounded_by_its_output() -> None:
    """An odd ratio has thousands of kernel phases: only those used are made."""
    samples = sine(440, 767_999, 16_000 / 767_999, 0.1)  # 16,000 samples, 1/48 s
    tracemalloc.start()
    try:
        resampler = Resampler(767_999, 16_000)
        out = np.concatenate([resampler.process(samples), resampler.flush().reshape(-1)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(out) == 334
    assert resampler.kernel_phases_made <= len(out)
    assert peak < 64 << 20  # the whole table took 530 MB


def test_convert_chunk_to_16k_mono() -> None:
    stereo = np.stack([sine(440, 44_100, 0.2), sine(440, 44_100, 0.2)], axis=1)
    chunk = AudioChunk(float_to_pcm(stereo, 2), 44_100, 2, 2, timestamp=1.5)
    out = convert(chunk, 16_000)
    assert (out.rate, out.channels, out.width, out.timestamp) == (16_000, 1, 2, 1.5)
    assert out.frames == resampled_length(chunk.frames, 44_100, 16_000)
    assert convert(out, 16_000) is out


def test_chunk_converter_timestamps_count_output_frames() -> None:
    converter = ChunkConverter(16_000)
    x = float_to_pcm(sine(440, 48_000, 1.0), 2)
    out = []
    for index, start in enumerate(range(0, len(x), 1920)):
        chunk = AudioChunk(x[start : start + 1920], 48_000, timestamp=10.0 + index * 0.02)
        out.append(converter.convert(chunk))
    out.append(converter.flush())
    assert sum(c.frames for c in out) == 16_000
    position = 0
    for chunk in out:
        assert chunk.timestamp == pytest.approx(10.0 + position / 16_000)
        position += chunk.frames


def test_chunk_converter_follows_a_change_of_input_rate() -> None:
    converter = ChunkConverter(16_000)
    first = converter.convert(AudioChunk(float_to_pcm(sine(440, 8_000, 0.1), 2), 8_000))
    second = converter.convert(AudioChunk(float_to_pcm(sine(440, 32_000, 0.1), 2), 32_000))
    rest = converter.flush()
    assert first.frames + second.frames + rest.frames == 3200


# --- levels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "peak", "rms"),
    [
        (np.full(100, 0.5, dtype=np.float32), -6.02, -6.02),
        (sine(1000, 16_000, 1.0, amplitude=1.0), 0.0, -3.01),
        (np.zeros(100, dtype=np.float32), -math.inf, -math.inf),
        (np.zeros(0, dtype=np.float32), -math.inf, -math.inf),
    ],
)
def test_levels(samples: npt.NDArray[np.float32], peak: float, rms: float) -> None:
    measured = levels(samples)
    assert measured.peak_dbfs == pytest.approx(peak, abs=0.01)
    assert measured.rms_dbfs == pytest.approx(rms, abs=0.01)


def test_levels_of_a_chunk() -> None:
    chunk = AudioChunk.from_samples(np.full(160, 0.25, dtype=np.float32), 16_000)
    assert peak_dbfs(chunk) == pytest.approx(-12.04, abs=0.01)


@pytest.mark.parametrize(
    ("audio", "threshold", "silent"),
    [
        (np.zeros(16_000, dtype=np.float32), -50.0, True),
        (np.full(16_000, 1e-4, dtype=np.float32), -50.0, True),  # -80 dBFS hiss
        (sine(440, 16_000, 1.0, 0.1), -50.0, False),
        (sine(440, 16_000, 1.0, 0.001), -50.0, True),  # -63 dBFS
        (sine(440, 16_000, 1.0, 0.001), -70.0, False),
        (np.zeros(0, dtype=np.float32), -50.0, True),
    ],
)
def test_is_silent(audio: npt.NDArray[np.float32], threshold: float, silent: bool) -> None:
    assert is_silent(audio, threshold, rate=16_000) is silent
    assert is_silent(AudioChunk.from_samples(audio, 16_000), threshold) is silent


def test_a_short_word_in_a_long_silence_is_not_silence() -> None:
    audio = np.zeros(16_000 * 10, dtype=np.float32)
    audio[80_000:80_800] = sine(440, 16_000, 0.05, 0.1)
    assert rms_dbfs(audio) < -40
    assert not is_silent(audio, -40.0, rate=16_000)
    assert loudest_window_dbfs(audio, 16_000) == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("frames", [1, 2, 479])
def test_audio_shorter_than_one_window_is_silent_however_loud(frames: int) -> None:
    """A one-sample WAV used to reach the model (and come back as empty text)."""
    loud = np.full(frames, 0.9, dtype=np.float32)
    assert is_silent(loud, rate=16_000)
    assert is_silent(AudioChunk.from_samples(loud, 16_000))
    assert not is_silent(np.full(480, 0.9, dtype=np.float32), rate=16_000)


def test_is_silent_needs_a_rate_for_bare_samples() -> None:
    with pytest.raises(ValueError, match="rate"):
        is_silent(np.zeros(10, dtype=np.float32))


@settings(max_examples=40, deadline=None)
@given(
    amplitude=st.floats(1e-3, 0.9),
    target=st.floats(-40.0, -0.5),
)
def test_normalize_peak_hits_its_target(amplitude: float, target: float) -> None:
    out = normalize_peak(sine(440, 16_000, 0.1, amplitude), target)
    assert peak_dbfs(out) == pytest.approx(target, abs=0.01)


@settings(max_examples=40, deadline=None)
@given(amplitude=st.floats(1e-3, 0.9), target=st.floats(-40.0, -6.0))
def test_normalize_loudness_hits_its_target_when_peaks_allow(
    amplitude: float, target: float
) -> None:
    out = normalize_loudness(sine(440, 16_000, 0.2, amplitude), target, peak_limit_dbfs=-1.0)
    assert rms_dbfs(out) == pytest.approx(target, abs=0.02)


def test_normalize_loudness_never_pushes_peaks_over_the_limit() -> None:
    clicks = np.zeros(16_000, dtype=np.float32)
    clicks[::1000] = 0.5  # very peaky: RMS far below peak
    out = normalize_loudness(clicks, -10.0, peak_limit_dbfs=-1.0)
    assert peak_dbfs(out) == pytest.approx(-1.0, abs=0.01)
    assert rms_dbfs(out) < -10.0


def test_normalising_silence_leaves_it_alone() -> None:
    silence = np.zeros(100, dtype=np.float32)
    assert np.array_equal(normalize_peak(silence), silence)
    assert np.array_equal(normalize_loudness(silence), silence)


def test_chunk_frames_matches_audio_chunk_samples() -> None:
    chunk = AudioChunk.from_samples(sine(440, 16_000, 0.05), 16_000)
    assert np.allclose(chunk_frames(chunk).reshape(-1), chunk.samples(), atol=1e-6)
