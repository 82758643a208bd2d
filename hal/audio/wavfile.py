"""WAV files as microphone and speaker, and a WAV reader for any PCM or float WAV.

The reader is pure (bytes in, samples out) and takes what a file holds: 8/16/24/32-bit
integer PCM, 32/64-bit float, plain or ``WAVE_FORMAT_EXTENSIBLE``. A stream written with
an unknown length (RIFF and data sizes both left at a placeholder of at least
``UNKNOWN_LENGTH``, as FFmpeg, sox and this project's stream encoder write them) yields
the frames that are there; any other data chunk that runs past the end of the file is
a truncated file and refused, as are sample rates no audio is recorded at and float
samples that are not numbers (NaN, infinity).
"""

from __future__ import annotations

import asyncio
import logging
import struct
import wave
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hal.audio.chunk import AudioChunk
from hal.audio.convert import (
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    ChunkConverter,
    Samples,
    chunk_from_frames,
    mix_channels,
    pcm_to_float,
    plausible_sample_rate,
    resample,
)
from hal.audio.playback import (
    Playback,
    Sleep,
    StopSignal,
    close_source,
    next_or_stop,
    stoppable_sleep,
)
from hal.errors import DeviceUnavailable, UnreadableMedia, UnsupportedMedia

log = logging.getLogger(__name__)

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
UNKNOWN_LENGTH = 0x7FFFF000
"""Sizes from here up are placeholders of a stream whose length was not known (sox
writes 0x7FFFF000, FFmpeg and our stream encoder 0xFFFFFFFF)."""


class UnsupportedWav(UnsupportedMedia):
    """A well-formed WAV in an encoding this reader does not decode (ADPCM, mu-law...)."""


@dataclass(frozen=True)
class WavAudio:
    """The samples of a WAV file and how they were stored."""

    frames: Samples
    """Float32 samples shaped ``(frames, channels)``."""
    rate: int
    """Samples per second per channel."""
    channels: int
    """Channels in the file."""
    bits: int
    """Bits per sample in the file."""
    is_float: bool
    """IEEE float samples rather than integers."""

    @property
    def seconds(self) -> float:
        """Duration."""
        return len(self.frames) / self.rate


def _invalid(message: str) -> UnsupportedMedia:
    return UnreadableMedia(message, field="audio")


def parse_wav(data: bytes) -> WavAudio:
    """Decode a RIFF/WAVE file held in memory.

    Raises ``UnsupportedMedia`` (field ``audio``) when it is not a WAV file or its header is
    broken, and :class:`UnsupportedWav` for compressed encodings.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _invalid("not a WAV file (no RIFF/WAVE header)")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    position = 12
    fmt: tuple[int, int, int, int, int] | None = None
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack_from("<I", data, position + 4)
        body = position + 8
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[body : body + size])
        elif chunk_id == b"data":
            if fmt is None:
                raise _invalid("WAV data chunk comes before its fmt chunk")
            present = len(data) - body
            if size > present and not (size >= UNKNOWN_LENGTH and riff_size >= UNKNOWN_LENGTH):
                raise _invalid(
                    f"WAV file is truncated: its data chunk declares {size} bytes"
                    f" but holds {present}"
                )
            return _samples(data[body : body + min(size, present)], *fmt)
        position = body + size + (size & 1)
    if fmt is None:
        raise _invalid("WAV file is truncated: no fmt chunk")
    raise _invalid("WAV file is truncated: no data chunk")


def _parse_fmt(body: bytes) -> tuple[int, int, int, int, int]:
    """``(tag, channels, rate, bits, block_align)`` from a fmt chunk."""
    if len(body) < 16:
        raise _invalid("WAV fmt chunk is truncated")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise _invalid("WAV extensible fmt chunk is truncated")
        (tag,) = struct.unpack_from("<H", body, 24)  # first two bytes of the sub-format GUID
    if tag not in (WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT):
        raise UnsupportedWav(f"WAV encoding 0x{tag:04x} is not plain PCM or float", field="audio")
    if channels < 1:
        raise _invalid(f"WAV header is invalid: {channels} channels at {rate} Hz")
    if not plausible_sample_rate(rate):
        raise _invalid(
            f"WAV header is invalid: {rate} Hz is not a supported sample rate"
            f" ({MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)"
        )
    valid_bits = {WAVE_FORMAT_PCM: (8, 16, 24, 32), WAVE_FORMAT_IEEE_FLOAT: (32, 64)}[tag]
    if bits not in valid_bits or block_align != channels * bits // 8:
        raise _invalid(f"WAV header is invalid: {bits}-bit samples, block size {block_align}")
    return tag, channels, rate, bits, block_align


def _samples(payload: bytes, tag: int, channels: int, rate: int, bits: int, block: int) -> WavAudio:
    usable = payload[: len(payload) - len(payload) % block]
    if tag == WAVE_FORMAT_IEEE_FLOAT:
        dtype = "<f4" if bits == 32 else "<f8"
        values = np.frombuffer(usable, dtype=dtype)
        if not np.isfinite(values).all():
            raise _invalid("WAV file holds float samples that are not numbers (NaN or infinity)")
        frames = values.astype(np.float32).clip(-1.0, 1.0).reshape(-1, channels)
    elif bits == 8:  # 8-bit WAV is unsigned
        signed = (np.frombuffer(usable, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8)
        frames = pcm_to_float(signed.tobytes(), 1, channels)
    else:
        frames = pcm_to_float(usable, bits // 8, channels)
    return WavAudio(frames, rate, channels, bits, tag == WAVE_FORMAT_IEEE_FLOAT)


def read_wav(
    path: Path, rate: int | None = None, channels: int | None = None, width: int = 2
) -> AudioChunk:
    """A WAV file as one chunk, converted to ``rate``/``channels`` (None: the file's)."""
    try:
        audio = parse_wav(path.read_bytes())
    except OSError as exc:
        raise UnsupportedMedia(f"cannot read {path}: {exc.strerror}", field="path") from exc
    frames = mix_channels(audio.frames, channels or audio.channels)
    target = rate or audio.rate
    if target != audio.rate:
        frames = resample(frames, audio.rate, target)
    return chunk_from_frames(frames, target, width)


def write_wav(path: Path, chunk: AudioChunk) -> None:
    """Write one chunk as an integer PCM WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(chunk.channels)
        out.setsampwidth(chunk.width)
        out.setframerate(chunk.rate)
        if chunk.width == 1:  # AudioChunk's 8-bit is signed, WAV's unsigned
            signed = np.frombuffer(chunk.audio, dtype=np.int8).astype(np.int16)
            out.writeframes((signed + 128).astype(np.uint8).tobytes())
        else:
            out.writeframes(chunk.audio)


class WavFileMicrophone:
    """A microphone that plays a WAV file into the pipeline.

    The file is converted to ``rate``/``channels``/``width`` (16 kHz mono 16-bit by
    default) and cut into ``chunk_ms`` chunks, handed out as fast as the consumer takes
    them or, with ``realtime``, one per ``chunk_ms`` as a sound card would: each chunk
    is handed over once its last frame would have been captured, counted from the
    start on ``clock`` (the event loop's), so a slow consumer does not slow the pace.
    A fake ``sleep`` without a ``clock`` waits each chunk's duration instead. Trailing
    silence lets an end-of-speech detector fire after the last word. ``close()`` (or
    ``stop()``) ends the stream at once.
    """

    def __init__(
        self,
        path: Path,
        *,
        rate: int = 16_000,
        channels: int = 1,
        width: int = 2,
        chunk_ms: int = 20,
        realtime: bool = False,
        trailing_silence_seconds: float = 0.0,
        sleep: Sleep | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if chunk_ms <= 0 or rate * chunk_ms < 1000:
            raise UnsupportedMedia(
                "chunk_ms must give at least one sample per chunk", field="chunk_ms"
            )
        if trailing_silence_seconds < 0:
            raise UnsupportedMedia("trailing silence cannot be negative", field="trailing_silence")
        self.path = path
        """The WAV file."""
        self.name = str(path)
        """Which file."""
        self.rate = rate
        """Sample rate of the chunks."""
        self.channels = channels
        """Channels of the chunks."""
        self.width = width
        """Bytes per sample of the chunks."""
        self.chunk_frames = rate * chunk_ms // 1000
        """Frames per chunk (the last one of the file may be shorter)."""
        self.realtime = realtime
        """Pace chunks at the speed of a sound card."""
        self.trailing_silence_seconds = trailing_silence_seconds
        """Silence appended after the file's audio."""
        self.chunks_read = 0
        """Chunks handed out so far."""
        self._sleep = sleep
        self._clock = clock
        self._closed = StopSignal()

    def _load(self) -> bytes:
        chunk = read_wav(self.path, self.rate, self.channels, self.width)
        silence = round(self.trailing_silence_seconds * self.rate)
        return chunk.audio + bytes(silence * self.width * self.channels)

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """The file's chunks, then the trailing silence; ends early when closed."""
        self._closed.bind()
        audio = await asyncio.to_thread(self._load)
        step = self.chunk_frames * self.width * self.channels
        clock = self._clock or asyncio.get_running_loop().time
        start = clock()
        for index, offset in enumerate(range(0, len(audio), step)):
            piece = audio[offset : offset + step]
            chunk = AudioChunk(
                piece, self.rate, self.width, self.channels, index * self.chunk_frames / self.rate
            )
            if self.realtime:
                if self._sleep is not None and self._clock is None:
                    wait = chunk.seconds  # no clock to read the time from
                else:  # a sound card hands a chunk over once its last frame is captured
                    wait = start + chunk.timestamp + chunk.seconds - clock()
                if not await stoppable_sleep(wait, self._closed, self._sleep):
                    return
            if self._closed.is_set():
                return
            self.chunks_read += 1
            yield chunk

    def stop(self) -> None:
        """End the stream at once; safe from any thread."""
        self._closed.set()

    async def close(self) -> None:
        """End the stream."""
        self._closed.set()


class WavFileSpeaker:
    """A speaker that appends everything it plays to a WAV file.

    The file's format is ``rate`` (default: the first chunk's rate), ``channels`` and
    ``width``; chunks in other formats are converted. The header is rewritten after every
    write, so the file is valid while it grows. Each ``play()`` is recorded in
    :attr:`playbacks` with its position in the file. ``realtime`` paces playback at the
    audio's own speed (``sleep`` may be a fake); ``stop()`` cuts the current playback at
    once.
    """

    def __init__(
        self,
        path: Path,
        *,
        rate: int | None = None,
        channels: int = 1,
        width: int = 2,
        realtime: bool = False,
        sleep: Sleep | None = None,
    ) -> None:
        self.path = path
        """The WAV file written."""
        self.name = str(path)
        """Which file."""
        self.rate = rate
        """Sample rate of the file (set by the first chunk when None)."""
        self.channels = channels
        """Channels of the file."""
        self.width = width
        """Bytes per sample of the file."""
        self.realtime = realtime
        """Take as long as the audio lasts."""
        self.playbacks: list[Playback] = []
        """Every playback so far, in order."""
        self._sleep = sleep
        self._stop = StopSignal()
        self._file: BinaryIO | None = None
        self._writer: wave.Wave_write | None = None
        self._frames_written = 0
        self._lock = asyncio.Lock()

    @property
    def seconds_written(self) -> float:
        """Audio in the file so far."""
        return self._frames_written / self.rate if self.rate else 0.0

    def _open(self, rate: int) -> wave.Wave_write:
        if self._writer is None:
            self.rate = self.rate or rate
            try:
                self._file = self.path.open("wb")
            except OSError as exc:
                raise DeviceUnavailable(f"cannot write {self.path}: {exc.strerror}") from exc
            writer = wave.open(self._file, "wb")  # noqa: SIM115 - stays open across plays
            writer.setnchannels(self.channels)
            writer.setsampwidth(self.width)
            writer.setframerate(self.rate)
            self._writer = writer
        return self._writer

    def _write(self, chunk: AudioChunk) -> None:
        if not chunk.audio:
            return
        writer = self._open(chunk.rate)
        audio = chunk.audio
        if self.width == 1:
            signed = np.frombuffer(audio, dtype=np.int8).astype(np.int16)
            audio = (signed + 128).astype(np.uint8).tobytes()
        writer.writeframes(audio)  # also rewrites the header's sizes
        assert self._file is not None
        self._file.flush()  # readers see a valid file at every moment
        self._frames_written += chunk.frames

    async def play(self, chunks: AsyncIterable[AudioChunk]) -> bool:
        """Append ``chunks`` to the file; False if ``stop()`` cut it short."""
        async with self._lock:
            self._stop.arm()
            start = self._frames_written
            count = 0
            converter: ChunkConverter | None = None
            iterator = aiter(chunks)
            completed = True
            while True:
                finished, chunk = await next_or_stop(iterator, self._stop)
                if not finished or self._stop.is_set():
                    completed = False
                    break
                if chunk is None:
                    break
                count += 1
                if converter is None:
                    converter = ChunkConverter(self.rate or chunk.rate, self.channels, self.width)
                self._write(converter.convert(chunk))
                if self.realtime and not await stoppable_sleep(
                    chunk.seconds, self._stop, self._sleep
                ):
                    completed = False
                    break
            if completed and converter is not None:
                self._write(converter.flush())
            if not completed:
                await close_source(chunks)
            rate = self.rate or 1
            self.playbacks.append(
                Playback(start / rate, self._frames_written / rate, count, completed)
            )
            return completed

    def stop(self) -> None:
        """Cut the current playback short; safe from any thread, at any time."""
        self._stop.set()

    async def close(self) -> None:
        """Finish the file (an empty WAV if nothing was played)."""
        if self._writer is None:
            self._open(self.rate or 16_000)
        assert self._writer is not None and self._file is not None
        self._writer.close()  # patches the header; the file object stays ours to close
        self._file.close()
        self._writer, self._file = None, None
