"""``/api/v1/translate``: text translation, detection, languages, history, glossary, cache."""

from __future__ import annotations

from typing import Annotated

import anyio
from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from server.deps import PrincipalDep, TranslateDep
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.translate import (
    CacheStatsOut,
    DeletedOut,
    DetectedOut,
    DetectIn,
    DetectOut,
    EngineOut,
    GlossaryOut,
    GlossaryPutIn,
    HistoryEntryOut,
    LanguageOut,
    LanguagesOut,
    TranslateHistoryOut,
    TranslateIn,
    TranslateOut,
    TranslationOut,
)
from server.security import require_admin

Limit = Annotated[int, Parameter(ge=1, le=200, description="Page size")]


class TranslateController(Controller):
    """Translation for the signed-in user; the cache is shared, history and glossary are
    each user's own."""

    path = "/api/v1/translate"
    tags = ["translate"]

    @post(
        "/text",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401, 404, 503),
        summary="Translate text",
    )
    async def text(
        self, data: JSONBody[TranslateIn], translate: TranslateDep, principal: PrincipalDep
    ) -> TranslateOut:
        """Translate ``text`` (or each of ``texts``) into ``target``. Long texts are split
        into sentences and translated in batches; line breaks, paragraphs, numbers, URLs,
        e-mail addresses and emoji come through unchanged; ``format: html`` translates text
        nodes only. ``engine`` says which engine answered: ``ctranslate2`` (a translation
        model such as NLLB-200: the best quality) or ``llm`` (the chat model: passable for
        short sentences, see ``engine_note``). An unsupported pair answers 422 with the
        targets the source can go to; no engine installed answers 503 with the command
        that installs one."""
        results = await translate.translate(principal.user_id, data.to_request())
        return TranslateOut(translations=[TranslationOut.of(r) for r in results])

    @post(
        "/detect",
        status_code=HTTP_200_OK,
        responses=problems(*JSON_BODY, 401),
        summary="Detect the language of text",
    )
    async def detect(
        self, data: JSONBody[DetectIn], translate: TranslateDep, principal: PrincipalDep
    ) -> DetectOut:
        """The ``top_k`` likeliest languages with their confidence (0..1), by a local
        detector (py3langid, over the 130 languages with ISO 639-1 codes). Short texts
        (a few words) are often guessed wrong: send a sentence or more."""
        guesses = await translate.detect(data.text, data.top_k)
        return DetectOut(languages=[DetectedOut.of(g) for g in guesses])

    @get("/languages", responses=problems(401, 503), summary="Languages the device translates")
    async def languages(self, translate: TranslateDep, principal: PrincipalDep) -> LanguagesOut:
        """Every language the installed engines translate: ISO 639-1 and FLORES-200 codes,
        names, the targets of each source, whether an installed speech-to-text model
        understands it and which voice speaks it (a Piper voice, or the espeak-ng
        fallback). ``engines`` lists the installed engines, best first."""
        languages = await translate.languages()
        engines = await translate.engines()
        return LanguagesOut(
            languages=[LanguageOut.of(info) for info in languages],
            engines=[EngineOut.of(choice) for choice in engines],
        )

    @get("/history", responses=problems(*PARAMETERS, 401, 404), summary="My translations")
    async def history(
        self,
        translate: TranslateDep,
        principal: PrincipalDep,
        before: Annotated[
            str | None,
            Parameter(description="History id: return older entries", max_length=64),
        ] = None,
        limit: Limit = 50,
    ) -> TranslateHistoryOut:
        """Newest first. Cursor pagination: pass ``next_before`` back as ``before``."""
        page = await anyio.to_thread.run_sync(
            lambda: translate.history(principal.user_id, before=before, limit=limit)
        )
        return TranslateHistoryOut(
            entries=[HistoryEntryOut.of(e) for e in page],
            next_before=page[-1].id if len(page) == limit else None,
        )

    @delete(
        "/history",
        status_code=HTTP_200_OK,
        responses=problems(401),
        summary="Forget all my translations",
    )
    async def delete_history(self, translate: TranslateDep, principal: PrincipalDep) -> DeletedOut:
        """Every entry of your translation history."""
        deleted = await anyio.to_thread.run_sync(translate.delete_history, principal.user_id)
        return DeletedOut(deleted=deleted)

    @delete(
        "/history/{entry_id:str}",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Forget one translation",
    )
    async def delete_entry(
        self,
        translate: TranslateDep,
        principal: PrincipalDep,
        entry_id: Annotated[str, Parameter(description="The history entry", max_length=64)],
    ) -> DeletedOut:
        """One entry of your history; another user's entry is not found."""
        deleted = await anyio.to_thread.run_sync(
            translate.delete_history, principal.user_id, entry_id
        )
        return DeletedOut(deleted=deleted)

    @get("/glossary", responses=problems(401), summary="My glossary")
    async def glossary(self, translate: TranslateDep, principal: PrincipalDep) -> GlossaryOut:
        """The glossary applied by default to your translations (empty when none)."""
        stored = await anyio.to_thread.run_sync(translate.glossary, principal.user_id)
        return GlossaryOut.of(stored)

    @put("/glossary", responses=problems(*JSON_BODY, 401), summary="Replace my glossary")
    async def set_glossary(
        self, data: JSONBody[GlossaryPutIn], translate: TranslateDep, principal: PrincipalDep
    ) -> GlossaryOut:
        """``terms`` (term -> translation) and ``keep`` (never translated) apply to every
        translation of yours into ``targets`` (empty: every target), unless a request sets
        ``use_stored_glossary: false``; a request's own glossary wins over it."""
        stored = await anyio.to_thread.run_sync(
            translate.set_glossary, principal.user_id, data.to_glossary(), data.targets
        )
        return GlossaryOut.of(stored)

    @delete(
        "/glossary",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(401),
        summary="Delete my glossary",
    )
    async def delete_glossary(self, translate: TranslateDep, principal: PrincipalDep) -> None:
        """Your translations no longer use a stored glossary."""
        await anyio.to_thread.run_sync(translate.delete_glossary, principal.user_id)

    @get("/cache/stats", responses=problems(401, 403), summary="Translation cache (admin)")
    async def cache_stats(self, translate: TranslateDep, principal: PrincipalDep) -> CacheStatsOut:
        """Entries and bytes in the shared cache, its size cap, and the hits and misses
        since the server started."""
        require_admin(principal)
        return CacheStatsOut.of(await anyio.to_thread.run_sync(translate.cache_stats))

    @delete(
        "/cache",
        status_code=HTTP_200_OK,
        responses=problems(401, 403),
        summary="Empty the translation cache (admin)",
    )
    async def clear_cache(self, translate: TranslateDep, principal: PrincipalDep) -> DeletedOut:
        """Every cached translation of every user; the next requests run the engines."""
        require_admin(principal)
        return DeletedOut(deleted=await anyio.to_thread.run_sync(translate.clear_cache))
