"""How soon a spoken reply can start: Piper's first audio against text length, and the
first clause of a streamed reply against its first sentence.

1. ``length``: Piper (the installed voice and parameters) speaking one sentence of 3, 6,
   10, 20 and 40 words: time to its first (and only) audio chunk. Piper runs its voice
   once per sentence and cannot hand on audio before a sentence is done, so the first
   audio waits for the whole first piece it is given. The same 20- and 40-word texts
   given as a short first clause and the rest show what splitting costs in total.
2. ``reply``: a question to the chat model (Qwen2.5-Coder 0.5B through the chat engine,
   its threads chosen by the thread policy), the reply streamed into the sentence
   splitter as the voice turn does, the first piece spoken by Piper as soon as it is cut
   while the model writes on: time to the first piece, Piper's time to its audio, and
   their sum (the reply's share of "end of speech -> first audio"), per splitter option:
   whole first sentences, or a first clause of at most N words.

    python -m benchmarks.tts_chunking [--quick] [--repetitions N] [--only length,reply]
        [--models-dir DIR] [--json PATH]
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.voice.sentences import SentenceSplitter, SplitterOptions
from benchmarks.common import (
    Stats,
    base_parser,
    header_line,
    interleaved,
    machine_info,
    markdown_table,
    model_store,
    parse_with_groups,
    progress,
    write_json,
)
from runtime.cpu import ThreadPolicy
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions
from runtime.llm.llama_cpp import LlamaCppChatModel
from runtime.modelstore import ModelStore
from runtime.tts.base import SynthesisOptions
from runtime.tts.piper import PiperTextToSpeech

VOICE = "piper:en_US-joe-medium"
LLM = "qwen2.5-coder:0.5b-q4"
GROUPS = ("length", "reply")
LONG_SENTENCE = (
    "the weather in paris today is sunny and warm with a light breeze from the west so you"
    " might want to take a long walk along the river before the evening when it will turn"
    " cooler and cloudy with some rain expected later tonight and again tomorrow morning"
)
"""Words of one long sentence, cut to each length."""
LENGTHS = (3, 6, 10, 20, 40)
"""Words per sentence in the length group."""
QUESTIONS = (
    "What is the capital of France?",
    "How far away is the moon?",
    "Why is the sky blue?",
    "What should I cook for dinner tonight?",
    "Who wrote Pride and Prejudice?",
)
"""Questions a voice assistant hears."""
SYSTEM = "You are a helpful voice assistant. Answer in two or three short spoken sentences."
SPLITTERS: dict[str, SplitterOptions] = {
    "first sentence": SplitterOptions(),
    "first clause, <= 4 words": SplitterOptions(first_clause_words=4),
    "first clause, <= 6 words": SplitterOptions(first_clause_words=6),
    "first clause, <= 8 words": SplitterOptions(first_clause_words=8),
    "first clause, <= 10 words": SplitterOptions(first_clause_words=10),
}
"""The splitter options compared in the reply group."""


def sentence(words: int) -> str:
    """A sentence of ``words`` words."""
    vocabulary = LONG_SENTENCE.split()
    text = " ".join(vocabulary[i % len(vocabulary)] for i in range(words))
    return text[0].upper() + text[1:] + "."


def first_audio(tts: PiperTextToSpeech, text: str, *, urgent: bool = False) -> tuple[float, float]:
    """(seconds to the first chunk, seconds to the last) of speaking ``text``; ``urgent``
    as the voice pipeline makes a reply's first piece (the chat model waits)."""
    started = time.perf_counter()
    first = None
    for _ in tts.synthesize(text, SynthesisOptions(urgent=urgent)):
        if first is None:
            first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


def split_audio(tts: PiperTextToSpeech, clause: str, rest: str) -> tuple[float, float]:
    """(first audio, all audio made) when ``clause`` is spoken first, then ``rest``."""
    first, made = first_audio(tts, clause)
    _, rest_made = first_audio(tts, rest)
    return first, made + rest_made


def length_group(tts: PiperTextToSpeech, repetitions: int) -> tuple[str, dict[str, object]]:
    """Piper's first audio per sentence length, and a first clause against a whole sentence."""
    runs: dict[str, Callable[[], tuple[float, float]]] = {
        f"{n}": functools.partial(first_audio, tts, sentence(n)) for n in LENGTHS
    }
    for n in (20, 40):
        words = sentence(n).split()
        runs[f"{n} split"] = functools.partial(
            split_audio, tts, " ".join(words[:6]), " ".join(words[6:])
        )
    measured = interleaved(runs, repetitions)
    rows = []
    for name, values in measured.items():
        firsts = Stats.of([v[0] * 1000 for v in values])
        totals = Stats.of([v[1] * 1000 for v in values])
        count, _, cut = name.partition(" ")
        how = "first 6 words, then the rest" if cut else "one sentence"
        rows.append([count, how, _ms(firsts), _ms(totals)])
    table = markdown_table(
        ["words", "given to Piper as", "first audio (ms)", "all audio made (ms)"], rows
    )
    return table, {"rows": rows}


@dataclass(frozen=True)
class ReplyTiming:
    """One spoken reply's start."""

    piece_seconds: float
    """From the request to the splitter's first piece."""
    audio_seconds: float
    """From the first piece to Piper's first chunk (the model still writing)."""
    words: int
    """Words in the first piece."""


def reply_start(
    engine: LlamaCppChatModel, tts: PiperTextToSpeech, question: str, options: SplitterOptions
) -> ReplyTiming:
    """Stream a reply, speak its first piece as soon as it is cut, stop the reply."""
    deltas: queue.Queue[ChatDelta | None] = queue.Queue()
    cancel = threading.Event()
    messages = [ChatMessage("system", SYSTEM), ChatMessage("user", question)]
    generation = GenerationOptions(temperature=0.0, max_tokens=96, repeat_penalty=1.0)

    def write() -> None:
        try:
            for delta in engine.stream(messages, generation, cancel):
                deltas.put(delta)
        finally:
            deltas.put(None)

    started = time.perf_counter()
    writer = threading.Thread(target=write, name="reply")
    writer.start()
    splitter = SentenceSplitter(options)
    piece = None
    try:
        while piece is None:
            delta = deltas.get()
            if delta is None:
                piece = splitter.flush() or ""
                break
            pieces = splitter.push(delta.text)
            piece = pieces[0] if pieces else None
        cut = time.perf_counter()
        audio, _ = first_audio(tts, piece, urgent=True) if piece else (0.0, 0.0)
    finally:
        cancel.set()
        writer.join()
    return ReplyTiming(cut - started, audio, len(piece.split()))


def reply_group(
    engine: LlamaCppChatModel, tts: PiperTextToSpeech, repetitions: int
) -> tuple[str, dict[str, object]]:
    """First piece, its audio and their sum per splitter option, over the questions."""
    results: dict[str, list[ReplyTiming]] = {name: [] for name in SPLITTERS}
    for question in QUESTIONS:
        progress(f"reply: {question}")
        runs = {
            name: functools.partial(reply_start, engine, tts, question, options)
            for name, options in SPLITTERS.items()
        }
        for name, timings in interleaved(runs, repetitions).items():
            results[name].extend(timings)
    rows = []
    for name, timings in results.items():
        rows.append(
            [
                name,
                _ms(Stats.of([t.piece_seconds * 1000 for t in timings])),
                _ms(Stats.of([t.audio_seconds * 1000 for t in timings])),
                _ms(Stats.of([(t.piece_seconds + t.audio_seconds) * 1000 for t in timings])),
                f"{Stats.of([float(t.words) for t in timings]).median:.0f}",
            ]
        )
    table = markdown_table(
        [
            "first piece",
            "request -> first piece (ms)",
            "piece -> first audio (ms)",
            "request -> first audio (ms)",
            "words in it (median)",
        ],
        rows,
    )
    return table, {"rows": rows}


def _ms(stats: Stats) -> str:
    return f"{stats.median:.0f} ({stats.p90:.0f})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the groups and print their tables."""
    parser = base_parser(
        "Piper's first audio against text length, and a streamed reply's first clause"
        " against its first sentence.",
        GROUPS,
        tuning=False,
        prog="python -m benchmarks.tts_chunking",
    )
    args, groups = parse_with_groups(parser, argv, GROUPS)
    repetitions = args.repetitions or (1 if args.quick else 5)
    info = machine_info(("llama-cpp-python", "piper-tts", "onnxruntime"))
    store: ModelStore = model_store(args.models_dir)
    voice = store.require(VOICE)
    tts = PiperTextToSpeech.load(VOICE, voice.path, dict(voice.params))
    policy = ThreadPolicy()
    tts.share_cpu(policy)
    output: dict[str, object] = {"machine": info}
    tables = []
    try:
        if "length" in groups:
            progress(f"length: {repetitions} rounds")
            table, output["length"] = length_group(tts, repetitions)
            tables.append(("**Piper: first audio against text length**", table))
        if "reply" in groups:
            llm = store.require(LLM)
            engine = LlamaCppChatModel.load(LLM, llm.path, dict(llm.params))
            engine.share_cpu(policy)
            try:
                reply_start(engine, tts, QUESTIONS[0], SplitterOptions())  # warm-up
                table, output["reply"] = reply_group(engine, tts, repetitions)
            finally:
                engine.close()
            tables.append(
                (
                    f"**A streamed reply's first piece** ({len(QUESTIONS)} questions x"
                    f" {repetitions}, {LLM}, greedy)",
                    table,
                )
            )
    finally:
        tts.close()
    print(header_line(info))
    for title, table in tables:
        print()
        print(title)
        print()
        print(table)
    print()
    print("Values are median (p90) in ms.")
    if args.json is not None:
        write_json(args.json, output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
