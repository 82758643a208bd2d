"""The OpenAPI document, and the interactive API docs served from the device (no CDN: it
must work offline).

The document must say what the server does, so that a client generated from it (or a
fuzzer reading it) finds no surprise. Litestar infers most of it from the handlers; this
module adds what it cannot see:

- :class:`PydanticSchemas` documents request models with pydantic's own JSON schema, so
  every rule the server enforces is written down: ``additionalProperties: false`` where
  unknown keys are refused, bounds of optional fields, patterns, enumerations.
- :func:`documented` is an ``operation_class`` for the handlers that read their body
  themselves (raw uploads, multipart forms) or answer in other media types than JSON
  (Server-Sent Events, NDJSON, audio, images, subtitles).
- :func:`schema_of` turns a plain JSON Schema into Litestar's schema objects, so the
  media types above are written as JSON Schema, as a reader expects to see them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from litestar import Router, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.plugins.pydantic import PydanticSchemaPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.typing import FieldDefinition
from pydantic import BaseModel

from assistant.profile.service import AVATAR_FORMATS
from hal.audio.codecs import CONTENT_TYPES
from server.security import SECURITY, SECURITY_SCHEMES

STATIC_PATH = "/docs/static"
COMPONENTS = "#/components/schemas/"

JSON = "application/json"
SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
TEXT = "text/plain"
MULTIPART = "multipart/form-data"
OCTETS = "application/octet-stream"
AUDIO_TYPES = tuple(dict.fromkeys(CONTENT_TYPES.values()))
"""What the speech endpoints answer, by requested format."""
IMAGE_TYPES = tuple(AVATAR_FORMATS.values())
"""What an avatar may be."""


def _swagger_dist() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).parent / "static"


def openapi_config(version: str) -> OpenAPIConfig:
    """The OpenAPI document at /schema (JSON, YAML) and Swagger UI at /docs."""
    return OpenAPIConfig(
        title="Edge Assistant API",
        version=version,
        description=(
            "The local HTTP contract of the on-device assistant. Sign in with"
            " POST /api/v1/auth/login and send the access token (or a device API key)"
            " as `Authorization: Bearer`. Errors are RFC 9457 problem documents"
            " (`application/problem+json`); the OpenAI (`/v1`) and Ollama (`/api/chat`,"
            " `/api/tags`) faces answer errors in those APIs' own JSON shapes. Request"
            " bodies are read strictly: unknown keys are refused where the schema says"
            ' `additionalProperties: false`, and `0` is not `false`, nor `"5"` a number.'
        ),
        path="/schema",
        use_handler_docstrings=True,
        components=Components(security_schemes=SECURITY_SCHEMES),
        security=SECURITY,
        render_plugins=[
            JsonRenderPlugin(path="/openapi.json"),
            YamlRenderPlugin(path="/openapi.yaml"),
            SwaggerRenderPlugin(
                path="/swagger",
                js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
                css_url=f"{STATIC_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{STATIC_PATH}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' href='{STATIC_PATH}/favicon-32x32.png'>",
            ),
        ],
    )


@get("/docs", include_in_schema=False, opt={"exclude_from_auth": True})
async def docs_redirect() -> Redirect:
    """/docs is the friendly address of the Swagger UI."""
    return Redirect(path="/schema/swagger")


def docs_router() -> Router:
    """Swagger UI's files from the swagger-ui-py wheel, plus the /docs shortcut."""
    static = create_static_files_router(
        path=STATIC_PATH, directories=[_swagger_dist()], opt={"exclude_from_auth": True}
    )
    return Router(path="/", route_handlers=[docs_redirect, static], include_in_schema=False)


# JSON Schema as Litestar's objects -----------------------------------------------------

_SUBSCHEMA = {
    "items",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "contentSchema",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
}
_SUBSCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SUBSCHEMA_MAPS = {"properties", "patternProperties", "dependentSchemas"}
_RENAMED = {"not": "schema_not", "if": "schema_if", "else": "schema_else"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _keyword(key: str, value: Any) -> Any:
    """One keyword's value as Litestar's schema object takes it."""
    if key in _SUBSCHEMA and isinstance(value, Mapping):
        return schema_of(value)
    if key in _SUBSCHEMA_LISTS:
        return [schema_of(item) for item in value]
    if key in _SUBSCHEMA_MAPS:
        return {name: schema_of(item) for name, item in value.items()}
    if key == "type":
        return [OpenAPIType(t) for t in value] if isinstance(value, list) else OpenAPIType(value)
    if key == "format":
        return OpenAPIFormat(value)  # a ValueError names a format OpenAPI does not know
    if key == "$defs":
        raise ValueError("inline the definitions, or make them components")
    return value


def schema_of(raw: Mapping[str, Any]) -> Schema | Reference:
    """Litestar's schema object for a JSON Schema written as a dict (``$ref`` allowed only
    to ``#/components/schemas/...``; keywords beside it, such as a default, are dropped)."""
    if "$ref" in raw:
        return Reference(ref=str(raw["$ref"]), description=raw.get("description"))
    return Schema(
        **{
            _RENAMED.get(key) or _CAMEL.sub("_", key).lower(): _keyword(key, value)
            for key, value in raw.items()
        }
    )


# Pydantic models, as pydantic itself describes them ------------------------------------


def _untitled(value: Any) -> Any:
    """Pydantic's schema without the titles it derives from field names ("Max Tokens")."""
    if isinstance(value, list):
        return [_untitled(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        key: {name: _untitled(field) for name, field in item.items()}
        if key in _SUBSCHEMA_MAPS or key == "$defs"
        else _untitled(item)
        for key, item in value.items()
        if key != "title"
    }


class PydanticSchemas(PydanticSchemaPlugin):
    """Documents pydantic models with pydantic's own JSON schema.

    Litestar's generator drops what matters most to a client: ``additionalProperties:
    false`` for models that refuse unknown keys, the bounds of optional fields
    (``max_tokens: int >= 1 | null``), the constraints on list items, and the
    ``json_schema_extra`` of custom validators (language tags, time zones). Litestar still
    registers each model and the models it nests as components; their properties come
    from pydantic, whose references use the same component names.
    """

    @classmethod
    def for_pydantic_model(cls, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        """The registered component, with pydantic's properties and strictness."""
        schema = super().for_pydantic_model(field_definition, schema_creator)
        model: type[BaseModel] = field_definition.annotation
        own = _untitled(
            model.model_json_schema(ref_template=COMPONENTS + "{model}", mode="validation")
        )
        own.pop("$defs", None)
        schema.properties = {k: schema_of(v) for k, v in own.get("properties", {}).items()}
        schema.required = sorted(own.get("required", []))
        if own.get("additionalProperties") is False:
            schema.additional_properties = False
        if own.get("description") and not schema.description:
            schema.description = own["description"]
        return schema


# What handlers read and answer beyond their signature ----------------------------------


def documented(
    *,
    body: Mapping[str, Schema | Reference] | None = None,
    body_description: str | None = None,
    answers: Mapping[str, Schema | Reference] | None = None,
    keep_json: bool = False,
) -> type[Operation]:
    """An ``operation_class`` documenting what Litestar cannot see in a handler.

    ``body``: the request body by media type, for handlers that read it themselves.
    ``answers``: the success answer by media type; they replace what Litestar inferred
    from the return annotation (a ``Stream`` or ``Response[Any]`` says nothing), unless
    ``keep_json`` keeps its JSON schema (an answer that is JSON or a stream).
    """

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = RequestBody(
                    content={m: OpenAPIMediaType(schema=s) for m, s in body.items()},
                    description=body_description,
                    required=True,
                )
            if answers is not None and self.responses:
                success = self.responses[min(k for k in self.responses if k.startswith("2"))]
                assert not isinstance(success, Reference)
                kept = {JSON: success.content[JSON]} if keep_json and success.content else {}
                success.content = kept | {m: OpenAPIMediaType(schema=s) for m, s in answers.items()}

    return Documented


def binary(description: str) -> Schema:
    """Bytes of a file (an upload, audio, an image)."""
    return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, description=description)


def text(description: str) -> Schema:
    """A text answer (plain text, subtitles, NDJSON lines)."""
    return Schema(type=OpenAPIType.STRING, description=description)


def _inline(value: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        ref = value.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline(v, defs) for v in value]
    return value


def struct_json(*types: type) -> dict[str, Any]:
    """The JSON schema of msgspec types, self-contained (for answers whose types are no
    components of the document: stream chunks, answers built as dicts)."""
    schemas, defs = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    inlined = [_inline(schema, defs) for schema in schemas]
    return inlined[0] if len(inlined) == 1 else {"anyOf": inlined}


def json_text(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A string holding a JSON document (an event's ``data`` line)."""
    return {"type": "string", "contentMediaType": JSON, "contentSchema": dict(schema)}


def component(name: str) -> dict[str, str]:
    """A reference to a schema of the document's components."""
    return {"$ref": COMPONENTS + name}


def event(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A Server-Sent Event named ``name`` whose data line is this JSON."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {"event": {"const": name}, "data": json_text(data)},
    }


def event_stream(description: str, *alternatives: Mapping[str, Any]) -> Schema | Reference:
    """Server-Sent Events: the schema is of one event, ``{"event", "data"}`` as a client
    parses it (OpenAPI 3.1)."""
    return schema_of({"description": description, "oneOf": [dict(a) for a in alternatives]})
