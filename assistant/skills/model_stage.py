"""The second stage of intent recognition: the chat model chooses, under a JSON grammar.

For phrasing the sentence templates miss ("wake me in ten minutes"), the router asks the
chat model to pick one intent of the catalogue, or ``none``, and copy the slot texts from
the request. The reply is constrained by a JSON schema whose ``intent`` is one of the
catalogue's intents or ``none``, each with only its own slots (the grammar makes any other
answer impossible), and the choice is trusted only when the model
gave the chosen intent's tokens a probability at or above a threshold; below it, or on
``none``, the request stays ordinary chat. Generation is greedy and short, and the system
prompt is the same for every request with the same catalogue, so llama.cpp reuses its KV
cache and evaluates only the user's words.

The confidence is the model's own probability of the intent's tokens (the product of their
probabilities before the grammar masked the vocabulary), so a choice the grammar forced on
a model that wanted to write something else scores low.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass
from typing import Any, Protocol

from assistant.skills.router import Choice, IntentSpec
from assistant.streaming import iterate_in_thread
from runtime.errors import ModelRuntimeError
from runtime.llm.base import ChatMessage, ChatModel, GenerationOptions, TokenLogprob, Usage
from runtime.llm.schema import problems

log = logging.getLogger(__name__)

NONE = "none"
"""The intent the model chooses when no skill applies."""


@dataclass(frozen=True)
class ModelStageOptions:
    """How the model stage asks and when it trusts the answer."""

    threshold: float = 0.5
    """Lowest confidence at which a choice is acted on; below it the request is chat. With
    the offline Qwen2.5-Coder 0.5B no near-miss reached 0.5 in ``benchmarks.skills_model_stage``
    (the highest: 0.37 of 16 on its own set, 0.44 of 60 on the skills' labelled set)."""
    max_tokens: int = 64
    """Most tokens of the JSON reply (an intent and a few short slots fit in ~30)."""
    examples_per_intent: int = 2
    """Example sentences per intent shown in the system prompt."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be between 0 and 1")
        if self.max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")


class ModelLender(Protocol):
    """What the stage needs of the model manager: a loaded model for one request."""

    def use(self, model_id: str) -> AbstractAsyncContextManager[Any]:
        """Hold a loaded model (``ModelManager.use``)."""
        ...


@dataclass(frozen=True)
class Verdict:
    """What the model answered for one request, before the threshold is applied."""

    intent: str
    """The intent chosen, ``none`` included; ``""`` when the reply was not valid."""
    slots: dict[str, str]
    """The slots it filled (the chosen intent's only, empty ones dropped)."""
    confidence: float
    """Probability of the intent's tokens; 0 when the engine reports no probabilities."""
    seconds: float
    """Wall time of the model call, waiting for the model included."""


def intent_schema(specs: Sequence[IntentSpec]) -> dict[str, Any]:
    """The JSON schema of the reply: ``{"intent": <one of the intents or none>, "slots":
    {<that intent's slot>: <string>, ...}}``.

    One alternative per intent, each with only its own slots: with one object of every
    slot, the model filled them all (``"time_city": "none"``...), which cost tokens and ran
    replies past ``max_tokens``. The intents still form one choice at one place (the value
    of ``intent``), which is what the confidence measures.
    """
    return {
        "anyOf": [
            *(_alternative(spec.intent, spec.slots) for spec in specs),
            _alternative(NONE, ()),
        ]
    }


def _alternative(intent: str, slots: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "intent": {"const": intent},
            "slots": {
                "type": "object",
                "properties": {name: {"type": "string"} for name in slots},
                "additionalProperties": False,
            },
        },
        "required": ["intent", "slots"],
        "additionalProperties": False,
    }


def system_prompt(specs: Sequence[IntentSpec], examples_per_intent: int = 2) -> str:
    """The instructions and the catalogue, one line per intent."""
    lines = [
        "You are the command router of a voice assistant. Decide whether the user's message"
        " asks the assistant to do one of these actions now, and reply with JSON.",
        "",
        "Actions:",
    ]
    for spec in specs:
        line = f"- {spec.intent}: {spec.description}"
        if spec.slots:
            line += f" Slots: {', '.join(spec.slots)}."
        shown = spec.examples[:examples_per_intent]
        if shown:
            line += " Examples: " + "; ".join(f'"{example}"' for example in shown)
        lines.append(line)
    lines += [
        f"- {NONE}: the message asks for no action: a question, a fact, advice, an opinion,"
        " small talk, or a message that only mentions one of these topics.",
        "",
        "Fill a slot only with words copied from the message; leave it out when the message"
        " does not say it.",
    ]
    return "\n".join(lines)


def value_span(text: str, key: str) -> tuple[int, int] | None:
    """Where the string value of the top-level ``key`` lies in a JSON object's text."""
    decoder = json.JSONDecoder()
    try:
        index = text.index("{") + 1
        while True:
            while text[index] in " \t\r\n,":
                index += 1
            name, index = decoder.raw_decode(text, index)
            while text[index] in " \t\r\n:":
                index += 1
            start = index
            value, index = decoder.raw_decode(text, index)
            if name == key:
                return (start + 1, index - 1) if isinstance(value, str) else None
    except (ValueError, IndexError):
        return None


def span_probability(tokens: Sequence[TokenLogprob], text: str, span: tuple[int, int]) -> float:
    """The product of the probabilities of the tokens overlapping ``text[span]``.

    0 when the tokens do not spell the text (an engine that reports none, or a character
    split across tokens before the span).
    """
    if not tokens or "".join(token.text for token in tokens) != text:
        return 0.0
    total = 0.0
    offset = 0
    for token in tokens:
        end = offset + len(token.text)
        if end > span[0] and offset < span[1]:
            total += token.logprob
        offset = end
    return math.exp(min(total, 0.0))


def read_reply(
    text: str, usage: Usage | None, specs: Sequence[IntentSpec]
) -> tuple[str, dict[str, str], float]:
    """The intent, slots and confidence of a reply; ``("", {}, 0.0)`` when it is invalid."""
    try:
        value = json.loads(text)
    except ValueError:
        return "", {}, 0.0
    if problems(value, intent_schema(specs)):
        return "", {}, 0.0
    intent: str = value["intent"]
    slots = {name: str(raw).strip() for name, raw in value["slots"].items() if str(raw).strip()}
    span = value_span(text, "intent")
    tokens = usage.token_logprobs if usage is not None else ()
    confidence = span_probability(tokens, text, span) if span is not None else 0.0
    return intent, slots, confidence


class ModelStage:
    """Asks the chat model to choose an intent; acts only on confident choices (the
    router's ``IntentChooser``)."""

    def __init__(
        self,
        models: ModelLender,
        model_id: str | Callable[[], str | None],
        options: ModelStageOptions | None = None,
    ) -> None:
        self.models = models
        self.model_id = model_id
        """The chat model to ask, or a function giving it per request (for instance
        ``lambda: chat.default_model``); None from the function skips the stage."""
        self.options = options or ModelStageOptions()

    async def choose(self, text: str, specs: Sequence[IntentSpec]) -> Choice | None:
        """The intent the model chose for ``text``, or None: ``none``, below the threshold,
        no model, or the model failed (the request then goes to chat, which reports it)."""
        verdict = await self.ask(text, specs)
        if verdict is None or verdict.intent in ("", NONE):
            return None
        if verdict.confidence < self.options.threshold:
            log.info(
                "model stage: %s at %.2f is below the threshold %.2f",
                verdict.intent,
                verdict.confidence,
                self.options.threshold,
            )
            return None
        return Choice(verdict.intent, verdict.slots, verdict.confidence)

    async def ask(self, text: str, specs: Sequence[IntentSpec]) -> Verdict | None:
        """The model's raw verdict (no threshold): what ``choose`` and the measurement use.

        None when there is nothing to ask (empty text or catalogue, no model) or the model
        failed.
        """
        model_id = self.model_id() if callable(self.model_id) else self.model_id
        if model_id is None or not specs or not text.strip():
            return None
        messages = [
            ChatMessage("system", system_prompt(specs, self.options.examples_per_intent)),
            ChatMessage("user", text.strip()),
        ]
        options = GenerationOptions(
            max_tokens=self.options.max_tokens,
            temperature=0.0,
            top_k=1,
            top_p=1.0,
            repeat_penalty=1.0,
            seed=0,
            logprobs=True,
            json_schema=intent_schema(specs),
        )
        started = time.perf_counter()
        try:
            async with self.models.use(model_id) as model:
                reply, usage = await _generate(model, messages, options)
        except ModelRuntimeError as exc:
            log.warning("model stage: %s could not choose: %s", model_id, exc.detail)
            return None
        seconds = time.perf_counter() - started
        intent, slots, confidence = read_reply(reply, usage, specs)
        if not intent:
            log.warning("model stage: %s wrote no valid choice: %r", model_id, reply[:200])
        log.info(
            "model stage: %r -> %s %s (confidence %.3f, %.0f ms)",
            text,
            intent or "?",
            slots,
            confidence,
            seconds * 1000,
        )
        return Verdict(intent, slots, confidence, seconds)


async def _generate(
    model: ChatModel, messages: Sequence[ChatMessage], options: GenerationOptions
) -> tuple[str, Usage | None]:
    """The whole reply, generated in a worker thread that keeps the model until it stops."""
    parts: list[str] = []
    usage: Usage | None = None
    async with aclosing(
        iterate_in_thread(lambda cancel: model.stream(messages, options, cancel))
    ) as deltas:
        async for delta in deltas:
            parts.append(delta.text)
            usage = delta.usage or usage
    return "".join(parts), usage
