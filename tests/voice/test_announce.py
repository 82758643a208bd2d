"""Spoken alerts: chime and speech on the fake speaker, repeats, stop, queueing, the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import InvalidInput
from assistant.settings import Settings
from assistant.voice.announce import (
    QUIET_STATES,
    Announcer,
    chime,
    pieces,
    starts_listening,
)
from assistant.voice.engines import held
from assistant.voice.events import ListenTrigger, PipelineEvent, SttStart, WakeWordEnd
from assistant.voice.options import AlertOptions, PipelineOptions
from assistant.voice.pipeline import VoicePipeline
from hal.audio import AudioChunk
from hal.audio.fake import FakeSpeaker
from runtime.errors import EngineError
from runtime.stt.fake import FakeSpeechToText
from runtime.tts.base import SynthesisOptions
from runtime.tts.fake import FakeTextToSpeech
from runtime.vad.fake import FakeVoiceActivityDetector
from runtime.wake.fake import FakeWakeWordDetector
from tests.hal.pacing import HANG_GUARD_SECONDS, FakeClock, HeldSleep
from tests.voice.test_pipeline import (
    WAKE,
    FakeChat,
    Recorder,
    Step,
    microphone,
    scripted,
    silence,
    wake,
)

SPOKEN_SAMPLE = 1
"""The fake voice's constant sample: what the speech part of an alert is made of."""


@dataclass(frozen=True)
class Fired:
    """The timer service's fired event, as the timers branch defines it."""

    kind: str
    id: str
    user_id: str
    name: str | None
    spoken: str


TEA = Fired("timer", "t-1", "ada", "tea", "Your tea timer is done.")
CALL = Fired("reminder", "r-1", "ada", None, "Reminder: call Mum.")


def voice() -> FakeTextToSpeech:
    return FakeTextToSpeech(sample_rate=16_000, audio_seconds=0.2)


def announcer(
    speaker: FakeSpeaker,
    tts: FakeTextToSpeech | None = None,
    options: AlertOptions | None = None,
    **kwargs: object,
) -> Announcer:
    return Announcer(
        held(tts or voice()),
        speaker,
        options or AlertOptions(repeats=1, pause_seconds=0.0),
        **kwargs,  # type: ignore[arg-type]
    )


def samples(audio: bytes) -> np.ndarray:
    return np.frombuffer(audio, dtype="<i2")


async def until(condition: Callable[[], bool], turns: int = 10_000) -> None:
    """Let the event loop run until ``condition`` holds (fails after ``turns`` turns)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


# The chime --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "frames", "peak"),
    [(16_000, 8_000, 16_383), (22_050, 11_025, 16_383), (48_000, 24_000, 16_383)],
)
def test_the_chime_is_half_a_second_of_two_tones_peaking_at_minus_6_db(
    rate: int, frames: int, peak: int
) -> None:
    sound = chime(rate)
    values = samples(sound.audio)
    assert (sound.rate, sound.width, sound.channels, sound.frames) == (rate, 2, 1, frames)
    assert int(np.abs(values.astype(np.int32)).max()) == peak
    assert values[0] == 0 and abs(int(values[-1])) < 200  # faded in and out: no click


def test_the_chime_is_deterministic_and_has_two_tones() -> None:
    assert chime(16_000) == chime(16_000)
    values = samples(chime(16_000).audio).astype(np.float64)
    first, second = values[:2_560], values[2_560:]

    def pitch(part: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(part))
        return float(np.argmax(spectrum) * 16_000 / len(part))

    assert pitch(first) == pytest.approx(784, abs=10)
    assert pitch(second) == pytest.approx(1046.5, abs=10)


@pytest.mark.parametrize(
    ("frames", "seconds", "sizes"),
    [(1_600, 0.05, [800, 800]), (1_700, 0.05, [800, 800, 100]), (10, 0.05, [10])],
)
def test_pieces_cut_audio_into_short_chunks(frames: int, seconds: float, sizes: list[int]) -> None:
    audio = AudioChunk(np.arange(frames, dtype="<i2").tobytes(), 16_000, timestamp=1.0)
    cut = pieces(audio, seconds)
    assert [c.frames for c in cut] == sizes
    assert b"".join(c.audio for c in cut) == audio.audio
    assert cut[-1].timestamp == pytest.approx(1.0 + sum(sizes[:-1]) / 16_000)


# Alerts ------------------------------------------------------------------------------


async def test_an_alert_plays_the_chime_then_the_spoken_text() -> None:
    speaker, tts = FakeSpeaker(), voice()
    alerts = announcer(speaker, tts)
    await alerts.announce(TEA)
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)

    assert tts.texts == ["Your tea timer is done."]
    [playback] = speaker.playbacks
    assert playback.completed
    bell = chime(16_000).audio
    assert playback.audio[: len(bell)] == bell
    assert set(samples(playback.audio[len(bell) :]).tolist()) == {SPOKEN_SAMPLE}
    assert playback.seconds == pytest.approx(0.5 + 0.2)
    assert max(c.seconds for c in playback.chunks) <= 0.05
    assert alerts.played == [(TEA, 1)] and alerts.sounding is None


async def test_the_alert_repeats_with_a_pause_and_speaks_once() -> None:
    clock = FakeClock()
    speaker, tts = FakeSpeaker(), voice()
    alerts = announcer(speaker, tts, AlertOptions(repeats=3, pause_seconds=2.0), sleep=clock.sleep)
    await alerts.announce(TEA)
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)

    assert len(speaker.playbacks) == 3
    assert len({p.audio for p in speaker.playbacks}) == 1
    assert clock.sleeps == [2.0, 2.0]
    assert tts.texts == ["Your tea timer is done."]  # synthesised once, played three times
    assert alerts.played == [(TEA, 3)]


async def test_the_voice_options_are_read_for_each_alert() -> None:
    tts = voice()

    async def slow() -> SynthesisOptions:
        return SynthesisOptions(rate=0.8)

    alerts = announcer(FakeSpeaker(), tts, voice=slow)
    await alerts.announce(TEA)
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    assert [o.rate for o in tts.options] == [0.8]


async def test_stop_ends_the_alert_within_one_chunk_and_skips_the_repeats() -> None:
    held_sleep = HeldSleep()
    speaker = FakeSpeaker(realtime=True, sleep=held_sleep.sleep)
    alerts = announcer(speaker, options=AlertOptions(repeats=3, pause_seconds=0.0))
    assert not alerts.stop()  # nothing sounds yet
    await alerts.announce(TEA)
    await asyncio.wait_for(held_sleep.started.wait(), HANG_GUARD_SECONDS)
    assert alerts.sounding == TEA

    assert alerts.stop()
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    [playback] = speaker.playbacks
    assert playback.completed is False
    assert len(playback.chunks) == 1
    assert alerts.played == [(TEA, 1)] and alerts.sounding is None


async def test_two_alerts_queue_one_after_the_other() -> None:
    held_sleep = HeldSleep()
    speaker, tts = FakeSpeaker(realtime=True, sleep=held_sleep.sleep), voice()
    alerts = announcer(speaker, tts)
    await alerts.announce(TEA)
    await alerts.announce(CALL)
    await asyncio.wait_for(held_sleep.started.wait(), HANG_GUARD_SECONDS)
    assert alerts.sounding == TEA and alerts.pending == 1

    alerts.stop()  # stops the tea timer only: the reminder still plays
    await until(lambda: len(held_sleep.sleeps) == 2)  # its first piece is playing
    assert alerts.sounding == CALL and alerts.pending == 0
    alerts.stop()
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)

    assert tts.texts == ["Your tea timer is done.", "Reminder: call Mum."]
    assert [(p.completed, len(p.chunks)) for p in speaker.playbacks] == [(False, 1), (False, 1)]
    assert alerts.played == [(TEA, 1), (CALL, 1)]


async def test_two_alerts_played_to_the_end_do_not_overlap() -> None:
    speaker = FakeSpeaker()
    alerts = announcer(speaker, options=AlertOptions(repeats=2, pause_seconds=0.0))
    await asyncio.gather(alerts.announce(TEA), alerts.announce(CALL))
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    assert [fired for fired, _ in alerts.played] == [TEA, CALL]
    assert len(speaker.playbacks) == 4 and all(p.completed for p in speaker.playbacks)


async def test_an_alert_waits_while_the_loop_is_busy() -> None:
    clock = FakeClock()
    busy = True
    speaker = FakeSpeaker()
    alerts = announcer(speaker, idle=lambda: not busy, sleep=clock.sleep)
    await alerts.announce(TEA)
    await until(lambda: len(clock.sleeps) >= 5)
    assert speaker.playbacks == [] and alerts.played == []
    busy = False
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    assert alerts.played == [(TEA, 1)]
    assert set(clock.sleeps) == {AlertOptions().poll_seconds}


async def test_an_alert_gives_way_when_the_loop_gets_busy() -> None:
    checks = 0

    def idle() -> bool:
        nonlocal checks
        checks += 1
        return checks <= 3  # busy from the third piece on

    speaker = FakeSpeaker()
    alerts = announcer(speaker, options=AlertOptions(repeats=3, pause_seconds=0.0), idle=idle)
    await alerts.announce(TEA)
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    [playback] = speaker.playbacks
    assert len(playback.chunks) == 2
    assert alerts.played == [(TEA, 1)]


async def test_only_the_loops_user_is_alerted() -> None:
    speaker = FakeSpeaker()
    alerts = announcer(speaker, user_id="grace")
    await alerts.announce(TEA)
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    assert speaker.playbacks == [] and alerts.played == []


async def test_a_broken_voice_still_chimes() -> None:
    tts = voice()
    tts.fail_with = EngineError("the voice broke")
    speaker = FakeSpeaker()
    alerts = announcer(speaker, tts)
    await alerts.announce(TEA)
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    [playback] = speaker.playbacks
    assert playback.audio == chime(22_050).audio


async def test_close_drops_queued_alerts_and_stops_the_one_sounding() -> None:
    held_sleep = HeldSleep()
    speaker = FakeSpeaker(realtime=True, sleep=held_sleep.sleep)
    alerts = announcer(speaker)
    await alerts.announce(TEA)
    await alerts.announce(CALL)
    await asyncio.wait_for(held_sleep.started.wait(), HANG_GUARD_SECONDS)
    await asyncio.wait_for(alerts.close(), HANG_GUARD_SECONDS)
    assert [fired for fired, _ in alerts.played] == [TEA]
    await alerts.announce(CALL)  # closed: ignored
    assert alerts.pending == 0


# The voice loop stops it ------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "stops"),
    [
        (WakeWordEnd(run_id="r", timestamp=0.0, word="hey", score=0.9), True),
        (WakeWordEnd(run_id="r", timestamp=0.0, word=None, score=None), False),
        (
            SttStart(run_id="r", timestamp=0.0, trigger=ListenTrigger.PUSH_TO_TALK, language=None),
            True,
        ),
        (
            SttStart(run_id="r", timestamp=0.0, trigger=ListenTrigger.FOLLOW_UP, language=None),
            False,
        ),
    ],
)
def test_what_counts_as_someone_wanting_to_talk(event: PipelineEvent, stops: bool) -> None:
    assert starts_listening(event) is stops


async def test_the_event_hook_stops_the_alert_and_passes_events_on() -> None:
    held_sleep = HeldSleep()
    alerts = announcer(FakeSpeaker(realtime=True, sleep=held_sleep.sleep))
    seen: list[PipelineEvent] = []
    hook = alerts.hearing(seen.append)
    await alerts.announce(TEA)
    await asyncio.wait_for(held_sleep.started.wait(), HANG_GUARD_SECONDS)
    wake_word = WakeWordEnd(run_id="r", timestamp=0.0, word="hey", score=0.9)
    await hook(wake_word)  # type: ignore[misc]
    await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)
    assert seen == [wake_word] and alerts.played == [(TEA, 1)]


async def test_the_wake_word_in_a_running_loop_stops_the_alert() -> None:
    held_sleep = HeldSleep()
    speaker = FakeSpeaker(realtime=True, sleep=held_sleep.sleep)
    recorder = Recorder()
    pipeline: VoicePipeline | None = None

    def idle() -> bool:
        return pipeline is not None and pipeline.state in QUIET_STATES

    alerts = announcer(speaker, options=AlertOptions(repeats=3, pause_seconds=0.0), idle=idle)
    pipeline = VoicePipeline(
        vad=held(FakeVoiceActivityDetector(frame_samples=800)),
        stt=held(FakeSpeechToText("stop")),
        tts=held(voice()),
        chat=FakeChat(scripted("")),
        speaker=speaker,
        wake=held(FakeWakeWordDetector(word="hey_test", marker=WAKE)),  # type: ignore[arg-type]
        on_event=alerts.hearing(recorder),
        options=PipelineOptions(follow_up_seconds=0),
    )

    async def alert_sounding() -> None:
        await alerts.announce(TEA)
        await asyncio.wait_for(held_sleep.started.wait(), HANG_GUARD_SECONDS)
        assert alerts.sounding == TEA

    async def alert_stopped() -> None:
        await asyncio.wait_for(alerts.wait(), HANG_GUARD_SECONDS)

    script: list[Step] = [
        *silence(2),
        alert_sounding,
        *silence(2),
        *wake(),
        alert_stopped,
        *silence(2),
    ]
    await asyncio.wait_for(pipeline.run(microphone(script)), HANG_GUARD_SECONDS)

    assert alerts.played == [(TEA, 1)]
    [playback] = speaker.playbacks
    assert playback.completed is False
    assert any(isinstance(e, WakeWordEnd) and e.word == "hey_test" for e in recorder.events)


# Settings ---------------------------------------------------------------------------


def test_alert_options_come_from_the_voice_settings(tmp_path: Path) -> None:
    settings = Settings.load(
        data_dir=tmp_path, voice={"alert_repeats": 5, "alert_pause_seconds": 1.5}
    )
    assert settings.voice.alert_options() == AlertOptions(repeats=5, pause_seconds=1.5)
    assert Settings.load(data_dir=tmp_path).voice.alert_options() == AlertOptions()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"repeats": 0}, "repeats"),
        ({"pause_seconds": -1.0}, "pause_seconds"),
        ({"poll_seconds": 0.0}, "poll_seconds"),
    ],
)
def test_bad_alert_options(values: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        AlertOptions(**values)  # type: ignore[arg-type]
    assert raised.value.field == field
