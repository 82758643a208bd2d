"""llama.cpp chat model: pure pieces in tables and hypothesis, the tiny GGUF end to end, and
the real Qwen2.5-Coder 0.5B."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.cpu import EngineActivity, ThreadPolicy
from runtime.errors import (
    EngineError,
    ModelNotInstalled,
    ResourceExhausted,
    UnsupportedInput,
)
from runtime.llm import schema
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions, Usage
from runtime.llm.llama_cpp import (
    LlamaCppChatModel,
    ReplyText,
    default_threads,
    reused_prefix_length,
    split_at_stop,
    validate_messages,
    validate_options,
)
from runtime.testing.tiny_gguf import make_tiny_gguf
from tests.runtime.test_cpu import quiet_policy

QWEN = "qwen2.5-coder:0.5b-q4"
GREEDY = GenerationOptions(temperature=0.0, max_tokens=24, repeat_penalty=1.0)
HI = [ChatMessage("user", "hi")]

# --- pure pieces -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("hello", (), ("hello", "", False)),
        ("hello", ("xyz",), ("hello", "", False)),
        ("hello <", ("<END>",), ("hello ", "<", False)),
        ("hello <EN", ("<END>",), ("hello ", "<EN", False)),
        ("hello <END> more", ("<END>",), ("hello ", "", True)),
        ("<END>", ("<END>",), ("", "", True)),
        ("ab", ("abc", "b"), ("a", "", True)),  # "b" completes first
        ("abc", ("bc", "abc"), ("", "", True)),  # same end: the earlier start wins
        ("xab", ("abc", "bd"), ("x", "ab", False)),  # the longest possible start is held
        ("a\nUser:", ("\nUser:",), ("a", "", True)),
    ],
)
def test_split_at_stop(text: str, stops: tuple[str, ...], expected: tuple[str, str, bool]) -> None:
    assert split_at_stop(text, stops) == expected


def stop_reference(text: str, stops: list[str]) -> tuple[str, bool]:
    """Reply text fed one character at a time: cut before the first stop to complete."""
    for end in range(1, len(text) + 1):
        starts = [end - len(s) for s in stops if len(s) <= end and text[end - len(s) : end] == s]
        if starts:
            return text[: min(starts)], True
    return text, False


ALPHABET = "ab<>\u00e9\u20ac\U0001f600 "


@given(
    text=st.text(ALPHABET, max_size=30),
    stops=st.lists(st.text(ALPHABET, min_size=1, max_size=4), max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_reply_text_matches_character_reference(
    text: str, stops: list[str], cuts: list[int]
) -> None:
    encoded = text.encode("utf-8")
    bounds = sorted({0, len(encoded), *(c for c in cuts if c < len(encoded))})
    reply = ReplyText(stops)
    expected, expect_stop = stop_reference(text, stops)
    emitted = ""
    for start, end in itertools.pairwise(bounds):
        emitted += reply.push(encoded[start:end])
        # Never any text that is not in the final reply (no partial stop, no U+FFFD).
        assert expected.startswith(emitted)
    assert reply.stopped is expect_stop
    assert emitted + ("" if reply.stopped else reply.tail()) == expected


def test_reply_text_waits_for_split_characters() -> None:
    reply = ReplyText(())
    pieces = [reply.push(bytes([byte])) for byte in "é😀".encode()]
    assert pieces == ["", "é", "", "", "", "😀"]


def test_reply_text_drops_a_character_cut_off_at_the_end() -> None:
    reply = ReplyText(("<END>",))
    assert reply.push(b"ok <") == "ok "
    assert reply.push("€".encode()[:2]) == ""
    assert reply.tail() == "<"


@pytest.mark.parametrize(
    ("cached", "prompt", "expected"),
    [
        ([], [1, 2, 3], 0),
        ([1, 2, 3, 4], [1, 2, 9], 2),
        ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7], 5),  # a follow-up turn
        ([1, 2, 3, 4, 5], [1, 2, 3], 2),  # prompt inside the context: refresh the last logits
        ([1, 2, 3], [1, 2, 3], 3),  # the exact context: sample at once
        ([9, 2, 3], [1, 2, 3], 0),
    ],
)
def test_reused_prefix_length(cached: list[int], prompt: list[int], expected: int) -> None:
    assert reused_prefix_length(cached, prompt) == expected


@pytest.mark.parametrize(
    ("cpu_count", "threads"), [(None, 1), (1, 1), (2, 1), (4, 3), (8, 7), (64, 8)]
)
def test_default_threads_leave_a_core_free(cpu_count: int | None, threads: int) -> None:
    assert default_threads(cpu_count) == threads


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (GenerationOptions(max_tokens=0), "max_tokens"),
        (GenerationOptions(temperature=-0.1), "temperature"),
        (GenerationOptions(top_p=0.0), "top_p"),
        (GenerationOptions(top_p=1.5), "top_p"),
        (GenerationOptions(top_k=-1), "top_k"),
        (GenerationOptions(repeat_penalty=0.0), "repeat_penalty"),
        (GenerationOptions(stop=("",)), "stop"),
        (GenerationOptions(seed=-1), "seed"),
    ],
)
def test_validate_options_rejects(options: GenerationOptions, field: str) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        validate_options(options)
    assert caught.value.field == field


def test_validate_options_accepts_defaults_and_greedy() -> None:
    validate_options(GenerationOptions())
    validate_options(GREEDY)


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([], "messages"),
        ([ChatMessage("robot", "hi")], "role"),
        ([ChatMessage("user", "what is this?", images=(b"\x89PNG",))], "images"),
    ],
)
def test_validate_messages_rejects(messages: list[ChatMessage], field: str) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        validate_messages(messages, accepts_images=False)
    assert caught.value.field == field


# --- the tiny GGUF -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-llm")
    make_tiny_gguf(folder / "model.gguf")
    return folder


@pytest.fixture
def load_tiny(tiny_dir: Path) -> Iterator[Callable[..., LlamaCppChatModel]]:
    models: list[LlamaCppChatModel] = []

    def load(**params: object) -> LlamaCppChatModel:
        model = LlamaCppChatModel.load("tiny:test", tiny_dir, {"context_length": 512, **params})
        models.append(model)
        return model

    yield load
    for model in models:
        model.close()


def run(
    model: LlamaCppChatModel,
    messages: list[ChatMessage],
    options: GenerationOptions = GREEDY,
    cancel: threading.Event | None = None,
) -> tuple[str, ChatDelta]:
    deltas = list(model.stream(messages, options, cancel))
    assert all(d.finish_reason is None and d.usage is None for d in deltas[:-1])
    return "".join(d.text for d in deltas), deltas[-1]


def test_tiny_gguf_is_deterministic(tmp_path: Path) -> None:
    first = make_tiny_gguf(tmp_path / "a.gguf").read_bytes()
    again = make_tiny_gguf(tmp_path / "b.gguf").read_bytes()
    other = make_tiny_gguf(tmp_path / "c.gguf", seed=1).read_bytes()
    assert hashlib.sha256(first).digest() == hashlib.sha256(again).digest()
    assert first != other
    assert 300_000 < len(first) < 1_000_000


def test_streams_deltas_then_a_final_delta_with_usage(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    model = load_tiny()
    deltas = list(model.stream(HI, GREEDY))
    assert len(deltas) > 2
    assert all(d.text for d in deltas[:-1])
    final = deltas[-1]
    assert final.finish_reason == "length"
    assert final.usage is not None
    assert final.usage.prompt_tokens == model.count_tokens(HI)
    assert final.usage.completion_tokens == GREEDY.max_tokens
    assert final.usage.cached_prompt_tokens == 0
    assert final.usage.prompt_seconds > 0
    assert final.usage.generation_seconds > 0
    assert model.model_id == "tiny:test"
    assert model.context_length == 512


def test_max_tokens_ends_with_length(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    _, final = run(load_tiny(), HI, GenerationOptions(temperature=0.0, max_tokens=5))
    assert final.finish_reason == "length"
    assert final.usage is not None
    assert final.usage.completion_tokens == 5


def test_stop_sequence_cuts_the_reply_before_it(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    full, _ = run(load_tiny(), HI)
    stop = full[8:11]
    cut, final = run(load_tiny(), HI, GenerationOptions(**{**GREEDY.__dict__, "stop": (stop,)}))
    assert cut == full[: full.index(stop)]
    assert final.finish_reason == "stop"


def test_same_instance_reuses_the_prompt_and_answers_the_same(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    model = load_tiny()
    first, _ = run(model, HI)
    again, final = run(model, HI)
    assert again == first
    assert final.usage is not None
    assert final.usage.cached_prompt_tokens == final.usage.prompt_tokens - 1


def context_threads(model: LlamaCppChatModel) -> tuple[int, int]:
    """The threads llama.cpp's context uses, as llama.cpp itself reports them."""
    import llama_cpp

    ctx = model._llama._ctx.ctx
    return llama_cpp.llama_n_threads(ctx), llama_cpp.llama_n_threads_batch(ctx)


def test_threads_follow_the_policy_per_request(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    model = load_tiny()
    policy = quiet_policy(cpu_count=3)
    model.share_cpu(policy)
    run(model, HI)
    assert model.threads == context_threads(model) == (3, 3)  # idle: every core
    with policy.activity.busy("piper:voice"):
        run(model, HI)
    assert model.threads == context_threads(model) == (2, 2)  # one core left to Piper


def test_threads_change_between_tokens(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    model = load_tiny()
    policy = quiet_policy(cpu_count=2)
    model.share_cpu(policy)
    deltas = model.stream(HI, GenerationOptions(temperature=0.0, max_tokens=20))
    next(deltas)
    assert policy.activity.busy_now() == {"tiny:test"}  # it reports its own generation
    assert model.threads == (2, 2)
    with policy.activity.busy("piper:voice"):  # Piper starts speaking the first sentence
        next(deltas)
        assert model.threads == context_threads(model) == (1, 1)
    final = list(deltas)[-1]
    assert final.usage is not None
    assert model.threads == (2, 2)  # and gives the core back when it is done
    assert policy.activity.busy_now() == frozenset()


def test_the_chat_model_waits_for_speech_before_every_token(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    class Recording(EngineActivity):
        def __init__(self) -> None:
            super().__init__()
            self.waits: list[str] = []

        def wait_for_urgent(self, key: str, timeout: float = 1.0) -> bool:
            self.waits.append(key)
            return super().wait_for_urgent(key, timeout)

        @contextmanager
        def step(self, key: str) -> Iterator[None]:
            self.waits.append("step")
            with super().step(key):
                yield

    activity = Recording()
    model = load_tiny()
    model.share_cpu(ThreadPolicy(activity=activity, probe=quiet_policy(2).probe, cpu_count=2))
    _, final = run(model, HI)
    assert final.usage is not None
    # Once before the prompt, then before each further token is evaluated (the last of
    # max_tokens is not followed by another); each evaluation is a step that urgent work
    # lets end (the prompt's comes with the first token).
    assert final.finish_reason == "length"
    assert activity.waits == ["tiny:test", "step"] * final.usage.completion_tokens


def test_an_open_last_message_is_prefilled_up_to_where_its_text_starts(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    import llama_cpp

    system = ChatMessage("system", "be brief")
    stamp = "(Sent 9:41 AM.) "
    model = load_tiny()
    evaluated = model.prefill([system, ChatMessage("user", stamp)], open_last=True)
    whole = model.count_tokens([system, ChatMessage("user", stamp)])
    assert 0 < evaluated < whole  # not the message's end nor the generation prompt
    assert model.prefill([system, ChatMessage("user", stamp)], open_last=True) == 0
    context = model._llama.ctx
    llama_cpp.llama_perf_context_reset(context)
    _, final = run(model, [system, ChatMessage("user", stamp + "hello there")])
    assert final.usage is not None
    assert final.usage.cached_prompt_tokens == evaluated  # the whole stamp was kept
    assert llama_cpp.llama_perf_context(context).n_p_eval == final.usage.prompt_tokens - evaluated


@pytest.mark.parametrize(
    ("params", "threads"),
    [
        ({"threads": 1, "batch_threads": 1}, (1, 1)),
        ({"threads": 1}, (1, 4)),
        ({"batch_threads": 2}, (4, 2)),
        ({}, (4, 4)),
    ],
)
def test_threads_set_in_the_params_are_kept(
    load_tiny: Callable[..., LlamaCppChatModel],
    params: dict[str, int],
    threads: tuple[int, int],
) -> None:
    model = load_tiny(**params)
    model.share_cpu(quiet_policy(cpu_count=4))
    run(model, HI)
    assert model.threads == context_threads(model) == threads


def test_cancel_mid_stream(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    cancel = threading.Event()
    texts = []
    final = None
    for delta in load_tiny().stream(HI, GREEDY, cancel):
        texts.append(delta.text)
        if len(texts) == 3:
            cancel.set()
        final = delta
    assert final is not None
    assert final.finish_reason == "cancelled"
    assert final.usage is not None
    assert final.usage.completion_tokens == 3
    assert len(texts) == 4  # three pieces and the final delta


def test_cancel_before_the_start_generates_nothing(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    cancel = threading.Event()
    cancel.set()
    text, final = run(load_tiny(), HI, GREEDY, cancel)
    assert text == ""
    assert final.finish_reason == "cancelled"
    assert final.usage == Usage(
        prompt_tokens=21,
        completion_tokens=0,
        cached_prompt_tokens=0,
        prompt_seconds=final.usage.prompt_seconds if final.usage else 0.0,
        generation_seconds=0.0,
    )


def test_count_tokens_uses_the_gguf_chat_template(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    model = load_tiny()
    # <|im_start|> u s e r \n h i <|im_end|> \n <|im_start|> a s s i s t a n t \n: one token
    # each, as the tiny vocabulary is one character per token and ChatML's markers special.
    assert model.count_tokens(HI) == 21
    longer = [ChatMessage("system", "be brief"), *HI]
    assert model.count_tokens(longer) == 21 + 1 + 6 + 1 + 8 + 1 + 1


def test_follow_up_turn_evaluates_only_new_tokens(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    import llama_cpp

    model = load_tiny()
    options = GenerationOptions(temperature=0.0, max_tokens=8)
    reply, first = run(model, HI, options)
    assert first.usage is not None
    follow_up = [*HI, ChatMessage("assistant", reply), ChatMessage("user", "more")]
    context = model._llama.ctx  # llama.cpp's own counters confirm what was evaluated
    llama_cpp.llama_perf_context_reset(context)
    _, second = run(model, follow_up, options)
    evaluated = llama_cpp.llama_perf_context(context).n_p_eval
    assert second.usage is not None
    # The last reply token was sampled but never evaluated, so it is not in the cache.
    expected = first.usage.prompt_tokens + first.usage.completion_tokens - 1
    assert second.usage.cached_prompt_tokens == expected
    assert evaluated == second.usage.prompt_tokens - expected
    _, cold = run(load_tiny(), follow_up, options)
    assert cold.usage is not None
    assert cold.usage.cached_prompt_tokens == 0


def test_prefill_puts_the_prompt_prefix_in_the_cache(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    import llama_cpp

    options = GenerationOptions(temperature=0.0, max_tokens=8)
    system = [ChatMessage("system", "be brief")]
    question = [*system, *HI]
    model = load_tiny()
    prefix = model.count_tokens(system)
    assert model.prefill(system) == prefix
    assert model.prefill(system) == 0  # cached already: nothing evaluated again
    context = model._llama.ctx
    llama_cpp.llama_perf_context_reset(context)
    warm_text, warm = run(model, question, options)
    assert warm.usage is not None
    shared = warm.usage.cached_prompt_tokens
    # The turn reuses the prefilled prompt up to its generation prompt, where the two
    # differ, and evaluates only the rest.
    assert 0 < shared < prefix
    assert llama_cpp.llama_perf_context(context).n_p_eval == warm.usage.prompt_tokens - shared
    cold_text, cold = run(load_tiny(), question, options)
    assert cold.usage is not None and cold.usage.cached_prompt_tokens == 0
    assert warm_text == cold_text  # the cache changes the cost, not the answer


def test_seeded_sampling_repeats(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    options = GenerationOptions(temperature=1.5, top_k=0, top_p=1.0, max_tokens=24, seed=7)
    first, _ = run(load_tiny(), HI, options)
    again, _ = run(load_tiny(), HI, options)
    other, _ = run(load_tiny(), HI, GenerationOptions(**{**options.__dict__, "seed": 8}))
    assert first == again
    assert first != other
    by_params, _ = run(
        load_tiny(seed=7), HI, GenerationOptions(**{**options.__dict__, "seed": None})
    )
    assert by_params == first


def test_one_generation_at_a_time(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    model = load_tiny()
    running = model.stream(HI, GREEDY)
    assert isinstance(running, Generator)
    next(running)
    with pytest.raises(ResourceExhausted):
        next(model.stream(HI, GREEDY))
    running.close()
    text, final = run(model, HI)
    assert text
    assert final.finish_reason == "length"


def test_prompt_longer_than_the_context_is_invalid(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    model = load_tiny(context_length=64)
    # llama.cpp pads its context to 256, but llama-cpp-python's token buffer holds only 64.
    assert model.context_length == 64
    with pytest.raises(UnsupportedInput):
        model.stream([ChatMessage("user", "x" * 60)], GREEDY)
    # A prompt that fits leaves room for fewer tokens than asked: the reply ends at the edge.
    room = 64 - model.count_tokens([ChatMessage("user", "x" * 30)])
    _, final = run(model, [ChatMessage("user", "x" * 30)], GenerationOptions(max_tokens=100))
    assert final.finish_reason == "length"
    assert final.usage is not None
    assert final.usage.completion_tokens == room


def test_bad_options_raise_before_streaming(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    with pytest.raises(UnsupportedInput):
        load_tiny().stream(HI, GenerationOptions(max_tokens=0))


def test_built_in_chat_format_overrides_the_template(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    model = load_tiny(chat_format="chatml")
    # llama-cpp-python's chatml writes an empty system turn first: <|im_start|> system \n
    # <|im_end|> \n is ten more tokens.
    assert model.count_tokens(HI) == 21 + 10
    text, final = run(model, HI)
    assert text
    assert final.finish_reason == "length"


@pytest.mark.parametrize(
    "params",
    [
        {"context_length": 0},
        {"threads": -1},
        {"batch_size": 0},
        {"gpu_layers": -2},
        {"chat_format": "no-such-format"},
        {"seed": -5},
        {"temperature": 0.5},  # a request option, not a load parameter
    ],
)
def test_bad_params_are_invalid_input(tiny_dir: Path, params: dict[str, object]) -> None:
    with pytest.raises(UnsupportedInput):
        LlamaCppChatModel.load("tiny:test", tiny_dir, params)


def test_missing_file_is_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled) as caught:
        LlamaCppChatModel.load("tiny:missing", tmp_path, {})
    assert caught.value.model_id == "tiny:missing"


def test_corrupt_file_is_a_backend_error(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(EngineError):
        LlamaCppChatModel.load("tiny:corrupt", tmp_path, {})


def test_closed_model_refuses_work(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    model = load_tiny()
    model.close()
    with pytest.raises(EngineError):
        model.stream(HI, GREEDY)
    model.close()  # twice is fine


# --- the real Qwen2.5-Coder 0.5B -----------------------------------------------------------


@pytest.fixture(scope="module")
def qwen(model_dir: Callable[[str], Path]) -> Iterator[LlamaCppChatModel]:
    model = LlamaCppChatModel.load(QWEN, model_dir(QWEN), {"context_length": 2048})
    yield model
    model.close()


@pytest.mark.real_model
def test_qwen_knows_the_capital_of_france(qwen: LlamaCppChatModel) -> None:
    question = [ChatMessage("user", "What is the capital of France?")]
    text, final = run(qwen, question, GenerationOptions(temperature=0.0, max_tokens=32))
    assert "Paris" in text
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.prompt_tokens == qwen.count_tokens(question)


@pytest.mark.real_model
def test_qwen_second_turn_reuses_the_prompt_cache(qwen: LlamaCppChatModel) -> None:
    options = GenerationOptions(temperature=0.0, max_tokens=32)
    turn = [
        ChatMessage("system", "You answer in one short sentence."),
        ChatMessage("user", "Name a primary colour."),
    ]
    reply, first = run(qwen, turn, options)
    assert first.usage is not None
    follow_up = [*turn, ChatMessage("assistant", reply), ChatMessage("user", "Name another.")]
    answer, second = run(qwen, follow_up, options)
    assert answer
    assert second.usage is not None
    # Everything up to the end of the first reply comes from the KV cache.
    assert second.usage.cached_prompt_tokens >= first.usage.prompt_tokens + (
        first.usage.completion_tokens - 1
    )
    assert second.usage.cached_prompt_tokens < second.usage.prompt_tokens


@pytest.mark.real_model
def test_qwen_stops_on_a_stop_string(qwen: LlamaCppChatModel) -> None:
    question = [ChatMessage("user", "Write the word 'café' three times, separated by commas.")]
    text, final = run(
        qwen, question, GenerationOptions(temperature=0.0, max_tokens=48, stop=(",",))
    )
    assert text == "café"
    assert final.finish_reason == "stop"


@pytest.mark.real_model
def test_qwen_streams_a_character_split_across_tokens(qwen: LlamaCppChatModel) -> None:
    # Qwen's tokenizer writes the parrot emoji as two tokens: F0 9F A6 + 9C.
    question = [
        ChatMessage("user", "Write a Python string literal containing the parrot emoji 🦜.")
    ]
    deltas = list(qwen.stream(question, GenerationOptions(temperature=0.0, max_tokens=16)))
    texts = [d.text for d in deltas[:-1]]
    assert "🦜" in texts
    assert not any("\ufffd" in text for text in texts)
    usage = deltas[-1].usage
    assert usage is not None
    assert usage.completion_tokens == len(texts) + 1  # one token gave no text of its own


def test_logprobs_of_greedy_tokens_are_those_of_the_likeliest_tokens(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    """Greedy decoding picks each step's likeliest token: its probability is at least
    1/vocabulary, so the mean log-probability lies in [-log(vocabulary), 0]."""
    model = load_tiny()
    plain, without = run(model, HI, GenerationOptions(temperature=0.0, max_tokens=8))
    scored, final = run(model, HI, GenerationOptions(temperature=0.0, max_tokens=8, logprobs=True))
    assert scored == plain
    assert without.usage is not None and without.usage.mean_logprob is None
    assert final.usage is not None and final.usage.mean_logprob is not None
    vocabulary = model._llama.n_vocab()
    assert -math.log(vocabulary) <= final.usage.mean_logprob <= 0.0


# --- JSON-schema constrained replies ---------------------------------------------------------

CHOICE = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": ["timer.start", "time.now", "none"]},
        "slots": {
            "type": "object",
            "properties": {"timer_duration": {"type": "string", "maxLength": 12}},
            "additionalProperties": False,
        },
    },
    "required": ["intent", "slots"],
    "additionalProperties": False,
}


def test_json_schema_constrains_even_a_nonsense_model(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    """The tiny model writes noise; under the grammar, the noise is valid JSON."""
    model = load_tiny()
    free, _ = run(model, HI, GenerationOptions(temperature=0.0, max_tokens=48))
    with pytest.raises(ValueError):
        json.loads(free)
    for seed in range(3):
        options = GenerationOptions(temperature=1.0, max_tokens=200, seed=seed, json_schema=CHOICE)
        text, final = run(model, HI, options)
        assert final.finish_reason == "stop", text  # the grammar ends, then only the end token
        assert schema.problems(json.loads(text), CHOICE) == []


def test_json_schema_grammar_is_converted_once_per_schema(
    load_tiny: Callable[..., LlamaCppChatModel],
) -> None:
    model = load_tiny()
    options = GenerationOptions(temperature=0.0, max_tokens=200, json_schema=CHOICE)
    first, _ = run(model, HI, options)
    again, _ = run(model, HI, options)
    assert again == first
    assert len(model._grammars) == 1
    other = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    text, _ = run(model, HI, GenerationOptions(max_tokens=100, json_schema=other))
    assert json.loads(text)["ok"] in (True, False)
    assert len(model._grammars) == 2
    # A request with no schema after one with a schema is free text again.
    free, _ = run(model, HI, GenerationOptions(temperature=0.0, max_tokens=48))
    with pytest.raises(ValueError):
        json.loads(free)


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "banana"},
        {"type": "string", "pattern": "abc"},  # patterns must be anchored
        {"$ref": "https://example.com/schema.json"},  # never fetched
        {"type": "object", "properties": {"x": {"type": "string"}}, "default": {1, 2}},  # a set
    ],
)
def test_schema_llama_cpp_cannot_follow_is_invalid_input(
    load_tiny: Callable[..., LlamaCppChatModel], bad: dict[str, object]
) -> None:
    with pytest.raises(UnsupportedInput) as caught:
        load_tiny().stream(HI, GenerationOptions(json_schema=bad))
    assert caught.value.field == "json_schema"


def test_token_logprobs_spell_the_reply(load_tiny: Callable[..., LlamaCppChatModel]) -> None:
    model = load_tiny()
    options = GenerationOptions(temperature=0.0, max_tokens=200, logprobs=True, json_schema=CHOICE)
    text, final = run(model, HI, options)
    assert final.usage is not None
    tokens = final.usage.token_logprobs
    assert "".join(t.text for t in tokens) == text
    assert len(tokens) == final.usage.completion_tokens
    assert all(t.logprob <= 0.0 for t in tokens)
    # The mean also counts the end token, which the list leaves out.
    assert final.usage.mean_logprob is not None
    assert final.usage.mean_logprob <= 0.0
    _, unscored = run(model, HI, GenerationOptions(temperature=0.0, max_tokens=8))
    assert unscored.usage is not None and unscored.usage.token_logprobs == ()


@pytest.mark.real_model
def test_qwen_chooses_under_a_json_schema(qwen: LlamaCppChatModel) -> None:
    messages = [
        ChatMessage(
            "system",
            "Choose the intent of the user's message: timer.start (start a countdown timer),"
            " time.now (tell the time) or none. Reply with JSON.",
        ),
        ChatMessage("user", "Set a timer for five minutes please"),
    ]
    options = GenerationOptions(
        temperature=0.0, max_tokens=48, repeat_penalty=1.0, logprobs=True, json_schema=CHOICE
    )
    text, final = run(qwen, messages, options)
    value = json.loads(text)
    assert schema.problems(value, CHOICE) == []
    assert value["intent"] == "timer.start"
    assert final.finish_reason == "stop"
    assert final.usage is not None
    intent_tokens = [t for t in final.usage.token_logprobs if "timer" in t.text]
    assert intent_tokens and math.exp(intent_tokens[0].logprob) > 0.5
