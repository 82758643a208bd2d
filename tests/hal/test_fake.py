"""The in-memory microphone and speaker, and the stop signal every speaker shares."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from hal.audio import AudioChunk, Microphone, Speaker
from hal.audio.fake import FakeMicrophone, FakeSpeaker
from hal.audio.playback import Playback, StopSignal, next_or_stop, race_stop, stoppable_sleep
from hal.errors import DeviceUnavailable
from tests.hal.pacing import HANG_GUARD_SECONDS, FakeClock, HeldSleep


def chunk(index: int, samples: int = 320) -> AudioChunk:
    return AudioChunk(bytes([index % 256]) * (2 * samples), 16_000, timestamp=index * 0.02)


async def source(chunks: list[AudioChunk]) -> AsyncIterator[AudioChunk]:
    for item in chunks:
        yield item


def test_fakes_satisfy_the_protocols() -> None:
    microphone: Microphone = FakeMicrophone([])
    speaker: Speaker = FakeSpeaker()
    assert microphone.rate == 16_000 and speaker.name == "fake speaker"


async def test_fake_microphone_hands_out_its_chunks_and_records_them() -> None:
    chunks = [chunk(i) for i in range(5)]
    microphone = FakeMicrophone(chunks)
    received = [item async for item in microphone.chunks()]
    assert received == chunks == microphone.delivered
    assert microphone.iterations == 1


async def test_fake_microphone_paces_chunks_with_an_injected_clock() -> None:
    clock = FakeClock()
    microphone = FakeMicrophone([chunk(i) for i in range(4)], realtime=True, sleep=clock.sleep)
    async for _ in microphone.chunks():
        pass
    assert clock.now == pytest.approx(0.08)


async def test_fake_microphone_held_open_ends_on_close() -> None:
    microphone = FakeMicrophone([chunk(0)], hold_open=True)
    received: list[AudioChunk] = []
    got_one = asyncio.Event()

    async def consume() -> None:
        async for item in microphone.chunks():
            received.append(item)
            got_one.set()

    task = asyncio.create_task(consume())
    await got_one.wait()
    # The consumer asked for the next chunk before this test resumed: without hold_open
    # the stream would have ended and the task finished by now.
    assert not task.done() and len(received) == 1
    await microphone.close()
    await asyncio.wait_for(task, 1.0)
    assert microphone.closed


async def test_fake_microphone_can_be_unplugged() -> None:
    microphone = FakeMicrophone([chunk(i) for i in range(5)], fail_after=2)
    received = []
    with pytest.raises(DeviceUnavailable, match="unplugged"):
        async for item in microphone.chunks():
            received.append(item)
    assert len(received) == 2


async def test_fake_speaker_keeps_every_chunk_and_every_playback() -> None:
    speaker = FakeSpeaker()
    first, second = [chunk(i) for i in range(3)], [chunk(i) for i in range(3, 5)]
    assert await speaker.play(source(first)) is True
    assert await speaker.play(source(second)) is True
    assert speaker.chunks == first + second
    assert [p.chunks for p in speaker.playbacks] == [first, second]
    assert [p.completed for p in speaker.playbacks] == [True, True]
    assert speaker.audio == b"".join(c.audio for c in first + second)
    assert speaker.records() == [
        Playback(0.0, pytest.approx(0.06), 3, True),  # type: ignore[arg-type]
        Playback(pytest.approx(0.06), pytest.approx(0.1), 2, True),  # type: ignore[arg-type]
    ]


async def test_fake_speaker_simulates_slow_playback_with_an_injected_sleep() -> None:
    clock = FakeClock()
    speaker = FakeSpeaker(realtime=True, speed=2.0, sleep=clock.sleep)
    assert await speaker.play(source([chunk(i) for i in range(5)]))
    assert clock.now == pytest.approx(0.2)  # 100 ms of audio, twice as slow


async def test_stop_cuts_a_real_time_playback_at_once() -> None:
    held = HeldSleep()
    speaker = FakeSpeaker(realtime=True, sleep=held.sleep)
    minute = 60 * 16_000
    playing = asyncio.create_task(speaker.play(source([chunk(i, minute) for i in range(5)])))
    await held.started.wait()
    assert speaker.playing
    speaker.stop()
    # The first chunk never finishes playing by itself: only a stop that cuts it returns.
    assert await asyncio.wait_for(playing, HANG_GUARD_SECONDS) is False
    assert held.sleeps == [60.0] and held.cancelled == 1
    assert speaker.playbacks[-1].completed is False
    assert len(speaker.playbacks[-1].chunks) == 1
    assert speaker.stop_calls == 1


async def test_stop_while_waiting_for_the_next_chunk() -> None:
    speaker = FakeSpeaker()
    closed = asyncio.Event()

    waiting = asyncio.Event()

    async def slow_tts() -> AsyncIterator[AudioChunk]:
        try:
            yield chunk(0)
            waiting.set()
            await asyncio.Event().wait()  # the next sentence never comes
            yield chunk(1)
        finally:
            closed.set()

    playing = asyncio.create_task(speaker.play(slow_tts()))
    await waiting.wait()  # the speaker has the first chunk and waits for the next
    speaker.stop()
    assert await asyncio.wait_for(playing, HANG_GUARD_SECONDS) is False
    assert speaker.chunks == [chunk(0)]
    assert closed.is_set()  # the source was closed, not left hanging


async def test_stop_from_another_thread() -> None:
    held = HeldSleep()
    speaker = FakeSpeaker(realtime=True, sleep=held.sleep)
    playing = asyncio.create_task(speaker.play(source([chunk(0, 160_000)])))
    await held.started.wait()
    stopper = threading.Thread(target=speaker.stop)
    stopper.start()
    assert await asyncio.wait_for(playing, HANG_GUARD_SECONDS) is False
    stopper.join()


async def test_stop_between_playbacks_does_not_cancel_the_next_one() -> None:
    speaker = FakeSpeaker()
    speaker.stop()
    assert await speaker.play(source([chunk(0)])) is True


async def test_an_empty_playback_completes() -> None:
    speaker = FakeSpeaker()
    assert await speaker.play(source([])) is True
    assert speaker.playbacks[0].chunks == []


async def test_fake_speaker_failure_is_raised() -> None:
    speaker = FakeSpeaker(fail_with=DeviceUnavailable("speaker gone"))
    with pytest.raises(DeviceUnavailable):
        await speaker.play(source([chunk(0)]))
    await speaker.close()
    assert speaker.closed


async def test_race_stop_returns_the_result_or_gives_up() -> None:
    stop = StopSignal()
    stop.arm()
    assert await race_stop(asyncio.sleep(0, result=5), stop) == (True, 5)
    stop.set()
    assert await race_stop(asyncio.sleep(10), stop) == (False, None)


async def test_race_stop_passes_errors_on() -> None:
    stop = StopSignal()
    stop.arm()

    async def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await race_stop(broken(), stop)


async def test_next_or_stop_and_stoppable_sleep() -> None:
    stop = StopSignal()
    stop.arm()
    iterator = aiter(source([chunk(0)]))
    assert await next_or_stop(iterator, stop) == (True, chunk(0))
    assert await next_or_stop(iterator, stop) == (True, None)
    clock = FakeClock()
    assert await stoppable_sleep(1.5, stop, clock.sleep) is True
    assert clock.now == 1.5
    held = HeldSleep()
    sleeping = asyncio.ensure_future(stoppable_sleep(5.0, stop, held.sleep))
    await held.started.wait()
    stop.set()
    # True only after sleeping it all; an injected sleep is cut like the real one.
    assert await asyncio.wait_for(sleeping, HANG_GUARD_SECONDS) is False
    assert held.cancelled == 1
    stop.arm()
    asyncio.get_running_loop().call_soon(stop.set)
    assert await stoppable_sleep(5.0, stop) is False  # the event loop's clock is cut too
