"""The chat model as a translator: a fixed prompt, greedy decoding, one sentence per call.

What the ``offline`` profile translates with (no registry ships a translation model).
Small chat models translate short, plain sentences passably and drift on long or idiomatic
ones; the service says so to users (``engine: llm``) and prefers a CTranslate2 model when
one is installed for the pair.

The score of a sentence is the model's mean log-probability per generated token (from
``Usage.mean_logprob``), as CTranslate2 reports it: both go through the same calibration.

A small model sometimes translates the instruction instead of the text ("I have a red
car." into Spanish as "No explicaciones, no notas, no quotes. Copy every marker such as
⟦0⟧ unchanged.": 2 of 30 short sentences with Qwen2.5-Coder 0.5B). The instruction's
example marker gives it away: a reply with a marker its text did not have is asked again,
the text quoted in the user message (``RETRY_PROMPT``), which the same model translates.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.llm.base import ChatMessage, ChatModel, GenerationOptions
from runtime.mt.base import Translation
from runtime.mt.languages import LANGUAGE_NAMES

SYSTEM_PROMPT = (
    "You are a translation engine. Translate the user's text from {source} into {target}."
    " Reply with the {target} translation only: no explanations, no notes, no quotes."
    " Copy every marker such as ⟦0⟧ unchanged."
)
"""The fixed instruction; the text itself is the user message."""
CONTEXT_PROMPT = (
    " The text continues this earlier passage, given only so that pronouns and terms stay"
    " consistent (do not translate it again): {context}"
)
"""Added to the instruction when the caller gives context."""
RETRY_PROMPT = 'Translate into {target}: "{text}"'
"""The user message of the second try, after a reply that echoed the instruction."""

CONTEXT_CHARS = 600
"""Most characters of earlier text a sentence's prompt carries."""
_LABEL = re.compile(r"^\s*(?:translation|traducción|traduction|übersetzung)\s*:\s*", re.I)
_QUOTES = ('"', "'", "«", "»", "“", "”", "„")
_MARKER = re.compile(r"⟦\s*(\d+)\s*⟧")


@dataclass(frozen=True)
class LlmTranslateOptions:
    """How the chat model translates."""

    max_tokens_per_char: float = 1.5
    """Most tokens generated per source character (a translation rarely needs more)."""
    min_tokens: int = 24
    """Most tokens for a very short sentence."""
    logprobs: bool = True
    """Ask the engine for token log-probabilities (the quality score)."""


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code (the code itself when unknown)."""
    return LANGUAGE_NAMES.get(code, code)


def messages_for(text: str, source: str, target: str, context: str | None) -> list[ChatMessage]:
    """The prompt of one sentence (pure)."""
    system = SYSTEM_PROMPT.format(source=language_name(source), target=language_name(target))
    if context:
        system += CONTEXT_PROMPT.format(context=context.strip())
    return [ChatMessage("system", system), ChatMessage("user", text)]


def retry_messages(text: str, source: str, target: str, context: str | None) -> list[ChatMessage]:
    """The prompt of a second try: the same instruction, the text quoted after a request
    (pure)."""
    system, _ = messages_for(text, source, target, context)
    return [
        system,
        ChatMessage("user", RETRY_PROMPT.format(target=language_name(target), text=text)),
    ]


def echoed_instruction(reply: str, source_text: str) -> bool:
    """The reply holds a marker the text did not: the model translated the instruction
    (whose example marker it copied), not the text (pure)."""
    return bool(set(_MARKER.findall(reply)) - set(_MARKER.findall(source_text)))


def cleaned(reply: str, source_text: str) -> str:
    """The translation in a reply: first line, without a "Translation:" label or quotes
    the source did not have (pure)."""
    lines = [line for line in reply.strip().splitlines() if line.strip()]
    text = _LABEL.sub("", lines[0]).strip() if lines else ""
    quoted = len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES
    if quoted and not source_text.strip().startswith(_QUOTES):
        text = text[1:-1].strip()
    return text


class ChatModelTranslator:
    """Translates sentence by sentence with a loaded chat model (borrowed, not owned)."""

    engine = "llm"

    def __init__(self, chat: ChatModel, options: LlmTranslateOptions | None = None) -> None:
        self.model_id = chat.model_id
        self.chat = chat
        self.options = options or LlmTranslateOptions()

    def translate_batch(
        self,
        texts: Sequence[str],
        source: str,
        target: str,
        context: str | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Translation]:
        """Translate each sentence (blocking); the score is the mean token log-probability
        (NaN when the engine does not report one)."""
        results: list[Translation] = []
        for text in texts:
            limit = max(self.options.min_tokens, int(len(text) * self.options.max_tokens_per_char))
            options = GenerationOptions(
                max_tokens=limit,
                temperature=0.0,
                top_k=1,
                top_p=1.0,
                repeat_penalty=1.0,
                stop=("\n",),
                seed=0,
                logprobs=self.options.logprobs,
            )
            reply, score = self._generate(
                messages_for(text, source, target, context), options, cancel
            )
            if echoed_instruction(reply, text):
                retry = retry_messages(text, source, target, context)
                reply, score = self._generate(retry, options, cancel)
            results.append(Translation(text=cleaned(reply, text), score=score))
            # Later sentences see the ones before them (their end), as the caller's context.
            context = (f"{context} {text}" if context else text)[-CONTEXT_CHARS:]
        return results

    def _generate(
        self,
        messages: list[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None,
    ) -> tuple[str, float]:
        """The reply and its mean token log-probability (NaN when not reported)."""
        parts: list[str] = []
        score = float("nan")
        for delta in self.chat.stream(messages, options, cancel):
            parts.append(delta.text)
            if delta.usage is not None and delta.usage.mean_logprob is not None:
                score = delta.usage.mean_logprob
        return "".join(parts), score
