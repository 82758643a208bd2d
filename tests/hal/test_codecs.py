"""Decoding uploads (every common format, and every way they can be broken) and encoding."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hal.audio import AudioChunk, codecs
from hal.audio.codecs import (
    AUDIO_FORMATS,
    DecodeLimits,
    check_format,
    content_type,
    decode,
    encode,
    encoder_rate,
    sniff_container,
    stream_encoder,
    wav_header,
)
from hal.audio.convert import chunk_frames, float_to_pcm, resample
from hal.audio.wavfile import UnsupportedWav, parse_wav
from hal.errors import MediaTooLarge, UnreadableMedia, UnsupportedMedia
from tests.hal.wavs import wav

Floats = npt.NDArray[np.float32]
FFMPEG_ARGS: dict[str, list[str]] = {
    "flac": [],
    "ogg": ["-c:a", "libopus"],
    "opus": ["-c:a", "libopus"],
    "mp3": [],
    "m4a": [],
    "webm": ["-c:a", "libopus"],
    "aac": [],
    "stereo24.wav": ["-ac", "2", "-ar", "44100", "-c:a", "pcm_s24le"],
    "float.wav": ["-ar", "48000", "-c:a", "pcm_f32le"],
    "u8.wav": ["-ar", "8000", "-c:a", "pcm_u8"],
    "mulaw.wav": ["-ar", "8000", "-c:a", "pcm_mulaw"],
}


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of espeak-ng speech at its own rate (22050 Hz)."""
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    run("espeak-ng", "-w", str(path), "Hello there, this is a test of the audio decoder.")
    return path


@pytest.fixture(scope="module")
def reference(speech_wav: Path) -> Floats:
    """The speech at 16 kHz mono, resampled here."""
    parsed = parse_wav(speech_wav.read_bytes())
    return resample(parsed.frames.reshape(-1), parsed.rate, 16_000)


@pytest.fixture(scope="module")
def encoded(speech_wav: Path) -> dict[str, bytes]:
    """The speech encoded by the ffmpeg command line (an encoder independent of ours)."""
    out = {}
    for name, args in FFMPEG_ARGS.items():
        path = speech_wav.with_name("speech." + name)
        run("ffmpeg", "-loglevel", "error", "-y", "-i", str(speech_wav), *args, str(path))
        out[name] = path.read_bytes()
    return out


def aligned_snr(reference: Floats, out: Floats, max_lag: int = 3000) -> tuple[int, float, float]:
    """(lag, SNR dB, correlation) of ``out`` against ``reference`` after the best shift and
    gain (ffmpeg's mono-to-stereo upmix is 3 dB down, for one)."""
    size = len(reference) + len(out)
    xc = np.fft.irfft(np.fft.rfft(out, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.concatenate([np.arange(max_lag), np.arange(-max_lag, 0)])
    lag = int(lags[np.argmax(np.concatenate([xc[:max_lag], xc[-max_lag:]]))])
    shifted = out[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), out])
    shifted = np.pad(shifted[: len(reference)], (0, max(0, len(reference) - len(shifted))))
    shifted = shifted * (np.dot(shifted, reference) / max(np.dot(shifted, shifted), 1e-12))
    noise = np.sum((reference - shifted) ** 2)
    snr = float("inf") if noise == 0 else 10 * np.log10(np.sum(reference**2) / noise)
    return lag, float(snr), float(np.corrcoef(shifted, reference)[0, 1])


# --- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FFMPEG_ARGS))
def test_decodes_every_common_format_to_16k_mono(
    name: str, encoded: dict[str, bytes], reference: Floats
) -> None:
    chunk = decode(encoded[name])
    assert (chunk.rate, chunk.channels, chunk.width) == (16_000, 1, 2)
    assert abs(chunk.seconds - len(reference) / 16_000) < 0.1  # codec padding at most
    _lag, snr, correlation = aligned_snr(reference, chunk_frames(chunk).reshape(-1))
    lossy = name in ("ogg", "opus", "mp3", "m4a", "webm", "aac", "u8.wav", "mulaw.wav")
    assert correlation > (0.98 if lossy else 0.9999)
    assert snr > (12.0 if lossy else 60.0)


def test_decodes_to_another_rate_and_channels(encoded: dict[str, bytes]) -> None:
    chunk = decode(encoded["flac"], rate=48_000, channels=2)
    assert (chunk.rate, chunk.channels) == (48_000, 2)


@pytest.mark.parametrize(
    ("head", "container"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"\x1aE\xdf\xa3\x9f", "matroska"),
        (b"\x00\x00\x00\x1cftypM4A ", "mov"),
        (b"FORM\x00\x00\x00\x00AIFF", "aiff"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"\xff\xf1\x50\x80", "aac"),
        (b"RIFF\x00\x00\x00\x00AVI ", None),
        (b"#EXTM3U\nfile:///etc/passwd", None),  # a playlist never reaches FFmpeg
        (b"\x89PNG\r\n\x1a\n", None),
        (b"", None),
    ],
)
def test_sniff_container(head: bytes, container: str | None) -> None:
    assert sniff_container(head) == container


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x00" * 1000, "not in a supported format"),
        (b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", "not in a supported format"),
        (b"RIFF\x24\x00\x00\x00WAVE", "no fmt chunk"),
        (b"OggS" + bytes(range(256)) * 4, "not a valid ogg file"),
        (b"fLaC" + bytes(100), "not a valid flac file"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(500), "not a valid mp3 file"),
    ],
)
def test_unusable_uploads_are_invalid_input(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedMedia, match=message) as caught:
        decode(data)
    assert caught.value.field == "audio"
    assert not isinstance(caught.value, MediaTooLarge)


@pytest.mark.parametrize(
    "name", ["flac", "ogg", "mp3", "m4a", "webm", "aac", "stereo24.wav", "float.wav"]
)
@pytest.mark.parametrize("keep", [4, 20, 44, 100])
def test_uploads_cut_in_their_header_are_invalid_input(
    name: str, keep: int, encoded: dict[str, bytes]
) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        decode(encoded[name][:keep])
    assert caught.value.field == "audio"


@pytest.mark.parametrize("name", ["flac", "mp3", "ogg", "webm", "aac"])
def test_uploads_cut_in_their_audio_keep_what_they_hold(
    name: str, encoded: dict[str, bytes], reference: Floats
) -> None:
    data = encoded[name]
    chunk = decode(data[: len(data) * 2 // 3])
    assert 0.2 * len(reference) < chunk.frames < 0.9 * len(reference)


@pytest.mark.parametrize("name", ["stereo24.wav", "float.wav", "u8.wav"])
def test_a_wav_cut_in_its_audio_is_truncated(name: str, encoded: dict[str, bytes]) -> None:
    """A WAV header says how long its audio is: a file that holds less was cut short."""
    data = encoded[name]
    with pytest.raises(UnreadableMedia, match="WAV file is truncated: its data chunk declares"):
        decode(data[: len(data) * 2 // 3])


SPEECHLIKE = (np.sin(np.arange(16_000) * 0.3) * 12_000).astype("<i2").tobytes()


@pytest.mark.parametrize(
    ("riff_size", "data_size"),
    [
        (36 + 32_000, 32_000),  # the header of a full second, the first half of it
        (36 + 2 * len(SPEECHLIKE), 0xFFFFFFF0),  # a data length far beyond the file
        (36 + len(SPEECHLIKE), 0xFFFFFFFF),  # a stream placeholder in one size only
    ],
)
def test_a_wav_declaring_more_audio_than_it_holds_is_refused(
    riff_size: int, data_size: int
) -> None:
    data = wav(SPEECHLIKE[:16_000], riff_size=riff_size, data_size=data_size)
    with pytest.raises(UnreadableMedia, match="truncated") as caught:
        decode(data)
    assert caught.value.field == "audio"


@pytest.mark.parametrize(
    ("riff_size", "data_size"),
    [(0xFFFFFFFF, 0xFFFFFFFF), (0x7FFFF024, 0x7FFFF000)],  # FFmpeg's and sox's placeholders
    ids=["ffmpeg", "sox"],
)
def test_a_stream_of_unknown_length_keeps_what_it_holds(riff_size: int, data_size: int) -> None:
    data = wav(SPEECHLIKE, riff_size=riff_size, data_size=data_size)
    assert decode(data).audio == SPEECHLIKE


@pytest.mark.parametrize("rate", [0, 999, 768_001, 4_000_037, 0xFFFFFFFF])
def test_a_wav_at_an_implausible_rate_is_refused_naming_the_rate(rate: int) -> None:
    """A 32 KB upload claiming 4,000,037 Hz cost 10 s of CPU and 2.6 GB in the resampler."""
    data = wav(SPEECHLIKE, rate=rate, riff_size=36 + 32_000, data_size=32_000)
    with pytest.raises(UnreadableMedia, match=f"{rate} Hz is not a supported sample rate"):
        decode(data)


@pytest.mark.parametrize("rate", [1_000, 768_000])
def test_the_extreme_plausible_rates_decode(rate: int) -> None:
    data = wav(SPEECHLIKE, rate=rate, riff_size=36 + 32_000, data_size=32_000)
    assert decode(data).frames == -(-16_000 * 16_000 // rate)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_float_wav_holding_no_numbers_is_refused(bad: float) -> None:
    floats = np.full(16_000, 0.25, dtype="<f4")
    floats[100:200] = bad
    fmt = struct.pack("<HHIIHH", 3, 1, 16_000, 64_000, 4, 32)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", floats.nbytes)
    data = b"RIFF" + struct.pack("<I", len(body) + floats.nbytes) + body + floats.tobytes()
    with pytest.raises(UnreadableMedia, match="not numbers"):
        decode(data)


def test_an_mp4_cut_before_its_index_is_invalid_input(encoded: dict[str, bytes]) -> None:
    data = encoded["m4a"]  # ffmpeg writes the moov index last: without it nothing decodes
    with pytest.raises(UnsupportedMedia, match="not a valid mov file"):
        decode(data[: len(data) * 2 // 3])


def test_a_wav_with_no_frames_is_invalid_input() -> None:
    with pytest.raises(UnsupportedMedia, match="no samples"):
        decode(wav_header(16_000, 1, 2, 0))


def test_an_ogg_with_no_samples_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "empty.ogg"
    run(
        "ffmpeg",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=mono",
        "-t",
        "0",
        "-c:a",
        "libopus",
        str(path),
    )
    with pytest.raises(UnsupportedMedia):
        decode(path.read_bytes())


def test_a_video_without_sound_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "video.webm"
    run(
        "ffmpeg",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=32x32:d=0.2",
        "-c:v",
        "libvpx",
        str(path),
    )
    with pytest.raises(UnsupportedMedia, match="no audio track"):
        decode(path.read_bytes())


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["flac", "ogg", "mp3", "m4a", "webm", "aac"]),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), min_size=1, max_size=40),
)
def test_damaged_uploads_decode_or_fail_cleanly(
    name: str, flips: list[tuple[float, int]], encoded: dict[str, bytes]
) -> None:
    data = bytearray(encoded[name])
    for where, mask in flips:
        data[min(len(data) - 1, int(where * len(data)))] ^= mask
    try:  # a decode that runs away hits its time budget (tested below)
        chunk = decode(bytes(data))
    except UnsupportedMedia as exc:
        assert exc.field == "audio"
    else:
        assert chunk.rate == 16_000 and chunk.frames > 0


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Ten minutes of tone as a small MP3 (decoding it all takes about 3 s here), and 20 s
    of 16 kHz WAV."""
    folder = tmp_path_factory.mktemp("long")
    tone = "sine=frequency=440:sample_rate={rate}:duration={seconds}"
    mp3, wav = folder / "long.mp3", folder / "long.wav"
    run("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", tone.format(rate=8000, seconds=600),
        "-b:a", "8k", str(mp3))  # fmt: skip
    run("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", tone.format(rate=16000, seconds=20),
        str(wav))  # fmt: skip
    return {"long.mp3": mp3.read_bytes(), "long.wav": wav.read_bytes()}


@pytest.mark.parametrize("name", ["long.mp3", "long.wav"])
def test_long_audio_is_payload_too_large_without_decoding_it_all(
    name: str, long_audio: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[float] = []
    keep = codecs._AvDecoder.keep

    def counting(decoder: codecs._AvDecoder, out: Any) -> None:
        keep(decoder, out)
        decoded.append(decoder.frames / decoder.rate)

    monkeypatch.setattr(codecs._AvDecoder, "keep", counting)
    with pytest.raises(MediaTooLarge, match="longer than the limit of 5 seconds") as caught:
        decode(long_audio[name], limits=DecodeLimits(max_seconds=5))
    assert caught.value.field == "audio"
    # WAV is refused from its header alone; MP3 stops a packet past the limit, not at 10 min
    assert max(decoded, default=0.0) < 5.5
    assert name == "long.wav" or decoded


def test_audio_within_the_limit_decodes(long_audio: dict[str, bytes]) -> None:
    assert decode(long_audio["long.wav"], limits=DecodeLimits(max_seconds=20.5)).seconds == 20.0


def test_a_decode_over_its_time_budget_is_refused(long_audio: dict[str, bytes]) -> None:
    with pytest.raises(UnsupportedMedia, match="took longer than"):
        decode(long_audio["long.mp3"], limits=DecodeLimits(timeout_seconds=0.0))


def test_silent_audio_is_valid_audio(tmp_path: Path) -> None:
    chunk = decode(encode(np.zeros(16_000, dtype=np.float32), "flac", rate=16_000))
    assert chunk.seconds == 1.0  # the endpoint decides with convert.is_silent()


# --- WAV reader -----------------------------------------------------------------------------


def riff(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"WAVE"
    for chunk_id, payload in chunks:
        body += chunk_id + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt(tag: int, channels: int, rate: int, bits: int) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


def extensible(sub_tag: int, channels: int, rate: int, bits: int) -> bytes:
    guid = struct.pack("<H", sub_tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return fmt(0xFFFE, channels, rate, bits) + struct.pack("<HHI", 22, bits, 3) + guid


@pytest.mark.parametrize(
    ("fmt_chunk", "payload", "expected"),
    [
        (fmt(1, 1, 8000, 8), bytes([0, 128, 255]), [[-1.0], [0.0], [127 / 128]]),
        (fmt(1, 1, 8000, 16), struct.pack("<hh", -32768, 16384), [[-1.0], [0.5]]),
        (fmt(1, 1, 8000, 24), b"\x00\x00\x80\x00\x00\x40", [[-1.0], [0.5]]),
        (fmt(1, 1, 8000, 32), struct.pack("<i", 1 << 30), [[0.5]]),
        (fmt(3, 1, 8000, 32), struct.pack("<ff", 0.25, -2.0), [[0.25], [-1.0]]),
        (fmt(3, 1, 8000, 64), struct.pack("<d", -0.5), [[-0.5]]),
        (fmt(1, 2, 8000, 16), struct.pack("<hhh", 16384, -16384, 99), [[0.5, -0.5]]),
        (extensible(1, 1, 8000, 16), struct.pack("<h", 8192), [[0.25]]),
        (extensible(3, 1, 8000, 32), struct.pack("<f", 0.75), [[0.75]]),
    ],
)
def test_parse_wav_formats(fmt_chunk: bytes, payload: bytes, expected: list[list[float]]) -> None:
    wav = parse_wav(riff((b"fmt ", fmt_chunk), (b"data", payload)))
    assert wav.rate == 8000
    assert np.allclose(wav.frames, expected, atol=1e-6)


def test_parse_wav_skips_other_chunks_with_their_padding() -> None:
    data = riff((b"fmt ", fmt(1, 1, 8000, 16)), (b"LIST", b"odd"), (b"data", b"\x00\x40"))
    assert np.allclose(parse_wav(data).frames, [[0.5]])


def test_parse_wav_reads_to_the_end_when_the_data_size_is_unknown() -> None:
    data = wav_header(8000, 1, 2, None) + struct.pack("<hh", 16384, -16384)
    assert np.allclose(parse_wav(data).frames, [[0.5], [-0.5]])


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"RIFF\x00\x00\x00\x00WAVX", UnsupportedMedia, "not a WAV"),
        (riff((b"data", b"\x00\x00"), (b"fmt ", fmt(1, 1, 8000, 16))), UnsupportedMedia, "before"),
        (riff((b"fmt ", b"\x01\x00\x01\x00")), UnsupportedMedia, "fmt chunk is truncated"),
        (riff((b"fmt ", fmt(1, 1, 8000, 16))), UnsupportedMedia, "no data chunk"),
        (riff((b"fmt ", fmt(1, 0, 8000, 16)), (b"data", b"")), UnsupportedMedia, "0 channels"),
        (riff((b"fmt ", fmt(1, 1, 8000, 12)), (b"data", b"")), UnsupportedMedia, "12-bit"),
        (riff((b"fmt ", fmt(2, 1, 8000, 4)), (b"data", b"")), UnsupportedWav, "0x0002"),
    ],
)
def test_parse_wav_errors(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_wav(data)


# --- encoding -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech16(reference: Floats) -> AudioChunk:
    return AudioChunk(float_to_pcm(reference, 2), 16_000)


@pytest.mark.parametrize("audio_format", ["wav", "flac"])
def test_lossless_formats_round_trip_exactly(audio_format: str, speech16: AudioChunk) -> None:
    assert decode(encode(speech16, audio_format)).audio == speech16.audio


def test_pcm_is_the_raw_samples(speech16: AudioChunk) -> None:
    assert encode(speech16, "pcm") == speech16.audio


@pytest.mark.parametrize("audio_format", ["mp3", "opus", "ogg", "aac"])
def test_lossy_formats_round_trip_within_tolerance(
    audio_format: str, speech16: AudioChunk, reference: Floats
) -> None:
    data = encode(speech16, audio_format)
    assert sniff_container(data) is not None
    _lag, snr, correlation = aligned_snr(reference, chunk_frames(decode(data)).reshape(-1))
    assert snr > 12.0
    assert correlation > 0.98


def test_encode_takes_chunks_of_mixed_rates_and_bare_samples() -> None:
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16_000)).astype(np.float32)
    at16 = AudioChunk(float_to_pcm(tone, 2), 16_000)
    at8 = AudioChunk(float_to_pcm(resample(tone, 16_000, 8000), 2), 8000)
    out = decode(encode([at16, at8], "wav"))
    assert out.seconds == pytest.approx(1.0, abs=0.01)
    assert decode(encode(tone, "wav", rate=16_000)).audio == at16.audio
    with pytest.raises(ValueError, match="rate"):
        encode(tone, "wav")


def test_wav_header_sizes() -> None:
    data = encode(AudioChunk(b"\x01\x00" * 10, 16_000), "wav")
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert struct.unpack_from("<I", data, 40)[0] == 20
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getframerate(), reader.getnframes()) == (16_000, 10)


@pytest.mark.parametrize("audio_format", AUDIO_FORMATS)
def test_streaming_encoders_give_a_decodable_file(audio_format: str, speech16: AudioChunk) -> None:
    encoder = stream_encoder(audio_format, 22_050)
    assert encoder.content_type == content_type(audio_format)
    tone = resample(chunk_frames(speech16).reshape(-1), 16_000, 22_050)
    audio = float_to_pcm(tone, 2)
    pieces = [
        encoder.encode(AudioChunk(audio[i : i + 4410], 22_050)) for i in range(0, len(audio), 4410)
    ]
    pieces.append(encoder.finish())
    data = b"".join(pieces)
    if audio_format == "pcm":
        assert data == audio
        return
    assert sum(1 for piece in pieces[:-1] if piece) >= 3  # bytes flow before the end
    decoded = decode(data)
    assert abs(decoded.seconds - speech16.seconds) < 0.15


def test_a_streamed_wav_says_its_length_is_unknown_and_still_reads(speech16: AudioChunk) -> None:
    encoder = stream_encoder("wav", 16_000)
    data = encoder.encode(speech16) + encoder.finish()
    assert struct.unpack_from("<II", data, 4)[0] == 0xFFFFFFFF
    assert struct.unpack_from("<I", data, 40)[0] == 0xFFFFFFFF
    assert decode(data).audio == speech16.audio
    with wave.open(io.BytesIO(data)) as reader:  # Python's reader stops at the end
        assert reader.readframes(10**9) == speech16.audio
    with av.open(io.BytesIO(data), format="wav") as container:  # and so does FFmpeg
        frames = sum(frame.samples for frame in container.decode(audio=0))
    assert frames == speech16.frames


@pytest.mark.parametrize(
    ("audio_format", "rate", "expected"),
    [
        ("opus", 22_050, 24_000),
        ("opus", 16_000, 16_000),
        ("ogg", 44_100, 48_000),
        ("opus", 96_000, 48_000),
        ("mp3", 22_050, 22_050),
        ("mp3", 20_000, 22_050),
        ("aac", 16_000, 16_000),
        ("wav", 12_345, 12_345),
        ("flac", 22_050, 22_050),
    ],
)
def test_encoder_rate(audio_format: str, rate: int, expected: int) -> None:
    assert encoder_rate(audio_format, rate) == expected


@pytest.mark.parametrize(
    ("audio_format", "media_type"),
    [("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("opus", "audio/ogg"), ("pcm", "audio/pcm")],
)
def test_content_types(audio_format: str, media_type: str) -> None:
    assert content_type(audio_format) == media_type


def test_unknown_formats_are_invalid_input() -> None:
    with pytest.raises(UnsupportedMedia, match="unsupported audio format 'wma'") as caught:
        check_format("wma")
    assert caught.value.field == "format"
    with pytest.raises(UnsupportedMedia):
        encode(AudioChunk(b"\x00\x00", 16_000), "wma")


def test_ffmpeg_is_there() -> None:
    assert shutil.which("ffmpeg") and shutil.which("espeak-ng")
