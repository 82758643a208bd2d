"""Decode uploaded audio to PCM, and encode PCM for responses (whole or streamed).

Decoding takes WAV (any PCM or float WAV, read here without native code), FLAC,
Ogg (Opus, Vorbis, FLAC), MP3, MP4/M4A (AAC), WebM/Matroska, AAC (ADTS), AIFF and CAF
through PyAV (FFmpeg, imported lazily). The container is recognised from its first
bytes and only these demuxers are ever used, so an upload can never make FFmpeg open a
playlist, a device or another file. Whatever the input, the result is one
:class:`AudioChunk` in the requested rate and channels (16 kHz mono 16-bit by default).

Decoding failures are ``UnreadableMedia`` (an ``UnsupportedMedia``) with ``field="audio"``
and a message a user can act on;
audio longer than ``max_seconds`` is ``MediaTooLarge``, detected while decoding, so a
long file costs no more than ``max_seconds`` of decoding. A compressed file cut short
decodes to the audio it holds; a WAV cut short (its header says how long it is), a file
cut inside its header, an implausible sample rate and float samples that are not
numbers are refused.

Encoding writes ``wav``, ``pcm`` (raw 16-bit little-endian), ``flac``, ``mp3``, ``opus``
(Ogg Opus; ``ogg`` is an alias) and ``aac`` (ADTS). :func:`stream_encoder` returns an
encoder that turns chunks into bytes as they arrive; a streamed WAV's header carries
0xFFFFFFFF as its RIFF and data sizes (the length is not known when the header is sent),
which FFmpeg, browsers, sox and Python's ``wave`` read to the end of the stream.
"""

from __future__ import annotations

import io
import logging
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from hal.audio.chunk import AudioChunk
from hal.audio.convert import (
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    ChunkConverter,
    Samples,
    chunk_from_frames,
    mix_channels,
    plausible_sample_rate,
    resample,
)
from hal.audio.wavfile import UnsupportedWav, parse_wav
from hal.errors import CodecFailed, MediaTooLarge, UnreadableMedia, UnsupportedMedia

log = logging.getLogger(__name__)

AudioFormat = Literal["wav", "pcm", "flac", "mp3", "opus", "ogg", "aac"]
"""Formats :func:`encode` writes."""
AUDIO_FORMATS: tuple[str, ...] = get_args(AudioFormat)
"""Every :data:`AudioFormat`, for validation and documentation."""

CONTENT_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "pcm": "audio/pcm",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
    "aac": "audio/aac",
}
"""Media type of each output format."""

DEFAULT_DECODE_TIMEOUT_SECONDS = 30.0
"""Wall-clock limit of one decode (a safety net: decoding is much faster than real time)."""

UNKNOWN_SIZE = 0xFFFFFFFF
"""RIFF and data size written in a streamed WAV header."""


def content_type(audio_format: str) -> str:
    """The media type of ``audio_format`` (``audio/wav``...)."""
    return CONTENT_TYPES[check_format(audio_format)]


def check_format(audio_format: str) -> AudioFormat:
    """``audio_format`` if it is one :func:`encode` writes, else ``UnsupportedMedia``."""
    if audio_format not in AUDIO_FORMATS:
        raise UnsupportedMedia(
            f"unsupported audio format {audio_format!r}; use one of {', '.join(AUDIO_FORMATS)}",
            field="format",
        )
    return audio_format  # type: ignore[return-value]


# --- decoding -------------------------------------------------------------------------------


_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    # (offset, bytes, FFmpeg demuxer)
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"\x1aE\xdf\xa3", "matroska"),
    (4, b"ftyp", "mov"),
    (8, b"AIFF", "aiff"),
    (8, b"AIFC", "aiff"),
    (0, b"caff", "caf"),
    (0, b"ID3", "mp3"),
)


def sniff_container(data: bytes) -> str | None:
    """The FFmpeg demuxer for ``data`` from its magic bytes; None if not a known audio file."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    for offset, magic, demuxer in _MAGIC:
        if data[offset : offset + len(magic)] == magic and (offset != 8 or data[:4] == b"FORM"):
            return demuxer
    if len(data) >= 2 and data[0] == 0xFF:
        if data[1] & 0xF6 == 0xF0:  # ADTS sync word, layer bits 00
            return "aac"
        if data[1] & 0xE0 == 0xE0 and data[1] & 0x06:  # MPEG audio frame sync, layer I-III
            return "mp3"
    return None


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds on one decode."""

    max_seconds: float | None = None
    """Longest audio accepted (``MediaTooLarge`` beyond); None: no limit."""
    timeout_seconds: float = DEFAULT_DECODE_TIMEOUT_SECONDS
    """Wall-clock time the decode may take."""


def decode(
    data: bytes,
    *,
    rate: int = 16_000,
    channels: int = 1,
    limits: DecodeLimits | None = None,
) -> AudioChunk:
    """Decode an uploaded audio file to one 16-bit chunk at ``rate`` with ``channels``.

    Raises ``UnreadableMedia`` (field ``audio``) for empty, unrecognised, corrupt or
    sample-less input, and ``MediaTooLarge`` for audio over ``limits.max_seconds``.
    Silent audio is valid: check it with ``convert.is_silent`` where speech is expected.
    """
    limits = limits or DecodeLimits()
    if not data:
        raise UnreadableMedia("audio is empty (0 bytes)", field="audio")
    container = sniff_container(data)
    if container is None:
        raise UnreadableMedia(
            "audio is not in a supported format (WAV, FLAC, Ogg/Opus, MP3, M4A/AAC, WebM)",
            field="audio",
        )
    if container == "wav":
        try:
            wav = parse_wav(data)
        except UnsupportedWav:
            log.debug("compressed WAV, decoding through FFmpeg")
        else:
            _check_duration(len(wav.frames) / wav.rate, limits)
            return _finish(wav.frames, wav.rate, rate, channels)
    deadline = time.monotonic() + limits.timeout_seconds
    frames, source_rate = _decode_av(data, container, limits, deadline)
    return _finish(frames, source_rate, rate, channels)


def _check_duration(seconds: float, limits: DecodeLimits) -> None:
    if limits.max_seconds is not None and seconds > limits.max_seconds:
        raise MediaTooLarge(
            f"audio is longer than the limit of {limits.max_seconds:g} seconds",
            field="audio",
            max_seconds=limits.max_seconds,
        )


def _finish(frames: Samples, source_rate: int, rate: int, channels: int) -> AudioChunk:
    if len(frames) == 0:
        raise UnreadableMedia(
            "audio holds no samples (empty or cut off in its header)", field="audio"
        )
    if not plausible_sample_rate(source_rate):
        raise UnreadableMedia(
            f"audio declares {source_rate} Hz, not a supported sample rate"
            f" ({MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)",
            field="audio",
        )
    frames = mix_channels(frames, channels)
    if source_rate != rate:
        frames = resample(frames, source_rate, rate)
    return chunk_from_frames(frames, rate, 2)


def _load_av() -> Any:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - the audio extra is missing
        raise CodecFailed(
            "compressed audio needs PyAV: pip install 'edge-assistant[audio]'"
        ) from exc
    return av


class _AvDecoder:
    """Demux and decode one upload with PyAV into float samples at the stream's rate."""

    def __init__(self, av: Any, limits: DecodeLimits, deadline: float) -> None:
        self.av = av
        self.limits = limits
        self.deadline = deadline
        self.pieces: list[npt.NDArray[np.float32]] = []
        self.frames = 0
        self.damaged = 0
        self.rate = 0
        self.layout: Any = None
        self.resampler: Any = None
        self.source: tuple[str, str, int] | None = None

    def take(self, frame: Any) -> None:
        """Convert one decoded frame to packed float at the first frame's rate and layout
        (FFmpeg only resamples if a stream changes rate or layout midway)."""
        source = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self.resampler is None:
            self.rate, self.layout = frame.sample_rate, frame.layout
        if source != self.source:  # a resampler takes one input format only
            self.flush()
            self.source = source
            self.resampler = self.av.AudioResampler(
                format="flt", layout=self.layout, rate=self.rate
            )
        for out in self.resampler.resample(frame):
            self.keep(out)

    def flush(self) -> None:
        """Whatever the resampler holds back."""
        if self.resampler is not None:
            for out in self.resampler.resample(None):
                self.keep(out)

    def keep(self, out: Any) -> None:
        array = out.to_ndarray().reshape(-1, len(out.layout.channels))
        self.pieces.append(array.astype(np.float32, copy=False))
        self.frames += len(array)

    def run(self, container: Any) -> None:
        """Decode the first audio stream, checking the limits after every packet."""
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if time.monotonic() > self.deadline:
                raise UnreadableMedia(
                    f"audio took longer than {self.limits.timeout_seconds:g} s to decode",
                    field="audio",
                )
            try:
                decoded = packet.decode()
            except self.av.error.FFmpegError:
                self.damaged += 1  # FFmpeg skips a damaged packet; so do we
                continue
            for frame in decoded:
                self.take(frame)
            if self.rate:
                _check_duration(self.frames / self.rate, self.limits)
        self.flush()

    def samples(self) -> Samples:
        """Everything decoded, ``(frames, channels)``."""
        pieces = self.pieces
        if len({piece.shape[1] for piece in pieces}) > 1:  # chained Ogg changing channels
            pieces = [mix_channels(piece, 1) for piece in pieces]
        frames = np.concatenate(pieces)
        if not np.isfinite(frames).all():
            raise UnreadableMedia(
                "audio holds float samples that are not numbers (NaN or infinity)",
                field="audio",
            )
        return np.clip(frames, -1.0, 1.0)


def _decode_av(
    data: bytes, container_format: str, limits: DecodeLimits, deadline: float
) -> tuple[Samples, int]:
    """Float samples ``(frames, channels)`` and their rate."""
    av = _load_av()
    bad = UnreadableMedia(
        f"audio could not be decoded: not a valid {container_format} file, or corrupt",
        field="audio",
    )
    try:
        container = av.open(io.BytesIO(data), mode="r", format=container_format)
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise bad from exc
    decoder = _AvDecoder(av, limits, deadline)
    with container:
        if not container.streams.audio:
            raise UnreadableMedia("the file holds no audio track", field="audio")
        try:
            decoder.run(container)
        except av.error.FFmpegError as exc:
            if not decoder.pieces:
                raise bad from exc
            log.info("audio ends in a damaged packet; keeping %d frames", decoder.frames)
    if decoder.damaged:
        log.info("skipped %d damaged audio packet(s)", decoder.damaged)
    if not decoder.pieces:
        if decoder.damaged:
            raise bad
        return np.zeros((0, 1), dtype=np.float32), 1
    _check_duration(decoder.frames / decoder.rate, limits)
    return decoder.samples(), decoder.rate


# --- encoding -------------------------------------------------------------------------------

AudioInput = AudioChunk | Iterable[AudioChunk]
"""What :func:`encode` takes: one chunk or several (converted to the first one's format)."""


def wav_header(
    rate: int, channels: int = 1, width: int = 2, data_bytes: int | None = None
) -> bytes:
    """A 44-byte PCM WAV header; ``data_bytes=None`` writes 0xFFFFFFFF (unknown length)."""
    if data_bytes is None:
        riff_size = data_size = UNKNOWN_SIZE
    else:
        data_size = data_bytes
        riff_size = min(36 + data_bytes, UNKNOWN_SIZE)
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff_size,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        rate,
        rate * channels * width,
        channels * width,
        8 * width,
        b"data",
        data_size,
    )


class StreamEncoder(Protocol):
    """Turns a stream of chunks into the bytes of one file, piece by piece."""

    content_type: str
    """Media type of the output."""
    rate: int
    """Sample rate of the output (input chunks are converted to it)."""

    def encode(self, chunk: AudioChunk) -> bytes:
        """The bytes ready after this chunk (may be empty)."""
        ...

    def finish(self) -> bytes:
        """The last bytes of the file."""
        ...


class PcmStreamEncoder:
    """Raw PCM (``pcm``) or a WAV with an unknown-length header (``wav``)."""

    def __init__(self, rate: int, channels: int = 1, *, wav: bool) -> None:
        self.rate = rate
        """Output sample rate."""
        self.content_type = CONTENT_TYPES["wav" if wav else "pcm"]
        """``audio/wav`` or ``audio/pcm``."""
        self._converter = ChunkConverter(rate, channels, 2)
        self._header = wav_header(rate, channels, 2) if wav else b""

    def _take_header(self) -> bytes:
        header, self._header = self._header, b""
        return header

    def encode(self, chunk: AudioChunk) -> bytes:
        """Header (first call) and the converted samples."""
        return self._take_header() + self._converter.convert(chunk).audio

    def finish(self) -> bytes:
        """What the resampler held back."""
        return self._take_header() + self._converter.flush().audio


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file that FFmpeg's muxer writes into; drained by us."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.buffer += view
        return view.nbytes

    def drain(self) -> bytes:
        out = bytes(self.buffer)
        self.buffer.clear()
        return out


_AV_FORMATS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    # output format: (muxer, encoder, sample rates the encoder takes; empty = any)
    "flac": ("flac", "flac", ()),
    "mp3": ("mp3", "libmp3lame", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "opus": ("ogg", "libopus", (8000, 12000, 16000, 24000, 48000)),
    "aac": (
        "adts",
        "aac",
        (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000),
    ),
}


def encoder_rate(audio_format: str, rate: int) -> int:
    """The rate ``audio_format`` is written at for ``rate`` input: the same if the codec
    takes it, else the lowest higher one it takes (Opus: 22050 -> 24000)."""
    fmt = "opus" if audio_format == "ogg" else audio_format
    if fmt not in _AV_FORMATS or not _AV_FORMATS[fmt][2]:
        return rate
    allowed = _AV_FORMATS[fmt][2]
    higher = [r for r in allowed if r >= rate]
    return min(higher) if higher else max(allowed)


class AvStreamEncoder:
    """FLAC, MP3, Ogg Opus or ADTS AAC through PyAV, chunk by chunk."""

    def __init__(
        self,
        audio_format: str,
        rate: int,
        channels: int = 1,
        bitrate: int | None = None,
        *,
        whole_file: bool = False,
    ) -> None:
        fmt = "opus" if audio_format == "ogg" else audio_format
        if fmt not in _AV_FORMATS:
            raise UnsupportedMedia(f"{audio_format} is not a compressed format", field="format")
        av = self._av = _load_av()
        muxer, codec, _ = _AV_FORMATS[fmt]
        self.rate = encoder_rate(fmt, rate)
        """Output sample rate."""
        self.content_type = CONTENT_TYPES[fmt]
        """Media type of the output."""
        self._channels = channels
        self._layout = "mono" if channels == 1 else "stereo"
        if channels not in (1, 2):
            raise UnsupportedMedia("compressed output is mono or stereo", field="channels")
        self._converter = ChunkConverter(self.rate, channels, 2)
        # A whole file goes to a seekable buffer, so muxers fix up their headers at the end
        # (MP3's gapless-playback header, FLAC's STREAMINFO); a stream cannot seek back.
        self._whole: io.BytesIO | None = io.BytesIO() if whole_file else None
        self._sink = _Sink()
        # Ogg pages hold up to one second by default; short pages let a stream start sooner.
        options = {"page_duration": "100000"} if muxer == "ogg" and not whole_file else {}
        try:
            self._container = av.open(
                self._whole or self._sink, mode="w", format=muxer, options=options
            )
            stream: Any = self._container.add_stream(codec, rate=self.rate, layout=self._layout)
            if bitrate:
                stream.bit_rate = bitrate
            self._stream = stream
        except av.error.FFmpegError as exc:
            raise CodecFailed(f"cannot start the {fmt} encoder") from exc
        self._pts = 0
        self._closed = False

    def _feed(self, chunk: AudioChunk) -> bytes:
        if not chunk.audio:
            return self._sink.drain()
        array = np.frombuffer(chunk.audio, dtype="<i2").reshape(1, -1)
        frame = self._av.AudioFrame.from_ndarray(array, format="s16", layout=self._layout)
        frame.sample_rate = self.rate
        frame.pts = self._pts
        self._pts += chunk.frames
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except self._av.error.FFmpegError as exc:
            raise CodecFailed("the audio encoder failed") from exc
        return self._sink.drain()

    def encode(self, chunk: AudioChunk) -> bytes:
        """Encoded bytes ready after this chunk (encoders buffer a frame or two)."""
        return self._feed(self._converter.convert(chunk))

    def finish(self) -> bytes:
        """Flush the encoder and write the trailer."""
        if self._closed:
            return b""
        out = self._feed(self._converter.flush())
        self._closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except self._av.error.FFmpegError as exc:
            raise CodecFailed("the audio encoder failed") from exc
        if self._whole is not None:
            return self._whole.getvalue()
        return out + self._sink.drain()


def stream_encoder(
    audio_format: str, rate: int, channels: int = 1, *, bitrate: int | None = None
) -> StreamEncoder:
    """An encoder for ``audio_format`` at ``rate`` (compressed formats may raise the rate
    to one their codec takes; see :func:`encoder_rate`)."""
    fmt = check_format(audio_format)
    if fmt in ("wav", "pcm"):
        return PcmStreamEncoder(rate, channels, wav=fmt == "wav")
    return AvStreamEncoder(fmt, rate, channels, bitrate)


def _as_chunks(audio: AudioInput | Samples, rate: int | None) -> list[AudioChunk]:
    if isinstance(audio, np.ndarray):
        if rate is None:
            raise ValueError("rate is required to encode bare samples")
        return [chunk_from_frames(audio, rate)]
    if isinstance(audio, AudioChunk):
        return [audio]
    return list(audio)


def encode(
    audio: AudioInput | Samples,
    audio_format: str,
    *,
    rate: int | None = None,
    channels: int | None = None,
    bitrate: int | None = None,
) -> bytes:
    """A whole file in ``audio_format`` (wav, pcm, flac, mp3, opus/ogg, aac).

    ``audio`` is a chunk, chunks, or float samples (then ``rate`` is required). The output
    rate and channels are ``rate``/``channels`` or those of the first chunk; compressed
    formats may raise the rate to one their codec takes. WAV gets its exact sizes here.
    """
    fmt = check_format(audio_format)
    chunks = _as_chunks(audio, rate)
    first = next((c for c in chunks if c.audio), chunks[0] if chunks else None)
    out_rate = rate or (first.rate if first else 16_000)
    out_channels = channels or (first.channels if first else 1)
    encoder: StreamEncoder
    if fmt in ("wav", "pcm"):
        encoder = PcmStreamEncoder(out_rate, out_channels, wav=False)
    else:
        encoder = AvStreamEncoder(fmt, out_rate, out_channels, bitrate, whole_file=True)
    body = b"".join(encoder.encode(chunk) for chunk in chunks) + encoder.finish()
    if fmt == "wav":
        return wav_header(out_rate, out_channels, 2, len(body)) + body
    return body
