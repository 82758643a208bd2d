"""The chat service: conversations with memory, personalised replies, streamed turns."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from assistant.analytics.experiments import Variants
from assistant.chat import store
from assistant.chat.context import (
    SUMMARY_INSTRUCTION,
    MessageTooLong,
    Turn,
    model_turns,
    plan_context,
    system_prompt,
    title_from,
)
from assistant.chat.models import (
    ChatRequest,
    ContextFlags,
    SkillReply,
    Timings,
    TurnDelta,
    TurnDone,
    TurnEvent,
    TurnStarted,
    TurnUsage,
)
from assistant.chat.routing import Candidate, Route, RoutingRules, route
from assistant.chat.speculation import Speculation
from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import InvalidInput, NotFound, PayloadTooLarge
from assistant.profile import Preferences, ProfileService, UsageMetric
from assistant.store import Connection, Database
from assistant.streaming import iterate_in_thread
from assistant.threads import off_loop
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled, ModelRuntimeError
from runtime.events import NO_EVENTS, Emitter
from runtime.llm.base import ChatDelta, ChatMessage, ChatModel, GenerationOptions
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel

log = logging.getLogger(__name__)


class InstalledCatalogue(Protocol):
    """What the chat service needs of the model store."""

    def installed(self) -> list[InstalledModel]:
        """Every installed model."""
        ...

    def require(self, model_id: str) -> InstalledModel:
        """An installed model, or ModelNotInstalled (saying whether it can be pulled)."""
        ...


class SkillAnswerer(Protocol):
    """What answers a turn before the chat model when a skill applies (the skill router)."""

    async def answer(
        self, user_id: str, request: ChatRequest, *, speculative: bool = False
    ) -> SkillReply | None:
        """A skill's reply to the request, or None to let the chat model answer.
        ``speculative``: the request may yet be withdrawn, so a skill that acts raises
        ``SpeculationRefused`` instead of running."""
        ...


@dataclass(frozen=True)
class ChatLimits:
    """Limits and knobs of the chat service (from settings)."""

    max_message_chars: int = 32_000
    """Longest user message accepted."""
    summary_words: int = 120
    """Length the running summary aims for."""
    summary_max_tokens: int = 256
    """Tokens a summary may take."""


@dataclass(frozen=True)
class FallbackModels:
    """What to suggest installing when no installed model can answer (from the manifest:
    the active profile's model of the kind, else the catalogue's first)."""

    chat: str | None = None
    """A chat model (llm); None: the manifest has none."""
    vision: str | None = None
    """A vision-language model (vlm); None: the manifest has none."""


class NoModelToSuggest(ModelNotInstalled):
    """No installed model can answer, and the manifest has no model of the kind to pull.

    Its ``model_id`` is empty and its ``capability`` the manifest's (``llm``, ``vlm``):
    there is nothing to name, only a kind to import (``assistant.problems`` says how).
    """

    def __init__(self, kind: str, capability: Capability) -> None:
        ModelRuntimeError.__init__(
            self,
            f"No {kind} model is installed, and the model catalogue has none to pull;"
            " import one you have.",
            capability=capability.value,
        )
        self.model_id = ""
        self.in_catalogue = False
        self.capability = capability.value


@dataclass(frozen=True)
class _Prepared:
    conversation_id: str
    user_message_id: str
    messages: list[ChatMessage]
    flags: ContextFlags
    commit: Callable[[], None] | None = None
    """Stores the request (a speculative turn's, when confirmed); None: stored already."""


class ChatService:
    """Turns in conversations: context, routing, generation, storage, usage."""

    def __init__(
        self,
        db: Database,
        manager: ModelManager,
        catalogue: InstalledCatalogue,
        profile: ProfileService,
        *,
        rules: RoutingRules | None = None,
        limits: ChatLimits | None = None,
        fallbacks: FallbackModels | None = None,
        tags: Callable[[str], tuple[str, ...]] = lambda model_id: (),
        clock: Clock = system_clock,
        events: Emitter = NO_EVENTS,
        experiments: Variants | None = None,
    ) -> None:
        self.db = db
        self.manager = manager
        self.catalogue = catalogue
        self.profile = profile
        self.rules = rules or RoutingRules()
        self.limits = limits or ChatLimits()
        self.fallbacks = fallbacks or FallbackModels()
        self.tags = tags
        self.clock = clock
        self.events = events
        self.experiments = experiments
        """Where the ``chat.style`` experiment's variant comes from (A/B tests of the
        system prompt's tone, verbosity or personality)."""
        self.skills: SkillAnswerer | None = None
        """Asked first on every turn (set once the skills, which use this service, are
        built); None: the chat model answers everything."""

    # Turns ------------------------------------------------------------------------

    async def stream(
        self, user_id: str, request: ChatRequest, *, speculation: Speculation | None = None
    ) -> AsyncGenerator[TurnEvent, None]:
        """One turn: a TurnStarted, TurnDeltas as the model writes, a TurnDone.

        Errors before TurnStarted (bad input, unknown conversation, missing model, full
        queue) are raised from the first ``anext``; a caller that stops iterating cancels
        the generation within one token and the partial reply is kept.

        With a ``speculation`` (``assistant.chat.speculation``) the turn is stored only
        once it is confirmed: TurnDone waits for ``confirm()``, and a stream closed
        before it leaves nothing behind. A skill that acts refuses to be speculated
        (``SpeculationRefused`` from the first ``anext``); one that declares itself
        side-effect-free answers, stored on confirmation.
        """
        started = time.perf_counter()
        self._check_text(request.text)
        await asyncio.to_thread(self._check_conversation, user_id, request)
        if self.skills is not None and request.skills:
            if speculation is None:
                reply = await self.skills.answer(user_id, request)
            else:
                reply = await self.skills.answer(user_id, request, speculative=True)
            if reply is not None:
                if speculation is not None:
                    await speculation.wait()
                seconds = time.perf_counter() - started
                turn, answered = await asyncio.to_thread(
                    self._store_skill_turn, user_id, request, reply, seconds
                )
                yield turn
                spoken = request.source == "voice"
                yield TurnDelta(
                    reply.spoken if spoken else reply.written,
                    language=reply.language if spoken else None,
                )
                yield answered
                return
        chosen = await asyncio.to_thread(self._route, user_id, request)
        stored: TurnDone | None = None
        async with self.manager.use(chosen.model) as model:  # type: ignore[arg-type]
            queued = time.perf_counter() - started
            prepared = await asyncio.to_thread(
                self._prepare, user_id, request, model, chosen, store_now=speculation is None
            )
            yield TurnStarted(
                conversation_id=prepared.conversation_id,
                user_message_id=prepared.user_message_id,
                model=chosen.model or "",
                route_reason=chosen.reason,
                flags=prepared.flags,
            )
            generation = _Generation(started)
            interrupted = "cancelled"
            try:
                # aclosing: a caller that stops at a yield closes the engine stream
                # before the model lock is released.
                async with contextlib.aclosing(
                    self.generate(model, prepared.messages, request.options)
                ) as deltas:
                    async for delta in deltas:
                        generation.add(delta)
                        if delta.text:
                            yield TurnDelta(delta.text)
            except Exception:
                interrupted = "error"
                raise
            finally:
                # Runs on completion and when the caller goes away: the reply is kept
                # (a speculative one only once confirmed).
                timings = Timings(
                    queue_seconds=queued,
                    first_token_seconds=generation.first_token_seconds or 0.0,
                    total_seconds=time.perf_counter() - started,
                )
                done = self._finish(
                    user_id, request, chosen, prepared, generation, interrupted, timings
                )
                if speculation is None or speculation.confirmed:
                    stored = await asyncio.shield(asyncio.to_thread(done))
        if stored is None:
            # Speculative and finished before it was confirmed: the model is free again
            # while the caller makes up its mind; closing the stream here stores nothing.
            assert speculation is not None
            await speculation.wait()
            stored = await asyncio.shield(asyncio.to_thread(done))
        yield stored

    async def reply(self, user_id: str, request: ChatRequest) -> tuple[TurnStarted, TurnDone]:
        """A whole turn at once (the non-streaming API)."""
        started: TurnStarted | None = None
        async for event in self.stream(user_id, request):
            if isinstance(event, TurnStarted):
                started = event
            elif isinstance(event, TurnDone):
                assert started is not None
                return started, event
        raise AssertionError("a turn always ends with TurnDone")

    async def complete(
        self,
        user_id: str,
        model_id: str | None,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
    ) -> AsyncGenerator[ChatDelta, None]:
        """Stateless generation over caller-supplied messages (OpenAI and Ollama APIs).

        Nothing is stored except usage; ``model_id`` None picks the default chat model.
        Errors before the first delta (missing model, full queue) raise from ``anext``.
        """
        if not messages:
            raise InvalidInput("messages must not be empty", field="messages")
        last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        request = ChatRequest(text=last_user or "-", model=model_id)
        chosen = await asyncio.to_thread(self._route, user_id, request)
        async with self.manager.use(chosen.model) as model:  # type: ignore[arg-type]
            generation = _Generation(time.perf_counter())
            try:
                async with contextlib.aclosing(self.generate(model, messages, options)) as deltas:
                    async for delta in deltas:
                        generation.add(delta)
                        yield delta
            finally:
                usage = generation.usage()
                await asyncio.shield(asyncio.to_thread(self._record_usage, user_id, usage))
                timings = Timings(
                    first_token_seconds=generation.first_token_seconds or 0.0,
                    total_seconds=time.perf_counter() - generation.started,
                )
                finish = generation.finish_reason or "cancelled"
                self._emit_turn(user_id, chosen.model, "api", finish, usage, timings)

    async def generate(
        self, model: ChatModel, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[ChatDelta, None]:
        """Run a blocking engine stream in a worker thread and yield its deltas here.

        Closing this iterator sets the engine's cancel flag; it returns only once the
        worker has stopped (within one token), so the model is free when the caller's
        lock on it is released.
        """
        async with contextlib.aclosing(
            iterate_in_thread(lambda cancel: model.stream(messages, options, cancel))
        ) as deltas:
            async for delta in deltas:
                yield delta

    def _store_skill_turn(
        self, user_id: str, request: ChatRequest, reply: SkillReply, seconds: float
    ) -> tuple[TurnStarted, TurnDone]:
        """Store the request and a skill's written answer as one exchange of the
        conversation (so later chat turns see what was done)."""
        now = self.clock()
        conversation, _, replace_from = self._read_turn_state(user_id, request)
        conversation_id = conversation.id if conversation else new_id(now)
        user_message_id, message_id = new_id(now), new_id(now)
        timings = Timings(first_token_seconds=seconds, total_seconds=seconds)
        with self.db.write() as conn:
            self._store_request(
                conn,
                user_id,
                request,
                conversation_id,
                user_message_id,
                replace_from,
                now,
                new=conversation is None,
            )
            store.append_message(
                conn,
                conversation_id,
                store.NewMessage(
                    id=message_id,
                    role="assistant",
                    content=reply.written,
                    source=request.source,
                    created_at=to_ms(now),
                    timings=timings,
                    finish_reason="stop",
                    skill=json.dumps(asdict(reply.use), ensure_ascii=False, default=str),
                ),
            )
        started = TurnStarted(
            conversation_id=conversation_id,
            user_message_id=user_message_id,
            model="",
            route_reason=f"skill:{reply.use.name}",
            flags=ContextFlags(),
        )
        done = TurnDone(
            conversation_id=conversation_id,
            message_id=message_id,
            text=reply.written,
            finish_reason="stop",
            usage=TurnUsage(prompt_tokens=0, completion_tokens=0),
            timings=timings,
            skill=reply.use,
        )
        return started, done

    # Priming ----------------------------------------------------------------------

    async def warm(
        self,
        user_id: str,
        conversation_id: str | None = None,
        *,
        spoken: bool = False,
        model: str | None = None,
    ) -> int:
        """Load the chat model and evaluate what the next turn's prompt will start with
        (the system prompt, the conversation so far and the time stamp of the new
        message) into its prompt cache, generating nothing, so the next turn only
        evaluates the words of its message. Returns the tokens evaluated now (0: they
        were cached already). A voice loop calls it when the wake word is heard (and
        once before the first); cancelling it leaves the model free (the evaluation in
        its thread finishes first)."""
        request = ChatRequest(
            text="",
            conversation_id=conversation_id,
            model=model,
            source="voice" if spoken else "text",
        )
        chosen = await asyncio.to_thread(self._route, user_id, request)
        messages = await asyncio.to_thread(self._prefix, user_id, request)
        async with self.manager.use(chosen.model) as engine:  # type: ignore[arg-type]
            chat: ChatModel = engine
            return await off_loop(chat.prefill, messages, open_last=True)

    def _prefix(self, user_id: str, request: ChatRequest) -> list[ChatMessage]:
        """The messages the next turn of the conversation starts with: the system prompt,
        the stored turns after the running summary and the new message's time stamp
        (``_prepare`` with the new message still empty; the turns it may fold away later
        still share the system prompt)."""
        profile = self.profile.get_profile(user_id)
        preferences = self._preferences(user_id)
        conversation, history, _ = self._read_turn_state(user_id, request)
        summary = conversation.summary if conversation else None
        through = conversation.summary_through_seq if conversation else 0
        prompt = system_prompt(
            profile, preferences, summary=summary, spoken=request.source == "voice"
        )
        history = [m for m in history if m.seq > through]
        turns = self._turns(history, request, self.clock(), profile.time_zone)
        return [ChatMessage("system", prompt), *turns]

    # Models -----------------------------------------------------------------------

    @property
    def default_model(self) -> str | None:
        """The chat model used when no request, preference or rule picks another."""
        return self.rules.default_model

    def candidates(self) -> list[Candidate]:
        """Installed chat and vision models."""
        return [
            Candidate(
                id=m.id,
                vision=m.capability is Capability.VLM,
                memory_mb=m.memory_mb,
                tags=self.tags(m.id),
            )
            for m in self.catalogue.installed()
            if m.capability in (Capability.LLM, Capability.VLM)
        ]

    # Internals --------------------------------------------------------------------

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise InvalidInput("The message is empty", field="text")
        if len(text) > self.limits.max_message_chars:
            raise PayloadTooLarge(
                f"The message has {len(text)} characters; the limit is"
                f" {self.limits.max_message_chars}",
                field="text",
            )

    def _check_conversation(self, user_id: str, request: ChatRequest) -> None:
        """Fail fast, before waiting for a model, on a bad conversation or edit target."""
        if request.conversation_id is None and request.replace_message_id is not None:
            raise InvalidInput(
                "replace_message_id needs the conversation_id it belongs to",
                field="replace_message_id",
            )
        self._read_turn_state(user_id, request)

    def _route(self, user_id: str, request: ChatRequest) -> Route:
        preferred = self.profile.get_preferences(user_id).preferences.preferred_model
        candidates = self.candidates()
        chosen = route(
            request.text,
            has_images=bool(request.images),
            explicit=request.model,
            preferred=preferred,
            candidates=candidates,
            rules=self.rules,
        )
        if chosen.model is None:
            kind, capability, suggestion = (
                ("vision", Capability.VLM, self.fallbacks.vision)
                if request.images
                else ("chat", Capability.LLM, self.fallbacks.chat)
            )
            if suggestion is None:
                raise NoModelToSuggest(kind, capability)
            raise ModelNotInstalled(suggestion, capability=kind)
        if chosen.model not in {c.id for c in candidates}:
            # Not installed (the store says whether it can be pulled), or not a chat model.
            other = self.catalogue.require(chosen.model)
            raise InvalidInput(
                f"{chosen.model} is a {other.capability.value} model, not a chat model",
                field="model",
            )
        return chosen

    def _prepare(
        self,
        user_id: str,
        request: ChatRequest,
        model: ChatModel,
        chosen: Route,
        *,
        store_now: bool = True,
    ) -> _Prepared:
        """Context, summary if needed, and the stored user message (under the model lock).

        Nothing is written until the turn is known to fit, so a refused message leaves
        no trace; the model runs (for a summary) outside any database lock. ``store_now``
        False (a speculative turn) leaves the writing to ``_Prepared.commit``, called
        when the reply is stored.
        """
        now = self.clock()
        profile = self.profile.get_profile(user_id)
        preferences = self._preferences(user_id)
        conversation, history, replace_from = self._read_turn_state(user_id, request)
        summary = conversation.summary if conversation else None
        summarised_through = conversation.summary_through_seq if conversation else 0
        if replace_from is not None:
            history = [m for m in history if m.seq < replace_from]
            if summarised_through >= replace_from:
                summary, summarised_through = None, 0  # it covered what is edited away
        earlier = len(history)
        history = [m for m in history if m.seq > summarised_through]

        spoken = request.source == "voice"
        prompt = system_prompt(profile, preferences, summary=summary, spoken=spoken)
        turns = self._turns(history, request, now, profile.time_zone)
        try:
            plan = plan_context(
                context_length=model.context_length,
                reply_tokens=min(request.options.max_tokens, model.context_length // 4),
                system_tokens=model.count_tokens([ChatMessage("system", prompt)]),
                summary_tokens=0,
                history_tokens=[model.count_tokens([m]) for m in turns[:-1]],
                history_roles=[m.role for m in history],
                new_tokens=model.count_tokens(turns[-1:]),
                summary_budget=self.limits.summary_max_tokens,
            )
        except MessageTooLong as exc:
            raise PayloadTooLarge(
                f"The message is {exc.tokens} tokens long; {chosen.model} has room for"
                f" {max(exc.available, 0)} (its whole context is {model.context_length})."
                " Shorten it or split it over several messages.",
                field="text",
            ) from exc
        if plan.needs_summary:
            folded = history[: plan.summarize_upto]
            summary = self._summarize(model, summary, folded)
            summarised_through = folded[-1].seq
            history = history[plan.summarize_upto :]
            # The first message kept now carries the date.
            turns = self._turns(history, request, now, profile.time_zone)
            prompt = system_prompt(profile, preferences, summary=summary, spoken=spoken)
            log.info("folded %d older messages into the running summary", len(folded))

        conversation_id = conversation.id if conversation else new_id(now)
        user_message_id = new_id(now)

        def commit() -> None:
            with self.db.write() as conn:
                self._store_request(
                    conn,
                    user_id,
                    request,
                    conversation_id,
                    user_message_id,
                    replace_from,
                    now,
                    new=conversation is None,
                )
                store.update_conversation(
                    conn,
                    conversation_id,
                    summary=summary,
                    summary_through_seq=summarised_through,
                    model=chosen.model,
                )

        if store_now:
            commit()
        messages = [ChatMessage("system", prompt), *turns]
        return _Prepared(
            conversation_id=conversation_id,
            user_message_id=user_message_id,
            messages=messages,
            flags=ContextFlags(
                summarized=plan.needs_summary,
                dropped_turns=earlier - len(history),
                summary_used=bool(summary),
            ),
            commit=None if store_now else commit,
        )

    @staticmethod
    def _store_request(
        conn: Connection,
        user_id: str,
        request: ChatRequest,
        conversation_id: str,
        message_id: str,
        replace_from: int | None,
        now: float,
        *,
        new: bool,
    ) -> None:
        """Store the user's message: the conversation first when it is ``new``, the
        messages an edit replaces removed."""
        if new:
            store.insert_conversation(conn, conversation_id, user_id, to_ms(now))
            store.update_conversation(conn, conversation_id, title=title_from(request.text))
        if replace_from is not None:
            store.delete_messages_from(conn, conversation_id, replace_from)
        store.append_message(
            conn,
            conversation_id,
            store.NewMessage(
                id=message_id,
                role="user",
                content=request.text,
                source=request.source,
                created_at=to_ms(now),
            ),
        )

    @staticmethod
    def _turns(
        history: Sequence[store.Message], request: ChatRequest, now: float, time_zone: str | None
    ) -> list[ChatMessage]:
        """The stored turns and the new message as the model sees them (send times added)."""
        turns = [Turn(m.role, m.content, m.created_at / 1000) for m in history]
        *earlier, new = model_turns([*turns, Turn("user", request.text, now)], time_zone)
        return [*earlier, ChatMessage("user", new.content, request.images)]

    def _read_turn_state(
        self, user_id: str, request: ChatRequest
    ) -> tuple[store.Conversation | None, list[store.Message], int | None]:
        """The conversation, its messages, and where an edit starts (None: no edit)."""
        if request.conversation_id is None:
            return None, [], None
        with self.db.read() as conn:
            conversation = store.get_conversation(conn, request.conversation_id, user_id)
            if conversation is None:
                raise NotFound("No such conversation")
            replace_from = None
            if request.replace_message_id is not None:
                target = store.get_message(conn, request.replace_message_id, conversation.id)
                if target is None or target.role != "user":
                    raise NotFound("replace_message_id must be a user message of this conversation")
                replace_from = target.seq
            return conversation, store.messages(conn, conversation.id), replace_from

    def _summarize(
        self, model: ChatModel, previous: str | None, folded: Sequence[store.Message]
    ) -> str:
        """Fold messages into the running summary, in chunks that fit the context."""
        instruction = SUMMARY_INSTRUCTION.format(words=self.limits.summary_words)
        room = model.context_length - self.limits.summary_max_tokens - 64
        summary = previous or ""
        chunk: list[str] = []
        used = model.count_tokens([ChatMessage("system", instruction)]) + len(summary) // 3

        def fold(lines: list[str], current: str) -> str:
            body = "\n".join(lines)
            if current:
                body = f"Earlier summary: {current}\n\nConversation since:\n{body}"
            options = GenerationOptions(
                max_tokens=self.limits.summary_max_tokens, temperature=0.2, top_p=0.9
            )
            messages = [ChatMessage("system", instruction), ChatMessage("user", body)]
            text = "".join(d.text for d in model.stream(messages, options))
            return " ".join(text.split()) or current

        for message in folded:
            line = f"{message.role}: {message.content}"
            tokens = model.count_tokens([ChatMessage("user", line)])
            if chunk and used + tokens > room:
                summary = fold(chunk, summary)
                chunk, used = [], len(summary) // 3
            chunk.append(line[: room * 3])
            used += tokens
        if chunk:
            summary = fold(chunk, summary)
        return summary

    def _finish(
        self,
        user_id: str,
        request: ChatRequest,
        chosen: Route,
        prepared: _Prepared,
        generation: _Generation,
        interrupted: str,
        timings: Timings,
    ) -> Callable[[], TurnDone]:
        """A function that stores the reply and counts usage (run in a thread).

        ``interrupted`` is the finish reason when the engine never gave one (the caller
        went away, or the engine failed)."""

        def done() -> TurnDone:
            if prepared.commit is not None:
                prepared.commit()
            usage = generation.usage()
            finish = generation.finish_reason or interrupted
            text = generation.text
            now = self.clock()
            message_id = new_id(now)
            with self.db.write() as conn:
                conversation = store.get_conversation(conn, prepared.conversation_id, user_id)
                if conversation is not None and (text or finish == "stop"):
                    store.append_message(
                        conn,
                        prepared.conversation_id,
                        store.NewMessage(
                            id=message_id,
                            role="assistant",
                            content=text,
                            source=request.source,
                            created_at=to_ms(now),
                            model=chosen.model,
                            usage=usage,
                            timings=timings,
                            finish_reason=finish,
                        ),
                    )
            self._record_usage(user_id, usage)
            self._emit_turn(user_id, chosen.model, request.source, finish, usage, timings)
            return TurnDone(
                conversation_id=prepared.conversation_id,
                message_id=message_id,
                text=text,
                finish_reason=finish,
                usage=usage,
                timings=timings,
            )

        return done

    def _preferences(self, user_id: str) -> Preferences:
        """The user's preferences, with the ``chat.style`` experiment's variant applied
        when one runs (its config sets tone, verbosity or personality)."""
        preferences = self.profile.get_preferences(user_id).preferences
        variant = self.experiments.variant(user_id, "chat.style") if self.experiments else None
        if variant is None or not variant.config:
            return preferences
        return preferences.model_copy(update=dict(variant.config))

    def _emit_turn(
        self,
        user_id: str,
        model: str | None,
        source: str | None,
        finish_reason: str,
        usage: TurnUsage,
        timings: Timings,
    ) -> None:
        """The turn's analytics event: tokens, cache reuse, timings, decode speed."""
        decoding = timings.total_seconds - timings.first_token_seconds
        self.events.emit(
            "chat.turn",
            {
                "model": model,
                "source": source,
                "finish_reason": finish_reason,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cached_tokens": usage.cached_prompt_tokens,
                "queue_ms": round(timings.queue_seconds * 1000, 1),
                "first_token_ms": round(timings.first_token_seconds * 1000, 1),
                "total_ms": round(timings.total_seconds * 1000, 1),
                "tokens_per_second": round((usage.completion_tokens - 1) / decoding, 2)
                if decoding > 0 and usage.completion_tokens > 1
                else None,
            },
            user_id=user_id,
        )

    def _record_usage(self, user_id: str, usage: TurnUsage) -> None:
        """Count one turn and its tokens against the user (every face comes here)."""
        self.profile.record_usage(
            user_id,
            {
                UsageMetric.CHAT_TURNS: 1,
                UsageMetric.PROMPT_TOKENS: usage.prompt_tokens,
                UsageMetric.COMPLETION_TOKENS: usage.completion_tokens,
            },
        )


@dataclass
class _Generation:
    """What one generation has produced so far: kept however it ends."""

    started: float
    """``time.perf_counter()`` when the request came in."""
    parts: list[str] = field(default_factory=list)
    """The text of each delta that had some."""
    first_token_seconds: float | None = None
    """From ``started`` to the first text; None before it."""
    final: ChatDelta | None = None
    """The engine's last delta (finish reason and usage); None if it never came."""

    def add(self, delta: ChatDelta) -> None:
        """Take one delta of the engine stream."""
        if delta.finish_reason is not None:
            self.final = delta
        if delta.text:
            if self.first_token_seconds is None:
                self.first_token_seconds = time.perf_counter() - self.started
            self.parts.append(delta.text)

    @property
    def text(self) -> str:
        """The reply so far."""
        return "".join(self.parts)

    @property
    def finish_reason(self) -> str | None:
        """The engine's finish reason; None when it stopped before saying (cancelled)."""
        return self.final.finish_reason if self.final is not None else None

    def usage(self) -> TurnUsage:
        """The engine's token counts; when it never reported them, one token per delta."""
        usage = self.final.usage if self.final is not None else None
        if usage is None:
            return TurnUsage(prompt_tokens=0, completion_tokens=len(self.parts))
        return TurnUsage(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_prompt_tokens=usage.cached_prompt_tokens,
        )
