"""WAV files as microphone and speaker."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from hal.audio import AudioChunk, Microphone, Speaker
from hal.audio.convert import chunk_frames, float_to_pcm, resampled_length
from hal.audio.wavfile import WavFileMicrophone, WavFileSpeaker, read_wav, write_wav
from hal.errors import UnsupportedMedia
from tests.hal.pacing import HANG_GUARD_SECONDS, FakeClock, HeldSleep


def tone(
    rate: int, seconds: float, channels: int = 1, frequency: float = 440.0
) -> npt.NDArray[np.float32]:
    t = np.arange(round(rate * seconds)) / rate
    mono = (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


def write(path: Path, samples: npt.NDArray[np.float32], rate: int, width: int = 2) -> Path:
    write_wav(path, AudioChunk(float_to_pcm(samples, width), rate, width, samples.shape[1]))
    return path


async def collect(microphone: WavFileMicrophone) -> list[AudioChunk]:
    return [chunk async for chunk in microphone.chunks()]


async def source(chunks: list[AudioChunk]) -> AsyncIterator[AudioChunk]:
    for chunk in chunks:
        yield chunk


def test_wav_devices_satisfy_the_protocols(tmp_path: Path) -> None:
    microphone: Microphone = WavFileMicrophone(tmp_path / "in.wav")
    speaker: Speaker = WavFileSpeaker(tmp_path / "out.wav")
    assert microphone.rate == 16_000 and speaker.name.endswith("out.wav")


@pytest.mark.parametrize(
    ("rate", "channels", "width"), [(16_000, 1, 2), (44_100, 2, 2), (48_000, 2, 3), (8_000, 1, 1)]
)
async def test_microphone_converts_any_wav_to_16k_mono_chunks(
    tmp_path: Path, rate: int, channels: int, width: int
) -> None:
    path = write(tmp_path / "in.wav", tone(rate, 0.5, channels), rate, width)
    chunks = await collect(WavFileMicrophone(path, chunk_ms=20))
    assert all((c.rate, c.channels, c.width) == (16_000, 1, 2) for c in chunks)
    assert [c.frames for c in chunks[:-1]] == [320] * (len(chunks) - 1)
    assert sum(c.frames for c in chunks) == resampled_length(round(rate * 0.5), rate, 16_000)
    assert [c.timestamp for c in chunks[:3]] == [0.0, 0.02, 0.04]
    samples = np.concatenate([chunk_frames(c).reshape(-1) for c in chunks])
    assert np.max(np.abs(samples)) == pytest.approx(0.3, abs=0.01)


async def test_microphone_in_another_format_and_with_trailing_silence(tmp_path: Path) -> None:
    path = write(tmp_path / "in.wav", tone(16_000, 0.2), 16_000)
    microphone = WavFileMicrophone(
        path, rate=48_000, channels=2, chunk_ms=10, trailing_silence_seconds=0.3
    )
    chunks = await collect(microphone)
    assert (chunks[0].rate, chunks[0].channels) == (48_000, 2)
    assert sum(c.frames for c in chunks) == 48_000 // 2
    assert chunks[-1].audio == bytes(len(chunks[-1].audio))
    assert microphone.chunks_read == len(chunks) == 50


async def test_microphone_paces_in_real_time_with_an_injected_clock(tmp_path: Path) -> None:
    path = write(tmp_path / "in.wav", tone(16_000, 1.0), 16_000)
    clock = FakeClock()
    chunks = await collect(WavFileMicrophone(path, realtime=True, sleep=clock.sleep))
    assert clock.now == pytest.approx(1.0)
    assert len(chunks) == 50


async def test_a_slow_consumer_does_not_slow_the_pace_of_a_clocked_microphone(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "in.wav", tone(16_000, 1.0), 16_000)
    clock = FakeClock()
    microphone = WavFileMicrophone(path, realtime=True, sleep=clock.sleep, clock=clock)
    late = []
    async for chunk in microphone.chunks():
        late.append(clock.now - (chunk.timestamp + chunk.seconds))
        clock.now += 0.015  # the consumer works 15 ms on each 20 ms chunk
    # Each chunk comes once its last frame would have been captured, as from a sound
    # card: the microphone waits only what is left of the 20 ms, and never falls behind.
    assert late == pytest.approx([0.0] * 50, abs=1e-9)
    assert clock.sleeps[1:] == pytest.approx([0.005] * 49)


async def test_microphone_as_fast_as_possible(tmp_path: Path) -> None:
    path = write(tmp_path / "in.wav", tone(16_000, 5.0), 16_000)
    clock = FakeClock()
    chunks = await collect(WavFileMicrophone(path, sleep=clock.sleep))
    assert len(chunks) == 250
    assert clock.now == 0.0  # never waited


async def test_closing_the_microphone_ends_the_stream(tmp_path: Path) -> None:
    path = write(tmp_path / "in.wav", tone(16_000, 10.0), 16_000)
    microphone = WavFileMicrophone(path, realtime=True)
    received: list[AudioChunk] = []
    got_one = asyncio.Event()

    async def consume() -> None:
        async for chunk in microphone.chunks():
            received.append(chunk)
            got_one.set()

    task = asyncio.create_task(consume())
    await got_one.wait()  # the consumer waits for the second chunk now
    await microphone.close()
    await asyncio.wait_for(task, 5)  # the file lasts 10 s
    assert len(received) == 1  # the wait for the second chunk was cut short


async def test_stop_ends_the_microphone_too(tmp_path: Path) -> None:
    path = write(tmp_path / "in.wav", tone(16_000, 1.0), 16_000)
    microphone = WavFileMicrophone(path)
    received = []
    async for chunk in microphone.chunks():
        received.append(chunk)
        if len(received) == 3:
            microphone.stop()
    assert len(received) == 3


async def test_a_missing_or_broken_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="cannot read"):
        await collect(WavFileMicrophone(tmp_path / "missing.wav"))
    (tmp_path / "broken.wav").write_bytes(b"not a wav")
    with pytest.raises(UnsupportedMedia, match="not a WAV"):
        await collect(WavFileMicrophone(tmp_path / "broken.wav"))
    with pytest.raises(UnsupportedMedia):
        WavFileMicrophone(tmp_path / "x.wav", chunk_ms=0)


async def test_speaker_writes_what_it_plays_and_records_each_playback(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    speaker = WavFileSpeaker(path)
    first = [AudioChunk(float_to_pcm(tone(22_050, 0.1), 2), 22_050) for _ in range(3)]
    second = [AudioChunk(float_to_pcm(tone(22_050, 0.2), 2), 22_050)]
    assert await speaker.play(source(first)) is True
    assert await speaker.play(source(second)) is True
    await speaker.close()
    with wave.open(str(path)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (
            22_050,
            1,
            2,
        )
        assert reader.readframes(10**6) == b"".join(c.audio for c in first + second)
    spans = [(p.start_seconds, p.end_seconds, p.chunks, p.completed) for p in speaker.playbacks]
    assert [(round(a, 6), round(b, 6), n, done) for a, b, n, done in spans] == [
        (0.0, 0.3, 3, True),
        (0.3, 0.5, 1, True),
    ]


async def test_speaker_converts_chunks_to_its_format(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    speaker = WavFileSpeaker(path, rate=16_000)
    stereo = tone(48_000, 0.5, channels=2)
    await speaker.play(source([AudioChunk(float_to_pcm(stereo, 2), 48_000, 2, 2)]))
    await speaker.close()
    written = read_wav(path)
    assert (written.rate, written.channels, written.frames) == (16_000, 1, 8000)


async def test_the_file_is_valid_while_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    speaker = WavFileSpeaker(path)
    await speaker.play(source([AudioChunk(bytes(3200), 16_000)]))
    assert read_wav(path).frames == 1600  # header already rewritten, before close()
    await speaker.close()


async def test_stopping_the_speaker_mid_playback(tmp_path: Path) -> None:
    held = HeldSleep()
    speaker = WavFileSpeaker(tmp_path / "out.wav", realtime=True, sleep=held.sleep)
    chunks = [AudioChunk(float_to_pcm(tone(16_000, 30.0), 2), 16_000) for _ in range(3)]
    playing = asyncio.create_task(speaker.play(source(chunks)))
    await held.started.wait()  # the first chunk is written and playing
    speaker.stop()
    # The chunk being played never ends by itself: only a stop that cuts it returns.
    assert await asyncio.wait_for(playing, HANG_GUARD_SECONDS) is False
    assert held.sleeps == [30.0] and held.cancelled == 1
    await speaker.close()
    assert speaker.playbacks[0].completed is False
    assert speaker.playbacks[0].seconds == pytest.approx(30.0)  # the first chunk, no more


async def test_a_speaker_that_never_played_writes_an_empty_wav(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    await WavFileSpeaker(path).close()
    with wave.open(str(path)) as reader:
        assert reader.getnframes() == 0


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_write_and_read_wav_round_trip(tmp_path: Path, width: int) -> None:
    chunk = AudioChunk(float_to_pcm(tone(8000, 0.1, 2), width), 8000, width, 2)
    write_wav(tmp_path / "x.wav", chunk)
    back = read_wav(tmp_path / "x.wav", width=width)
    assert (back.rate, back.channels, back.width) == (8000, 2, width)
    assert back.audio == chunk.audio
