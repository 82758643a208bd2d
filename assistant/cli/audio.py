"""``assistant audio``: list sound devices, and test the microphone and speaker."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from assistant.cli.common import console, error_message, fail, plain, print_json
from assistant.problems import OWN_ERRORS
from hal.audio.base import Microphone, Speaker
from hal.audio.chunk import AudioChunk
from hal.audio.convert import is_silent, levels, loudest_window_dbfs
from hal.audio.portaudio import (
    AudioDevice,
    SoundDeviceMicrophone,
    SoundDeviceSpeaker,
    list_devices,
)
from hal.audio.wavfile import WavFileMicrophone, WavFileSpeaker

app = typer.Typer(
    help="Sound devices: list them, test microphone and speaker.", no_args_is_help=True
)

METER_FLOOR_DBFS = -60.0
"""The level meter's empty end."""


def meter(dbfs: float, width: int = 30, floor: float = METER_FLOOR_DBFS) -> str:
    """A bar ``width`` characters long for a level between ``floor`` and 0 dBFS."""
    if math.isnan(dbfs) or dbfs <= floor:
        filled = 0
    else:
        filled = min(width, round(width * (dbfs - floor) / -floor))
    return "█" * filled + "·" * (width - filled)


def format_dbfs(dbfs: float) -> str:
    """``-23.4 dBFS``, or ``-inf dBFS`` for digital silence."""
    return "-inf dBFS" if math.isinf(dbfs) else f"{dbfs:.1f} dBFS"


NO_DEVICES = (
    "PortAudio sees no sound devices (no sound card, or no permission on /dev/snd:"
    " add yourself to the 'audio' group)."
)


def device_table(found: list[AudioDevice]) -> Table | str:
    """The devices as a table, default ones marked (a message when there are none)."""
    if not found:
        return NO_DEVICES
    table = Table()
    table.add_column("index", justify="right", no_wrap=True)
    table.add_column("name", overflow="fold")  # names come from drivers and users: any text
    table.add_column("host API", overflow="fold")
    table.add_column("in", justify="right", no_wrap=True)
    table.add_column("out", justify="right", no_wrap=True)
    table.add_column("default rate", justify="right", no_wrap=True)
    table.add_column("default", no_wrap=True)
    for device in found:
        marks = [
            mark
            for mark, on in (
                ("input", device.is_default_input),
                ("output", device.is_default_output),
            )
            if on
        ]
        table.add_row(
            plain(device.index),
            plain(device.name),
            plain(device.host_api),
            plain(device.input_channels),
            plain(device.output_channels),
            plain(f"{round(device.default_rate)} Hz"),
            plain("* " + " + ".join(marks) if marks else ""),
        )
    return table


@app.command("devices")
def devices(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the sound devices PortAudio sees; the defaults are marked."""
    try:
        found = list_devices()
    except OWN_ERRORS as exc:
        raise fail(error_message(exc)) from None
    if as_json:
        print_json([asdict(device) for device in found])
        return
    console.print(device_table(found))


async def _record(
    microphone: Microphone, seconds: float, show: Callable[[AudioChunk, float], None]
) -> list[AudioChunk]:
    """``seconds`` of chunks from ``microphone``, showing each chunk's level."""
    recorded: list[AudioChunk] = []
    total = 0.0
    try:
        async for chunk in microphone.chunks():
            recorded.append(chunk)
            total += chunk.seconds
            show(chunk, total)
            if total >= seconds:
                break
    finally:
        await microphone.close()
    return recorded


async def _replay(speaker: Speaker, chunks: list[AudioChunk]) -> bool:
    async def source() -> AsyncIterator[AudioChunk]:
        for chunk in chunks:
            yield chunk

    try:
        return await speaker.play(source())
    finally:
        await speaker.close()


@app.command("test")
def test(
    seconds: Annotated[
        float, typer.Option("--seconds", "-s", min=0.1, max=60.0, help="How long to record.")
    ] = 3.0,
    device: Annotated[
        str | None,
        typer.Option("--device", "-d", help="Microphone: index or part of its name."),
    ] = None,
    output_device: Annotated[
        str | None,
        typer.Option("--output-device", "-o", help="Speaker: index or part of its name."),
    ] = None,
    rate: Annotated[int, typer.Option(help="Sample rate to record at (Hz).")] = 16_000,
    input_file: Annotated[
        Path | None,
        typer.Option("--input-file", help="Read this WAV instead of a microphone.", exists=True),
    ] = None,
    output_file: Annotated[
        Path | None,
        typer.Option("--output-file", help="Write the playback to this WAV instead."),
    ] = None,
    playback: Annotated[
        bool, typer.Option("--playback/--no-playback", help="Play the recording back.")
    ] = True,
) -> None:
    """Record from the microphone with a level meter, show its levels, and play it back."""
    microphone: Microphone
    if input_file is not None:
        microphone = WavFileMicrophone(input_file, rate=rate)
    else:
        microphone = SoundDeviceMicrophone(device, rate=rate)
    level = Text()

    def show(chunk: AudioChunk, total: float) -> None:
        rms = levels(chunk).rms_dbfs
        level.plain = f"{meter(rms)} {format_dbfs(rms):>10}  {total:4.1f}/{seconds:g} s"
        live.refresh()

    console.print(f"recording {seconds:g} s from {microphone.name} ...", markup=False)
    try:
        with Live(level, console=console, transient=True, auto_refresh=False) as live:
            recorded = asyncio.run(_record(microphone, seconds, show))
    except OWN_ERRORS as exc:
        raise fail(error_message(exc)) from None
    if not recorded:
        raise fail(f"{microphone.name} delivered no audio")
    audio = AudioChunk(
        b"".join(c.audio for c in recorded),
        recorded[0].rate,
        recorded[0].width,
        recorded[0].channels,
    )
    measured = levels(audio)
    console.print(
        f"recorded {audio.seconds:.2f} s at {audio.rate} Hz:"
        f" peak {format_dbfs(measured.peak_dbfs)}, RMS {format_dbfs(measured.rms_dbfs)},"
        f" loudest 30 ms {format_dbfs(loudest_window_dbfs(audio, audio.rate))}"
    )
    if isinstance(microphone, SoundDeviceMicrophone) and (
        microphone.overflows or microphone.dropped_chunks
    ):
        console.print(
            f"[yellow]{microphone.overflows} overflow(s), {microphone.dropped_chunks}"
            " chunk(s) dropped[/]"
        )
    if is_silent(audio):
        console.print("[yellow]the recording is silent: is the microphone muted or unplugged?[/]")
    if measured.peak_dbfs > -0.1:
        console.print("[yellow]the recording clips: lower the input gain[/]")
    if not playback:
        return
    speaker: Speaker
    if output_file is not None:
        speaker = WavFileSpeaker(output_file)
    else:
        speaker = SoundDeviceSpeaker(output_device)
    console.print(f"playing back on {speaker.name} ...", markup=False)
    try:
        completed = asyncio.run(_replay(speaker, recorded))
    except OWN_ERRORS as exc:
        raise fail(error_message(exc)) from None
    console.print("played back" if completed else "[yellow]playback was cut short[/]")
