"""The output volume and the speaker wrapper that applies it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np
import pytest

from hal.audio import AudioChunk, Speaker
from hal.audio.fake import FakeSpeaker
from hal.audio.volume import OutputVolume, VolumeSpeaker, scale_chunk


def pcm(*samples: int, width: int = 2) -> AudioChunk:
    dtype = {1: "<i1", 2: "<i2", 4: "<i4"}[width]
    return AudioChunk(np.array(samples, dtype=dtype).tobytes(), 16_000, width=width)


def values(chunk: AudioChunk) -> list[int]:
    dtype = {1: "<i1", 2: "<i2", 4: "<i4"}[chunk.width]
    return [int(v) for v in np.frombuffer(chunk.audio, dtype=dtype)]


async def source(chunks: list[AudioChunk]) -> AsyncIterator[AudioChunk]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize(
    ("samples", "gain", "expected"),
    [
        ((1000, -1000, 0), 1.0, [1000, -1000, 0]),
        ((1000, -1000, 0), 0.5, [500, -500, 0]),
        ((1000, -1000, 7), 0.0, [0, 0, 0]),
        ((3, -3), 0.5, [2, -2]),  # rounded half to even, not truncated towards zero
        ((20000, -20000, 100), 2.0, [32767, -32768, 200]),  # clipped, not wrapped around
        ((32767, -32768), 1.5625, [32767, -32768]),
        ((16000,), 1.5625, [25000]),
    ],
)
def test_scaling_multiplies_and_clips_int16_samples(
    samples: tuple[int, ...], gain: float, expected: list[int]
) -> None:
    assert values(scale_chunk(pcm(*samples), gain)) == expected


@pytest.mark.parametrize(
    ("width", "samples", "gain", "expected"),
    [
        (1, (100, -100, 10), 2.0, [127, -128, 20]),
        (4, (2_000_000_000, -2_000_000_000), 2.0, [2**31 - 1, -(2**31)]),
    ],
)
def test_scaling_clips_other_sample_widths_to_their_range(
    width: int, samples: tuple[int, ...], gain: float, expected: list[int]
) -> None:
    assert values(scale_chunk(pcm(*samples, width=width), gain)) == expected


def test_scaling_keeps_the_format_and_timestamp() -> None:
    audio = np.array([100, 200], dtype="<i2").tobytes()
    chunk = AudioChunk(audio, 22_050, channels=2, timestamp=1.5)
    scaled = scale_chunk(chunk, 0.5)
    assert (scaled.rate, scaled.width, scaled.channels, scaled.timestamp) == (22_050, 2, 2, 1.5)
    assert scale_chunk(chunk, 1.0) is chunk


def test_scaling_refuses_an_unknown_width() -> None:
    with pytest.raises(ValueError, match="width 3"):
        scale_chunk(AudioChunk(b"\x00" * 6, 16_000, width=3), 0.5)


@pytest.mark.parametrize(
    ("start", "action", "expected"),
    [
        (0.8, "up", 0.9),
        (0.9, "up", 1.0),
        (1.0, "up", 1.0),
        (0.3, "down", 0.2),
        (0.1, "down", 0.0),
        (0.0, "down", 0.0),
        (0.05, "down", 0.0),
    ],
)
def test_steps_stay_within_the_range(start: float, action: str, expected: float) -> None:
    volume = OutputVolume(start)
    assert getattr(volume, action)() == expected == volume.level


@pytest.mark.parametrize(
    ("level", "expected"), [(-0.5, 0.0), (0.0, 0.0), (0.456, 0.46), (1.0, 1.0), (7.0, 1.0)]
)
def test_set_clamps_and_rounds(level: float, expected: float) -> None:
    assert OutputVolume().set(level) == expected


def test_ten_steps_up_from_silence_reach_exactly_the_top() -> None:
    volume = OutputVolume(0.0)
    levels = [volume.up() for _ in range(10)]
    assert levels == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


@pytest.mark.parametrize(("level", "gain"), [(0.0, 0.0), (0.4, 0.25), (0.8, 1.0), (1.0, 1.5625)])
def test_gain_follows_a_square_curve_with_unity_at_the_default_level(
    level: float, gain: float
) -> None:
    assert OutputVolume(level).gain == pytest.approx(gain)


def test_the_volume_is_safe_to_change_from_many_threads() -> None:
    volume = OutputVolume(0.5, step=0.01)

    def nudge() -> None:
        for _ in range(200):
            volume.up()
            volume.down()

    threads = [threading.Thread(target=nudge) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert volume.level == 0.5


async def test_the_wrapper_plays_scaled_audio_through_the_speaker() -> None:
    inner = FakeSpeaker()
    speaker: Speaker = VolumeSpeaker(inner, OutputVolume(0.4))
    assert await speaker.play(source([pcm(4000, -4000), pcm(20000)]))
    assert [values(c) for c in inner.chunks] == [[1000, -1000], [5000]]
    assert speaker.name == inner.name


async def test_a_change_is_heard_from_the_next_chunk() -> None:
    inner = FakeSpeaker()
    volume = OutputVolume(0.8)

    async def changing() -> AsyncIterator[AudioChunk]:
        yield pcm(1000)
        volume.set(0.4)
        yield pcm(1000)

    await VolumeSpeaker(inner, volume).play(changing())
    assert [values(c) for c in inner.chunks] == [[1000], [250]]


async def test_stop_and_close_reach_the_wrapped_speaker() -> None:
    inner = FakeSpeaker()
    speaker = VolumeSpeaker(inner, OutputVolume())
    started = asyncio.Event()

    async def endless() -> AsyncIterator[AudioChunk]:
        while True:
            started.set()
            yield pcm(1)
            await asyncio.sleep(0)

    playing = asyncio.create_task(speaker.play(endless()))
    await started.wait()
    speaker.stop()
    assert await asyncio.wait_for(playing, 5) is False
    await speaker.close()
    assert inner.stop_calls >= 1 and inner.closed


async def test_the_volume_knows_whether_a_speaker_plays_at_it() -> None:
    volume = OutputVolume()
    assert not volume.in_use
    first = VolumeSpeaker(FakeSpeaker(), volume)
    second = VolumeSpeaker(FakeSpeaker(), volume)
    await first.close()
    assert volume.in_use
    await second.close()
    await second.close()
    assert not volume.in_use
