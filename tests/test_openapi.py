"""Every endpoint is described: summary, description, schemas and its problem answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.services import Services
from server.deps import DEPENDENCIES
from tests.conftest import Accounts

Client = TestClient[Any]
LIBRETRANSLATE = ("/translate", "/detect", "/languages", "/frontend/settings")
COMPAT = ("/v1/", "/api/tags", "/api/chat", *LIBRETRANSLATE)
PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/password/reset"),
    ("get", "/api/v1/auth/registration"),
    # OpenID Connect sign-in: the browser and apps arrive without credentials.
    ("get", "/api/v1/auth/oidc/providers"),
    ("get", "/api/v1/auth/oidc/{provider}/login"),
    ("get", "/api/v1/auth/oidc/{provider}/callback"),
    ("post", "/api/v1/auth/oidc/token"),
    ("post", "/api/v1/auth/oidc/{provider}/device"),
    ("post", "/api/v1/auth/oidc/device/poll"),
    # LibreTranslate's face: clients send the key in the body (api_key), not a header;
    # its language list and web-page settings need none.
    ("post", "/translate"),
    ("post", "/detect"),
    ("get", "/languages"),
    ("get", "/frontend/settings"),
    ("get", "/dashboard"),  # the page signs in itself; it holds no data
    # The web app's first run and cookie sign-in.
    ("get", "/api/v1/auth/setup"),
    ("post", "/api/v1/auth/setup"),
    ("get", "/api/v1/auth/session"),
    ("post", "/api/v1/auth/session"),
    ("post", "/api/v1/auth/session/oidc"),
}


@pytest.fixture
def schema(client: Client) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]


def test_every_operation_is_described(schema: dict[str, Any]) -> None:
    ops = operations(schema)
    assert len(ops) > 20
    for method, path, op in ops:
        assert op.get("summary"), f"{method} {path} has no summary"
        assert op.get("description"), f"{method} {path} has no description"


def test_protected_operations_declare_auth_and_401(schema: dict[str, Any]) -> None:
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for method, path, op in operations(schema):
        if (method, path) in PUBLIC:
            assert op.get("security") == [{}], f"{method} {path} should be public"
        else:
            assert op.get("security") != [{}], f"{method} {path} should need auth"
            # The OpenAI and Ollama faces answer errors in those APIs' own JSON shapes.
            content = op["responses"].get("401", {}).get("content", {})
            media = "application/json" if path.startswith(COMPAT) else "application/problem+json"
            assert media in content, f"{method} {path} lacks a 401 error"


def test_problem_schema_is_published(schema: dict[str, Any]) -> None:
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])


def test_preferences_are_typed_and_validation_is_documented(schema: dict[str, Any]) -> None:
    preferences = schema["components"]["schemas"]["Preferences"]
    assert preferences["properties"]["tone"]["enum"]
    assert preferences["properties"]["speaking_rate"]["maximum"] == 2.0
    patch = schema["paths"]["/api/v1/profile/preferences"]["patch"]
    assert "application/problem+json" in patch["responses"]["422"]["content"]


# The document says what the server does ------------------------------------------------

NATIVE_ERRORS = "application/problem+json"
JSON_BODY = {"400", "413", "415", "422"}
OLLAMA = ("/api/chat", "/api/tags")


def responses(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return op["responses"]  # type: ignore[no-any-return]


def test_native_errors_are_documented_as_problem_documents(schema: dict[str, Any]) -> None:
    # Litestar documents its validation errors as application/json unless told otherwise.
    for method, path, op in operations(schema):
        if path.startswith(COMPAT):
            continue
        for status, answer in responses(op).items():
            if status.startswith(("4", "5")) and (method, path, status) != (
                "get",
                "/readyz",
                "503",
            ):
                assert set(answer.get("content", {})) == {NATIVE_ERRORS}, (method, path, status)


def test_every_operation_documents_the_500_it_can_give(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        media = "application/json" if path.startswith(COMPAT) else NATIVE_ERRORS
        assert media in responses(op)["500"]["content"], f"{method} {path}"


def test_json_bodies_document_malformed_too_large_and_invalid(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        body = op.get("requestBody", {}).get("content", {})
        if "application/json" not in body:
            continue
        documented = set(responses(op))
        if path.startswith(LIBRETRANSLATE):  # LibreTranslate says 400 for every bad request
            assert {"400"} <= documented, f"{method} {path}"
        elif path.startswith(OLLAMA):  # Ollama reads any body as JSON, and says 400 for 422
            assert {"400", "413"} <= documented, f"{method} {path}"
        elif path.startswith(COMPAT):  # OpenAI says 400 for 422
            assert {"400", "413", "415"} <= documented, f"{method} {path}"
        else:
            assert documented >= JSON_BODY, f"{method} {path}"


def test_parameters_document_their_errors(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        if op.get("parameters"):
            assert "400" in responses(op), f"{method} {path}"


@pytest.mark.parametrize(
    ("method", "path", "media_types"),
    [
        ("post", "/api/v1/chat/stream", {"text/event-stream"}),
        ("post", "/v1/chat/completions", {"application/json", "text/event-stream"}),
        ("post", "/api/chat", {"application/json", "application/x-ndjson"}),
        ("post", "/api/v1/voice/synthesize", {"audio/wav", "audio/mpeg", "audio/ogg"}),
        ("post", "/v1/audio/speech", {"audio/mpeg", "audio/wav", "audio/aac"}),
        ("get", "/api/v1/profile/avatar", {"image/png", "image/jpeg", "image/webp"}),
        (
            "post",
            "/api/v1/voice/transcribe",
            {"application/json", "text/plain", "application/x-subrip", "text/vtt"},
        ),
        ("post", "/v1/audio/transcriptions", {"application/json", "text/plain"}),
    ],
)
def test_answers_are_documented_in_their_media_types(
    schema: dict[str, Any], method: str, path: str, media_types: set[str]
) -> None:
    op = schema["paths"][path][method]
    success = next(v for k, v in responses(op).items() if k.startswith("2"))
    documented = set(success["content"])
    assert media_types <= documented
    if "application/json" not in media_types:
        assert "application/json" not in documented


def test_stream_events_are_described(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/v1/chat/stream"]["post"]
    event = op["responses"]["200"]["content"]["text/event-stream"]["schema"]
    names = {e["properties"]["event"]["const"] for e in event["oneOf"]}
    assert names == {"start", "delta", "done", "error"}


@pytest.mark.parametrize("path", ["/api/v1/voice/transcribe", "/v1/audio/transcriptions"])
def test_uploads_declare_their_multipart_and_raw_bodies(schema: dict[str, Any], path: str) -> None:
    body = schema["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"] == {"type": "string", "format": "binary"}
    assert {"application/octet-stream", "audio/*"} <= set(body["content"])


def test_avatar_upload_declares_its_raw_image_body(schema: dict[str, Any]) -> None:
    body = schema["paths"]["/api/v1/profile/avatar"]["put"]["requestBody"]
    assert set(body["content"]) == {"image/png", "image/jpeg", "image/gif", "image/webp"}


def test_the_rules_the_server_enforces_are_in_the_schemas(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for name in ("Credentials", "MessageIn", "Options", "Preferences", "ProfileFields"):
        assert components[name]["additionalProperties"] is False, name
    for name, field in [
        ("NewCredentials", "password"),
        ("UserCreate", "password"),
        ("PasswordChange", "new_password"),
        ("PasswordReset", "new_password"),
    ]:
        assert components[name]["properties"][field]["minLength"] == 8, name
    assert components["Credentials"]["properties"]["username"]["pattern"]
    profile = components["ProfileFields"]["properties"]
    assert "Europe/Paris" in profile["time_zone"]["anyOf"][0]["enum"]
    assert profile["locale"]["anyOf"][0]["pattern"]
    preferences = components["Preferences"]["properties"]
    assert preferences["preferred_languages"]["items"]["pattern"]
    assert preferences["personality"]["pattern"] == r"^[^\x00-\x1f\x7f-\x9f]*$"  # no controls
    # Bounds of optional fields, which Litestar's own generator drops.
    rate = components["SynthesizeIn"]["properties"]["rate"]["anyOf"][0]
    assert (rate["minimum"], rate["maximum"]) == (0.5, 2.0)
    tokens = components["ChatCompletionRequest"]["properties"]["max_tokens"]["anyOf"][0]
    assert tokens["minimum"] == 1
    assert components["Options"]["properties"]["stop"]["items"]["minLength"] == 1


def test_every_reference_resolves(schema: dict[str, Any]) -> None:
    def refs(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            if isinstance(value.get("$ref"), str):
                yield value["$ref"]
            for item in value.values():
                yield from refs(item)
        elif isinstance(value, list):
            for item in value:
                yield from refs(item)

    components = schema["components"]["schemas"]
    for ref in refs(schema):
        assert ref.removeprefix("#/components/schemas/") in components, ref


# The server reads bodies as strictly as the document describes them ---------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/api/v1/auth/registration", {"open": 0}),
        ("put", "/api/v1/auth/registration", {"open": "true"}),
        ("post", "/api/v1/chat/message", {"text": "hi", "options": {"seed": False}}),
        ("post", "/api/v1/chat/message", {"text": "hi", "options": {"max_tokens": "5"}}),
        ("post", "/api/v1/chat/message", {"text": "hi", "options": {"max_tokens": 5.5}}),
        ("post", "/api/v1/voice/synthesize", {"text": "hi", "rate": "1"}),
        ("put", "/api/v1/profile/preferences", {"notifications": {"enabled": 1}}),
        ("post", "/api/v1/auth/api-keys", {"name": "x", "expires_in_days": True}),
    ],
)
def test_values_of_the_wrong_type_are_refused_not_coerced(
    client: Client, accounts: Accounts, method: str, path: str, body: dict[str, Any]
) -> None:
    admin = accounts.register("admin")
    response = client.request(method.upper(), path, json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_an_account_cannot_be_disabled_by_a_number(
    client: Client, accounts: Accounts, services: Services
) -> None:
    admin = accounts.register("admin")
    accounts.register("bob")
    bob = next(u for u in services.auth.list_users() if u.username == "bob")
    response = client.patch(f"/api/v1/auth/users/{bob.id}", json={"disabled": 0}, headers=admin)
    assert response.status_code == 422, response.text
    assert services.auth.get_user(bob.id).disabled is False


def test_the_compatible_faces_refuse_coercion_in_their_own_shape(
    client: Client, accounts: Accounts
) -> None:
    user = accounts.register("ada")
    chat = {"model": "x:1", "messages": [{"role": "user", "content": "hi"}], "stream": 0}
    response = client.post("/v1/chat/completions", json=chat, headers=user)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream"
    response = client.post("/api/chat", json={**chat, "stream": "yes"}, headers=user)
    assert response.status_code == 400
    assert "stream" in response.json()["error"]


# Allow names every method of the path ---------------------------------------------------


def test_options_and_405_name_every_method_of_the_path(
    client: Client, accounts: Accounts, schema: dict[str, Any]
) -> None:
    user = accounts.register("ada")
    for path, item in schema["paths"].items():
        documented = {m.upper() for m in item if m in {"get", "put", "post", "patch", "delete"}}
        url = path.replace("{", "").replace("}", "")  # any value fills a path parameter
        options = client.options(url, headers=user)
        assert options.status_code == 204, path
        assert set(options.headers["allow"].split(", ")) == documented | {"OPTIONS"}, path
        unused = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in documented)
        refused = client.request(unused, url, headers=user)
        if refused.status_code == 405:  # /v1/{rest} answers other OpenAI paths with 404
            assert set(refused.headers["allow"].split(", ")) == documented | {"OPTIONS"}, path


@pytest.mark.parametrize("image", ["data:image/png;base64", "data:", "not base64!", ""])
def test_an_unreadable_image_is_an_invalid_field_not_a_crash(
    client: Client, accounts: Accounts, image: str
) -> None:
    user = accounts.register("ada")
    response = client.post(
        "/api/v1/chat/message", json={"text": "hi", "images": [image]}, headers=user
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "images"


# Body fields and dependencies -------------------------------------------------------------


def _property_names(schema: dict[str, Any], node: Any, seen: set[str]) -> set[str]:
    """Every property name a request body can carry, through $refs and combinators."""
    if isinstance(node, list):
        return set().union(*(_property_names(schema, item, seen) for item in node))
    if not isinstance(node, dict):
        return set()
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return set()
        seen.add(ref)
        name = ref.rsplit("/", 1)[-1]
        return _property_names(schema, schema["components"]["schemas"].get(name, {}), seen)
    names = set(node.get("properties", {}))
    for value in node.values():
        names |= _property_names(schema, value, seen)
    return names


def test_no_body_field_shares_a_name_with_a_dependency(schema: dict[str, Any]) -> None:
    """Litestar answers an invalid body field that shares its name with a dependency in
    scope as a failed dependency: a bare 500 (it happened to `voice`)."""
    for method, path, op in operations(schema):
        body = op.get("requestBody", {}).get("content", {})
        fields = _property_names(schema, body, set())
        clash = fields & set(DEPENDENCIES)
        assert not clash, f"{method} {path}: body fields {clash} are also dependency names"
