"""Pure parts of the Wyoming face: the pause finder, the frame reader, the --wyoming option."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from assistant.cli.serve import wyoming_settings
from assistant.errors import InvalidInput, PayloadTooLarge
from assistant.settings import Settings
from assistant.wyoming.transcription import RATE, PauseFinder, TranscriptionSession, frame_levels
from hal.audio import AudioChunk
from hal.audio.convert import convert
from runtime.stt.base import Transcript
from server.wyoming.framing import FrameLimits, read_event

LOUD, QUIET = 0.2, 0.0


@pytest.mark.parametrize(
    ("levels", "pauses"),
    [
        ([LOUD] * 20 + [QUIET] * 20, [20]),  # speech, then a pause where it began
        ([LOUD] * 5 + [QUIET] * 20, []),  # too little speech before the quiet
        ([LOUD] * 20 + [QUIET] * 9 + [LOUD] * 20, []),  # a gap shorter than a pause
        ([LOUD] * 20 + [QUIET] * 10 + [LOUD] * 20 + [QUIET] * 10, [20, 50]),
        ([QUIET] * 30 + [LOUD] * 10 + [0.004] * 10, [40]),  # -30 dB under the speech is quiet
        ([LOUD] * 20 + [0.05] * 20, []),  # -12 dB is still speech
    ],
)
def test_pauses_are_found_where_they_begin(levels: list[float], pauses: list[int]) -> None:
    finder = PauseFinder(pause_frames=10, speech_frames=10)
    assert [b for level in levels if (b := finder.push(level)) is not None] == pauses


@given(st.lists(st.floats(min_value=0, max_value=1), max_size=300))
def test_a_pause_begins_after_the_last_one_and_before_now(levels: list[float]) -> None:
    finder = PauseFinder(pause_frames=10, speech_frames=10)
    last = -1
    for index, level in enumerate(levels):
        began = finder.push(level)
        if began is not None:
            assert last < began <= index - 9
            last = began


def test_frame_levels_are_rms_of_whole_30_ms_frames() -> None:
    frame = (16384).to_bytes(2, "little", signed=True) * 480
    assert frame_levels(frame * 2 + b"\0\0") == [0.5, 0.5]
    assert frame_levels(b"") == []


async def read(data: bytes, limits: FrameLimits | None = None):  # type: ignore[no-untyped-def]
    reader = asyncio.StreamReader(limit=(limits or FrameLimits()).header_bytes)
    reader.feed_data(data)
    reader.feed_eof()
    return await read_event(reader, limits or FrameLimits())


async def test_an_event_with_data_and_payload_is_read_whole() -> None:
    event = await read(
        b'{"type": "audio-chunk", "data": {"rate": 1}, "data_length": 12,'
        b' "payload_length": 3}\n{"width": 2}abc'
    )
    assert (event.type, event.data, event.payload) == (
        "audio-chunk",
        {"rate": 1, "width": 2},
        b"abc",
    )
    assert await read(b"") is None


@pytest.mark.parametrize(
    ("data", "error", "field"),
    [
        (b"{nope\n", InvalidInput, "header"),
        (b'{"type": 5}\n', InvalidInput, "type"),
        (b'{"type": "x", "data": []}\n', InvalidInput, "data"),
        (b'{"type": "x", "payload_length": true}\n', InvalidInput, "payload_length"),
        (b'{"type": "x", "payload_length": 5000001}\n', PayloadTooLarge, "payload_length"),
        (b'{"type": "x", "data_length": 4}\n[1]\n', InvalidInput, "data"),
        (b'{"type": "x", "payload_length": 4}\nab', InvalidInput, "payload"),
        (b'{"type": "x"', InvalidInput, "header"),
    ],
)
async def test_bad_frames_name_what_is_wrong(
    data: bytes, error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as raised:
        await read(data)
    assert raised.value.fields.get("field") == field  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("option", "host", "port"),
    [
        ("10300", "127.0.0.1", 10300),
        ("0.0.0.0:10400", "0.0.0.0", 10400),
        ("[::1]:10300", "::1", 10300),
    ],
)
def test_the_wyoming_option(option: str, host: str, port: int) -> None:
    chosen = wyoming_settings(Settings.load(), option)
    assert (chosen.enabled, chosen.host, chosen.port) == (True, host, port)


@pytest.mark.parametrize("option", ["", "host:", "10300x", "99999"])
def test_a_bad_wyoming_option_is_refused(option: str) -> None:
    with pytest.raises(typer.BadParameter):
        wyoming_settings(Settings.load(), option)


async def test_a_session_decodes_at_pauses_and_only_the_tail_at_the_end() -> None:
    decoded: list[float] = []
    texts: list[str] = []

    async def decode(audio: AudioChunk) -> Transcript:
        decoded.append(round(audio.seconds, 2))
        return Transcript(f"part {len(decoded)}", "en", 1.0, (), audio.seconds)

    async def on_text(text: str) -> None:
        texts.append(text)

    session = TranscriptionSession(decode, pause_seconds=0.3, max_seconds=10, on_text=on_text)
    loud = AudioChunk.from_samples(np.full(RATE, 0.3, dtype=np.float32), RATE)  # 1 s
    quiet = AudioChunk.from_samples(np.zeros(RATE // 2, dtype=np.float32), RATE)  # 0.5 s
    for chunk in (loud, quiet, loud):  # speech, a pause, speech: at 44.1 kHz stereo
        await session.feed(convert(chunk, 44_100, channels=2))
    result = await session.finish()
    assert result.text == "part 1 part 2" and texts == ["part 1", "part 2"]
    assert result.passes == 1
    assert decoded[0] < 1.5  # the first second and part of the pause, decoded early
    assert result.decoded_at_end_seconds == pytest.approx(decoded[1], abs=0.01)
    with pytest.raises(PayloadTooLarge):
        for _ in range(11):
            await session.feed(loud)


async def test_a_quiet_tail_is_not_decoded() -> None:
    async def decode(audio: AudioChunk) -> Transcript:
        raise AssertionError("nothing to decode")

    session = TranscriptionSession(decode)
    await session.feed(AudioChunk(bytes(RATE), RATE))
    result = await session.finish()
    assert (result.text, result.passes, result.decoded_at_end_seconds) == ("", 0, 0.0)
