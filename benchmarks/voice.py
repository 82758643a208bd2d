"""Voice turn latency: end of speech to the first reply audio, by stage, against bare engines.

Each spoken question (Piper's voice, fed in real time through the whole pipeline:
VAD, whisper.cpp, the chat service with its memory, Piper, a speaker) is timed from
the end of speech to the first audio, split into the VAD tail, STT, the chat's first
sentence and the first TTS chunk. In the same run the same stages run as bare engine
calls (the loaded engines called directly, with the same prompt). The difference is
the pipeline's own overhead.

With ``--fake-engines`` the same turn runs on the package's fake engines (VAD, STT, TTS,
a scripted chat; they cost nothing), fed as fast as the pipeline takes it: what is left
is the orchestration alone (threads, queues, events, the sentence splitter), no models
needed.

With ``--endpointing`` it measures the end of a turn instead (``benchmarks.endofturn``):
the labelled pause set, spoken requests with a pause of known length at a known place
(Piper's voice and espeak-ng's, in silence and over a quiet noise floor), goes through
the real VAD and the segmenter with fixed silences and with the adaptive end of turn
(whisper.cpp transcribing the audio so far); it counts the turns cut off at their pause
and the delay from the real end of speech to the end of the turn.

    python -m benchmarks.voice [--quick] [--repetitions N] [--json PATH]
                               [--fake-engines | --endpointing [--turns N]]
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.auth import PasswordHasher
from assistant.chat.context import stamped, system_prompt
from assistant.chat.models import (
    ChatRequest,
    ContextFlags,
    Timings,
    TurnDelta,
    TurnDone,
    TurnEvent,
    TurnStarted,
    TurnUsage,
)
from assistant.services import Services, build_services
from assistant.settings import Settings
from assistant.voice.engines import held
from assistant.voice.events import (
    PipelineEvent,
    RunEnd,
    SpeculationOutcome,
    StageLatencies,
    SttEnd,
    SttSpeculation,
    TtsStart,
    stage_latencies,
)
from assistant.voice.options import PipelineOptions
from assistant.voice.pipeline import VoicePipeline
from assistant.voice.sentences import SentenceSplitter, SplitterOptions
from benchmarks import endofturn
from benchmarks.common import (
    base_parser,
    header_line,
    machine_info,
    markdown_table,
    percentile,
    progress,
    write_json,
)
from hal.audio import AudioChunk
from hal.audio.convert import convert
from hal.audio.fake import FakeSpeaker
from runtime.engines import Capability
from runtime.llm.base import ChatMessage, GenerationOptions
from runtime.stt.base import TranscribeOptions
from runtime.stt.fake import FakeSpeechToText
from runtime.tts.base import SynthesisOptions
from runtime.tts.fake import FakeTextToSpeech
from runtime.vad.fake import FakeVoiceActivityDetector

QUESTIONS = (
    "What is the capital of France?",
    "How many days are there in a week?",
    "What colour is the sky on a clear day?",
    "Name a fruit that is yellow.",
    "What is two plus three?",
)
RATE = 16_000
CHUNK_SECONDS = 0.02
LEAD_SECONDS = 0.3
"""Silence before each question."""
TAIL_SECONDS = 1.5
"""Silence after each question (longer than the VAD's silence timeout)."""
REPLY = GenerationOptions(max_tokens=64, temperature=0.0)
"""Greedy replies on both sides: the same sentences reach TTS, so the stages compare."""
TARGET_OVERHEAD_MS = 50.0
TARGET_FIRST_AUDIO_MS = (800.0, 1000.0)
"""End of speech -> first audio, p50 and p95 (issue 20)."""


@dataclass
class Measures:
    """Seconds per turn, by stage."""

    pipeline: dict[str, list[float]] = field(default_factory=dict)
    bare: dict[str, list[float]] = field(default_factory=dict)
    same_sentence: list[bool] = field(default_factory=list)
    """Per turn: both sides spoke the same first sentence (greedy decoding)."""
    speculation: list[str] = field(default_factory=list)
    """Per turn: what became of its speculative transcription (``speculation_outcome``)."""

    def add(self, side: str, name: str, value: float | None) -> None:
        if value is not None:
            getattr(self, side).setdefault(name, []).append(value)


def speak(services: Services, voice_id: str, text: str) -> AudioChunk:
    """A question in the default voice, 16 kHz, with silence around it."""
    engine_dir = services.models.require(voice_id).path
    from runtime.tts.piper import PiperTextToSpeech

    # Without the voice's random noise: every run hears the same questions (a rendition
    # whisper tiny runs away on would otherwise come and go between runs).
    flat = {"threads": 1, "noise_scale": 0.0, "noise_w_scale": 0.0}
    tts = PiperTextToSpeech.load(voice_id, engine_dir, flat)
    try:
        parts = [convert(c, RATE).samples() for c in tts.synthesize(text, SynthesisOptions())]
    finally:
        tts.close()
    silence = np.zeros(int(RATE * LEAD_SECONDS), dtype=np.float32)
    tail = np.zeros(int(RATE * TAIL_SECONDS), dtype=np.float32)
    return AudioChunk.from_samples(np.concatenate([silence, *parts, tail]), RATE)


async def realtime(audio: AudioChunk, on_first: Any) -> AsyncIterator[AudioChunk]:
    """The audio as a microphone delivers it: 20 ms chunks, in real time."""
    step = int(RATE * CHUNK_SECONDS) * 2
    started = time.perf_counter()
    for index, offset in enumerate(range(0, len(audio.audio), step)):
        if index == 0:
            on_first()
        yield AudioChunk(audio.audio[offset : offset + step], RATE, timestamp=offset / 2 / RATE)
        delay = started + (index + 1) * CHUNK_SECONDS - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(frozen=True)
class PipelineTurn:
    """What one turn through the pipeline measured and heard."""

    latencies: StageLatencies
    transcript: str
    """What STT heard."""
    first_sentence: str
    """The first sentence spoken."""
    sentences: SplitterOptions
    speculation: str = "off"
    """What became of the speculation on the command (``speculation_outcome``)."""


async def pipeline_turn(services: Services, user_id: str, audio: AudioChunk) -> PipelineTurn:
    """One push-to-talk turn through the whole pipeline; its stage latencies."""
    events: list[PipelineEvent] = []
    options = replace(turn_options(services), follow_up_seconds=0, chat_options=REPLY)
    pipeline = await services.loops.pipeline(
        user_id, FakeSpeaker(), options, on_event=events.append
    )
    await pipeline.run(realtime(audio, pipeline.start_listening))
    run_end = next(e for e in events if isinstance(e, RunEnd))
    heard = next((e.text for e in events if isinstance(e, SttEnd)), "")
    spoken = next((e.text for e in events if isinstance(e, TtsStart)), "")
    latencies = stage_latencies(events, run_end.run_id)
    return PipelineTurn(
        latencies, heard, spoken, pipeline.options.sentences, speculation_outcome(events)
    )


def speculation_outcome(events: Sequence[PipelineEvent]) -> str:
    """``hit`` or ``miss`` (the speculation the command ended on), ``dropped`` (speech
    resumed after every one), ``none`` (the command ended before one started) or ``off``."""
    outcomes = [e.outcome for e in events if isinstance(e, SttSpeculation)]
    final = [o for o in outcomes if o in (SpeculationOutcome.HIT, SpeculationOutcome.MISS)]
    if final:
        return str(final[-1])
    if outcomes:
        return str(SpeculationOutcome.DROPPED)
    return "none" if any(isinstance(e, SttEnd) for e in events) else "off"


def speculation_row(outcomes: Sequence[str]) -> str:
    """The speculative hit rate over the turns that speculated."""
    tried = [o for o in outcomes if o != "off"]
    if not tried:
        return "speculation: off"
    hits = tried.count("hit")
    misses = tried.count("miss")
    return (
        f"speculative transcription: {hits} hits of {len(tried)} commands"
        f" ({hits / len(tried):.0%}; {misses} misses, {tried.count('dropped')} dropped,"
        f" {tried.count('none')} ended before it started)"
    )


def turn_options(services: Services) -> PipelineOptions:
    """The settings' pipeline options, push-to-talk (the question is fed as one press)."""
    return services.settings.voice.pipeline_options(push_to_talk=True)


async def bare_turn(
    services: Services, user_id: str, turn: PipelineTurn, audio: AudioChunk
) -> tuple[dict[str, float], str]:
    """The same stages as direct engine calls: STT, LLM to the first sentence, first TTS chunk.

    Returns the times by stage and the first sentence.
    """
    voice, manager = services.voice, services.manager
    stt_id = voice.model_for(Capability.STT)
    tts_id = voice.preferred_voice(None)
    chat_id = services.chat.default_model
    assert chat_id is not None
    profile = services.profile.get_profile(user_id)
    preferences = services.profile.get_preferences(user_id).preferences
    prompt = system_prompt(profile, preferences, spoken=True)
    # The pipeline transcribes the utterance the VAD cut: the speech and the silence that
    # ended it. The bare side gets the clip with that much silence at the end.
    silence = services.settings.voice.silence_seconds
    keep = len(audio.audio) - int(RATE * max(TAIL_SECONDS - silence, 0.0)) * 2
    speech = AudioChunk(audio.audio[:keep], RATE)
    results: dict[str, float] = {}
    async with manager.use(stt_id) as stt:
        started = time.perf_counter()
        await asyncio.to_thread(stt.transcribe, speech, TranscribeOptions(language="en"))
        results["stt"] = time.perf_counter() - started
    async with manager.use(chat_id) as llm:

        def first_sentence() -> str:
            # What the pipeline heard, so the same reply is generated and split alike.
            splitter = SentenceSplitter(turn.sentences)
            question = stamped(turn.transcript, time.time(), profile.time_zone)
            messages = [ChatMessage("system", prompt), ChatMessage("user", question)]
            for delta in llm.stream(messages, REPLY):
                sentences = splitter.push(delta.text)
                if sentences:
                    return sentences[0]
            return splitter.flush() or turn.transcript

        started = time.perf_counter()
        sentence = await asyncio.to_thread(first_sentence)
        results["chat_first_sentence"] = time.perf_counter() - started
    async with manager.use(tts_id) as tts:

        def first_chunk() -> None:
            chunks = tts.synthesize(sentence, SynthesisOptions())
            next(iter(chunks))
            with contextlib.suppress(AttributeError):
                chunks.close()

        started = time.perf_counter()
        await asyncio.to_thread(first_chunk)
        results["tts_first_chunk"] = time.perf_counter() - started
    return results, sentence


def stat_cells(values: Sequence[float] | None, digits: int = 0) -> list[str]:
    """p50 and p95 of seconds, in milliseconds."""
    if not values:
        return ["-", "-"]
    return [f"{percentile(values, q) * 1000:.{digits}f}" for q in (50, 95)]


async def run(repetitions: int, questions: int, models_dir: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = models_dir or Settings.load().models_dir
        settings = Settings.load(data_dir=Path(tmp), models={"dir": store})
        services = build_services(settings, hasher=PasswordHasher.fast_for_tests())
        try:
            user_id = services.auth.create_user("bench", "benchmark password").id
            voice_id = services.voice.preferred_voice(None)
            progress("synthesising the questions")
            spoken = [
                (q, await asyncio.to_thread(speak, services, voice_id, q))
                for q in QUESTIONS[:questions]
            ]
            progress("loading models and priming the chat")
            await services.loops.warm_up(user_id, turn_options(services))
            measures = Measures()
            for round_index in range(repetitions):
                for question, audio in spoken:
                    progress(f"round {round_index + 1}/{repetitions}: {question}")
                    # Both sides start from the same KV cache: the system prompt and
                    # the new message's time stamp (what the wake word's warm-up leaves),
                    # so each evaluates this question's words (left alone, the bare side
                    # would find the pipeline's prompt cached whole).
                    await services.chat.warm(user_id, spoken=True)
                    turn = await pipeline_turn(services, user_id, audio)
                    latencies = turn.latencies
                    tail = latencies.vad_tail_seconds or 0.0
                    after_tail = latencies.speech_end_to_first_audio_seconds
                    measures.add("pipeline", "vad_tail", latencies.vad_tail_seconds)
                    measures.add("pipeline", "stt", latencies.stt_seconds)
                    measures.add(
                        "pipeline", "chat_first_sentence", latencies.chat_first_sentence_seconds
                    )
                    measures.add("pipeline", "tts_first_chunk", latencies.tts_first_chunk_seconds)
                    measures.add("pipeline", "after_tail", after_tail)
                    if after_tail is not None:
                        measures.add("pipeline", "end_of_speech_to_first_audio", tail + after_tail)
                    await services.chat.warm(user_id, spoken=True)
                    bare, sentence = await bare_turn(services, user_id, turn, audio)
                    measures.same_sentence.append(sentence.strip() == turn.first_sentence.strip())
                    measures.speculation.append(turn.speculation)
                    for name, value in bare.items():
                        measures.add("bare", name, value)
                    bare_sum = sum(bare.values())
                    measures.add("bare", "after_tail", bare_sum)
                    if after_tail is not None:
                        measures.add("pipeline", "overhead", after_tail - bare_sum)
        finally:
            await services.manager.close()
            services.close()
    return {
        "pipeline": measures.pipeline,
        "bare": measures.bare,
        "same_first_sentence": measures.same_sentence,
        "speculation": measures.speculation,
    }


def report(results: dict[str, Any]) -> str:
    pipeline, bare = results["pipeline"], results["bare"]
    names = [
        ("VAD tail (silence that ends the command)", "vad_tail"),
        ("STT (whisper.cpp)", "stt"),
        ("chat: first sentence", "chat_first_sentence"),
        ("TTS: first chunk", "tts_first_chunk"),
        ("end of the command -> first audio", "after_tail"),
        ("end of speech -> first audio (with the VAD tail)", "end_of_speech_to_first_audio"),
        ("orchestration overhead", "overhead"),
    ]
    rows = [
        [label, *stat_cells(pipeline.get(key)), *stat_cells(bare.get(key))] for label, key in names
    ]
    table = markdown_table(
        ["stage (ms)", "pipeline p50", "pipeline p95", "bare p50", "bare p95"], rows
    )
    overhead = pipeline.get("overhead") or [float("nan")]
    first_audio = pipeline.get("end_of_speech_to_first_audio") or [float("nan")]
    p50, p95 = (percentile(first_audio, q) * 1000 for q in (50, 95))
    met = "met" if p50 <= TARGET_FIRST_AUDIO_MS[0] and p95 <= TARGET_FIRST_AUDIO_MS[1] else "missed"
    verdict = (
        f"orchestration overhead p50 {statistics.median(overhead) * 1000:.0f} ms"
        f" (target <= {TARGET_OVERHEAD_MS:.0f} ms); end of speech -> first audio"
        f" {p50:.0f} ms p50, {p95:.0f} ms p95 (target <= {TARGET_FIRST_AUDIO_MS[0]:.0f}"
        f" / {TARGET_FIRST_AUDIO_MS[1]:.0f}: {met})"
    )
    same = results["same_first_sentence"]
    check = f"same first sentence on both sides in {sum(same)} of {len(same)} turns"
    speculation = speculation_row(results.get("speculation", []))
    return f"{table}\n\n{verdict}; {check}\n{speculation}"


# Orchestration on fake engines -------------------------------------------------------

FAKE_REPLY = "Paris is the capital of France. It lies on the Seine, in the north."
"""What the scripted chat answers, word by word (two sentences)."""


async def fake_chat(request: ChatRequest) -> AsyncIterator[TurnEvent]:
    """A chat turn that streams ``FAKE_REPLY`` without pausing."""
    words = FAKE_REPLY.split(" ")
    yield TurnStarted("benchmark", "question", "fake:1", "benchmark", ContextFlags())
    for index, word in enumerate(words):
        yield TurnDelta(word if index == 0 else " " + word)
    yield TurnDone("benchmark", "reply", FAKE_REPLY, "stop", TurnUsage(0, len(words)), Timings())


async def fake_turn() -> StageLatencies:
    """One push-to-talk turn through the pipeline on the fake engines."""
    events: list[PipelineEvent] = []
    pipeline = VoicePipeline(
        vad=held(FakeVoiceActivityDetector()),
        stt=held(FakeSpeechToText(QUESTIONS[0])),
        tts=held(FakeTextToSpeech()),
        chat=fake_chat,
        speaker=FakeSpeaker(),
        on_event=events.append,
        options=PipelineOptions(push_to_talk=True, follow_up_seconds=0),
    )
    step = int(RATE * CHUNK_SECONDS)
    quiet = np.zeros(step, dtype="<i2").tobytes()
    loud = np.full(step, 1_000, dtype="<i2").tobytes()
    script = [quiet] * 15 + [loud] * 50 + [quiet] * 75  # 0.3 s, 1 s of "speech", 1.5 s

    async def microphone() -> AsyncIterator[AudioChunk]:
        for index, audio in enumerate(script):
            if index == 0:
                pipeline.start_listening()
            yield AudioChunk(audio, RATE, timestamp=index * CHUNK_SECONDS)

    await pipeline.run(microphone())
    return stage_latencies(events)


async def orchestration(repetitions: int) -> dict[str, list[float]]:
    """Per-stage seconds of ``repetitions`` turns on the fake engines."""
    measured: dict[str, list[float]] = {}
    await fake_turn()  # warm-up: the thread pool, imports
    for _ in range(repetitions):
        latencies = await fake_turn()
        for name, value in latencies.to_dict().items():
            if value is not None:
                measured.setdefault(name, []).append(value)
    return measured


def orchestration_report(results: dict[str, list[float]]) -> str:
    names = [
        ("STT (end of the command -> transcript)", "stt_seconds"),
        ("chat: first sentence", "chat_first_sentence_seconds"),
        ("TTS: first chunk", "tts_first_chunk_seconds"),
        ("end of the command -> first audio", "speech_end_to_first_audio_seconds"),
    ]
    rows = [[label, *stat_cells(results.get(key), digits=1)] for label, key in names]
    table = markdown_table(["stage on fake engines (ms)", "p50", "p95"], rows)
    first_audio = results.get("speech_end_to_first_audio_seconds") or [float("nan")]
    return (
        f"{table}\n\norchestration overhead p50 {statistics.median(first_audio) * 1000:.1f} ms"
        f" (target <= {TARGET_OVERHEAD_MS:.0f} ms): the engines cost nothing here"
    )


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0], tuning=False)
    parser.add_argument(
        "--questions",
        type=int,
        default=len(QUESTIONS),
        metavar="N",
        help=f"ask the first N of the {len(QUESTIONS)} questions in each round",
    )
    parser.add_argument(
        "--fake-engines",
        action="store_true",
        help="run the turn on the fake engines: the pipeline's own overhead, no models needed",
    )
    parser.add_argument(
        "--endpointing",
        action="store_true",
        help="measure the end of a turn instead: cut-offs and delay of fixed silences and of"
        " the adaptive end of turn, on the labelled pause set",
    )
    parser.add_argument(
        "--turns",
        type=int,
        metavar="N",
        help="with --endpointing: only the first N turns of the pause set (with --quick, N"
        " kinds), each in every voice, pause and noise floor (a smoke run)",
    )
    args = parser.parse_args(argv)
    if args.turns is not None and (args.turns < 1 or not args.endpointing):
        parser.error("--turns N takes N >= 1 and goes with --endpointing")
    repetitions = args.repetitions or (1 if args.quick else 3)
    info = machine_info(["llama-cpp-python", "pywhispercpp", "piper-tts", "onnxruntime"])
    print(header_line(info))
    if args.fake_engines and args.endpointing:
        parser.error("--fake-engines and --endpointing measure different things: pick one")
    if args.fake_engines:
        turns = args.repetitions or (5 if args.quick else 50)
        results = asyncio.run(orchestration(turns))
        print(orchestration_report(results))
    elif args.endpointing:
        ending = endofturn.endpointing(args.quick, args.models_dir, turn_count=args.turns)
        results = asyncio.run(ending)
        print(endofturn.endpointing_report(results))
    else:
        results = asyncio.run(run(repetitions, max(1, args.questions), args.models_dir))
        print(report(results))
    if args.json:
        write_json(args.json, {"machine": info, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
