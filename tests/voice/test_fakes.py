"""The fake engines and the manual async clock the tests, the benchmarks and the CLI share."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.clock import ManualAsyncClock, ManualClock
from hal.audio import AudioChunk
from runtime.errors import EngineError, UnsupportedInput
from runtime.stt.base import SpeechToText, TranscribeOptions
from runtime.stt.fake import FakeSpeechToText
from runtime.tts.base import SynthesisOptions, TextToSpeech
from runtime.tts.fake import FakeTextToSpeech
from runtime.vad.base import VoiceActivityDetector
from runtime.vad.fake import FakeVoiceActivityDetector
from runtime.wake.base import WakeWordDetector
from runtime.wake.fake import WAKE_SAMPLE, FakeWakeWordDetector


def constant(value: int, samples: int, timestamp: float = 0.0) -> AudioChunk:
    audio = np.full(samples, value, dtype="<i2").tobytes()
    return AudioChunk(audio=audio, rate=16_000, timestamp=timestamp)


def test_the_fakes_are_the_runtimes_engines() -> None:
    vad: VoiceActivityDetector = FakeVoiceActivityDetector()
    wake: WakeWordDetector = FakeWakeWordDetector()
    stt: SpeechToText = FakeSpeechToText()
    tts: TextToSpeech = FakeTextToSpeech()
    for engine in (vad, wake, stt, tts):
        engine.close()
    assert [e.model_id for e in (vad, wake, stt, tts)] == [
        "fake-vad:1",
        "fake-wake:1",
        "fake-stt:1",
        "fake-tts:1",
    ]


@pytest.mark.parametrize(("value", "level", "speech"), [(0, 0, 0.0), (3, 0, 1.0), (3, 5, 0.0)])
def test_the_fake_vad_hears_samples_louder_than_its_level(
    value: int, level: int, speech: float
) -> None:
    vad = FakeVoiceActivityDetector(frame_samples=512, level=level)
    assert vad.probability(constant(value, 512)) == speech
    assert vad.frames == 1


def test_the_fake_vad_takes_whole_frames_and_can_break() -> None:
    vad = FakeVoiceActivityDetector(frame_samples=512)
    with pytest.raises(UnsupportedInput, match="512 samples"):
        vad.probability(constant(1, 100))
    vad.fail_with = EngineError("broken")
    with pytest.raises(EngineError):
        vad.probability(constant(1, 512))
    vad.reset()
    assert vad.resets == 1


def test_the_fake_wake_word_fires_on_its_marker_chunk() -> None:
    wake = FakeWakeWordDetector(word="hey_test", score=0.8)
    assert wake.process(constant(1_000, 1_600)) is None
    detection = wake.process(constant(WAKE_SAMPLE, 1_600, timestamp=2.0))
    assert detection is not None
    assert (detection.word, detection.score, detection.timestamp) == ("hey_test", 0.8, 2.1)
    assert wake.words == ("hey_test",)


def test_the_fake_stt_follows_its_script_and_takes_its_time() -> None:
    clock = ManualClock(start=0.0)
    stt = FakeSpeechToText("one", EngineError("down"), "two", seconds=0.3, sleep=clock.advance)
    audio = constant(1, 16_000)
    assert stt.transcribe(audio, TranscribeOptions()).text == "one"
    with pytest.raises(EngineError):
        stt.transcribe(audio, TranscribeOptions())
    answers = [stt.transcribe(audio, TranscribeOptions(language="en")).text for _ in range(2)]
    assert answers == ["two", "two"]  # the last line repeats
    assert clock.now == pytest.approx(1.2)
    assert stt.heard == [audio] * 4 and stt.options[-1].language == "en"
    assert stt.transcribe(audio, TranscribeOptions()).duration == 1.0


def test_the_fake_voice_makes_a_fixed_length_of_audio() -> None:
    clock = ManualClock(start=0.0)
    tts = FakeTextToSpeech(audio_seconds=0.1, seconds=0.05, sleep=clock.advance)
    [chunk] = list(tts.synthesize("Hello.", SynthesisOptions(rate=1.5)))
    assert (chunk.rate, chunk.seconds) == (22_050, pytest.approx(0.1))
    assert clock.now == pytest.approx(0.05)
    assert tts.texts == ["Hello."] and tts.options[0].rate == 1.5
    tts.fail_with = EngineError("the voice broke")
    with pytest.raises(EngineError):
        list(tts.synthesize("Again.", SynthesisOptions()))


async def test_a_manual_async_clock_wakes_sleepers_when_advanced() -> None:
    clock = ManualAsyncClock(start=10.0)
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(clock())

    tasks = [asyncio.create_task(sleeper(s)) for s in (1.0, 3.0)]
    await asyncio.sleep(0)  # one turn of the loop: each task runs up to its sleep
    assert clock.sleeping == 2
    clock.advance(2.0)
    await tasks[0]
    assert woke == [12.0] and not tasks[1].done()
    clock.advance(1.0)
    await tasks[1]
    assert woke == [12.0, 13.0]
    assert clock.sleeps == [1.0, 3.0] and clock.sleeping == 0


async def test_a_manual_async_clock_can_be_advanced_from_a_worker_thread() -> None:
    clock = ManualAsyncClock(start=0.0)
    sleeping = asyncio.create_task(clock.sleep(0.5))
    await asyncio.sleep(0)  # one turn of the loop: the task runs up to its sleep
    assert clock.sleeping == 1
    await asyncio.to_thread(clock.advance, 0.5)  # a fake engine's `sleep` runs in a worker
    await sleeping
    assert clock() == 0.5


async def test_a_jumping_clock_moves_when_someone_sleeps() -> None:
    clock = ManualAsyncClock(start=0.0, jump=True)
    await clock.sleep(0.25)
    await clock.sleep(0.5)
    assert clock() == 0.75 and clock.sleeps == [0.25, 0.5]


def test_the_voice_benchmark_runs_the_pipeline_on_the_fakes(tmp_path: Path) -> None:
    from benchmarks.voice import main

    out = tmp_path / "fakes.json"
    assert main(["--fake-engines", "--repetitions", "2", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    for stage in ("stt_seconds", "tts_first_chunk_seconds", "speech_end_to_first_audio_seconds"):
        assert len(results[stage]) == 2 and all(value >= 0 for value in results[stage])
