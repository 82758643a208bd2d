"""Speech to text: whisper.cpp and faster-whisper engines, and their pure helpers."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.audio import AudioChunk
from hal.audio.codecs import decode, encode
from runtime.cpu import ThreadPolicy
from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.stt.audio_context import (
    FULL_AUDIO_CONTEXT,
    audio_context_positions,
    default_threads,
    looks_runaway,
    pcm_samples,
    within_audio,
)
from runtime.stt.base import Segment, TranscribeOptions, Transcript
from runtime.stt.faster_whisper import FasterWhisperSpeechToText
from runtime.stt.whispercpp import (
    WhisperCppParams,
    WhisperCppSpeechToText,
    find_model_file,
)
from tests.runtime.test_cpu import Machine, quiet_policy

ModelDir = Callable[[str], Path]

SENTENCE = (
    "Please turn on the kitchen lights. What is the weather going to be like tomorrow"
    " morning? The quick brown fox jumps over the lazy dog."
)
GERMAN = "Guten Morgen. Wie wird das Wetter heute in Berlin?"


# --- word error rate (the tests' own yardstick) -----------------------------------------


def words(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return re.sub(r"[^\w' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words."""
    ref, hyp = words(reference), words(hypothesis)
    distances = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        previous, distances[0] = distances[:], i
        for j, hyp_word in enumerate(hyp, start=1):
            distances[j] = min(
                previous[j] + 1, distances[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)
            )
    return distances[-1] / max(len(ref), 1)


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the quick brown fox", "The quick brown fox.", 0.0),
        ("the quick brown fox", "the quick round fox", 0.25),
        ("the quick brown fox", "the quick fox", 0.25),
        ("the quick brown fox", "the very quick brown fox", 0.25),
        ("the quick brown fox", "", 1.0),
        ("a b", "a b a b a b", 2.0),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, expected: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)


# --- pure helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, 192),  # the floor: shorter windows make the decoder loop
        (1.0, 192),
        (2.5, 192),  # 125 + 64 = 189 -> 192
        (2.78, 224),  # 139 + 64 = 203 -> 224
        (3.0, 224),
        (5.5, 352),  # 275 + 64 = 339 -> 352
        (7.4, 448),
        (10.0, 576),
        (27.0, 1440),
        (28.5, 1500),  # 1425 + 64 = 1489 -> 1504: more than the window
        (30.0, 1500),
        (95.0, 1500),  # several windows: all of each
    ],
)
def test_audio_context_positions(seconds: float, expected: int) -> None:
    assert audio_context_positions(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "margin", "minimum", "expected"),
    [
        (3.0, 0, 32, 160),
        (3.0, 128, 192, 288),
        (1.0, 64, 320, 320),
        (3.0, 64, 1500, 1500),
    ],
)
def test_audio_context_positions_settings(
    seconds: float, margin: int, minimum: int, expected: int
) -> None:
    assert audio_context_positions(seconds, margin=margin, minimum=minimum) == expected


@given(seconds=st.floats(min_value=0.0, max_value=120.0), margin=st.integers(0, 400))
def test_audio_context_covers_the_audio(seconds: float, margin: int) -> None:
    positions = audio_context_positions(seconds, margin=margin)
    assert 192 <= positions <= FULL_AUDIO_CONTEXT
    assert positions == FULL_AUDIO_CONTEXT or positions % 32 == 0
    assert positions == FULL_AUDIO_CONTEXT or positions >= seconds * 50 + margin


@given(a=st.floats(0.0, 60.0), b=st.floats(0.0, 60.0))
def test_audio_context_grows_with_duration(a: float, b: float) -> None:
    shorter, longer = sorted((a, b))
    assert audio_context_positions(shorter) <= audio_context_positions(longer)


def test_audio_context_refuses_negative_duration() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        audio_context_positions(-1.0)


@pytest.mark.parametrize(
    ("text", "seconds", "runaway"),
    [
        ("", 0.0, False),
        ("Hello.", 0.5, False),
        ("Please turn on the kitchen lights and set a timer for ten minutes.", 3.6, False),
        ("The quick roundfark stump, over the lazy dog. " * 4, 2.8, True),
        ("x" * 80, 1.0, False),
        ("x" * 81, 1.0, True),
    ],
)
def test_looks_runaway(text: str, seconds: float, runaway: bool) -> None:
    assert looks_runaway(text, seconds) is runaway


@pytest.mark.parametrize(
    ("times", "seconds", "expected"),
    [
        ([(0.0, 1.5), (1.5, 2.8)], 3.0, [(0.0, 1.5), (1.5, 2.8)]),
        ([(0.0, 7.0)], 2.69, [(0.0, 2.69)]),  # an MP3 clip whose segment ended at 7.0 s
        ([(0.0, 1.0), (1.0, 2.0)], 1.935, [(0.0, 1.0), (1.0, 1.935)]),
        ([(0.0, 1.0), (2.5, 3.0)], 2.0, [(0.0, 1.0), (2.0, 2.0)]),  # kept, at the end
        ([(-0.02, 0.5)], 1.0, [(0.0, 0.5)]),
        ([(0.8, 0.6)], 1.0, [(0.8, 0.8)]),
        ([], 0.0, []),
    ],
)
def test_segments_stay_within_the_audio(
    times: list[tuple[float, float]], seconds: float, expected: list[tuple[float, float]]
) -> None:
    segments = [Segment(start, end, f"s{i}") for i, (start, end) in enumerate(times)]
    bounded = within_audio(segments, seconds)
    assert [(s.start, s.end) for s in bounded] == expected
    assert [s.text for s in bounded] == [s.text for s in segments]


@pytest.mark.parametrize(("cpus", "threads"), [(None, 1), (1, 1), (2, 2), (4, 4), (8, 4), (64, 4)])
def test_default_threads(cpus: int | None, threads: int) -> None:
    assert default_threads(cpus) == threads


def test_pcm_samples_takes_16_khz_and_mixes_channels() -> None:
    stereo = np.array([[1000, 3000], [-2000, 0]], dtype="<i2")
    samples = pcm_samples(AudioChunk(stereo.tobytes(), 16_000, channels=2))
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples, [2000 / 32768, -1000 / 32768])


@pytest.mark.parametrize(
    "chunk",
    [
        AudioChunk(b"\0\0" * 100, 44_100),
        AudioChunk(b"\0\0" * 100, 8_000),
        AudioChunk(b"\0\0\0" * 100, 16_000, width=3),
    ],
)
def test_pcm_samples_refuses_other_audio(chunk: AudioChunk) -> None:
    with pytest.raises(UnsupportedInput):
        pcm_samples(chunk)


@pytest.mark.parametrize(
    ("files", "name", "found"),
    [
        (["ggml-tiny.en.bin"], "", "ggml-tiny.en.bin"),
        (["ggml-tiny.en.bin", "notes.txt"], "", "ggml-tiny.en.bin"),
        (["ggml-a.bin", "ggml-b.bin"], "", None),
        (["ggml-a.bin", "ggml-b.bin"], "ggml-b.bin", "ggml-b.bin"),
        (["model.bin"], "", None),
        ([], "ggml-tiny.bin", None),
    ],
)
def test_find_model_file(tmp_path: Path, files: list[str], name: str, found: str | None) -> None:
    for file in files:
        (tmp_path / file).write_bytes(b"x")
    result = find_model_file(tmp_path, name)
    assert (result.name if result else None) == found


@pytest.mark.parametrize(
    "params",
    [
        {"threads": -1},
        {"audio_context_margin": -5},
        {"min_audio_context": 0},
        {"min_audio_context": 2000},
        {"model_file": "../ggml.bin"},
        {"beam": 5},
    ],
)
def test_whispercpp_refuses_bad_params(tmp_path: Path, params: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedInput):
        WhisperCppSpeechToText.load("whisper:test", tmp_path, params)


@pytest.mark.parametrize(
    "params", [{"compute_type": "int4"}, {"cpu_threads": -2}, {"device": "cuda"}]
)
def test_faster_whisper_refuses_bad_params(tmp_path: Path, params: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedInput):
        FasterWhisperSpeechToText.load("whisper:test", tmp_path, params)


def test_whispercpp_wants_its_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match=re.escape("'whisper:tiny.en' is not installed")):
        WhisperCppSpeechToText.load("whisper:tiny.en", tmp_path, {})


def test_faster_whisper_wants_every_model_file(tmp_path: Path) -> None:
    for name in ("model.bin", "config.json", "vocabulary.txt"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(ModelNotInstalled):
        FasterWhisperSpeechToText.load("whisper:tiny.en-ct2", tmp_path, {})


def test_whispercpp_refuses_a_file_that_is_not_ggml(tmp_path: Path) -> None:
    (tmp_path / "ggml-tiny.en.bin").write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(EngineError, match="not a ggml file"):
        WhisperCppSpeechToText.load("whisper:tiny.en", tmp_path, {})


# --- the whisper.cpp engine around a fake model -----------------------------------------


@dataclass
class FakeSegment:
    t0: int
    t1: int
    text: str


class FakeWhisperModel:
    """Answers like pywhispercpp's Model and records what it was asked."""

    def __init__(self, answers: Callable[[Mapping[str, Any]], list[FakeSegment]]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []
        self.detections = 0

    def transcribe(self, media: npt.NDArray[np.float32], **params: Any) -> Sequence[Any]:
        self.calls.append(params)
        return self.answers(params)

    def available_languages(self) -> list[str]:
        return ["en", "de", "fr"]

    def auto_detect_language(
        self,
        media: npt.NDArray[np.float32],
        offset_ms: int | None = None,
        n_threads: int | None = None,
    ) -> tuple[tuple[str, Any], Mapping[str, Any]]:
        self.detections += 1
        probabilities = {"en": np.float32(0.1), "de": np.float32(0.85), "fr": np.float32(0.05)}
        return ("de", probabilities["de"]), probabilities


def fake_engine(
    answers: Callable[[Mapping[str, Any]], list[FakeSegment]],
    *,
    multilingual: bool = False,
    params: WhisperCppParams | None = None,
) -> tuple[WhisperCppSpeechToText, FakeWhisperModel]:
    model = FakeWhisperModel(answers)
    engine = WhisperCppSpeechToText(
        "whisper:fake",
        model,
        multilingual=multilingual,
        audio_context=1500,
        params=params or WhisperCppParams(),
        threads=2,
    )
    engine.share_cpu(quiet_policy(cpu_count=2))
    return engine, model


def seconds_of_audio(seconds: float) -> AudioChunk:
    return AudioChunk(b"\x10\x00" * int(seconds * 16_000), 16_000)


def hello(params: Mapping[str, Any]) -> list[FakeSegment]:
    return [FakeSegment(0, 150, " Hello there. "), FakeSegment(150, 280, "How are you?")]


def test_whispercpp_shortens_the_window_and_builds_the_transcript() -> None:
    engine, model = fake_engine(hello)
    transcript = engine.transcribe(seconds_of_audio(3.0), TranscribeOptions())
    assert transcript == Transcript(
        text="Hello there. How are you?",
        language="en",
        language_probability=1.0,
        segments=transcript.segments,
        duration=3.0,
    )
    assert [(s.start, s.end, s.text) for s in transcript.segments] == [
        (0.0, 1.5, "Hello there."),
        (1.5, 2.8, "How are you?"),
    ]
    (call,) = model.calls
    assert call["audio_ctx"] == 224
    assert call["temperature_inc"] == 0.0
    assert call["language"] == "en"
    assert call["n_threads"] == 2
    assert call["initial_prompt"] == ""
    assert "GREEDY" in str(call["strategy"])


@pytest.mark.parametrize(
    ("busy", "outside", "threads"),
    [
        ((), 0.0, 2),  # idle: every core (the load-time count, 2 here)
        (("llama:chat",), 0.0, 1),  # the chat model computes: one core left to it
        ((), 1.0, 1),  # one busy process outside: its core is not ours
        (("llama:chat",), 1.0, 1),  # never fewer than one
    ],
)
def test_whispercpp_threads_follow_the_policy_per_transcription(
    busy: tuple[str, ...], outside: float, threads: int
) -> None:
    engine, model = fake_engine(hello, multilingual=True)
    machine = Machine()
    policy = ThreadPolicy(probe=machine.probe(), cpu_count=2)
    machine.run(1.0, ours=0.0, outside=outside)
    engine.share_cpu(policy)
    detected: list[int | None] = []
    model.auto_detect_language = lambda media, offset_ms=None, n_threads=None: (  # type: ignore[method-assign]
        detected.append(n_threads) or (("en", 0.9), {"en": 0.9})
    )
    with ExitStack() as stack:
        for key in busy:
            stack.enter_context(policy.activity.busy(key))
        engine.transcribe(seconds_of_audio(2.0), TranscribeOptions())
    (call,) = model.calls
    assert (call["n_threads"], detected) == (threads, [threads])


def test_whispercpp_fixed_threads_ignore_the_policy() -> None:
    engine, model = fake_engine(hello, params=WhisperCppParams(threads=2))
    policy = ThreadPolicy(probe=quiet_policy(cpu_count=2).probe, cpu_count=2)
    engine.share_cpu(policy)
    with policy.activity.busy("llama:chat"):
        engine.transcribe(seconds_of_audio(2.0), TranscribeOptions())
    assert model.calls[0]["n_threads"] == 2


def test_whispercpp_reports_its_transcriptions_to_the_policy() -> None:
    policy = quiet_policy(cpu_count=2)
    seen: list[frozenset[str]] = []

    def answers(params: Mapping[str, Any]) -> list[FakeSegment]:
        seen.append(policy.activity.busy_now())
        return hello(params)

    engine, _ = fake_engine(answers)
    engine.share_cpu(policy)
    engine.transcribe(seconds_of_audio(2.0), TranscribeOptions())
    assert seen == [frozenset({"whisper:fake"})]
    assert policy.activity.busy_now() == frozenset()


def test_whispercpp_full_window_on_request() -> None:
    engine, model = fake_engine(hello)
    engine.transcribe(
        seconds_of_audio(3.0),
        TranscribeOptions(shorten_audio_context=False, initial_prompt="Hi.", beam_size=4),
    )
    (call,) = model.calls
    assert call["audio_ctx"] == 0
    assert call["temperature_inc"] == pytest.approx(0.2)
    assert call["initial_prompt"] == "Hi."
    assert "BEAM_SEARCH" in str(call["strategy"])
    assert call["beam_search"] == {"beam_size": 4, "patience": -1.0}


def test_whispercpp_retries_a_runaway_with_the_full_window() -> None:
    def loops_when_short(params: Mapping[str, Any]) -> list[FakeSegment]:
        if params["audio_ctx"]:
            return [FakeSegment(0, 3000, "The quick brown fox. " * 20)]
        return [FakeSegment(0, 280, "The quick brown fox.")]

    engine, model = fake_engine(loops_when_short)
    transcript = engine.transcribe(seconds_of_audio(2.8), TranscribeOptions())
    assert transcript.text == "The quick brown fox."
    assert [call["audio_ctx"] for call in model.calls] == [224, 0]


def test_whispercpp_segments_never_end_after_the_audio() -> None:
    engine, _ = fake_engine(lambda params: [FakeSegment(0, 700, "Turn on the lights.")])
    transcript = engine.transcribe(seconds_of_audio(2.69), TranscribeOptions())
    assert [(s.start, s.end) for s in transcript.segments] == [(0.0, 2.69)]


def test_whispercpp_drops_blank_audio_markers() -> None:
    engine, _ = fake_engine(lambda params: [FakeSegment(0, 100, "[BLANK_AUDIO]")])
    transcript = engine.transcribe(seconds_of_audio(1.0), TranscribeOptions())
    assert (transcript.text, transcript.segments) == ("", ())


def test_whispercpp_detects_language_and_then_uses_the_full_window() -> None:
    engine, model = fake_engine(hello, multilingual=True)
    transcript = engine.transcribe(seconds_of_audio(3.0), TranscribeOptions())
    assert transcript.language == "de"
    assert transcript.language_probability == pytest.approx(0.85)
    assert model.detections == 1
    assert model.calls[0]["language"] == "de"
    assert model.calls[0]["audio_ctx"] == 0


def test_whispercpp_given_language_is_not_detected() -> None:
    engine, model = fake_engine(hello, multilingual=True)
    transcript = engine.transcribe(seconds_of_audio(3.0), TranscribeOptions(language="fr"))
    assert (transcript.language, transcript.language_probability) == ("fr", 1.0)
    assert model.detections == 0
    assert model.calls[0]["audio_ctx"] == 224


@pytest.mark.parametrize(
    ("multilingual", "language"), [(False, "de"), (True, "xx"), (True, "english")]
)
def test_whispercpp_refuses_languages_it_cannot_do(multilingual: bool, language: str) -> None:
    engine, model = fake_engine(hello, multilingual=multilingual)
    with pytest.raises(UnsupportedInput) as raised:
        engine.transcribe(seconds_of_audio(1.0), TranscribeOptions(language=language))
    assert raised.value.field == "language"
    assert model.calls == []


def test_whispercpp_empty_audio_gives_an_empty_transcript() -> None:
    engine, model = fake_engine(hello)
    transcript = engine.transcribe(AudioChunk(b"", 16_000), TranscribeOptions())
    assert transcript == Transcript("", "en", 1.0, (), 0.0)
    assert model.calls == []


def test_whispercpp_refuses_work_after_close() -> None:
    engine, _ = fake_engine(hello)
    engine.close()
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.transcribe(seconds_of_audio(1.0), TranscribeOptions())


def test_whispercpp_refuses_beam_size_zero() -> None:
    engine, _ = fake_engine(hello)
    with pytest.raises(UnsupportedInput):
        engine.transcribe(seconds_of_audio(1.0), TranscribeOptions(beam_size=0))


# --- real models ------------------------------------------------------------------------


def speak(text: str, folder: Path, voice: str = "en") -> AudioChunk:
    """16 kHz mono 16-bit speech from espeak-ng, resampled by sox."""
    assert shutil.which("espeak-ng"), "espeak-ng is needed for the speech tests"
    raw, converted = folder / "espeak.wav", folder / "speech16.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(converted)], check=True
    )
    with wave.open(str(converted), "rb") as wav:
        return AudioChunk(wav.readframes(wav.getnframes()), wav.getframerate())


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> AudioChunk:
    return speak(SENTENCE, tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="module")
def german_speech(tmp_path_factory: pytest.TempPathFactory) -> AudioChunk:
    return speak(GERMAN, tmp_path_factory.mktemp("german"), voice="de")


@pytest.fixture(scope="module")
def whispercpp_tiny(model_dir: ModelDir) -> Iterator[WhisperCppSpeechToText]:
    engine = WhisperCppSpeechToText.load("whisper:tiny.en", model_dir("whisper:tiny.en"), {})
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def faster_whisper_tiny(model_dir: ModelDir) -> Iterator[FasterWhisperSpeechToText]:
    folder = model_dir("whisper:tiny.en-ct2")
    engine = FasterWhisperSpeechToText.load("whisper:tiny.en-ct2", folder, {})
    yield engine
    engine.close()


def assert_well_formed(transcript: Transcript, audio: AudioChunk) -> None:
    assert transcript.duration == pytest.approx(audio.seconds)
    assert transcript.text == " ".join(s.text for s in transcript.segments)
    previous_end = 0.0
    for segment in transcript.segments:
        assert previous_end <= segment.start <= segment.end <= audio.seconds
        previous_end = segment.end


@pytest.mark.real_model
@pytest.mark.parametrize("shorten", [True, False])
def test_whispercpp_transcribes_speech(
    whispercpp_tiny: WhisperCppSpeechToText, speech: AudioChunk, shorten: bool
) -> None:
    transcript = whispercpp_tiny.transcribe(
        speech, TranscribeOptions(shorten_audio_context=shorten)
    )
    assert word_error_rate(SENTENCE, transcript.text) <= 0.25, transcript.text
    assert (transcript.language, transcript.language_probability) == ("en", 1.0)
    assert_well_formed(transcript, speech)


@pytest.fixture(scope="module")
def short_command(tmp_path_factory: pytest.TempPathFactory) -> AudioChunk:
    """A two-second command, through an MP3 as an upload would come."""
    spoken = speak("Turn on the kitchen lights please.", tmp_path_factory.mktemp("short"))
    return decode(encode(spoken, "mp3"))


@pytest.mark.real_model
@pytest.mark.parametrize("engine_name", ["whispercpp", "faster_whisper"])
def test_segments_of_a_short_clip_end_with_the_audio(
    request: pytest.FixtureRequest, short_command: AudioChunk, engine_name: str
) -> None:
    """whisper.cpp timed this clip's one segment 0.0-2.0 s for 1.94 s of audio."""
    engine = request.getfixturevalue(f"{engine_name}_tiny")
    transcript = engine.transcribe(short_command, TranscribeOptions())
    assert "kitchen" in transcript.text.lower(), transcript.text
    assert_well_formed(transcript, short_command)


@pytest.mark.real_model
def test_whispercpp_beam_search(
    whispercpp_tiny: WhisperCppSpeechToText, speech: AudioChunk
) -> None:
    transcript = whispercpp_tiny.transcribe(speech, TranscribeOptions(beam_size=3))
    assert word_error_rate(SENTENCE, transcript.text) <= 0.25, transcript.text


@pytest.mark.real_model
def test_whispercpp_initial_prompt_primes_words(
    whispercpp_tiny: WhisperCppSpeechToText, speech: AudioChunk
) -> None:
    # espeak's "brown fox" is hard for tiny.en; a prompt that names it fixes that.
    options = TranscribeOptions(initial_prompt="The quick brown fox.")
    transcript = whispercpp_tiny.transcribe(speech, options)
    assert "brown fox" in transcript.text.lower(), transcript.text


@pytest.mark.real_model
def test_whispercpp_silence_and_nothing(whispercpp_tiny: WhisperCppSpeechToText) -> None:
    silence = AudioChunk(bytes(2 * 16_000 * 2), 16_000)
    assert whispercpp_tiny.transcribe(silence, TranscribeOptions()).text == ""
    empty = whispercpp_tiny.transcribe(AudioChunk(b"", 16_000), TranscribeOptions())
    assert (empty.text, empty.duration) == ("", 0.0)


@pytest.mark.real_model
def test_whispercpp_refuses_a_truncated_model(model_dir: ModelDir, tmp_path: Path) -> None:
    whole = (model_dir("whisper:tiny.en") / "ggml-tiny.en.bin").read_bytes()
    (tmp_path / "ggml-tiny.en.bin").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(EngineError, match="truncated"):
        WhisperCppSpeechToText.load("whisper:tiny.en", tmp_path, {})


@pytest.mark.real_model
@pytest.mark.parametrize("beam_size", [1, 3])
def test_faster_whisper_transcribes_speech(
    faster_whisper_tiny: FasterWhisperSpeechToText, speech: AudioChunk, beam_size: int
) -> None:
    transcript = faster_whisper_tiny.transcribe(speech, TranscribeOptions(beam_size=beam_size))
    assert word_error_rate(SENTENCE, transcript.text) <= 0.25, transcript.text
    assert (transcript.language, transcript.language_probability) == ("en", 1.0)
    assert_well_formed(transcript, speech)


@pytest.mark.real_model
def test_faster_whisper_initial_prompt_primes_words(
    faster_whisper_tiny: FasterWhisperSpeechToText, speech: AudioChunk
) -> None:
    options = TranscribeOptions(initial_prompt="The quick brown fox.")
    transcript = faster_whisper_tiny.transcribe(speech, options)
    assert "brown fox" in transcript.text.lower(), transcript.text


@pytest.mark.real_model
def test_faster_whisper_refusals(faster_whisper_tiny: FasterWhisperSpeechToText) -> None:
    with pytest.raises(UnsupportedInput):
        faster_whisper_tiny.transcribe(
            AudioChunk(bytes(3200), 16_000), TranscribeOptions(language="de")
        )
    with pytest.raises(UnsupportedInput):
        faster_whisper_tiny.transcribe(AudioChunk(bytes(3200), 8_000), TranscribeOptions())
    empty = faster_whisper_tiny.transcribe(AudioChunk(b"", 16_000), TranscribeOptions())
    assert empty == Transcript("", "en", 1.0, (), 0.0)


@pytest.mark.real_model
def test_faster_whisper_refuses_work_after_close(model_dir: ModelDir) -> None:
    folder = model_dir("whisper:tiny.en-ct2")
    engine = FasterWhisperSpeechToText.load("whisper:tiny.en-ct2", folder, {"cpu_threads": 1})
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.transcribe(AudioChunk(bytes(3200), 16_000), TranscribeOptions())


@pytest.mark.real_model
def test_converted_model_agrees_with_ctranslate2(
    whispercpp_tiny: WhisperCppSpeechToText,
    faster_whisper_tiny: FasterWhisperSpeechToText,
    speech: AudioChunk,
) -> None:
    # The same weights through two engines: the ggml conversion keeps the model intact.
    options = TranscribeOptions(shorten_audio_context=False)
    converted = whispercpp_tiny.transcribe(speech, options).text
    original = faster_whisper_tiny.transcribe(speech, options).text
    assert word_error_rate(original, converted) <= 0.2, (original, converted)


@pytest.mark.real_model
def test_multilingual_whispercpp_detects_german(
    model_dir: ModelDir, german_speech: AudioChunk
) -> None:
    engine = WhisperCppSpeechToText.load("whisper:base", model_dir("whisper:base"), {})
    try:
        detected = engine.transcribe(german_speech, TranscribeOptions())
        assert detected.language == "de"
        assert 0.3 < detected.language_probability <= 1.0
        assert {"guten", "morgen"} <= set(words(detected.text)), detected.text
        given = engine.transcribe(german_speech, TranscribeOptions(language="de"))
        assert (given.language, given.language_probability) == ("de", 1.0)
        assert {"guten", "morgen"} <= set(words(given.text)), given.text
    finally:
        engine.close()
