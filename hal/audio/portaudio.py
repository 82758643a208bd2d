"""Sound cards through PortAudio (the ``sounddevice`` package, imported lazily).

Capture and playback run in PortAudio's callback thread; chunks cross to asyncio through
a bounded buffer. The microphone's buffer drops the oldest chunk when the consumer falls
behind (counted in ``dropped_chunks``) so a stalled consumer resumes with fresh audio
rather than seconds-old audio; the speaker's buffer applies back-pressure instead.

A device is opened at the rate the caller wants when it supports it, otherwise at its
default rate, and the audio is resampled in between (``convert.Resampler``), so the
microphone always yields the requested format (16 kHz mono 16-bit by default).

An unplugged device, a PortAudio error, or a stream whose callbacks stop arriving for
``stall_timeout_seconds`` raises ``DeviceUnavailable`` from ``chunks()``/``play()``;
nothing waits forever, and closing never blocks the event loop (a PortAudio call that
hangs on a vanished device is left to its thread after a timeout).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hal.audio.chunk import AudioChunk
from hal.audio.convert import FAST_QUALITY, ChunkConverter
from hal.audio.playback import StopSignal, close_source, next_or_stop, race_stop
from hal.errors import DeviceUnavailable

log = logging.getLogger(__name__)

Direction = Literal["input", "output"]
DeviceSpec = str | int | None
"""A device by index, by (part of) its name, case-insensitive, or None for the default."""

CLOSE_TIMEOUT_SECONDS = 2.0
"""Default longest wait for PortAudio to stop a stream before leaving it to its thread."""


def load_sounddevice() -> Any:
    """The ``sounddevice`` module, or ``DeviceUnavailable`` saying what to install."""
    try:
        import sounddevice
    except OSError as exc:  # the package is there, libportaudio is not
        raise DeviceUnavailable(
            "PortAudio is not installed; install it with: sudo apt-get install libportaudio2"
        ) from exc
    except ImportError as exc:
        raise DeviceUnavailable(
            "the sounddevice package is missing; install it with:"
            " pip install 'edge-assistant[audio]'"
        ) from exc
    return sounddevice


@dataclass(frozen=True)
class AudioDevice:
    """A sound device as PortAudio reports it."""

    index: int
    """PortAudio device index."""
    name: str
    """Device name (ALSA: card and PCM, or a name from ``.asoundrc``)."""
    host_api: str
    """Audio system: ALSA, JACK, OSS, PulseAudio..."""
    input_channels: int
    """Most capture channels (0: not a microphone)."""
    output_channels: int
    """Most playback channels (0: not a speaker)."""
    default_rate: int
    """The device's preferred sample rate."""
    is_default_input: bool = False
    """The system's default microphone."""
    is_default_output: bool = False
    """The system's default speaker."""

    def channels(self, direction: Direction) -> int:
        """Channels in ``direction``."""
        return self.input_channels if direction == "input" else self.output_channels


def devices_from(
    raw: Sequence[Mapping[str, Any]],
    host_apis: Sequence[Mapping[str, Any]],
    default_input: int,
    default_output: int,
) -> list[AudioDevice]:
    """Typed devices from ``sounddevice.query_devices()``/``query_hostapis()`` records."""
    names = [str(api.get("name", "?")) for api in host_apis]
    out = []
    for position, device in enumerate(raw):
        index = int(device.get("index", position))
        api = int(device.get("hostapi", 0))
        out.append(
            AudioDevice(
                index=index,
                name=str(device["name"]),
                host_api=names[api] if 0 <= api < len(names) else "?",
                input_channels=int(device.get("max_input_channels", 0)),
                output_channels=int(device.get("max_output_channels", 0)),
                default_rate=round(float(device.get("default_samplerate", 0) or 0)),
                is_default_input=index == default_input,
                is_default_output=index == default_output,
            )
        )
    return out


def list_devices(module: Any = None) -> list[AudioDevice]:
    """Every device PortAudio sees (``DeviceUnavailable`` if PortAudio is missing)."""
    sd = module or load_sounddevice()
    try:
        raw = list(sd.query_devices())
        apis = list(sd.query_hostapis())
        default_input, default_output = _defaults(sd)
    except sd.PortAudioError as exc:
        raise DeviceUnavailable(f"PortAudio cannot list devices: {exc}") from exc
    return devices_from(raw, apis, default_input, default_output)


def _defaults(sd: Any) -> tuple[int, int]:
    pair = sd.default.device
    try:
        default_input, default_output = (int(pair[0]), int(pair[1]))
    except (TypeError, ValueError, IndexError):
        default_input = default_output = -1
    return default_input, default_output


def describe(devices: Sequence[AudioDevice], direction: Direction) -> str:
    """``0 'USB Mic', 3 'default'``: the devices usable in ``direction``, for messages."""
    usable = [f"{d.index} {d.name!r}" for d in devices if d.channels(direction) > 0]
    return ", ".join(usable) if usable else "none"


def select_device(
    devices: Sequence[AudioDevice], spec: DeviceSpec, direction: Direction
) -> AudioDevice:
    """The device ``spec`` names for ``direction``.

    None: the system default (else the first usable device); an int or a string of
    digits: that index; any other string: an exact name, else the first name containing
    it (case-insensitive). ``DeviceUnavailable`` lists the usable devices otherwise.
    """
    kind = "microphone" if direction == "input" else "speaker"
    usable = [d for d in devices if d.channels(direction) > 0]
    if not usable:
        raise DeviceUnavailable(f"no {kind} found (PortAudio sees no {direction} device)")
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        for device in usable:
            if device.is_default_input if direction == "input" else device.is_default_output:
                return device
        return usable[0]
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        for device in usable:
            if device.index == index:
                return device
        raise DeviceUnavailable(
            f"no {kind} with index {index}; {direction} devices: {describe(devices, direction)}"
        )
    wanted = spec.strip().casefold()
    exact = [d for d in usable if d.name.casefold() == wanted]
    partial = [d for d in usable if wanted in d.name.casefold()]
    if exact or partial:
        return (exact or partial)[0]
    raise DeviceUnavailable(
        f"no {kind} matches {spec!r}; {direction} devices: {describe(devices, direction)}"
    )


def negotiate_format(
    rate: int,
    channels: int,
    device: AudioDevice,
    direction: Direction,
    supports: Callable[[int, int], bool],
) -> tuple[int, int]:
    """``(rate, channels)`` to open ``device`` with: the wanted ones if ``supports`` says
    so, else the device's default rate and/or its own channel count (then convert)."""
    most = max(1, device.channels(direction))
    rates = list(dict.fromkeys([rate, device.default_rate, 48_000, 44_100]))
    counts = list(dict.fromkeys([min(channels, most), min(2, most), most]))
    for candidate_rate in rates:
        if candidate_rate <= 0:
            continue
        for count in counts:
            if supports(candidate_rate, count):
                return candidate_rate, count
    raise DeviceUnavailable(
        f"{device.name!r} supports neither {rate} Hz nor its default"
        f" {device.default_rate} Hz with {channels} channel(s)"
    )


def _supports(sd: Any, direction: Direction, index: int) -> Callable[[int, int], bool]:
    check = sd.check_input_settings if direction == "input" else sd.check_output_settings

    def supports(rate: int, channels: int) -> bool:
        try:
            check(device=index, channels=channels, dtype="int16", samplerate=rate)
        except (sd.PortAudioError, ValueError):
            return False
        return True

    return supports


def _open_error(kind: str, device: AudioDevice, exc: Exception) -> DeviceUnavailable:
    return DeviceUnavailable(f"cannot open {kind} {device.name!r}: {exc}")


async def _shutdown(stream: Any, what: str, timeout_seconds: float) -> None:
    """Abort and close ``stream`` off the event loop; give up waiting after a timeout."""

    def stop() -> None:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)

    try:
        await asyncio.wait_for(asyncio.to_thread(stop), timeout_seconds)
    except TimeoutError:
        log.warning("%s did not close within %g s; leaving it", what, timeout_seconds)
    except Exception:  # a vanished device may fail to close; it is gone either way
        log.warning("%s failed to close", what, exc_info=True)


class SoundDeviceMicrophone:
    """A microphone through PortAudio, yielding ``rate``/``channels`` 16-bit chunks.

    Nothing is opened until ``open()`` or the first ``chunks()``. ``module`` replaces the
    ``sounddevice`` module (tests pass a fake one).
    """

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        rate: int = 16_000,
        channels: int = 1,
        chunk_ms: int = 20,
        queue_chunks: int = 50,
        stall_timeout_seconds: float = 2.0,
        close_timeout_seconds: float = CLOSE_TIMEOUT_SECONDS,
        module: Any = None,
    ) -> None:
        if chunk_ms <= 0 or queue_chunks <= 0:
            raise ValueError("chunk_ms and queue_chunks must be positive")
        self.spec = device
        """The device asked for."""
        self.name = "default microphone" if device is None else str(device)
        """Which device (its PortAudio name once opened)."""
        self.rate = rate
        """Sample rate of the chunks."""
        self.channels = channels
        """Channels of the chunks."""
        self.chunk_ms = chunk_ms
        """Capture block length."""
        self.stall_timeout_seconds = stall_timeout_seconds
        """Silence from PortAudio after which the device counts as gone."""
        self.close_timeout_seconds = close_timeout_seconds
        """Longest wait for PortAudio to release the device."""
        self.device: AudioDevice | None = None
        """The device opened."""
        self.device_rate = 0
        """Rate the device was opened at (resampled to ``rate`` when different)."""
        self.device_channels = 0
        """Channels the device was opened with."""
        self.overflows = 0
        """Blocks PortAudio reported as overflowed (audio lost before it reached us)."""
        self.dropped_chunks = 0
        """Chunks dropped, oldest first, because the consumer fell behind."""
        self._module = module
        self._queue: collections.deque[AudioChunk] = collections.deque()
        self._queue_chunks = queue_chunks
        self._lock = threading.Lock()
        self._stream: Any = None
        self._converter: ChunkConverter | None = None
        self._frames_in = 0
        self._error: BaseException | None = None
        self._finished = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    def open(self) -> None:
        """Find the device, negotiate its format and start capturing (blocking, quick)."""
        if self._stream is not None:
            return
        sd = self._module or load_sounddevice()
        device = select_device(list_devices(sd), self.spec, "input")
        rate, channels = negotiate_format(
            self.rate, self.channels, device, "input", _supports(sd, "input", device.index)
        )
        self.device, self.device_rate, self.device_channels = device, rate, channels
        self.name = device.name
        if (rate, channels) != (self.rate, self.channels):
            log.info(
                "microphone %r opened at %d Hz, %d channel(s); converting to %d Hz, %d",
                device.name,
                rate,
                channels,
                self.rate,
                self.channels,
            )
            self._converter = ChunkConverter(self.rate, self.channels, 2, FAST_QUALITY)
        try:
            stream = sd.RawInputStream(
                samplerate=rate,
                blocksize=max(1, rate * self.chunk_ms // 1000),
                device=device.index,
                channels=channels,
                dtype="int16",
                callback=self._callback,
                finished_callback=self._on_finished,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise _open_error("microphone", device, exc) from exc
        self._stream = stream

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio thread: convert the block and queue it (never raises)."""
        try:
            if status.input_overflow:
                self.overflows += 1
                log.debug("microphone overflow (%d so far)", self.overflows)
            raw = AudioChunk(
                bytes(indata),
                self.device_rate,
                2,
                self.device_channels,
                self._frames_in / self.device_rate,
            )
            self._frames_in += frames
            chunk = self._converter.convert(raw) if self._converter else raw
            if chunk.audio:
                with self._lock:
                    if len(self._queue) >= self._queue_chunks:
                        self._queue.popleft()
                        self.dropped_chunks += 1
                    self._queue.append(chunk)
        except Exception as exc:  # reported to the consumer, not lost in PortAudio's thread
            self._error = exc
        self._wake()

    def _on_finished(self) -> None:
        self._finished = True
        self._wake()

    def _wake(self) -> None:
        loop, event = self._loop, self._wakeup
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(event.set)

    def is_closed(self) -> bool:
        """Whether ``close()`` was called (a method: ``close()`` may run between awaits)."""
        return self._closed

    def _pop(self) -> AudioChunk | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """Captured chunks until ``close()``; ``DeviceUnavailable`` if the device goes."""
        if self.is_closed():
            return
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        if self._stream is None:
            await asyncio.to_thread(self.open)
        while True:
            chunk = self._pop()
            if chunk is not None:
                yield chunk
                continue
            if self.is_closed():
                return
            self._check()
            self._wakeup.clear()
            if self._queue or self.is_closed():
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.stall_timeout_seconds)
            except TimeoutError:
                raise DeviceUnavailable(
                    f"microphone {self.name!r} stopped delivering audio"
                    f" for {self.stall_timeout_seconds:g} s (unplugged?)"
                ) from None

    def _check(self) -> None:
        if self._error is not None:
            raise DeviceUnavailable(f"microphone {self.name!r} failed") from self._error
        if self._finished:
            raise DeviceUnavailable(f"microphone {self.name!r} stopped (unplugged?)")

    async def close(self) -> None:
        """Stop capturing and release the device."""
        self._closed = True
        self._wake()
        if self.overflows or self.dropped_chunks:
            log.warning(
                "microphone %r: %d overflow(s), %d chunk(s) dropped by a slow consumer",
                self.name,
                self.overflows,
                self.dropped_chunks,
            )
        stream, self._stream = self._stream, None
        if stream is not None:
            await _shutdown(stream, f"microphone {self.name!r}", self.close_timeout_seconds)


class SoundDeviceSpeaker:
    """A speaker through PortAudio.

    The stream opens at the first playback's rate (or the device's default rate, with
    resampling) and stays open for later playbacks in the same format. ``stop()`` only
    sets a flag and empties the buffer, so it returns at once; the cut playback's
    ``play()`` returns False within a few milliseconds.
    """

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        buffer_seconds: float = 0.25,
        stall_timeout_seconds: float = 2.0,
        close_timeout_seconds: float = CLOSE_TIMEOUT_SECONDS,
        module: Any = None,
    ) -> None:
        self.spec = device
        """The device asked for."""
        self.name = "default speaker" if device is None else str(device)
        """Which device (its PortAudio name once opened)."""
        self.buffer_seconds = buffer_seconds
        """Audio queued ahead of PortAudio (back-pressure beyond it)."""
        self.stall_timeout_seconds = stall_timeout_seconds
        """Silence from PortAudio after which the device counts as gone."""
        self.close_timeout_seconds = close_timeout_seconds
        """Longest wait for PortAudio to release the device."""
        self.device: AudioDevice | None = None
        """The device opened."""
        self.device_rate = 0
        """Rate the stream is open at."""
        self.device_channels = 0
        """Channels the stream is open with."""
        self.underflows = 0
        """Blocks PortAudio reported as underflowed (a gap was heard)."""
        self._module = module
        self._buffer = bytearray()
        self._buffer_bytes = 0
        self._lock = threading.Lock()
        self._stream: Any = None
        self._source: tuple[int, int] | None = None
        self._stop = StopSignal()
        self._play_lock = asyncio.Lock()
        self._error: BaseException | None = None
        self._finished = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._progress: asyncio.Event | None = None
        self._last_callback = 0.0
        self._active = False  # wake the event loop from the callback only while playing

    def _open(self, rate: int, channels: int) -> None:
        """(Re)open the stream for chunks of ``rate``/``channels`` (blocking, quick)."""
        sd = self._module or load_sounddevice()
        device = select_device(list_devices(sd), self.spec, "output")
        device_rate, device_channels = negotiate_format(
            rate, channels, device, "output", _supports(sd, "output", device.index)
        )
        self.device, self.name = device, device.name
        self.device_rate, self.device_channels = device_rate, device_channels
        self._buffer_bytes = max(1, round(self.buffer_seconds * device_rate)) * 2 * device_channels
        self._error, self._finished = None, False
        try:
            stream = sd.RawOutputStream(
                samplerate=device_rate,
                blocksize=max(1, device_rate // 50),
                device=device.index,
                channels=device_channels,
                dtype="int16",
                callback=self._callback,
                finished_callback=self._on_finished,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise _open_error("speaker", device, exc) from exc
        self._stream = stream
        self._source = (rate, channels)
        self._last_callback = time.monotonic()

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio thread: copy queued audio out, silence for the rest (never raises)."""
        try:
            if status.output_underflow:
                self.underflows += 1
                log.debug("speaker underflow (%d so far)", self.underflows)
            size = len(outdata)
            with self._lock:
                take = min(size, len(self._buffer))
                outdata[:take] = bytes(self._buffer[:take])
                del self._buffer[:take]
            if take < size:
                outdata[take:] = bytes(size - take)
            self._last_callback = time.monotonic()
        except Exception as exc:  # reported to play(), not lost in PortAudio's thread
            self._error = exc
        self._wake()

    def _on_finished(self) -> None:
        self._finished = True
        self._wake()

    def _wake(self) -> None:
        loop, event = self._loop, self._progress
        if self._active and loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def _check(self) -> None:
        if self._error is not None or self._finished:
            self._source = None  # reopen next time: the device may be back
            cause = self._error
            raise DeviceUnavailable(f"speaker {self.name!r} stopped (unplugged?)") from cause
        if time.monotonic() - self._last_callback > self.stall_timeout_seconds:
            self._source = None
            raise DeviceUnavailable(
                f"speaker {self.name!r} stopped taking audio"
                f" for {self.stall_timeout_seconds:g} s (unplugged?)"
            )

    async def _progress_or_stop(self) -> bool:
        """Until the callback runs again; False if stopped. Raises if the device is gone."""
        assert self._progress is not None
        self._check()
        self._progress.clear()
        finished, _ = await race_stop(
            asyncio.wait_for(self._progress.wait(), self.stall_timeout_seconds), self._stop
        )
        return finished

    async def _enqueue(self, data: bytes) -> bool:
        """Queue ``data`` as room frees up; False if stopped meanwhile."""
        view = memoryview(data)
        while view.nbytes:
            if self._stop.is_set():
                return False
            with self._lock:
                room = self._buffer_bytes - len(self._buffer)
                if room > 0:
                    self._buffer += view[:room]
                    view = view[room:]
            if view.nbytes and not await self._wait():
                return False
        return True

    async def _wait(self) -> bool:
        try:
            return await self._progress_or_stop()
        except TimeoutError:
            self._check()
            return not self._stop.is_set()

    async def _drain(self) -> bool:
        """Until the queued audio and the device's own buffer have played."""
        while True:
            with self._lock:
                empty = not self._buffer
            if empty:
                break
            if not await self._wait():
                return False
        latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        finished, _ = await race_stop(asyncio.sleep(latency), self._stop)
        return finished and not self._stop.is_set()

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        """Play ``chunks`` as they arrive; False if ``stop()`` cut it short."""
        async with self._play_lock:
            self._stop.arm()
            self._loop = asyncio.get_running_loop()
            self._progress = asyncio.Event()
            self._active = True
            try:
                completed = await self._play(aiter(chunks))
            finally:
                self._active = False
            if not completed:
                with self._lock:
                    self._buffer.clear()
                await close_source(chunks)
            return completed

    async def _play(self, iterator: AsyncIterator[AudioChunk]) -> bool:
        finished, chunk = await next_or_stop(iterator, self._stop)
        if not finished:
            return False
        if chunk is None:
            return True
        source = (chunk.rate, chunk.channels)
        if self._stream is None or self._source != source:
            await self._close_stream()
            await asyncio.to_thread(self._open, *source)
        converter = None
        if (self.device_rate, self.device_channels) != (chunk.rate, chunk.channels) or (
            chunk.width != 2
        ):
            converter = ChunkConverter(self.device_rate, self.device_channels, 2)
        while chunk is not None:
            audio = converter.convert(chunk).audio if converter else chunk.audio
            if not await self._enqueue(audio):
                return False
            finished, chunk = await next_or_stop(iterator, self._stop)
            if not finished or self._stop.is_set():
                return False
        if converter is not None and not await self._enqueue(converter.flush().audio):
            return False
        return await self._drain()

    def stop(self) -> None:
        """Cut the current playback short at once; safe from any thread, at any time."""
        self._stop.set()
        with self._lock:
            self._buffer.clear()

    async def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await _shutdown(stream, f"speaker {self.name!r}", self.close_timeout_seconds)

    async def close(self) -> None:
        """Stop any playback and release the device."""
        self.stop()
        if self.underflows:
            log.warning("speaker %r: %d underflow(s)", self.name, self.underflows)
        await self._close_stream()
