"""LibreTranslate's API at the root (``/translate``, ``/detect``, ``/languages``,
``/frontend/settings``), for the many clients that speak it.

The key goes where LibreTranslate clients put it: ``api_key`` in the body (form or JSON);
``Authorization: Bearer`` and ``X-API-Key`` work too. Any device API key or access token
of this assistant is accepted. ``/languages`` and ``/frontend/settings`` need none, as in
LibreTranslate.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_200_OK

from assistant.errors import InvalidInput
from assistant.settings import Settings
from assistant.translate.models import TranslateRequest
from runtime.mt.languages import LANGUAGE_NAMES, to_iso
from server.deps import AuthDep, TranslateDep
from server.docs import JSON, documented, schema_of
from server.libretranslate import (
    FORM,
    LibreTranslateError,
    api_key_of,
    authenticate,
    libretranslate_response,
    read_fields,
)
from server.problems import exception_handlers

MAX_ALTERNATIVES = 3
"""Most alternatives a client may ask for (this server gives none: see ``alternatives``)."""


class DetectedLanguage(msgspec.Struct):
    """A detection, LibreTranslate's way."""

    confidence: float
    """0..100."""
    language: str


class Translated(msgspec.Struct, omit_defaults=True):
    """``translatedText`` (a string, or a list for a list ``q``)."""

    translatedText: str | list[str]
    detectedLanguage: DetectedLanguage | list[DetectedLanguage] | None = None
    alternatives: list[str | list[str]] | None = None
    """Asked-for alternatives: always empty here (one translation per text)."""


class Language(msgspec.Struct):
    """A language and its targets."""

    code: str
    name: str
    targets: list[str]


class LanguageName(msgspec.Struct):
    code: str
    name: str


class FrontendLanguages(msgspec.Struct):
    source: LanguageName
    target: LanguageName


class FrontendSettings(msgspec.Struct):
    """What LibreTranslate's web page asks the server."""

    charLimit: int
    frontendTimeout: int
    apiKeys: bool
    keyRequired: bool
    suggestions: bool
    filesTranslation: bool
    supportedFilesFormat: list[str]
    language: FrontendLanguages


_TEXT = {"type": "string", "minLength": 1}
_KEY = {"type": "string", "description": "A device API key or access token"}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": required,
        "properties": {**properties, "api_key": _KEY},
    }
    form = {
        "type": "object",
        "required": required,
        "properties": {
            **{k: v for k, v in properties.items() if k != "q"},
            "q": _TEXT,
            "api_key": _KEY,
        },
    }
    return {JSON: schema_of(schema), FORM: schema_of(form)}


TRANSLATE_BODY = _body(
    {
        "q": {
            "oneOf": [
                _TEXT,
                {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 128},
            ]
        },
        "source": {"type": "string", "minLength": 1, "maxLength": 20},
        "target": {"type": "string", "minLength": 1, "maxLength": 20},
        "format": {"enum": ["text", "html"]},
        "alternatives": {"type": "integer", "minimum": 0, "maximum": MAX_ALTERNATIVES},
    },
    ["q", "source", "target"],
)
DETECT_BODY = _body({"q": _TEXT}, ["q"])


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    descriptions = {
        400: 'Invalid request (LibreTranslate\'s `{"error": ...}`)',
        403: "Invalid API key",
        429: "Slow down",
        500: "Translation error (no engine installed: the message names the install command)",
    }
    return {
        status: ResponseSpec(
            data_container=LibreTranslateError, description=descriptions[status], media_type=JSON
        )
        for status in sorted({*statuses, 500})
    }


def _source_target(source: str, target: str) -> tuple[str, str]:
    if source != "auto" and to_iso(source) is None:
        raise InvalidInput(f"{source} is not supported", field="source")
    if to_iso(target) is None:
        raise InvalidInput(f"{target} is not supported", field="target")
    return source, target


class LibreTranslateController(Controller):
    """LibreTranslate-compatible translation."""

    path = "/"
    tags = ["libretranslate"]
    opt = {"exclude_from_auth": True}
    exception_handlers = exception_handlers(libretranslate_response)
    security = [{}]

    @post(
        "/translate",
        status_code=HTTP_200_OK,
        responses=_errors(400, 403, 429),
        operation_class=documented(body=TRANSLATE_BODY, keep_json=True),
        summary="Translate (LibreTranslate)",
    )
    async def translate(
        self, request: Request[Any, Any, Any], translate: TranslateDep, auth: AuthDep
    ) -> Translated:
        """LibreTranslate's ``/translate``: ``q`` (a string, or a list in JSON), ``source``
        (or ``auto``), ``target``, ``format`` (text or html) and ``api_key``, as a form or
        JSON. ``detectedLanguage`` comes with ``source=auto`` (confidence 0..100).
        ``alternatives`` are accepted and answered with an empty list."""
        fields = await read_fields(request)
        principal = await anyio.to_thread.run_sync(authenticate, auth, api_key_of(request, fields))
        q = fields.texts("q")
        source = fields.text("source") or ""
        target = fields.text("target") or ""
        text_format = fields.text("format", required=False) or "text"
        if text_format not in ("text", "html"):
            raise InvalidInput(f"{text_format} format is not supported", field="format")
        alternatives = fields.integer("alternatives", MAX_ALTERNATIVES)
        source, target = _source_target(source, target)
        texts = q if isinstance(q, list) else [q]
        results = await translate.translate(
            principal.user_id,
            TranslateRequest(
                texts=tuple(texts),
                source=source,
                target=target,
                format=text_format,  # type: ignore[arg-type]
            ),
        )
        detected = [
            DetectedLanguage(
                confidence=round(r.detected.confidence * 100, 1), language=r.detected.language
            )
            for r in results
            if r.detected is not None
        ]
        translated = [r.translated for r in results]
        if isinstance(q, list):
            none: list[str | list[str]] = [[] for _ in results]
            return Translated(
                translatedText=translated,
                detectedLanguage=detected if source == "auto" else None,
                alternatives=none if alternatives else None,
            )
        return Translated(
            translatedText=translated[0],
            detectedLanguage=detected[0] if source == "auto" and detected else None,
            alternatives=[] if alternatives else None,
        )

    @post(
        "/detect",
        status_code=HTTP_200_OK,
        responses=_errors(400, 403, 429),
        operation_class=documented(body=DETECT_BODY, keep_json=True),
        summary="Detect the language (LibreTranslate)",
    )
    async def detect(
        self, request: Request[Any, Any, Any], translate: TranslateDep, auth: AuthDep
    ) -> list[DetectedLanguage]:
        """LibreTranslate's ``/detect``: the likeliest languages of ``q``, confidence 0..100."""
        fields = await read_fields(request)
        await anyio.to_thread.run_sync(authenticate, auth, api_key_of(request, fields))
        guesses = await translate.detect(fields.text("q") or "", 3)
        return [
            DetectedLanguage(confidence=round(g.confidence * 100, 1), language=g.language)
            for g in guesses
        ]

    @get("/languages", responses=_errors(), summary="Languages (LibreTranslate)")
    async def languages(self, translate: TranslateDep) -> list[Language]:
        """Every language the installed engines translate, with its targets."""
        infos = await translate.languages()
        return [Language(code=i.code, name=i.name, targets=list(i.targets)) for i in infos]

    @get("/frontend/settings", responses=_errors(), summary="Web page settings (LibreTranslate)")
    async def frontend_settings(self, request: Request[Any, Any, Any]) -> FrontendSettings:
        """What LibreTranslate's web page reads at start-up: limits and default languages."""
        settings: Settings = request.app.state.settings
        return FrontendSettings(
            charLimit=settings.translate.max_chars,
            frontendTimeout=500,
            apiKeys=True,
            keyRequired=True,
            suggestions=False,
            filesTranslation=False,
            supportedFilesFormat=[],
            language=FrontendLanguages(
                source=LanguageName(code="auto", name="Auto Detect"),
                target=LanguageName(code="en", name=LANGUAGE_NAMES["en"]),
            ),
        )
