"""A query parameter that takes one value, given twice, is refused (Litestar keeps the
first and drops the rest, which the OpenAPI document calls invalid)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get
from litestar.params import Parameter
from litestar.testing import TestClient, create_test_client

from server.queries import refuse_repeated_scalars, scalar_query_names
from tests.conftest import Accounts

Client = TestClient[Any]


@get("/things/{thing_id:str}")
async def things(
    thing_id: str,
    limit: int = 10,
    tags: list[str] | None = None,
    since: Annotated[str | None, Parameter(query="from")] = None,
    user_agent: Annotated[str | None, Parameter(header="User-Agent")] = None,
) -> dict[str, Any]:
    return {"limit": limit, "tags": tags or [], "since": since}


def test_scalar_query_names_come_from_the_signature() -> None:
    assert scalar_query_names(things) == {"thing_id", "limit", "from"}


def test_a_repeated_scalar_is_refused_and_a_repeated_list_is_not() -> None:
    with create_test_client([things], before_request=refuse_repeated_scalars) as client:
        assert client.get("/things/a?limit=1&tags=x&tags=y").json() == {
            "limit": 1,
            "tags": ["x", "y"],
            "since": None,
        }
        assert client.get("/things/a?limit=1&limit=2").status_code == 400
        assert client.get("/things/a?from=1&from=2").status_code == 400
        assert client.get("/things/a?other=1&other=2").status_code == 200


def test_the_app_answers_a_repeated_parameter_with_a_problem(
    client: Client, accounts: Accounts
) -> None:
    headers = accounts.register("ada")
    assert client.get("/api/v1/notifications/history?limit=5", headers=headers).status_code == 200
    response = client.get("/api/v1/notifications/history?limit=5&limit=6", headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "'limit' was given 2 times" in response.json()["detail"]
