"""openWakeWord detector: pure trigger logic in tables, the real ONNX models on synthetic speech."""

from __future__ import annotations

import itertools
import subprocess
import wave
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.audio import AudioChunk
from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.wake.base import WakeDetection, WakeWordDetector
from runtime.wake.openwakeword import (
    FRAME_SAMPLES,
    OpenWakeWordDetector,
    WakeTrigger,
    normalize_word,
    refractory_frames,
    transform_melspectrogram,
    word_from_filename,
)

RATE = 16_000
HEY_JARVIS = "openwakeword:hey-jarvis"
ALL_WORDS = "openwakeword:all"

# --- pure helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "word"),
    [
        ("hey_jarvis_v0.1.onnx", "hey_jarvis"),
        ("alexa_v0.1.onnx", "alexa"),
        ("hey_rhasspy_v0.1.onnx", "hey_rhasspy"),
        ("my_word_v2.onnx", "my_word"),
        ("computer.onnx", "computer"),
        ("melspectrogram.onnx", None),
        ("embedding_model.onnx", None),
        ("hey_jarvis_v0.1.tflite", None),
        ("hey_jarvis_v0.1.onnx.json", None),
        ("README.md", None),
    ],
)
def test_word_from_filename(name: str, word: str | None) -> None:
    assert word_from_filename(name) == word


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        ("hey_jarvis", "hey_jarvis"),
        ("Hey-Jarvis", "hey_jarvis"),
        ("  hey   jarvis ", "hey_jarvis"),
        ("ALEXA", "alexa"),
    ],
)
def test_normalize_word(raw: str, word: str) -> None:
    assert normalize_word(raw) == word


@pytest.mark.parametrize(
    ("seconds", "frames"),
    [(0.0, 0), (0.05, 1), (0.08, 1), (0.1, 2), (0.16, 2), (1.0, 13), (2.0, 25)],
)
def test_refractory_frames(seconds: float, frames: int) -> None:
    assert refractory_frames(seconds) == frames


def test_transform_melspectrogram_rescales_and_flattens() -> None:
    raw = np.arange(2 * 32, dtype=np.float32).reshape(2, 1, 1, 32) * 10 - 20
    spec = transform_melspectrogram(raw)
    assert spec.shape == (2, 32)
    assert spec.dtype == np.float32
    np.testing.assert_allclose(spec.ravel(), np.arange(64, dtype=np.float32))


def fire_frames(trigger: WakeTrigger, frames: Sequence[dict[str, float]]) -> list[tuple[int, str]]:
    fired = []
    for index, scores in enumerate(frames):
        hit = trigger.update(scores)
        if hit is not None:
            fired.append((index, hit[0]))
    return fired


def frames_of(*scores: float, word: str = "w") -> list[dict[str, float]]:
    return [{word: s} for s in scores]


@pytest.mark.parametrize(
    ("patience", "refractory", "warmup", "scores", "expected"),
    [
        # one frame over the threshold fires with patience 1
        (1, 0, 0, (0.1, 0.9, 0.1), [1]),
        # the threshold itself counts as over
        (1, 0, 0, (0.5,), [0]),
        # patience 2 needs two consecutive frames
        (2, 0, 0, (0.9, 0.1, 0.9, 0.9), [3]),
        (3, 0, 0, (0.9, 0.9, 0.1, 0.9, 0.9, 0.9), [5]),
        # without refractory a long high stretch fires every `patience` frames
        (1, 0, 0, (0.9, 0.9, 0.9), [0, 1, 2]),
        (2, 0, 0, (0.9, 0.9, 0.9, 0.9), [1, 3]),
        # refractory: quiet for 3 frames after firing, then patience builds again
        (1, 3, 0, (0.9, 0.9, 0.9, 0.9, 0.9), [0, 4]),
        (2, 3, 0, (0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9), [1, 6]),
        # warm-up: the first frames never fire, nor count toward patience
        (1, 0, 2, (0.9, 0.9, 0.9), [2]),
        (2, 0, 2, (0.9, 0.9, 0.9, 0.1), []),
        # nothing over the threshold, nothing fires
        (1, 0, 0, (0.1, 0.49, 0.0), []),
    ],
)
def test_trigger_table(
    patience: int, refractory: int, warmup: int, scores: tuple[float, ...], expected: list[int]
) -> None:
    trigger = WakeTrigger(threshold=0.5, patience=patience, refractory=refractory, warmup=warmup)
    assert [i for i, _ in fire_frames(trigger, frames_of(*scores))] == expected


def test_trigger_picks_the_highest_word_and_quiets_every_word() -> None:
    trigger = WakeTrigger(threshold=0.5, patience=1, refractory=2, warmup=0)
    frames = [{"a": 0.7, "b": 0.9}, {"a": 0.9, "b": 0.9}, {"a": 0.9, "b": 0.1}, {"a": 0.9}]
    assert fire_frames(trigger, frames) == [(0, "b"), (3, "a")]


def test_trigger_per_word_thresholds() -> None:
    trigger = WakeTrigger(threshold=0.5, patience=1, refractory=0, warmup=0, thresholds={"a": 0.8})
    frames = [{"a": 0.7, "b": 0.1}, {"a": 0.1, "b": 0.6}, {"a": 0.85, "b": 0.1}]
    assert fire_frames(trigger, frames) == [(1, "b"), (2, "a")]


def test_trigger_reset_restarts_warmup_and_patience() -> None:
    trigger = WakeTrigger(threshold=0.5, patience=2, refractory=0, warmup=1)
    assert fire_frames(trigger, frames_of(0.1, 0.9)) == []
    trigger.reset()
    assert fire_frames(trigger, frames_of(0.9, 0.9, 0.9)) == [(2, "w")]


@given(
    scores=st.lists(st.floats(0.0, 1.0), max_size=200),
    patience=st.integers(1, 5),
    refractory=st.integers(0, 30),
    warmup=st.integers(0, 6),
)
def test_trigger_invariants(
    scores: list[float], patience: int, refractory: int, warmup: int
) -> None:
    trigger = WakeTrigger(threshold=0.5, patience=patience, refractory=refractory, warmup=warmup)
    fired = [i for i, _ in fire_frames(trigger, frames_of(*scores))]
    for index in fired:
        # every firing frame ends `patience` frames over the threshold, after the warm-up
        assert index >= warmup + patience - 1
        assert all(s >= 0.5 for s in scores[index - patience + 1 : index + 1])
    for earlier, later in itertools.pairwise(fired):
        assert later - earlier >= refractory + patience


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"threshold": 0.0}, None),
        ({"threshold": 1.5}, None),
        ({"patience": 0}, None),
        ({"refractory_seconds": -1}, None),
        ({"threads": 0}, None),
        ({"words": "hey_jarvis"}, None),
        ({"word_thresholds": {"hey_jarvis": 2}}, None),
        ({"sensitivity": 0.5}, "sensitivity"),
    ],
)
def test_bad_params_are_invalid_input(params: dict[str, object], field: str | None) -> None:
    # parameters are checked before any file is touched
    with pytest.raises(UnsupportedInput) as info:
        OpenWakeWordDetector.load(HEY_JARVIS, Path("/nonexistent"), params)
    assert info.value.field == field


def test_missing_files_mean_model_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled) as info:
        OpenWakeWordDetector.load(HEY_JARVIS, tmp_path, {})
    assert info.value.model_id == "openwakeword:hey-jarvis"


# --- real models ---------------------------------------------------------------------------


def speak(text: str, folder: Path, voice: str = "en-us") -> npt.NDArray[np.int16]:
    """espeak-ng speech converted by sox to 16 kHz mono 16-bit samples."""
    name = f"{voice}-{text}".replace(" ", "_").replace("+", "_")
    raw, converted = folder / f"{name}.wav", folder / f"{name}-16k.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(converted)], check=True
    )
    return read_wav(converted)


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path)) as handle:
        assert handle.getframerate() == RATE
        return np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def feed(
    detector: WakeWordDetector, pcm: npt.NDArray[np.int16], chunk_samples: int = FRAME_SAMPLES
) -> tuple[list[WakeDetection], float]:
    """All detections over ``pcm`` fed in chunks, and the peak score of any word."""
    detections, peak = [], 0.0
    for start in range(0, len(pcm), chunk_samples):
        chunk = AudioChunk.from_samples(pcm[start : start + chunk_samples], RATE, start / RATE)
        detection = detector.process(chunk)
        if detection is not None:
            detections.append(detection)
        if isinstance(detector, OpenWakeWordDetector):
            peak = max(peak, *detector.last_scores.values(), 0.0)
    return detections, peak


@pytest.fixture(scope="module")
def jarvis(model_dir: Callable[[str], Path]) -> OpenWakeWordDetector:
    return OpenWakeWordDetector.load(HEY_JARVIS, model_dir(HEY_JARVIS), {})


@pytest.fixture(scope="module")
def all_words(model_dir: Callable[[str], Path]) -> OpenWakeWordDetector:
    return OpenWakeWordDetector.load(ALL_WORDS, model_dir(ALL_WORDS), {})


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wake-speech")


@pytest.mark.real_model
def test_loads_the_words_of_its_files(
    jarvis: OpenWakeWordDetector, all_words: OpenWakeWordDetector
) -> None:
    assert jarvis.words == ("hey_jarvis",)
    assert all_words.words == ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")


@pytest.mark.real_model
@pytest.mark.parametrize("voice", ["en-us", "en-gb", "en-us+f3", "en-us+m3"])
def test_fires_on_hey_jarvis(jarvis: OpenWakeWordDetector, speech_dir: Path, voice: str) -> None:
    jarvis.reset()
    words = speak("hey jarvis", speech_dir, voice)
    detections, _ = feed(jarvis, np.concatenate((silence(1.0), words, silence(1.0))))
    assert len(detections) == 1
    (detection,) = detections
    assert detection.word == "hey_jarvis"
    assert detection.score >= 0.5
    # it fires while the words are heard or just after, not before they start
    assert 1.0 < detection.timestamp < 1.0 + len(words) / RATE + 0.6


@pytest.mark.real_model
def test_fires_on_piper_hey_jarvis(
    jarvis: OpenWakeWordDetector, speech_dir: Path, model_dir: Callable[[str], Path]
) -> None:
    from runtime.tts.base import SynthesisOptions
    from runtime.tts.piper import PiperTextToSpeech

    voice_id = "piper:en_US-joe-medium"
    tts = PiperTextToSpeech.load(voice_id, model_dir(voice_id), {})
    try:
        chunks = list(tts.synthesize("Hey Jarvis!", SynthesisOptions()))
    finally:
        tts.close()
    raw, converted = speech_dir / "piper.raw", speech_dir / "piper-16k.wav"
    raw.write_bytes(b"".join(c.audio for c in chunks))
    raw_format = ["-t", "raw", "-r", str(tts.sample_rate), "-e", "signed", "-b", "16", "-c", "1"]
    subprocess.run(["sox", *raw_format, str(raw), "-r", str(RATE), str(converted)], check=True)
    jarvis.reset()
    detections, _ = feed(jarvis, np.concatenate((silence(1.0), read_wav(converted), silence(1.0))))
    assert [d.word for d in detections] == ["hey_jarvis"]


@pytest.mark.real_model
@pytest.mark.parametrize(
    ("text", "voice"),
    [
        ("what is the weather like today", "en-us"),
        ("what is the weather like today", "en-gb"),
        ("the cat sat on the mat and then it ran away", "en-us"),
        ("alexa", "en-us"),
    ],
)
def test_stays_quiet_on_other_speech(
    jarvis: OpenWakeWordDetector, speech_dir: Path, text: str, voice: str
) -> None:
    jarvis.reset()
    detections, peak = feed(jarvis, np.concatenate((silence(0.5), speak(text, speech_dir, voice))))
    assert detections == []
    assert peak < 0.2


@pytest.mark.real_model
def test_stays_quiet_on_silence_and_noise(jarvis: OpenWakeWordDetector) -> None:
    noise = (np.random.default_rng(7).normal(0, 0.01, 3 * RATE) * 32767).astype(np.int16)
    jarvis.reset()
    detections, peak = feed(jarvis, np.concatenate((silence(2.0), noise)))
    assert detections == []
    assert peak < 0.1


@pytest.mark.real_model
def test_chunk_size_does_not_change_the_result(
    jarvis: OpenWakeWordDetector, speech_dir: Path
) -> None:
    pcm = np.concatenate((silence(1.0), speak("hey jarvis", speech_dir), silence(1.0)))
    results = []
    for chunk_samples in (FRAME_SAMPLES, 1000, 4 * FRAME_SAMPLES + 37):
        jarvis.reset()
        detections, _ = feed(jarvis, pcm, chunk_samples)
        results.append([(d.word, round(d.score, 4), round(d.timestamp, 2)) for d in detections])
    assert results[0]
    assert results[1] == results[0]
    assert results[2] == results[0]


@pytest.mark.real_model
def test_refractory_period_lets_one_utterance_fire_once(
    model_dir: Callable[[str], Path], speech_dir: Path
) -> None:
    words = speak("hey jarvis", speech_dir)
    pcm = np.concatenate((silence(1.0), words, silence(3.0), words, silence(1.0)))
    debounced = OpenWakeWordDetector.load(HEY_JARVIS, model_dir(HEY_JARVIS), {})
    eager = OpenWakeWordDetector.load(
        HEY_JARVIS, model_dir(HEY_JARVIS), {"refractory_seconds": 0.0}
    )
    long_quiet = OpenWakeWordDetector.load(
        HEY_JARVIS, model_dir(HEY_JARVIS), {"refractory_seconds": 10.0}
    )
    assert len(feed(debounced, pcm)[0]) == 2
    assert len(feed(eager, pcm)[0]) > 2
    assert len(feed(long_quiet, pcm)[0]) == 1


@pytest.mark.real_model
def test_patience_and_threshold_params_take_effect(
    model_dir: Callable[[str], Path], speech_dir: Path
) -> None:
    pcm = np.concatenate((silence(1.0), speak("hey jarvis", speech_dir), silence(1.0)))
    strict = OpenWakeWordDetector.load(
        HEY_JARVIS, model_dir(HEY_JARVIS), {"patience": 30, "threshold": 0.5}
    )
    assert feed(strict, pcm)[0] == []
    picky = OpenWakeWordDetector.load(HEY_JARVIS, model_dir(HEY_JARVIS), {"threshold": 0.9999})
    assert feed(picky, pcm)[0] == []


@pytest.mark.real_model
@pytest.mark.parametrize(
    ("text", "voice", "word"),
    [
        ("hey jarvis", "en-us", "hey_jarvis"),
        ("alexa", "en-us", "alexa"),
        ("hey my craft", "en-gb", "hey_mycroft"),
        ("hey rhasspy", "en-us", "hey_rhasspy"),
    ],
)
def test_all_words_model_names_the_word_heard(
    all_words: OpenWakeWordDetector, speech_dir: Path, text: str, voice: str, word: str
) -> None:
    all_words.reset()
    pcm = np.concatenate((silence(1.0), speak(text, speech_dir, voice), silence(1.0)))
    assert [d.word for d in feed(all_words, pcm)[0]] == [word]


@pytest.mark.real_model
def test_words_param_selects_classifiers(model_dir: Callable[[str], Path]) -> None:
    detector = OpenWakeWordDetector.load(
        ALL_WORDS, model_dir(ALL_WORDS), {"words": ["Hey-Jarvis", "alexa"]}
    )
    assert detector.words == ("hey_jarvis", "alexa")
    repeated = {"words": ["alexa", "Alexa"]}
    assert OpenWakeWordDetector.load(ALL_WORDS, model_dir(ALL_WORDS), repeated).words == ("alexa",)
    for params in ({"words": ["computer"]}, {"word_thresholds": {"computer": 0.7}}):
        with pytest.raises(UnsupportedInput) as info:
            OpenWakeWordDetector.load(ALL_WORDS, model_dir(ALL_WORDS), params)
        assert info.value.field == "words"


@pytest.mark.real_model
def test_rejects_audio_it_cannot_hear(jarvis: OpenWakeWordDetector) -> None:
    with pytest.raises(UnsupportedInput):
        jarvis.process(AudioChunk(audio=b"\x00\x00" * 1280, rate=8000))
    with pytest.raises(UnsupportedInput):
        jarvis.process(AudioChunk(audio=b"\x00\x00" * 1280, rate=RATE, channels=2))


@pytest.mark.real_model
def test_closed_detector_raises(model_dir: Callable[[str], Path]) -> None:
    detector = OpenWakeWordDetector.load(HEY_JARVIS, model_dir(HEY_JARVIS), {})
    detector.close()
    with pytest.raises(EngineError):
        detector.process(AudioChunk.from_samples(silence(0.08), RATE))
