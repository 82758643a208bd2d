"""``/api/v1/translate``: text translation, detection, languages, history, glossary, cache."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, WebSocket, delete, get, post, put, websocket
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from assistant.settings import Settings
from assistant.translate.models import ENGINE_NOTES
from assistant.translate.speech import SpeechRequest, SpeechTranslation
from hal.audio.codecs import CONTENT_TYPES, encode
from server.deps import PrincipalDep, SettingsDep, TranslateDep
from server.docs import JSON, MULTIPART, OCTETS, binary, documented, schema_of, struct_json
from server.interpretstream import InterpretStream
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.translate import (
    LANGUAGE_PATTERN,
    SPOKEN_FORMATS,
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
    SpokenAudioOut,
    TranslateHistoryOut,
    TranslateIn,
    TranslateOut,
    TranslationOut,
    VoiceParams,
    VoiceTimingsOut,
    VoiceTranslationOut,
)
from server.security import require_admin
from server.uploads import UPLOAD_HARD_LIMIT, read_upload

Limit = Annotated[int, Parameter(ge=1, le=200, description="Page size")]
LANGUAGE_QUERY: dict[str, Any] = {"pattern": LANGUAGE_PATTERN, "maxLength": 20}
SOURCE_QUERY: dict[str, Any] = {
    "pattern": "^(auto|" + LANGUAGE_PATTERN[1:-1] + ")$",
    "maxLength": 20,
}
AUDIO_QUERY: dict[str, Any] = {"enum": list(SPOKEN_FORMATS)}


def voice_out(
    result: SpeechTranslation, encoded: bytes | None, audio_format: str
) -> VoiceTranslationOut:
    """The JSON answer of a voice translation."""
    timings = result.timings

    def ms(seconds: float) -> float:
        return round(seconds * 1000, 1)

    audio = None
    if encoded is not None and result.audio is not None:
        audio = SpokenAudioOut(
            content_type=CONTENT_TYPES[audio_format],
            rate=result.audio.rate,
            seconds=round(result.audio.seconds, 3),
            base64=base64.b64encode(encoded).decode("ascii"),
        )
    return VoiceTranslationOut(
        text=result.text,
        translated_text=result.translated,
        source=result.source,
        source_confidence=round(result.source_confidence, 4),
        target=result.target,
        engine=result.engine,
        engine_note=ENGINE_NOTES.get(result.engine, ""),
        model=result.model,
        stt_model=result.stt_model,
        pivot=result.pivot,
        voice=result.voice,
        voice_fallback=result.voice_fallback,
        audio=audio,
        timings=VoiceTimingsOut(
            stt_ms=ms(timings.stt),
            translate_ms=ms(timings.translate),
            tts_ms=ms(timings.tts),
            first_audio_ms=None if timings.first_audio is None else ms(timings.first_audio),
            total_ms=ms(timings.total),
        ),
        history_id=result.history_id,
    )


VOICE_DESCRIPTION = (
    "A multipart form with the audio as `file` (options as fields, or as query parameters),"
    " or the raw audio file as the whole body."
)
SPOKEN = {
    JSON: schema_of(struct_json(VoiceTranslationOut)),
    **{CONTENT_TYPES[f]: binary("The spoken translation alone") for f in SPOKEN_FORMATS},
}


def _voice_form() -> dict[str, Any]:
    options = VoiceParams.model_json_schema()
    return {
        "type": "object",
        "required": ["file", *options.get("required", [])],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            **{
                name: {k: v for k, v in field.items() if k != "title"}
                for name, field in options["properties"].items()
            },
        },
        "additionalProperties": False,
    }


VOICE_BODY = {
    MULTIPART: schema_of(_voice_form()),
    OCTETS: binary("The audio file itself"),
    "audio/*": binary("The audio file itself"),
}


def spoken_format(accept: str) -> str | None:
    """The audio format an Accept header asks for alone (``audio/wav``...), else None."""
    wanted = {media.split(";")[0].strip().lower() for media in accept.split(",")}
    for audio_format in SPOKEN_FORMATS:
        if CONTENT_TYPES[audio_format] in wanted:
            return audio_format
    return None


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

    @post(
        "/voice",
        status_code=HTTP_200_OK,
        request_max_body_size=UPLOAD_HARD_LIMIT,
        responses=problems(*PARAMETERS, 401, 404, 413, 503),
        operation_class=documented(
            body=VOICE_BODY, body_description=VOICE_DESCRIPTION, answers=SPOKEN
        ),
        summary="Translate speech into speech",
    )
    async def voice(
        self,
        request: Request[Any, Any, Any],
        translate: TranslateDep,
        principal: PrincipalDep,
        target: Annotated[
            str | None,
            Parameter(description="Language to translate into", schema_extra=LANGUAGE_QUERY),
        ] = None,
        source: Annotated[
            str | None,
            Parameter(description="Language spoken; default: detect", schema_extra=SOURCE_QUERY),
        ] = None,
        model: Annotated[
            str | None, Parameter(description="Text translation model", max_length=100)
        ] = None,
        stt_model: Annotated[
            str | None, Parameter(description="Speech-to-text model", max_length=100)
        ] = None,
        voice: Annotated[
            str | None, Parameter(description="Voice of the translation", max_length=100)
        ] = None,
        speak: Annotated[bool, Parameter(description="Speak the translation")] = True,
        source_text: Annotated[
            bool, Parameter(description="Also write down what was said (into English)")
        ] = True,
        audio_format: Annotated[
            str,
            Parameter(description="wav, ogg or mp3 (inline audio)", schema_extra=AUDIO_QUERY),
        ] = "wav",
    ) -> Response[Any]:
        """Speech in any format the voice service reads (WAV, FLAC, Ogg/Opus, MP3, M4A,
        WebM) -> speech-to-text with language detection -> translation -> speech in the
        target language. Into English, a multilingual Whisper translates by itself
        (``engine: whisper``). The voice is a Piper voice of the target language when one
        is installed, else espeak-ng (``voice_fallback: true``). The JSON answer carries
        both texts, languages, per-stage timings and the audio as base64; send
        ``Accept: audio/wav`` (or ``audio/ogg``, ``audio/mpeg``) for the audio alone, with
        the texts' languages in ``X-Source-Language``/``X-Target-Language``."""
        settings: Settings = request.app.state.settings
        data, form = await read_upload(request, settings.server.max_upload_bytes)
        query = {
            "target": target,
            "source": source,
            "model": model,
            "stt_model": stt_model,
            "voice": voice,
            "speak": speak,
            "source_text": source_text,
            "audio_format": audio_format,
        }
        values = {k: v for k, v in {**query, **form}.items() if k != "file" and v not in (None, "")}
        params = VoiceParams.model_validate(values)
        alone = spoken_format(request.headers.get("accept", ""))
        speech = translate.speech
        assert speech is not None
        result = await speech.translate_upload(
            principal.user_id,
            data,
            SpeechRequest(
                target=params.target,
                source=params.source,
                model=params.model,
                stt_model=params.stt_model,
                voice=params.voice,
                speak=params.speak or alone is not None,
                source_text=params.source_text,
            ),
        )
        audio_format = alone or params.audio_format
        spoken = result.audio
        encoded = (
            await anyio.to_thread.run_sync(lambda: encode(spoken, audio_format))
            if spoken is not None
            else None
        )
        if alone is not None and encoded is not None:
            return Response(
                encoded,
                media_type=CONTENT_TYPES[alone],
                headers={
                    "X-Source-Language": result.source,
                    "X-Target-Language": result.target,
                    "X-Engine": result.engine,
                    "X-Voice": result.voice or "",
                },
            )
        return Response(voice_out(result, encoded, audio_format))

    @websocket("/interpret")
    async def interpret(
        self, socket: WebSocket[Any, Any, Any], translate: TranslateDep, settings: SettingsDep
    ) -> None:
        """Live interpreter for two people (browsers: ``?access_token=``). Send
        ``{"type": "start", "languages": ["en", "es"], "rate": 16000, "channels": 1}``, then
        binary 16-bit PCM frames; ``{"type": "stop"}`` ends the input. Each utterance
        (cut by the VAD, as the voice stream does) comes back as ``speech-start``,
        ``speech-end``, ``stt-end`` (text, language, seconds), ``translate-end``
        (translation, engine, seconds), the spoken translation as ``audio-start``, binary
        PCM and ``audio-end``, ``tts-end`` and ``interpretation`` (both texts and the end
        of speech to first audio latency); ``end`` follows the last one. A failed
        utterance sends ``error`` and the next one is heard."""
        speech = translate.speech
        assert speech is not None
        await InterpretStream(socket, speech, settings.voice).run()

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
