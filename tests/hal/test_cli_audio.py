"""``assistant audio devices`` and ``assistant audio test``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from assistant.cli.audio import NO_DEVICES, app, device_table, format_dbfs, meter
from hal.audio import AudioChunk
from hal.audio.convert import float_to_pcm
from hal.audio.portaudio import AudioDevice
from hal.audio.wavfile import write_wav

ROOT = Path(__file__).parent.parent.parent
runner = CliRunner()


@pytest.mark.parametrize(
    ("dbfs", "bar"),
    [
        (0.0, "█" * 10),
        (-30.0, "█" * 5 + "·" * 5),
        (-60.0, "·" * 10),
        (-math.inf, "·" * 10),
        (math.nan, "·" * 10),
        (6.0, "█" * 10),
    ],
)
def test_meter(dbfs: float, bar: str) -> None:
    assert meter(dbfs, width=10) == bar


@pytest.mark.parametrize(("dbfs", "text"), [(-23.44, "-23.4 dBFS"), (-math.inf, "-inf dBFS")])
def test_format_dbfs(dbfs: float, text: str) -> None:
    assert format_dbfs(dbfs) == text


def write_tone(path: Path, seconds: float, amplitude: float) -> None:
    t = np.arange(round(16_000 * seconds)) / 16_000
    samples = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_wav(path, AudioChunk(float_to_pcm(samples, 2), 16_000))


def test_audio_test_with_files(tmp_path: Path) -> None:
    source, played = tmp_path / "in.wav", tmp_path / "out.wav"
    write_tone(source, 2.0, 0.5)
    result = runner.invoke(
        app,
        ["test", "--seconds", "1", "--input-file", str(source), "--output-file", str(played)],
    )
    assert result.exit_code == 0, result.output
    assert "recorded 1.00 s at 16000 Hz: peak -6.0 dBFS, RMS -9.0 dBFS" in result.output
    assert "played back" in result.output
    with wave.open(str(played)) as reader:
        assert reader.getnframes() == 16_000


def test_audio_test_warns_about_silence(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    write_tone(source, 1.0, 0.0)
    result = runner.invoke(app, ["test", "-s", "0.5", "--input-file", str(source), "--no-playback"])
    assert result.exit_code == 0, result.output
    assert "the recording is silent" in result.output


def test_audio_test_with_a_missing_microphone_fails_clearly() -> None:
    # PortAudio here has no device called this (or none at all).
    result = runner.invoke(app, ["test", "-s", "0.2", "--device", "no such microphone"])
    assert result.exit_code == 1
    assert "error:" in result.output or "error:" in (result.stderr or "")


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The audio sub-app in a process of its own, with ``home``'s ``.asoundrc``."""
    code = "import sys; from assistant.cli.audio import app; app(sys.argv[1:])"
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


ASOUNDRC = """
pcm.!default {{ type asym; playback.pcm "speaker"; capture.pcm "mic" }}
pcm.mic {{
    type plug
    slave {{ pcm "micfile"; format S16_LE; rate 16000; channels 1 }}
}}
pcm.micfile {{
    type file; slave.pcm "null"; file "/dev/null"; infile "{home}/in.raw"; format "raw"
}}
pcm.speaker {{
    type plug
    slave {{ pcm "speakerfile"; format S16_LE; rate 16000; channels 1 }}
}}
pcm.speakerfile {{ type file; slave.pcm "null"; file "{home}/out.raw"; format "raw" }}
"""


def test_devices_and_test_through_portaudio(tmp_path: Path) -> None:
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(home=tmp_path))
    t = np.arange(32_000) / 16_000
    (tmp_path / "in.raw").write_bytes(
        float_to_pcm((0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 2)
    )
    listed = cli(tmp_path, "devices")
    assert listed.returncode == 0, listed.stderr
    assert "mic" in listed.stdout and "speaker" in listed.stdout
    default_row = next(line for line in listed.stdout.splitlines() if "│ default " in line)
    assert "* input + output" in default_row
    tested = cli(tmp_path, "test", "--seconds", "1", "--output-device", "speaker")
    assert tested.returncode == 0, tested.stderr
    assert "peak -12.0 dBFS" in tested.stdout
    assert "played back" in tested.stdout
    out = np.frombuffer((tmp_path / "out.raw").read_bytes(), "<i2")
    assert np.count_nonzero(out) > 15_000


def test_device_table() -> None:
    assert device_table([]) == NO_DEVICES
    table = device_table(
        [
            AudioDevice(0, "USB mic", "ALSA", 1, 0, 48_000),
            AudioDevice(1, "default", "ALSA", 32, 32, 44_100, True, True),
        ]
    )
    assert isinstance(table, Table)
    console = Console(width=200, record=True)
    console.print(table)
    lines = console.export_text().splitlines()
    assert any("USB mic" in line and "48000 Hz" in line for line in lines)
    assert any("default" in line and "* input + output" in line for line in lines)


def test_devices_json(tmp_path: Path) -> None:
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(home=tmp_path))
    (tmp_path / "in.raw").write_bytes(bytes(3200))  # ALSA cannot capture from a missing file
    listed = cli(tmp_path, "devices", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {device["name"]: device for device in json.loads(listed.stdout)}
    assert names["default"]["is_default_input"] is True
    assert names["mic"]["host_api"] == "ALSA"
