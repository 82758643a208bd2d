"""Decode speed per thread count, idle and under load: the thread policy against fixed counts.

Sides, turn about in every condition: bare llama-cpp-python (``Llama.generate()``, the
tightest loop) at each fixed thread count from 1 to the cores (at most 4), and the chat
engine (``LlamaCppChatModel``) with its automatic threads (``runtime.cpu.ThreadPolicy``,
re-chosen between tokens). Conditions:

- ``idle``: nothing else of ours runs (on a shared machine, others' work still does);
- ``voice``: the voice loop's own load: Piper synthesises sentences in another thread of
  this process, reporting to the same policy as the model manager makes it do;
  ``voice-half`` synthesises half of the time (a sentence, then a pause as long), which
  is closer to a spoken reply, where Piper works in bursts while the LLM writes on;
- ``external``: one busy process outside (a spinning Python), seen only by the probe.

Today's rule (every core but one, fixed) is the bare side at that count. Targets: on an
idle machine the policy decodes >= 0.95 of the best fixed count; under the voice loop's
load, no worse than today (>= 0.97, the noise band of this shared machine).

    python -m benchmarks.threads [--quick] [--repetitions N] [--max-tokens N]
        [--only idle,voice,voice-half,external] [--models-dir DIR] [--json PATH]
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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
from benchmarks.engines.llm import (
    LLM_GREEDY,
    LLM_MESSAGES,
    LLM_MODEL,
    Generation,
    raw_prompt_tokens,
)
from runtime.cpu import ThreadPolicy
from runtime.llm.base import GenerationOptions
from runtime.llm.llama_cpp import LlamaCppChatModel, default_threads
from runtime.modelstore import ModelStore
from runtime.tts.base import SynthesisOptions
from runtime.tts.piper import PiperTextToSpeech

VOICE = "piper:en_US-joe-medium"
CONDITIONS = ("idle", "voice", "voice-half", "external")
"""Every condition, in the order they run."""
SPOKEN = (
    "The capital of France is Paris, a city on the Seine with about two million people.",
    "It is known for the Eiffel Tower, the Louvre and its cafes.",
    "Would you like to hear more about its history?",
)
"""Sentences Piper speaks over and over as the voice loop's load."""
IDLE_TARGET = 0.95
"""Automatic threads on an idle machine, over the best fixed count."""
LOAD_TARGET = 0.97
"""Automatic threads under the voice loop's load, over today's fixed rule."""


class CountingPolicy(ThreadPolicy):
    """The policy, counting its choices (one per token while decoding)."""

    def __init__(self) -> None:
        super().__init__()
        self.choices: Counter[int] = Counter()

    def threads(self, key: str) -> int:
        chosen = super().threads(key)
        self.choices[chosen] += 1
        return chosen


@dataclass(frozen=True)
class Cell:
    """One side in one condition."""

    tokens_per_second: Stats
    """Decode speed."""
    threads: dict[int, float]
    """Share of the policy's choices per thread count (the automatic side only)."""


@contextlib.contextmanager
def piper_load(tts: PiperTextToSpeech, duty: float) -> Iterator[None]:
    """Piper synthesising in a thread: all the time (``duty`` 1) or that share of it."""
    stop = threading.Event()

    def speak() -> None:
        index = 0
        while not stop.is_set():
            started = time.perf_counter()
            for _ in tts.synthesize(SPOKEN[index % len(SPOKEN)], SynthesisOptions()):
                pass
            index += 1
            if duty < 1.0:
                stop.wait((time.perf_counter() - started) * (1.0 - duty) / duty)

    worker = threading.Thread(target=speak, name="piper-load", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()


@contextlib.contextmanager
def external_load() -> Iterator[None]:
    """One busy process outside this one."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)  # the probe measures over half a second
        yield
    finally:
        spinner.kill()
        spinner.wait()


def condition(name: str, tts: PiperTextToSpeech) -> contextlib.AbstractContextManager[None]:
    """The load of a condition."""
    if name == "voice":
        return piper_load(tts, 1.0)
    if name == "voice-half":
        return piper_load(tts, 0.5)
    if name == "external":
        return external_load()
    return contextlib.nullcontext()


def engine_generate(engine: LlamaCppChatModel, max_tokens: int) -> Generation:
    """One greedy generation through the engine (its prompt cached after the first)."""
    options = GenerationOptions(**{**LLM_GREEDY.__dict__, "max_tokens": max_tokens})
    text, usage = [], None
    for delta in engine.stream(LLM_MESSAGES, options, threading.Event()):
        text.append(delta.text)
        usage = delta.usage or usage
    assert usage is not None
    return Generation(
        usage.completion_tokens, usage.prompt_seconds, usage.generation_seconds, "".join(text)
    )


def bare_generate(llama: Any, prompt: Sequence[int], threads: int, max_tokens: int) -> Generation:
    """One greedy generation of bare llama-cpp-python at a fixed thread count: the tightest
    loop, ``Llama.generate()`` with an end-of-generation test (its prompt cached after the
    first, as on the engine's side: only decoding is compared)."""
    import llama_cpp

    llama_cpp.llama_set_n_threads(llama._ctx.ctx, threads, threads)
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    generated: list[int] = []
    clock = time.perf_counter
    started = clock()
    first = last = started
    for token in llama.generate(
        prompt, top_k=LLM_GREEDY.top_k, top_p=LLM_GREEDY.top_p, temp=0.0, repeat_penalty=1.0
    ):
        now = clock()
        if not generated:
            first = now
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        generated.append(token)
        last = now
        if len(generated) >= max_tokens:
            break
    return Generation(len(generated), first - started, last - first, "")


def measure(
    store: ModelStore,
    conditions: Sequence[str],
    repetitions: int,
    max_tokens: int,
    model_id: str = LLM_MODEL,
) -> tuple[dict[str, dict[str, Cell]], list[int]]:
    """Every side in every condition: {condition: {side: cell}}, and the fixed counts."""
    import llama_cpp

    from runtime.llm.llama_cpp import open_llama

    cores = os.cpu_count() or 1
    counts = list(range(1, min(cores, 4) + 1))
    llm = store.require(model_id)
    policy = CountingPolicy()
    engine = LlamaCppChatModel.load(model_id, llm.path, dict(llm.params))
    engine.share_cpu(policy)
    params = engine._params
    bare = open_llama(llama_cpp, model_id, llm.path / "model.gguf", params, 1, 1)
    voice = store.require(VOICE)
    tts = PiperTextToSpeech.load(VOICE, voice.path, dict(voice.params))
    tts.share_cpu(policy)  # as the model manager does
    prompt = raw_prompt_tokens(bare, LLM_MESSAGES)
    results: dict[str, dict[str, Cell]] = {}
    try:
        for name in conditions:
            progress(f"{name}: {repetitions} rounds of {max_tokens} tokens")
            runs: dict[str, Callable[[], Generation]] = {
                f"bare {n}": functools.partial(bare_generate, bare, prompt, n, max_tokens)
                for n in counts
            }
            runs["automatic"] = functools.partial(engine_generate, engine, max_tokens)
            with condition(name, tts):
                policy.choices.clear()
                measured = interleaved(runs, repetitions)
                choices = dict(policy.choices)
            total = sum(choices.values()) or 1
            results[name] = {
                side: Cell(
                    Stats.of([g.tokens_per_second for g in values], higher_is_better=True),
                    {n: choices[n] / total for n in sorted(choices)} if side == "automatic" else {},
                )
                for side, values in measured.items()
            }
    finally:
        engine.close()
        bare.close()
        tts.close()
    return results, counts


def table(results: dict[str, dict[str, Cell]], counts: list[int]) -> str:
    """Conditions down, sides across, then the ratios and their targets."""
    today = default_threads(os.cpu_count())
    headers = [
        "condition",
        *(
            f"bare, {n} thread{'s' if n > 1 else ''}{' (today)' if n == today else ''}"
            for n in counts
        ),
        "automatic",
        "threads chosen (share of tokens)",
        "automatic / best bare",
        "automatic / today",
        "target",
    ]
    rows = []
    for name, cells in results.items():
        auto = cells["automatic"].tokens_per_second.median
        best = max(cells[f"bare {n}"].tokens_per_second.median for n in counts)
        now = cells[f"bare {today}"].tokens_per_second.median
        chosen = ", ".join(f"{n}: {share:.0%}" for n, share in cells["automatic"].threads.items())
        if name == "idle":
            ratio, bound = auto / best, IDLE_TARGET
            target = f"vs best >= {bound}: {'met' if ratio >= bound else 'missed'}"
        elif name.startswith("voice"):
            ratio, bound = auto / now, LOAD_TARGET
            target = f"vs today >= {bound}: {'met' if ratio >= bound else 'missed'}"
        else:
            target = ""
        rows.append(
            [
                name,
                *(_stats(cells[f"bare {n}"].tokens_per_second) for n in counts),
                _stats(cells["automatic"].tokens_per_second),
                chosen,
                f"{auto / best:.3f}",
                f"{auto / now:.3f}",
                target,
            ]
        )
    return markdown_table(headers, rows)


def _stats(stats: Stats) -> str:
    return f"{stats.median:.1f} ({stats.p90:.1f})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = base_parser(
        "Decode tokens/s per thread count, idle and under load: bare llama-cpp-python"
        " at fixed threads against the chat engine's automatic thread policy.",
        CONDITIONS,
        tuning=False,
        prog="python -m benchmarks.threads",
    )
    parser.add_argument(
        "--max-tokens", type=int, metavar="N", help="tokens per generation (default 128)"
    )
    parser.add_argument(
        "--model", default=LLM_MODEL, metavar="ID", help=f"chat model (default {LLM_MODEL})"
    )
    args, conditions = parse_with_groups(parser, argv, CONDITIONS)
    repetitions = args.repetitions or (1 if args.quick else 5)
    max_tokens = args.max_tokens or (16 if args.quick else 128)
    info = machine_info(("llama-cpp-python", "piper-tts", "onnxruntime"))
    store = model_store(args.models_dir)
    results, counts = measure(store, conditions, repetitions, max_tokens, args.model)
    print(header_line(info))
    print()
    print(f"**Decode tokens/s per thread count** ({args.model}, {max_tokens} tokens, greedy):")
    print()
    print(table(results, counts))
    print()
    print(
        "Values are median (slow 10th percentile) tokens/s over the rounds. 'today' is the"
        " fixed rule before the policy (every core but one). The machine's other work counts"
        " as load in every condition: on a shared machine, rerun on a quiet one."
    )
    if args.json is not None:
        write_json(
            args.json,
            {
                "machine": info,
                "model": args.model,
                "max_tokens": max_tokens,
                "counts": counts,
                "results": results,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
