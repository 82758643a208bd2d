"""A chat model on any server that speaks OpenAI's ``/v1/chat/completions`` with streaming:
llama.cpp's ``llama-server``, Ollama, vLLM, LocalAI, or another instance of this runtime.

Token counts for the context budget come from the server's tokenizer where it has one
(llama-server's ``POST /tokenize``); elsewhere they are estimated: four characters a token
(rounded up) plus four tokens a message for the chat template, which over-counts English
and code a little, so the context builder leaves room rather than overflowing.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from runtime.errors import EngineError, RemoteUnavailable, UnsupportedInput
from runtime.llm.base import ChatDelta, ChatMessage, GenerationOptions, TokenLogprob, Usage
from runtime.params import parse_params
from runtime.remote import RemoteParams
from runtime.tls import tls_context

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_LENGTH = 4096
"""Context window assumed when neither the parameters nor the server say."""
CHARS_PER_TOKEN = 4
"""The estimate's characters per token."""
TOKENS_PER_MESSAGE = 4
"""The estimate's tokens of chat template around each message."""


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """Tokens the messages take by the documented estimate (no tokenizer at hand)."""
    return (
        sum(math.ceil(len(m.content) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE for m in messages) + 2
    )


def _headers(params: RemoteParams) -> dict[str, str]:
    return {"Authorization": f"Bearer {params.api_key}"} if params.api_key else {}


def _root(url: str) -> str:
    """The server's root (``http://h:p``) from its ``/v1`` URL."""
    base = url.rstrip("/")
    return base.removesuffix("/v1")


def _translate(exc: httpx.HTTPError, url: str) -> EngineError:
    if isinstance(exc, httpx.TransportError):  # refused, reset, timed out, hung up
        return RemoteUnavailable(f"The chat server at {url} cannot be reached: {exc}")
    return EngineError(f"The chat server at {url} failed: {exc}")


def list_models(params: RemoteParams, *, timeout_seconds: float | None = None) -> list[str]:
    """The model ids the server offers (``GET /models``); the health check."""
    timeout = timeout_seconds or params.timeout_seconds
    try:
        response = httpx.get(
            params.url.rstrip("/") + "/models",
            headers=_headers(params),
            timeout=httpx.Timeout(timeout, connect=min(timeout, params.connect_timeout_seconds)),
        )
        response.raise_for_status()
        data = response.json().get("data") or []
    except httpx.HTTPError as exc:
        raise _translate(exc, params.url) from exc
    except (ValueError, AttributeError) as exc:
        raise EngineError(f"The chat server at {params.url} sent no model list") from exc
    return [str(m.get("id")) for m in data if isinstance(m, dict)]


class OpenAICompatibleChatModel:
    """A remote chat model; one generation at a time per instance, like a local one."""

    def __init__(
        self,
        model_id: str,
        params: RemoteParams,
        client: httpx.Client,
        model: str,
        context_length: int,
    ) -> None:
        self.model_id = model_id
        self.params = params
        self.model = model
        """The server's name for the model."""
        self.context_length = context_length
        self._client: httpx.Client | None = client
        self._tokenizer: bool | None = None  # None: not tried yet

    @classmethod
    def load(
        cls, model_id: str, model_dir: Path, params: Mapping[str, Any]
    ) -> OpenAICompatibleChatModel:
        """Check the server is there and has the model; learn its context window."""
        parsed = parse_params(RemoteParams, params, model_id)
        offered = list_models(parsed)
        model = parsed.model or (offered[0] if offered else None)
        if model is None:
            raise UnsupportedInput(
                f"The chat server at {parsed.url} offers no model; name one with --model",
                field="model",
            )
        if offered and model not in offered:
            raise UnsupportedInput(
                f"The chat server at {parsed.url} has no model {model!r};"
                f" it has: {', '.join(offered)}",
                field="model",
            )
        client = httpx.Client(
            verify=tls_context(),
            headers=_headers(parsed),
            timeout=httpx.Timeout(parsed.timeout_seconds, connect=parsed.connect_timeout_seconds),
        )
        context = parsed.context_length or _server_context(client, parsed.url)
        log.info(
            "remote chat model %s: %s at %s (context %d)", model_id, model, parsed.url, context
        )
        return cls(model_id, parsed, client, model, context)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """Stream the server's reply; stops between pieces once ``cancel`` is set."""
        client = self._open()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_message(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
        }
        if options.stop:
            body["stop"] = list(options.stop)
        if options.seed is not None:
            body["seed"] = options.seed
        if options.json_schema is not None:
            # OpenAI's structured outputs; llama-server turns the schema into a grammar.
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": dict(options.json_schema)},
            }
        if options.logprobs:
            body["logprobs"] = True
        return self._deltas(client, body, messages, cancel)

    def prefill(self, messages: Sequence[ChatMessage], *, open_last: bool = False) -> int:
        """Nothing: the server keeps its own prompt cache, filled by the next request."""
        return 0

    def _deltas(
        self,
        client: httpx.Client,
        body: dict[str, Any],
        messages: Sequence[ChatMessage],
        cancel: threading.Event | None,
    ) -> Iterator[ChatDelta]:
        started = time.perf_counter()
        first: float | None = None
        finish: str | None = None
        usage: dict[str, Any] = {}
        pieces = 0
        scored: list[TokenLogprob] = []
        url = self.params.url.rstrip("/") + "/chat/completions"
        try:
            with client.stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise EngineError(
                        f"The chat server at {self.params.url} answered"
                        f" {response.status_code}: {response.text[:300]}"
                    )
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                        break
                    chunk = _event(line)
                    if chunk is None:
                        continue
                    if isinstance(chunk, str):  # [DONE]
                        break
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content") or ""
                        finish = choice.get("finish_reason") or finish
                        scored += _token_logprobs(choice.get("logprobs"))
                        if text:
                            first = first or time.perf_counter()
                            pieces += 1
                            yield ChatDelta(text)
        except httpx.HTTPError as exc:
            raise _translate(exc, self.params.url) from exc
        if finish is None:
            raise RemoteUnavailable(
                f"The chat server at {self.params.url} ended the reply without finishing it"
            )
        ended = time.perf_counter()
        prompt_tokens = int(usage.get("prompt_tokens") or self.count_tokens(messages))
        yield ChatDelta(
            "",
            finish_reason=finish if finish in ("stop", "length", "cancelled") else "stop",
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=int(usage.get("completion_tokens") or pieces),
                prompt_seconds=(first or ended) - started,
                generation_seconds=ended - (first or ended),
                mean_logprob=sum(t.logprob for t in scored) / len(scored) if scored else None,
                token_logprobs=tuple(scored),
            ),
        )

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens by the server's tokenizer when it has one, else the estimate."""
        client = self._open()
        if self._tokenizer is not False:
            text = "".join(f"<|{m.role}|>\n{m.content}\n" for m in messages)
            try:
                response = client.post(_root(self.params.url) + "/tokenize", json={"content": text})
                if response.status_code == 200:
                    tokens = response.json().get("tokens")
                    if isinstance(tokens, list):
                        self._tokenizer = True
                        return len(tokens) + TOKENS_PER_MESSAGE * len(messages)
            except (httpx.HTTPError, ValueError, AttributeError):
                pass
            if self._tokenizer is None:
                log.info("%s: the server has no tokenizer endpoint; estimating", self.model_id)
            self._tokenizer = False
        return estimate_tokens(messages)

    def close(self) -> None:
        """Close the HTTP connections."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _open(self) -> httpx.Client:
        if self._client is None:
            raise EngineError(f"model {self.model_id!r} is closed")
        return self._client


def _message(message: ChatMessage) -> dict[str, Any]:
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    for image in message.images:
        kind = "png" if image.startswith(b"\x89PNG") else "jpeg"
        uri = f"data:image/{kind};base64,{base64.b64encode(image).decode()}"
        parts.append({"type": "image_url", "image_url": {"url": uri}})
    return {"role": message.role, "content": parts}


def _token_logprobs(logprobs: Any) -> list[TokenLogprob]:
    """A streamed choice's ``logprobs.content`` (``[{"token", "logprob"}, ...]``)."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    return [
        TokenLogprob(str(item.get("token", "")), float(item["logprob"]))
        for item in content or ()
        if isinstance(item, dict) and isinstance(item.get("logprob"), int | float)
    ]


def _event(line: str) -> dict[str, Any] | str | None:
    """One Server-Sent Events line: its JSON, ``[DONE]``, or None for anything else."""
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return payload
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _server_context(client: httpx.Client, url: str) -> int:
    """llama-server's context window (``GET /props``), else the default."""
    try:
        response = client.get(_root(url) + "/props")
        if response.status_code == 200:
            settings = response.json().get("default_generation_settings") or {}
            n_ctx = settings.get("n_ctx") or response.json().get("n_ctx")
            if isinstance(n_ctx, int) and n_ctx > 0:
                return n_ctx
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    return DEFAULT_CONTEXT_LENGTH
