"""Piper text to speech: option checks in tables, the real en_US-joe-medium voice streaming."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hal.audio import AudioChunk
from runtime.cpu import EngineActivity, ThreadPolicy
from runtime.errors import EngineError, ModelNotInstalled, UnsupportedInput
from runtime.onnx import cpu_session
from runtime.tts.base import SynthesisOptions, TextToSpeech
from runtime.tts.piper import (
    PiperParams,
    PiperTextToSpeech,
    check_options,
    find_voice,
    length_scale_for,
)
from tests.runtime.test_cpu import quiet_policy

VOICE = "piper:en_US-joe-medium"
VOICE_FILE = "en_US-joe-medium.onnx"
TWO_SENTENCES = "The weather is sunny today. Tomorrow it will rain, so take an umbrella!"

# --- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "speaker_id", "num_speakers"),
    [
        (1.0, None, 1),
        (0.25, None, 1),
        (4.0, None, 1),
        (1.0, 0, 1),
        (1.0, 3, 4),
        (1.5, 0, 4),
    ],
)
def test_check_options_accepts(rate: float, speaker_id: int | None, num_speakers: int) -> None:
    check_options(SynthesisOptions(speaker_id=speaker_id, rate=rate), num_speakers)


@pytest.mark.parametrize(
    ("rate", "speaker_id", "num_speakers", "field"),
    [
        (0.0, None, 1, "rate"),
        (-1.0, None, 1, "rate"),
        (0.2, None, 1, "rate"),
        (4.5, None, 1, "rate"),
        (math.nan, None, 1, "rate"),
        (math.inf, None, 1, "rate"),
        (1.0, 1, 1, "speaker_id"),
        (1.0, 4, 4, "speaker_id"),
        (1.0, -1, 4, "speaker_id"),
    ],
)
def test_check_options_rejects(
    rate: float, speaker_id: int | None, num_speakers: int, field: str
) -> None:
    with pytest.raises(UnsupportedInput) as info:
        check_options(SynthesisOptions(speaker_id=speaker_id, rate=rate), num_speakers)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("rate", "base", "length_scale"),
    [(1.0, 1.0, 1.0), (2.0, 1.0, 0.5), (0.5, 1.0, 2.0), (1.25, 1.0, 0.8), (2.0, 1.2, 0.6)],
)
def test_length_scale_for(rate: float, base: float, length_scale: float) -> None:
    assert length_scale_for(rate, base) == pytest.approx(length_scale)


@pytest.mark.parametrize(
    ("files", "voice", "found"),
    [
        ([], None, None),
        (["a.onnx", "a.onnx.json"], None, "a.onnx"),
        (["a.onnx", "a.onnx.json", "b.onnx", "b.onnx.json"], "b.onnx", "b.onnx"),
        (["a.onnx"], "c.onnx", None),
        (["notes.txt"], None, None),
    ],
)
def test_find_voice(tmp_path: Path, files: list[str], voice: str | None, found: str | None) -> None:
    for name in files:
        (tmp_path / name).write_bytes(b"")
    path = find_voice(tmp_path, voice)
    assert (path.name if path else None) == found


def test_find_voice_needs_a_choice_among_several(tmp_path: Path) -> None:
    for name in ("a.onnx", "b.onnx"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(UnsupportedInput) as info:
        find_voice(tmp_path, None)
    assert info.value.field == "voice"


@pytest.mark.parametrize(
    "params",
    [
        {"length_scale": 0},
        {"noise_scale": -0.1},
        {"noise_w_scale": float("nan")},
        {"volume": 0},
        {"sentence_silence_seconds": -1},
        {"threads": -1},
        {"speed": 2},
    ],
)
def test_bad_params_are_invalid_input(params: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedInput):
        PiperTextToSpeech.load(VOICE, Path("/nonexistent"), params)


def test_missing_voice_files_mean_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled):
        PiperTextToSpeech.load(VOICE, tmp_path, {})
    (tmp_path / VOICE_FILE).write_bytes(b"")  # the .onnx.json is still missing
    with pytest.raises(ModelNotInstalled):
        PiperTextToSpeech.load(VOICE, tmp_path, {})


# --- the real voice --------------------------------------------------------------------------


class CountingSession:
    """Wraps an onnxruntime session and counts voice runs (one per sentence)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.runs = 0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.runs += 1
        return self.inner.run(*args, **kwargs)


@pytest.fixture(scope="module")
def tts(model_dir: Callable[[str], Path]) -> Iterator[PiperTextToSpeech]:
    engine = PiperTextToSpeech.load(VOICE, model_dir(VOICE), {})
    yield engine
    engine.close()


def speech(chunks: list[AudioChunk]) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.concatenate([c.samples() for c in chunks])


@pytest.mark.real_model
def test_voice_properties(tts: PiperTextToSpeech) -> None:
    voice: TextToSpeech = tts  # mypy checks the Protocol
    assert voice.model_id == VOICE
    assert tts.sample_rate == 22_050
    assert tts.num_speakers == 1


@pytest.mark.real_model
def test_one_chunk_per_sentence_of_real_speech(tts: PiperTextToSpeech) -> None:
    chunks = list(tts.synthesize(TWO_SENTENCES, SynthesisOptions()))
    assert len(chunks) == 2
    elapsed = 0.0
    for chunk in chunks:
        assert (chunk.rate, chunk.width, chunk.channels) == (22_050, 2, 1)
        assert chunk.timestamp == pytest.approx(elapsed)
        assert 0.5 < chunk.seconds < 6.0
        samples = chunk.samples()
        assert np.sqrt(np.mean(samples**2)) > 0.05  # speech, not silence
        assert np.abs(samples).max() > 0.5  # normalised to full range
        elapsed += chunk.seconds


@pytest.mark.real_model
def test_first_chunk_comes_before_the_rest_is_made(model_dir: Callable[[str], Path]) -> None:
    from piper import PiperVoice

    folder = model_dir(VOICE)
    voice = PiperVoice.load(folder / VOICE_FILE)
    counter = CountingSession(voice.session)
    voice.session = counter
    engine = PiperTextToSpeech(VOICE, PiperParams(), voice)
    stream = engine.synthesize(TWO_SENTENCES + " Is that clear?", SynthesisOptions())
    assert counter.runs == 0  # nothing runs until the caller asks for audio
    first = next(stream)
    assert counter.runs == 1  # only the first sentence has been made
    rest = list(stream)
    assert counter.runs == 3
    assert len(rest) == 2
    assert first.seconds < sum(c.seconds for c in rest)


class SessionWatchingActivity(EngineActivity):
    """Records, at each voice run, which engines are marked as computing."""

    def __init__(self, counter: CountingSession) -> None:
        super().__init__()
        self.seen: list[frozenset[str]] = []
        self.urgent: list[frozenset[str]] = []
        inner = counter.run

        def run(*args: Any, **kwargs: Any) -> Any:
            self.seen.append(self.busy_now())
            self.urgent.append(self.urgent_now())
            return inner(*args, **kwargs)

        counter.run = run  # type: ignore[method-assign]


@pytest.mark.real_model
@pytest.mark.parametrize("urgent", [False, True])
def test_synthesis_is_reported_to_the_thread_policy(
    model_dir: Callable[[str], Path], urgent: bool
) -> None:
    from piper import PiperVoice

    voice = PiperVoice.load(model_dir(VOICE) / VOICE_FILE)
    counter = CountingSession(voice.session)
    voice.session = counter
    engine = PiperTextToSpeech(VOICE, PiperParams(), voice)
    activity = SessionWatchingActivity(counter)
    engine.share_cpu(ThreadPolicy(activity=activity, cpu_count=2))
    stream = engine.synthesize(TWO_SENTENCES, SynthesisOptions(urgent=urgent))
    next(stream)
    assert activity.busy_now() == frozenset()  # between sentences it computes nothing
    list(stream)
    assert activity.seen == [frozenset({VOICE})] * 2  # busy while each sentence is made
    # Urgent (someone waits to hear it: the chat model yields) only when asked.
    assert activity.urgent == [frozenset({VOICE}) if urgent else frozenset()] * 2


@pytest.mark.real_model
def test_synthesis_runs_on_the_cores_the_policy_leaves(model_dir: Callable[[str], Path]) -> None:
    from piper import PiperVoice

    path = model_dir(VOICE) / VOICE_FILE
    voice = PiperVoice.load(path)
    every_core = voice.session = CountingSession(voice.session)
    opened: dict[int, CountingSession] = {}

    def open_session(threads: int) -> CountingSession:
        opened[threads] = CountingSession(cpu_session(path, threads))
        return opened[threads]

    engine = PiperTextToSpeech(VOICE, PiperParams(), voice, open_session=open_session)
    policy = quiet_policy(cpu_count=2)
    engine.share_cpu(policy)
    alone = list(engine.synthesize("Hello there.", SynthesisOptions()))
    assert (every_core.runs, opened) == (1, {})  # nothing else computes: every core
    with policy.activity.busy("llama:chat"):  # the chat model writes on
        list(engine.synthesize("Hello there.", SynthesisOptions(urgent=True)))
        assert (every_core.runs, opened) == (2, {})  # urgent: the chat model waits
        beside = list(engine.synthesize("Hello there.", SynthesisOptions()))
        list(engine.synthesize("Hello there.", SynthesisOptions()))
    assert every_core.runs == 2
    assert list(opened) == [1] and opened[1].runs == 2  # opened on one thread, once
    assert b"".join(c.audio for c in beside) and len(beside) == len(alone)


@pytest.mark.real_model
def test_fixed_threads_keep_their_session(model_dir: Callable[[str], Path]) -> None:
    from piper import PiperVoice

    voice = PiperVoice.load(model_dir(VOICE) / VOICE_FILE)
    counter = voice.session = CountingSession(voice.session)
    opened: list[int] = []
    engine = PiperTextToSpeech(VOICE, PiperParams(threads=2), voice, open_session=opened.append)
    policy = quiet_policy(cpu_count=2)
    engine.share_cpu(policy)
    with policy.activity.busy("llama:chat"):
        list(engine.synthesize("Hello there.", SynthesisOptions()))
    assert (counter.runs, opened) == (1, [])


@pytest.fixture(scope="module")
def flat_tts(model_dir: Callable[[str], Path]) -> Iterator[PiperTextToSpeech]:
    """The voice without its random noise: the same text always takes the same time (and,
    on every core whatever else the machine runs, gives the same samples: onnxruntime's
    sums come out a bit differently on another thread count)."""
    engine = PiperTextToSpeech.load(
        VOICE, model_dir(VOICE), {"noise_scale": 0.0, "noise_w_scale": 0.0}
    )
    engine.share_cpu(quiet_policy(cpu_count=2))
    yield engine
    engine.close()


@pytest.mark.real_model
def test_zero_noise_repeats_exactly(flat_tts: PiperTextToSpeech) -> None:
    def once() -> bytes:
        return b"".join(c.audio for c in flat_tts.synthesize(TWO_SENTENCES, SynthesisOptions()))

    assert once() == once()


@pytest.mark.real_model
def test_rate_changes_duration(flat_tts: PiperTextToSpeech) -> None:
    text = "Hello there, how are you doing on this fine morning?"
    seconds = {
        rate: sum(c.seconds for c in flat_tts.synthesize(text, SynthesisOptions(rate=rate)))
        for rate in (0.5, 1.0, 2.0)
    }
    # Piper rounds every phoneme up to whole 11.6 ms frames, so halving the phoneme
    # durations shortens speech to about 0.65, not 0.5 (measured: 1.66 s against 2.54 s).
    assert seconds[2.0] < 0.7 * seconds[1.0]
    assert seconds[0.5] > 1.5 * seconds[1.0]


@pytest.mark.real_model
def test_sentence_silence_and_volume_params(model_dir: Callable[[str], Path]) -> None:
    engine = PiperTextToSpeech.load(
        VOICE, model_dir(VOICE), {"sentence_silence_seconds": 0.25, "volume": 0.5}
    )
    chunks = list(engine.synthesize(TWO_SENTENCES, SynthesisOptions()))
    for chunk in chunks:
        tail = chunk.samples()[-round(0.25 * 22_050) :]
        assert not tail.any()
    assert 0.4 < np.abs(speech(chunks)).max() <= 0.5


@pytest.mark.real_model
def test_blank_text_makes_no_audio(tts: PiperTextToSpeech) -> None:
    assert list(tts.synthesize("", SynthesisOptions())) == []
    assert list(tts.synthesize("   \n ", SynthesisOptions())) == []


@pytest.mark.real_model
def test_bad_options_fail_before_any_audio(tts: PiperTextToSpeech) -> None:
    with pytest.raises(UnsupportedInput):
        tts.synthesize("Hello.", SynthesisOptions(rate=0.0))
    with pytest.raises(UnsupportedInput):
        tts.synthesize("Hello.", SynthesisOptions(speaker_id=2))


@pytest.mark.real_model
def test_closed_voice_raises(model_dir: Callable[[str], Path]) -> None:
    engine = PiperTextToSpeech.load(VOICE, model_dir(VOICE), {})
    engine.close()
    with pytest.raises(EngineError):
        engine.synthesize("Hello.", SynthesisOptions())
