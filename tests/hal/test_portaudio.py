"""Sound cards through PortAudio: device choice, format negotiation, the callback-to-asyncio
hand-over, xruns, unplugging; against a fake ``sounddevice`` module, and for real through
PortAudio and ALSA with an ``.asoundrc`` that routes the devices to raw files."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from hal.audio import AudioChunk, Microphone, Speaker
from hal.audio.convert import chunk_frames, float_to_pcm
from hal.audio.portaudio import (
    AudioDevice,
    SoundDeviceMicrophone,
    SoundDeviceSpeaker,
    devices_from,
    list_devices,
    negotiate_format,
    select_device,
)
from hal.errors import DeviceUnavailable
from tests.hal.pacing import HANG_GUARD_SECONDS

ROOT = Path(__file__).parent.parent.parent


def dominant_frequency(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    return float((k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / len(samples))


# --- pure: devices, selection, negotiation --------------------------------------------------

DEVICES = [
    AudioDevice(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", "ALSA", 2, 2, 44_100),
    AudioDevice(1, "USB PnP Sound Device: Audio (hw:1,0)", "ALSA", 1, 0, 48_000),
    AudioDevice(2, "HDMI 0 (hw:0,3)", "ALSA", 0, 8, 48_000),
    AudioDevice(3, "pulse", "ALSA", 32, 32, 44_100),
    AudioDevice(4, "default", "ALSA", 32, 32, 44_100, True, True),
]


def test_devices_from_sounddevice_records() -> None:
    raw = [
        {
            "name": "mic",
            "index": 0,
            "hostapi": 0,
            "max_input_channels": 2,
            "max_output_channels": 0,
            "default_samplerate": 48000.0,
        },
        {
            "name": "out",
            "index": 1,
            "hostapi": 1,
            "max_input_channels": 0,
            "max_output_channels": 2,
            "default_samplerate": 44100.0,
        },
    ]
    devices = devices_from(raw, [{"name": "ALSA"}, {"name": "JACK"}], 0, -1)
    assert devices == [
        AudioDevice(0, "mic", "ALSA", 2, 0, 48_000, True, False),
        AudioDevice(1, "out", "JACK", 0, 2, 44_100, False, False),
    ]


@pytest.mark.parametrize(
    ("spec", "direction", "index"),
    [
        (None, "input", 4),
        (None, "output", 4),
        ("", "input", 4),
        (1, "input", 1),
        ("1", "input", 1),
        (" 2 ", "output", 2),
        ("usb", "input", 1),
        ("USB PnP", "input", 1),
        ("hdmi", "output", 2),
        ("default", "input", 4),
        ("hw:0", "input", 0),  # several match: the first
        ("PULSE", "output", 3),
    ],
)
def test_select_device(spec: str | int | None, direction: Any, index: int) -> None:
    assert select_device(DEVICES, spec, direction).index == index


@pytest.mark.parametrize(
    ("spec", "direction", "message"),
    [
        ("usb", "output", "no speaker matches 'usb'; output devices: 0 'HDA"),
        ("hdmi", "input", "no microphone matches 'hdmi'; input devices: 0 'HDA"),
        (2, "input", "no microphone with index 2"),
        (9, "output", "no speaker with index 9"),
    ],
)
def test_select_device_errors_list_the_devices(spec: Any, direction: Any, message: str) -> None:
    with pytest.raises(DeviceUnavailable) as caught:
        select_device(DEVICES, spec, direction)
    assert caught.value.detail.startswith(message)


def test_no_devices_at_all() -> None:
    with pytest.raises(DeviceUnavailable, match="no microphone found"):
        select_device([], None, "input")
    lonely = [AudioDevice(0, "speaker only", "ALSA", 0, 2, 48_000)]
    assert select_device(lonely, None, "output").index == 0  # no default marked: first usable


@pytest.mark.parametrize(
    ("supported", "rate", "channels", "expected"),
    [
        ({(16_000, 1)}, 16_000, 1, (16_000, 1)),
        ({(48_000, 1)}, 16_000, 1, (48_000, 1)),  # the default rate, then resample
        ({(48_000, 2)}, 16_000, 1, (48_000, 2)),  # and mix down
        ({(16_000, 2)}, 16_000, 1, (16_000, 2)),
        ({(44_100, 1)}, 16_000, 1, (44_100, 1)),
    ],
)
def test_negotiate_format(
    supported: set[tuple[int, int]], rate: int, channels: int, expected: tuple[int, int]
) -> None:
    device = AudioDevice(0, "card", "ALSA", 2, 2, 48_000)
    assert (
        negotiate_format(rate, channels, device, "input", lambda r, c: (r, c) in supported)
        == expected
    )


def test_negotiate_format_gives_up_clearly() -> None:
    device = AudioDevice(0, "odd card", "ALSA", 2, 2, 48_000)
    with pytest.raises(DeviceUnavailable, match="'odd card' supports neither 16000 Hz"):
        negotiate_format(16_000, 1, device, "input", lambda r, c: False)


# --- a fake sounddevice module --------------------------------------------------------------


class PortAudioError(Exception):
    pass


@dataclass
class Flags:
    input_overflow: bool = False
    output_underflow: bool = False


@dataclass
class Behaviour:
    """How the fake sound card behaves."""

    rates: set[int] = field(default_factory=lambda: {16_000, 48_000})
    channels: set[int] = field(default_factory=lambda: {1, 2})
    block_seconds_real: float = 0.0  # wall time per block; 0: as fast as possible
    overflow_blocks: set[int] = field(default_factory=set)
    underflow_blocks: set[int] = field(default_factory=set)
    unplug_after: int | None = None  # blocks, then finished_callback
    hang_after: int | None = None  # blocks, then silence from PortAudio
    fail_open: bool = False
    hung_abort: threading.Event | None = None  # abort() blocks until it is set
    signal: Callable[[int, int, int], npt.NDArray[np.float32]] | None = None
    pace: CardPace | None = None  # blocks run when the test says so (overrides the above)


class CardPace:
    """The fake card's clock, in the test's hands: one block per turn the test gives.

    The card's thread waits for a turn before each block; ``run_blocks`` gives turns and
    returns once those blocks have been captured or played. ``run_freely`` lets the card
    run on without waiting (and releases it for closing).
    """

    def __init__(self) -> None:
        self._turns = threading.Semaphore(0)
        self._done = threading.Semaphore(0)
        self._free = threading.Event()

    def wait_turn(self) -> None:
        """Card thread: until the test gives a turn."""
        if not self._free.is_set():
            self._turns.acquire()

    def block_done(self) -> None:
        """Card thread: one block went through the callback."""
        self._done.release()

    async def run_blocks(self, count: int) -> None:
        """Let the card run ``count`` blocks, one after the other."""
        for _ in range(count):
            self._turns.release()
            await asyncio.to_thread(self._done.acquire)

    def run_freely(self) -> None:
        """Stop pacing the card."""
        self._free.set()
        self._turns.release()


class FakeStream:
    def __init__(self, module: FakeSoundDevice, kind: str, **settings: Any) -> None:
        self.module, self.kind, self.settings = module, kind, settings
        self.latency = 0.01
        self.played = bytearray()
        self.blocks = 0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        behaviour = self.module.behaviour
        rate, channels = self.settings["samplerate"], self.settings["channels"]
        block = self.settings["blocksize"]
        position = 0
        while not self._halt.is_set():
            if behaviour.pace is not None:
                behaviour.pace.wait_turn()
                if self._halt.is_set():
                    return
            if behaviour.unplug_after is not None and self.blocks >= behaviour.unplug_after:
                self.settings["finished_callback"]()
                return
            if behaviour.hang_after is not None and self.blocks >= behaviour.hang_after:
                return
            if self.kind == "input":
                signal = behaviour.signal or (lambda p, n, r: np.zeros(n, dtype=np.float32))
                mono = signal(position, block, rate)
                data = float_to_pcm(np.repeat(mono[:, None], channels, axis=1), 2)
                flags = Flags(input_overflow=self.blocks in behaviour.overflow_blocks)
                self.settings["callback"](data, block, None, flags)
            else:
                out = bytearray(block * channels * 2)
                flags = Flags(output_underflow=self.blocks in behaviour.underflow_blocks)
                self.settings["callback"](out, block, None, flags)
                self.played += out
            position += block
            self.blocks += 1
            if behaviour.pace is not None:
                behaviour.pace.block_done()
            elif behaviour.block_seconds_real:
                time.sleep(behaviour.block_seconds_real)
            else:
                time.sleep(0)

    def abort(self, ignore_errors: bool = True) -> None:
        if self.module.behaviour.hung_abort is not None:
            self.module.behaviour.hung_abort.wait()
        self._halt.set()
        if self.module.behaviour.pace is not None:
            self.module.behaviour.pace.run_freely()
        if self._thread is not None:
            self._thread.join()

    def close(self, ignore_errors: bool = True) -> None:
        pass


class FakeDefault:
    device = (0, 0)


class FakeSoundDevice:
    """Just enough of the ``sounddevice`` module."""

    PortAudioError = PortAudioError

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.default = FakeDefault()
        self.streams: list[FakeStream] = []

    def query_devices(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "Fake Card",
                "index": 0,
                "hostapi": 0,
                "max_input_channels": 2,
                "max_output_channels": 2,
                "default_samplerate": 48000.0,
            },
            {
                "name": "Other Card",
                "index": 1,
                "hostapi": 0,
                "max_input_channels": 1,
                "max_output_channels": 0,
                "default_samplerate": 44100.0,
            },
        ]

    def query_hostapis(self) -> list[dict[str, Any]]:
        return [{"name": "ALSA"}]

    def _check(self, device: int, channels: int, dtype: str, samplerate: int) -> None:
        if samplerate not in self.behaviour.rates or channels not in self.behaviour.channels:
            raise PortAudioError("Invalid sample rate")

    check_input_settings = _check
    check_output_settings = _check

    def _open(self, kind: str, settings: dict[str, Any]) -> FakeStream:
        if self.behaviour.fail_open:
            raise PortAudioError("Device unavailable [PaErrorCode -9985]")
        stream = FakeStream(self, kind, **settings)
        self.streams.append(stream)
        return stream

    def RawInputStream(self, **settings: Any) -> FakeStream:  # sounddevice's name
        return self._open("input", settings)

    def RawOutputStream(self, **settings: Any) -> FakeStream:
        return self._open("output", settings)


def sine_signal(frequency: float) -> Callable[[int, int, int], npt.NDArray[np.float32]]:
    def signal(position: int, count: int, rate: int) -> npt.NDArray[np.float32]:
        t = (position + np.arange(count)) / rate
        return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)

    return signal


async def take(microphone: SoundDeviceMicrophone, count: int) -> list[AudioChunk]:
    out = []
    async for chunk in microphone.chunks():
        out.append(chunk)
        if len(out) == count:
            break
    return out


def test_sounddevice_classes_satisfy_the_protocols() -> None:
    microphone: Microphone = SoundDeviceMicrophone(module=FakeSoundDevice())
    speaker: Speaker = SoundDeviceSpeaker(module=FakeSoundDevice())
    assert microphone.rate == 16_000 and speaker.name == "default speaker"


async def test_microphone_at_the_rate_asked_for() -> None:
    module = FakeSoundDevice(Behaviour(signal=sine_signal(440.0)))
    microphone = SoundDeviceMicrophone(module=module, queue_chunks=1000)
    chunks = await take(microphone, 50)
    await microphone.close()
    assert (microphone.device_rate, microphone.device_channels) == (16_000, 1)
    assert microphone.name == "Fake Card"
    assert [c.frames for c in chunks] == [320] * 50
    assert [c.timestamp for c in chunks[:3]] == [0.0, 0.02, 0.04]
    samples = np.concatenate([chunk_frames(c).reshape(-1) for c in chunks])
    assert dominant_frequency(samples, 16_000) == pytest.approx(440.0, abs=0.5)


async def test_microphone_resamples_when_the_card_cannot_do_16k() -> None:
    behaviour = Behaviour(rates={48_000}, channels={2}, signal=sine_signal(1000.0))
    microphone = SoundDeviceMicrophone(module=FakeSoundDevice(behaviour), queue_chunks=1000)
    chunks = await take(microphone, 60)
    await microphone.close()
    assert (microphone.device_rate, microphone.device_channels) == (48_000, 2)
    assert all((c.rate, c.channels, c.width) == (16_000, 1, 2) for c in chunks)
    samples = np.concatenate([chunk_frames(c).reshape(-1) for c in chunks])[400:]
    assert dominant_frequency(samples, 16_000) == pytest.approx(1000.0, abs=0.5)
    assert np.max(np.abs(samples)) == pytest.approx(0.3, abs=0.01)
    position = chunks[0].timestamp
    for chunk in chunks:  # stream time, continuous across chunks
        assert chunk.timestamp == pytest.approx(position)
        position += chunk.seconds


async def test_a_slow_consumer_loses_the_oldest_chunks_and_counts_them() -> None:
    pace = CardPace()
    microphone = SoundDeviceMicrophone(module=FakeSoundDevice(Behaviour(pace=pace)), queue_chunks=5)
    await asyncio.to_thread(microphone.open)
    await pace.run_blocks(1)
    chunks = await take(microphone, 1)
    await pace.run_blocks(12)  # the consumer is busy: 12 blocks for a queue of 5
    chunks += await take(microphone, 5)
    await microphone.close()
    assert microphone.dropped_chunks == 7
    # The oldest were dropped; the rest keep their capture times, not re-timed.
    assert [round(c.timestamp, 2) for c in chunks] == [0.0, 0.16, 0.18, 0.2, 0.22, 0.24]


async def test_overflows_are_counted() -> None:
    behaviour = Behaviour(overflow_blocks={2, 5})
    microphone = SoundDeviceMicrophone(module=FakeSoundDevice(behaviour), queue_chunks=1000)
    await take(microphone, 8)
    await microphone.close()
    assert microphone.overflows == 2


async def test_an_unplugged_microphone_raises_hardware_unavailable() -> None:
    behaviour = Behaviour(unplug_after=5, block_seconds_real=0.001)
    microphone = SoundDeviceMicrophone(module=FakeSoundDevice(behaviour), queue_chunks=1000)
    with pytest.raises(DeviceUnavailable, match="stopped \\(unplugged\\?\\)"):
        await take(microphone, 100)
    await microphone.close()


async def test_a_microphone_that_goes_quiet_raises_instead_of_hanging() -> None:
    behaviour = Behaviour(hang_after=3)
    microphone = SoundDeviceMicrophone(
        module=FakeSoundDevice(behaviour), stall_timeout_seconds=0.2, queue_chunks=1000
    )
    with pytest.raises(DeviceUnavailable, match=r"stopped delivering audio for 0\.2 s"):
        await asyncio.wait_for(take(microphone, 100), 10)  # without the check: forever
    await microphone.close()


async def test_a_device_that_will_not_open() -> None:
    microphone = SoundDeviceMicrophone(module=FakeSoundDevice(Behaviour(fail_open=True)))
    with pytest.raises(DeviceUnavailable, match="cannot open microphone 'Fake Card'"):
        await take(microphone, 1)


async def test_microphone_by_name_and_a_clear_error_for_a_missing_one() -> None:
    microphone = SoundDeviceMicrophone("other", module=FakeSoundDevice(), queue_chunks=1000)
    await take(microphone, 1)
    await microphone.close()
    assert microphone.device == list_devices(FakeSoundDevice())[1]
    missing = SoundDeviceMicrophone("usb", module=FakeSoundDevice())
    with pytest.raises(
        DeviceUnavailable,
        match="no microphone matches 'usb'; input devices: 0 'Fake Card', 1 'Other Card'",
    ):
        await take(missing, 1)


async def test_closing_never_blocks_on_a_hung_device() -> None:
    driver = threading.Event()
    module = FakeSoundDevice(Behaviour(hung_abort=driver, block_seconds_real=0.01))
    microphone = SoundDeviceMicrophone(module=module, close_timeout_seconds=0.1, queue_chunks=1000)
    await take(microphone, 2)
    await microphone.close()  # returns although abort() is stuck in the driver
    assert not module.streams[0]._halt.is_set()
    driver.set()


async def chunks_of(
    samples: npt.NDArray[np.float32], rate: int, size: int
) -> AsyncIterator[AudioChunk]:
    audio = float_to_pcm(samples, 2)
    for start in range(0, len(audio), size * 2):
        yield AudioChunk(audio[start : start + size * 2], rate)


def tone(rate: int, seconds: float, frequency: float = 440.0) -> npt.NDArray[np.float32]:
    t = np.arange(round(rate * seconds)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


async def test_speaker_plays_everything_in_order() -> None:
    module = FakeSoundDevice()  # faster than real time: silence fills in while we wait
    speaker = SoundDeviceSpeaker(module=module)
    pcm = np.frombuffer(float_to_pcm(tone(16_000, 0.5), 2), "<i2").copy()
    pcm[pcm == 0] = 1  # so inserted silence is told apart from the tone
    samples = (pcm / 32768).astype(np.float32)
    assert await speaker.play(chunks_of(samples, 16_000, 333)) is True
    await speaker.close()
    played = np.frombuffer(bytes(module.streams[0].played), "<i2")
    assert np.array_equal(played[played != 0], pcm)


async def test_speaker_resamples_for_a_card_that_cannot_play_the_rate() -> None:
    module = FakeSoundDevice(Behaviour(rates={48_000}, channels={2}))
    speaker = SoundDeviceSpeaker(module=module)
    lifted = (tone(22_050, 0.5, 1000.0) + 0.4).astype(
        np.float32
    )  # never near zero, unlike inserted silence
    assert await speaker.play(chunks_of(lifted, 22_050, 1000)) is True
    await speaker.close()
    assert (speaker.device_rate, speaker.device_channels) == (48_000, 2)
    played = np.frombuffer(bytes(module.streams[0].played), "<i2").reshape(-1, 2)
    assert np.array_equal(played[:, 0], played[:, 1])
    left = played[:, 0].astype(np.float32) / 32768
    sound = left[left != 0]
    assert abs(len(sound) - 24_000) <= 1
    assert dominant_frequency(sound[200:-200] - 0.4, 48_000) == pytest.approx(1000.0, abs=0.5)


async def test_speaker_stop_returns_at_once_and_play_returns_false() -> None:
    pace = CardPace()
    module = FakeSoundDevice(Behaviour(pace=pace))
    speaker = SoundDeviceSpeaker(module=module)
    playing = asyncio.create_task(speaker.play(chunks_of(tone(16_000, 5.0), 16_000, 320)))
    await pace.run_blocks(10)  # the card plays 0.2 s
    card = module.streams[0]
    before = len(card.played)
    speaker.stop()
    # The card plays nothing more until told: play() returns without the 5 s tone.
    assert await asyncio.wait_for(playing, HANG_GUARD_SECONDS) is False
    await pace.run_blocks(13)  # longer than the 0.25 s queue would take to play out
    after = np.frombuffer(bytes(card.played[before:]), "<i2")
    assert len(after) == 13 * 320
    assert np.count_nonzero(after) == 0  # the queued quarter second was dropped
    # A next playback works on the same stream.
    pace.run_freely()
    assert await speaker.play(chunks_of(tone(16_000, 0.05), 16_000, 320)) is True
    await speaker.close()
    assert len(module.streams) == 1


async def test_speaker_counts_underflows_and_reports_an_unplug() -> None:
    behaviour = Behaviour(underflow_blocks={1}, unplug_after=10, block_seconds_real=0.005)
    speaker = SoundDeviceSpeaker(module=FakeSoundDevice(behaviour))
    with pytest.raises(DeviceUnavailable, match="speaker 'Fake Card' stopped"):
        await speaker.play(chunks_of(tone(16_000, 3.0), 16_000, 320))
    assert speaker.underflows == 1
    await speaker.close()


async def test_speaker_that_stops_consuming_raises_instead_of_hanging() -> None:
    behaviour = Behaviour(hang_after=2, block_seconds_real=0.005)
    speaker = SoundDeviceSpeaker(module=FakeSoundDevice(behaviour), stall_timeout_seconds=0.2)
    with pytest.raises(DeviceUnavailable, match="stopped taking audio"):
        # without the stall check this would wait forever
        await asyncio.wait_for(speaker.play(chunks_of(tone(16_000, 3.0), 16_000, 320)), 10)
    await speaker.close()


def test_list_devices_through_the_module() -> None:
    devices = list_devices(FakeSoundDevice())
    assert [(d.index, d.name, d.is_default_input) for d in devices] == [
        (0, "Fake Card", True),
        (1, "Other Card", False),
    ]


# --- the real thing: PortAudio over ALSA, devices routed to raw files -----------------------

ASOUNDRC = """
pcm.!default {{
    type asym
    playback.pcm "speaker"
    capture.pcm "mic"
}}
# A 48 kHz stereo capture file behind ALSA's converter: recording at 16 kHz mono resamples.
pcm.mic {{
    type plug
    slave {{ pcm "micfile"; format S16_LE; rate 48000; channels 2 }}
}}
pcm.micfile {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{folder}/in48.raw"
    format "raw"
}}
# 16 kHz mono capture, bit for bit.
pcm.mic16 {{
    type plug
    slave {{ pcm "mic16file"; format S16_LE; rate 16000; channels 1 }}
}}
pcm.mic16file {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{folder}/in16.raw"
    format "raw"
}}
pcm.speaker {{
    type plug
    slave {{ pcm "speakerfile"; format S16_LE; rate 16000; channels 1 }}
}}
pcm.speakerfile {{
    type file
    slave.pcm "null"
    file "{folder}/out.raw"
    format "raw"
}}
"""

SCRIPT = """
import asyncio, json, sys
import numpy as np
from hal.audio import AudioChunk
from hal.audio.portaudio import SoundDeviceMicrophone, SoundDeviceSpeaker, list_devices

async def record(device, frames):
    # ALSA's null device runs faster than real time: a deep queue keeps every chunk.
    microphone = SoundDeviceMicrophone(device, queue_chunks=100_000)
    out = bytearray()
    async for chunk in microphone.chunks():
        out += chunk.audio
        if len(out) >= 2 * frames:
            break
    await microphone.close()
    return bytes(out[: 2 * frames]), microphone

async def main(folder):
    result = {"devices": [d.name for d in list_devices()]}
    resampled, microphone = await record(None, 16_000)
    open(folder + "/rec_default.raw", "wb").write(resampled)
    result["default"] = [microphone.name, microphone.device_rate, microphone.dropped_chunks]
    exact, microphone = await record("mic16", 8_000)
    open(folder + "/rec_mic16.raw", "wb").write(exact)
    result["mic16"] = [microphone.name, microphone.device_rate, microphone.dropped_chunks]
    played = open(folder + "/play.raw", "rb").read()
    speaker = SoundDeviceSpeaker("speak")
    async def chunks():
        for start in range(0, len(played), 640):
            yield AudioChunk(played[start : start + 640], 16_000)
    result["played"] = await speaker.play(chunks())
    result["speaker"] = [speaker.name, speaker.device_rate, speaker.underflows]
    await speaker.close()
    print(json.dumps(result))

asyncio.run(main(sys.argv[1]))
"""


def tone_pcm(rate: int, seconds: float, frequency: float, channels: int) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    mono = 0.3 * np.sin(2 * np.pi * frequency * t)
    return float_to_pcm(np.repeat(mono[:, None], channels, axis=1).astype(np.float32), 2)


def test_sounddevice_for_real_through_alsa_files(tmp_path: Path) -> None:
    folder = str(tmp_path)
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(folder=folder))
    (tmp_path / "in48.raw").write_bytes(tone_pcm(48_000, 2.0, 440.0, 2))
    rng = np.random.default_rng(3)
    in16 = rng.integers(-20_000, 20_000, 16_000, dtype=np.int16).astype("<i2").tobytes()
    (tmp_path / "in16.raw").write_bytes(in16)
    # Played samples are never zero, so gaps the null device leaves can be told apart.
    played = np.frombuffer(tone_pcm(16_000, 0.5, 300.0, 1), "<i2").copy()
    played[played == 0] = 1
    (tmp_path / "play.raw").write_bytes(played.tobytes())
    env = {**os.environ, "HOME": folder, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, folder],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert {"default", "mic", "mic16", "speaker"} <= set(result["devices"])

    # Default capture: the 48 kHz stereo file, resampled by ALSA to 16 kHz mono.
    assert result["default"] == ["default", 16_000, 0]
    recorded = np.frombuffer((tmp_path / "rec_default.raw").read_bytes(), "<i2") / 32768
    assert len(recorded) == 16_000
    assert dominant_frequency(recorded.astype(np.float32), 16_000) == pytest.approx(440, abs=1)
    assert np.max(np.abs(recorded[100:])) == pytest.approx(0.3, abs=0.02)

    # Capture at the file's own format: bit for bit.
    assert result["mic16"] == ["mic16", 16_000, 0]
    assert (tmp_path / "rec_mic16.raw").read_bytes() == in16[:16_000]

    # Playback lands in out.raw; the null device pads with silence where it ran ahead.
    assert result["played"] is True
    assert result["speaker"][:2] == ["speaker", 16_000]
    out = np.frombuffer((tmp_path / "out.raw").read_bytes(), "<i2")
    assert np.array_equal(out[out != 0], played)
