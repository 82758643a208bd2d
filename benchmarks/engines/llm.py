"""LLM: the chat engine against bare llama-cpp-python on the same GGUF.

Decode speed, time to first token and per-token overhead, against ``generate()`` and
``create_completion(stream)``; the chat API benchmark reuses the raw side.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from benchmarks.common import Row, Target, progress
from benchmarks.engines.base import Plan, Section, load_runtime, stats
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions
from runtime.llm.llama_cpp import LlamaCppChatModel, LlamaCppChatParams, ReplyText, _Progress
from runtime.llm.llama_cpp import default_threads as llm_default_threads
from runtime.modelstore import ModelStore
from runtime.params import parse_params

LLM_MODEL = "qwen2.5-coder:0.5b-q4"

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
