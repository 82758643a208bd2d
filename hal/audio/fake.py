"""In-memory microphone and speaker that record what they were given.

Shared by the tests, the benchmarks and the CLI (``--fake-audio``): no sound card, no
files, deterministic; time passes through an injected ``sleep`` when pacing is asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field

from hal.audio.chunk import AudioChunk
from hal.audio.playback import (
    Playback,
    Sleep,
    StopSignal,
    close_source,
    next_or_stop,
    stoppable_sleep,
)
from hal.errors import DeviceUnavailable


class FakeMicrophone:
    """Hands out the given chunks, then ends (or, with ``hold_open``, waits for close).

    ``realtime`` sleeps each chunk's duration before handing it out (through ``sleep``
    when given, e.g. a fake clock's). ``fail_after`` raises ``DeviceUnavailable`` after
    that many chunks, as an unplugged microphone does.
    """

    def __init__(
        self,
        chunks: Iterable[AudioChunk],
        *,
        rate: int | None = None,
        name: str = "fake microphone",
        realtime: bool = False,
        sleep: Sleep | None = None,
        hold_open: bool = False,
        fail_after: int | None = None,
    ) -> None:
        self._chunks = list(chunks)
        self.name = name
        """Which microphone."""
        self.rate = rate or (self._chunks[0].rate if self._chunks else 16_000)
        """Sample rate of the chunks."""
        self.realtime = realtime
        """Pace chunks at their own duration."""
        self.hold_open = hold_open
        """After the last chunk, wait for ``close()`` instead of ending."""
        self.fail_after = fail_after
        """Chunks before a simulated unplug (None: never)."""
        self.delivered: list[AudioChunk] = []
        """Chunks handed out so far."""
        self.iterations = 0
        """Calls to ``chunks()``."""
        self.closed = False
        """Whether ``close()`` was called."""
        self._sleep = sleep
        self._closed = StopSignal()

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """The chunks, in order."""
        self.iterations += 1
        self._closed.bind()
        for chunk in self._chunks:
            if self.fail_after is not None and len(self.delivered) >= self.fail_after:
                raise DeviceUnavailable(f"{self.name} was unplugged")
            if self.realtime and not await stoppable_sleep(
                chunk.seconds, self._closed, self._sleep
            ):
                return
            if self._closed.is_set():
                return
            self.delivered.append(chunk)
            yield chunk
        if self.hold_open:
            await self._closed.wait()

    async def close(self) -> None:
        """End the stream."""
        self.closed = True
        self._closed.set()


@dataclass
class FakePlayback:
    """One ``play()`` call as the fake speaker saw it."""

    chunks: list[AudioChunk] = field(default_factory=list)
    """Chunks received, in order."""
    completed: bool | None = None
    """True: played to the end; False: stopped; None: still playing."""

    @property
    def audio(self) -> bytes:
        """The PCM received."""
        return b"".join(chunk.audio for chunk in self.chunks)

    @property
    def seconds(self) -> float:
        """Duration received."""
        return sum(chunk.seconds for chunk in self.chunks)


class FakeSpeaker:
    """Keeps every chunk and every ``play()`` call.

    With ``realtime``, each chunk takes its duration times ``speed`` to play, through
    ``sleep`` when given (a fake clock) or the event loop's clock, so barge-in can be
    tested; ``stop()`` ends the current playback at once, whatever the clock.
    """

    def __init__(
        self,
        *,
        name: str = "fake speaker",
        realtime: bool = False,
        speed: float = 1.0,
        sleep: Sleep | None = None,
        fail_with: Exception | None = None,
    ) -> None:
        self.name = name
        """Which speaker."""
        self.realtime = realtime
        """Take as long as the audio lasts (times ``speed``)."""
        self.speed = speed
        """Slow-down factor of real-time playback (0.5: twice as fast)."""
        self.fail_with = fail_with
        """Raised by ``play()`` (e.g. ``DeviceUnavailable``), to test error paths."""
        self.chunks: list[AudioChunk] = []
        """Every chunk ever received."""
        self.playbacks: list[FakePlayback] = []
        """Every ``play()`` call, in order."""
        self.stop_calls = 0
        """Calls to ``stop()``."""
        self.closed = False
        """Whether ``close()`` was called."""
        self._sleep = sleep
        self._stop = StopSignal()
        self._lock = asyncio.Lock()

    @property
    def playing(self) -> bool:
        """Whether a playback is in progress."""
        return bool(self.playbacks) and self.playbacks[-1].completed is None

    @property
    def audio(self) -> bytes:
        """All PCM received, every playback concatenated."""
        return b"".join(chunk.audio for chunk in self.chunks)

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        """Take ``chunks``; False if ``stop()`` cut the playback short."""
        async with self._lock:
            if self.fail_with is not None:
                raise self.fail_with
            self._stop.arm()
            playback = FakePlayback()
            self.playbacks.append(playback)
            iterator = aiter(chunks)
            while True:
                finished, chunk = await next_or_stop(iterator, self._stop)
                if not finished or self._stop.is_set():
                    break
                if chunk is None:
                    playback.completed = True
                    return True
                playback.chunks.append(chunk)
                self.chunks.append(chunk)
                if self.realtime and not await stoppable_sleep(
                    chunk.seconds * self.speed, self._stop, self._sleep
                ):
                    break
            playback.completed = False
            await close_source(chunks)
            return False

    def stop(self) -> None:
        """Cut the current playback short; safe from any thread, at any time."""
        self.stop_calls += 1
        self._stop.set()

    async def close(self) -> None:
        """Release nothing, but remember it was called."""
        self.closed = True
        self._stop.set()

    def records(self) -> list[Playback]:
        """The playbacks as positions in the audio received (like ``WavFileSpeaker``)."""
        out: list[Playback] = []
        position = 0.0
        for playback in self.playbacks:
            seconds = playback.seconds
            out.append(
                Playback(
                    position, position + seconds, len(playback.chunks), bool(playback.completed)
                )
            )
            position += seconds
        return out
