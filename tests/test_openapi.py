"""Every endpoint is described: summary, description, schemas and its problem answers."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import Accounts

Client = TestClient[Any]
COMPAT = ("/v1/", "/api/tags", "/api/chat")
PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/password/reset"),
    ("get", "/api/v1/auth/registration"),
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
