"""A Wyoming client for tests: the real ``wyoming`` package's, with helpers per flow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from hal.audio import AudioChunk

TIMEOUT = 120.0
"""Longest wait for one event: a hung server fails the test instead of hanging it."""


async def receive(client: AsyncTcpClient) -> Event:
    """The next event (a closed connection fails the test)."""
    event = await asyncio.wait_for(client.read_event(), TIMEOUT)
    assert event is not None, "the server closed the connection"
    return event


async def receive_until(client: AsyncTcpClient, last: Callable[[str], bool]) -> list[Event]:
    """Every event up to and including the first whose type ``last`` accepts."""
    events = []
    while True:
        event = await receive(client)
        events.append(event)
        if last(event.type):
            return events


async def send_audio(client: AsyncTcpClient, audio: AudioChunk, chunk_ms: int = 100) -> None:
    """audio-start, the audio in chunks of ``chunk_ms``, audio-stop."""
    fmt = {"rate": audio.rate, "width": audio.width, "channels": audio.channels}
    await client.write_event(AudioStart(**fmt).event())
    step = audio.rate * chunk_ms // 1000 * audio.width * audio.channels
    for start in range(0, len(audio.audio), step):
        await client.write_event(
            WyomingChunk(audio=audio.audio[start : start + step], **fmt).event()
        )
    await client.write_event(AudioStop().event())


async def transcribe(
    host: str, port: int, audio: AudioChunk, *, language: str | None = None
) -> tuple[str, list[Event]]:
    """The transcript of ``audio`` and every event the server sent."""
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Transcribe(language=language).event())
        await send_audio(client, audio)
        events = await receive_until(client, lambda t: t in ("transcript-stop", "error"))
    finals = [Transcript.from_event(e) for e in events if Transcript.is_type(e.type)]
    assert finals, [e.type for e in events]
    return finals[0].text, events
