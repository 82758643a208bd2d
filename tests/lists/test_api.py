"""``/api/v1/lists`` under the Litestar test client: the round trip a companion app makes,
bad input, ownership, and the lists the skills keep."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from assistant.services import Services
from tests.conftest import Accounts

API = "/api/v1/lists"
Client = TestClient[Any]


def test_a_companion_app_round_trip(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    assert client.get(API, headers=ada).json() == {"lists": []}
    milk = client.post(f"{API}/shopping/items", json={"text": "milk"}, headers=ada)
    assert milk.status_code == 201, milk.text
    assert milk.json()["text"] == "milk" and milk.json()["done"] is False
    eggs = client.post(f"{API}/Shopping%20List/items", json={"text": "eggs"}, headers=ada).json()
    listed = client.get(f"{API}/shopping", headers=ada)
    assert listed.status_code == 200
    assert listed.json()["name"] == "shopping"
    assert [i["text"] for i in listed.json()["items"]] == ["milk", "eggs"]
    [summary] = client.get(API, headers=ada).json()["lists"]
    assert (summary["name"], summary["items"]) == ("shopping", 2)

    ticked = client.patch(f"{API}/shopping/items/{eggs['id']}", json={"done": True}, headers=ada)
    assert ticked.status_code == 200 and ticked.json()["done"] is True

    gone = client.delete(f"{API}/shopping/items/{milk.json()['id']}", headers=ada)
    assert gone.status_code == 204
    assert [i["text"] for i in client.get(f"{API}/shopping", headers=ada).json()["items"]] == [
        "eggs"
    ]
    deleted = client.delete(f"{API}/shopping", headers=ada)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": 1}
    assert client.get(f"{API}/shopping", headers=ada).status_code == 404


def test_an_item_already_there_is_a_conflict_naming_it(client: Client, accounts: Accounts) -> None:
    ada = accounts.register("ada")
    first = client.post(f"{API}/to-do/items", json={"text": "Call the plumber"}, headers=ada)
    again = client.post(f"{API}/todo/items", json={"text": "call the plumber"}, headers=ada)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    problem = again.json()
    assert problem["field"] == "text"
    assert problem["extra"]["item_id"] == first.json()["id"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("shopping", {"text": "x" * 501}, 422, "text"),
        ("shopping", {"text": ""}, 422, "text"),
        ("shopping", {"text": "   "}, 422, "text"),
        ("shopping", {"text": "two\nlines"}, 422, "text"),
        ("shopping", {"text": 5}, 422, "text"),
        ("shopping", {"text": "milk", "quantity": 2}, 422, "quantity"),
        ("list", {"text": "milk"}, 422, "name"),
        ("x" * 61, {"text": "milk"}, 422, "name"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: Client,
    accounts: Accounts,
    path: str,
    body: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    ada = accounts.register("ada")
    answer = client.post(f"{API}/{path}/items", json=body, headers=ada)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert answer.json()["field"] == field
    assert client.get(API, headers=ada).json() == {"lists": []}


def test_another_users_list_is_404(client: Client, accounts: Accounts) -> None:
    ada, bob = accounts.register("ada"), accounts.register("bob")
    item = client.post(f"{API}/shopping/items", json={"text": "milk"}, headers=ada).json()
    client.post(f"{API}/shopping/items", json={"text": "beer"}, headers=bob)
    for method, path, body in [
        ("PATCH", f"{API}/shopping/items/{item['id']}", {"done": True}),
        ("DELETE", f"{API}/shopping/items/{item['id']}", None),
    ]:
        answer = client.request(method, path, json=body, headers=bob)
        assert answer.status_code == 404, (method, path, answer.text)
    assert [i["text"] for i in client.get(f"{API}/shopping", headers=bob).json()["items"]] == [
        "beer"
    ]
    assert client.get(f"{API}/shopping", headers=ada).json()["items"][0]["done"] is False


def test_lists_need_credentials(client: Client) -> None:
    for method, path in [
        ("GET", API),
        ("GET", f"{API}/shopping"),
        ("POST", f"{API}/shopping/items"),
        ("DELETE", f"{API}/shopping"),
    ]:
        answer = client.request(method, path, json={"text": "milk"})
        assert answer.status_code == 401, (method, path)


def test_notes_kept_by_the_skill_are_a_list_in_the_api(
    client: Client, accounts: Accounts, services: Services
) -> None:
    ada = accounts.register("ada")
    [user] = services.auth.list_users()
    services.lists.add_items(user.id, "notes", ["The code is 1234"])
    notes = client.get(f"{API}/notes", headers=ada).json()
    assert [i["text"] for i in notes["items"]] == ["The code is 1234"]
