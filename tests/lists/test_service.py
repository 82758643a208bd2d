"""The list service on a real SQLite file: add (made on first use, no duplicates), remove
by words or id, read, clear, delete, limits, and ownership."""

from __future__ import annotations

import pytest

from assistant.clock import ManualClock
from assistant.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from assistant.lists import ListService
from assistant.lists import models as limits
from assistant.store import Database


def texts(lists: ListService, user_id: str, name: str) -> list[str]:
    return [item.text for item in lists.get(user_id, name).items]


def test_a_list_is_made_by_its_first_item_and_keeps_the_order(
    lists: ListService, users: dict[str, str], clock: ManualClock
) -> None:
    ada = users["ada"]
    assert lists.lists(ada) == []
    outcome = lists.add_items(ada, "Shopping list", ["milk", "eggs"])
    assert outcome.name == "shopping"
    assert [i.text for i in outcome.added] == ["milk", "eggs"] and outcome.present == ()
    clock.advance(5)
    lists.add(ada, "shopping", "bread")
    assert texts(lists, ada, "SHOPPING") == ["milk", "eggs", "bread"]
    [summary] = lists.lists(ada)
    assert (summary.name, summary.items) == ("shopping", 3)
    assert summary.updated_at == summary.created_at + 5000


@pytest.mark.parametrize(
    ("first", "again"),
    [("milk", "milk"), ("Milk", "milk"), ("milk", "the MILK"), ("eggs", "egg"), ("a b", "A  B")],
)
def test_an_item_is_not_added_twice(
    lists: ListService, users: dict[str, str], first: str, again: str
) -> None:
    ada = users["ada"]
    kept = lists.add(ada, "shopping", first)
    outcome = lists.add_items(ada, "shopping", [again])
    assert outcome.added == () and outcome.present == (kept,)
    with pytest.raises(Conflict) as raised:
        lists.add(ada, "shopping", again)
    assert raised.value.fields["item_id"] == kept.id
    assert texts(lists, ada, "shopping") == [first]


def test_the_same_item_twice_in_one_request_is_added_once(
    lists: ListService, users: dict[str, str]
) -> None:
    outcome = lists.add_items(users["ada"], "shopping", ["milk", "Milk", "eggs"])
    assert [i.text for i in outcome.added] == ["milk", "eggs"]
    assert [i.text for i in outcome.present] == ["milk"]


@pytest.mark.parametrize(
    ("items", "said", "left"),
    [
        (["milk", "eggs"], "the milk", ["eggs"]),
        (["Milk", "eggs"], "milk", ["eggs"]),
        (["oat milk", "eggs"], "milk", ["eggs"]),
        (["milk", "eggs"], "egg", ["milk"]),
        (["call the plumber", "pay rent"], "Call the plumber.", ["pay rent"]),
    ],
)
def test_remove_by_words(
    lists: ListService, users: dict[str, str], items: list[str], said: str, left: list[str]
) -> None:
    ada = users["ada"]
    lists.add_items(ada, "to-do", items)
    lists.remove(ada, "todo", said)
    assert texts(lists, ada, "to do") == left


def test_remove_what_is_not_there_names_the_field(
    lists: ListService, users: dict[str, str]
) -> None:
    ada = users["ada"]
    with pytest.raises(NotFound) as no_list:
        lists.remove(ada, "shopping", "milk")
    assert no_list.value.fields["field"] == "name"
    lists.add_items(ada, "shopping", ["oat milk", "soy milk"])
    with pytest.raises(NotFound) as ambiguous:
        lists.remove(ada, "shopping", "milk")
    assert ambiguous.value.fields["field"] == "text"
    assert texts(lists, ada, "shopping") == ["oat milk", "soy milk"]


def test_remove_by_id_and_tick_off(lists: ListService, users: dict[str, str]) -> None:
    ada = users["ada"]
    milk, eggs = lists.add_items(ada, "shopping", ["milk", "eggs"]).added
    assert lists.set_done(ada, "shopping", eggs.id, True).done is True
    assert [i.done for i in lists.get(ada, "shopping").items] == [False, True]
    assert lists.remove_item(ada, "shopping", milk.id) == milk
    with pytest.raises(NotFound):
        lists.remove_item(ada, "shopping", milk.id)
    with pytest.raises(NotFound):
        lists.set_done(ada, "shopping", milk.id, True)


def test_clear_keeps_the_list_and_delete_removes_it(
    lists: ListService, users: dict[str, str]
) -> None:
    ada = users["ada"]
    lists.add_items(ada, "shopping", ["milk", "eggs"])
    lists.add_items(ada, "to-do", ["call the plumber"])
    assert lists.clear(ada, "shopping") == 2
    assert lists.get(ada, "shopping").items == ()
    assert [(s.name, s.items) for s in lists.lists(ada)] == [("shopping", 0), ("to-do", 1)]
    assert lists.delete(ada, "to-do") == 1
    assert [s.name for s in lists.lists(ada)] == ["shopping"]
    with pytest.raises(NotFound):
        lists.get(ada, "to-do")
    with pytest.raises(NotFound):
        lists.clear(ada, "to-do")
    with pytest.raises(NotFound):
        lists.delete(ada, "to-do")


def test_nobody_sees_another_users_lists(lists: ListService, users: dict[str, str]) -> None:
    ada, bob = users["ada"], users["bob"]
    milk = lists.add(ada, "shopping", "milk")
    assert lists.lists(bob) == []
    with pytest.raises(NotFound):
        lists.get(bob, "shopping")
    lists.add(bob, "shopping", "beer")
    with pytest.raises(NotFound):
        lists.remove_item(bob, "shopping", milk.id)
    with pytest.raises(NotFound):
        lists.set_done(bob, "shopping", milk.id, True)
    assert texts(lists, ada, "shopping") == ["milk"]
    assert texts(lists, bob, "shopping") == ["beer"]


@pytest.mark.parametrize(
    ("name", "text", "error", "field"),
    [
        ("shopping", "x" * (limits.MAX_ITEM_CHARS + 1), PayloadTooLarge, "text"),
        ("shopping", "   ", InvalidInput, "text"),
        ("shopping", "...", InvalidInput, "text"),
        ("x" * (limits.MAX_NAME_CHARS + 1), "milk", InvalidInput, "name"),
        ("list", "milk", InvalidInput, "name"),
        ("", "milk", InvalidInput, "name"),
        ("bad\x00name", "milk", InvalidInput, "name"),
    ],
)
def test_bad_input_names_the_field(
    lists: ListService,
    users: dict[str, str],
    name: str,
    text: str,
    error: type[Exception],
    field: str,
) -> None:
    with pytest.raises(error) as raised:
        lists.add(users["ada"], name, text)
    assert type(raised.value) is error
    assert raised.value.field == field  # type: ignore[attr-defined]
    assert lists.lists(users["ada"]) == []


def test_an_item_of_the_longest_length_is_kept(lists: ListService, users: dict[str, str]) -> None:
    text = "y" * limits.MAX_ITEM_CHARS
    assert lists.add(users["ada"], "n" * limits.MAX_NAME_CHARS, text).text == text


def test_a_full_list_refuses_more(lists: ListService, users: dict[str, str]) -> None:
    ada = users["ada"]
    lists.add_items(ada, "shopping", [f"thing {n}" for n in range(limits.MAX_ITEMS)])
    with pytest.raises(Conflict):
        lists.add(ada, "shopping", "one more")
    # An item already there is still answered as present, not as a full list.
    assert lists.add_items(ada, "shopping", ["thing 7"]).present
    assert len(lists.get(ada, "shopping").items) == limits.MAX_ITEMS


def test_a_user_has_at_most_so_many_lists(lists: ListService, users: dict[str, str]) -> None:
    ada = users["ada"]
    for n in range(limits.MAX_LISTS):
        lists.add(ada, f"list {n}", "x")
    with pytest.raises(Conflict):
        lists.add(ada, "one too many", "x")
    lists.add(ada, "list 3", "y")  # an existing list still takes items


def test_a_failed_request_adds_nothing(lists: ListService, users: dict[str, str]) -> None:
    with pytest.raises(PayloadTooLarge):
        lists.add_items(users["ada"], "shopping", ["milk", "z" * 600])
    assert lists.lists(users["ada"]) == []


def test_deleting_the_user_deletes_their_lists(
    lists: ListService, users: dict[str, str], db: Database
) -> None:
    lists.add(users["ada"], "shopping", "milk")
    with db.write() as conn:
        conn.execute("DELETE FROM users WHERE id = ?", (users["ada"],))
    with db.read() as conn:
        assert conn.scalar("SELECT count(*) FROM list_items") == 0
        assert conn.scalar("SELECT count(*) FROM lists") == 0
