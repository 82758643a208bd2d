"""Voice activity detectors (Silero on onnxruntime, WebRTC) and the PCM framer they rely on."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.audio import AudioChunk
from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.vad.base import VoiceActivityDetector
from runtime.vad.framing import PcmFramer, check_format, frame_samples_for
from runtime.vad.silero import SileroVoiceActivityDetector, model_input
from runtime.vad.webrtc import WebRtcVoiceActivityDetector

RATE = 16_000
SILERO = "silero-vad:v6"
WEBRTC = "webrtc-vad:builtin"

# --- framing --------------------------------------------------------------------------------


def pcm_chunk(samples: int, start: int = 0, rate: int = RATE, timestamp: float = 0.0) -> AudioChunk:
    """A chunk whose sample values count up from ``start`` (so order is checkable)."""
    values = (np.arange(start, start + samples) % 30_000).astype("<i2")
    return AudioChunk(audio=values.tobytes(), rate=rate, timestamp=timestamp)


@pytest.mark.parametrize(
    ("chunk_sizes", "frame_samples", "frame_counts", "pending"),
    [
        ([512], 512, [1], 0),
        ([1280], 512, [2], 256),
        ([100, 100, 100, 100, 100, 100], 512, [0, 0, 0, 0, 0, 1], 88),
        ([0, 480, 0], 480, [0, 1, 0], 0),
        ([1600], 160, [10], 0),
        ([5000, 3], 1280, [3, 0], 1163),
        ([1279, 1], 1280, [0, 1], 0),
    ],
)
def test_framer_table(
    chunk_sizes: list[int], frame_samples: int, frame_counts: list[int], pending: int
) -> None:
    framer = PcmFramer(frame_samples, RATE)
    counts = [len(framer.push(pcm_chunk(size))) for size in chunk_sizes]
    assert counts == frame_counts
    assert framer.pending_samples == pending


def test_framer_timestamps_continue_from_the_chunk_that_started_the_frame() -> None:
    framer = PcmFramer(160, RATE)
    assert framer.push(pcm_chunk(100, timestamp=5.0)) == []
    frames = framer.push(pcm_chunk(300, timestamp=5.00625))
    assert [round(f.timestamp, 5) for f in frames] == [5.0, 5.01]
    assert framer.pending_samples == 80
    framer.reset()
    assert framer.pending_samples == 0
    assert [f.timestamp for f in framer.push(pcm_chunk(160, timestamp=9.0))] == [9.0]


@given(
    sizes=st.lists(st.integers(0, 3000), max_size=30),
    frame_samples=st.sampled_from([160, 256, 480, 512, 1280]),
)
def test_framer_keeps_every_sample_in_order(sizes: list[int], frame_samples: int) -> None:
    framer = PcmFramer(frame_samples, RATE)
    out, start = bytearray(), 0
    frames: list[AudioChunk] = []
    for size in sizes:
        for frame in framer.push(pcm_chunk(size, start, timestamp=start / RATE)):
            assert frame.frames == frame_samples
            frames.append(frame)
            out.extend(frame.audio)
        start += size
    expected = pcm_chunk(start).audio
    assert len(frames) == start // frame_samples
    assert framer.pending_samples == start % frame_samples
    assert bytes(out) == expected[: len(out)]
    for index, frame in enumerate(frames):
        assert frame.timestamp == pytest.approx(index * frame_samples / RATE)


@pytest.mark.parametrize(
    ("rate", "milliseconds", "samples"),
    [
        (16_000, 30, 480),
        (16_000, 10, 160),
        (8_000, 20, 160),
        (48_000, 30, 1440),
        (16_000, 80, 1280),
    ],
)
def test_frame_samples_for(rate: int, milliseconds: int, samples: int) -> None:
    assert frame_samples_for(rate, milliseconds) == samples


def test_frame_samples_for_rejects_fractions() -> None:
    with pytest.raises(ValueError, match="whole number"):
        frame_samples_for(22_050, 10)


@pytest.mark.parametrize(
    ("chunk", "field"),
    [
        (AudioChunk(audio=b"\x00\x00" * 4, rate=8_000), "rate"),
        (AudioChunk(audio=b"\x00" * 4, rate=RATE, width=1), "width"),
        (AudioChunk(audio=b"\x00\x00" * 4, rate=RATE, channels=2), "channels"),
        (AudioChunk(audio=b"\x00" * 3, rate=RATE), "audio"),
    ],
)
def test_check_format_names_the_bad_field(chunk: AudioChunk, field: str) -> None:
    with pytest.raises(UnsupportedInput) as info:
        check_format(chunk, RATE)
    assert info.value.field == field


def test_silero_model_input_puts_context_first() -> None:
    context = np.full(64, 0.5, dtype=np.float32)
    window = np.linspace(-1, 1, 512, dtype=np.float32)
    value = model_input(context, window)
    assert value.shape == (1, 576)
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value[0, :64], context)
    np.testing.assert_array_equal(value[0, 64:], window)


# --- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"sample_rate": 44_100}, {"threads": 0}, {"window": 512}],
)
def test_silero_bad_params(params: dict[str, object]) -> None:
    with pytest.raises(UnsupportedInput):
        SileroVoiceActivityDetector.load(SILERO, Path("/nonexistent"), params)


def test_silero_missing_file_means_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled):
        SileroVoiceActivityDetector.load(SILERO, tmp_path, {})


def test_silero_broken_file_is_a_backend_error(tmp_path: Path) -> None:
    (tmp_path / "silero_vad.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(EngineError):
        SileroVoiceActivityDetector.load(SILERO, tmp_path, {})


@pytest.mark.parametrize(
    "params",
    [{"aggressiveness": 4}, {"aggressiveness": -1}, {"frame_ms": 25}, {"sample_rate": 22_050}],
)
def test_webrtc_bad_params(params: dict[str, object]) -> None:
    with pytest.raises(UnsupportedInput):
        WebRtcVoiceActivityDetector.load(WEBRTC, Path("/nonexistent"), params)


@pytest.mark.parametrize(
    ("params", "frame_samples"),
    [
        ({}, 480),
        ({"frame_ms": 10}, 160),
        ({"frame_ms": 20, "sample_rate": 8_000}, 160),
        ({"sample_rate": 48_000}, 1440),
    ],
)
def test_webrtc_frame_size(params: dict[str, object], frame_samples: int, tmp_path: Path) -> None:
    vad = WebRtcVoiceActivityDetector.load(WEBRTC, tmp_path, params)
    assert vad.frame_samples == frame_samples
    assert vad.probability(AudioChunk(b"\x00\x00" * frame_samples, rate=vad.sample_rate)) == 0.0


# --- real models --------------------------------------------------------------------------


def speak(text: str, folder: Path, rate: int = RATE) -> npt.NDArray[np.int16]:
    """espeak-ng speech converted by sox to mono 16-bit samples at ``rate``."""
    raw, converted = folder / "speech.wav", folder / f"speech-{rate}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(converted)], check=True
    )
    with wave.open(str(converted)) as handle:
        return np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")


def noise(seconds: float, level: float, rate: int = RATE) -> npt.NDArray[np.int16]:
    """Gaussian noise at ``level`` RMS of full scale (0.003 is about -50 dBFS)."""
    samples = np.random.default_rng(11).normal(0, level, round(seconds * rate))
    return (samples * 32767).astype(np.int16)


def probabilities(
    vad: VoiceActivityDetector, pcm: npt.NDArray[np.int16], rate: int = RATE
) -> npt.NDArray[np.float64]:
    vad.reset()
    framer = PcmFramer(vad.frame_samples, rate)
    frames = framer.push(AudioChunk.from_samples(pcm, rate))
    return np.array([vad.probability(frame) for frame in frames])


@pytest.fixture(scope="module")
def sentence(tmp_path_factory: pytest.TempPathFactory) -> npt.NDArray[np.int16]:
    folder = tmp_path_factory.mktemp("vad-speech")
    return speak("The quick brown fox jumps over the lazy dog near the river bank.", folder)


@pytest.fixture(scope="module")
def silero(model_dir: Callable[[str], Path]) -> SileroVoiceActivityDetector:
    return SileroVoiceActivityDetector.load(SILERO, model_dir(SILERO), {})


@pytest.mark.real_model
def test_silero_frame_size(silero: SileroVoiceActivityDetector) -> None:
    assert (silero.sample_rate, silero.frame_samples) == (16_000, 512)


@pytest.mark.real_model
def test_silero_hears_speech(
    silero: SileroVoiceActivityDetector, sentence: npt.NDArray[np.int16]
) -> None:
    probs = probabilities(silero, sentence)
    assert np.mean(probs > 0.5) > 0.6
    assert probs.max() > 0.95


@pytest.mark.real_model
@pytest.mark.parametrize("level", [0.0, 0.003, 0.01])
def test_silero_ignores_silence_and_low_noise(
    silero: SileroVoiceActivityDetector, level: float
) -> None:
    probs = probabilities(silero, noise(3.0, level))
    assert probs.max() < 0.3
    assert probs.mean() < 0.05


@pytest.mark.real_model
def test_silero_finds_where_speech_is(
    silero: SileroVoiceActivityDetector, sentence: npt.NDArray[np.int16]
) -> None:
    quiet = noise(1.5, 0.003)
    probs = probabilities(silero, np.concatenate((quiet, sentence, quiet)))
    windows_in_quiet = len(quiet) // 512 - 2  # the model's state lags by a window or two
    assert probs[:windows_in_quiet].max() < 0.3
    assert probs[-windows_in_quiet + 10 :].max() < 0.3
    speech = probs[len(quiet) // 512 + 5 : (len(quiet) + len(sentence)) // 512 - 5]
    assert np.mean(speech > 0.5) > 0.6


@pytest.mark.real_model
def test_silero_is_deterministic_after_reset(
    silero: SileroVoiceActivityDetector, sentence: npt.NDArray[np.int16]
) -> None:
    first = probabilities(silero, sentence[: 40 * 512])
    second = probabilities(silero, sentence[: 40 * 512])
    np.testing.assert_array_equal(first, second)


@pytest.mark.real_model
def test_silero_state_carries_across_windows(
    silero: SileroVoiceActivityDetector, sentence: npt.NDArray[np.int16]
) -> None:
    # The same window scores differently after speech than from a fresh state.
    window = AudioChunk.from_samples(sentence[20 * 512 : 21 * 512], RATE)
    silero.reset()
    fresh = silero.probability(window)
    probabilities(silero, sentence[: 20 * 512])
    assert silero.probability(window) != fresh


@pytest.mark.real_model
def test_silero_at_8khz(model_dir: Callable[[str], Path], tmp_path: Path) -> None:
    vad = SileroVoiceActivityDetector.load(SILERO, model_dir(SILERO), {"sample_rate": 8_000})
    assert vad.frame_samples == 256
    speech = speak("The quick brown fox jumps over the lazy dog.", tmp_path, rate=8_000)
    assert np.mean(probabilities(vad, speech, 8_000) > 0.5) > 0.6
    assert probabilities(vad, noise(2.0, 0.003, 8_000), 8_000).max() < 0.3


@pytest.mark.real_model
def test_silero_rejects_wrong_frames(silero: SileroVoiceActivityDetector) -> None:
    with pytest.raises(UnsupportedInput):
        silero.probability(AudioChunk(b"\x00\x00" * 480, rate=RATE))
    with pytest.raises(UnsupportedInput):
        silero.probability(AudioChunk(b"\x00\x00" * 512, rate=8_000))


@pytest.mark.real_model
def test_silero_closed_raises(model_dir: Callable[[str], Path]) -> None:
    vad = SileroVoiceActivityDetector.load(SILERO, model_dir(SILERO), {})
    vad.close()
    with pytest.raises(EngineError):
        vad.probability(AudioChunk(b"\x00\x00" * 512, rate=RATE))


@pytest.mark.real_model
@pytest.mark.parametrize("frame_ms", [10, 20, 30])
@pytest.mark.parametrize("aggressiveness", [1, 3])
def test_webrtc_separates_speech_from_silence_and_noise(
    sentence: npt.NDArray[np.int16], tmp_path: Path, frame_ms: int, aggressiveness: int
) -> None:
    vad = WebRtcVoiceActivityDetector.load(
        WEBRTC, tmp_path, {"frame_ms": frame_ms, "aggressiveness": aggressiveness}
    )
    assert set(probabilities(vad, sentence)) <= {0.0, 1.0}
    assert probabilities(vad, sentence).mean() > 0.6
    assert probabilities(vad, noise(2.0, 0.0)).max() == 0.0
    # it adapts to steady noise within a few frames
    assert probabilities(vad, noise(3.0, 0.003)).mean() < 0.2


@pytest.mark.real_model
def test_webrtc_rejects_wrong_frames(tmp_path: Path) -> None:
    vad = WebRtcVoiceActivityDetector.load(WEBRTC, tmp_path, {})
    with pytest.raises(UnsupportedInput):
        vad.probability(AudioChunk(b"\x00\x00" * 512, rate=RATE))
    vad.close()
    with pytest.raises(EngineError):
        vad.probability(AudioChunk(b"\x00\x00" * 480, rate=RATE))
