"""Spectral gating: a measured SNR gain on speech in white and pink noise, streaming = whole."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hal.audio import AudioChunk
from hal.audio.convert import chunk_frames, float_to_pcm
from hal.audio.denoise import (
    DenoiseOptions,
    NoiseProfile,
    SpectralGate,
    denoise,
    estimate_noise_profile,
    fft_size,
    reduce_noise,
)
from hal.audio.wavfile import read_wav
from hal.errors import UnsupportedMedia

Floats = npt.NDArray[np.float32]
RATE = 16_000


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Floats:
    """About six seconds of espeak-ng speech, 16 kHz, peak 0.5."""
    folder = tmp_path_factory.mktemp("speech")
    raw, converted = folder / "speech.wav", folder / "speech16.wav"
    text = "The quick brown fox jumps over the lazy dog. Please turn on the kitchen lights."
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, timeout=30)
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(converted)],
        check=True,
        timeout=30,
    )
    samples = chunk_frames(read_wav(Path(converted))).reshape(-1)
    peak = float(np.abs(samples).max())
    return (samples * np.float32(0.5 / peak)).astype(np.float32)


def noise(kind: str, size: int, seed: int) -> npt.NDArray[np.float64]:
    """White, or pink (1/f power from 20 Hz up), unit RMS."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(size)
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        frequencies = np.maximum(np.fft.rfftfreq(size, 1 / RATE), 20.0)
        white = np.fft.irfft(spectrum / np.sqrt(frequencies), n=size)
    scaled: npt.NDArray[np.float64] = white / np.sqrt(np.mean(white**2))
    return scaled


def mix(clean: Floats, kind: str, snr_db: float, seed: int = 1) -> tuple[Floats, Floats]:
    """(noisy, noise) with the noise scaled to ``snr_db`` below the speech's power."""
    scaled = noise(kind, len(clean), seed) * np.sqrt(np.mean(clean**2)) / 10 ** (snr_db / 20)
    return (clean + scaled).astype(np.float32), scaled.astype(np.float32)


def snr(clean: Floats, signal: Floats) -> float:
    return float(10 * np.log10(np.sum(clean**2) / np.sum((signal - clean) ** 2)))


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr_db", [0.0, 5.0, 10.0])
def test_spectral_gating_raises_the_snr_of_noisy_speech(
    speech: Floats, kind: str, snr_db: float
) -> None:
    noisy, _ = mix(speech, kind, snr_db)
    assert snr(speech, noisy) == pytest.approx(snr_db, abs=0.01)
    cleaned = reduce_noise(noisy, RATE)
    assert len(cleaned) == len(noisy)
    gain = snr(speech, cleaned) - snr(speech, noisy)
    # Measured: white +8.9/+7.2/+5.8 dB, pink +6.1/+4.8/+3.8 dB at 0/5/10 dB.
    assert gain >= 3.0


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_a_noise_clip_gives_a_profile_at_least_as_good(speech: Floats, kind: str) -> None:
    noisy, _ = mix(speech, kind, 0.0)
    _, other_noise = mix(speech[:RATE], kind, 0.0, seed=7)  # same kind of noise, not the same
    from_quiet = snr(speech, reduce_noise(noisy, RATE))
    from_clip = snr(speech, reduce_noise(noisy, RATE, noise=other_noise))
    assert from_clip >= from_quiet - 0.5
    assert from_clip - snr(speech, noisy) >= 3.0


@pytest.mark.parametrize("chunk_samples", [1, 160, 320, 1000, 4096])
def test_streaming_equals_the_whole_clip(speech: Floats, chunk_samples: int) -> None:
    noisy, _ = mix(speech[: RATE * 2], "white", 5.0)
    profile = estimate_noise_profile(noisy, RATE)
    whole = reduce_noise(noisy, RATE)
    gate = SpectralGate(profile)
    pieces = [
        gate.process(noisy[i : i + chunk_samples]) for i in range(0, len(noisy), chunk_samples)
    ]
    pieces.append(gate.flush())
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(noisy)
    assert np.allclose(streamed, whole, atol=1e-6)


def test_streaming_latency_is_a_frame_and_the_smoothing(speech: Floats) -> None:
    gate = SpectralGate(estimate_noise_profile(speech, RATE))
    out = gate.process(speech[:RATE])
    assert RATE - len(out) <= 512 + 3 * 128  # 56 ms at 16 kHz


def test_an_open_gate_passes_the_signal_unchanged(speech: Floats) -> None:
    everything = NoiseProfile(RATE, 512, np.full(257, -500.0))
    gate = SpectralGate(everything)
    out = np.concatenate([gate.process(speech[:5000]), gate.process(speech[5000:]), gate.flush()])
    assert np.allclose(out, speech, atol=1e-5)


def test_silence_stays_silent_and_short_clips_pass_through() -> None:
    assert not np.any(reduce_noise(np.zeros(RATE, dtype=np.float32), RATE))
    short = np.full(100, 0.1, dtype=np.float32)
    assert np.array_equal(reduce_noise(short, RATE), short)


def test_denoise_a_chunk(speech: Floats) -> None:
    noisy, _ = mix(speech, "white", 5.0)
    chunk = AudioChunk(float_to_pcm(noisy, 2), RATE, timestamp=2.0)
    out = denoise(chunk)
    assert (out.rate, out.frames, out.timestamp) == (RATE, chunk.frames, 2.0)
    assert snr(speech, chunk_frames(out).reshape(-1)) - snr(speech, noisy) >= 3.0
    with pytest.raises(UnsupportedMedia, match="sample rate"):
        denoise(chunk, noise=AudioChunk(bytes(2000), 8000))


def test_a_noise_clip_shorter_than_a_frame_is_refused() -> None:
    with pytest.raises(UnsupportedMedia, match="at least 32 ms") as caught:
        estimate_noise_profile(np.zeros(100, dtype=np.float32), RATE)
    assert caught.value.field == "noise"


@pytest.mark.parametrize(
    ("rate", "frame_ms", "size"),
    [(16_000, 32, 512), (8_000, 32, 256), (44_100, 32, 1024), (48_000, 32, 2048), (16_000, 1, 64)],
)
def test_fft_size(rate: int, frame_ms: float, size: int) -> None:
    assert fft_size(rate, frame_ms) == size


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="quiet_fraction"):
        DenoiseOptions(quiet_fraction=0.0)
    assert math.isclose(DenoiseOptions().max_reduction_db, 30.0)
