"""Each engine through the runtime against the bare library on the same model file.

    python -m benchmarks.engines [--quick] [--only llm,stt,...] [--json PATH]

Both sides load the same files with the same settings (threads set explicitly on both),
run in the same process, turn about, after one warm-up round. The runtime side is the
engine class as the services use it (``runtime.engines.load_engine`` with the installed
model's parameters); the raw side calls the library directly, as a program without this
runtime would. benchmarks/README.md explains every number.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from assistant.problems import OWN_ERRORS
from benchmarks.common import (
    Row,
    Stats,
    Target,
    base_parser,
    header_line,
    interleaved,
    load_average,
    machine_info,
    model_store,
    parse_with_groups,
    progress,
    rows_table,
    write_json,
)
from hal.audio import AudioChunk
from hal.camera import Frame
from runtime.detect.base import DetectOptions
from runtime.detect.yolo_onnx import (
    YoloOnnxObjectDetector,
    YoloOnnxParams,
    find_model,
    model_input,
    postprocess,
)
from runtime.engines import Engine, load_engine
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions
from runtime.llm.llama_cpp import (
    LlamaCppChatModel,
    LlamaCppChatParams,
    ReplyText,
    _Progress,
)
from runtime.llm.llama_cpp import default_threads as llm_default_threads
from runtime.modelstore import InstalledModel, ModelStore
from runtime.ocr.rapidocr import RapidOcrParams, RapidOcrTextRecognizer, rapidocr_arguments
from runtime.onnx import cpu_session
from runtime.params import parse_params
from runtime.stt.audio_context import audio_context_positions
from runtime.stt.audio_context import default_threads as stt_default_threads
from runtime.stt.base import SpeechToText, TranscribeOptions
from runtime.stt.faster_whisper import FasterWhisperParams, FasterWhisperSpeechToText
from runtime.stt.whispercpp import WhisperCppParams, WhisperCppSpeechToText, find_model_file
from runtime.tts.base import SynthesisOptions
from runtime.tts.piper import PiperParams, PiperTextToSpeech, find_voice
from runtime.vad.silero import (
    CONTEXT_SAMPLES,
    STATE_SHAPE,
    SileroVadParams,
    SileroVoiceActivityDetector,
)
from runtime.vad.silero import MODEL_FILE as SILERO_FILE
from runtime.wake.openwakeword import (
    EMBEDDING_FILE,
    EMBEDDING_SIZE,
    EMBEDDING_WINDOW,
    FRAME_SAMPLES,
    MEL_BANDS,
    MEL_CONTEXT_SAMPLES,
    MELSPEC_FILE,
    OpenWakeWordDetector,
    OpenWakeWordParams,
)

GROUPS = ("llm", "stt", "tts", "ocr", "detect", "vad", "wake")
"""What ``--only`` can pick, in the order they run."""

LLM_MODEL = "qwen2.5-coder:0.5b-q4"
WHISPERCPP_MODEL = "whisper:tiny.en"
FASTER_WHISPER_MODEL = "whisper:tiny.en-ct2"
PIPER_MODEL = "piper:en_US-joe-medium"
OCR_MODEL = "rapidocr:ppocrv4"
DETECT_MODEL = "yolov8-fall:fp16"
VAD_MODEL = "silero-vad:v6"
WAKE_MODEL = "openwakeword:hey-jarvis"

LIBRARIES = (
    "llama-cpp-python",
    "pywhispercpp",
    "faster-whisper",
    "ctranslate2",
    "piper-tts",
    "onnxruntime",
    "rapidocr-onnxruntime",
    "numpy",
)
"""Distributions whose versions go in the header line."""

LLM_MESSAGES = (
    ChatMessage(
        "system",
        "You are a careful senior Python developer. Answer with complete, working code,"
        " type hints, docstrings and short comments.",
    ),
    ChatMessage(
        "user",
        "Write a Python module that reads a CSV file of sales records (date, region,"
        " product, units, unit price), validates every row, skips and reports bad rows,"
        " and prints the total revenue per region and per month, sorted by revenue, as an"
        " aligned text table. Use only the standard library, and add a command-line entry"
        " point that takes the file name and an optional minimum revenue filter.",
    ),
)
"""A fixed prompt whose greedy answer is longer than any max_tokens used here."""
LLM_GREEDY = GenerationOptions(temperature=0.0, top_k=40, top_p=0.95, repeat_penalty=1.0)
"""Greedy decoding (max_tokens is set per run)."""

SPEECH_TEXT = (
    "Please remind me to call the plumber tomorrow at nine thirty,"
    " and add milk, eggs and coffee to the shopping list."
)
"""About six seconds of espeak-ng speech."""
TTS_TEXT = (
    "Good morning! Here is your summary for today. You have three meetings, the first one"
    " at nine thirty with the design team, and a dentist appointment at four."
)
"""Three sentences: the first short, as replies usually start."""
OCR_LINES = ("Invoice 2024-117: three items, paid by card", "Total due 148.50 EUR by 30 June")
"""The two lines rendered for OCR."""
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    repetitions: int
    """Measured rounds of the slow engines (LLM, STT, TTS, OCR)."""
    fast_repetitions: int
    """Measured rounds of the fast ones (detection, VAD, wake word)."""
    llm_max_tokens: int
    """Tokens generated per LLM run."""
    threads: int | None
    """Threads for both sides; None: each engine's default, set explicitly on both."""
    workdir: Path
    """Scratch folder (generated audio)."""

    @classmethod
    def make(
        cls,
        *,
        quick: bool,
        repetitions: int | None = None,
        max_tokens: int | None = None,
        threads: int | None = None,
        workdir: Path,
    ) -> Plan:
        """The full plan, or the quick one for smoke runs; explicit values win."""
        slow = repetitions or (2 if quick else 6)
        fast = repetitions or (3 if quick else 15)
        return cls(slow, fast, max_tokens or (24 if quick else 200), threads, workdir)

    @property
    def thread_params(self) -> dict[str, int]:
        """Engine parameters that set ``--threads`` (none: the engine's own default)."""
        return {"threads": self.threads} if self.threads else {}


@dataclass
class Section:
    """What one group measured."""

    rows: list[Row] = field(default_factory=list)
    """Table rows."""
    notes: list[str] = field(default_factory=list)
    """Lines printed under the table (method, sanity checks)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Raw measurements for the JSON output."""


def load_runtime(
    store: ModelStore, model_id: str, overrides: Mapping[str, Any]
) -> tuple[Engine, InstalledModel, dict[str, Any]]:
    """The engine as the model manager loads it, with ``overrides`` on the installed params."""
    model = store.require(model_id)
    params = {**model.params, **overrides}
    return load_engine(model.engine, model_id, model.path, params), model, params


def seconds_since(started: float) -> float:
    """Seconds elapsed since ``started`` (a perf_counter value)."""
    return time.perf_counter() - started


def stats(values: Sequence[float], *, higher_is_better: bool = False) -> Stats:
    """Shorthand for Stats.of."""
    return Stats.of(values, higher_is_better=higher_is_better)


# LLM ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    """One timed generation."""

    tokens: int
    """Tokens generated (end-of-generation excluded)."""
    first_token_seconds: float
    """From the call to the first token: prompt evaluation."""
    decode_seconds: float
    """From the first token to the last."""
    text: str
    """What was generated."""

    @property
    def tokens_per_second(self) -> float:
        """Decode speed: token intervals over their time (the first token is not decoded)."""
        return (self.tokens - 1) / self.decode_seconds if self.decode_seconds > 0 else 0.0

    @property
    def ms_per_token(self) -> float:
        """Milliseconds per decoded token."""
        return 1000.0 * self.decode_seconds / (self.tokens - 1) if self.tokens > 1 else 0.0


def raw_prompt_tokens(llama: Any, messages: Sequence[ChatMessage]) -> list[int]:
    """The prompt rendered by the GGUF's own chat template through llama-cpp-python alone."""
    from llama_cpp import llama_chat_format

    eos, bos = llama.token_eos(), llama.token_bos()
    formatter = llama_chat_format.Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama.detokenize([eos], special=True).decode("utf-8") if eos >= 0 else "",
        bos_token=llama.detokenize([bos], special=True).decode("utf-8") if bos >= 0 else "",
    )
    plain: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
    response = formatter(messages=plain)
    tokens: list[int] = llama.tokenize(
        response.prompt.encode("utf-8"), add_bos=not response.added_special, special=True
    )
    return tokens


def raw_generate(llama: Any, prompt: Sequence[int], options: GenerationOptions) -> Generation:
    """The tightest bare loop: ``Llama.generate`` with an end-of-generation test, no text."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    llama.reset()  # a cold prompt on every run, as on the runtime side
    generated: list[int] = []
    clock = time.perf_counter
    started = clock()
    first = last = started
    for token in llama.generate(
        prompt,
        top_k=options.top_k,
        top_p=options.top_p,
        temp=options.temperature,
        repeat_penalty=options.repeat_penalty,
    ):
        now = clock()
        if not generated:
            first = now
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        generated.append(token)
        last = now
        if len(generated) >= options.max_tokens:
            break
    text = llama.detokenize(generated).decode("utf-8", errors="replace")
    return Generation(len(generated), first - started, last - first, text)


def completion_steps(
    llama: Any, prompt: Sequence[int], options: GenerationOptions, texts: list[str]
) -> Iterator[bool]:
    """llama-cpp-python's own streaming path, ``create_completion(stream=True)``, as steps.

    One step per chunk, True once it carries text; the texts are appended to ``texts``.
    """
    llama.reset()
    for chunk in llama.create_completion(
        list(prompt),
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        top_k=options.top_k,
        top_p=options.top_p,
        repeat_penalty=options.repeat_penalty,
        stream=True,
    ):
        text = chunk["choices"][0]["text"]
        texts.append(text)
        yield bool(text)


def raw_steps(
    llama: Any, prompt: Sequence[int], options: GenerationOptions, tokens: list[int]
) -> Iterator[bool]:
    """``raw_generate``'s bare loop as steps: one per generated token (appended to ``tokens``)."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    llama.reset()  # a cold prompt on every run, as on the runtime side
    for token in llama.generate(
        prompt,
        top_k=options.top_k,
        top_p=options.top_p,
        temp=options.temperature,
        repeat_penalty=options.repeat_penalty,
    ):
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            return
        tokens.append(token)
        yield True
        if len(tokens) >= options.max_tokens:
            return


def runtime_steps(
    engine: LlamaCppChatModel,
    messages: Sequence[ChatMessage],
    options: GenerationOptions,
    deltas: list[ChatDelta],
) -> Iterator[bool]:
    """``LlamaCppChatModel.stream`` as the chat service consumes it, one step per delta."""
    # The engine keeps its KV cache between calls (that is the point); clearing it makes
    # every run evaluate the whole prompt, like the raw side. Benchmarks only.
    engine._llama.reset()
    # As the chat service calls it: with a cancel flag, checked between tokens.
    for delta in engine.stream(messages, options, threading.Event()):
        deltas.append(delta)
        yield bool(delta.text) or delta.usage is not None


@dataclass(frozen=True)
class StepTimes:
    """Where one side's time went in a lockstep run."""

    first_token_seconds: float
    """Steps up to the one that brought the first token (prompt evaluation)."""
    decode_seconds: float
    """Every step after it."""


def lockstep(sides: Mapping[str, Iterator[bool]]) -> dict[str, StepTimes]:
    """Advance every side one step at a time, turn about, timing each step.

    A step is one ``next()`` and yields True once it carries the first token. Alternating
    per token, the sides see the same machine load at the same moments, so their ratio
    holds even on a busy machine (whole runs one after the other do not). The prompt
    steps still run one side after the other.
    """
    clock = time.perf_counter
    active = dict(sides)
    first = dict.fromkeys(sides, 0.0)
    decode = dict.fromkeys(sides, 0.0)
    started = dict.fromkeys(sides, False)
    while active:
        for name, steps in list(active.items()):
            began = clock()
            try:
                token = next(steps)
            except StopIteration:
                del active[name]
                continue
            elapsed = clock() - began
            if started[name]:
                decode[name] += elapsed
            else:
                first[name] += elapsed
                started[name] = token
    return {name: StepTimes(first[name], decode[name]) for name in sides}


def replay_decode_seconds(engine: LlamaCppChatModel, tokens: Sequence[int]) -> float:
    """The engine's per-token Python work alone: its decode loop fed recorded tokens.

    No model runs: this is the hot loop of ``LlamaCppChatModel`` (piece lookup, UTF-8,
    stop strings, deltas, clock) over the tokens a real run produced.
    """
    progress_ = _Progress(first_at=None, last_at=time.perf_counter())
    reply = ReplyText(())
    started = time.perf_counter()
    cancel = threading.Event()
    for _ in engine._decode(iter(tokens), reply, len(tokens), cancel, progress_):
        pass
    return time.perf_counter() - started


def llm_threads(threads: int | None) -> dict[str, int]:
    """The chat engine's thread parameters, set explicitly: ``threads`` for both, or its defaults.

    The defaults are the engine's own: every core but one for decoding, every core for
    prompt evaluation.
    """
    cores = os.cpu_count() or 1
    return {
        "threads": threads or llm_default_threads(cores),
        "batch_threads": threads or cores,
    }


def thread_label(settings: LlamaCppChatParams) -> str:
    """``1 thread, 2 for prompts`` (or ``2 threads`` when they are the same)."""
    plural = "s" if settings.threads > 1 else ""
    if settings.batch_threads == settings.threads:
        return f"{settings.threads} thread{plural}"
    return f"{settings.threads} thread{plural}, {settings.batch_threads} for prompts"


def open_llama(path: Path, settings: LlamaCppChatParams) -> Any:
    """A bare ``llama_cpp.Llama`` with the engine's load settings (threads set explicitly)."""
    import llama_cpp

    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=settings.context_length,
        n_batch=settings.batch_size,
        n_ubatch=settings.batch_size,
        n_threads=settings.threads,
        n_threads_batch=settings.batch_threads,
        n_gpu_layers=settings.gpu_layers,
        flash_attn=settings.flash_attention,
        verbose=False,
    )


@dataclass(frozen=True)
class LlmRound:
    """One lockstep round of the three sides."""

    raw: Generation
    """Bare ``generate()``."""
    completion: Generation
    """``create_completion(stream=True)``."""
    runtime: Generation
    """The engine."""


def llm_round(
    engine: LlamaCppChatModel,
    raw: Any,
    completion: Any,
    prompt: Sequence[int],
    options: GenerationOptions,
    order: Sequence[str],
) -> LlmRound:
    """The three sides in lockstep, in ``order``."""
    tokens: list[int] = []
    texts: list[str] = []
    deltas: list[ChatDelta] = []
    steps = {
        "raw": raw_steps(raw, prompt, options, tokens),
        "completion": completion_steps(completion, prompt, options, texts),
        "runtime": runtime_steps(engine, LLM_MESSAGES, options, deltas),
    }
    times = lockstep({name: steps[name] for name in order})
    usage = deltas[-1].usage if deltas else None
    raw_text = raw.detokenize(tokens).decode("utf-8", errors="replace")

    def generation(name: str, count: int, text: str) -> Generation:
        return Generation(count, times[name].first_token_seconds, times[name].decode_seconds, text)

    return LlmRound(
        raw=generation("raw", len(tokens), raw_text),
        # Greedy decoding makes the same tokens (the texts are compared): it counts none.
        completion=generation("completion", len(tokens), "".join(texts)),
        runtime=generation(
            "runtime",
            usage.completion_tokens if usage else 0,
            "".join(d.text for d in deltas),
        ),
    )


def bench_llm(store: ModelStore, plan: Plan) -> Section:
    """Decode speed, time to first token and per-token overhead of the chat engine."""
    # Three engines, whose llama.cpp instances take the three roles in turn: two instances
    # of one file with the same settings can differ by a few percent (where their buffers
    # land in memory), and rotating the roles cancels that out.
    engines: list[LlamaCppChatModel] = []
    try:
        for _ in range(3):
            loaded, model, params = load_runtime(store, LLM_MODEL, llm_threads(plan.threads))
            engines.append(cast(LlamaCppChatModel, loaded))
        settings = parse_params(LlamaCppChatParams, params, LLM_MODEL)
        prompt = raw_prompt_tokens(engines[0]._llama, LLM_MESSAGES)
        if engines[0].count_tokens(LLM_MESSAGES) != len(prompt):
            raise RuntimeError("the raw and runtime prompts differ; the comparison would be unfair")
        options = GenerationOptions(
            max_tokens=plan.llm_max_tokens,
            temperature=LLM_GREEDY.temperature,
            top_k=LLM_GREEDY.top_k,
            top_p=LLM_GREEDY.top_p,
            repeat_penalty=LLM_GREEDY.repeat_penalty,
        )
        progress(
            f"llm: {plan.repetitions} rounds of {options.max_tokens} tokens,"
            f" {thread_label(settings)}"
        )
        names = ["raw", "completion", "runtime"]
        rounds = []
        for index in range(1 + plan.repetitions):  # the first round warms up
            shift = index % len(names)
            order = names[shift:] + names[:shift]
            runtime, raw, completion = engines[shift:] + engines[:shift]
            # The raw sides borrow the other engines' bare llama_cpp.Llama objects.
            result = llm_round(runtime, raw._llama, completion._llama, prompt, options, order)
            if index:
                rounds.append(result)
        engine = engines[0]
        replay_tokens = engine._llama.tokenize(rounds[-1].raw.text.encode("utf-8"), add_bos=False)
        replays = [
            1000.0 * replay_decode_seconds(engine, replay_tokens) / max(len(replay_tokens), 1)
            for _ in range(20)
        ]
    finally:
        for loaded_engine in engines:
            loaded_engine.close()

    raw_runs = [r.raw for r in rounds]
    completion_runs = [r.completion for r in rounds]
    runtime_runs = [r.runtime for r in rounds]
    name = f"LLM llama.cpp ({thread_label(settings)})"
    runtime_tps = stats([g.tokens_per_second for g in runtime_runs], higher_is_better=True)
    overhead = [r.runtime.ms_per_token - r.raw.ms_per_token for r in rounds]
    section = Section()
    section.rows = [
        Row(
            name,
            "decode vs generate()",
            "tokens/s",
            runtime_tps,
            stats([g.tokens_per_second for g in raw_runs], higher_is_better=True),
            higher_is_better=True,
            target=Target("ratio", at_least=True, bound=0.97),
        ),
        Row(
            name,
            "decode vs create_completion(stream)",
            "tokens/s",
            runtime_tps,
            stats([g.tokens_per_second for g in completion_runs], higher_is_better=True),
            higher_is_better=True,
        ),
        Row(
            name,
            f"time to first token, {len(prompt)}-token prompt",
            "ms",
            stats([1000 * g.first_token_seconds for g in runtime_runs]),
            stats([1000 * g.first_token_seconds for g in raw_runs]),
        ),
        Row(
            name,
            "Python overhead per token (runtime - raw)",
            "ms",
            stats(overhead),
            target=Target("runtime", at_least=False, bound=0.5),
            digits=3,
        ),
        Row(
            name,
            "engine decode loop alone (replayed tokens)",
            "ms/token",
            stats(replays),
            digits=4,
        ),
    ]
    same = all(r.runtime.text == r.raw.text for r in rounds)
    same_completion = all(r.completion.text == r.raw.text for r in rounds)
    counts = sorted({g.tokens for g in (*raw_runs, *runtime_runs)})
    section.notes = [
        f"LLM: {model.id}, greedy, {options.max_tokens} tokens max (generated: {counts}),"
        f" context {settings.context_length}, batch {settings.batch_size}; the three sides"
        " (bare generate(), create_completion(stream), the engine's stream()) advanced in"
        " lockstep one token at a time, each on its own llama.cpp instance (the instances"
        " take the three roles in turn); KV caches cleared before every run; runtime and raw"
        f" texts identical: {'yes' if same else 'NO'};"
        f" create_completion text identical: {'yes' if same_completion else 'NO'}.",
    ]
    section.details = {
        "model": model.id,
        "threads": settings.threads,
        "batch_threads": settings.batch_threads,
        "prompt_tokens": len(prompt),
        "raw": [vars_of(g) for g in raw_runs],
        "completion": [vars_of(g) for g in completion_runs],
        "runtime": [vars_of(g) for g in runtime_runs],
        "overhead_ms_per_token": overhead,
        "replay_ms_per_token": replays,
    }
    return section


def vars_of(generation: Generation) -> dict[str, Any]:
    """A generation's numbers (text left out) for the JSON output."""
    return {
        "tokens": generation.tokens,
        "first_token_seconds": generation.first_token_seconds,
        "decode_seconds": generation.decode_seconds,
        "tokens_per_second": generation.tokens_per_second,
    }


# Audio input ----------------------------------------------------------------------------


def speech_clip(workdir: Path, text: str = SPEECH_TEXT) -> AudioChunk:
    """``text`` spoken by espeak-ng, as 16 kHz mono 16-bit audio (needs espeak-ng and sox)."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise RuntimeError("the speech benchmarks need espeak-ng and sox (apt-get install)")
    spoken, converted = workdir / "speech.wav", workdir / "speech16.wav"
    subprocess.run([espeak, "-w", str(spoken), text], check=True, capture_output=True)
    subprocess.run(
        [sox, str(spoken), "-r", "16000", "-c", "1", "-b", "16", str(converted)],
        check=True,
        capture_output=True,
    )
    with wave.open(str(converted), "rb") as handle:
        return AudioChunk(audio=handle.readframes(handle.getnframes()), rate=handle.getframerate())


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = call()
    return seconds_since(started), result


# Speech to text -------------------------------------------------------------------------


def bench_whispercpp(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Real-time factor of whisper.cpp: pywhispercpp alone against the engine."""
    threads = plan.threads or stt_default_threads(os.cpu_count())
    loaded, model, params = load_runtime(store, WHISPERCPP_MODEL, {"threads": threads})
    engine = cast(WhisperCppSpeechToText, loaded)
    settings = parse_params(WhisperCppParams, params, WHISPERCPP_MODEL)
    path = find_model_file(model.path, settings.model_file)
    if path is None:
        raise RuntimeError(f"no ggml file in {model.path}")
    from pywhispercpp.model import Model

    raw = Model(
        str(path),
        context_params={"flash_attn": False},  # as the engine (see its comment)
        redirect_whispercpp_logs_to=None,
        n_threads=threads,
        print_progress=False,
        print_realtime=False,
        print_timestamps=False,
    )
    samples = clip.samples()
    positions = audio_context_positions(
        clip.seconds, margin=settings.audio_context_margin, minimum=settings.min_audio_context
    )
    strategy = importlib.import_module("_pywhispercpp").whisper_sampling_strategy

    def bare() -> tuple[float, str]:
        seconds, segments = timed(
            lambda: raw.transcribe(
                samples,
                language="en",
                detect_language=False,
                translate=False,
                initial_prompt="",
                audio_ctx=positions,
                temperature_inc=0.0,
                n_threads=threads,
                no_context=True,
                strategy=strategy.WHISPER_SAMPLING_GREEDY,
            )
        )
        return seconds, " ".join(s.text.strip() for s in segments if s.text.strip())

    return compare_stt(
        f"STT whisper.cpp ({threads} threads)",
        engine,
        bare,
        clip,
        plan,
        f"audio_ctx {positions} on both sides",
    )


def bench_faster_whisper(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Real-time factor of faster-whisper: WhisperModel alone against the engine."""
    threads = plan.threads or stt_default_threads(os.cpu_count())
    loaded, model, params = load_runtime(store, FASTER_WHISPER_MODEL, {"cpu_threads": threads})
    engine = cast(FasterWhisperSpeechToText, loaded)
    settings = parse_params(FasterWhisperParams, params, FASTER_WHISPER_MODEL)
    from faster_whisper import WhisperModel

    raw = WhisperModel(
        str(model.path),
        device="cpu",
        compute_type=settings.compute_type,
        cpu_threads=threads,
        local_files_only=True,
    )
    samples = clip.samples()

    def bare() -> tuple[float, str]:
        def run() -> str:
            segments, _info = raw.transcribe(
                samples, language=None, beam_size=1, initial_prompt=None, vad_filter=False
            )
            return " ".join(s.text.strip() for s in segments if s.text.strip())

        return timed(run)

    return compare_stt(
        f"STT faster-whisper ({threads} threads)",
        engine,
        bare,
        clip,
        plan,
        f"{settings.compute_type}, full 30 s window on both sides",
    )


def compare_stt(
    name: str,
    engine: SpeechToText,
    bare: Callable[[], tuple[float, str]],
    clip: AudioChunk,
    plan: Plan,
    how: str,
) -> Section:
    """``bare`` and the engine turn about on ``clip``; the engine is closed after."""

    def runtime() -> tuple[float, str]:
        seconds, transcript = timed(lambda: engine.transcribe(clip, TranscribeOptions()))
        return seconds, transcript.text

    progress(f"{name}: {plan.repetitions} rounds")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.repetitions)
    finally:
        engine.close()
    return stt_section(name, engine.model_id, clip, runs, how)


def stt_section(
    name: str,
    model_id: str,
    clip: AudioChunk,
    runs: Mapping[str, list[tuple[float, str]]],
    how: str,
) -> Section:
    """Rows and notes of a speech-to-text comparison."""
    raw_rtf = [seconds / clip.seconds for seconds, _ in runs["raw"]]
    runtime_rtf = [seconds / clip.seconds for seconds, _ in runs["runtime"]]
    raw_texts = {text for _, text in runs["raw"]}
    runtime_texts = {text for _, text in runs["runtime"]}
    same = raw_texts == runtime_texts and len(raw_texts) == 1
    section = Section()
    section.rows = [
        Row(
            name,
            f"real-time factor, {clip.seconds:.1f} s clip",
            "x",
            stats(runtime_rtf),
            stats(raw_rtf),
            target=Target("ratio", at_least=True, bound=0.97),
            digits=3,
        )
    ]
    section.notes = [
        f"{name}: {model_id}, {how}; transcripts identical: {'yes' if same else 'NO'}"
        f" ({sorted(runtime_texts)[0]!r})."
    ]
    section.details = {"model": model_id, "raw_rtf": raw_rtf, "runtime_rtf": runtime_rtf}
    return section


# Text to speech ---------------------------------------------------------------------------


def bench_piper(store: ModelStore, plan: Plan) -> Section:
    """Time to first audio and real-time factor: PiperVoice alone against the engine."""
    loaded, model, params = load_runtime(store, PIPER_MODEL, plan.thread_params)
    engine = cast(PiperTextToSpeech, loaded)
    settings = parse_params(PiperParams, params, PIPER_MODEL)
    voice_path = find_voice(model.path, settings.voice)
    if voice_path is None:
        raise RuntimeError(f"no voice in {model.path}")
    from piper import PiperVoice
    from piper.config import PiperConfig, SynthesisConfig

    session = cpu_session(voice_path, settings.threads)
    config_text = voice_path.with_name(voice_path.name + ".json").read_text(encoding="utf-8")
    voice = PiperVoice(session=session, config=PiperConfig.from_dict(json.loads(config_text)))
    rate = voice.config.sample_rate

    def bare() -> tuple[float, float, float]:
        started = time.perf_counter()
        first = 0.0
        audio_seconds = 0.0
        for chunk in voice.synthesize(TTS_TEXT, syn_config=SynthesisConfig()):
            if not first:
                first = seconds_since(started)
            audio_seconds += len(chunk.audio_int16_bytes) / 2 / rate
        return first, seconds_since(started), audio_seconds

    def runtime() -> tuple[float, float, float]:
        started = time.perf_counter()
        first = 0.0
        audio_seconds = 0.0
        for chunk in engine.synthesize(TTS_TEXT, SynthesisOptions()):
            if not first:
                first = seconds_since(started)
            audio_seconds += chunk.seconds
        return first, seconds_since(started), audio_seconds

    progress(f"tts piper: {plan.repetitions} rounds, {settings.threads or 'all'} thread(s)")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.repetitions)
    finally:
        engine.close()
    name = f"TTS Piper ({settings.threads or 'all'} thread{'s' if settings.threads != 1 else ''})"
    audio = [a for _, _, a in runs["runtime"]]
    section = Section()
    section.rows = [
        Row(
            name,
            "time to first audio",
            "ms",
            stats([1000 * f for f, _, _ in runs["runtime"]]),
            stats([1000 * f for f, _, _ in runs["raw"]]),
            digits=1,
        ),
        Row(
            name,
            f"real-time factor, {np.median(audio):.1f} s of speech",
            "x",
            stats([t / a for _, t, a in runs["runtime"]]),
            stats([t / a for _, t, a in runs["raw"]]),
            digits=3,
        ),
    ]
    section.notes = [
        f"{name}: {model.id}, 3 sentences ({len(TTS_TEXT)} characters), the voice's own"
        " scales at rate 1.0 on both sides."
    ]
    section.details = {"model": model.id, "raw": runs["raw"], "runtime": runs["runtime"]}
    return section


# Vision -----------------------------------------------------------------------------------


def ocr_image() -> npt.NDArray[np.uint8]:
    """A 900x160 RGB image with two lines of dark text on white."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 160), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 40) if FONT.is_file() else ImageFont.load_default(40)
    for index, line in enumerate(OCR_LINES):
        draw.text((24, 20 + 64 * index), line, fill=(20, 20, 20), font=font)
    return np.asarray(image, dtype=np.uint8)


def bench_ocr(store: ModelStore, plan: Plan) -> Section:
    """Latency of RapidOCR alone (the engine's arguments) against the engine."""
    loaded, model, params = load_runtime(store, OCR_MODEL, plan.thread_params)
    engine = cast(RapidOcrTextRecognizer, loaded)
    from rapidocr_onnxruntime import RapidOCR

    raw = RapidOCR(
        **rapidocr_arguments(model.path, parse_params(RapidOcrParams, params, OCR_MODEL))
    )
    rgb = ocr_image()
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    frame = Frame(rgb)

    def bare() -> tuple[float, str]:
        seconds, (result, _elapsed) = timed(lambda: raw(bgr))
        return seconds, " / ".join(str(line[1]) for line in result or ())

    def runtime() -> tuple[float, str]:
        seconds, lines = timed(lambda: engine.recognize(frame))
        return seconds, " / ".join(line.text for line in lines)

    progress(f"ocr: {plan.repetitions} rounds")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.repetitions)
    finally:
        engine.close()
    texts = {text for _, text in runs["runtime"]} | {text for _, text in runs["raw"]}
    section = Section()
    section.rows = [
        Row(
            "OCR RapidOCR",
            "latency, 900x160 two-line image",
            "ms",
            stats([1000 * s for s, _ in runs["runtime"]]),
            stats([1000 * s for s, _ in runs["raw"]]),
            digits=1,
        )
    ]
    section.notes = [
        f"OCR RapidOCR: {model.id}; the same text on both sides: "
        f"{'yes' if len(texts) == 1 else 'NO'} ({sorted(texts)[0]!r})."
    ]
    section.details = {"model": model.id, "raw": runs["raw"], "runtime": runs["runtime"]}
    return section


def detection_frame() -> npt.NDArray[np.uint8]:
    """A 640x480 RGB scene: a floor, a wall, a person-like figure lying down, furniture."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (200, 196, 186))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 640, 480), fill=(120, 96, 70))  # floor
    draw.rectangle((430, 150, 600, 320), fill=(60, 70, 110))  # cupboard
    draw.ellipse((150, 330, 190, 370), fill=(225, 180, 150))  # head
    draw.rectangle((185, 335, 330, 365), fill=(40, 90, 160))  # body
    draw.rectangle((330, 338, 430, 352), fill=(30, 30, 40))  # legs
    draw.rectangle((330, 352, 425, 364), fill=(30, 30, 40))
    return np.asarray(image, dtype=np.uint8)


def bench_detect(store: ModelStore, plan: Plan) -> Section:
    """Latency of onnxruntime + the same postprocessing against ``detect`` on a frame."""
    loaded, model, params = load_runtime(store, DETECT_MODEL, plan.thread_params)
    engine = cast(YoloOnnxObjectDetector, loaded)
    settings = parse_params(YoloOnnxParams, params, DETECT_MODEL)
    path = find_model(model.path, settings.model_file)
    if path is None:
        raise RuntimeError(f"no .onnx in {model.path}")
    session = cpu_session(path, settings.threads)
    meta = session.get_inputs()[0]
    dtype = np.float16 if meta.type == "tensor(float16)" else np.float32
    image = detection_frame()
    frame = Frame(image)
    options = DetectOptions()
    # The raw side gets its tensor made once, before timing: a bare session.run.
    tensor, layout = model_input(image, engine.input_width, engine.input_height, dtype)
    output_name = session.get_outputs()[0].name

    def bare() -> tuple[float, int]:
        def run() -> int:
            output = session.run([output_name], {meta.name: tensor})[0]
            prediction = np.asarray(output, dtype=np.float32)[0]
            found = postprocess(
                prediction, layout, image.shape[1], image.shape[0], options, engine.labels, None
            )
            return len(found)

        return timed(run)

    def runtime() -> tuple[float, int]:
        seconds, found = timed(lambda: engine.detect(frame, options))
        return seconds, len(found)

    def preprocess() -> tuple[float, int]:
        seconds, _ = timed(
            lambda: model_input(image, engine.input_width, engine.input_height, dtype)
        )
        return seconds, 0

    progress(f"detect: {plan.fast_repetitions} rounds, {settings.threads or 'all'} thread(s)")
    try:
        runs = interleaved(
            {"raw": bare, "runtime": runtime, "preprocess": preprocess}, plan.fast_repetitions
        )
    finally:
        engine.close()
    name = "Detection YOLOv8 ONNX"
    counts = sorted({n for _, n in runs["raw"]} | {n for _, n in runs["runtime"]})
    section = Section()
    section.rows = [
        Row(
            name,
            "latency, 640x480 frame",
            "ms",
            stats([1000 * s for s, _ in runs["runtime"]]),
            stats([1000 * s for s, _ in runs["raw"]]),
            digits=1,
        ),
        Row(
            name,
            "of which letterbox + tensor (runtime only)",
            "ms",
            stats([1000 * s for s, _ in runs["preprocess"]]),
            digits=2,
        ),
    ]
    section.notes = [
        f"{name}: {model.id} ({engine.input_width}x{engine.input_height},"
        f" {np.dtype(dtype).name}); raw = session.run on a tensor made beforehand +"
        f" the engine's numpy postprocessing; detections per frame: {counts}."
    ]
    section.details = {"model": model.id, **{k: v for k, v in runs.items()}}
    return section


# Audio front end ----------------------------------------------------------------------------


def frames_of(clip: AudioChunk, samples: int) -> list[AudioChunk]:
    """``clip`` cut into whole frames of ``samples`` (the tail dropped)."""
    size = samples * clip.width
    return [
        AudioChunk(audio=clip.audio[start : start + size], rate=clip.rate)
        for start in range(0, len(clip.audio) - size + 1, size)
    ]


def bench_vad(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Cost per window of Silero VAD: session.run alone against ``probability``."""
    loaded, model, params = load_runtime(store, VAD_MODEL, plan.thread_params)
    engine = cast(SileroVoiceActivityDetector, loaded)
    settings = parse_params(SileroVadParams, params, VAD_MODEL)
    session = cpu_session(model.path / SILERO_FILE, settings.threads)
    frames = frames_of(clip, engine.frame_samples)
    windows = [frame.samples() for frame in frames]
    context_samples = CONTEXT_SAMPLES[settings.sample_rate]
    rate = np.array(settings.sample_rate, dtype=np.int64)

    def bare() -> tuple[float, list[float]]:
        state = np.zeros(STATE_SHAPE, dtype=np.float32)
        context = np.zeros(context_samples, dtype=np.float32)
        scores = []
        started = time.perf_counter()
        for window in windows:
            feed = {"input": np.concatenate((context, window))[None], "state": state, "sr": rate}
            output, state = session.run(None, feed)
            context = window[-context_samples:]
            scores.append(float(output[0][0]))
        return seconds_since(started) / len(windows), scores

    def runtime() -> tuple[float, list[float]]:
        engine.reset()
        started = time.perf_counter()
        scores = [engine.probability(frame) for frame in frames]
        return seconds_since(started) / len(frames), scores

    progress(f"vad: {plan.fast_repetitions} rounds of {len(frames)} windows")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.fast_repetitions)
    finally:
        engine.close()
    difference = max(
        abs(a - b) for a, b in zip(runs["raw"][-1][1], runs["runtime"][-1][1], strict=True)
    )
    window_ms = 1000 * engine.frame_samples / settings.sample_rate
    section = Section()
    section.rows = [
        Row(
            "VAD Silero",
            f"per {window_ms:g} ms window",
            "µs",
            stats([1e6 * s for s, _ in runs["runtime"]]),
            stats([1e6 * s for s, _ in runs["raw"]]),
            digits=1,
        )
    ]
    section.notes = [
        f"VAD Silero: {model.id}, {len(frames)} windows of the speech clip per round"
        f" (mean per call); largest probability difference raw vs runtime: {difference:.2g}."
    ]
    section.details = {
        "model": model.id,
        "raw_seconds_per_call": [s for s, _ in runs["raw"]],
        "runtime_seconds_per_call": [s for s, _ in runs["runtime"]],
    }
    return section


def bench_wake(store: ModelStore, plan: Plan, clip: AudioChunk) -> Section:
    """Cost per 80 ms frame of openWakeWord: its three sessions alone against ``process``."""
    loaded, model, params = load_runtime(store, WAKE_MODEL, plan.thread_params)
    engine = cast(OpenWakeWordDetector, loaded)
    settings = parse_params(OpenWakeWordParams, params, WAKE_MODEL)
    melspec = cpu_session(model.path / MELSPEC_FILE, settings.threads)
    embedding = cpu_session(model.path / EMBEDDING_FILE, settings.threads)
    classifiers = [
        cpu_session(path, settings.threads)
        for path in sorted(model.path.glob("*.onnx"))
        if path.name not in (MELSPEC_FILE, EMBEDDING_FILE)
        and any(path.name.startswith(word) for word in engine.words)
    ]
    windows = [
        int(shape[1]) if len(shape) == 3 and isinstance(shape[1], int) else 16
        for shape in (c.get_inputs()[0].shape for c in classifiers)
    ]
    frames = frames_of(clip, FRAME_SAMPLES)
    pcm = [np.frombuffer(frame.audio, dtype="<i2").astype(np.float32) for frame in frames]

    def run(session: Any, value: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(session.run(None, {session.get_inputs()[0].name: value})[0])

    def bare() -> float:
        # openWakeWord's streaming path: mel frames, one embedding, each classifier.
        context = np.zeros(0, dtype=np.float32)
        mel = np.ones((EMBEDDING_WINDOW, MEL_BANDS), dtype=np.float32)
        history = np.zeros((max(windows), EMBEDDING_SIZE), dtype=np.float32)
        started = time.perf_counter()
        for samples in pcm:
            audio = np.concatenate((context, samples))
            context = audio[-MEL_CONTEXT_SAMPLES:]
            spec = run(melspec, audio[None]).reshape(-1, MEL_BANDS) / 10.0 + 2.0
            mel = np.vstack((mel, spec))[-EMBEDDING_WINDOW:]
            vector = run(embedding, mel[None, :, :, None].astype(np.float32)).reshape(1, -1)
            history = np.vstack((history, vector))[-max(windows) :]
            for classifier, window in zip(classifiers, windows, strict=True):
                run(classifier, history[-window:][None].astype(np.float32))
        return seconds_since(started) / len(pcm)

    def runtime() -> float:
        engine.reset()
        started = time.perf_counter()
        for frame in frames:
            engine.process(frame)
        return seconds_since(started) / len(frames)

    progress(f"wake: {plan.fast_repetitions} rounds of {len(frames)} frames")
    try:
        runs = interleaved({"raw": bare, "runtime": runtime}, plan.fast_repetitions)
    finally:
        engine.close()
    section = Section()
    section.rows = [
        Row(
            "Wake openWakeWord",
            "per 80 ms frame",
            "µs",
            stats([1e6 * s for s in runs["runtime"]]),
            stats([1e6 * s for s in runs["raw"]]),
            digits=1,
        )
    ]
    section.notes = [
        f"Wake openWakeWord: {model.id} ({', '.join(engine.words)}), {len(frames)} frames of"
        " the speech clip per round (mean per frame); raw = the three ONNX sessions and"
        " numpy buffers of openWakeWord's streaming path."
    ]
    section.details = {"model": model.id, **runs}
    return section


# Running ------------------------------------------------------------------------------------


def run_groups(
    store: ModelStore, plan: Plan, groups: Sequence[str]
) -> tuple[Section, dict[str, str]]:
    """Every selected group, merged into one section; failures by group."""
    merged = Section()
    errors: dict[str, str] = {}
    clip: AudioChunk | None = None
    for group in groups:
        try:
            if group in ("stt", "vad", "wake") and clip is None:
                clip = speech_clip(plan.workdir)
            parts: list[Section]
            if group == "llm":
                parts = [bench_llm(store, plan)]
            elif group == "stt":
                assert clip is not None
                parts = [
                    bench_whispercpp(store, plan, clip),
                    bench_faster_whisper(store, plan, clip),
                ]
            elif group == "tts":
                parts = [bench_piper(store, plan)]
            elif group == "ocr":
                parts = [bench_ocr(store, plan)]
            elif group == "detect":
                parts = [bench_detect(store, plan)]
            elif group == "vad":
                assert clip is not None
                parts = [bench_vad(store, plan, clip)]
            else:
                assert clip is not None
                parts = [bench_wake(store, plan, clip)]
        except (*OWN_ERRORS, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            errors[group] = f"{type(exc).__name__}: {exc}"
            progress(f"{group} failed: {errors[group]}")
            continue
        for part in parts:
            merged.rows.extend(part.rows)
            merged.notes.extend(part.notes)
            merged.details[part.rows[0].engine] = part.details
    return merged, errors


def main(argv: Sequence[str] | None = None) -> int:
    """Run the engine benchmarks; print the header and the table; 1 if a group failed."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "", GROUPS)
    args, groups = parse_with_groups(parser, argv, GROUPS)
    info = machine_info(LIBRARIES)
    store = model_store(args.models_dir)
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as scratch:
        plan = Plan.make(
            quick=args.quick,
            repetitions=args.repetitions,
            max_tokens=args.max_tokens,
            threads=args.threads,
            workdir=Path(scratch),
        )
        try:
            section, errors = run_groups(store, plan, groups)
        finally:
            store.close()
    print(header_line(info))
    print()
    print(rows_table(section.rows))
    print()
    for note in section.notes:
        print(f"- {note}")
    print(
        f"- Values are median (p90) of {plan.repetitions} rounds ({plan.fast_repetitions} for"
        " detection, VAD and wake word) after one warm-up round, raw and runtime turn about;"
        " p90 is the slow tail (10th percentile of a rate). runtime/raw is runtime speed over"
        " raw speed: 1.000 = as fast, below 1 = slower."
    )
    print(f"- Load average at the end: {' '.join(f'{v:.2f}' for v in load_average())}.")
    for group, error in errors.items():
        print(f"- {group}: FAILED: {error}")
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "engines",
                "machine": info,
                "plan": plan,
                "rows": [row.as_dict() for row in section.rows],
                "notes": section.notes,
                "errors": errors,
                "details": section.details,
            },
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
