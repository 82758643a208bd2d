"""The translation service: detect, look up the cache, protect, split, translate, restore,
score, remember.

Engines, best first for each pair: an installed CTranslate2 translation model (NLLB-200,
opus-mt), then the chat model as translator (what the ``offline`` profile has). A request
may name the model. Blocking work (engines, SQLite, detection) runs off the event loop;
engines are borrowed from the model manager.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from assistant.chat.history import HistoryService
from assistant.clock import Clock, new_id, system_clock, to_ms
from assistant.errors import InvalidInput, NotFound, PayloadTooLarge
from assistant.profile import ProfileService, UsageMetric
from assistant.store import Database
from assistant.text import control_character
from assistant.translate import store
from assistant.translate.llm import ChatModelTranslator
from assistant.translate.models import (
    ENGINE_CT2,
    ENGINE_LLM,
    ENGINE_NONE,
    CacheStats,
    EngineChoice,
    Glossary,
    LanguageInfo,
    TermCheck,
    Timings,
    TranslateRequest,
    TranslationResult,
)
from assistant.translate.quality import calibrated, chrf
from assistant.translate.text import (
    Span,
    html_pieces,
    html_text,
    only_placeholders,
    protect,
    restore,
    split_units,
)
from assistant.voice.service import VoiceService
from runtime.engines import Capability
from runtime.errors import ModelNotInstalled
from runtime.events import NO_EVENTS, Emitter
from runtime.manager import ModelManager
from runtime.modelstore import InstalledModel
from runtime.mt.base import TranslateOptions, Translation
from runtime.mt.detect import LanguageDetector, LanguageGuess, Py3LangidDetector
from runtime.mt.languages import ISO_TO_FLORES, LANGUAGE_NAMES, to_iso

if TYPE_CHECKING:
    from assistant.translate.speech import SpeechTranslator

log = logging.getLogger(__name__)

MAX_TERMS = 500
"""Most glossary entries (terms plus do-not-translate terms)."""
MAX_TERM_CHARS = 200
"""Longest glossary term or translation."""
SHORT_TEXT_CHARS = 40
"""Texts shorter than this are detected with the rest of their batch."""
CONTEXT_MESSAGES = 4
"""Chat messages taken as context from a conversation."""


class InstalledTranslators(Protocol):
    """What the service needs of the model store."""

    def installed(self) -> list[InstalledModel]:
        """Every installed model."""
        ...


@dataclass(frozen=True)
class TranslateLimits:
    """Limits and defaults from settings."""

    max_chars: int = 20_000
    """Longest text."""
    max_batch: int = 128
    """Most texts per request."""
    max_context_chars: int = 2000
    """Longest context kept (its end)."""
    beam_size: int = 2
    """Beam of translation models."""
    cache_max_bytes: int = 64 * 1024 * 1024
    """Cache size cap; 0 turns the cache off."""


@dataclass(frozen=True)
class TranslateModels:
    """Which models the service may use."""

    llm: str | None = None
    """The chat model that translates when no translation model serves a pair."""
    suggested: str | None = None
    """The model to suggest installing when none is (the profile's translation model, else
    its chat model)."""
    suggested_capability: str = "mt"
    """The capability of ``suggested`` (any model of it would do)."""
    languages: Callable[[str], tuple[str, ...]] = lambda model_id: ()
    """Languages a model handles, from the manifest."""


def language_code(code: str, field: str, *, allow_auto: bool = False) -> str:
    """The ISO 639-1 code of a code a caller sent, or InvalidInput naming the field."""
    if allow_auto and code == "auto":
        return code
    iso = to_iso(code) if code else None
    if iso is None:
        hint = " or 'auto'" if allow_auto else ""
        raise InvalidInput(
            f"Unknown language code {code!r}: use an ISO 639-1 code such as 'en', 'de',"
            f" 'es'{hint} (GET /api/v1/translate/languages lists them)",
            field=field,
        )
    return iso


def check_glossary(glossary: Glossary, field: str = "glossary") -> Glossary:
    """A glossary that can be applied, or InvalidInput naming what is wrong."""
    entries = [*glossary.terms.items(), *((term, term) for term in glossary.keep)]
    if len(entries) > MAX_TERMS:
        raise InvalidInput(f"A glossary holds at most {MAX_TERMS} terms", field=field)
    for term, translation in entries:
        if not term.strip():
            raise InvalidInput("A glossary term is empty", field=field)
        if not translation.strip():
            raise InvalidInput(f"The translation of {term!r} is empty", field=field)
        if len(term) > MAX_TERM_CHARS or len(translation) > MAX_TERM_CHARS:
            raise InvalidInput(
                f"Glossary terms and translations are at most {MAX_TERM_CHARS} characters",
                field=field,
            )
        if "⟦" in term + translation or "⟧" in term + translation:
            raise InvalidInput("Glossary entries may not hold ⟦ or ⟧", field=field)
        if control_character(term + translation) is not None:
            raise InvalidInput(f"The entry {term!r} holds a control character", field=field)
    return Glossary(
        {term.strip(): value.strip() for term, value in glossary.terms.items()},
        tuple(term.strip() for term in glossary.keep),
    )


def cache_key(
    choice: EngineChoice,
    source: str,
    target: str,
    request: TranslateRequest,
    glossary: Glossary,
    context: str | None,
    text: str,
) -> str:
    """What identifies a translation: engine, model, languages, options, glossary, text."""
    material = json.dumps(
        [
            choice.engine,
            choice.model,
            source,
            target,
            request.format,
            request.quality,
            context or "",
            sorted(glossary.terms.items()),
            sorted(glossary.keep),
            text,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class TranslateService:
    """Translate text for users; the cache is shared, history and glossaries are theirs."""

    def __init__(
        self,
        db: Database,
        manager: ModelManager,
        catalogue: InstalledTranslators,
        profile: ProfileService,
        history: HistoryService,
        models: TranslateModels,
        limits: TranslateLimits | None = None,
        *,
        detector: Callable[[], LanguageDetector] | None = None,
        voice: VoiceService | None = None,
        clock: Clock = system_clock,
        events: Emitter = NO_EVENTS,
    ) -> None:
        self.db = db
        self.events = events
        self.manager = manager
        self.catalogue = catalogue
        self.profile = profile
        self.chat_history = history
        self.models = models
        self.limits = limits or TranslateLimits()
        self.clock = clock
        self._load_detector = detector or (lambda: Py3LangidDetector.load(tuple(ISO_TO_FLORES)))
        self.voice = voice
        """Speech in and out (what ``languages`` reports of it)."""
        self.speech: SpeechTranslator | None = None
        """Voice translation, set by ``assistant.services.build_translate``."""
        self._detector: LanguageDetector | None = None
        self._detector_lock = threading.Lock()
        self._directions: dict[str, dict[str, tuple[str, ...]]] = {}
        self.hits = 0
        """Cache lookups answered since start."""
        self.misses = 0
        """Cache lookups that ran an engine since start."""

    # Languages and engines --------------------------------------------------------------

    def detector(self) -> LanguageDetector:
        """The language detector, loaded on first use (blocking)."""
        with self._detector_lock:
            if self._detector is None:
                self._detector = self._load_detector()
            return self._detector

    async def detect(self, text: str, top_k: int = 3) -> list[LanguageGuess]:
        """The likeliest languages of ``text``."""
        text = text.strip()
        if not text:
            raise InvalidInput("The text is empty", field="text")
        if len(text) > self.limits.max_chars:
            raise PayloadTooLarge(
                f"The text has {len(text)} characters; the limit is {self.limits.max_chars}",
                field="text",
            )
        if not 1 <= top_k <= 20:
            raise InvalidInput("top_k must be 1..20", field="top_k")
        detector = await asyncio.to_thread(self.detector)
        return await asyncio.to_thread(detector.detect, text, top_k)

    def _installed(self, capability: Capability) -> list[InstalledModel]:
        return [m for m in self.catalogue.installed() if m.capability is capability]

    async def _ct2_directions(self, model_id: str) -> dict[str, tuple[str, ...]]:
        """Source -> targets of a translation model (loads it the first time)."""
        known = self._directions.get(model_id)
        if known is None:
            async with self.manager.use(model_id) as engine:
                codes = [to_iso(code) for code in engine.languages]
                style = getattr(engine, "style", "nllb")
            isos = [code for code in dict.fromkeys(codes) if code is not None]
            if style == "marian" and len(isos) == 2:
                known = {isos[0]: (isos[1],)}
            else:
                known = {code: tuple(c for c in isos if c != code) for code in isos}
            self._directions[model_id] = known
        return known

    def _llm_id(self, models: Sequence[InstalledModel]) -> str | None:
        installed = [m.id for m in models if m.capability is Capability.LLM]
        if self.models.llm in installed:
            return self.models.llm
        return installed[0] if installed else None

    def _llm_directions(self, model_id: str) -> dict[str, tuple[str, ...]]:
        codes = [c for c in self.models.languages(model_id) if c in ISO_TO_FLORES] or ["en"]
        return {code: tuple(c for c in codes if c != code) for code in codes}

    async def engines(self) -> list[EngineChoice]:
        """Every installed engine, best first."""
        installed = await asyncio.to_thread(self.catalogue.installed)
        choices = [
            EngineChoice(ENGINE_CT2, m.id, await self._ct2_directions(m.id))
            for m in installed
            if m.capability is Capability.MT
        ]
        llm = self._llm_id(installed)
        if llm is not None:
            choices.append(EngineChoice(ENGINE_LLM, llm, self._llm_directions(llm)))
        return choices

    async def choose(self, source: str, target: str, model: str | None = None) -> EngineChoice:
        """The engine for a pair: the requested model, else the best installed."""
        choices = await self.engines()
        if model is not None:
            named = [c for c in choices if c.model == model]
            if not named:
                found = await asyncio.to_thread(self.catalogue.installed)
                installed = {m.id: m for m in found}
                if model in installed:
                    raise InvalidInput(
                        f"{model} is a {installed[model].capability.value} model: it cannot"
                        " translate; use a translation or chat model",
                        field="model",
                    )
                raise ModelNotInstalled(model)
            choices = named
        if not choices:
            raise ModelNotInstalled(
                self.models.suggested or "nllb:600m-int8",
                capability=self.models.suggested_capability,
            )
        for choice in choices:
            if target in choice.directions.get(source, ()):
                return choice
        targets = sorted({t for c in choices for t in c.directions.get(source, ())})
        raise InvalidInput(
            f"Translation from {source} to {target} is not supported by the installed"
            f" {'model ' + model if model else 'engines'}; targets from {source}:"
            f" {', '.join(targets) or 'none'}",
            field="target",
            pair=f"{source}-{target}",
            supported_targets=targets,
        )

    def voice_for(self, language: str) -> tuple[str | None, bool]:
        """The installed voice that speaks ``language`` (a Piper voice first, else the
        espeak-ng fallback) and whether it is the fallback; (None, False) when none.
        The voice service's choice, so the voice pipeline speaks the same voice."""
        if self.voice is None:
            return None, False
        try:
            choice = self.voice.voice_for_language(language)
        except ModelNotInstalled:
            return None, False
        return choice.voice, choice.fallback

    def hears(self, language: str) -> bool:
        """An installed speech-to-text model understands ``language``."""
        if self.voice is None:
            return False
        return any(language in self.voice.languages(m.id) for m in self._installed(Capability.STT))

    async def languages(self) -> list[LanguageInfo]:
        """What the installed engines translate, with speech in and out per language."""
        directions: dict[str, set[str]] = {}
        for choice in await self.engines():
            for source, targets in choice.directions.items():
                directions.setdefault(source, set()).update(targets)
        codes = sorted(set(directions) | {t for ts in directions.values() for t in ts})

        def describe(code: str) -> LanguageInfo:
            voice, fallback = self.voice_for(code)
            return LanguageInfo(
                code=code,
                flores=ISO_TO_FLORES.get(code),
                name=LANGUAGE_NAMES.get(code, code),
                targets=tuple(sorted(directions.get(code, ()))),
                speech_input=self.hears(code),
                voice=voice,
                voice_fallback=fallback,
            )

        return await asyncio.to_thread(lambda: [describe(code) for code in codes])

    # Translating ------------------------------------------------------------------------

    def check(self, request: TranslateRequest) -> TranslateRequest:
        """The request with codes normalised, or InvalidInput naming the field."""
        if not request.texts:
            raise InvalidInput("Send at least one text", field="texts")
        if len(request.texts) > self.limits.max_batch:
            raise PayloadTooLarge(
                f"{len(request.texts)} texts; at most {self.limits.max_batch} per request",
                field="texts",
            )
        field = "text" if len(request.texts) == 1 else "texts"
        for index, text in enumerate(request.texts):
            where = field if len(request.texts) == 1 else f"texts[{index}]"
            if not text.strip():
                raise InvalidInput("The text is empty", field=where)
            if len(text) > self.limits.max_chars:
                raise PayloadTooLarge(
                    f"The text has {len(text)} characters; the limit is {self.limits.max_chars}",
                    field=where,
                )
        glossary = check_glossary(request.glossary) if request.glossary else None
        return replace(
            request,
            source=language_code(request.source, "source", allow_auto=True),
            target=language_code(request.target, "target"),
            glossary=glossary,
        )

    async def translate(
        self, user_id: str, request: TranslateRequest, *, kind: str = "text"
    ) -> list[TranslationResult]:
        """Translate every text of the request (history, as ``kind``, and usage recorded)."""
        request = self.check(request)
        glossary = await asyncio.to_thread(self._glossary_for, user_id, request)
        context = await self._context(user_id, request)
        overall: list[LanguageGuess] = []
        if request.source == "auto" and len(request.texts) > 1:
            overall = await self.detect(" ".join(request.texts)[: self.limits.max_chars], 5)
        results = [
            await self._translate_one(user_id, request, text, glossary, context, overall, kind)
            for text in request.texts
        ]
        for result in results:
            self.events.emit(
                "translate.text",
                {
                    "kind": kind,
                    "model": result.model,
                    "engine": result.engine,
                    "source": result.source,
                    "language": result.target,
                    "characters": len(result.text),
                    "cached": result.cached,
                    "quality": result.quality,
                    "total_ms": round(result.timings.total * 1000, 1),
                },
                user_id=user_id,
            )
        await asyncio.to_thread(
            self.profile.record_usage,
            user_id,
            {
                UsageMetric.TRANSLATIONS: len(results),
                UsageMetric.TRANSLATED_CHARACTERS: sum(len(r.text) for r in results),
            },
        )
        return results

    def _glossary_for(self, user_id: str, request: TranslateRequest) -> Glossary:
        glossary = Glossary()
        if request.use_stored_glossary:
            with self.db.read() as conn:
                stored = store.get_glossary(conn, user_id)
            if not stored.targets or request.target in stored.targets:
                glossary = Glossary(stored.terms, stored.keep)
        return glossary.merged(request.glossary) if request.glossary else glossary

    async def _context(self, user_id: str, request: TranslateRequest) -> str | None:
        context = request.context or ""
        if request.conversation_id is not None:
            messages = await asyncio.to_thread(
                self.chat_history.history,
                user_id,
                request.conversation_id,
                limit=CONTEXT_MESSAGES,
            )
            context = " ".join([*(m.content for m in reversed(messages)), context])
        context = " ".join(context.split())
        limit = self.limits.max_context_chars
        return context[-limit:] if context and limit else None

    async def _detect_source(
        self, text: str, request: TranslateRequest, overall: list[LanguageGuess]
    ) -> LanguageGuess:
        """The source language of a text: its likeliest language that an engine translates
        into the target (else its likeliest). A short text of a batch (under
        SHORT_TEXT_CHARS) takes the batch's languages, as LibreTranslate does: a few words
        say little about their language."""
        guesses = overall if overall and len(text) < SHORT_TEXT_CHARS else []
        guesses = guesses or await self.detect(text, 5)
        engines = await self.engines()
        for guess in guesses:
            if guess.language == request.target or any(
                request.target in e.directions.get(guess.language, ()) for e in engines
            ):
                return guess
        return guesses[0]

    async def _translate_one(
        self,
        user_id: str,
        request: TranslateRequest,
        text: str,
        glossary: Glossary,
        context: str | None,
        overall: list[LanguageGuess],
        kind: str,
    ) -> TranslationResult:
        started = time.perf_counter()
        detected: LanguageGuess | None = None
        source = request.source
        if source == "auto":
            detected = await self._detect_source(text, request, overall)
            source = detected.language
        detected_at = time.perf_counter()
        if source == request.target:
            result = TranslationResult(
                text,
                text,
                source,
                request.target,
                detected,
                ENGINE_NONE,
                "",
                None,
                None,
                False,
                0,
                (),
                Timings(detected_at - started, total=detected_at - started),
            )
            return await self._remember(user_id, result, kind)
        choice = await self.choose(source, request.target, request.model)
        key = cache_key(choice, source, request.target, request, glossary, context, text)
        if self.limits.cache_max_bytes:

            def from_cache(cached: dict[str, Any]) -> TranslationResult:
                return TranslationResult(
                    text=text,
                    translated=cached["translated"],
                    source=source,
                    target=request.target,
                    detected=detected,
                    engine=choice.engine,
                    model=choice.model,
                    quality=cached["quality"],
                    quality_method=cached["quality_method"],
                    cached=True,
                    sentences=cached["sentences"],
                    terms=tuple(TermCheck(**term) for term in cached["terms"]),
                    timings=Timings(
                        detect=detected_at - started, total=time.perf_counter() - started
                    ),
                )

            hit = await asyncio.to_thread(self._cache_hit, key, user_id, kind, from_cache)
            if hit is not None:
                self.hits += 1
                return hit
        self.misses += 1
        translated, scores, sentences, terms = await self._run(
            choice, text, source, request.target, request.format, glossary, context
        )
        translated_at = time.perf_counter()
        quality, method = None, None
        if request.quality == "score":
            finite = [calibrated(s) for s in scores if not math.isnan(s)]
            quality, method = (sum(finite) / len(finite) if finite else None), "score"
        elif request.quality == "roundtrip":
            back, _, _, _ = await self._run(
                choice, translated, request.target, source, request.format, Glossary(), None
            )
            quality, method = chrf(back, text), "roundtrip"
        done = time.perf_counter()
        result = TranslationResult(
            text=text,
            translated=translated,
            source=source,
            target=request.target,
            detected=detected,
            engine=choice.engine,
            model=choice.model,
            quality=None if quality is None else round(quality, 4),
            quality_method=method,
            cached=False,
            sentences=sentences,
            terms=terms,
            timings=Timings(
                detect=detected_at - started,
                translate=translated_at - detected_at,
                quality=done - translated_at,
                total=done - started,
            ),
        )
        if self.limits.cache_max_bytes:
            await asyncio.to_thread(self._cache_put, key, choice, result)
        return await self._remember(user_id, result, kind)

    async def _run(
        self,
        choice: EngineChoice,
        text: str,
        source: str,
        target: str,
        format: str,
        glossary: Glossary,
        context: str | None,
    ) -> tuple[str, list[float], int, tuple[TermCheck, ...]]:
        """Translate one text: (translation, sentence scores, sentences, term checks)."""
        if format == "html":
            pieces = html_pieces(text)
            nodes = [piece.text for piece in pieces if piece.translate]
        else:
            pieces, nodes = [], [text]
        units = [split_units(node) for node in nodes]
        protected = [protect(s, glossary.terms, glossary.keep) for u in units for s in u.sentences]
        todo = [i for i, p in enumerate(protected) if not only_placeholders(p.text)]
        translations = await self._engine_batch(
            choice, [protected[i].text for i in todo], source, target, context
        )
        outputs = [p.text for p in protected]
        scores: list[float] = []
        for index, translation in zip(todo, translations, strict=True):
            outputs[index] = translation.text
            scores.append(translation.score)
        restored = [restore(out, p.spans) for out, p in zip(outputs, protected, strict=True)]
        position = 0
        node_texts = []
        for unit in units:
            count = len(unit.sentences)
            node_texts.append(unit.join([r.text for r in restored[position : position + count]]))
            position += count
        if format == "html":
            replaced = iter(node_texts)
            translated = "".join(
                html_text(next(replaced)) if piece.translate else piece.text for piece in pieces
            )
        else:
            translated = node_texts[0]
        checks = term_checks(glossary, [p.spans for p in protected], [r.placed for r in restored])
        return translated, scores, len(todo), checks

    async def _engine_batch(
        self,
        choice: EngineChoice,
        texts: list[str],
        source: str,
        target: str,
        context: str | None,
    ) -> list[Translation]:
        if not texts:
            return []
        if choice.engine == ENGINE_LLM:
            async with self.manager.use(choice.model) as chat:
                translator = ChatModelTranslator(chat)
                return await asyncio.to_thread(
                    translator.translate_batch, texts, source, target, context
                )
        # A translation rarely takes more tokens than twice the source's characters; the
        # bound stops a model that repeats itself long before its 256-token default.
        longest = max(len(text) for text in texts)
        options = TranslateOptions(
            beam_size=self.limits.beam_size, max_decoding_length=min(512, 2 * longest + 16)
        )
        if context:
            context_translation = await self._engine_batch(choice, [context], source, target, None)
            options = replace(
                options, source_context=context, target_context=context_translation[0].text
            )
        async with self.manager.use(choice.model) as engine:
            translations: list[Translation] = await asyncio.to_thread(
                engine.translate_batch, texts, source, target, options
            )
        return translations

    # Cache, history, glossary -----------------------------------------------------------

    def _now_ms(self) -> int:
        return to_ms(self.clock())

    def _cache_hit(
        self,
        key: str,
        user_id: str,
        kind: str,
        result_of: Callable[[dict[str, Any]], TranslationResult],
    ) -> TranslationResult | None:
        """A cached translation, recorded in the user's history in the same transaction
        (a hit costs one write); None on a miss."""
        with self.db.write() as conn:
            cached = store.cache_get(conn, key, self._now_ms())
            if cached is None:
                return None
            result = result_of(cached)
            entry = self._entry(result, kind)
            store.add_history(conn, user_id, entry)
        return replace(result, history_id=entry.id)

    def _cache_put(self, key: str, choice: EngineChoice, result: TranslationResult) -> None:
        record = {
            "translated": result.translated,
            "quality": result.quality,
            "quality_method": result.quality_method,
            "sentences": result.sentences,
            "terms": [asdict(term) for term in result.terms],
        }
        with self.db.write() as conn:
            store.cache_put(
                conn,
                key,
                engine=choice.engine,
                model=choice.model,
                source=result.source,
                target=result.target,
                result=record,
                now=self._now_ms(),
                max_bytes=self.limits.cache_max_bytes,
            )

    def _entry(self, result: TranslationResult, kind: str) -> store.HistoryEntry:
        return store.HistoryEntry(
            id=new_id(self.clock()),
            kind=kind,
            source=result.source,
            target=result.target,
            text=result.text,
            translated=result.translated,
            engine=result.engine,
            model=result.model,
            quality=result.quality,
            created_at=self._now_ms(),
        )

    async def _remember(
        self, user_id: str, result: TranslationResult, kind: str
    ) -> TranslationResult:
        entry = self._entry(result, kind)
        await asyncio.to_thread(self.add_history, user_id, entry)
        return replace(result, history_id=entry.id)

    def add_history(self, user_id: str, entry: store.HistoryEntry) -> None:
        """Record a translation the user made."""
        with self.db.write() as conn:
            store.add_history(conn, user_id, entry)

    def history(
        self, user_id: str, *, before: str | None = None, limit: int = 50
    ) -> list[store.HistoryEntry]:
        """The user's translations, newest first, older than ``before``."""
        if not 1 <= limit <= 200:
            raise InvalidInput("limit must be 1..200", field="limit")
        with self.db.read() as conn:
            if before is not None and not store.history_exists(conn, user_id, before):
                raise NotFound("No such history entry (the `before` cursor)")
            return store.page_of_history(conn, user_id, before, limit)

    def delete_history(self, user_id: str, entry_id: str | None = None) -> int:
        """Forget one translation (NotFound if it is not the user's) or all of them."""
        with self.db.write() as conn:
            deleted = store.delete_history(conn, user_id, entry_id)
        if entry_id is not None and not deleted:
            raise NotFound("No such history entry")
        return deleted

    def cache_stats(self) -> CacheStats:
        """Entries and bytes in the cache; hits and misses since start."""
        with self.db.read() as conn:
            entries, size, _ = store.cache_totals(conn)
        return CacheStats(entries, size, self.limits.cache_max_bytes, self.hits, self.misses)

    def clear_cache(self) -> int:
        """Empty the cache; the number of entries removed."""
        with self.db.write() as conn:
            return store.cache_clear(conn)

    def glossary(self, user_id: str) -> store.StoredGlossary:
        """The user's stored glossary (empty when none)."""
        with self.db.read() as conn:
            return store.get_glossary(conn, user_id)

    def set_glossary(
        self, user_id: str, glossary: Glossary, targets: Sequence[str] = ()
    ) -> store.StoredGlossary:
        """Replace the user's stored glossary (applied by default to their translations)."""
        checked = check_glossary(glossary)
        codes = tuple(
            dict.fromkeys(language_code(code, f"targets[{i}]") for i, code in enumerate(targets))
        )
        stored = store.StoredGlossary(checked.terms, checked.keep, codes, self._now_ms())
        with self.db.write() as conn:
            store.put_glossary(conn, user_id, stored)
        return stored

    def delete_glossary(self, user_id: str) -> None:
        """Remove the user's stored glossary."""
        with self.db.write() as conn:
            store.delete_glossary(conn, user_id)


def term_checks(
    glossary: Glossary,
    spans: Sequence[Sequence[Span]],
    placed: Sequence[frozenset[int]],
) -> tuple[TermCheck, ...]:
    """For each glossary term: was it in the source, and did every occurrence come out as
    its translation where the engine placed it (pure)."""
    seen: dict[str, list[bool]] = {}
    for sentence_spans, sentence_placed in zip(spans, placed, strict=True):
        for index, span in enumerate(sentence_spans):
            if span.term is not None:
                seen.setdefault(span.term, []).append(index in sentence_placed)
    wanted = [*glossary.terms.items(), *((term, term) for term in glossary.keep)]
    return tuple(
        TermCheck(
            term=term,
            translation=translation,
            found=term in seen,
            honoured=term in seen and all(seen[term]),
        )
        for term, translation in wanted
    )
