"""The Wyoming face against the bare engines, in the same run.

- STT: a spoken command sent as fast as the socket takes it, request to transcript,
  against the bare whisper.cpp call on the same audio (ratio, target <= 1.05 in time,
  i.e. runtime/raw >= 0.95).
- TTS: a sentence, request to the last audio chunk, against the bare Piper call.
- Streaming TTS: text arriving word by word as a chat model writes it (20 words/s):
  time from the first word to the first audio, streamed (``synthesize-start`` and
  chunks: the first sentence is spoken while the rest is written) against waiting for
  the whole text (``synthesize`` once it is complete).
- Decoding on arrival: a dictation with pauses streamed in real time, then the client's
  own end-of-speech silence; time from ``audio-stop`` to the transcript, against a
  wyoming-faster-whisper-style server that buffers the stream and transcribes it at
  ``audio-stop`` (the bare engine on the whole buffer, after converting it).

Run: ``python -m benchmarks.wyoming [--repetitions N] [--models-dir DIR] [--json PATH]``;
``--dictation N`` dictates only the first N sentences (a smoke run: each is streamed in
real time, twice).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from benchmarks.common import (
    Row,
    Stats,
    Target,
    base_parser,
    header_line,
    machine_info,
    markdown_table,
    progress,
    rows_table,
    write_json,
)
from hal.audio import AudioChunk
from hal.audio.convert import convert
from runtime.engines import load_engine
from runtime.stt.base import TranscribeOptions
from runtime.tts.base import SynthesisOptions

STT_MODEL = "whisper:tiny.en"
VOICE = "piper:en_US-joe-medium"
RATE = 16_000
COMMAND = "Please turn on the kitchen lights."
SENTENCE = "The weather today is sunny and warm, with a light breeze from the west."
STREAMED_TEXT = (
    "The weather today is sunny and warm. Tomorrow it will rain in the morning,"
    " then clear up by the afternoon. Take an umbrella if you go out early."
)
DICTATION = (
    "Please remind me to water the plants tomorrow morning.",
    "Then play some quiet music in the living room.",
    "And turn off the lights in the hallway at ten.",
)
WORDS_PER_SECOND = 20.0
"""How fast the text of the streaming-synthesis run arrives (a chat model's pace)."""
END_SILENCE_SECONDS = 0.8
"""Silence a client's own end-of-speech detector waits before it sends ``audio-stop``."""
DISTRIBUTIONS = ("pywhispercpp", "piper-tts", "wyoming")


@dataclass
class Measured:
    """Every sample of a run, by name (milliseconds)."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds * 1000)

    def stats(self, name: str) -> Stats:
        return Stats.of(self.samples[name])


def spoken(tts: Any, text: str, pad_seconds: float = 0.25) -> AudioChunk:
    """``text`` in the Piper voice, 16 kHz, with a little silence around it."""
    audio = b"".join(c.audio for c in tts.synthesize(text, SynthesisOptions()))
    speech = convert(AudioChunk(audio, tts.sample_rate), RATE).samples()
    pad = np.zeros(int(RATE * pad_seconds), dtype=np.float32)
    return AudioChunk.from_samples(np.concatenate((pad, speech, pad)), RATE)


async def send_chunks(
    client: AsyncTcpClient, audio: AudioChunk, *, real_time: bool, chunk_ms: int = 20
) -> None:
    fmt = {"rate": audio.rate, "width": 2, "channels": 1}
    await client.write_event(AudioStart(**fmt).event())
    step = audio.rate * chunk_ms // 1000 * 2
    started = time.perf_counter()
    for index, start in enumerate(range(0, len(audio.audio), step)):
        piece = audio.audio[start : start + step]
        await client.write_event(WyomingChunk(audio=piece, **fmt).event())
        if real_time:
            due = started + (index + 1) * chunk_ms / 1000
            await asyncio.sleep(max(0.0, due - time.perf_counter()))


async def until(client: AsyncTcpClient, kind: str) -> float:
    """Read until an event of ``kind``; the time it arrived."""
    while True:
        event = await client.read_event()
        if event is None:
            raise RuntimeError("the server closed the connection")
        if event.type == "error":
            raise RuntimeError(f"the server answered an error: {event.data}")
        if event.type == kind:
            return time.perf_counter()


async def wyoming_transcribe(port: int, audio: AudioChunk) -> float:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        await client.write_event(Transcribe(language="en").event())
        await send_chunks(client, audio, real_time=False, chunk_ms=100)
        await client.write_event(AudioStop().event())
        return await until(client, "transcript") - started


async def run(args: Any) -> dict[str, Any]:
    from assistant.services import build_services
    from assistant.settings import Settings
    from server.wyoming import WyomingServer

    overrides: dict[str, Any] = {"wyoming": {"enabled": True, "port": 0}}
    models: dict[str, Any] = {"keep_alive_seconds": -1}
    models["dir"] = args.models_dir or Settings.load().models_dir
    data = Path(args.data_dir or tempfile.mkdtemp(prefix="wyoming-bench-"))
    settings = Settings.load(data_dir=data, models=models, **overrides)
    services = build_services(settings)
    server = WyomingServer(services.wyoming, settings.wyoming, "bench")
    await server.start()
    store = services.models
    stt_model, voice_model = store.require(STT_MODEL), store.require(VOICE)
    bare_stt = load_engine(stt_model.engine, STT_MODEL, stt_model.path, stt_model.params)
    bare_tts = load_engine(voice_model.engine, VOICE, voice_model.path, voice_model.params)
    options = TranscribeOptions(language="en")
    command = spoken(bare_tts, COMMAND)
    dictation = AudioChunk.from_samples(
        np.concatenate(
            [spoken(bare_tts, s, pad_seconds=0.3).samples() for s in DICTATION[: args.dictation]]
            + [np.zeros(int(RATE * END_SILENCE_SECONDS), dtype=np.float32)]
        ),
        RATE,
    )
    measured = Measured()
    port = server.port
    repetitions = args.repetitions or (2 if args.quick else 8)

    def bare_transcribe(audio: AudioChunk) -> float:
        started = time.perf_counter()
        bare_stt.transcribe(audio, options)  # type: ignore[attr-defined]
        return time.perf_counter() - started

    def bare_synthesize(text: str) -> tuple[float, float]:
        started = time.perf_counter()
        first = None
        for _ in bare_tts.synthesize(text, SynthesisOptions()):  # type: ignore[attr-defined]
            first = first or time.perf_counter()
        return (first or time.perf_counter()) - started, time.perf_counter() - started

    async def wyoming_synthesize(text: str) -> tuple[float, float]:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            started = time.perf_counter()
            await client.write_event(Synthesize(text=text).event())
            first = await until(client, "audio-chunk")
            return first - started, await until(client, "audio-stop") - started

    async def streamed_first_audio(streaming: bool) -> float:
        words = STREAMED_TEXT.split(" ")
        async with AsyncTcpClient("127.0.0.1", port) as client:
            started = time.perf_counter()
            if streaming:
                await client.write_event(SynthesizeStart().event())
            waiter = asyncio.ensure_future(until(client, "audio-chunk"))
            for index, word in enumerate(words):
                if streaming:
                    await client.write_event(SynthesizeChunk(text=word + " ").event())
                await asyncio.sleep(
                    max(0.0, started + (index + 1) / WORDS_PER_SECOND - time.perf_counter())
                )
            if streaming:
                await client.write_event(SynthesizeStop().event())
            else:
                await client.write_event(Synthesize(text=STREAMED_TEXT).event())
            first = await waiter
            await until(client, "synthesize-stopped" if streaming else "audio-stop")
            return first - started

    async def dictated(server_side: bool) -> float:
        """From audio-stop to the transcript of a real-time stream."""
        if server_side:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(Transcribe(language="en").event())
                await send_chunks(client, dictation, real_time=True)
                stopped = time.perf_counter()
                await client.write_event(AudioStop().event())
                return await until(client, "transcript") - stopped
        # Buffer then transcribe: the stream kept as it came, converted and decoded at the end.
        pieces = []
        step = RATE // 50 * 2
        started = time.perf_counter()
        for index, start in enumerate(range(0, len(dictation.audio), step)):
            pieces.append(dictation.audio[start : start + step])
            await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - time.perf_counter()))
        stopped = time.perf_counter()
        buffered = convert(AudioChunk(b"".join(pieces), RATE), RATE)
        await asyncio.to_thread(bare_stt.transcribe, buffered, options)  # type: ignore[attr-defined]
        return time.perf_counter() - stopped

    progress("warming up")
    await wyoming_transcribe(port, command)
    bare_transcribe(command)
    await wyoming_synthesize(SENTENCE)
    bare_synthesize(SENTENCE)
    for round_index in range(repetitions):
        progress(f"round {round_index + 1}/{repetitions}")
        order = [0, 1] if round_index % 2 == 0 else [1, 0]
        for side in order:
            if side == 0:
                measured.add("stt wyoming", await wyoming_transcribe(port, command))
                first, total = await wyoming_synthesize(SENTENCE)
                measured.add("tts wyoming", total)
                measured.add("tts wyoming first", first)
            else:
                measured.add("stt bare", await asyncio.to_thread(bare_transcribe, command))
                first, total = await asyncio.to_thread(bare_synthesize, SENTENCE)
                measured.add("tts bare", total)
                measured.add("tts bare first", first)
    stream_rounds = max(1, repetitions // 2)
    for round_index in range(stream_rounds):
        progress(f"streaming round {round_index + 1}/{stream_rounds}")
        measured.add("tts streamed first", await streamed_first_audio(True))
        measured.add("tts whole-text first", await streamed_first_audio(False))
        measured.add("dictation decoded on arrival", await dictated(True))
        measured.add("dictation buffer then transcribe", await dictated(False))
    await server.stop()
    await services.manager.close()
    bare_stt.close()
    bare_tts.close()
    services.close()
    rows = [
        Row(
            "STT whisper.cpp over Wyoming",
            f"request to transcript, {command.seconds:.1f} s command",
            "ms",
            measured.stats("stt wyoming"),
            measured.stats("stt bare"),
            target=Target("ratio", True, 0.95),
            digits=0,
        ),
        Row(
            "TTS Piper over Wyoming",
            "request to last audio",
            "ms",
            measured.stats("tts wyoming"),
            measured.stats("tts bare"),
            target=Target("ratio", True, 0.95),
            digits=0,
        ),
        Row(
            "TTS Piper over Wyoming",
            "request to first audio",
            "ms",
            measured.stats("tts wyoming first"),
            measured.stats("tts bare first"),
            digits=0,
        ),
    ]
    streaming = [
        [
            "first word to first audio, text at 20 words/s (ms)",
            _cell(measured.stats("tts whole-text first")),
            _cell(measured.stats("tts streamed first")),
        ],
        [
            f"audio-stop to transcript, {dictation.seconds:.1f} s dictation in real time (ms)",
            _cell(measured.stats("dictation buffer then transcribe")),
            _cell(measured.stats("dictation decoded on arrival")),
        ],
    ]
    return {"rows": rows, "streaming": streaming, "samples": measured.samples}


def _cell(stats: Stats) -> str:
    return f"{stats.median:.0f} ({stats.p90:.0f})"


def main(argv: Sequence[str] | None = None) -> None:
    parser = base_parser(__doc__.splitlines()[0], tuning=False, prog="python -m benchmarks.wyoming")
    parser.add_argument(
        "--data-dir", type=Path, help="a scratch data folder (default: a temporary one)"
    )
    parser.add_argument(
        "--dictation",
        type=int,
        choices=range(1, len(DICTATION) + 1),
        default=len(DICTATION),
        metavar="N",
        help=f"dictate the first N of the {len(DICTATION)} sentences (default all)",
    )
    args = parser.parse_args(argv)
    info = machine_info(DISTRIBUTIONS)
    result = asyncio.run(run(args))
    print(header_line(info))
    print()
    print(rows_table(result["rows"]))
    print()
    print(
        markdown_table(
            ("streaming", "whole text / buffer then transcribe", "this server"), result["streaming"]
        )
    )
    if args.json:
        write_json(
            args.json,
            {
                "machine": info,
                "rows": [r.as_dict() for r in result["rows"]],
                "streaming": result["streaming"],
                "samples": result["samples"],
            },
        )


if __name__ == "__main__":
    main()
