"""Chat with a GGUF model through llama-cpp-python.

The engine formats messages with the model's own chat template (``tokenizer.chat_template``
in the GGUF) and drives ``Llama.generate()`` token by token, which keeps the Python work per
token small and lets one instance reuse its KV cache: ``generate()`` keeps the longest common
prefix of the previous context and the new prompt, so a follow-up turn evaluates only the
new tokens (reported as ``Usage.cached_prompt_tokens``).

A reply constrained by ``GenerationOptions.json_schema`` is sampled under a GBNF grammar that
llama-cpp-python's converter writes from the schema (``json_schema_to_gbnf``, the port of
llama.cpp's own ``json-schema-to-grammar``); each instance keeps the grammars of its last few
schemas, checked once by llama.cpp's parser, so a caller that asks with the same schema every
turn (the skills' model stage) converts it once.

Threads follow ``runtime.cpu.ThreadPolicy`` unless the ``threads`` parameter fixes them:
every core while nothing else computes, fewer while another engine of ours (Piper speaking
the reply's first sentence) or a process outside works, chosen when a generation starts
and again between tokens (``llama_set_n_threads`` on the live context).
"""

from __future__ import annotations

import codecs
import ctypes
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.cpu import ThreadPolicy
from runtime.engines import require_open
from runtime.errors import (
    EngineError,
    ModelLoadFailed,
    ModelNotInstalled,
    ResourceExhausted,
    UnsupportedInput,
)
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions, TokenLogprob, Usage
from runtime.params import parse_params

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

MODEL_FILE = "model.gguf"
"""The file name of the GGUF inside the model folder."""

ROLES = frozenset({"system", "user", "assistant"})
"""Message roles the engine accepts."""

CHAT_FORMATS: dict[str, str] = {
    "alpaca": "format_alpaca",
    "chatml": "format_chatml",
    "gemma": "format_gemma",
    "llama-2": "format_llama2",
    "llama-3": "format_llama3",
    "mistral-instruct": "format_mistral_instruct",
    "openchat": "format_openchat",
    "phind": "format_phind",
    "qwen": "format_qwen",
    "vicuna": "format",
    "zephyr": "format_zephyr",
}
"""``chat_format`` names -> formatter functions in ``llama_cpp.llama_chat_format``."""

_DEFAULT_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a random seed per generation

GRAMMAR_CACHE_SIZE = 16
"""Grammars (one per JSON schema) each instance keeps converted."""


@dataclass(frozen=True)
class LlamaCppChatParams:
    """Load-time parameters of a llama.cpp chat model."""

    context_length: int = 4096
    """Tokens of context (prompt plus reply) the KV cache holds."""
    threads: int = 0
    """CPU threads for decoding; 0: the thread policy chooses per request and between
    tokens (``runtime.cpu``); a number fixes them."""
    batch_threads: int = 0
    """CPU threads for prompt evaluation; 0: as many as the decoding (every core on an idle
    machine); a number fixes them."""
    batch_size: int = 512
    """Prompt tokens evaluated per llama_decode call."""
    gpu_layers: int = 0
    """Layers offloaded to a GPU (-1 for all); 0 runs on the CPU."""
    chat_format: str | None = None
    """A built-in llama-cpp-python chat format instead of the GGUF's own template."""
    flash_attention: bool = False
    """Use flash attention (helps on GPUs; off by default)."""
    seed: int | None = None
    """Default sampling seed when a request sets none (None: random)."""

    def __post_init__(self) -> None:
        if self.context_length < 64:
            raise ValueError("context_length must be at least 64")
        if self.threads < 0 or self.batch_threads < 0:
            raise ValueError("threads must be 0 (automatic) or positive")
        if self.batch_size < 1:
            raise ValueError("batch_size must be positive")
        if self.gpu_layers < -1:
            raise ValueError("gpu_layers must be -1 (all), 0 or positive")
        if self.chat_format is not None and self.chat_format not in CHAT_FORMATS:
            known = ", ".join(sorted(CHAT_FORMATS))
            raise ValueError(f"unknown chat_format {self.chat_format!r}; known: {known}")
        if self.seed is not None and not 0 <= self.seed < 0xFFFFFFFF:
            raise ValueError("seed must be between 0 and 2**32 - 2")


@dataclass(frozen=True)
class FormattedPrompt:
    """A conversation rendered by a chat template."""

    text: str
    """The prompt text, special tokens written out."""
    stop: tuple[str, ...]
    """Stop strings the chat format asks for."""
    add_bos: bool
    """Whether the tokenizer must prepend BOS (the template did not write it)."""


def open_llama(
    llama_cpp: Any,
    model_id: str,
    path: Path,
    params: Any,
    threads: int,
    batch_threads: int | None = None,
    **extra: Any,
) -> Any:
    """A ``llama_cpp.Llama`` from the parameters both llama.cpp engines share."""
    try:
        return llama_cpp.Llama(
            model_path=str(path),
            n_ctx=params.context_length,
            n_batch=params.batch_size,
            n_ubatch=params.batch_size,
            n_threads=threads,
            n_threads_batch=batch_threads or threads,
            n_gpu_layers=params.gpu_layers,
            flash_attn=params.flash_attention,
            seed=params.seed if params.seed is not None else _DEFAULT_SEED,
            verbose=False,
            **extra,
        )
    except (ValueError, RuntimeError) as exc:
        raise ModelLoadFailed(f"llama.cpp could not load {model_id!r}: {exc}") from exc


def default_threads(cpu_count: int | None) -> int:
    """Threads when none are set: every core but one (for audio, STT and TTS), at most 8.

    llama.cpp's threads wait for each other at every layer; when another busy process
    takes one of their cores, decoding slows down tenfold (measured on 2 cores: 2.6 tokens/s
    with 2 threads against 21 with 1), so a core is left free. Decoding is memory-bound and
    gains little beyond 8 threads.
    """
    return min(8, max(1, (cpu_count or 1) - 1))


def validate_options(options: GenerationOptions) -> None:
    """Raise UnsupportedInput for sampling options llama.cpp cannot honour."""
    if options.max_tokens < 1:
        raise UnsupportedInput("max_tokens must be at least 1", field="max_tokens")
    if options.temperature < 0:
        raise UnsupportedInput("temperature must not be negative", field="temperature")
    if not 0 < options.top_p <= 1:
        raise UnsupportedInput("top_p must be in (0, 1]", field="top_p")
    if options.top_k < 0:
        raise UnsupportedInput("top_k must not be negative", field="top_k")
    if options.repeat_penalty <= 0:
        raise UnsupportedInput("repeat_penalty must be positive", field="repeat_penalty")
    if any(not stop for stop in options.stop):
        raise UnsupportedInput("stop strings must not be empty", field="stop")
    if options.seed is not None and not 0 <= options.seed < 0xFFFFFFFF:
        raise UnsupportedInput("seed must be between 0 and 2**32 - 2", field="seed")


def validate_messages(messages: Sequence[ChatMessage], *, accepts_images: bool) -> None:
    """Raise UnsupportedInput for an empty conversation, unknown roles or unwanted images."""
    if not messages:
        raise UnsupportedInput("at least one message is needed", field="messages")
    for message in messages:
        if message.role not in ROLES:
            raise UnsupportedInput(
                f"unknown role {message.role!r}; use system, user or assistant", field="role"
            )
        if message.images and not accepts_images:
            raise UnsupportedInput("this model does not read images", field="images")


def split_at_stop(text: str, stops: Sequence[str]) -> tuple[str, str, bool]:
    """Split pending text into (safe to emit, held back, stopped).

    On a stop, the text before the first stop to complete (ties: the earliest one) is
    emitted and nothing is held. Otherwise the longest tail that could begin a stop string
    is held back, so partial stop text is never emitted.
    """
    best: tuple[int, int] | None = None
    for stop in stops:
        start = text.find(stop)
        if start >= 0 and (best is None or (start + len(stop), start) < best):
            best = (start + len(stop), start)
    if best is not None:
        return text[: best[1]], "", True
    hold = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), hold, -1):
            if text.endswith(stop[:length]):
                hold = length
                break
    cut = len(text) - hold
    return text[:cut], text[cut:], False


OTHER_CONTINUATION = "Z"
"""Added to an open last message to find where its continuations part from the prompt
formatted as it is (the message's own end, or an empty content's tokens)."""


def common_prefix_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many tokens the two start with alike."""
    common = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        common += 1
    return common


def reused_prefix_length(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """Prompt tokens ``Llama.generate()`` keeps from the previous context (not evaluated).

    Mirrors llama-cpp-python 0.3.x: the longest common prefix is kept; when the whole
    prompt is cached but the context holds more, the last prompt token is evaluated again
    to refresh its logits; when the context is exactly the prompt, nothing is evaluated.
    """
    common = common_prefix_length(cached, prompt)
    if common == len(prompt):
        return common if len(cached) == len(prompt) else max(common - 1, 0)
    return common


class LlamaCppChatModel:
    """A GGUF chat model on llama.cpp; one generation at a time per instance."""

    def __init__(
        self,
        model_id: str,
        llama: Any,
        formatter: Callable[[Sequence[ChatMessage]], FormattedPrompt],
        params: LlamaCppChatParams,
    ) -> None:
        import llama_cpp

        self.model_id = model_id
        # llama.cpp may pad the context (to a multiple of 256), but llama-cpp-python sizes its
        # token buffer by the requested n_ctx: the smaller of the two is what can be used.
        self.context_length: int = min(llama.n_ctx(), len(llama.input_ids))
        self._llama: Any = llama
        self._format = formatter
        self._params = params
        self._lib: Any = llama_cpp
        self._vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self._recurrent = bool(llama_cpp.llama_model_is_recurrent(llama.model)) or bool(
            llama_cpp.llama_model_is_hybrid(llama.model)
        )
        self._pieces: dict[int, bytes] = {}
        self._end_of_generation: dict[int, bool] = {}
        self._piece_buffer = ctypes.create_string_buffer(256)
        self._busy = threading.Lock()
        self._grammars: OrderedDict[str, Any] = OrderedDict()
        self._policy = ThreadPolicy()
        self._threads: tuple[int, int] = (llama.n_threads, llama.n_threads_batch)

    @property
    def threads(self) -> tuple[int, int]:
        """Threads the context uses now: (decoding, prompt evaluation)."""
        return self._threads

    def share_cpu(self, policy: ThreadPolicy) -> None:
        """Choose threads with ``policy`` (the model manager's, which knows our other
        engines) and report this engine's generations to it."""
        self._policy = policy

    @classmethod
    def load(cls, model_id: str, model_dir: Path, params: Mapping[str, Any]) -> LlamaCppChatModel:
        """Load ``model_dir/model.gguf``."""
        parsed = parse_params(LlamaCppChatParams, params, model_id)
        path = Path(model_dir) / MODEL_FILE
        if not path.is_file():
            raise ModelNotInstalled(model_id)
        import llama_cpp

        threads = parsed.threads or default_threads(os.cpu_count())
        llama = open_llama(
            llama_cpp, model_id, path, parsed, threads, parsed.batch_threads or threads
        )
        try:
            formatter = _make_formatter(model_id, llama, parsed.chat_format)
        except BaseException:
            llama.close()
            raise
        log.info(
            "loaded %s (context %d, %d threads, chat format %s)",
            model_id,
            parsed.context_length,
            threads,
            parsed.chat_format or "gguf template",
        )
        return cls(model_id, llama, formatter, parsed)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the templated prompt, generation prompt included."""
        validate_messages(messages, accepts_images=False)
        return len(self._tokenize(self._format(messages)))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """Generate a reply; bad input raises here, before the first delta."""
        started = time.perf_counter()
        validate_options(options)
        validate_messages(messages, accepts_images=False)
        prompt = self._format(messages)
        tokens = self._tokenize(prompt)
        room = self.context_length - len(tokens)
        if room < 1:
            raise UnsupportedInput(
                f"the prompt takes {len(tokens)} tokens; the context holds {self.context_length}",
                field="messages",
            )
        stops = tuple(dict.fromkeys((*options.stop, *prompt.stop)))
        grammar = None if options.json_schema is None else self._grammar(options.json_schema)
        return self._generate(
            tokens, stops, min(options.max_tokens, room), options, cancel, started, grammar
        )

    def prefill(self, messages: Sequence[ChatMessage], *, open_last: bool = False) -> int:
        """Evaluate the prompt of ``messages`` after the part the cache already holds
        (with ``open_last``, only as far as the last message's continuations agree)."""
        validate_messages(messages, accepts_images=False)
        tokens = self._tokenize(self._format(messages))
        if open_last and messages:
            # Whatever the template does around a message, the tokens two different
            # continuations share are the ones the next turn starts with.
            *earlier, last = messages
            other = self._tokenize(
                self._format([*earlier, replace(last, content=last.content + OTHER_CONTINUATION)])
            )
            tokens = tokens[: common_prefix_length(tokens, other)]
        # Room for a reply: a prompt that only just fits is not worth warming.
        tokens = tokens[: max(self.context_length - 1, 0)]
        llama = require_open(self._llama, self.model_id)
        if not self._busy.acquire(blocking=False):
            raise ResourceExhausted(f"model {self.model_id!r} is busy with another generation")
        try:
            if self._recurrent:
                return 0  # a recurrent state cannot be cut back to a shared prefix
            cached = reused_prefix_length(llama.input_ids[: llama.n_tokens].tolist(), tokens)
            if cached >= len(tokens):
                return 0
            llama.n_tokens = cached  # eval drops the cache after n_tokens, then extends it
            try:
                llama.eval(tokens[cached:])
                # Done when this returns (a cancelled warm-up waits for its thread).
                self._lib.llama_synchronize(llama.ctx)
            except (RuntimeError, ValueError) as exc:
                llama.n_tokens = 0
                raise EngineError(f"llama.cpp failed while evaluating a prompt: {exc}") from exc
            return len(tokens) - cached
        finally:
            self._busy.release()

    def close(self) -> None:
        """Free the model and its context."""
        llama, self._llama = self._llama, None
        if llama is not None:
            llama.close()

    def _grammar(self, schema: Mapping[str, Any]) -> Any:
        """The schema's grammar: converted and checked on first use, then from the cache."""
        try:
            key = json.dumps(schema, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise UnsupportedInput(
                f"the JSON schema is not JSON: {exc}", field="json_schema"
            ) from exc
        grammar = self._grammars.get(key)
        if grammar is not None:
            self._grammars.move_to_end(key)
            return grammar
        from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

        try:
            gbnf = json_schema_to_gbnf(key)
        # The converter asserts on what it cannot translate (an unknown type, a bad pattern).
        except (AssertionError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise UnsupportedInput(
                f"llama.cpp cannot follow this JSON schema: {exc}", field="json_schema"
            ) from exc
        # llama-cpp-python hands the text to llama.cpp at every generation, where a grammar
        # that does not parse gives a NULL sampler (a crash in the sampler chain): parse it
        # once here instead.
        sampler = self._lib.llama_sampler_init_grammar(self._vocab, gbnf.encode("utf-8"), b"root")
        if not sampler:
            raise UnsupportedInput(
                "llama.cpp could not parse the grammar of this JSON schema", field="json_schema"
            )
        self._lib.llama_sampler_free(sampler)
        grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        self._grammars[key] = grammar
        if len(self._grammars) > GRAMMAR_CACHE_SIZE:
            self._grammars.popitem(last=False)
        return grammar

    def _tokenize(self, prompt: FormattedPrompt) -> list[int]:
        llama = require_open(self._llama, self.model_id)
        tokens: list[int] = llama.tokenize(
            prompt.text.encode("utf-8"), add_bos=prompt.add_bos, special=True
        )
        return tokens

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            buffer = self._piece_buffer
            size = self._lib.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
            if size < 0:  # longer than the buffer: -size is the length needed
                buffer = ctypes.create_string_buffer(-size)
                size = self._lib.llama_token_to_piece(
                    self._vocab, token, buffer, len(buffer), 0, False
                )
            piece = buffer.raw[:size]
            self._pieces[token] = piece
        return piece

    def _is_end(self, token: int) -> bool:
        end = self._end_of_generation.get(token)
        if end is None:
            end = bool(self._lib.llama_vocab_is_eog(self._vocab, token))
            self._end_of_generation[token] = end
        return end

    def _generate(
        self,
        prompt: list[int],
        stops: tuple[str, ...],
        max_tokens: int,
        options: GenerationOptions,
        cancel: threading.Event | None,
        started: float,
        grammar: Any = None,
    ) -> Iterator[ChatDelta]:
        llama = require_open(self._llama, self.model_id)
        if not self._busy.acquire(blocking=False):
            raise ResourceExhausted(f"model {self.model_id!r} is busy with another generation")
        try:
            with self._policy.activity.busy(self.model_id):
                yield from self._generate_locked(
                    llama, prompt, stops, max_tokens, options, cancel, started, grammar
                )
        finally:
            self._busy.release()

    def _adapt_threads(self) -> None:
        """Let urgent work of another engine finish (speech), then set the threads the
        policy chooses now, unless the parameters fix them."""
        self._policy.activity.wait_for_urgent(self.model_id)
        fixed, fixed_batch = self._params.threads, self._params.batch_threads
        if fixed and fixed_batch:
            return
        chosen = self._policy.threads(self.model_id)
        wanted = (fixed or chosen, fixed_batch or chosen)
        if wanted != self._threads:
            llama = require_open(self._llama, self.model_id)
            self._lib.llama_set_n_threads(llama._ctx.ctx, *wanted)
            self._threads = wanted

    def _generate_locked(
        self,
        llama: Any,
        prompt: list[int],
        stops: tuple[str, ...],
        max_tokens: int,
        options: GenerationOptions,
        cancel: threading.Event | None,
        started: float,
        grammar: Any,
    ) -> Iterator[ChatDelta]:
        self._adapt_threads()
        cached = 0
        if not self._recurrent:
            cached = reused_prefix_length(llama.input_ids[: llama.n_tokens].tolist(), prompt)
        seed = options.seed if options.seed is not None else self._params.seed
        llama.set_seed(seed if seed is not None else _DEFAULT_SEED)
        tokens = llama.generate(
            prompt,
            top_k=options.top_k,
            top_p=options.top_p,
            temp=options.temperature,
            repeat_penalty=options.repeat_penalty,
            grammar=grammar,
        )
        reply = ReplyText(stops)
        progress = _Progress(first_at=None, last_at=started)
        scored = _LogProbs(llama) if options.logprobs else None
        try:
            yield from self._decode(tokens, reply, max_tokens, cancel, progress, scored)
        except (RuntimeError, ValueError) as exc:  # llama_decode or the token buffer failed
            raise EngineError(f"llama.cpp failed while generating: {exc}") from exc
        finally:
            tokens.close()
        first = progress.first_at if progress.first_at is not None else progress.last_at
        usage = Usage(
            prompt_tokens=len(prompt),
            completion_tokens=progress.generated,
            cached_prompt_tokens=cached,
            prompt_seconds=first - started,
            generation_seconds=progress.last_at - first,
            mean_logprob=scored.mean() if scored is not None else None,
            token_logprobs=tuple(scored.tokens) if scored is not None else (),
        )
        yield ChatDelta(reply.tail(), finish_reason=progress.finish, usage=usage)

    def _decode(
        self,
        tokens: Iterator[int],
        reply: ReplyText,
        max_tokens: int,
        cancel: threading.Event | None,
        progress: _Progress,
        scored: _LogProbs | None = None,
    ) -> Iterator[ChatDelta]:
        # The hot loop: one dict lookup per token for the piece and the end test.
        if cancel is not None and cancel.is_set():
            progress.finish = "cancelled"
            return
        clock = time.perf_counter
        adapt = self._adapt_threads
        step = self._policy.activity.step
        while True:
            with step(self.model_id):  # the prompt, then one token (urgent work waits)
                token = next(tokens, None)
            if token is None:
                return
            progress.last_at = clock()
            if progress.first_at is None:
                progress.first_at = progress.last_at
            if self._is_end(token):
                if scored is not None:
                    scored.add(token, None)
                progress.finish = "stop"
                return
            if scored is not None:
                scored.add(token, self._piece(token))
            progress.generated += 1
            text = reply.push(self._piece(token))
            if text:
                yield ChatDelta(text)
            if reply.stopped:
                progress.finish = "stop"
                return
            if progress.generated >= max_tokens:
                return
            if cancel is not None and cancel.is_set():
                progress.finish = "cancelled"
                return
            adapt()  # before the next token is evaluated (when the generator resumes)


class _LogProbs:
    """Scores each token as ``Llama.generate()`` yields it: the logits that chose it are
    still the context's last ones (llama.cpp's ``get_logits_ith(-1)``), as the token itself
    is evaluated only when the generator resumes. The samplers (a grammar among them) work
    on a copy, so these are the model's own probabilities."""

    def __init__(self, llama: Any) -> None:
        import llama_cpp
        import numpy as np

        self._np = np
        self._lib = llama_cpp
        self._llama = llama
        self._vocab = int(llama.n_vocab())
        self.total = 0.0
        self.count = 0
        self.tokens: list[TokenLogprob] = []

    def add(self, token: int, piece: bytes | None) -> None:
        """Score a token; ``piece`` is its text, None for the end token (not listed)."""
        np = self._np
        pointer = self._lib.llama_get_logits_ith(self._llama._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self._vocab,)).astype(np.float64)
        top = float(np.max(logits))
        normaliser = top + float(np.log(np.sum(np.exp(logits - top))))
        logprob = float(logits[token]) - normaliser
        self.total += logprob
        self.count += 1
        if piece is not None:
            self.tokens.append(TokenLogprob(piece.decode("utf-8", errors="replace"), logprob))

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass
class _Progress:
    """Mutable counters of one generation."""

    first_at: float | None
    """perf_counter() when the first token arrived."""
    last_at: float
    """perf_counter() when the last token arrived."""
    generated: int = 0
    """Tokens generated, end-of-generation token excluded."""
    finish: str = "length"
    """Why the generation ended."""


class ReplyText:
    """Turns token pieces into text deltas: UTF-8 split across tokens and stop strings.

    Bytes of a character not yet complete wait for the next piece; text that could be the
    start of a stop string waits until it is known not to be one.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = tuple(stops)
        self._held = ""
        self.stopped = False
        """True once a stop string was generated; nothing after it is emitted."""

    def push(self, piece: bytes) -> str:
        """Text that is safe to emit after this piece (may be empty)."""
        if self.stopped:
            return ""
        text: str = self._decoder.decode(piece)
        if not text or not self._stops:
            return text
        text, self._held, self.stopped = split_at_stop(self._held + text, self._stops)
        return text

    def tail(self) -> str:
        """Held text once the generation ended without completing a stop string.

        Bytes of a character cut off by the end are dropped rather than turned into U+FFFD.
        """
        return self._held


def _make_formatter(
    model_id: str, llama: Any, chat_format: str | None
) -> Callable[[Sequence[ChatMessage]], FormattedPrompt]:
    from llama_cpp import llama_chat_format

    if chat_format is not None:
        builtin = getattr(llama_chat_format, CHAT_FORMATS[chat_format])
        return _builtin_formatter(builtin)
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise UnsupportedInput(
            f"model {model_id!r} has no chat template; set the chat_format parameter",
            field="chat_format",
        )
    eos, bos = llama.token_eos(), llama.token_bos()
    try:
        jinja = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=llama.detokenize([eos], special=True).decode("utf-8") if eos >= 0 else "",
            bos_token=llama.detokenize([bos], special=True).decode("utf-8") if bos >= 0 else "",
        )
    except Exception as exc:  # jinja2 raises its own TemplateSyntaxError tree
        raise EngineError(f"model {model_id!r} has a broken chat template: {exc}") from exc
    # The template's stop string is the EOS token's text; llama.cpp already ends on EOS (and
    # on every end-of-generation token), and control tokens are never detokenized to text.
    return _builtin_formatter(jinja, use_stops=False)


def _builtin_formatter(
    formatter: Any, *, use_stops: bool = True
) -> Callable[[Sequence[ChatMessage]], FormattedPrompt]:
    import jinja2

    def format_messages(messages: Sequence[ChatMessage]) -> FormattedPrompt:
        plain = [{"role": message.role, "content": message.content} for message in messages]
        try:
            response = formatter(messages=plain)
        except ValueError as exc:  # the template's raise_exception(): a conversation it refuses
            raise UnsupportedInput(f"the chat template refused the messages: {exc}") from exc
        except jinja2.TemplateError as exc:
            raise EngineError(f"the chat template failed: {exc}") from exc
        stop = response.stop
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        if not use_stops:
            stops = ()
        return FormattedPrompt(text=response.prompt, stop=stops, add_bos=not response.added_special)

    return format_messages
